"""File → Export web map… and File → Export layers… in the real window, driven with qtbot."""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from tests.app.qt_city import open_and_wait


def _file_menu_texts(window) -> list[str]:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "File")
    return [a.text().replace("&", "") for a in menu.actions()]


def _click_export(qtbot, dialog) -> None:
    button = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_export_web_map_from_the_dialog(qtbot, window, city_project, tmp_path, messages):
    assert not window.webmap.webmap_action.isEnabled()  # no project yet
    open_and_wait(qtbot, window, city_project)
    assert "Export web map…" in _file_menu_texts(window) and "Export layers…" in _file_menu_texts(window)
    window.webmap.webmap_action.trigger()
    dialog = window.webmap.dialog
    assert dialog.isVisible()
    names = [dialog.layer_list.item(i).text() for i in range(dialog.layer_list.count())]
    assert names == ["bins", "streets", "park", "zone"]
    dialog.layer_list.item(3).setCheckState(Qt.CheckState.Unchecked)  # leave the zone out
    dialog.layer_list.setCurrentRow(2)  # the park's popup fields: 'name' chosen by default
    fields = {dialog.field_list.item(i).text(): dialog.field_list.item(i).checkState()
              for i in range(dialog.field_list.count())}
    assert fields == {"name": Qt.CheckState.Checked}
    out = tmp_path / "web" / "map.html"
    out.parent.mkdir()
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(window.webmap.exported, timeout=30000) as blocker:
        _click_export(qtbot, dialog)
    report = blocker.args[0]
    assert report.path == out and out.exists()
    assert [s.name for s in report.layers] == ["bins", "streets", "park"]
    page = out.read_text(encoding="utf-8")
    assert "Esplanadi" in page and "Zone A" not in page
    assert "map.html" in window.statusBar().currentMessage()
    assert messages == []  # within the budget: nothing to warn about


def test_export_layers_to_a_styled_geopackage(qtbot, window, city_project, tmp_path, messages):
    open_and_wait(qtbot, window, city_project)
    window.webmap.layers_action.trigger()
    dialog = window.webmap.dialog
    out = tmp_path / "layers.gpkg"
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(window.webmap.exported, timeout=30000) as blocker:
        _click_export(qtbot, dialog)
    assert blocker.args[0] == [out]
    with sqlite3.connect(out) as con:
        rows = con.execute("SELECT f_table_name, useAsDefault FROM layer_styles ORDER BY id").fetchall()
    assert rows == [("bins", 1), ("streets", 1), ("park", 1), ("zone", 1)]


def test_a_failed_export_is_a_readable_message(qtbot, window, city_project, tmp_path, messages):
    open_and_wait(qtbot, window, city_project)
    window.webmap.layers_action.trigger()
    dialog = window.webmap.dialog
    dialog.path_edit.setText(str(tmp_path / "no such folder" / "layers.gpkg"))
    with qtbot.waitSignal(window.taskFinished, timeout=30000):
        _click_export(qtbot, dialog)
    assert len(messages) == 1
    kind, title, text = messages[0]
    assert title == "Cannot export the layers" and "folder does not exist" in text
    assert not (tmp_path / "no such folder").exists()
