"""The network's pieces found cell by cell equal those of the whole network built at once."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from analysis.network import build_network
from analysis.partition import LocalEngine
from analysis.partition_files import FileSource
from analysis.partition_pieces import grid_cells, street_pieces
from analysis.partition_sources import FrameSource

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "helsinki.gpkg"
CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_671_000.0


def whole_figures(streets: gpd.GeoDataFrame, ids: np.ndarray, min_piece_m: float):
    net = build_network(streets.reset_index(drop=True))
    src = ids[net.edge_source]
    large = src[net.edges_on_pieces_of(min_piece_m)]
    on_net = np.unique(src)
    small = np.setdiff1d(on_net, large)
    off_main = np.setdiff1d(on_net, src[net.component[net.edge_u] == 0])
    return net, small, off_main


def messy_streets(seed: int = 3) -> gpd.GeoDataFrame:
    """A jittered grid, a long diagonal across many cells, short pieces apart (some of them
    tied in size), ends that meet within the join tolerance, a bridge, a line with two parts."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(12):
        v = i * 80.0 + rng.uniform(-5, 5)
        lines.append(shapely.LineString([(X0 + v, Y0), (X0 + v, Y0 + 440), (X0 + v + 3, Y0 + 880)]))
        lines.append(shapely.LineString([(X0, Y0 + v), (X0 + 880, Y0 + v + rng.uniform(-8, 8))]))
    lines.append(shapely.LineString([(X0, Y0), (X0 + 880, Y0 + 880)]))
    for k in range(6):  # pieces apart, 40-240 m long; two of the same shape (a tie in nodes and length)
        x, y = X0 + 1000 + 70 * k, Y0 + 100 + 60 * k
        lines.append(shapely.LineString([(x, y), (x + 40 * (k % 3 + 1), y), (x + 40 * (k % 3 + 1), y + 10)]))
    lines.append(shapely.LineString([(X0 + 1000, Y0 + 700), (X0 + 1300, Y0 + 700)]))  # 300 m + 300 m, a tie
    lines.append(shapely.LineString([(X0 + 1000, Y0 + 800), (X0 + 1300, Y0 + 800)]))
    lines.append(shapely.LineString([(X0 + 900.3, Y0 + 500), (X0 + 960, Y0 + 500)]))  # ends 0.3 m apart: joined
    lines.append(shapely.LineString([(X0 + 900, Y0 + 500.2), (X0 + 900, Y0 + 560)]))
    lines.append(shapely.MultiLineString([[(X0 + 1100, Y0 + 900), (X0 + 1150, Y0 + 900)],
                                          [(X0 + 1150, Y0 + 900), (X0 + 1150, Y0 + 960)]]))
    gdf = gpd.GeoDataFrame({"bridge": [None] * len(lines)}, geometry=lines, crs=CRS)
    gdf.loc[len(gdf)] = {"bridge": "yes", "geometry": shapely.LineString([(X0 + 40, Y0 + 20), (X0 + 40, Y0 + 300)])}
    gdf.loc[len(gdf)] = {"bridge": None, "geometry": None}
    return gdf


@pytest.mark.parametrize("tile_rows", [4, 25, 10_000])
@pytest.mark.parametrize("min_piece_m", [0.0, 150.0, 500.0])
def test_pieces_cell_by_cell_equal_the_whole_network(tile_rows, min_piece_m):
    streets = messy_streets()
    ids = np.arange(len(streets))
    net, small, off_main = whole_figures(streets, ids, min_piece_m)
    pieces = street_pieces(FrameSource(streets), LocalEngine(), tile_rows=tile_rows)
    assert pieces.nodes == net.report["nodes"]
    assert pieces.count == net.report["components"]
    assert np.array_equal(pieces.small_ids(min_piece_m), small)
    assert np.array_equal(pieces.off_main_ids(), off_main)
    assert len(grid_cells(FrameSource(streets).bounds(), len(streets), tile_rows)) >= (len(streets) // tile_rows)


def test_a_tie_for_the_largest_piece_goes_as_in_the_whole_network():
    """Two equal pieces apart: the largest is the one whose first node comes first (southern band)."""
    a = shapely.LineString([(X0, Y0 + 600), (X0 + 100, Y0 + 600)])
    b = shapely.LineString([(X0 + 2000, Y0), (X0 + 2100, Y0)])
    streets = gpd.GeoDataFrame(geometry=[a, b], crs=CRS)
    net, _small, off_main = whole_figures(streets, np.arange(2), 0.0)
    pieces = street_pieces(FrameSource(streets), LocalEngine(), tile_rows=1)
    assert np.array_equal(pieces.off_main_ids(), off_main) and len(off_main) == 1


def test_pieces_of_the_helsinki_network_equal_the_whole_network(tmp_path):
    """Real streets (OpenStreetMap, central Helsinki) read from a GeoPackage cell by cell."""
    streets = gpd.read_file(SAMPLE, layer="streets")
    path = tmp_path / "streets.gpkg"
    streets.to_file(path, layer="streets")
    source = FileSource(path, layer="streets")
    fids = source.select(None)[1]
    net, small, off_main = whole_figures(streets, fids, 500.0)
    pieces = street_pieces(source, LocalEngine(), tile_rows=2_000)
    assert net.report["components"] > 1  # the real network has pieces apart
    assert pieces.nodes == net.report["nodes"]
    assert pieces.count == net.report["components"]
    assert np.array_equal(pieces.small_ids(500.0), small)
    assert np.array_equal(pieces.off_main_ids(), off_main)
