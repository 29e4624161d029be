"""A planner's day on the sample city, through the real main window (offscreen): open the sample
project, toggle and reorder layers, restyle buildings as graduated, filter the attribute table,
select on the map and see the table follow, run an analysis from its dialog, add and undo a
scenario point, save the project and reopen it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import shapely
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from layers.project import load_project

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "helsinki.citydesk"


def _open_sample(window, qtbot):
    with qtbot.waitSignal(window.projectShown, timeout=30000):
        window.open_project(SAMPLE)
    qtbot.waitUntil(lambda: not window.canvas.is_rendering(), timeout=30000)


def _click(window, x: float, y: float, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    pos = window.canvas.to_widget(x, y)
    QTest.mouseClick(window.canvas, Qt.MouseButton.LeftButton, modifier, QPoint(round(pos.x()), round(pos.y())))


def test_a_planners_day_on_the_sample_city(window, qtbot, tmp_path: Path):
    _open_sample(window, qtbot)
    project, panel = window.project, window.panel
    assert window.windowTitle().startswith("Central Helsinki")
    buildings = project.layer("Buildings")

    # toggle and reorder
    panel.set_layer_visible("Benches", True)
    assert project.layer("Benches").visible
    green = project.layers.index(project.layer("Green spaces"))
    panel.move_layer(green, 0)
    assert project.layers[0].name == "Green spaces" and window.canvas.layers is project.layers
    assert window.modified and window.windowTitle().startswith("*")

    # graduated style, 4 equal-interval classes of residents
    panel.set_style(buildings, replace(buildings.style, kind="graduated", field="residents",
                                       scheme="equal_interval", classes=4))
    assert len(window._legend(buildings)) == 4

    # attribute table, filtered
    table = window.attribute_tables.open(buildings)
    assert table.apply_filter("residents > 50 and use != 'religious'")
    expected = int(((buildings.gdf["residents"] > 50) & (buildings.gdf["use"] != "religious")).sum())
    assert table.model.rowCount() == expected > 0
    assert not table.apply_filter("residents >")  # a message, the table keeps its rows
    assert table.model.rowCount() == expected

    # select a building on the map with the select tool: the table follows
    panel.setCurrentItem(panel.layer_item("Buildings"))
    project.layer("Green spaces").visible = False
    window.canvas.refresh()
    target = int(np.argmax(buildings.gdf["residents"].to_numpy()))  # a big residential block
    point = shapely.point_on_surface(buildings.gdf.geometry.to_crs(project.crs).iloc[target])
    window.canvas.zoom_to_layer(buildings)
    window.map_tools.use("select")
    _click(window, point.x, point.y)
    assert target in window.selection.rows(buildings)
    table.apply_filter("")
    qtbot.waitUntil(lambda: target in table.model.layer_rows(table.selected_view_rows()), timeout=5000)

    # run an analysis from its dialog (prefilled with the project's saved settings)
    saved = next(run for run in project.analyses if run.analysis == "coverage")
    dialog = window.analyses.open_dialog("coverage", saved)
    request = dialog.checked()
    dialog.close()
    before = len(project.layers)
    with qtbot.waitSignal(window.analyses.resultAdded, timeout=60000):
        window.analyses.run(request)
    added = project.layers[: len(project.layers) - before]
    assert any("covered" in layer.gdf.columns for layer in added)

    # add a scenario waste bin and undo it
    copy = window.editing.start_editing(project.layer("Waste bins"))
    n = len(copy.gdf)
    window.editing.use_tool("add")
    cx, cy = (np.array(window.canvas.extent()[:2]) + np.array(window.canvas.extent()[2:])) / 2
    _click(window, cx, cy)
    assert len(copy.gdf) == n + 1
    window.editing.session.stack.undo()
    assert len(copy.gdf) == n
    window.editing.session.stack.redo()
    assert len(copy.gdf) == n + 1

    # save and reopen: layers, order, styles, the analysis result and the scenario copy come back
    path = tmp_path / "my_helsinki.citydesk"
    with qtbot.waitSignal(window.project_actions.saved, timeout=60000):
        window.project_actions.save_to(path)
    assert not window.modified
    reopened = load_project(path)
    assert reopened.warnings == []
    assert [lay.name for lay in reopened.layers] == [lay.name for lay in project.layers]
    assert reopened.layer("Buildings").style.kind == "graduated"
    assert len(reopened.layer(copy.name).gdf) == n + 1
    assert any("covered" in reopened.layer(lay.name).gdf.columns for lay in added)
