"""The main window driven with qtbot offscreen: open a project, toggle a layer, missing and broken
projects, add a layer, cancel, the status bar, and ``app.gui.main``."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import geopandas as gpd
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from shapely.geometry import box

import app.main_window as main_window
from layers.writers import write_layers
from tests.app.qt_city import (
    BIN,
    BIN_BLUE,
    PARK_GREEN,
    ZONE_YELLOW,
    make_project,
    open_and_wait,
    pixel,
    wait_render,
)


@pytest.fixture
def messages(monkeypatch):
    """Message boxes are recorded instead of shown (they would block the test)."""
    shown = []

    def record(kind):
        def box(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return QMessageBox.StandardButton.Ok

        return box

    monkeypatch.setattr(QMessageBox, "warning", record("warning"))
    monkeypatch.setattr(QMessageBox, "information", record("information"))
    monkeypatch.setattr(QMessageBox, "critical", record("critical"))
    return shown


def test_open_project_draws_its_layers(window, qtbot, city_project, messages):
    open_and_wait(qtbot, window, city_project)
    assert window.project.title == "Test city" and "Test city" in window.windowTitle()
    image = window.canvas.image()
    assert not image.isNull() and len({image.pixel(x, y) for x in range(0, image.width(), 25)
                                       for y in range(0, image.height(), 25)}) > 3  # not blank
    assert pixel(window.canvas, 385100, 6672100) == PARK_GREEN
    assert pixel(window.canvas, 385500, 6672500) == ZONE_YELLOW
    assert pixel(window.canvas, *BIN) == BIN_BLUE
    names = [window.panel.topLevelItem(i).text(0) for i in range(window.panel.topLevelItemCount())]
    assert names == ["bins", "streets", "park", "zone"]  # top-first, as drawn
    assert window.scale_label.text().startswith("1:")
    assert not messages and not window.progress.isVisible()


def test_unticking_a_layer_removes_its_colour(window, qtbot, city_project):
    open_and_wait(qtbot, window, city_project)
    with qtbot.waitSignal(window.canvas.renderFinished, timeout=20000):
        window.panel.set_layer_visible("park", False)
    wait_render(qtbot, window.canvas)
    assert window.project.layer("park").visible is False
    assert pixel(window.canvas, 385100, 6672100) != PARK_GREEN
    assert pixel(window.canvas, 385300, 6672300) == ZONE_YELLOW  # the zone under the park shows now
    with qtbot.waitSignal(window.canvas.renderFinished, timeout=20000):
        window.panel.set_layer_visible("park", True)
    wait_render(qtbot, window.canvas)
    assert pixel(window.canvas, 385100, 6672100) == PARK_GREEN


def test_legend_swatches_under_a_categorized_layer(window, qtbot, tmp_path):
    from layers.layer import Layer
    from layers.project import Project
    from layers.style import Style

    gdf = gpd.GeoDataFrame({"use": ["home", "shop"]}, crs=3067,
                           geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)])
    layer = Layer("uses", gdf, style=Style(kind="categorized", field="use"))
    window.show_project(Project(layers=[layer], crs=gdf.crs))
    item = window.panel.layer_item("uses")
    assert [item.child(i).text(0) for i in range(item.childCount())] == ["home", "shop"]
    assert not item.child(0).icon(0).isNull()


def test_missing_layer_file_opens_with_the_other_layers(window, qtbot, tmp_path, messages):
    path = make_project(tmp_path, missing=True)
    open_and_wait(qtbot, window, path)
    assert pixel(window.canvas, 385100, 6672100) == PARK_GREEN
    trees = window.panel.layer_item("trees")
    assert "not found" in trees.text(0) and "trees.gpkg" in trees.toolTip(0)
    assert not trees.flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert any("trees" in w for w in window.warnings_shown)
    assert "warnings" in window.statusBar().currentMessage()
    assert not messages  # a warning in the status bar, not a dialog


@pytest.mark.parametrize("content", ["{ not json", '{"format": "something-else", "version": 1}'])
def test_malformed_project_shows_a_message_not_a_traceback(window, qtbot, tmp_path, messages, content):
    bad = tmp_path / "bad.citydesk"
    bad.write_text(content, encoding="utf-8")
    with qtbot.waitSignal(window.taskFinished, timeout=20000):
        window.open_project(bad)
    assert len(messages) == 1
    kind, title, text = messages[0]
    assert kind == "warning" and "bad.citydesk" in text and "Traceback" not in text
    assert window.project is None and not window.progress.isVisible()


def test_open_sample_city_when_it_is_missing(window, monkeypatch, tmp_path, messages):
    monkeypatch.setattr(main_window, "SAMPLE_PROJECT", tmp_path / "nowhere.citydesk")
    window.sample_action.trigger()
    assert messages and messages[0][0] == "information" and "nowhere.citydesk" in messages[0][2]


def test_add_layer_puts_it_on_top(window, qtbot, city_project, tmp_path, messages):
    open_and_wait(qtbot, window, city_project)
    square = gpd.GeoDataFrame({"name": ["Plot"]}, geometry=[box(385050, 6672050, 385150, 6672150)], crs=3067)
    path = write_layers({"plots": square.to_crs(4326)}, tmp_path / "plots.geojson")
    with qtbot.waitSignal(window.taskFinished, timeout=20000):
        window.add_layer(path)
    wait_render(qtbot, window.canvas)
    assert window.project.layers[0].name == "plots" and window.panel.topLevelItem(0).text(0) == "plots"
    assert pixel(window.canvas, 385100, 6672100) not in (PARK_GREEN, "#f2efe9")  # drawn over the park
    assert not messages


def test_what_the_reader_found_is_told_when_a_timetable_is_added(window, qtbot, city_project, messages):
    """A GTFS feed's report (here: the service date chosen) shows in the layer's tooltip, as
    'citydesk info' prints it, and the status bar says where to look."""
    open_and_wait(qtbot, window, city_project)
    feed = Path(__file__).resolve().parents[2] / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"
    with qtbot.waitSignal(window.taskFinished, timeout=60000):
        window.add_layer(feed)
    assert "notes on transit_stops, transit_routes" in window.statusBar().currentMessage()
    tip = window.panel.layer_item("transit_stops").toolTip(0)
    assert "Found when reading:" in tip and "service date 2022-02-22" in tip
    assert "Found when reading" not in window.panel.layer_item("park").toolTip(0)
    assert not messages


def test_loading_can_be_cancelled(window, qtbot, city_project, monkeypatch):
    started = threading.Event()

    def slow_load(path, feedback):
        started.set()
        for _ in range(1000):
            feedback.check_cancelled()
            threading.Event().wait(0.01)
        raise AssertionError("not cancelled")

    monkeypatch.setattr(main_window, "_open_and_prepare", slow_load)
    window.open_project(city_project)
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    started.wait(10)
    with qtbot.waitSignal(window.taskFinished, timeout=20000):
        window.cancel_button.click()
    assert window.project is None and window.statusBar().currentMessage() == "Cancelled"


def test_status_bar_shows_cursor_in_project_crs_and_wgs84(window, qtbot, city_project):
    open_and_wait(qtbot, window, city_project)
    canvas = window.canvas
    pos = canvas.to_widget(385100, 6672100)
    QApplication.sendEvent(canvas, QMouseEvent(QMouseEvent.Type.MouseMove, pos, canvas.mapToGlobal(pos),
                                               Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                               Qt.KeyboardModifier.NoModifier))
    text = window.coords_label.text()
    assert "EPSG:3067" in text and "E 385 100.0" in text and "60.1" in text and "°N" in text and "°E" in text


def test_zoom_full_action(window, qtbot, city_project):
    open_and_wait(qtbot, window, city_project)
    window.canvas.zoom_by(8.0, QPointF(10, 10))
    window.zoom_full_action.trigger()
    xmin, ymin, xmax, ymax = window.canvas.extent()
    assert xmin < 384800 and xmax > 385600 and ymin < 6671800 and ymax > 6672600


def test_gui_main_opens_the_project_from_argv(qtbot, city_project, monkeypatch):
    from app import gui

    seen, windows = {}, []

    class Recorded(main_window.MainWindow):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            windows.append(self)
            qtbot.addWidget(self)

    def fake_exec(self=None):
        win = windows[0]
        qtbot.waitUntil(lambda: win.project is not None, timeout=20000)
        seen["title"], seen["size"] = win.project.title, (win.width(), win.height())
        return 0

    monkeypatch.setattr(gui, "MainWindow", Recorded)
    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert gui.main([str(city_project)]) == 0
    assert seen == {"title": "Test city", "size": gui.WINDOW_SIZE}
    assert gui.fonts_ok()


def test_workers_survive_pyproj_on_reused_pool_threads():
    """pyproj 3.7 frees a pool thread's PROJ context between jobs; keep_proj_context() must keep
    the second job on the same thread from crashing (run in a subprocess: a crash is a segfault)."""
    script = (
        "from PySide6.QtCore import QCoreApplication, QRunnable\n"
        "import threading\n"
        "from pyproj import CRS, Transformer\n"
        "from app.workers import keep_proj_context, worker_pool\n"
        "app = QCoreApplication([])\n"
        "pool = worker_pool(); pool.setMaxThreadCount(1)\n"
        "done = threading.Event()\n"
        "class Job(QRunnable):\n"
        "    def run(self):\n"
        "        keep_proj_context()\n"
        "        assert CRS.from_epsg(3067) == CRS.from_user_input('EPSG:3067')\n"
        "        Transformer.from_crs(4326, 3067, always_xy=True).transform(25.0, 60.0)\n"
        "        keep_proj_context()\n"
        "        done.set()\n"
        "for _ in range(5):\n"
        "    done.clear(); job = Job(); pool.start(job); assert done.wait(20)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
