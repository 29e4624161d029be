"""The Analysis menu and its generated dialogs, driven in the real window: layer pickers filtered
by geometry, spin boxes with units and bounds, a run from the dialog that adds result layers and
key figures, saved settings, cancel, and an error."""

from __future__ import annotations

import threading
import time

import geopandas as gpd
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QLineEdit

import analysis.runner as runner
from analysis.registry import analyses
from app.analysis_dialog import AnalysisDialog
from layers.errors import CityDeskError
from layers.layer import Layer
from layers.project import AnalysisRun, load_project
from tests.app.qt_city import CRS, open_and_wait, wait_render

pytestmark = pytest.mark.usefixtures("isolated_settings")  # recent projects and autosaves stay in tmp_path



def menu_action(window, object_name):
    window.analyses.fill_menu()
    return next(a for a in window.analyses.menu.actions() if a.objectName() == object_name)


def open_dialog(window, analysis_id="coverage") -> AnalysisDialog:
    menu_action(window, f"analysis_{analysis_id}").trigger()
    dialog = window.analyses.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def choose(combo, text) -> None:
    index = combo.findText(text)
    assert index >= 0, (text, items(combo))
    combo.setCurrentIndex(index)


def set_number(qtbot, spin, text) -> None:
    """Type a number into a spin box as a user would."""
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    spin.interpretText()


def run_and_wait(qtbot, window, dialog):
    with qtbot.waitSignal(window.analyses.resultAdded, timeout=30000) as blocker:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_the_menu_lists_every_registered_analysis(window, qtbot, city_project):
    window.analyses.fill_menu()
    assert all(not a.isEnabled() for a in window.analyses.menu.actions() if a.objectName().startswith("analysis_"))
    open_and_wait(qtbot, window, city_project)
    window.analyses.fill_menu()
    listed = {a.objectName().removeprefix("analysis_"): a for a in window.analyses.menu.actions()
              if a.objectName().startswith("analysis_")}
    assert set(listed) == set(analyses()) and len(listed) >= 2
    for analysis_id, action in listed.items():
        assert action.isEnabled() and action.text() == f"{analyses()[analysis_id].title}…"
    titles = [m.title() for m in (a.menu() for a in window.menuBar().actions()) if m is not None]
    assert "&Analysis" in titles


def test_the_coverage_dialog_is_generated_from_its_declaration(window, qtbot, homes_project):
    open_and_wait(qtbot, window, homes_project)
    dialog = open_dialog(window)
    assert dialog.windowTitle() == "Coverage (straight-line distance)"
    buildings, targets = dialog.pickers["buildings"], dialog.pickers["targets"]
    assert items(buildings) == ["homes", "bins", "park", "zone"]  # polygons or points: no streets
    assert items(targets) == ["homes", "bins", "streets", "park", "zone"]
    assert buildings.currentText() == "homes"  # the layer whose role is 'buildings'
    assert targets.currentText() == "bins"  # a layer not already taken
    distance = dialog.editors["max_distance_m"]
    assert isinstance(distance, QDoubleSpinBox)
    assert (distance.suffix(), distance.minimum(), distance.maximum(), distance.value()) == (" m", 0, 100_000, 300)
    area = dialog.editors["min_target_area_m2"]
    assert (area.suffix(), area.maximum(), area.value()) == (" m²", 1e9, 0)
    field = dialog.editors["population_field"]
    assert isinstance(field, QLineEdit) and field.text() == ""
    assert distance.toolTip() == "straight-line distance that counts as covered"
    assert dialog.title_edit.text() == "Coverage (straight-line distance)"
    assert not dialog.saved_combo.isEnabled()  # the test city has no saved settings
    dialog.reject()


