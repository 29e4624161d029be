"""Editing points for scenarios, driven with real clicks on the map: a scenario copy, add / move /
delete with undo and redo, save to a GeoPackage, stop editing, and what the map shows."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from geopandas.testing import assert_geodataframe_equal
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from shapely.geometry import Point

import app.editing as editing
from app.edit_session import SCENARIO_OUTLINE
from app.edit_tools import EditTool
from layers.layer import Layer
from layers.readers import read_layer
from tests.app.qt_city import BIN, BIN_BLUE, CRS, open_and_wait, pixel, wait_render

LEFT = Qt.MouseButton.LeftButton
NEW = (385250.0, 6671950.0)  # an empty place between the park and the street


@pytest.fixture
def messages(monkeypatch):
    """Message boxes are recorded instead of shown (they would block the test)."""
    shown = []

    def record(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    for kind in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, record)
    return shown


@pytest.fixture
def city(window, qtbot, city_project, messages):
    open_and_wait(qtbot, window, city_project)
    return window


def at(window, x: float, y: float) -> QPoint:
    return window.canvas.to_widget(x, y).toPoint()


def click(window, x: float, y: float) -> None:
    QTest.mouseClick(window.canvas, LEFT, Qt.KeyboardModifier.NoModifier, at(window, x, y))


def start(window, name: str = "bins"):
    """Choose ``name`` in the Layers panel and Edit → Edit a copy of this layer."""
    window.panel.setCurrentItem(window.panel.layer_item(name))
    window.editing.start_action.trigger()
    return window.editing.session.layer


def test_start_editing_puts_a_copy_on_top_and_leaves_the_original(city):
    original = city.project.layer("bins")
    before = original.gdf
    copy = start(city)
    assert copy is not original and copy.name == "bins (scenario)" and copy.source is None
    assert city.project.layers[0] is copy and city.panel.topLevelItem(0).text(0) == "bins (scenario)"
    assert copy.gdf.crs == before.crs and list(copy.gdf.columns) == list(before.columns)
    assert copy.gdf["kind"].tolist() == ["waste"] and copy.gdf.geometry.iloc[0] == Point(*BIN)
    assert copy.style.fill == original.style.fill and copy.style.stroke == SCENARIO_OUTLINE
    assert original.gdf is before and len(original.gdf) == 1 and city.modified
    assert not original.visible  # hidden, so that deleted points do not show from under the copy
    assert city.panel.layer_item("bins").checkState(0) == Qt.CheckState.Unchecked
    assert city.editing.status_label.text().startswith("Editing bins (scenario): 1 point")
    # the scenario copy is edited directly: no copy of the copy
    city.editing.stop_editing()
    assert start(city, "bins (scenario)") is copy and len(city.project.layers) == 5


def test_add_point_by_click_then_undo_and_redo(city, qtbot):
    layer = start(city)
    city.editing.tool_actions["add"].trigger()
    assert isinstance(city.canvas.tool, EditTool)
    click(city, *NEW)
    assert len(layer.gdf) == 2
    added = layer.gdf.geometry.iloc[1]
    assert abs(added.x - NEW[0]) <= city.canvas.resolution() and abs(added.y - NEW[1]) <= city.canvas.resolution()
    assert layer.gdf["kind"].isna().tolist() == [False, True]
    assert city.editing.undo_action.text() == "Undo add point"
    QTest.keyClick(city.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z
    assert len(layer.gdf) == 1 and layer.gdf.geometry.iloc[0] == Point(*BIN)
    assert city.editing.redo_action.text() == "Redo add point"
    city.editing.redo_action.trigger()
    assert len(layer.gdf) == 2 and layer.gdf.geometry.iloc[1] == added


def test_the_map_shows_the_new_point(city, qtbot):
    start(city)
    city.editing.tool_actions["add"].trigger()
    assert pixel(city.canvas, *NEW) != BIN_BLUE
    click(city, *NEW)
    wait_render(qtbot, city.canvas)
    assert pixel(city.canvas, *NEW) == BIN_BLUE


def test_move_point_by_drag_and_undo_restores_it_exactly(city, qtbot):
    layer = start(city)
    before = layer.gdf.copy()
    city.editing.tool_actions["move"].trigger()
    res = city.canvas.resolution()
    grab = at(city, *BIN)
    QTest.mousePress(city.canvas, LEFT, Qt.KeyboardModifier.NoModifier, grab)
    for step in (10, 30, 60):
        QTest.mouseMove(city.canvas, grab + QPoint(-step, step))
    overlay = city.canvas.grab().toImage()  # the point follows the cursor before it is let go
    assert overlay.pixelColor(grab + QPoint(-60, 60)).name() == BIN_BLUE
    QTest.mouseRelease(city.canvas, LEFT, Qt.KeyboardModifier.NoModifier, grab + QPoint(-60, 60))
    moved = layer.gdf.geometry.iloc[0]
    assert abs(moved.x - (BIN[0] - 60 * res)) <= res and abs(moved.y - (BIN[1] - 60 * res)) <= res
    assert layer.gdf["kind"].tolist() == ["waste"] and city.editing.undo_action.text() == "Undo move point"
    city.editing.undo_action.trigger()
    assert_geodataframe_equal(layer.gdf, before, check_index_type=True)


def test_a_drag_off_the_points_pans_and_moves_nothing(city):
    layer = start(city)
    city.editing.tool_actions["move"].trigger()
    extent = city.canvas.extent()
    QTest.mousePress(city.canvas, LEFT, Qt.KeyboardModifier.NoModifier, at(city, *NEW))
    QTest.mouseMove(city.canvas, at(city, *NEW) + QPoint(40, 0))
    QTest.mouseRelease(city.canvas, LEFT, Qt.KeyboardModifier.NoModifier, at(city, *NEW) + QPoint(40, 0))
    assert city.canvas.extent() != extent and layer.gdf.geometry.iloc[0] == Point(*BIN)
    assert city.editing.session.stack.count() == 0


def test_delete_by_click_and_by_the_delete_key_undo_restores_order_and_attributes(city, qtbot):
    layer = start(city)
    city.editing.tool_actions["add"].trigger()
    others = [(385250.0, 6671950.0), (385650.0, 6671950.0), (385100.0, 6672550.0)]
    for xy in others:
        click(city, *xy)
    before = layer.gdf.copy()
    assert len(before) == 4
    city.editing.tool_actions["delete"].trigger()
    click(city, *BIN)  # the first row
    assert len(layer.gdf) == 3 and layer.gdf["kind"].isna().all()
    wait_render(qtbot, city.canvas)
    assert pixel(city.canvas, *BIN) != BIN_BLUE  # gone from the map
    assert city.editing.undo_action.text() == "Undo delete point"
    city.editing.undo_action.trigger()
    assert_geodataframe_equal(layer.gdf, before, check_index_type=True)
    click(city, 385400.0, 6672500.0)  # nowhere near a point: nothing is deleted
    assert len(layer.gdf) == 4
    city.selection.select(layer, [0, 2])
    QTest.keyClick(city.canvas, Qt.Key.Key_Delete)
    assert len(layer.gdf) == 2 and city.selection.count(layer) == 0
    assert city.editing.undo_action.text() == "Undo delete 2 points"
    city.editing.undo_action.trigger()
    assert_geodataframe_equal(layer.gdf, before, check_index_type=True)


def test_escape_leaves_the_edit_tool(city):
    start(city)
    city.editing.tool_actions["add"].trigger()
    QTest.keyClick(city.canvas, Qt.Key.Key_Escape)
    assert not isinstance(city.canvas.tool, EditTool)
    assert not any(action.isChecked() for action in city.editing.tool_actions.values())


def test_only_point_layers_can_be_edited(city, messages):
    assert start_or_none(city, "park") is None
    assert messages and "Only point layers can be edited" in messages[-1][1] and "park" in messages[-1][1]
    assert [lay.name for lay in city.project.layers] == ["bins", "streets", "park", "zone"]
    assert not city.editing.tool_actions["add"].isEnabled()


def start_or_none(window, name):
    window.panel.setCurrentItem(window.panel.layer_item(name))
    window.editing.start_action.trigger()
    return window.editing.session


def test_save_edits_to_a_geopackage(city, qtbot, tmp_path, monkeypatch):
    layer = start(city)
    city.editing.tool_actions["add"].trigger()
    click(city, *NEW)
    target = tmp_path / "scenario.gpkg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "GeoPackage (*.gpkg)"))
    with qtbot.waitSignal(city.editing.saved, timeout=20000):
        city.editing.save_action.trigger()
    saved = read_layer(target, layer.name)
    assert len(saved) == 2 and saved.crs == layer.gdf.crs
    assert saved.geometry.geom_equals_exact(layer.gdf.geometry.reset_index(drop=True), 1e-6).all()
    assert saved["kind"].iloc[0] == "waste" and saved["kind"].isna().iloc[1]
    assert layer.source is not None and Path(layer.source.path) == target and layer.source.layer == layer.name
    assert not city.editing.session.dirty()
    assert city.editing.stop_editing() and city.editing.session is None  # saved: no question asked


def test_stop_editing_asks_cancel_keep_or_discard(city, monkeypatch):
    answers = []
    monkeypatch.setattr(editing, "ask_unsaved", lambda parent, name: answers.pop(0))
    layer = start(city)
    city.editing.session.add_point(*NEW)
    answers.append("cancel")
    assert not city.editing.stop_editing() and city.editing.session is not None
    answers.append("keep")  # the edited copy stays in the project
    assert city.editing.stop_editing() and city.editing.session is None and len(layer.gdf) == 2
    assert city.project.layers[0] is layer
    start(city, layer.name)
    city.editing.session.add_point(385600.0, 6672000.0)
    answers.append("discard")  # back to how it was when this session started
    assert city.editing.stop_editing() and len(layer.gdf) == 2 and city.project.layers[0] is layer
    copy = start(city, "bins")
    city.editing.session.add_point(*NEW)
    answers.append("discard")  # a copy made by this session and never saved goes again
    assert city.editing.stop_editing() and not answers
    assert all(lay is not copy for lay in city.project.layers) and city.project.layer("bins").visible


def test_edit_a_layer_in_another_crs(city):
    """A layer in longitude/latitude on a map in EPSG:3067: a click adds the point in the layer's CRS."""
    bins = city.project.layer("bins")
    wgs84 = gpd.GeoDataFrame({"kind": ["waste"]}, geometry=[Point(*BIN)], crs=CRS).to_crs("EPSG:4326")
    layer = Layer("bins wgs84", wgs84, None, style=bins.style)
    city.project.layers.insert(0, layer)
    copy = city.editing.start_editing(layer)
    city.editing.tool_actions["add"].trigger()
    click(city, *NEW)
    back = copy.gdf.to_crs(CRS).geometry.iloc[1]
    res = city.canvas.resolution()
    assert copy.gdf.crs == wgs84.crs and abs(back.x - NEW[0]) <= res and abs(back.y - NEW[1]) <= res


