"""``citydesk render`` and ``citydesk screenshot`` as a user runs them: the console script in a
subprocess, offscreen; the PNGs are read back and looked at."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.render import BACKGROUND, to_screen
from app.render_command import full_extent, load_for_render, parse_size
from tests.app.qt_city import BIN, PARK_GREEN, STREET_RED, STREET_Y

SCRIPT = Path(sys.executable).with_name("citydesk")
SIZE = (800, 500)


def citydesk(*args: str) -> subprocess.CompletedProcess:
    exe = str(SCRIPT) if SCRIPT.exists() else shutil.which("citydesk")
    assert exe, "the citydesk console script is not installed (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(autouse=True)
def _app(qapp):  # QImage reading and the extent maths want a QGuiApplication
    return qapp


def colour(image, extent, x: float, y: float) -> str:
    from PySide6.QtGui import QColor

    px, py = to_screen(np.array([[x, y]]), extent, image.width(), image.height())[0]
    return QColor(image.pixel(int(px), int(py))).name()


def test_render_a_project_draws_its_styles_and_writes_timings(city_project, tmp_path):
    from PySide6.QtGui import QImage

    out, timings = tmp_path / "map.png", tmp_path / "timings.json"
    result = citydesk("render", str(city_project), "--out", str(out), "--size", "800x500", "--timings", str(timings))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    image = QImage(str(out))
    assert (image.width(), image.height()) == SIZE
    layers, crs = load_for_render(city_project)
    extent = full_extent(layers, crs, *SIZE)  # what the canvas's Zoom to full extent shows
    assert colour(image, extent, 385100, 6672100) == PARK_GREEN  # the park's style colour
    assert colour(image, extent, 385000, STREET_Y) == STREET_RED
    assert colour(image, extent, 384810, 6672590) == BACKGROUND
    data = json.loads(timings.read_text())
    assert data["load_s"] >= 0 and 0 < data["render_s"] < 60
    assert data["width"] == 800 and data["layers"] == ["bins", "streets", "park", "zone"]


def test_render_is_the_canvas_image_of_the_full_extent(city_project, tmp_path, qtbot):
    """The same renderer: the canvas at full extent and the command give the same pixels."""
    from PySide6.QtGui import QImage

    from app.map_canvas import MapCanvas
    from tests.app.qt_city import wait_render

    out = tmp_path / "map.png"
    assert citydesk("render", str(city_project), "--out", str(out), "--size", "400x300").returncode == 0
    layers, crs = load_for_render(city_project)
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_layers(layers, crs)  # no saved view: the full extent
    wait_render(qtbot, canvas)
    shown = canvas.image().convertToFormat(QImage.Format.Format_RGB32)
    written = QImage(str(out)).convertToFormat(QImage.Format.Format_RGB32)
    assert shown.size() == written.size()
    differ = sum(shown.pixel(x, y) != written.pixel(x, y) for x in range(0, 400, 4) for y in range(0, 300, 4))
    assert differ == 0


def test_render_only_the_named_layers_and_a_plain_layer_file(city_project, tmp_path):
    from PySide6.QtGui import QImage

    out = tmp_path / "park.png"
    result = citydesk("render", str(city_project), "--out", str(out), "--size", "800x500", "--layer", "park")
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    layers, crs = load_for_render(city_project, ["park"])
    extent = full_extent(layers, crs, *SIZE)
    assert colour(image, extent, 385100, 6672100) == PARK_GREEN
    assert colour(image, extent, *BIN) == BACKGROUND  # the bin is not drawn
    park = (385000.0, 6672000.0, 385400.0, 6672400.0)
    assert extent[3] - extent[1] < 1.1 * (park[3] - park[1])  # the extent is the park's
    gpkg = city_project.with_name("city.gpkg")  # any layer file, drawn with default styles
    out = tmp_path / "file.png"
    result = citydesk("render", str(gpkg), "--out", str(out), "--size", "800x500")
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    layers, crs = load_for_render(gpkg)
    extent = full_extent(layers, crs, *SIZE)
    assert colour(image, extent, 385100, 6672100) not in (BACKGROUND, PARK_GREEN)  # a default fill


def test_render_and_screenshot_errors(city_project, tmp_path):
    result = citydesk("render", str(city_project), "--out", str(tmp_path / "a.png"), "--size", "abc")
    assert result.returncode == 2 and "WIDTHxHEIGHT" in result.stderr
    result = citydesk("render", str(tmp_path / "nope.citydesk"), "--out", str(tmp_path / "a.png"))
    assert result.returncode == 1 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = citydesk("render", str(city_project), "--out", str(tmp_path / "a.png"), "--layer", "trees")
    assert result.returncode == 1 and "'trees'" in result.stderr and "park" in result.stderr
    result = citydesk("render", str(city_project), "--out", str(tmp_path / "a.jpg"))
    assert result.returncode == 1 and ".png" in result.stderr
    result = citydesk("screenshot", str(city_project.with_name("city.gpkg")), "--out", str(tmp_path / "w.png"))
    assert result.returncode == 1 and ".citydesk" in result.stderr
    result = citydesk("screenshot", str(city_project), "--out", str(tmp_path / "w.png"), "--size", "10x10")
    assert result.returncode == 2
    result = citydesk("screenshot", str(city_project), "--out", str(tmp_path / "w.png"), "--run", "Bins near homes")
    assert result.returncode == 1 and "no saved analysis 'Bins near homes'" in result.stderr
    assert not list(tmp_path.glob("*.png"))  # no half-written output


def test_parse_size():
    assert parse_size("1600x1000") == (1600, 1000) and parse_size(" 800 X 600 ") == (800, 600)
    for bad in ("abc", "1600", "1600x", "0x100", "x100", "-5x10"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_screenshot_saves_the_window_with_the_map(city_project, tmp_path):
    from PySide6.QtGui import QColor, QImage

    out = tmp_path / "window.png"
    result = citydesk("screenshot", str(city_project), "--out", str(out), "--size", "900x640")
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 640)
    colours = {QColor(image.pixel(x, y)).name() for x in range(0, 900, 3) for y in range(0, 640, 3)}
    assert PARK_GREEN in colours and STREET_RED in colours  # the map was drawn before the grab
