"""``waste-coverage`` on a street whose walking distances are worked out by hand, and on the
sample city through ``run_analysis``.

The hand-made street runs along y = 0 from x = 0 to 1000 m; homes stand 10 m beside it (snap leg
10 m), bins on it (snap leg 0). A home at x and a bin at b are |x - b| + 10 m apart."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from analysis import run_analysis
from analysis.waste_coverage import waste_coverage
from layers.errors import CityDeskError
from layers.feedback import Cancelled

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
    """Homes at x = 50, 120, 400, 900 with 10, 20, 30, 40 residents."""
    return points([50, 120, 400, 900], y=10, residents=[10.0, 20.0, 30.0, 40.0])


@pytest.fixture
def bins() -> gpd.GeoDataFrame:
    """Bin 0 at x = 100 (1000 L, kind a), bin 1 at x = 600 (no capacity, kind b)."""
    return points([100, 600], kind=["a", "b"], capacity_l=[1000.0, np.nan])


def test_distances_coverage_and_assignment_by_hand(homes, street, bins):
    r = waste_coverage(homes, street, bins, litres_per_resident_per_collection=10.0)
    b = r.layers["buildings"]
    # 50 + 10; 20 + 10; min(300, 200) + 10; 300 + 10
    np.testing.assert_allclose(b["bin_m"], [60, 30, 210, 310])
    assert b["covered"].tolist() == [True, True, False, False]
    assert b["nearest_bin"].tolist() == [0, 0, 1, 1]
    w = r.layers["waste_bins"]
    np.testing.assert_allclose(w["residents_served"], [30, 70])
    np.testing.assert_allclose(w["capacity_l"], [1000, 240])  # bin 1 takes the default capacity
    np.testing.assert_allclose(w["load"], [0.3, 700 / 240])
    assert w["overloaded"].tolist() == [False, True]
    np.testing.assert_allclose(w["litres_per_resident"], [1000 / 30, 240 / 70])
    s = r.summary
    assert s["covered_share"] == pytest.approx(0.3)
    assert s["covered_share_buildings"] == pytest.approx(0.5)
    assert s["residents_not_covered"] == pytest.approx(70)
    assert s["bins_overloaded"] == 1
    assert s["median_bin_m"] == pytest.approx(135)
    assert s["capacity_field"] == "capacity_l" and s["bins_without_capacity"] == 1


def test_gaps_are_clusters_of_uncovered_homes_largest_first(homes, street, bins):
    gaps = waste_coverage(homes, street, bins, gap_cluster_m=50).layers["gaps"]
    assert gaps["gap"].tolist() == [1, 2]
    np.testing.assert_allclose(gaps["residents"], [40, 30])  # x = 900 and x = 400, 500 m apart
    assert gaps["buildings"].tolist() == [1, 1]
    assert gaps.geometry.contains(points([900], y=10).geometry.iloc[0]).tolist() == [True, False]
    joined = waste_coverage(homes, street, bins, gap_cluster_m=600).layers["gaps"]
    assert len(joined) == 1 and joined["residents"].iloc[0] == pytest.approx(70)
    np.testing.assert_allclose(joined["median_bin_m"], [260])


def test_kinds_filter_and_per_kind(homes, street, bins):
    only_b = waste_coverage(homes, street, bins, kinds="B")  # case-insensitive
    np.testing.assert_allclose(only_b.layers["buildings"]["bin_m"], [560, 490, 210, 310])
    assert only_b.summary["bins_used"] == 1 and only_b.layers["buildings"]["nearest_bin"].tolist() == [1] * 4
    per = waste_coverage(homes, street, bins, per_kind=True)
    b = per.layers["buildings"]
    np.testing.assert_allclose(b["bin_m_a"], [60, 30, 310, 810])
    np.testing.assert_allclose(b["bin_m_b"], [560, 490, 210, 310])
    assert per.summary["covered_share_a"] == pytest.approx(0.3)
    assert per.summary["covered_share_b"] == 0.0
    # within its kind each bin serves every home (one bin per kind)
    np.testing.assert_allclose(per.layers["waste_bins"]["residents_served"], [100, 100])
    with pytest.raises(CityDeskError, match="no bin has a kind"):
        waste_coverage(homes, street, bins, kinds="c")


def test_unreachable_home_is_not_covered_and_counted(street, bins):
    homes = points([100, 100], y=10, residents=[5.0, 7.0])
    homes.loc[1, "geometry"] = Point(X0 + 100, Y0 + 500)  # 500 m from the street
    r = waste_coverage(homes, street, bins)
    assert r.layers["buildings"]["covered"].tolist() == [True, False]
    assert np.isnan(r.layers["buildings"]["bin_m"].iloc[1])
    assert r.summary["buildings_unreachable"] == 1 and r.summary["residents_unreachable"] == 7
    assert r.layers["gaps"]["unreachable"].tolist() == [1]


def test_bad_inputs_are_explained(homes, street, bins):
    with pytest.raises(CityDeskError, match="no column 'volume'"):
        waste_coverage(homes, street, bins, capacity_field="volume")
    with pytest.raises(CityDeskError, match="metric CRS"):
        waste_coverage(homes.to_crs(4326), street, bins)
    with pytest.raises(CityDeskError, match="streets layer is empty"):
        waste_coverage(homes, street.iloc[:0], bins)
    with pytest.raises(CityDeskError, match="empty"):
        run_analysis("waste-coverage", {"buildings": homes, "streets": street, "waste_bins": bins.iloc[:0]})


class Recorder:
    def __init__(self, cancel_after: int | None = None):
        self.values: list[float] = []
        self.cancel_after = cancel_after

    def progress(self, fraction: float, message: str = "") -> None:
        self.values.append(fraction)

    def check_cancelled(self) -> None:
        if self.cancel_after is not None and len(self.values) >= self.cancel_after:
            raise Cancelled()


def test_progress_only_goes_up_and_cancel_stops(homes, street, bins):
    rec = Recorder()
    waste_coverage(homes, street, bins, per_kind=True, feedback=rec)
    assert rec.values == sorted(rec.values) and rec.values[-1] == 1.0
    with pytest.raises(Cancelled):
        waste_coverage(homes, street, bins, feedback=Recorder(cancel_after=3))


def test_sample_city_end_to_end():
    layers = {role: gpd.read_file(SAMPLE, layer=role) for role in ("buildings", "streets", "waste_bins")}
    r = run_analysis("waste-coverage", layers, {"max_distance_m": "100"})
    s = r.summary
    assert s["buildings_total"] == 482 and s["bins_used"] == 52
    assert 0.0 < s["covered_share"] < 1.0 and s["population_field"] == "residents"
    assert s["residents_not_covered"] == pytest.approx((1 - s["covered_share"]) * s["residents_total"])
    served = r.layers["waste_bins"]["residents_served"].sum()
    assert served == pytest.approx(s["residents_total"] - s["residents_without_route"])
    assert s["residents_without_route"] >= s["residents_unreachable"]
    gaps = r.layers["gaps"]
    assert gaps["residents"].is_monotonic_decreasing
    assert gaps["residents"].sum() == pytest.approx(s["residents_not_covered"])
    # straight-line distance never exceeds the walking distance
    b = r.layers["buildings"]
    straight = b.geometry.representative_point().distance(layers["waste_bins"].geometry.union_all())
    assert (straight.to_numpy() <= b["bin_m"].fillna(np.inf).to_numpy() + 1e-6).all()