def test_screenshot_while_editing(city, qtbot, tmp_path):
    start(city)
    city.editing.tool_actions["add"].trigger()
    for xy in (NEW, (385650.0, 6671950.0), (385100.0, 6672550.0)):
        click(city, *xy)
    wait_render(qtbot, city.canvas)
    shot = tmp_path / "editing.png"
    assert city.grab().save(str(shot)) and shot.stat().st_size > 0
    assert city.editing.toolbar.isVisible() and pixel(city.canvas, 385650.0, 6671950.0) == BIN_BLUE


def test_removing_the_edited_layer_or_opening_another_project_ends_editing(city, qtbot, city_project):
    layer = start(city)
    city.editing.tool_actions["add"].trigger()
    city.panel.remove_layer(layer, confirm=False)
    assert city.editing.session is None and not isinstance(city.canvas.tool, EditTool)
    assert not city.editing.tool_actions["add"].isEnabled()
    start(city)
    city.editing.session.add_point(*NEW)
    city.mark_modified(False)  # (the project's own unsaved-changes prompt is tested with the project actions)
    open_and_wait(qtbot, city, city_project)
    assert city.editing.session is None and [lay.name for lay in city.project.layers][0] == "bins"


def test_a_failed_save_says_why_and_keeps_the_edits(city, qtbot, tmp_path, messages):
    layer = start(city)
    city.editing.session.add_point(*NEW)
    with qtbot.waitSignal(city.editing.saveFailed, timeout=20000):
        city.editing.save_edits(tmp_path / "no such folder" / "scenario.gpkg")
    assert messages[-1][0] == "Cannot save the edits" and "folder does not exist" in messages[-1][1]
    assert layer.source is None and city.editing.session.dirty() and len(layer.gdf) == 2


