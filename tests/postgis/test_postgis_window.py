"""The window's PostGIS dialogs against the real test server, driven with qtbot."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import geopandas as gpd  # noqa: E402
import pytest  # noqa: E402
from shapely.geometry import box  # noqa: E402

from layers.readers import read_layer  # noqa: E402
from layers.writers import write_layers  # noqa: E402
from tests.postgis.pg_server import PASSWORD  # noqa: E402


@pytest.fixture
def window(qtbot):
    from PySide6.QtCore import QThreadPool

    from app.main_window import MainWindow
    from app.workers import worker_pool

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1100, 720)
    win.show()
    qtbot.waitExposed(win)
    yield win
    worker_pool().waitForDone(10000)
    QThreadPool.globalInstance().waitForDone(10000)


@pytest.fixture
def buildings_table(pg):
    gdf = gpd.GeoDataFrame({"name": ["a", "b", "c"], "floors": [2, 5, 8]},
                           geometry=[box(385000 + 60 * i, 6672000, 385040 + 60 * i, 6672030) for i in range(3)],
                           crs="EPSG:3067")
    write_layers({"win_buildings": gdf}, pg.url("win_buildings"), replace=True)
    with pg.connect() as conn:
        conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO pw_user")
    return gdf


def _click_ok(qtbot, dialog):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialogButtonBox

    box_ = dialog.findChild(QDialogButtonBox)
    button = box_.button(QDialogButtonBox.StandardButton.Ok) or box_.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_add_postgis_layer_asks_for_the_password_then_saves_with_a_replace_confirmation(
        qtbot, window, pg, buildings_table, no_password, monkeypatch, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    asked = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (asked.append(a[2]), (PASSWORD, True))[1])
    dialog = window.postgis.add_layer()
    dialog.url.setText(pg.url(user="pw_user"))
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.tables.topLevelItemCount() > 0, timeout=15000)
    assert asked and "pw_user" in asked[0]  # the server wanted a password: the window asked once
    names = [dialog.tables.topLevelItem(i).text(0) for i in range(dialog.tables.topLevelItemCount())]
    assert "win_buildings" in names
    item = dialog.tables.topLevelItem(names.index("win_buildings"))
    dialog.tables.setCurrentItem(item)
    assert item.text(1) == "Polygon" and item.text(2) == "3067"
    dialog.grab().save(str(tmp_path / "add_dialog.png"))
    with qtbot.waitSignal(window.taskFinished, timeout=20000):
        _click_ok(qtbot, dialog)
    layer = window.project.layers[0]
    assert layer.name == "win_buildings" and len(layer.gdf) == 3
    assert layer.source.path == pg.url("public.win_buildings", user="pw_user")
    assert PASSWORD not in layer.source.path
    with qtbot.waitSignal(window.canvas.renderFinished, timeout=15000):
        window.canvas.refresh()
    window.grab().save(str(tmp_path / "window.png"))

    questions = []
    answers = iter([QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: (questions.append(a[2]), next(answers))[1])
    for expect_rows in (3, 3, 3):
        save = window.postgis.save_layer(layer)
        save.url.setText(pg.url(user="pw_user"))
        save.table.setText("public.win_copy")
        save.grab().save(str(tmp_path / "save_dialog.png"))
        with qtbot.waitSignal(window.taskFinished, timeout=20000):
            _click_ok(qtbot, save)
        qtbot.waitUntil(lambda: window._task is None, timeout=20000)
        assert len(read_layer(pg.url("win_copy"))) == expect_rows
    assert len(questions) == 2 and "already exists" in questions[0]  # no question for the new table


def test_the_dialog_shows_connection_problems_as_text(qtbot, window, pg):
    from PySide6.QtCore import Qt

    dialog = window.postgis.add_layer()
    dialog.url.setText(pg.url(dbname="plain"))
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "no PostGIS extension" in dialog.status.text(), timeout=15000)
    dialog.url.setText("postgresql://u:secret@h/db")
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    assert "holds a password" in dialog.status.text() and "secret" not in dialog.status.text()
    dialog.reject()


def test_add_layer_takes_a_postgis_url(qtbot, window, pg, buildings_table):
    """``MainWindow.add_layer`` (the path every 'add' goes through) keeps a URL whole."""
    with qtbot.waitSignal(window.taskFinished, timeout=30000):
        window.add_layer(pg.url("win_buildings"))
    layer = window.project.layers[0]
    assert len(layer) == 3 and sorted(layer.gdf["name"]) == ["a", "b", "c"]
    assert layer.source.path.startswith("postgresql://citydesk@127.0.0.1:")


def _locked_project(pg, tmp_path, buildings_table):
    """A saved project with two layers of pw_user's server (one password) and a file layer."""
    from pyproj import CRS

    from layers.layer import Layer, Source
    from layers.project import Project

    write_layers({"win_more": buildings_table.iloc[:2]}, pg.url("win_more"), replace=True)
    with pg.connect() as conn:
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO pw_user")
    local = tmp_path / "local.gpkg"
    write_layers({"local": buildings_table}, local)
    project = Project(layers=[Layer("win_buildings", None, Source(pg.url("public.win_buildings", user="pw_user"))),
                              Layer("win_more", None, Source(pg.url("public.win_more", user="pw_user"))),
                              Layer("local", None, Source(str(local), "local"))], crs=CRS("EPSG:3067"), title="Locked")
    path = project.save(tmp_path / "locked.citydesk")
    assert PASSWORD not in path.read_text()
    return path


