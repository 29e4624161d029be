"""``coverage`` on layers small enough to compute on paper, plus an independent check."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

import analysis.coverage as coverage_module
from analysis import run_analysis
from analysis.coverage import coverage
from layers.errors import CityDeskError
from layers.feedback import Cancelled

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_672_000.0  # the target, in central Helsinki


def square(cx: float, cy: float, half: float = 5.0) -> Polygon:
    return box(cx - half, cy - half, cx + half, cy + half)


@pytest.fixture
def four_buildings() -> gpd.GeoDataFrame:
    """Centres at 3-4-5 triangles from the target: 50, 200, 300 and 400 m; 10/20/30/40 residents."""
    offsets = [(30, 40), (120, 160), (180, 240), (240, 320)]
    return gpd.GeoDataFrame(
        {"population": [10, 20, 30, 40], "name": list("abcd")},
        geometry=[square(X0 + dx, Y0 + dy) for dx, dy in offsets],
        crs=CRS,
    )


@pytest.fixture
def target() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["library"]}, geometry=[Point(X0, Y0)], crs=CRS)


def test_computed_on_paper(four_buildings, target):
    result = coverage(four_buildings, target, max_distance_m=250)
    out = result.layers["buildings"]
    assert out["dist_m"].tolist() == [50.0, 200.0, 300.0, 400.0]
    assert out["covered"].tolist() == [True, True, False, False]
    assert out["name"].tolist() == list("abcd")  # input columns kept
    s = result.summary
    assert s["covered_share"] == pytest.approx(0.3)  # (10 + 20) / 100
    assert s["covered_share_buildings"] == 0.5
    assert s["residents_not_covered"] == 70.0 and s["residents_total"] == 100.0
    assert s["buildings_covered"] == 2 and s["population_field"] == "population"
    assert s["median_dist_m"] == 250.0
    assert dict(result.params) == {"max_distance_m": 250, "min_target_area_m2": 0.0, "population_field": ""}
    assert "dist_m" not in four_buildings  # the input is not changed


def test_distance_equal_to_the_limit_counts(four_buildings, target):
    assert coverage(four_buildings, target, max_distance_m=300).summary["covered_share"] == pytest.approx(0.6)
    assert coverage(four_buildings, target, max_distance_m=0).summary["covered_share"] == 0.0


def test_polygon_target_distance_zero_inside(four_buildings):
    park = gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 100, Y0 + 100)], crs=CRS)
    out = coverage(four_buildings, park, max_distance_m=100).layers["buildings"]
    # (30, 40) is inside; (120, 160) is 20 m right of and 60 m above the corner (100, 100)
    assert out["dist_m"].iloc[0] == 0.0
    assert out["dist_m"].iloc[1] == pytest.approx(np.hypot(20, 60))
    assert out["dist_m"].iloc[2] == pytest.approx(np.hypot(80, 140))


def test_min_target_area_ignores_small_parks(four_buildings):
    small = square(X0 + 30, Y0 + 50, half=10)  # 400 m², next to building a
    big = box(X0 + 240, Y0 + 330, X0 + 340, Y0 + 430)  # 10,000 m², 10 m above building d
    parks = gpd.GeoDataFrame({"name": ["pocket", "Alppipuisto"]}, geometry=[small, big], crs=CRS)
    all_parks = coverage(four_buildings, parks, max_distance_m=300).layers["buildings"]
    assert all_parks["dist_m"].iloc[0] == pytest.approx(0.0)
    result = coverage(four_buildings, parks, max_distance_m=300, min_target_area_m2=5_000)
    out = result.layers["buildings"]
    assert out["dist_m"].iloc[3] == pytest.approx(10.0)
    assert out["dist_m"].iloc[0] == pytest.approx(np.hypot(210, 290))
    assert result.summary["targets_used"] == 1 and result.summary["targets_total"] == 2
    assert result.layers["targets"]["name"].tolist() == ["Alppipuisto"]


def test_no_population_column_weighs_each_building_one(four_buildings, target):
    result = coverage(four_buildings.drop(columns="population"), target, max_distance_m=250)
    assert result.summary["covered_share"] == 0.5 and result.summary["population_field"] is None
    assert result.summary["residents_total"] == 4.0


def test_population_field_given_and_missing(four_buildings, target):
    blds = four_buildings.rename(columns={"population": "asukkaat_2024"})
    assert coverage(blds, target, max_distance_m=250, population_field="asukkaat_2024").summary[
        "covered_share"
    ] == pytest.approx(0.3)
    with pytest.raises(CityDeskError, match="no column 'residents'.*asukkaat_2024"):
        coverage(blds, target, population_field="residents")


def test_bow_tie_building_is_repaired(target):
    bow_tie = Polygon([(X0 + 95, Y0 - 5), (X0 + 105, Y0 + 5), (X0 + 105, Y0 - 5), (X0 + 95, Y0 + 5)])
    assert not bow_tie.is_valid
    blds = gpd.GeoDataFrame({"population": [5]}, geometry=[bow_tie], crs=CRS)
    out = coverage(blds, target, max_distance_m=120).layers["buildings"]
    assert 95 <= out["dist_m"].iloc[0] <= 106 and out["covered"].iloc[0]


def test_self_crossing_park_is_repaired_before_its_area_is_measured(four_buildings):
    # a 200 x 200 m bow-tie: its signed area is 0, its repaired area 20,000 m²
    x, y = X0 + 1000, Y0
    bow_tie = Polygon([(x, y), (x + 200, y + 200), (x + 200, y), (x, y + 200)])
    assert bow_tie.area == 0
    parks = gpd.GeoDataFrame(geometry=[bow_tie], crs=CRS)
    result = coverage(four_buildings, parks, max_distance_m=2000, min_target_area_m2=5000)
    assert result.summary["targets_used"] == 1
    assert result.layers["targets"].geometry.iloc[0].area == pytest.approx(20_000)


def test_building_without_geometry_is_reported_and_not_covered(four_buildings, target):
    blds = four_buildings.copy()
    blds.loc[0, "geometry"] = None
    result = coverage(blds, target, max_distance_m=250)
    out = result.layers["buildings"]
    assert np.isnan(out["dist_m"].iloc[0]) and not out["covered"].iloc[0]
    assert result.summary["buildings_without_geometry"] == 1
    assert result.summary["covered_share"] == pytest.approx(0.2)  # only b's 20 of 100


def test_point_targets_with_min_area_is_an_error(four_buildings, target):
    with pytest.raises(CityDeskError, match="polygon targets") as err:
        coverage(four_buildings, target, min_target_area_m2=5000)
    assert "min_target_area_m2=0" in str(err.value)


def test_geographic_or_mismatched_crs_is_an_error(four_buildings, target):
    with pytest.raises(CityDeskError, match="metric CRS"):
        coverage(four_buildings.to_crs(4326), target.to_crs(4326))
    with pytest.raises(CityDeskError, match="targets"):
        coverage(four_buildings, target.to_crs(3879))


def test_no_targets_left(four_buildings):
    park = gpd.GeoDataFrame(geometry=[square(X0, Y0, 1)], crs=CRS)
    result = coverage(four_buildings, park, min_target_area_m2=1e6)
    assert result.summary["covered_share"] == 0.0 and result.summary["median_dist_m"] is None
    assert result.layers["buildings"]["dist_m"].isna().all()


class CancelAfter:
    def __init__(self, n: int):
        self.n, self.checks, self.fractions = n, 0, []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.checks >= self.n:
            raise Cancelled()


def _random_city(n_buildings: int, n_targets: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 3000, size=(n_buildings, 2)) + (X0, Y0)
    sizes = rng.uniform(4, 15, n_buildings)
    blds = gpd.GeoDataFrame(
        {"population": rng.integers(0, 60, n_buildings)},
        geometry=[square(x, y, s) for (x, y), s in zip(xy, sizes, strict=True)],
        crs=CRS,
    )
    txy = rng.uniform(0, 3000, size=(n_targets, 2)) + (X0, Y0)
    geoms = [Point(x, y) if i % 2 else square(x, y, 40) for i, (x, y) in enumerate(txy)]
    return blds, gpd.GeoDataFrame(geometry=geoms, crs=CRS)


def test_cancel(monkeypatch):
    monkeypatch.setattr(coverage_module, "CHUNK", 100)
    blds, targets = _random_city(2000, 50)
    feedback = CancelAfter(5)
    with pytest.raises(Cancelled):
        run_analysis("coverage", {"buildings": blds, "targets": targets}, feedback=feedback)
    assert feedback.checks == 5 and max(feedback.fractions) < 1.0


def test_progress_only_goes_up(monkeypatch):
    monkeypatch.setattr(coverage_module, "CHUNK", 100)
    blds, targets = _random_city(2000, 50)
    feedback = CancelAfter(10**9)
    run_analysis("coverage", {"buildings": blds, "targets": targets}, feedback=feedback)
    fractions = feedback.fractions
    assert len(fractions) > 20 and fractions[-1] == 1.0
    assert all(0.0 <= a <= b <= 1.0 for a, b in zip(fractions, fractions[1:], strict=False))


def test_matches_geopandas_sjoin_nearest():
    blds, targets = _random_city(2000, 50, seed=11)
    result = coverage(blds, targets, max_distance_m=250)
    origins = gpd.GeoDataFrame(geometry=blds.geometry.representative_point(), crs=CRS)
    joined = gpd.sjoin_nearest(origins, targets, distance_col="d")
    expected = joined.groupby(level=0)["d"].min().reindex(blds.index)
    np.testing.assert_allclose(
        result.layers["buildings"]["dist_m"].to_numpy(), expected.to_numpy(), atol=1e-6
    )
    covered = expected <= 250
    weights = blds["population"].to_numpy(dtype=float)
    assert result.summary["covered_share"] == pytest.approx(weights[covered].sum() / weights.sum())