def test_stop_editing_with_save_writes_geojson_then_stops(city, qtbot, tmp_path, monkeypatch):
    layer = start(city)
    city.editing.session.add_point(*NEW)
    target = tmp_path / "scenario"
    monkeypatch.setattr(editing, "ask_unsaved", lambda parent, name: "save")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "GeoJSON (*.geojson)"))
    with qtbot.waitSignal(city.editing.saved, timeout=20000):
        assert not city.editing.stop_editing()  # it stops once the file is written
    assert city.editing.session is None and layer.source.path == str(target) + ".geojson"
    saved = read_layer(target.with_suffix(".geojson"))
    back = saved.to_crs(CRS).geometry
    assert len(saved) == 2 and back.iloc[0].distance(Point(*BIN)) < 0.01
    assert back.iloc[1].distance(layer.gdf.geometry.iloc[1]) < 0.01


def test_delete_key_on_the_map_deletes_the_selected_points_whatever_the_tool(city):
    layer = start(city)
    city.editing.session.add_point(*NEW)
    city.editing.leave_tool()  # e.g. the Select tool of the map toolbar, or panning
    assert not isinstance(city.canvas.tool, EditTool)
    city.selection.select(layer, [1])
    city.canvas.setFocus()
    QTest.keyClick(city.canvas, Qt.Key.Key_Delete)
    assert len(layer.gdf) == 1 and layer.gdf.geometry.iloc[0] == Point(*BIN)