def test_run_coverage_from_its_dialog(window, qtbot, homes_project):
    open_and_wait(qtbot, window, homes_project)
    dialog = open_dialog(window)
    choose(dialog.pickers["targets"], "park")
    set_number(qtbot, dialog.editors["max_distance_m"], "300")
    dialog.title_edit.setText("Homes within 300 m of the park")
    entry = run_and_wait(qtbot, window, dialog)
    wait_render(qtbot, window.canvas)

    names = [lay.name for lay in window.project.layers]
    assert names[:2] == ["Homes within 300 m of the park — buildings", "Homes within 300 m of the park — targets"]
    result = window.project.layers[0]
    assert result.gdf["covered"].tolist() == [True, True, False, False]
    assert result.source is None and result.role == "buildings" and result.style.field == "covered"
    assert window.project.layers[1].style.stroke_width >= 2  # the park that counted, outlined
    legend = window.panel.layer_item(result.name)
    assert sorted(legend.child(i).text(0) for i in range(legend.childCount())) == ["covered", "not covered"]
    assert window.modified and window.windowTitle().startswith("*")
    assert window.project.analyses == [AnalysisRun("coverage", "Homes within 300 m of the park",
                                                   {"buildings": "homes", "targets": "park"},
                                                   {"max_distance_m": 300.0, "min_target_area_m2": 0.0,
                                                    "population_field": ""})]
    # the key figures: 10 + 20 of 100 residents
    assert entry.summary["covered_share"] == pytest.approx(0.3)
    card = window.analyses.panel.cards[0]
    assert window.analyses.dock.isVisible()
    assert card.figure_labels["Residents covered"].text() == "30.0 %"
    assert card.figure_labels["Residents not covered"].text() == "70"
    assert card.headline.text().replace("\u00a0", " ").startswith(  # the headline does not break numbers
        "30.0 % of residents live within 300 m (straight line) of a target; 70 do not")
    qtbot.mouseClick(card.copy_button, Qt.MouseButton.LeftButton)
    text = QApplication.clipboard().text()
    for line in ("Residents covered: 30.0 %", "Max distance: 300 m", "buildings: homes", "targets: park",
                 "Homes within 300 m of the park — buildings"):
        assert line in text

    # the same settings again: a second entry and new layer names, but the project keeps them once
    dialog = window.analyses.open_dialog("coverage", window.project.analyses[0])
    run_and_wait(qtbot, window, dialog)
    assert len(window.analyses.panel.cards) == 2 and len(window.project.analyses) == 1
    assert window.project.layers[0].name == "Homes within 300 m of the park — buildings (2)"


def test_saved_settings_prefill_the_dialog(window, qtbot, homes_project):
    project = load_project(homes_project)
    project.analyses = [AnalysisRun("coverage", "Park within 120 m", {"buildings": "homes", "targets": "park"},
                                    {"max_distance_m": 120}),
                        AnalysisRun("coverage", "Bad distance", {"targets": "zone"}, {"max_distance_m": "far"})]
    project.save(homes_project)
    open_and_wait(qtbot, window, homes_project)
    action = next(a for a in window.analyses.menu.actions() if a.text() == "Park within 120 m…")
    action.trigger()
    dialog = window.analyses.dialog
    assert dialog.saved_combo.isEnabled() and dialog.saved_combo.currentText() == "Park within 120 m"
    assert dialog.title_edit.text() == "Park within 120 m"
    assert dialog.pickers["targets"].currentText() == "park" and dialog.editors["max_distance_m"].value() == 120
    dialog.saved_combo.setCurrentIndex(0)  # back to the defaults
    assert dialog.editors["max_distance_m"].value() == 300 and not dialog.message.isVisible()
    dialog.saved_combo.setCurrentIndex(2)
    assert dialog.pickers["targets"].currentText() == "zone"
    assert dialog.message.isVisible() and "max_distance_m" in dialog.message.text()
    assert "not a valid number" in dialog.message.text()
    dialog.reject()


def test_a_role_no_layer_fits_is_explained(qtbot, city_project):
    project = load_project(city_project)
    lines_and_points = [project.layer("streets"), project.layer("bins")]
    dialog = AnalysisDialog(analyses()["population-from-grid"], lines_and_points)
    qtbot.addWidget(dialog)
    assert dialog.pickers["buildings"].count() == 0
    assert not dialog.run_button.isEnabled() and "polygon" in dialog.message.text()
    with pytest.raises(CityDeskError, match="Choose a layer for 'buildings'"):
        dialog.checked()


def test_cancel_a_long_analysis(window, qtbot, homes_project, monkeypatch):
    open_and_wait(qtbot, window, homes_project)
    started, stopped = threading.Event(), threading.Event()

    def slow(analysis_id, layers, params=None, *, feedback=None, names=None):
        started.set()
        try:
            while True:
                feedback.check_cancelled()
                time.sleep(0.005)
        finally:
            stopped.set()

    monkeypatch.setattr(runner, "run_analysis", slow)
    before = list(window.project.layers)
    dialog = open_dialog(window)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(started.is_set, timeout=10000)
    assert window.cancel_button.isVisible() and window.progress.isVisible()
    with qtbot.waitSignal(window.canvas.renderFinished, timeout=20000):  # the map still answers
        window.canvas.zoom_by(2.0)
    with qtbot.waitSignal(window.taskFinished, timeout=10000):
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert stopped.is_set()
    assert window.project.layers == before and not window.modified and window.project.analyses == []
    assert not window.cancel_button.isVisible() and window.analyses.panel is None

    monkeypatch.undo()  # the window is still usable: the next run works
    dialog = open_dialog(window)
    choose(dialog.pickers["targets"], "park")
    run_and_wait(qtbot, window, dialog)
    assert len(window.project.layers) == len(before) + 2


