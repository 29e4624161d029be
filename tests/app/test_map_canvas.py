"""The map canvas on its own: renders in a worker, zooms around the cursor, pans by drag and keys,
drops late results of older renders, tells the scale."""

from __future__ import annotations

import threading
import time

import pytest
from pyproj import CRS
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

import app.map_canvas as map_canvas
from app import render, render_job
from app.map_canvas import MapCanvas, layers_extent
from tests.app.qt_city import BIN, BIN_BLUE, PARK_GREEN, city_layers, pixel, wait_render

PROJECT_CRS = CRS.from_epsg(3067)
VIEW = (384700.0, 6671700.0, 385700.0, 6672700.0)


@pytest.fixture
def canvas(qtbot):
    widget = MapCanvas()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignal(widget.renderFinished, timeout=20000):
        widget.set_layers(city_layers(), PROJECT_CRS, VIEW)
    wait_render(qtbot, widget)
    return widget


def close(a, b, tol=1e-6):
    return all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b, strict=True))


def test_render_in_worker_shows_the_layers(canvas):
    ext = canvas.extent()
    assert (ext[2] - ext[0]) / (ext[3] - ext[1]) == pytest.approx(600 / 400)  # aspect of the widget
    assert ext[0] <= VIEW[0] and ext[2] >= VIEW[2] and ext[1] <= VIEW[1] + 1e-6 and ext[3] >= VIEW[3] - 1e-6
    assert pixel(canvas, 385100, 6672100) == PARK_GREEN
    assert pixel(canvas, *BIN) == BIN_BLUE


def test_wheel_zooms_around_the_cursor(canvas, qtbot):
    cursor = QPointF(150, 100)
    before = canvas.to_map(cursor)
    res = canvas.resolution()
    event = QWheelEvent(cursor, canvas.mapToGlobal(cursor), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    with qtbot.waitSignal(canvas.extentChanged):
        QApplication.sendEvent(canvas, event)
    assert canvas.resolution() == pytest.approx(res / map_canvas.ZOOM_STEP)
    assert close(canvas.to_map(cursor), before)  # the point under the cursor stays put
    wait_render(qtbot, canvas)
    assert pixel(canvas, 385100, 6672100) == PARK_GREEN


def test_drag_pans_the_map(canvas, qtbot):
    ext, res = canvas.extent(), canvas.resolution()

    def mouse(kind, pos, button, buttons):
        QApplication.sendEvent(canvas, QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button, buttons,
                                                   Qt.KeyboardModifier.NoModifier))

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mouse(QMouseEvent.Type.MouseButtonPress, QPointF(300, 200), left, left)
    mouse(QMouseEvent.Type.MouseMove, QPointF(330, 180), none, left)
    mouse(QMouseEvent.Type.MouseMove, QPointF(350, 170), none, left)
    mouse(QMouseEvent.Type.MouseButtonRelease, QPointF(350, 170), left, none)
    moved = canvas.extent()
    # dragged 50 px right and 30 px up: the map moves with the mouse, so the view moves left and down
    assert close(moved, (ext[0] - 50 * res, ext[1] - 30 * res, ext[2] - 50 * res, ext[3] - 30 * res))
    mouse(QMouseEvent.Type.MouseMove, QPointF(400, 100), none, none)  # no button: no pan
    assert canvas.extent() == moved
    wait_render(qtbot, canvas)
    assert pixel(canvas, 385100, 6672100) == PARK_GREEN


def test_arrow_keys_and_plus_minus(canvas, qtbot):
    ext, res = canvas.extent(), canvas.resolution()
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert canvas.extent()[0] == pytest.approx(ext[0] + 150 * res)  # a quarter of the width
    qtbot.keyClick(canvas, Qt.Key.Key_Up)
    assert canvas.extent()[1] == pytest.approx(ext[1] + 100 * res)
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.resolution() == pytest.approx(res / map_canvas.ZOOM_STEP)


def test_zoom_to_extent_and_full(canvas):
    canvas.zoom_to_extent((385000, 6672000, 385100, 6672050))
    ext = canvas.extent()
    assert ext[2] - ext[0] == pytest.approx(100) and ext[1] <= 6672000 and ext[3] >= 6672050
    canvas.zoom_full()
    full = layers_extent(canvas.layers, PROJECT_CRS)
    ext = canvas.extent()
    assert ext[0] < full[0] and ext[1] < full[1] and ext[2] > full[2] and ext[3] > full[3]


def test_layers_extent_reprojects_bounds():
    layers = city_layers()
    layers[0].gdf = layers[0].gdf.to_crs(4326)
    ext = layers_extent(layers, PROJECT_CRS)
    assert ext == pytest.approx((384800.0, 6671800.0, 385600.0, 6672600.0), abs=0.01)


def test_late_result_of_an_older_generation_is_dropped(canvas, qtbot):
    from PySide6.QtGui import QImage

    current = canvas.image()
    stale = QImage(10, 10, QImage.Format.Format_ARGB32)
    stale.fill(QColor("red"))
    finished = []
    canvas.renderFinished.connect(lambda: finished.append(1))
    canvas._on_rendered(canvas.generation - 1, stale, canvas.extent())
    assert canvas.image() is current and not finished and canvas.dropped == 1


