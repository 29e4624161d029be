"""Partitioned runs on a local 2-worker Dask cluster equal the single-process runs exactly, on a
synthetic city whose tiles (a few dozen buildings each) cut through blocks, buildings' neighbours
and streets."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from analysis.partition import LocalEngine, partition_reason, regroup, run_partitioned, run_with_engine
from analysis.partition_files import FileSource
from analysis.partition_sources import hilbert_order
from analysis.registry import get
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Cancelled

pytest.importorskip("distributed")

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_671_000.0


def city(seed: int = 5, n: int = 8):
    """An n x n block city with jittered, irregular streets (a diagonal avenue, a short piece apart
    with a building by it), 4 buildings per block, random bins of two kinds, benches, stops (some
    with a shelter), toilets, parks and two districts."""
    rng = np.random.default_rng(seed)
    block = 90.0
    lines = []
    for i in range(n + 1):
        v = i * block + rng.uniform(-6, 6)
        lines.append(shapely.LineString([(X0 + v, Y0), (X0 + v + rng.uniform(-10, 10), Y0 + n * block)]))
        lines.append(shapely.LineString([(X0, Y0 + v), (X0 + n * block, Y0 + v + rng.uniform(-10, 10))]))
    lines.append(shapely.LineString([(X0, Y0), (X0 + n * block, Y0 + n * block)]))
    lines.append(shapely.LineString([(X0 + 1500, Y0 + 1500), (X0 + 1600, Y0 + 1500)]))  # a far piece apart
    bx, by = np.meshgrid(np.arange(n), np.arange(n))
    offs = np.array([(12, 12), (50, 12), (12, 50), (50, 50)], float)
    cx = (X0 + bx.ravel()[:, None] * block + offs[:, 0]).ravel() + rng.uniform(0, 8, n * n * 4)
    cy = (Y0 + by.ravel()[:, None] * block + offs[:, 1]).ravel() + rng.uniform(0, 8, n * n * 4)
    buildings = gpd.GeoDataFrame({"residents": rng.integers(0, 60, len(cx)).astype(float)},
                                 geometry=shapely.box(cx, cy, cx + 22, cy + 18), crs=CRS)
    buildings.loc[5, "geometry"] = None  # a building without geometry
    buildings.loc[6, "geometry"] = shapely.box(X0 + 1530, Y0 + 1505, X0 + 1545, Y0 + 1515)  # by the far piece
    k = 25
    bins = gpd.GeoDataFrame({"kind": rng.choice(["mixed", "glass"], k), "capacity_l": rng.choice([240.0, 660.0], k)},
                            geometry=shapely.points(X0 + rng.uniform(0, n * block, k),
                                                    Y0 + rng.uniform(0, n * block, k)), crs=CRS)
    parks = shapely.box(X0 + 300, Y0 + 300, X0 + 380, Y0 + 370), shapely.box(X0 + 900, Y0 + 100, X0 + 990, Y0 + 160)
    side = n * block

    def points(k):
        return shapely.points(X0 + rng.uniform(0, side, k), Y0 + rng.uniform(0, side, k))

    half = X0 + side / 2
    return {"buildings": buildings, "streets": gpd.GeoDataFrame(geometry=lines, crs=CRS), "waste_bins": bins,
            "green_spaces": gpd.GeoDataFrame(geometry=list(parks), crs=CRS),
            "benches": gpd.GeoDataFrame(geometry=points(30), crs=CRS),
            "transit_stops": gpd.GeoDataFrame({"shelter": rng.choice(["yes", "no"], 8)}, geometry=points(8), crs=CRS),
            "toilets": gpd.GeoDataFrame(geometry=points(2), crs=CRS),
            "reports": gpd.GeoDataFrame({"n": rng.integers(0, 5, 60).astype(float)}, geometry=points(60), crs=CRS),
            "districts": gpd.GeoDataFrame({"name": ["West", "East"]}, crs=CRS, geometry=[
                shapely.box(X0 - 50, Y0 - 50, half, Y0 + side + 50), shapely.box(half, Y0 - 50, X0 + side + 50,
                                                                                 Y0 + side + 50)])}


@pytest.fixture(scope="session")
def cluster():
    from analysis.dask_engine import DaskEngine

    with DaskEngine(workers=2) as engine:
        yield engine


def assert_same(a, b):
    assert list(a.layers) == list(b.layers)
    for name in a.layers:
        left, right = a.layers[name], b.layers[name]
        assert list(left.columns) == list(right.columns), name
        assert len(left) == len(right), name
        geom = left.geometry.name
        assert (left.geometry.geom_equals_exact(right.geometry, 1e-9) | (left.geometry.isna() & right.geometry.isna())
                ).all(), name
        pd.testing.assert_frame_equal(pd.DataFrame(left.drop(columns=geom)).reset_index(drop=True),
                                      pd.DataFrame(right.drop(columns=geom)).reset_index(drop=True),
                                      check_exact=False, rtol=0, atol=1e-9)
    assert set(a.summary) == set(b.summary)
    for key, value in a.summary.items():
        if isinstance(value, float):
            assert b.summary[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert b.summary[key] == value, key


AGE = ("buildings", "streets", "benches", "transit_stops", "toilets", "green_spaces")
#: Short maximum distances: many answers fall beyond the first halo and go round again.
AGE_SHORT = {"new_benches_k": 0, "max_snap_m": 30.0, "rest_max_m": 120.0, "max_benches_m": 60.0,
             **{f"max_{r}_m": 150.0 for r in ("transit_stops", "toilets", "green_spaces")}}
CASES = [
    ("waste-coverage", ("buildings", "streets", "waste_bins"), {}),
    ("waste-coverage", ("buildings", "streets", "waste_bins"), {"per_kind": True, "max_distance_m": 60.0}),
    ("coverage", ("buildings", "green_spaces"), {"max_distance_m": 120.0}),
    ("age-friendly", AGE, {"new_benches_k": 0}),
    ("age-friendly", (*AGE, "districts"), AGE_SHORT),
    ("district-summary", ("reports", "buildings"), {"sum_fields": "n", "mean_fields": "n"}),
    ("district-summary", ("streets", "districts"), {}),
    ("district-summary", ("green_spaces", "buildings"), {"zones": "square", "cell_m": 100.0}),
]
ROLE_OF = {"coverage": {"green_spaces": "targets"}, "district-summary": {"reports": "features"}}


@pytest.mark.parametrize(("analysis", "roles", "params"), CASES)
def test_partitioned_equals_single_process(cluster, analysis, roles, params):
    layers = city()
    renamed = ROLE_OF.get(analysis, {})
    inputs = {renamed.get(r, r): layers[r] for r in roles}
    if analysis == "district-summary" and "features" not in inputs:
        first = roles[0]
        inputs = {"features": inputs.pop(first), **inputs}
    single = run_analysis(analysis, inputs, params)
    tiled = run_partitioned(analysis, inputs, params, cluster, tile_rows=23)  # tiles cut through blocks
    assert_same(single, tiled)


def test_age_friendly_with_new_benches_runs_whole(cluster):
    layers = city()
    inputs = {r: layers[r] for r in AGE}
    spec = get("age-friendly")
    assert "new_benches_k=0" in partition_reason(spec, spec.defaults())
    told = []
    result = run_with_engine("age-friendly", inputs, {"new_benches_k": 2}, cluster, notify=told.append)
    assert told and "one worker" in told[0]
    assert_same(run_analysis("age-friendly", inputs, {"new_benches_k": 2}), result)


def test_far_answers_take_more_rounds_and_stay_exact():
    layers = city(seed=9)
    inputs = {"buildings": layers["buildings"], "streets": layers["streets"],
              "waste_bins": layers["waste_bins"].iloc[:2]}
    single = run_analysis("waste-coverage", inputs, {"max_distance_m": 20.0})
    assert np.nanmax(single.layers["buildings"]["bin_m"]) > 500  # far beyond the first halo (230 m)
    assert_same(single, run_partitioned("waste-coverage", inputs, {"max_distance_m": 20.0}, LocalEngine(),
                                        tile_rows=40))


def test_files_are_read_by_box(tmp_path, cluster):
    layers = city()
    path = tmp_path / "city.gpkg"
    for role in ("buildings", "streets"):
        layers[role].to_file(path, layer=role)
    parts = tmp_path / "bins"
    parts.mkdir()
    bins = layers["waste_bins"]
    bins.iloc[:12].to_parquet(parts / "part-0.parquet")
    bins.iloc[12:].to_parquet(parts / "part-1.parquet")
    whole = {"buildings": gpd.read_file(path, layer="buildings"), "streets": gpd.read_file(path, layer="streets"),
             "waste_bins": bins}
    single = run_analysis("waste-coverage", whole, {})
    files = {"buildings": FileSource(path, "buildings"), "streets": FileSource(path, "streets"),
             "waste_bins": FileSource(parts)}
    tiled = run_partitioned("waste-coverage", files, {}, cluster, tile_rows=60)
    assert tiled.layers["buildings"].geometry.isna().sum() == 1  # the building without geometry is kept
    assert_same(single, tiled)


def test_layers_in_memory_are_reprojected_to_the_files_crs(tmp_path):
    """A timetable or a bin layer read into memory in degrees goes with buildings and streets read
    tile by tile in metres (as 'citydesk run --engine dask' gets them)."""
    layers = city()
    path = tmp_path / "city.gpkg"
    for role in ("buildings", "streets"):
        layers[role].to_file(path, layer=role)
    whole = {"buildings": gpd.read_file(path, layer="buildings"), "streets": gpd.read_file(path, layer="streets"),
             "waste_bins": layers["waste_bins"]}
    single = run_analysis("waste-coverage", whole, {})
    files = {"buildings": FileSource(path, "buildings"), "streets": FileSource(path, "streets"),
             "waste_bins": layers["waste_bins"].to_crs(4326)}
    tiled = run_partitioned("waste-coverage", files, {}, LocalEngine(), tile_rows=60)
    assert tiled.layers["waste_bins"].crs == whole["buildings"].crs
    assert tiled.summary["covered_share"] == pytest.approx(single.summary["covered_share"], abs=1e-12)
    assert np.allclose(tiled.layers["buildings"]["bin_m"], single.layers["buildings"]["bin_m"], equal_nan=True,
                       atol=1e-6)


def test_an_empty_file_layer_is_refused_as_in_the_single_run(tmp_path):
    """An empty layer, or one whose features all lack a geometry, is told as the single run tells it."""
    layers = city()
    path = tmp_path / "city.gpkg"
    layers["toilets"].iloc[:0].to_file(path, layer="toilets")
    layers["benches"].assign(geometry=None).to_file(path, layer="benches")
    for role in ("buildings", "streets"):
        layers[role].to_file(path, layer=role)
    for empty in ("toilets", "benches"):
        files = {r: FileSource(path, r) for r in ("buildings", "streets", empty)}
        with pytest.raises(CityDeskError, match=f"the '{empty}' layer is empty"):
            run_analysis("age-friendly", {r: gpd.read_file(path, layer=r) for r in files}, AGE_SHORT)
        with pytest.raises(CityDeskError, match=f"the '{empty}' layer is empty"):
            run_partitioned("age-friendly", files, AGE_SHORT, LocalEngine(), tile_rows=6)


FILE_CASES = [
    ("age-friendly", AGE, AGE_SHORT),
    ("district-summary", ("reports", "buildings"), {"sum_fields": "n", "mean_fields": "n"}),
    ("district-summary", ("green_spaces", "buildings"), {"zones": "square", "cell_m": 100.0}),
]


@pytest.mark.parametrize(("analysis", "roles", "params"), FILE_CASES)
def test_surveys_from_files_equal_single_process(tmp_path, cluster, analysis, roles, params):
    """The whole-area figures (the network's pieces, destinations snapped once; the zones' extent,
    kinds and fields) found cell by cell from files, with features without geometry among them."""
    layers = city()
    layers["reports"].loc[3, "geometry"] = None
    layers["benches"].loc[4, "geometry"] = None
    renamed = ROLE_OF.get(analysis, {})
    path = tmp_path / "city.gpkg"
    files, whole = {}, {}
    for role in roles:
        layers[role].to_file(path, layer=role)
        name = renamed.get(role, role)
        if analysis == "district-summary" and role == roles[0]:
            name = "features"
        files[name] = FileSource(path, role)
        whole[name] = gpd.read_file(path, layer=role)
    single = run_analysis(analysis, whole, params)
    assert_same(single, run_partitioned(analysis, files, params, cluster, tile_rows=6))  # many cells


def test_rest_chains_beyond_the_halo_stay_exact():
    """A toilet 184 m away along the street, but no bench on the way: the only rest-aware walk
    goes round a 250 m loop of benches, beyond the first halo. The tile alone finds no rest-aware
    walk; the building must go round again (its reachable rests reach the halo's edge)."""
    def at(x, y):
        return shapely.Point(X0 + x, Y0 + y)

    def line(*xy):
        return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])

    streets = gpd.GeoDataFrame(geometry=[line((-10, 0), (200, 0)), line((0, 0), (0, 250)), line((190, 0), (190, 250)),
                                         line((0, 250), (190, 250))], crs=CRS)
    benches = [at(0, y) for y in (60, 120, 180, 240)] + [at(x, 250) for x in (60, 120, 180)]
    benches += [at(190, y) for y in (190, 130, 70)]
    inputs = {"buildings": gpd.GeoDataFrame({"residents": [3.0, 1.0]}, crs=CRS, geometry=[
                  shapely.box(X0 - 3, Y0 - 6, X0 + 3, Y0 - 2), shapely.box(X0 + 185, Y0 + 2, X0 + 195, Y0 + 8)]),
              "streets": streets, "benches": gpd.GeoDataFrame(geometry=benches, crs=CRS),
              "toilets": gpd.GeoDataFrame(geometry=[at(180, 0)], crs=CRS)}
    params = {"new_benches_k": 0, "max_snap_m": 5.0, "rest_max_m": 100.0, "min_piece_m": 0.0, "max_toilets_m": 190.0,
              **{f"max_{r}_m": 50.0 for r in ("transit_stops", "benches", "pharmacies", "groceries", "green_spaces",
                                              "healthcare")}}
    single = run_analysis("age-friendly", inputs, params)
    rest_m = single.layers["buildings"]["toilets_rest_m"].iloc[0]
    assert single.layers["buildings"]["toilets_m"].iloc[0] < 190 and rest_m > 600
    assert_same(single, run_partitioned("age-friendly", inputs, params, LocalEngine(), tile_rows=1))


