"""Projects in the window: save and reopen with result layers, save as, the unsaved-changes prompt
on close / open / new, recent projects, autosave and recovery after a real crash, and the
exception hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox
from shapely.geometry import Point, box

import app.project_actions as project_actions
from app.autosave import Autosave, recoverable_sessions
from app.project_actions import recent_projects
from layers.layer import Layer
from layers.project import load_project
from layers.style import Style
from tests.app.qt_city import CRS, PARK, make_project, open_and_wait

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _quick_autosave(isolated_settings, monkeypatch):
    monkeypatch.setattr(Autosave, "DEBOUNCE_MS", 50)


def result_layer(name="Park within 300 m — buildings") -> Layer:
    """A layer as an analysis makes it: data and a style, no file."""
    gdf = gpd.GeoDataFrame({"dist_m": [50.0, 900.0], "covered": [True, False]},
                           geometry=[box(PARK[2] + 40, PARK[1], PARK[2] + 60, PARK[1] + 20),
                                     box(PARK[2] + 890, PARK[1], PARK[2] + 910, PARK[1] + 20)], crs=CRS)
    style = Style(kind="categorized", field="covered", categories={"True": "#0072B2", "False": "#D55E00"})
    return Layer(name, gdf, None, "buildings", style)


def add_result(window, layer=None) -> Layer:
    layer = layer or result_layer()
    window._layers_added(([layer], window.project.crs))
    window.mark_modified()
    return layer


def answer(qtbot, actions, button) -> None:
    """Click ``button`` (a standard button or a text) in the question the window asks."""
    qtbot.waitUntil(lambda: actions.prompt is not None and actions.prompt.isVisible(), timeout=5000)
    box = actions.prompt
    if isinstance(button, str):
        target = next(b for b in box.buttons() if b.text() == button)
    else:
        target = box.button(button)
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton)


def save_and_wait(qtbot, window, action=None):
    with qtbot.waitSignal(window.project_actions.saved, timeout=20000) as blocker:
        (action or window.project_actions.save_action).trigger()
    return blocker.args[0]


def test_save_and_reopen_keeps_result_layers_styles_and_analyses(window, qtbot, city_project, messages):
    from layers.project import AnalysisRun

    open_and_wait(qtbot, window, city_project)
    add_result(window)
    window.project.analyses.append(AnalysisRun("coverage", "Park within 300 m", {"buildings": "zone"}, {}))
    assert window.windowTitle() == "*Test city — CityDesk"
    path = save_and_wait(qtbot, window)
    assert path == city_project and not window.modified and window.windowTitle() == "Test city — CityDesk"
    assert (city_project.parent / "city_layers.gpkg").exists() and messages == []
    entry = json.loads(city_project.read_text(encoding="utf-8"))["layers"][0]
    assert entry["source"] == {"path": "city_layers.gpkg", "layer": "park_within_300_m_buildings"}

    window.project_actions.new_project()  # not modified: no question
    assert window.project.layers == [] and window.panel.topLevelItemCount() == 0
    assert window.windowTitle() == "Untitled project — CityDesk"
    open_and_wait(qtbot, window, city_project)
    layer = window.project.layers[0]
    assert layer.name == "Park within 300 m — buildings" and layer.gdf["covered"].tolist() == [True, False]
    assert layer.style == result_layer().style and layer.role == "buildings"
    assert [lay.name for lay in window.project.layers[1:]] == ["bins", "streets", "park", "zone"]
    assert window.project.analyses == [AnalysisRun("coverage", "Park within 300 m", {"buildings": "zone"}, {})]
    assert window.project.warnings == []


def test_save_as_to_another_folder(window, qtbot, city_project, tmp_path, monkeypatch):
    open_and_wait(qtbot, window, city_project)
    add_result(window)
    other = tmp_path / "meeting"
    other.mkdir()
    asked = []

    def choose(parent, caption, start, filters):
        asked.append(start)
        return str(other / "option b"), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", choose)
    path = save_and_wait(qtbot, window, window.project_actions.save_as_action)
    assert asked == [str(city_project)] and path == other / "option b.citydesk"
    assert window.project.path == path and not window.modified
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [e["source"]["path"] for e in data["layers"]] == ["option b_layers.gpkg"] + ["../city.gpkg"] * 4
    assert recent_projects()[:2] == [str(path.resolve()), str(city_project.resolve())]
    opened = load_project(path)
    assert opened.warnings == [] and opened.layers[0].gdf["dist_m"].tolist() == [50.0, 900.0]


def test_save_of_a_new_project_asks_where(window, qtbot, city_project, tmp_path, monkeypatch):
    open_and_wait(qtbot, window, city_project)
    window.project_actions.new_project()
    add_result(window)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(tmp_path / "kallio.citydesk"), ""))
    path = save_and_wait(qtbot, window)
    assert path == tmp_path / "kallio.citydesk" and window.project.title == "kallio"
    assert load_project(path).layers[0].gdf is not None


def test_the_sample_city_is_saved_as_a_copy(window, qtbot, city_project, tmp_path, monkeypatch):
    monkeypatch.setattr(project_actions, "SAMPLE_PROJECT", city_project)  # the test city plays the sample
    before = city_project.read_bytes()
    open_and_wait(qtbot, window, city_project)
    add_result(window)
    asked = []

    def choose(parent, caption, start, filters):
        asked.append(Path(start))
        return str(tmp_path / "mine.citydesk"), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", choose)
    path = save_and_wait(qtbot, window)
    assert path == tmp_path / "mine.citydesk" and city_project.read_bytes() == before
    assert asked == [Path.home() / "Test city.citydesk"]  # not in the sample's folder


def test_unsaved_changes_are_asked_about_on_close(window, qtbot, city_project):
    open_and_wait(qtbot, window, city_project)
    window.project_actions.start_session()
    add_result(window)
    actions = window.project_actions
    with qtbot.waitSignal(actions.autosave.autosaved, timeout=10000) as blocker:
        pass
    folder = blocker.args[0]
    window.close()
    answer(qtbot, actions, QMessageBox.StandardButton.Cancel)
    assert window.isVisible() and window.modified and folder.exists()
    window.close()
    assert "Test city" in actions.prompt.text()
    answer(qtbot, actions, QMessageBox.StandardButton.Discard)
    assert not window.isVisible()
    assert not folder.exists()  # a clean close deletes the autosave
    assert load_project(city_project).layers[0].name == "bins"  # nothing was saved


def test_save_from_the_close_question_saves_then_closes(window, qtbot, city_project):
    open_and_wait(qtbot, window, city_project)
    add_result(window)
    window.close()
    with qtbot.waitSignal(window.project_actions.saved, timeout=20000):
        answer(qtbot, window.project_actions, QMessageBox.StandardButton.Save)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert load_project(city_project).layers[0].name == "Park within 300 m — buildings"


def test_opening_another_project_or_a_new_one_asks_first(window, qtbot, city_project, tmp_path):
    (tmp_path / "other").mkdir()
    other = make_project(tmp_path / "other")
    open_and_wait(qtbot, window, city_project)
    add_result(window)
    window.open_project(other)
    answer(qtbot, window.project_actions, QMessageBox.StandardButton.Cancel)
    assert window.project.path == city_project and window.modified
    window.project_actions.new_action.trigger()
    answer(qtbot, window.project_actions, QMessageBox.StandardButton.Cancel)
    assert len(window.project.layers) == 5
    window.open_project(other)
    with qtbot.waitSignal(window.projectShown, timeout=20000):
        answer(qtbot, window.project_actions, QMessageBox.StandardButton.Discard)
    assert window.project.path == other and not window.modified


def test_recent_projects(window, qtbot, city_project, tmp_path):
    paths = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        paths.append(make_project(tmp_path / name))
    for path in (city_project, *paths):
        open_and_wait(qtbot, window, path)
    assert recent_projects() == [str(p.resolve()) for p in (paths[1], paths[0], city_project)]
    assert QSettings("CityDesk", "CityDesk").value("recent_projects")[0] == str(paths[1].resolve())
    paths[0].unlink()
    menu = window.project_actions.recent_menu
    window.project_actions.fill_recent_menu()
    entries = [a for a in menu.actions() if a.data()]
    assert [a.text() for a in entries] == ["&1 city.citydesk", "&2 city.citydesk (missing)", "&3 city.citydesk"]
    assert [a.isEnabled() for a in entries] == [True, False, True]
    with qtbot.waitSignal(window.projectShown, timeout=20000):
        entries[2].trigger()
    assert window.project.path == city_project
    assert recent_projects()[0] == str(city_project.resolve())
    next(a for a in menu.actions() if a.text() == "Remove missing projects").trigger()
    assert str(paths[0].resolve()) not in recent_projects() and len(recent_projects()) == 2
    for i in range(12):
        project_actions.remember_recent(tmp_path / f"p{i}.citydesk")
    assert len(recent_projects()) == 10 and recent_projects()[0].endswith("p11.citydesk")


def test_file_menu(window):
    file_menu = window.open_action.associatedObjects()
    menu = next(m for m in file_menu if hasattr(m, "title") and m.title() == "&File")
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    for text in ("&New project", "&Open project…", "Open &recent", "&Save", "Save &as…", "&Quit"):
        assert text in texts
    assert texts.index("&New project") < texts.index("&Save") < texts.index("Save &as…") < texts.index("&Quit")
    assert window.project_actions.save_action.shortcut().toString() == "Ctrl+S"


def test_autosave_writes_a_copy_and_leaves_the_users_file_alone(window, qtbot, city_project, tmp_path):
    open_and_wait(qtbot, window, city_project)
    actions = window.project_actions
    actions.start_session()
    before = city_project.read_bytes()
    add_result(window)
    with qtbot.waitSignal(actions.autosave.autosaved, timeout=10000) as blocker:
        pass
    folder = blocker.args[0]
    assert folder.parent == tmp_path / "autosave" and city_project.read_bytes() == before
    assert (folder / "layers.gpkg").exists()
    meta = json.loads((folder / "autosave.json").read_text(encoding="utf-8"))
    assert meta["original"] == str(city_project.resolve()) and meta["title"] == "Test city"
    copy = load_project(folder / "project.citydesk")
    assert copy.warnings == [] and copy.layers[0].gdf["covered"].tolist() == [True, False]
    assert window.project.layers[0].source is None  # the autosave did not touch the project
    assert recoverable_sessions() == []  # this session is running: nothing to recover
    save_and_wait(qtbot, window)
    assert not folder.exists()  # a clean save deletes the autosave


CRASH = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, {root!r})
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
qt = QApplication([])
from app.main_window import MainWindow
from tests.app.test_project_actions import add_result
window = MainWindow()
window.show()
loop = QEventLoop()
window.projectShown.connect(loop.quit)
window.project_actions.start_session(lambda: window.open_project({path!r}))
loop.exec()
add_result(window)
window.project_actions.autosave.autosaved.connect(lambda folder: os._exit(3))  # the crash: no clean-up at all
QTimer.singleShot(60000, lambda: os._exit(1))
qt.exec()
"""


