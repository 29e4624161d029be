"""The map tools in the real window, driven by mouse and keyboard events: zoom box, zoom to
layer / selection, the settable scale, identify, select (click, Shift, Ctrl, rectangle), measure
distance and area, Esc back to Pan."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from shapely.geometry import box

from app.map_tools import IdentifyTool, PanTool, SelectTool, ZoomBoxTool
from app.measure import MeasureTool, format_area, format_length, measure_area, measure_length
from layers.layer import Layer
from layers.project import Project
from layers.style import Style
from tests.app.qt_city import PARK, ZONE, open_and_wait, wait_render

LEFT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
NO_MODS = Qt.KeyboardModifier.NoModifier


def send(canvas, kind, pos: QPointF, button=LEFT, buttons=LEFT, mods=NO_MODS) -> None:
    QApplication.sendEvent(canvas, QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button, buttons, mods))


def click(canvas, pos: QPointF, mods=NO_MODS) -> None:
    send(canvas, QMouseEvent.Type.MouseButtonPress, pos, mods=mods)
    send(canvas, QMouseEvent.Type.MouseButtonRelease, pos, buttons=NONE, mods=mods)


def drag(canvas, a: QPointF, b: QPointF, mods=NO_MODS) -> None:
    send(canvas, QMouseEvent.Type.MouseButtonPress, a, mods=mods)
    send(canvas, QMouseEvent.Type.MouseMove, (a + b) / 2, NONE, LEFT, mods)
    send(canvas, QMouseEvent.Type.MouseMove, b, NONE, LEFT, mods)
    send(canvas, QMouseEvent.Type.MouseButtonRelease, b, buttons=NONE, mods=mods)


def at(canvas, x: float, y: float) -> QPointF:
    return canvas.to_widget(x, y)


def contains(outer, inner, tol=1e-6) -> bool:
    return (outer[0] <= inner[0] + tol and outer[1] <= inner[1] + tol and outer[2] >= inner[2] - tol
            and outer[3] >= inner[3] - tol)


@pytest.fixture
def city(window, qtbot, city_project):
    open_and_wait(qtbot, window, city_project)
    return window


@pytest.fixture
def blocks(window, qtbot):
    """A project of five 100 m blocks in a row (EPSG:3067), shown in the window."""
    gdf = gpd.GeoDataFrame({"name": [f"block {i}" for i in range(5)], "floors": [1, 2, 3, 4, 5]},
                           geometry=[box(200 * i, 0, 200 * i + 100, 100) for i in range(5)], crs=3067)
    layer = Layer("blocks", gdf, style=Style(fill="#cccccc", fill_opacity=1))
    project = Project(layers=[layer], crs=CRS.from_epsg(3067), title="Blocks", view=(-50, -300, 950, 400))
    with qtbot.waitSignal(window.projectShown):
        window.show_project(project)
    wait_render(qtbot, window.canvas)
    window.panel.setCurrentItem(window.panel.topLevelItem(0))
    return window, layer


def test_toolbar_actions_form_one_group_and_esc_returns_to_pan(city, qtbot):
    tools = city.map_tools
    names = [a.text() for a in tools.toolbar.actions()]
    assert names == ["Pan", "Zoom", "Identify", "Select", "Distance", "Area"]
    assert city.pan_action is tools.actions["pan"] and city.pan_action.isChecked()
    tools.actions["identify"].trigger()
    assert isinstance(city.canvas.tool, IdentifyTool) and not city.pan_action.isChecked()
    tools.actions["measure_area"].trigger()
    assert isinstance(city.canvas.tool, MeasureTool) and city.canvas.tool.mode == "area"
    assert tools.group.checkedAction() is tools.actions["measure_area"]
    qtbot.keyClick(city.canvas, Qt.Key.Key_Escape)
    assert isinstance(city.canvas.tool, PanTool) and city.pan_action.isChecked()


def test_zoom_box_shows_the_dragged_box(city, qtbot):
    canvas = city.canvas
    city.map_tools.actions["zoom_box"].trigger()
    assert isinstance(canvas.tool, ZoomBoxTool)
    a, b = QPointF(100, 80), QPointF(260, 200)
    want = (*canvas.to_map(QPointF(100, 200)), *canvas.to_map(QPointF(260, 80)))  # xmin, ymin, xmax, ymax
    with qtbot.waitSignal(canvas.extentChanged):
        drag(canvas, a, b)
    ext = canvas.extent()
    assert contains(ext, want)
    # the box fills the view in one direction: the zoom is as large as fits
    assert (ext[2] - ext[0]) == pytest.approx(want[2] - want[0]) or (ext[3] - ext[1]) == pytest.approx(
        want[3] - want[1])
    centre = ((ext[0] + ext[2]) / 2, (ext[1] + ext[3]) / 2)
    assert centre == pytest.approx(((want[0] + want[2]) / 2, (want[1] + want[3]) / 2))
    res = canvas.resolution()
    click(canvas, QPointF(canvas.width() / 2, canvas.height() / 2))  # a click zooms in 2x
    assert canvas.resolution() == pytest.approx(res / 2)


def test_zoom_to_layer_and_to_selection(city, qtbot):
    canvas, park, zone = city.canvas, city.project.layer("park"), city.project.layer("zone")
    canvas.zoom_to_layer(park)
    ext = canvas.extent()
    assert contains(ext, PARK) and min(ext[2] - ext[0], ext[3] - ext[1]) < 1.3 * (PARK[2] - PARK[0])
    assert city.map_tools.zoom_selection_action.isEnabled()
    city.selection.select(zone, [0])
    city.map_tools.zoom_selection_action.trigger()
    ext = canvas.extent()
    assert contains(ext, ZONE) and min(ext[2] - ext[0], ext[3] - ext[1]) < 1.3 * (ZONE[2] - ZONE[0])
    assert ((ext[0] + ext[2]) / 2, (ext[1] + ext[3]) / 2) == pytest.approx(
        ((ZONE[0] + ZONE[2]) / 2, (ZONE[1] + ZONE[3]) / 2))
    city.panel.setCurrentItem(city.panel.topLevelItem(2))  # park, through the View menu action
    city.map_tools.zoom_layer_action.trigger()
    assert contains(canvas.extent(), PARK) and not contains(canvas.extent(), ZONE)


def test_scale_box_shows_and_sets_the_scale(city, qtbot):
    canvas, scale_box = city.canvas, city.scale_label
    assert scale_box.text() == f"1:{canvas.scale_denominator():,.0f}".replace(",", " ")
    edit = scale_box.lineEdit()
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "1:5000")
    with qtbot.waitSignal(canvas.extentChanged):
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert canvas.scale_denominator() == pytest.approx(5000, rel=0.01)
    edit.selectAll()
    qtbot.keyClicks(edit, "25 000")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert canvas.scale_denominator() == pytest.approx(25000, rel=0.01)
    index = scale_box.findText("1:1 000")
    scale_box.activated.emit(index)  # picked from the list
    assert canvas.scale_denominator() == pytest.approx(1000, rel=0.01)
    messages = []
    scale_box.refused.connect(messages.append)
    edit.selectAll()
    qtbot.keyClicks(edit, "abc")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert messages and "not a scale" in messages[0]
    assert canvas.scale_denominator() == pytest.approx(1000, rel=0.01)


def test_identify_shows_the_attributes_of_the_polygon_as_plain_text(city, qtbot):
    park = city.project.layer("park")
    park.gdf["note"] = "<b>x</b>"  # attribute text is shown as it is, never as HTML
    city.map_tools.actions["identify"].trigger()
    click(city.canvas, at(city.canvas, 385100, 6672100))  # inside the park, outside the zone
    panel = city.map_tools.identify_panel
    assert city.map_tools.identify_dock.isVisible()
    top = panel.topLevelItem(0)
    assert panel.topLevelItemCount() == 1 and top.text(0) == "park" and top.text(1) == "1 feature"
    feature = top.child(0)
    assert "Esplanadi" in feature.text(0)
    cells = {feature.child(i).text(0): feature.child(i).text(1) for i in range(feature.childCount())}
    assert cells["name"] == "Esplanadi" and cells["note"] == "<b>x</b>"
    assert cells["(geometry)"] == "Polygon"
    # where park and zone overlap both are listed, top layer first
    click(city.canvas, at(city.canvas, 385300, 6672300))
    assert [panel.topLevelItem(i).text(0) for i in range(panel.topLevelItemCount())] == ["park", "zone"]
    click(city.canvas, at(city.canvas, 384750, 6672650))  # nothing there
    assert panel.topLevelItemCount() == 1 and panel.topLevelItem(0).text(0).startswith("No feature here")


def test_select_click_shift_ctrl_and_rectangle(blocks, qtbot):
    window, layer = blocks
    canvas, selection = window.canvas, window.selection
    window.map_tools.actions["select"].trigger()
    assert isinstance(canvas.tool, SelectTool)
    centre = [at(canvas, 200 * i + 50, 50) for i in range(5)]
    with qtbot.waitSignal(selection.changed):
        click(canvas, centre[1])
    assert selection.rows(layer).tolist() == [1]
    click(canvas, centre[3], Qt.KeyboardModifier.ShiftModifier)
    assert selection.rows(layer).tolist() == [1, 3]
    click(canvas, centre[1], Qt.KeyboardModifier.ControlModifier)
    assert selection.rows(layer).tolist() == [3]
    click(canvas, centre[0])  # a plain click replaces
    assert selection.rows(layer).tolist() == [0]
    drag(canvas, at(canvas, 250, 150), at(canvas, 650, -50))  # touches blocks 1, 2 and 3
    assert selection.rows(layer).tolist() == [1, 2, 3]
    drag(canvas, at(canvas, 850, 150), at(canvas, 950, -50), Qt.KeyboardModifier.ShiftModifier)
    assert selection.rows(layer).tolist() == [1, 2, 3, 4]
    click(canvas, at(canvas, 150, 50))  # between blocks: nothing there, the selection is cleared
    assert selection.rows(layer).tolist() == []


def test_select_without_a_current_layer_says_what_to_do(blocks, qtbot):
    window, layer = blocks
    window.panel.setCurrentItem(None)
    window.map_tools.actions["select"].trigger()
    click(window.canvas, at(window.canvas, 250, 50))
    assert window.selection.count(layer) == 0
    assert "Layers panel" in window.statusBar().currentMessage()


def test_selected_features_are_drawn_yellow_on_top(blocks, qtbot):
    window, layer = blocks
    canvas = window.canvas
    counts = dict(canvas.render_counts)
    window.selection.select(layer, [2])
    wait_render(qtbot, canvas)
    image = canvas.image()
    pos = at(canvas, 450, 50)
    selected = image.pixelColor(int(pos.x()), int(pos.y()))
    pos = at(canvas, 250, 50)
    plain = image.pixelColor(int(pos.x()), int(pos.y()))
    assert plain.name() == "#cccccc"
    assert selected.red() > 200 and selected.green() > 190 and selected.blue() < 140  # yellow over grey
    assert dict(canvas.render_counts) == counts  # only the overlay was drawn, not the layer


def _view_at_ten_pixels_per_metre(canvas):
    w, h = canvas.width(), canvas.height()
    canvas.zoom_to_extent((-w * 0.05, -h * 0.05, w * 0.05, h * 0.05))
    assert canvas.resolution() == pytest.approx(0.1)


def test_measure_distance_and_area_of_a_3_4_5_triangle(blocks, qtbot):
    window, _ = blocks
    canvas = window.canvas
    _view_at_ten_pixels_per_metre(canvas)
    window.map_tools.actions["measure_distance"].trigger()
    tool = canvas.tool
    o = QPointF(canvas.width() / 2 - 20, canvas.height() / 2 + 20)
    a, b = o + QPointF(30, 0), o + QPointF(30, -40)  # 3 m east, then 4 m north
    for p in (o, a, b):
        click(canvas, p)
    assert tool.total == pytest.approx(7.0, abs=1e-6) and not tool.done
    send(canvas, QMouseEvent.Type.MouseButtonPress, o)  # back to the start; a double click ends
    send(canvas, QMouseEvent.Type.MouseButtonRelease, o, buttons=NONE)
    send(canvas, QMouseEvent.Type.MouseButtonDblClick, o)
    send(canvas, QMouseEvent.Type.MouseButtonRelease, o, buttons=NONE)
    assert tool.done and tool.total == pytest.approx(12.0, abs=1e-6)
    assert "12.0 m" in window.statusBar().currentMessage()
    window.map_tools.actions["measure_area"].trigger()
    tool = canvas.tool
    for p in (o, a, b):
        click(canvas, p)
    send(canvas, QMouseEvent.Type.MouseButtonDblClick, b)
    assert tool.done and tool.total == pytest.approx(6.0, abs=1e-6)
    assert "6.0 m²" in window.statusBar().currentMessage()
    canvas.grab()  # the overlay paints without error


def test_measure_functions_planar_geodesic_and_formats():
    metric = CRS.from_epsg(3067)
    assert measure_length([(0, 0), (3, 0), (3, 4), (0, 0)], metric) == pytest.approx(12.0)
    assert measure_area([(0, 0), (3, 0), (3, 4)], metric) == pytest.approx(6.0)
    assert measure_area([(0, 0), (100, 0), (100, 100), (0, 100)], metric) == pytest.approx(10_000)
    wgs84 = CRS.from_epsg(4326)
    assert measure_length([(24.0, 0.0), (25.0, 0.0)], wgs84) == pytest.approx(111_319.49, rel=1e-6)
    one_degree = measure_area([(24, 60), (25, 60), (25, 61), (24, 61)], wgs84)
    assert one_degree == pytest.approx(111_319.49 * 111_000 * np.cos(np.radians(60.5)), rel=0.01)
    feet = CRS.from_epsg(2227)  # US survey feet
    assert measure_length([(0, 0), (1000, 0)], feet) == pytest.approx(304.8006, rel=1e-5)
    assert format_length(12.0) == "12.0 m" and format_length(1534) == "1.53 km"
    assert format_area(6) == "6.0 m²" and format_area(25_000) == "25 000 m² (2.5 ha)"