def test_opening_a_project_asks_once_for_the_password_then_reads_its_postgis_layers(
        qtbot, window, pg, buildings_table, no_password, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QInputDialog, QLineEdit

    path = _locked_project(pg, tmp_path, buildings_table)
    asked = []

    def answer(*args, **kwargs):
        asked.append((args[2], args[3]))
        return ("wrong", True) if len(asked) == 1 else (PASSWORD, True)
    monkeypatch.setattr(QInputDialog, "getText", answer)
    window.open_project(path)
    qtbot.waitUntil(lambda: window.project is not None and all(lay.gdf is not None for lay in window.project.layers),
                    timeout=30000)
    # once for the server and user, once more after the wrong password; both tables read then
    assert len(asked) == 2 and "pw_user" in asked[0][0] and "not accepted" in asked[1][0]
    assert all(mode == QLineEdit.EchoMode.Password for _, mode in asked)
    layers = {lay.name: lay for lay in window.project.layers}
    assert len(layers["win_buildings"]) == 3 and len(layers["win_more"]) == 2 and layers["win_more"].error is None
    assert not window.project.warnings and not window.modified
    qtbot.waitUntil(lambda: window._task is None, timeout=20000)
    with qtbot.waitSignal(window.canvas.renderFinished, timeout=15000):
        window.canvas.zoom_full()
    window.grab().save(str(tmp_path / "unlocked.png"))
    assert PASSWORD not in path.read_text()


def test_cancelling_the_password_prompt_leaves_the_layers_unreadable(
        qtbot, window, pg, buildings_table, no_password, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QInputDialog

    path = _locked_project(pg, tmp_path, buildings_table)
    asked = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (asked.append(a[2]), ("", False))[1])
    window.open_project(path)
    qtbot.waitUntil(lambda: bool(asked), timeout=30000)
    qtbot.waitUntil(lambda: "Not read without a password" in window.statusBar().currentMessage(), timeout=5000)
    layers = {lay.name: lay for lay in window.project.layers}
    assert len(asked) == 1 and window._task is None
    assert layers["win_buildings"].gdf is None and "password" in layers["win_buildings"].error
    assert layers["win_more"].gdf is None and len(layers["local"]) == 3
    assert len(window.project.warnings) == 2
