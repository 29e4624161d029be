"""File → Export map…: the dialog renders a preview in a worker and exports the page through
the window's task runner."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from app.export_dialog import MapExportDialog, open_map_export
from tests.app.qt_city import make_project, open_and_wait


def test_export_map_dialog_previews_and_writes_a_pdf(qtbot, window, tmp_path: Path, monkeypatch):
    open_and_wait(qtbot, window, make_project(tmp_path))
    action = window.map_export
    assert action.text().replace("&", "") == "Export map…"
    action.trigger()
    dialog = window.map_export_dialog
    assert isinstance(dialog, MapExportDialog)
    qtbot.waitUntil(lambda: dialog.preview_image is not None, timeout=30000)
    assert dialog.preview.pixmap() is not None and not dialog.preview.pixmap().isNull()
    dialog.paper.setCurrentText("A3")
    dialog.orientation.setCurrentText("Portrait")
    dialog.extent.setCurrentText("Layer: park")
    dialog.title_edit.setText("Council map")
    options = dialog.options()
    assert options.paper == "A3" and not options.landscape and options.extent == (385000.0, 6672000.0, 385400.0,
                                                                                   6672400.0)
    out = tmp_path / "council.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "PDF (*.pdf)")))
    with qtbot.waitSignal(window.taskFinished, timeout=30000):
        dialog.export_button.click()
    assert out.read_bytes()[:4] == b"%PDF" and window.map_exported == out


def test_no_visible_layer_says_so(qtbot, window, monkeypatch):
    told = []
    monkeypatch.setattr("app.export_dialog.tell", lambda parent, title, text, **k: told.append(text))
    assert window.project is None or not any(lay.visible for lay in window.project.layers)  # nothing open yet
    assert open_map_export(window) is None and "no visible layer" in told[0]