def test_not_partitionable_is_said_with_its_own_reason():
    from analysis.registry import analyses

    assert partition_reason(get("fill-levels"), {}) == ("'fill-levels' is not partitioned: it works on each bin's "
                                                        "time series of readings, not on an area")
    assert "greedy global choice" in partition_reason(get("waste-siting"), {})
    for spec in analyses().values():  # every analysis that runs whole says why in its own words
        assert spec.partition is not None or spec.partition_note, spec.id
    assert partition_reason(get("waste-coverage"), get("waste-coverage").defaults()) is None


def test_cancel_stops_the_cluster(cluster):
    class CancelSoon:
        calls = 0

        def progress(self, fraction, message=""):
            pass

        def check_cancelled(self):
            self.calls += 1
            if self.calls > 3:
                raise Cancelled()

    layers = city()
    with pytest.raises(Cancelled):
        run_partitioned("coverage", {"buildings": layers["buildings"], "targets": layers["green_spaces"]}, {},
                        cluster, tile_rows=10, feedback=CancelSoon())


def test_later_rounds_group_scattered_features_by_space():
    """Far-apart uncertain features never share a task (its box would span the region)."""
    rng = np.random.default_rng(2)
    corners = np.array([(0.0, 0.0), (50_000.0, 0.0), (0.0, 50_000.0), (50_000.0, 50_000.0)])
    xy = np.concatenate([c + rng.uniform(0, 300, (25, 2)) for c in corners])
    groups = regroup(xy, tile_rows=40, cell_m=1_000.0)
    assert sorted(np.concatenate(groups).tolist()) == list(range(100))
    spans = [np.ptp(xy[g], axis=0).max() for g in groups]
    assert 4 <= len(groups) <= 16 and max(spans) < 1_000.0  # a cluster may straddle a cell border
    assert all(len(g) <= 10 for g in regroup(xy, tile_rows=10, cell_m=1_000.0))