def test_recovery_after_a_crash(window, qtbot, city_project, tmp_path):
    env = {**os.environ, "CITYDESK_AUTOSAVE_DIR": str(tmp_path / "autosave"), "QT_QPA_PLATFORM": "offscreen"}
    crashed = subprocess.run([sys.executable, "-c", CRASH.format(root=str(ROOT), path=str(city_project))],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 3, crashed.stderr
    left = list((tmp_path / "autosave").iterdir())
    assert len(left) == 1 and (left[0] / "session.lock").exists()  # the crashed session's lock is still there
    found = recoverable_sessions()
    assert found == left  # but stale: the session is not running

    fallback = []
    actions = window.project_actions
    assert actions.start_session(lambda: fallback.append(True)) is True
    assert "Test city" in actions.autosave.prompt.text()
    with qtbot.waitSignal(window.projectShown, timeout=20000):
        answer(qtbot, actions.autosave, "Recover")
    assert fallback == [] and found[0].exists()  # kept until this session's own copy is written
    project = window.project
    assert project.path == city_project and window.modified and window.windowTitle().startswith("*Test city")
    assert project.layers[0].name == "Park within 300 m — buildings" and project.layers[0].source is None
    assert project.layers[0].gdf["covered"].tolist() == [True, False]
    with qtbot.waitSignal(actions.autosave.autosaved, timeout=30000):  # this session's own copy replaces the old one
        pass
    assert not found[0].exists()
    save_and_wait(qtbot, window)  # Save writes to the original place
    assert load_project(city_project).layers[0].gdf["covered"].tolist() == [True, False]
    assert (city_project.parent / "city_layers.gpkg").exists() and recoverable_sessions() == []


def test_discarding_the_recovery_deletes_the_copy_and_opens_the_usual_project(window, qtbot, tmp_path):
    folder = tmp_path / "autosave" / "20250101-120000-1"
    folder.mkdir(parents=True)
    (folder / "project.citydesk").write_text('{"format": "citydesk-project", "version": 1}', encoding="utf-8")
    (folder / "autosave.json").write_text('{"title": "<b>Old</b>", "saved_at": "2025-01-01T12:00:00"}')
    fallback = []
    actions = window.project_actions
    actions.start_session(lambda: fallback.append(True))
    box = actions.autosave.prompt
    assert box.textFormat() == Qt.TextFormat.PlainText and "<b>Old</b>" in box.text()
    assert "2025-01-01 12:00" in box.text()
    answer(qtbot, actions.autosave, "Discard")
    assert fallback == [True] and not folder.exists()


def test_unexpected_exceptions_show_a_dialog(qtbot, monkeypatch, capsys):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    hook = project_actions.install_excepthook()
    assert sys.excepthook is hook
    try:
        raise ValueError("boom <b>")
    except ValueError as exc:
        hook(type(exc), exc, exc.__traceback__)
    assert "ValueError: boom <b>" in capsys.readouterr().err
    from PySide6.QtWidgets import QApplication

    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert len(boxes) == 1 and "boom <b>" in boxes[0].text()
    hook(ValueError, ValueError("again"), None)  # one box at a time
    assert len([w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]) == 1
    boxes[0].close()


def test_points_are_kept_too(window, qtbot, city_project):
    """An edited copy (points, no file) is saved with the project like a result."""
    open_and_wait(qtbot, window, city_project)
    gdf = gpd.GeoDataFrame({"kind": ["bench"]}, geometry=[Point(385100, 6672100)], crs=CRS)
    add_result(window, Layer("bins (scenario)", gdf, None, "benches"))
    save_and_wait(qtbot, window)
    assert load_project(city_project).layer("bins (scenario)").gdf["kind"].tolist() == ["bench"]
