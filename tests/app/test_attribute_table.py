"""The attribute table driven with qtbot offscreen: cells and NULLs, sorting by a header click,
the filter bar, the selection in step with the map both ways, "Show selected only", zoom to
selection, export of the selection, new data after an edit, and a million-row layer."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

import app.attribute_table as attribute_table
from app.table_model import NULL_TEXT, runs, view_order
from layers.layer import Layer
from layers.project import Project
from tests.app.qt_city import wait_render

CRS = "EPSG:3067"
# Eight bins; the layer is in WGS84 while the project is in EPSG:3067 (reprojected on the fly).
NAMES = ["Esplanadi", "aleksanterinkatu", None, "Bulevardi", "<b>Kaivokatu</b>", "Mannerheimintie", "esplanadi",
         "Kamppi"]
FILL = [55.0, 10.0, np.nan, 90.0, 0.0, 75.5, 60.0, np.nan]
KIND = ["waste_basket", "recycling", "waste_basket", "recycling", "waste_basket", "bench", None, "waste_basket"]
LEVELS = [3, 1, 4, 1, 5, 9, 2, 6]
FULL = [True, False, True, False, False, True, False, True]
LON = [24.940, 24.945, 24.950, 24.955, 24.960, 24.965, 24.970, 24.975]
LAT = [60.165, 60.166, 60.167, 60.168, 60.169, 60.170, 60.171, 60.172]


def bins_layer() -> Layer:
    gdf = gpd.GeoDataFrame({"id": np.arange(1, 9), "name": pd.array(NAMES, dtype="str"), "fill_pct": FILL,
                            "kind": KIND, "levels": LEVELS, "full": FULL,
                            "checked": pd.to_datetime(["2024-05-01"] * 7 + [None])},
                           geometry=shapely.points(LON, LAT), crs="EPSG:4326")
    return Layer("Bins", gdf, role="waste_bins")


@pytest.fixture
def shown(window, qtbot):
    """The window showing a project with the bins layer, and that layer."""
    layer = bins_layer()
    project = Project(layers=[layer], crs=pyproj.CRS.from_user_input(CRS), title="Bins")
    window.show_project(project)
    wait_render(qtbot, window.canvas)
    return window, layer


@pytest.fixture
def table(shown, qtbot):
    window, layer = shown
    t = window.open_attribute_table(layer)
    qtbot.waitUntil(lambda: t.isVisible())
    return t


@pytest.fixture
def messages(monkeypatch):
    shown_boxes = []

    def record(kind):
        def box(parent, title, text, *args, **kwargs):
            shown_boxes.append((kind, title, text))
            return QMessageBox.StandardButton.Ok

        return box

    for kind in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, record(kind))
    return shown_boxes


def column(t, name: str) -> list[str]:
    c = t.model.column_index(name)
    return [t.model.cell(r, c) for r in range(t.model.rowCount())]


def click_header(qtbot, t, name: str) -> None:
    header = t.view.horizontalHeader()
    i = t.model.column_index(name)
    x = header.sectionViewportPosition(i) + header.sectionSize(i) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def click_row(qtbot, t, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    rect = t.view.visualRect(t.model.index(row, 1))
    qtbot.mouseClick(t.view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def type_filter(qtbot, t, text: str) -> None:
    t.filter_edit.setFocus()
    t.filter_edit.selectAll()  # typing replaces the old filter (clearing the box would show all at once)
    qtbot.keyClicks(t.filter_edit, text)
    qtbot.keyClick(t.filter_edit, Qt.Key.Key_Return)


# ----------------------------------------------------------------------------------- the model

def test_model_rows_columns_cells_and_nulls(table):
    m = table.model
    assert (m.rowCount(), m.columnCount()) == (8, 7)  # geometry is not a column
    assert [m.headerData(i, Qt.Orientation.Horizontal) for i in range(7)] == \
        ["id", "name", "fill_pct", "kind", "levels", "full", "checked"]
    assert column(table, "fill_pct") == ["55", "10", NULL_TEXT, "90", "0", "75.5", "60", NULL_TEXT]
    assert column(table, "full")[:2] == ["true", "false"]
    assert column(table, "name")[2] == NULL_TEXT and column(table, "kind")[6] == NULL_TEXT
    assert column(table, "checked")[0] == "2024-05-01" and column(table, "checked")[7] == NULL_TEXT
    null = m.index(2, m.column_index("fill_pct"))
    assert m.data(null, Qt.ItemDataRole.ForegroundRole).color().name() == "#9a9a9a"
    assert m.data(m.index(0, 2), Qt.ItemDataRole.ForegroundRole) is None
    right = int(m.data(m.index(0, 2), Qt.ItemDataRole.TextAlignmentRole))
    assert right & int(Qt.AlignmentFlag.AlignRight)
    assert not int(m.data(m.index(0, 1), Qt.ItemDataRole.TextAlignmentRole)) & int(Qt.AlignmentFlag.AlignRight)
    assert m.headerData(7, Qt.Orientation.Vertical) == "8"  # features are numbered from 1


def test_text_is_shown_as_plain_text(table):
    m = table.model
    cell = m.index(4, m.column_index("name"))
    assert m.data(cell) == "<b>Kaivokatu</b>"  # the delegate draws display text literally
    tip = m.data(m.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert tip is None  # short values need no tooltip
    header_tip = m.headerData(1, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "name" in header_tip and "text" in header_tip


def test_long_untrusted_text_gets_an_escaped_tooltip(qtbot):
    from app.table_model import AttributeTableModel

    long = "<img src=x onerror=alert(1)> " + "word " * 20 + "\nsecond line"
    layer = Layer("Reports", gpd.GeoDataFrame({"description": pd.array([long], dtype="str")},
                                              geometry=shapely.points([0.0], [0.0]), crs=CRS))
    m = AttributeTableModel(layer)
    tip = m.data(m.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert "&lt;img" in tip and "<img" not in tip and "<br>second line" in tip
    assert m.data(m.index(0, 0)).startswith("<img src=x")  # shown literally in the cell, on one line
    assert "\n" not in m.data(m.index(0, 0))


def test_view_order_and_runs_are_plain_numpy():
    key = np.array([3.0, np.nan, 1.0, 2.0, 1.0])
    assert view_order(5, key=key).tolist() == [2, 4, 3, 0, 1]  # nulls last, ties in layer order
    assert view_order(5, key=key, ascending=False).tolist() == [0, 3, 2, 4, 1]
    mask = np.array([True, True, False, True, True])
    assert view_order(5, mask, np.array([1, 3, 4])).tolist() == [1, 3, 4]
    starts, ends = runs(np.array([0, 1, 2, 5, 7, 8]))
    assert starts.tolist() == [0, 5, 7] and ends.tolist() == [2, 5, 8]


# ------------------------------------------------------------------------------------- sorting

def test_header_click_sorts_ascending_then_descending_nulls_last(table, qtbot):
    click_header(qtbot, table, "fill_pct")
    assert column(table, "fill_pct") == ["0", "10", "55", "60", "75.5", "90", NULL_TEXT, NULL_TEXT]
    click_header(qtbot, table, "fill_pct")
    assert column(table, "fill_pct") == ["90", "75.5", "60", "55", "10", "0", NULL_TEXT, NULL_TEXT]
    assert table.view.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder


def test_text_sorts_without_regard_to_case(table, qtbot):
    table.sort("name")
    assert column(table, "name") == ["<b>Kaivokatu</b>", "aleksanterinkatu", "Bulevardi", "Esplanadi", "esplanadi",
                                     "Kamppi", "Mannerheimintie", NULL_TEXT]
    table.sort("name", ascending=False)
    assert column(table, "name")[:2] == ["Mannerheimintie", "Kamppi"]
    table.sort(None)
    assert column(table, "id") == [str(i) for i in range(1, 9)]


# ------------------------------------------------------------------------------------ filtering

def test_filter_bar_shows_matching_features_and_count(table, qtbot):
    with qtbot.waitSignal(table.rowsChanged):
        type_filter(qtbot, table, 'kind == "waste_basket" and fill_pct > 20')
    assert column(table, "id") == ["1"]
    assert table.count_label.text().startswith("1 of 8 features")
    assert not table.error
    type_filter(qtbot, table, "fill_pct is null or full and levels >= 5")
    assert column(table, "id") == ["3", "6", "8"]
    table.sort("levels", ascending=False)  # the sort applies to the filtered rows
    assert column(table, "id") == ["6", "8", "3"]
    table.filter_edit.clear()  # the clear button empties the text: every feature again
    assert table.model.rowCount() == 8


def test_bad_filter_shows_where_and_leaves_the_table(table, qtbot):
    type_filter(qtbot, table, "fill_pct > 50")
    before = table.model.order.copy()
    type_filter(qtbot, table, "fill_pc > 50")
    assert table.error_box.isVisible()
    assert "Unknown column 'fill_pc'" in table.error and "fill_pct" in table.error
    assert table.error.splitlines()[-1].strip() == "^"
    assert table.error_label.textFormat() == Qt.TextFormat.PlainText
    assert np.array_equal(table.model.order, before)
    assert table.count_label.text().startswith("4 of 8")
    type_filter(qtbot, table, "kind > 3")
    assert "cannot compare the column 'kind' (text) with the number 3" in table.error.lower()
    type_filter(qtbot, table, "levels > 3")  # a good one hides the message again
    assert not table.error_box.isVisible()
    assert table.model.rowCount() == 4


# ------------------------------------------------------------------------------------ selection

def test_selecting_rows_selects_features(shown, table, qtbot):
    window, layer = shown
    table.sort("fill_pct", ascending=False)  # view rows: ids 4, 6, 7, 1, 2, 5, 3, 8
    with qtbot.waitSignal(window.selection.changed):
        click_row(qtbot, table, 0)
    assert window.selection.rows(layer).tolist() == [3]  # id 4 is layer row 3
    click_row(qtbot, table, 2, Qt.KeyboardModifier.ControlModifier)
    click_row(qtbot, table, 7, Qt.KeyboardModifier.ControlModifier)
    assert window.selection.rows(layer).tolist() == [3, 6, 7]
    assert "3 selected" in table.count_label.text()


def test_ctrl_a_selects_every_feature(shown, table, qtbot):
    window, layer = shown
    table.view.setFocus()
    qtbot.keyClick(table.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert window.selection.count(layer) == 8


def test_map_selection_selects_rows_as_ranges(shown, table, qtbot):
    window, layer = shown
    window.selection.select(layer, [0, 1, 2, 5])
    model = table.view.selectionModel()
    assert sorted(i.row() for i in model.selectedRows()) == [0, 1, 2, 5]
    assert len(model.selection()) == 2  # two runs: 0-2 and 5
    assert window.selection.rows(layer).tolist() == [0, 1, 2, 5]  # no echo back
    table.sort("id", ascending=False)  # the selection follows the rows when they move
    assert sorted(table.model.layer_rows([i.row() for i in model.selectedRows()]).tolist()) == [0, 1, 2, 5]
    window.selection.clear(layer)
    assert not model.hasSelection()


def test_show_selected_only_follows_the_selection(shown, table, qtbot):
    window, layer = shown
    window.selection.select(layer, [1, 4])
    qtbot.mouseClick(table.selected_only_button, Qt.MouseButton.LeftButton)
    assert column(table, "id") == ["2", "5"]
    window.selection.select(layer, [6], "add")
    assert column(table, "id") == ["2", "5", "7"]
    qtbot.mouseClick(table.selected_only_button, Qt.MouseButton.LeftButton)
    assert table.model.rowCount() == 8


def test_zoom_to_selection_shows_the_selected_features(shown, table, qtbot):
    window, layer = shown
    window.selection.select(layer, [0, 1])
    before = window.canvas.extent()
    qtbot.mouseClick(table.zoom_button, Qt.MouseButton.LeftButton)
    xmin, ymin, xmax, ymax = window.canvas.extent()
    assert (xmax - xmin) < (before[2] - before[0]) / 2  # zoomed in
    to_map = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    for lon, lat in zip(LON[:2], LAT[:2], strict=True):
        x, y = to_map.transform(lon, lat)
        assert xmin < x < xmax and ymin < y < ymax
    far_x, _ = to_map.transform(LON[7], LAT[7])
    assert not xmin < far_x < xmax


def test_export_selection_writes_exactly_the_selected_rows(shown, table, qtbot, tmp_path, monkeypatch):
    window, layer = shown
    target = tmp_path / "picked"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "GeoPackage (*.gpkg)"))
    window.selection.select(layer, [1, 4, 6])
    with qtbot.waitSignal(table.exported, timeout=20000) as done:
        qtbot.mouseClick(table.export_button, Qt.MouseButton.LeftButton)
    assert done.args == [str(tmp_path / "picked.gpkg")]
    written = gpd.read_file(tmp_path / "picked.gpkg")
    assert written["id"].tolist() == [2, 5, 7]
    assert written["name"].tolist() == ["aleksanterinkatu", "<b>Kaivokatu</b>", "esplanadi"]
    assert written.crs.to_epsg() == 4326


def test_export_failure_is_a_readable_dialog(shown, table, qtbot, tmp_path, monkeypatch, messages):
    window, layer = shown
    window.selection.select(layer, [0])
    with qtbot.waitSignal(table.exportFailed, timeout=20000):
        table.export_selection(str(tmp_path / "no_such_folder" / "x.gpkg"))
    kind, title, text = messages[-1]
    assert kind == "warning" and "folder does not exist" in text and "Traceback" not in text


def test_export_without_selection_says_so(table, messages):
    assert not table.export_selection()
    assert messages and "Select features" in messages[-1][2]


# ------------------------------------------------------------------------------ window and data

def test_f6_opens_the_current_layers_table_and_several_can_be_open(shown, qtbot):
    window, layer = shown
    other = Layer("Other", bins_layer().gdf.iloc[:3].copy())
    window.project.layers.append(other)
    window.panel.set_layers(window.project.layers)
    window.panel.setCurrentItem(window.panel.topLevelItem(0))
    window.attribute_tables.action.trigger()
    first = window.attribute_tables.table(layer)
    assert first is not None and first.model.rowCount() == 8
    assert window.open_attribute_table(other).model.rowCount() == 3
    assert window.open_attribute_table(layer) is first  # brought forward, not opened twice
    assert len(window.attribute_tables.tables()) == 2
    window.attribute_tables.close_all()
    assert window.attribute_tables.tables() == []
    assert window.attribute_tables.action.shortcut().toString() == "F6"
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert "Layer" in menus


def test_new_data_after_an_edit_keeps_filter_and_sort(shown, table, qtbot):
    window, layer = shown
    type_filter(qtbot, table, "levels >= 3")
    table.sort("levels", ascending=False)
    gdf = layer.gdf.copy()
    gdf.loc[gdf.index[1], "levels"] = 7
    layer.gdf = gdf
    table.refresh()
    assert column(table, "levels") == ["9", "7", "6", "5", "4", "3"]
    layer.gdf = gdf.iloc[:4].copy()  # rows removed: the window notices on the next render
    window.canvas.refresh()
    qtbot.waitUntil(lambda: table.model.total == 4, timeout=10000)
    assert column(table, "levels") == ["7", "4", "3"]


def test_new_data_without_the_filtered_column_drops_the_filter_and_says_why(shown, table, qtbot):
    _window, layer = shown
    type_filter(qtbot, table, "levels >= 3")
    table.sort("levels")
    layer.gdf = layer.gdf.drop(columns=["levels"])
    table.refresh()
    assert table.model.rowCount() == 8 and table.expression is None and table.sorting is None
    assert "unknown column 'levels'" in table.error.lower()
    assert table.view.horizontalHeader().sortIndicatorSection() == -1


def test_closing_the_project_closes_its_tables(shown, table, qtbot):
    window, _layer = shown
    window.show_project(Project(layers=[bins_layer()], crs=pyproj.CRS.from_user_input(CRS), title="Other"))
    assert window.attribute_tables.tables() == []


def test_a_million_rows_open_filter_and_sort_in_a_worker(window, qtbot):
    n = 1_000_000
    rng = np.random.default_rng(1)
    gdf = gpd.GeoDataFrame({"id": np.arange(n), "value": rng.random(n),
                            "kind": pd.Categorical.from_codes(rng.integers(0, 3, n), ["a", "b", "c"])},
                           geometry=shapely.points(rng.random(n), rng.random(n)), crs=CRS)
    layer = Layer("Big", gdf)
    assert n >= attribute_table.ASYNC_ROWS  # so filter and sort run in a worker
    t = window.open_attribute_table(layer)
    assert t.model.rowCount() == n
    assert t.model.cell(n - 1, 0) == str(n - 1)
    assert t.model.data(t.model.index(n - 1, 1)) == t.model.cell(n - 1, 1)
    t.view.scrollToBottom()
    with qtbot.waitSignal(t.rowsChanged, timeout=10000):
        assert t.apply_filter("value < 0.5 and kind = 'b'")
        assert t.busy.isVisible()  # in a worker
    expected = np.flatnonzero((gdf["value"].to_numpy() < 0.5) & (gdf["kind"] == "b").to_numpy())
    assert np.array_equal(t.model.order, expected)
    with qtbot.waitSignal(t.rowsChanged, timeout=10000):
        t.sort("value")
    values = gdf["value"].to_numpy()[t.model.order]
    assert np.all(np.diff(values) >= 0)
    window.selection.select(layer, expected[:100_000:2])
    assert len(t.view.selectionModel().selection()) > 1000