def test_hilbert_order_keeps_neighbours_together():
    xy = np.c_[np.repeat(np.arange(8.0), 8), np.tile(np.arange(8.0), 8)]
    order = hilbert_order(xy)
    steps = np.hypot(*np.diff(xy[order], axis=0).T)
    assert sorted(order) == list(range(64)) and np.allclose(steps, 1.0)


PTAL_SHORT = {"date": "2022-02-22", "origins": "buildings", "bus_max_walk_m": 150.0, "rail_max_walk_m": 250.0,
              "max_snap_m": 30.0}


@pytest.mark.parametrize(("origins", "roles"), [
    ("buildings", ("gtfs", "buildings", "streets")), ("buildings", ("gtfs", "buildings")),
    ("grid", ("gtfs", "buildings", "streets")), ("grid", ("gtfs", "streets", "area")), ("grid", ("gtfs",)),
])
def test_ptal_partitioned_equals_single_process(cluster, origins, roles):
    """The Helsinki sample with the HSL feed, catchments cut to 150 / 250 m so that the halo
    (310 m) is far smaller than the city and tiles of 40 buildings (or grid cells) cut through
    blocks; the grid over the buildings, the streets, an area layer or the stops."""
    from pathlib import Path

    from layers.readers import read_layer

    root = Path(__file__).resolve().parents[2]
    sample = root / "sample_data" / "helsinki.gpkg"
    layers = {"gtfs": read_layer(root / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"),
              "buildings": read_layer(sample, "buildings"), "streets": read_layer(sample, "streets")}
    x0, y0, x1, y1 = layers["streets"].to_crs(3067).total_bounds
    layers["area"] = gpd.GeoDataFrame(geometry=[shapely.Polygon([(x0 + 50, y0 + 50), (x1 - 50, y0 + 200),
                                                                 ((x0 + x1) / 2, y1 - 50)])], crs=3067)
    params = {**PTAL_SHORT, "origins": origins}
    inputs = {r: layers[r] for r in roles}
    single = run_analysis("ptal", inputs, params)
    assert single.summary["access_points"] > 20 and single.layers["ptal"]["ai"].nunique() > 30
    tiled = run_partitioned("ptal", inputs, params, cluster, tile_rows=40)
    assert_same(single, tiled)
    spec = get("ptal")
    assert partition_reason(spec, spec.defaults()) is None  # TfL's grid partitions too