def test_an_empty_layer_gives_a_readable_error(window, qtbot, homes_project, messages):
    open_and_wait(qtbot, window, homes_project)
    window.project.layers.insert(0, Layer("nothing here", gpd.GeoDataFrame(geometry=[], crs=CRS)))
    before = list(window.project.layers)
    dialog = open_dialog(window)
    assert dialog.pickers["buildings"].currentText() == "homes"  # an empty layer is never preselected
    choose(dialog.pickers["buildings"], "nothing here (no features)")
    with qtbot.waitSignal(window.taskFinished, timeout=10000):
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert len(messages) == 1
    kind, title, text = messages[0]
    assert kind == "warning" and "could not run" in title
    assert "nothing here" in text and "empty" in text and "Traceback" not in text
    assert window.project.layers == before and window.isVisible()


def test_every_parameter_type_and_an_optional_role(qtbot, city_project):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox

    from analysis.params import Param, Role
    from analysis.registry import Analysis

    spec = Analysis(
        id="made-up", title="Made up", description="Every kind of input.",
        roles=(Role("buildings", ("polygon",)), Role("barriers", ("line",), required=False, help="what blocks")),
        params=(Param("mode", "choice", "fast", "how", choices=("fast", "exact")),
                Param("rounds", "int", 3, "how often", "times", 1, 10),
                Param("weighted", "bool", True, "weigh by residents"),
                Param("label", "str", "x", "a name")),
        run=lambda **kwargs: None)
    dialog = AnalysisDialog(spec, load_project(city_project).layers)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    barriers = dialog.pickers["barriers"]
    assert items(barriers) == ["(none)", "streets"] and barriers.currentText() == "(none)"
    mode, rounds = dialog.editors["mode"], dialog.editors["rounds"]
    assert isinstance(mode, QComboBox) and items(mode) == ["fast", "exact"]
    assert isinstance(rounds, QSpinBox) and (rounds.minimum(), rounds.maximum(), rounds.suffix()) == (1, 10, " times")
    assert isinstance(dialog.editors["weighted"], QCheckBox) and dialog.editors["weighted"].isChecked()
    mode.setCurrentIndex(1)
    weighted = dialog.editors["weighted"]
    qtbot.mouseClick(weighted, Qt.MouseButton.LeftButton, pos=QPoint(6, weighted.height() // 2))  # the box
    request = dialog.checked()
    assert set(request.layers) == {"buildings"} and request.layers["buildings"].name == "park"
    assert request.run.params == {"mode": "exact", "rounds": 3, "weighted": False, "label": "x"}
    choose(barriers, "streets")
    assert dialog.checked().run.layers == {"buildings": "park", "barriers": "streets"}


def test_results_are_saved_with_the_project_and_come_back(window, qtbot, homes_project, tmp_path):
    open_and_wait(qtbot, window, homes_project)
    dialog = open_dialog(window)
    choose(dialog.pickers["targets"], "park")
    dialog.title_edit.setText("Homes near the park")
    run_and_wait(qtbot, window, dialog)
    assert [r["title"] for r in window.project.results] == ["Homes near the park"]
    saved = tmp_path / "with_results.citydesk"
    with qtbot.waitSignal(window.project_actions.saved, timeout=60000):
        window.project_actions.save_to(saved)

    open_and_wait(qtbot, window, homes_project)  # another project: its own (empty) results
    assert window.analyses.panel.cards == []
    open_and_wait(qtbot, window, saved)
    cards = window.analyses.panel.cards
    assert len(cards) == 1 and window.analyses.dock.isVisible() and not window.modified
    assert cards[0].headline.text().replace("\u00a0", " ").startswith("30.0 % of residents live within 300 m")
    assert cards[0].entry.inputs == {"buildings": "homes", "targets": "park"}
    assert cards[0].entry.layers == ["Homes near the park — buildings", "Homes near the park — targets"]

    qtbot.mouseClick(cards[0].remove_button, Qt.MouseButton.LeftButton)  # removing a card is a change to save
    assert window.project.results == [] and window.modified


def test_pickers_prefer_the_layer_an_analysis_can_read():
    """A timetable role starts on the stops read from a GTFS feed (not a copy without timetable);
    a scenario's baseline starts on a bin layer."""
    from analysis.registry import get
    from app.analysis_dialog import default_layer

    def points(name, role="other", **attrs):
        gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0.0], [0.0]), crs=CRS)
        gdf.attrs.update(attrs)
        return Layer(name, gdf, None, role)

    copy, feed = points("HSL stops (copy)", "transit_stops"), points("HSL feed", "transit_stops", gtfs_path="f.zip")
    gtfs = next(r for r in get("ptal").roles if r.name == "gtfs")
    assert default_layer(gtfs, [copy, feed], []) is feed
    stops, bins = points("Stops", "transit_stops"), points("Bins", "waste_bins")
    baseline = next(r for r in get("scenario-compare").roles if r.name == "baseline")
    assert default_layer(baseline, [stops, bins], []) is bins
