"""Partitioned runs on a local 2-worker Dask cluster equal the single-process runs exactly, on a
synthetic city whose tiles (a few dozen buildings each) cut through blocks, buildings' neighbours
and streets."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from analysis.partition import LocalEngine, partition_reason, run_partitioned
from analysis.partition_sources import FileSource, hilbert_order
from analysis.registry import get
from analysis.runner import run_analysis
from layers.feedback import Cancelled

pytest.importorskip("distributed")

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_671_000.0


def city(seed: int = 5):
    """A 12 x 12 block city with jittered, irregular streets (a diagonal avenue, a few missing
    pieces), 4 buildings per block, random bins of two kinds and parks."""
    rng = np.random.default_rng(seed)
    n, block = 12, 90.0
    lines = []
    for i in range(n + 1):
        v = i * block + rng.uniform(-6, 6)
        lines.append(shapely.LineString([(X0 + v, Y0), (X0 + v + rng.uniform(-10, 10), Y0 + n * block)]))
        lines.append(shapely.LineString([(X0, Y0 + v), (X0 + n * block, Y0 + v + rng.uniform(-10, 10))]))
    lines.append(shapely.LineString([(X0, Y0), (X0 + n * block, Y0 + n * block)]))
    lines.append(shapely.LineString([(X0 + 2000, Y0 + 2000), (X0 + 2100, Y0 + 2000)]))  # a far piece apart
    bx, by = np.meshgrid(np.arange(n), np.arange(n))
    offs = np.array([(12, 12), (50, 12), (12, 50), (50, 50)], float)
    cx = (X0 + bx.ravel()[:, None] * block + offs[:, 0]).ravel() + rng.uniform(0, 8, n * n * 4)
    cy = (Y0 + by.ravel()[:, None] * block + offs[:, 1]).ravel() + rng.uniform(0, 8, n * n * 4)
    buildings = gpd.GeoDataFrame({"residents": rng.integers(0, 60, len(cx)).astype(float)},
                                 geometry=shapely.box(cx, cy, cx + 22, cy + 18), crs=CRS)
    buildings.loc[5, "geometry"] = None  # a building without geometry
    k = 25
    bins = gpd.GeoDataFrame({"kind": rng.choice(["mixed", "glass"], k), "capacity_l": rng.choice([240.0, 660.0], k)},
                            geometry=shapely.points(X0 + rng.uniform(0, n * block, k),
                                                    Y0 + rng.uniform(0, n * block, k)), crs=CRS)
    parks = shapely.box(X0 + 300, Y0 + 300, X0 + 380, Y0 + 370), shapely.box(X0 + 900, Y0 + 100, X0 + 990, Y0 + 160)
    return {"buildings": buildings, "streets": gpd.GeoDataFrame(geometry=lines, crs=CRS), "waste_bins": bins,
            "green_spaces": gpd.GeoDataFrame(geometry=list(parks), crs=CRS)}


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


CASES = [
    ("waste-coverage", ("buildings", "streets", "waste_bins"), {}),
    ("waste-coverage", ("buildings", "streets", "waste_bins"), {"per_kind": True, "max_distance_m": 60.0}),
    ("coverage", ("buildings", "green_spaces"), {"max_distance_m": 120.0}),
]


@pytest.mark.parametrize(("analysis", "roles", "params"), CASES)
def test_partitioned_equals_single_process(cluster, analysis, roles, params):
    layers = city()
    inputs = {("targets" if r == "green_spaces" else r): layers[r] for r in roles}
    single = run_analysis(analysis, inputs, params)
    tiled = run_partitioned(analysis, inputs, params, cluster, tile_rows=37)  # 16 tiles, borders through blocks
    assert_same(single, tiled)


def test_far_answers_take_more_rounds_and_stay_exact():
    layers = city(seed=9)
    inputs = {"buildings": layers["buildings"], "streets": layers["streets"],
              "waste_bins": layers["waste_bins"].iloc[:2]}
    single = run_analysis("waste-coverage", inputs, {"max_distance_m": 20.0})
    assert np.nanmax(single.layers["buildings"]["bin_m"]) > 500  # far beyond the first halo (230 m)
    assert_same(single, run_partitioned("waste-coverage", inputs, {"max_distance_m": 20.0}, LocalEngine(),
                                        tile_rows=40))


@pytest.mark.xfail(strict=True, reason="known gap: lines read from a file by box are not yet completed with the "
                   "lines whose ends the network joins to theirs (FrameSource.select_lines), so a long line "
                   "whose end is joined outside the box runs 1e-4 m off")
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
    single = run_analysis("waste-coverage", {"buildings": layers["buildings"].dropna(subset=["geometry"])
                                             .reset_index(drop=True),
                                             "streets": layers["streets"], "waste_bins": bins}, {})
    files = {"buildings": FileSource(path, "buildings"), "streets": FileSource(path, "streets"),
             "waste_bins": FileSource(parts)}
    tiled = run_partitioned("waste-coverage", files, {}, cluster, tile_rows=60)
    # a GeoPackage has no row without geometry to read by box: compare with that row left out
    tiled_b = tiled.layers["buildings"]
    assert len(tiled_b) == len(single.layers["buildings"])
    np.testing.assert_allclose(tiled_b["bin_m"], single.layers["buildings"]["bin_m"], atol=1e-9)
    assert (tiled_b["nearest_bin"].to_numpy() == single.layers["buildings"]["nearest_bin"].to_numpy()).all()
    assert tiled.summary["bins_overloaded"] == single.summary["bins_overloaded"]
    assert tiled.summary["covered_share"] == pytest.approx(single.summary["covered_share"], abs=1e-12)


def test_not_partitionable_is_said():
    reason = partition_reason(get("fill-levels"), {})
    assert reason and "cannot be partitioned" in reason
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


def test_hilbert_order_keeps_neighbours_together():
    xy = np.c_[np.repeat(np.arange(8.0), 8), np.tile(np.arange(8.0), 8)]
    order = hilbert_order(xy)
    steps = np.hypot(*np.diff(xy[order], axis=0).T)
    assert sorted(order) == list(range(64)) and np.allclose(steps, 1.0)
