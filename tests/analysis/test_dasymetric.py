"""Residents per building from a population grid, on layers small enough to compute on paper."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

from analysis.dasymetric import SPEC, building_levels, distribute_population, residential_mask
from analysis.runner import parse_params, prepare_inputs
from layers.errors import CityDeskError
from layers.feedback import Cancelled

CRS = "EPSG:3067"


def grid(*cells: tuple[tuple[float, float, float, float], float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"population": [p for _, p in cells]},
                            geometry=[box(*b) for b, _ in cells], crs=CRS)


def buildings(rows: list[dict]) -> gpd.GeoDataFrame:
    data = {k: [r.get(k) for r in rows] for k in ("use", "building", "levels", "height")}
    data["levels"] = [np.nan if v is None else v for v in data["levels"]]
    data["height"] = [np.nan if v is None else v for v in data["height"]]
    return gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs=CRS)


@pytest.fixture
def two_cells():
    """Cell A (0-100 m) holds 100 people, cell B (100-200 m) 60.

    b1: 20 × 20 m = 400 m², 2 levels, residential              -> 800 m² floor area
    b2: 20 × 40 m = 800 m², height 9 m -> 3 levels, use unknown  -> 2,400 m² floor area
    b3: 20 × 10 m = 200 m², 1 level, commercial (in cell B alone: the fallback gives it B's 60)
    b4: 10 × 10 m in A, office: not residential while A has homes -> 0
    """
    cells = grid(((0, 0, 100, 100), 100.0), ((100, 0, 200, 100), 60.0))
    blds = buildings([
        {"use": "residential", "building": "apartments", "levels": 2, "geometry": box(10, 10, 30, 30)},
        {"use": "unknown", "building": "yes", "height": 9.0, "geometry": box(50, 10, 70, 50)},
        {"use": "commercial", "building": "commercial", "levels": 1, "geometry": box(120, 10, 140, 20)},
        {"use": "office", "building": "office", "levels": 8, "geometry": box(80, 80, 90, 90)},
    ])
    return blds, cells


def test_values_computed_on_paper(two_cells):
    blds, cells = two_cells
    result = distribute_population(blds, cells)
    out = result.layers["buildings"]
    # A: 100 × 800 / 3,200 = 25 and 100 × 2,400 / 3,200 = 75; B: fallback to b3, 60.
    assert out["residents"].tolist() == pytest.approx([25.0, 75.0, 60.0, 0.0])
    assert out["levels_used"].tolist() == pytest.approx([2.0, 3.0, 1.0, 8.0])
    assert out["floor_area_m2"].tolist() == pytest.approx([800.0, 2400.0, 200.0, 800.0])
    assert out["residential"].tolist() == [True, True, False, False]
    assert out["residents"].dtype == float
    s = result.summary
    assert s["population_total"] == 160.0
    assert s["residents_total"] == pytest.approx(160.0)
    assert s["residents_unassigned"] == 0.0
    assert s["cells_fallback_all_buildings"] == 1
    assert result.layers["grid"]["fallback_all_buildings"].tolist() == [False, True]
    assert result.layers["grid"]["buildings_n"].tolist() == [3, 1]
    assert result.params == {"population_field": "population", "default_levels": 1.0,
                             "residential_only": True}


def test_input_layers_are_not_changed(two_cells):
    blds, cells = two_cells
    before = blds.copy()
    distribute_population(blds, cells)
    assert "residents" not in blds.columns
    assert blds.equals(before)


def test_residential_only_false_gives_every_building_a_share(two_cells):
    blds, cells = two_cells
    out = distribute_population(blds, cells, residential_only=False).layers["buildings"]
    # A: floor areas 800, 2,400 and 800 (office, 8 levels) of 4,000.
    assert out["residents"].tolist() == pytest.approx([20.0, 60.0, 60.0, 20.0])


def test_building_straddling_two_cells_gets_a_share_of_each():
    cells = grid(((0, 0, 100, 100), 100.0), ((100, 0, 200, 100), 30.0))
    blds = buildings([
        # 20 × 10 m, 15 m in A (150 m²) and 5 m in B (50 m²), 1 level
        {"building": "apartments", "levels": 1, "geometry": box(85, 0, 105, 10)},
        # 50 m² in A only, 1 level
        {"building": "house", "levels": 1, "geometry": box(10, 10, 20, 15)},
        # 100 m² in B only, 1 level
        {"building": "house", "levels": 1, "geometry": box(150, 10, 160, 20)},
    ])
    out = distribute_population(blds, cells).layers["buildings"]
    # A: 100 × 150 / 200 = 75 to the straddler, 25 to the house; B: 30 × 50 / 150 = 10 and 20.
    assert out["residents"].tolist() == pytest.approx([85.0, 25.0, 20.0])


def test_cell_without_buildings_is_reported_not_lost(two_cells):
    blds, _ = two_cells
    cells = grid(((0, 0, 100, 100), 100.0), ((100, 0, 200, 100), 60.0), ((200, 0, 300, 100), 40.0))
    result = distribute_population(blds, cells)
    assert result.summary["residents_unassigned"] == 40.0
    assert result.summary["cells_without_buildings"] == 1
    assert result.summary["residents_total"] == pytest.approx(160.0)
    assert result.summary["residents_total"] + result.summary["residents_unassigned"] == pytest.approx(200.0)
    assert result.layers["grid"]["residents_unassigned"].tolist() == [0.0, 0.0, 40.0]
    assert result.layers["grid"]["residents_assigned"].tolist() == pytest.approx([100.0, 60.0, 0.0])


def test_sum_of_residents_is_grid_population_minus_unassigned():
    rng = np.random.default_rng(7)
    cells = grid(*[((x, y, x + 250, y + 250), float(rng.integers(0, 900)))
                   for x in range(0, 1000, 250) for y in range(0, 1000, 250)])
    xy = rng.uniform(0, 700, size=(300, 2))  # leaves the top row and right column of cells empty
    size = rng.uniform(8, 40, size=(300, 2))
    blds = buildings([{"use": rng.choice(["residential", "unknown", "retail"]),
                       "levels": float(rng.integers(1, 9)) if rng.random() < 0.5 else None,
                       "geometry": box(x, y, x + w, y + h)} for (x, y), (w, h) in zip(xy, size, strict=True)])
    result = distribute_population(blds, cells)
    s = result.summary
    assert s["residents_unassigned"] > 0
    assert result.layers["buildings"]["residents"].sum() == pytest.approx(
        cells["population"].sum() - s["residents_unassigned"], rel=1e-9)
    assert s["residents_total"] + s["residents_unassigned"] == pytest.approx(s["population_total"], rel=1e-12)


def test_levels_from_tag_then_height_then_default():
    blds = buildings([
        {"levels": 4, "height": 30.0, "geometry": box(0, 0, 1, 1)},
        {"levels": 0, "height": 12.0, "geometry": box(0, 0, 1, 1)},
        {"height": 2.0, "geometry": box(0, 0, 1, 1)},
        {"geometry": box(0, 0, 1, 1)},
    ])
    levels, source = building_levels(blds, default_levels=2.5)
    assert levels.tolist() == pytest.approx([4.0, 4.0, 1.0, 2.5])
    assert source.tolist() == ["levels", "height", "height", "default"]


def test_residential_mask_uses_use_then_building_tag():
    blds = buildings([
        {"use": "residential", "geometry": box(0, 0, 1, 1)},
        {"use": "unknown", "building": "yes", "geometry": box(0, 0, 1, 1)},
        {"use": "religious", "building": "church", "geometry": box(0, 0, 1, 1)},
        {"use": None, "building": "terrace", "geometry": box(0, 0, 1, 1)},
        {"use": None, "building": "school", "geometry": box(0, 0, 1, 1)},
        {"use": None, "building": None, "geometry": box(0, 0, 1, 1)},
    ])
    assert residential_mask(blds).tolist() == [True, True, False, True, False, True]
    assert residential_mask(blds.drop(columns=["use", "building"])).all()


def test_missing_and_negative_population_count_as_zero(two_cells):
    blds, _ = two_cells
    cells = grid(((0, 0, 100, 100), np.nan), ((100, 0, 200, 100), -5.0))
    result = distribute_population(blds, cells)
    assert result.summary["population_total"] == 0.0
    assert result.layers["buildings"]["residents"].sum() == 0.0


def test_invalid_footprint_is_repaired():
    bowtie = Polygon([(0, 0), (20, 20), (20, 0), (0, 20)])  # two triangles of 100 m² each
    blds = buildings([{"building": "house", "levels": 1, "geometry": bowtie},
                      {"building": "house", "levels": 1, "geometry": box(50, 50, 70, 60)}])
    out = distribute_population(blds, grid(((0, 0, 100, 100), 40.0))).layers["buildings"]
    assert out["residents"].tolist() == pytest.approx([20.0, 20.0])


def test_building_without_geometry_gets_no_residents(two_cells):
    blds, cells = two_cells
    blds.loc[1, "geometry"] = None
    out = distribute_population(blds, cells).layers["buildings"]
    assert out["residents"].tolist() == pytest.approx([100.0, 0.0, 60.0, 0.0])


class CancelAfter:
    def __init__(self, checks: int):
        self.checks = checks

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        self.checks -= 1
        if self.checks < 0:
            raise Cancelled()


@pytest.mark.parametrize("checks", [0, 1, 2, 3])
def test_cancel(two_cells, checks):
    blds, cells = two_cells
    with pytest.raises(Cancelled):
        distribute_population(blds, cells, feedback=CancelAfter(checks))


class Recorder:
    def __init__(self):
        self.values: list[float] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.values.append(fraction)

    def check_cancelled(self) -> None:
        pass


def test_progress_never_decreases(two_cells, monkeypatch):
    import analysis.dasymetric as module

    monkeypatch.setattr(module, "CHUNK", 1)  # one progress step per building-cell pair
    blds, cells = two_cells
    rec = Recorder()
    distribute_population(blds, cells, feedback=rec)
    assert len(rec.values) >= 5
    assert rec.values == sorted(rec.values)
    assert rec.values[-1] == 1.0
    assert all(0.0 <= v <= 1.0 for v in rec.values)


def test_empty_layers_raise(two_cells):
    blds, cells = two_cells
    with pytest.raises(CityDeskError, match="'buildings' layer is empty"):
        distribute_population(blds.iloc[:0], cells)
    with pytest.raises(CityDeskError, match="'grid' layer is empty"):
        distribute_population(blds, cells.iloc[:0])


def test_missing_population_column_names_the_columns(two_cells):
    blds, cells = two_cells
    with pytest.raises(CityDeskError, match="no column 'asukkaat'.*population"):
        distribute_population(blds, cells, population_field="asukkaat")


def test_geographic_or_different_crs_raise(two_cells):
    blds, cells = two_cells
    with pytest.raises(CityDeskError, match="metric CRS"):
        distribute_population(blds.set_crs("EPSG:4326", allow_override=True),
                              cells.set_crs("EPSG:4326", allow_override=True))
    with pytest.raises(CityDeskError, match="different coordinate systems"):
        distribute_population(blds, cells.set_crs("EPSG:3857", allow_override=True))


def test_point_buildings_raise(two_cells):
    _, cells = two_cells
    points = gpd.GeoDataFrame({"building": ["yes"]}, geometry=[Point(10, 10)], crs=CRS)
    with pytest.raises(CityDeskError, match="no footprints"):
        distribute_population(points, cells)


def test_spec_runs_through_the_runner_with_reprojection(two_cells):
    blds, cells = two_cells
    assert SPEC.id == "population-from-grid"
    assert [r.name for r in SPEC.roles] == ["buildings", "grid"]
    params = parse_params(SPEC, {"default_levels": "2", "residential_only": "yes"})
    inputs = prepare_inputs(SPEC, {"buildings": blds.to_crs("EPSG:4326"), "grid": cells})
    result = SPEC.run(**inputs, **params)
    residents = result.layers["buildings"]["residents"].tolist()
    assert residents == pytest.approx([25.0, 75.0, 60.0, 0.0], rel=1e-6)
