"""``district-summary`` on hand-made districts (counts, sums, means, areas, lengths and rates
worked out by hand), square and hexagonal grids, bad input, cancel and progress, and the sample
city's reports."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from analysis.district_summary import district_summary, hex_grid, square_grid
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Cancelled

CRS = "EPSG:3067"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "helsinki.gpkg"


@pytest.fixture
def districts() -> gpd.GeoDataFrame:
    """Two 100 m x 100 m districts side by side: A (x 0-100) and B (x 100-200)."""
    return gpd.GeoDataFrame({"name": ["A", "B"]}, geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=CRS)


@pytest.fixture
def points() -> gpd.GeoDataFrame:
    """Three in A, one in B, one on the A/B border, one outside both, one without geometry."""
    geoms = [Point(10, 10), Point(20, 20), Point(30, 30), Point(150, 50), Point(100, 50), Point(500, 500), None]
    return gpd.GeoDataFrame({"value": [1.0, 2.0, 3.0, 10.0, 5.0, 7.0, 100.0],
                             "kind": ["a", "b", "c", "d", "e", "f", "g"]}, geometry=geoms, crs=CRS)


@pytest.fixture
def homes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"residents": [200.0, 100.0, 999.0]},
                            geometry=[box(40, 40, 60, 60), box(140, 40, 160, 60), box(400, 400, 420, 420)], crs=CRS)


def test_points_by_districts_worked_out_by_hand(points, districts, homes):
    result = district_summary(points, districts, homes, sum_fields="value", mean_fields="value")
    zones = result.layers["zones"].set_index("zone")
    assert zones.index.tolist() == ["A", "B"]
    # A: 10, 20, 30 and the border point (the first district wins); B: 150
    assert zones["count"].tolist() == [4, 1]
    assert zones["sum_value"].tolist() == [11.0, 10.0]
    assert zones["mean_value"].tolist() == [2.75, 10.0]
    assert zones["zone_area_km2"].tolist() == pytest.approx([0.01, 0.01])
    assert zones["per_km2"].tolist() == pytest.approx([400, 100])
    assert zones["residents"].tolist() == [200.0, 100.0]
    assert zones["per_1000_residents"].tolist() == pytest.approx([20.0, 10.0])
    assert zones["value_per_1000_residents"].tolist() == pytest.approx([55.0, 100.0])
    s = result.summary
    assert s["zones_used"] == "districts layer" and s["zones"] == 2
    assert s["features_total"] == 7 and s["features_in_zones"] == 5
    assert s["features_outside"] == 1 and s["features_without_geometry"] == 1
    assert s["zone_with_most"] == "A" and s["max_count"] == 4
    assert s["residents_total"] == 1299.0 and s["residents_in_zones"] == 300.0
    assert s["rate_per_1000"] == pytest.approx(5 / 300 * 1000)
    assert s["sum_value"] == 21.0


def test_polygon_and_line_features_are_clipped_to_each_district(districts):
    parks = gpd.GeoDataFrame({"area": [10_000.0, 100.0]},
                             geometry=[box(50, 0, 150, 100), box(160, 10, 170, 20)], crs=CRS)
    zones = district_summary(parks, districts, sum_fields="area").layers["zones"]
    # the big park's centre (100, 50) is on the border: it counts in A; its area is split 50/50
    assert zones["count"].tolist() == [1, 1]
    assert zones["feature_area_m2"].tolist() == pytest.approx([5000, 5100])
    assert zones["area_share"].tolist() == pytest.approx([0.5, 0.51])
    assert zones["sum_area"].tolist() == [10_000.0, 100.0]
    paths = gpd.GeoDataFrame(geometry=[LineString([(60, 50), (180, 50)]), LineString([(110, 10), (110, 90)])],
                             crs=CRS)
    zones = district_summary(paths, districts).layers["zones"]
    assert zones["feature_length_m"].tolist() == pytest.approx([40, 80 + 80])
    assert zones["count"].tolist() == [0, 2]  # middles at (120, 50) and (110, 50)


def test_district_names_from_a_column_or_numbered(points, districts):
    named = districts.assign(nimi=["Kallio", None]).drop(columns="name")
    assert district_summary(points, named).layers["zones"]["zone"].tolist() == ["Kallio", "D2"]
    other = districts.assign(code=["K1", "K2"])
    assert district_summary(points, other, name_field="code").layers["zones"]["zone"].tolist() == ["K1", "K2"]
    with pytest.raises(CityDeskError, match="no column 'nope'"):
        district_summary(points, districts, name_field="nope")


def test_square_grid():
    cells = square_grid((5, 5, 250, 150), 100)
    assert len(cells) == 3 * 2
    assert shapely.bounds(cells[0]).tolist() == [0, 0, 100, 100]
    pts = gpd.GeoDataFrame(geometry=[Point(10, 10), Point(20, 20), Point(150, 50), Point(250, 150)], crs=CRS)
    result = district_summary(pts, zones="square", cell_m=100)
    zones = result.layers["zones"]
    assert result.summary["zones_used"] == "square grid, 100 m"
    # only the cells that hold something are kept; the point on the far corner is in the last cell
    assert zones["count"].tolist() == [2, 1, 1] and zones["zone_area_km2"].tolist() == pytest.approx([0.01] * 3)
    assert [shapely.bounds(g).tolist() for g in zones.geometry] == [[0, 0, 100, 100], [100, 0, 200, 100],
                                                                     [200, 100, 300, 200]]


def test_hexagonal_grid():
    cells = hex_grid((0, 0, 1000, 1000), 100)
    area = math.sqrt(3) / 2 * 100**2
    assert shapely.area(cells) == pytest.approx(np.full(len(cells), area))
    centres = shapely.centroid(cells)
    d = shapely.distance(centres[0], centres[1:])
    assert d.min() == pytest.approx(100)  # neighbouring centres one cell apart
    union = shapely.union_all(cells)
    assert union.contains(box(0, 0, 1000, 1000))  # no gaps over the extent
    assert shapely.area(union) == pytest.approx(area * len(cells))  # no overlaps
    rng = np.random.default_rng(5)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*rng.uniform(0, 1000, (2, 500))), crs=CRS)
    result = district_summary(pts, zones="auto", cell_m=100)  # no districts: hexagons
    zones = result.layers["zones"]
    assert result.summary["zones_used"] == "hexagonal grid, 100 m"
    assert zones["count"].sum() == 500 and (zones["count"] > 0).all()
    for geom, count in zip(zones.geometry, zones["count"], strict=True):
        assert shapely.contains(geom, pts.geometry.to_numpy()).sum() == count


def test_bad_input(points, districts):
    with pytest.raises(CityDeskError, match="needs a districts layer"):
        district_summary(points, zones="districts")
    with pytest.raises(CityDeskError, match="no column 'height'.*Numeric columns: value"):
        district_summary(points, districts, sum_fields="height")
    with pytest.raises(CityDeskError, match="'kind' .* holds no numbers"):
        district_summary(points, districts, mean_fields="kind")
    with pytest.raises(CityDeskError, match="metric CRS"):
        district_summary(points.to_crs(4326), districts)
    with pytest.raises(CityDeskError, match="cells"):
        district_summary(gpd.GeoDataFrame(geometry=[Point(0, 0), Point(1e6, 1e6)], crs=CRS), zones="square",
                         cell_m=10)
    with pytest.raises(CityDeskError, match="polygon"):
        run_analysis("district-summary", {"features": points, "districts": points})


class CancelAfter:
    def __init__(self, n: int):
        self.n, self.checks, self.fractions = n, 0, []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.checks >= self.n:
            raise Cancelled()


def test_cancel_and_progress(points, districts, homes):
    feedback = CancelAfter(3)
    with pytest.raises(Cancelled):
        run_analysis("district-summary", {"features": points, "districts": districts}, feedback=feedback)
    assert max(feedback.fractions, default=0) < 1.0
    feedback = CancelAfter(10**9)
    run_analysis("district-summary", {"features": points, "districts": districts, "buildings": homes},
                 feedback=feedback)
    fractions = feedback.fractions
    assert len(fractions) >= 5 and fractions[-1] == 1.0
    assert all(0.0 <= a <= b <= 1.0 for a, b in zip(fractions, fractions[1:], strict=False))


def test_sample_city_reports_by_hexagons_with_residents():
    reports = gpd.read_file(SAMPLE, layer="citizen_reports_synthetic")
    buildings = gpd.read_file(SAMPLE, layer="buildings")
    result = run_analysis("district-summary", {"features": reports, "buildings": buildings},
                          {"zones": "hexagon", "cell_m": 250})
    zones = result.layers["zones"]
    assert zones["count"].sum() == len(reports) == result.summary["features_in_zones"]
    assert zones["residents"].sum() == pytest.approx(buildings["residents"].fillna(0).sum())
