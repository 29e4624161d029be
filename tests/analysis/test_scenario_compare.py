"""``scenario-compare`` on one street worked out by hand (a home at x and a point at p on the
street are |x - p| + 10 m apart) and on the sample city through ``run_analysis``."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from analysis import run_analysis
from analysis.scenario_compare import scenario_compare
from layers.errors import CityDeskError

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_672_000.0
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "helsinki.gpkg"


def points(xs, y=0.0, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[Point(X0 + x, Y0 + y) for x in xs], crs=CRS)


@pytest.fixture
def street() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 1000, Y0)])], crs=CRS)


@pytest.fixture
def homes() -> gpd.GeoDataFrame:
    return points([50, 320, 600], y=10, residents=[10.0, 20.0, 30.0])


def test_change_by_hand(homes, street):
    baseline = points([0, 600])
    scenario = points([600, 300])  # the bin at 0 removed, one added at 300
    r = scenario_compare(homes, street, baseline, scenario)
    b = r.layers["buildings"]
    np.testing.assert_allclose(b["dist_before_m"], [60, 290, 10])
    np.testing.assert_allclose(b["dist_after_m"], [260, 30, 10])
    assert b["state"].tolist() == ["lost", "gained", "unchanged covered"]
    s = r.summary
    assert s["covered_share_before"] == pytest.approx(40 / 60) and s["covered_share_after"] == pytest.approx(50 / 60)
    assert s["residents_gained"] == 20 and s["residents_lost"] == 10
    assert (s["points_added"], s["points_removed"], s["points_kept"], s["points_moved"]) == (1, 1, 1, 0)
    assert s["max_distance_used_m"] == 100
    p = r.layers["points"]
    # loads: before 0 -> 10 (home 50), 600 -> 50 (homes 320, 600); after 300 -> 30 (50, 320), 600 -> 30
    assert p["status"].tolist() == ["added", "kept", "removed"]
    np.testing.assert_allclose(p["residents_change"], [30, -20, -10])
    np.testing.assert_allclose(p["residents_before"], [0, 50, 10])
    assert p["change_rank"].tolist() == [1, 2, 3]
    assert s["largest_load_increase"] == 30 and s["largest_load_decrease"] == 20


def test_matched_by_id_a_moved_point(homes, street):
    baseline = points([0, 600], bin_id=["a", "b"])
    scenario = points([40, 600], bin_id=["a", "b"])
    r = scenario_compare(homes, street, baseline, scenario)
    p = r.layers["points"].set_index("id")
    assert p.loc["a", "status"] == "moved" and p.loc["b", "status"] == "kept"
    assert r.summary["points_moved"] == 1 and r.summary["points_added"] == 0
    by_position = scenario_compare(homes, street, baseline, scenario, id_field="")
    assert by_position.summary["points_moved"] == 1  # found by name: bin_id
    with pytest.raises(CityDeskError, match="no column 'code'"):
        scenario_compare(homes, street, baseline, scenario, id_field="code")


def test_position_matching_and_purpose_distance(homes, street):
    baseline = points([0, 600])
    scenario = points([600.5, 0.2, 900])
    r = scenario_compare(homes, street, baseline, scenario, purpose="transit_stops")
    assert r.summary["max_distance_used_m"] == 400
    assert (r.summary["points_kept"], r.summary["points_added"], r.summary["points_removed"]) == (2, 1, 0)
    custom = scenario_compare(homes, street, baseline, scenario, purpose="benches", max_distance_m=25)
    assert custom.summary["max_distance_used_m"] == 25


def test_sample_city_scenario():
    layers = {role: gpd.read_file(SAMPLE, layer=role) for role in ("buildings", "streets")}
    bins = gpd.read_file(SAMPLE, layer="waste_bins")
    extra = bins.iloc[:2].copy()
    extra["osm_id"] = ["new1", "new2"]
    extra["geometry"] = extra.geometry.translate(150, 0)
    scenario = pd.concat([bins.iloc[5:], extra], ignore_index=True)
    r = run_analysis("scenario-compare", {**layers, "baseline": bins, "scenario": gpd.GeoDataFrame(scenario)})
    s = r.summary
    assert (s["points_removed"], s["points_added"], s["points_kept"]) == (5, 2, 47)
    state = r.layers["buildings"]["state"]
    w = layers["buildings"]["residents"].fillna(0)
    assert s["residents_gained"] == pytest.approx(w[state == "gained"].sum())
    share_change = s["covered_share_after"] - s["covered_share_before"]
    assert share_change == pytest.approx((s["residents_gained"] - s["residents_lost"]) / s["residents_total"])
    p = r.layers["points"]
    assert p["residents_change"].abs().is_monotonic_decreasing
    assert p["residents_after"].sum() == pytest.approx(p["residents_before"].sum(), rel=0.05)