def _type_in_cell(table, view_row: int, column: str, text: str) -> None:
    """Double-click a cell of the attribute table, type ``text``, press Enter."""
    index = table.model.index(view_row, table.model.column_index(column))
    table.view.scrollTo(index)
    rect = table.view.visualRect(index)
    QTest.mouseClick(table.view.viewport(), LEFT, Qt.KeyboardModifier.NoModifier, rect.center())
    QTest.mouseDClick(table.view.viewport(), LEFT, Qt.KeyboardModifier.NoModifier, rect.center())
    editor = table.view.focusWidget()
    assert editor is not table.view, "the cell did not open for editing"
    editor.selectAll()
    QTest.keyClicks(editor, text)
    QTest.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()  # the view commits the typed value in a queued call


def test_attributes_of_a_new_point_are_typed_in_the_attribute_table(city, qtbot, monkeypatch):
    """While editing, the table's cells take typed values (numbers in the column's type, undoable);
    text that does not fit is told under the table and changes nothing; other tables stay read-only."""
    layer = start(city)
    session = city.editing.session
    session.apply(layer.gdf.assign(capacity_l=[660.0]))  # a numeric column, as real bin layers have
    city.editing.tool_actions["add"].trigger()
    click(city, *NEW)
    assert "attribute table" in city.statusBar().currentMessage()
    table = city.attribute_tables.open(layer)
    _type_in_cell(table, 1, "kind", "glass")
    _type_in_cell(table, 1, "capacity_l", "3 000,5")
    assert layer.gdf["kind"].tolist() == ["waste", "glass"] and layer.gdf["capacity_l"].tolist() == [660.0, 3000.5]
    assert table.model.cell(1, table.model.column_index("capacity_l")) != "NULL" and table.error == ""
    _type_in_cell(table, 1, "capacity_l", "lots")
    assert "'lots' is not a number (column 'capacity_l')" in table.error
    assert layer.gdf["capacity_l"].tolist() == [660.0, 3000.5]
    assert city.editing.undo_action.text() == "Undo edit capacity_l"
    city.editing.undo_action.trigger()  # the refused value left nothing to undo: the number goes
    assert layer.gdf["kind"].tolist() == ["waste", "glass"] and layer.gdf["capacity_l"].isna().tolist() == [False, True]
    assert city.editing.undo_action.text() == "Undo edit kind"
    city.editing.redo_action.trigger()
    assert layer.gdf["capacity_l"].tolist() == [660.0, 3000.5]
    original = city.attribute_tables.open(city.project.layer("bins"))
    index = original.model.index(0, 0)
    assert not original.model.flags(index) & Qt.ItemFlag.ItemIsEditable  # not being edited: read-only
    monkeypatch.setattr(editing, "ask_unsaved", lambda parent, name: "keep")
    assert city.editing.stop_editing()
    assert not table.model.flags(table.model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