def test_newer_request_cancels_the_older_render_and_its_late_result_is_dropped(canvas, qtbot, monkeypatch):
    real = render.render_layer
    release = threading.Event()
    polls = []

    def held(layer, crs, extent, w, h, dpr, cancelled, *args):
        polls.append(cancelled)
        if len(polls) == 1:
            release.wait(10)  # the first render is slow...
        return real(layer, crs, extent, w, h, dpr, lambda: False, *args)  # ...and does not stop

    monkeypatch.setattr(render, "render_layer", held)
    dropped = canvas.dropped
    canvas.zoom_by(1.5)  # a new view: every layer is drawn again
    canvas._start_render()
    old = canvas._job
    release.set()
    deadline = time.monotonic() + 10
    while old in render_job._RUNNING and time.monotonic() < deadline:
        time.sleep(0.01)  # no Qt events handled here: its finished image waits in the queue
    canvas.zoom_by(2.0)  # the user moved on before the old image arrived
    with qtbot.waitSignal(canvas.renderFinished, timeout=20000):
        canvas._start_render()
    assert polls[0]() is True  # the older render was told to stop
    wait_render(qtbot, canvas)
    assert canvas.dropped > dropped  # the old image arrived late and was dropped
    assert canvas.image_extent() == canvas.extent()  # what is shown is the current view


def test_scale_from_extent_and_dpi(canvas):
    width_m = canvas.extent()[2] - canvas.extent()[0]
    expected = width_m / (canvas.width() / canvas.physicalDpiX() * 0.0254)
    assert canvas.scale_denominator() == pytest.approx(expected)
    canvas.set_layers([], CRS.from_epsg(4326), (24.0, 60.0, 25.0, 60.5))
    xmin, _, xmax, _ = canvas.extent()
    metres = (xmax - xmin) * 111_320 * 0.4985  # a degree of longitude at 60.25° N
    screen_m = canvas.width() / canvas.physicalDpiX() * 0.0254
    assert canvas.scale_denominator() == pytest.approx(metres / screen_m, rel=0.01)


def test_cursor_moves_report_map_coordinates(canvas, qtbot):
    pos = QPointF(100, 50)
    with qtbot.waitSignal(canvas.cursorMoved) as blocker:
        QApplication.sendEvent(canvas, QMouseEvent(QMouseEvent.Type.MouseMove, pos, canvas.mapToGlobal(pos),
                                                   Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                                   Qt.KeyboardModifier.NoModifier))
    assert close(blocker.args, canvas.to_map(pos))


def test_toggling_or_restyling_one_layer_draws_only_that_layer(canvas, qtbot):
    from dataclasses import replace

    park = next(lay for lay in canvas.layers if lay.name == "park")
    before = dict(canvas.render_counts)
    assert set(before) == {"bins", "streets", "park", "zone"}
    park.visible = False
    canvas.refresh()
    wait_render(qtbot, canvas)
    assert pixel(canvas, 385100, 6672100) != PARK_GREEN
    park.visible = True
    canvas.refresh()
    wait_render(qtbot, canvas)
    assert pixel(canvas, 385100, 6672100) == PARK_GREEN
    assert dict(canvas.render_counts) == before  # hidden and shown again: the kept image was used
    park.style = replace(park.style, fill="#123456")
    canvas.refresh()
    wait_render(qtbot, canvas)
    assert pixel(canvas, 385100, 6672100) == "#123456"
    assert canvas.render_counts["park"] == before["park"] + 1
    assert {k: v for k, v in canvas.render_counts.items() if k != "park"} == {
        k: v for k, v in before.items() if k != "park"}  # the others were not drawn again
    park.style = replace(park.style, opacity=0.5)  # opacity is applied when composing
    canvas.refresh()
    wait_render(qtbot, canvas)
    assert pixel(canvas, 385100, 6672100) not in ("#123456", BIN_BLUE)
    assert canvas.render_counts["park"] == before["park"] + 1
    canvas.pan_pixels(40, 0)  # a new view: every layer is drawn again
    wait_render(qtbot, canvas)
    assert all(canvas.render_counts[k] == before[k] + (2 if k == "park" else 1) for k in before)


def test_invalidate_draws_a_layer_changed_in_place(canvas, qtbot):
    from shapely.geometry import box

    park = next(lay for lay in canvas.layers if lay.name == "park")
    park.gdf.loc[0, "geometry"] = box(385000, 6672000, 385050, 6672050)  # the same frame, edited
    canvas.invalidate(park)
    wait_render(qtbot, canvas)
    assert pixel(canvas, 385025, 6672025) == PARK_GREEN
    assert pixel(canvas, 385100, 6672150) != PARK_GREEN


def test_pan_shows_the_cached_image_shifted_at_once(canvas, qtbot):
    before = canvas.image()
    canvas.pan_pixels(100, 0)
    assert canvas.is_rendering() and canvas.image() is before  # not drawn yet...
    shown = canvas.grab().toImage()  # ...but the old image is painted where it belongs now
    pos = canvas.to_widget(385100, 6672100)
    assert QColor(shown.pixel(int(pos.x()), int(pos.y()))).name() == PARK_GREEN
    wait_render(qtbot, canvas)


def test_set_scale_and_zoom_to_layer(canvas):
    canvas.set_scale(2500)
    assert canvas.scale_denominator() == pytest.approx(2500, rel=0.01)
    canvas.set_scale(-1)  # ignored
    assert canvas.scale_denominator() == pytest.approx(2500, rel=0.01)
    bins = canvas.layers[0]
    canvas.zoom_to_layer(bins)  # one point: at least MIN_VIEW_M around it
    ext = canvas.extent()
    assert ext[0] < BIN[0] < ext[2] and ext[1] < BIN[1] < ext[3]
    assert min(ext[2] - ext[0], ext[3] - ext[1]) == pytest.approx(map_canvas.MIN_VIEW_M)
    canvas.set_layers([], CRS.from_epsg(4326), (24.0, 60.0, 25.0, 60.5))
    canvas.set_scale(50_000)
    assert canvas.scale_denominator() == pytest.approx(50_000, rel=0.01)
