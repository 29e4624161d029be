"""The waste analyses in the window: waste-siting run from its dialog adds its layers and a Results
card with the coverage curve drawn as a chart; the card's Copy text holds the curve's numbers."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
from PySide6.QtCore import Qt
from shapely.geometry import LineString, Point, box

from app.analysis_panel import ResultCard, ResultEntry, entry_text
from layers.layer import Layer, Source
from layers.project import Project
from layers.writers import write_layers
from tests.app.qt_city import CRS, open_and_wait

pytestmark = pytest.mark.usefixtures("isolated_settings")
X0, Y0 = 385_000.0, 6_672_000.0


@pytest.fixture
def street_project(tmp_path):
    """One 1 km street, four homes beside it and one bin at its west end."""
    frames = {
        "homes": gpd.GeoDataFrame({"residents": [5, 10, 10, 30]},
                                  geometry=[box(X0 + x - 5, Y0 + 10, X0 + x + 5, Y0 + 20) for x in (50, 300, 400, 700)],
                                  crs=CRS),
        "bins": gpd.GeoDataFrame({"kind": ["waste_disposal"]}, geometry=[Point(X0, Y0)], crs=CRS),
        "streets": gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 1000, Y0)])], crs=CRS),
    }
    gpkg = write_layers(frames, tmp_path / "street.gpkg")
    roles = {"homes": "buildings", "bins": "waste_bins", "streets": "streets"}
    layers = [Layer(name, None, Source(str(gpkg), name), roles[name]) for name in frames]
    project = Project(layers=layers, crs=pyproj.CRS.from_user_input(CRS), title="Street",
                      view=(X0 - 50, Y0 - 300, X0 + 1050, Y0 + 300))
    return project.save(tmp_path / "street.citydesk")


def test_siting_from_the_dialog_shows_the_coverage_curve(window, qtbot, street_project):
    open_and_wait(qtbot, window, street_project)
    dialog = window.analyses.open_dialog("waste-siting")
    assert dialog.pickers["waste_bins"].currentData().name == "bins"
    with qtbot.waitSignal(window.analyses.resultAdded, timeout=30000) as blocker:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    entry = blocker.args[0]
    assert entry.summary["covered_share_after"] == pytest.approx(1.0)
    assert list(entry.charts) == ["coverage_curve"]
    card = window.analyses.panel.cards[0]
    text = card.headline.text().replace("\u00a0", " ")  # the card keeps numbers and units together
    assert text.startswith("2 new bins would bring") and text.endswith("coverage 9.1 % → 100.0 %")
    chart = card.charts[0]
    assert chart.objectName() == "chart_coverage_curve" and not chart.pixmap().isNull()
    qtbot.waitUntil(chart.isVisible)
    assert chart.width() <= window.analyses.panel.viewport().width()
    names = [layer.name for layer in window.project.layers]
    assert any(name.endswith("proposed_bins") for name in names)
    assert "Coverage against new bins:" in card.text()


def test_a_card_without_charts_has_none(qtbot):
    entry = ResultEntry("t", "coverage", "Coverage", {"covered_share": 0.5}, {}, {})
    card = ResultCard(entry)
    qtbot.addWidget(card)
    assert card.charts == []
    table = pd.DataFrame({"bins_added": [0, 1], "covered_share": [0.1, 0.2]})
    text = entry_text(ResultEntry("t", "x", "X", {}, {}, {}, charts={"curve": table}))
    assert "bins_added\tcovered_share" in text and "1\t0.2" in text
