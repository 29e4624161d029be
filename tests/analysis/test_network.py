"""The walking-network engine on networks small enough to work out by hand, and against a plain
networkx Dijkstra on the sample city.

Convention under test: distance = origin snap leg + network distance between the snapped
positions + target snap leg.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point

from analysis.network import (
    ZERO_M,
    build_network,
    count_within,
    nearest_distance,
    point_distances_within,
    snap_points,
)
from layers.errors import CityDeskError
from layers.feedback import Cancelled

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_672_000.0
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "helsinki.gpkg"


def streets(*lines, crs=CRS) -> gpd.GeoDataFrame:
    geoms = [LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(lines))]}, geometry=geoms, crs=crs)


def pts(*xy) -> np.ndarray:
    return np.array([Point(X0 + x, Y0 + y) for x, y in xy], dtype=object)


def distances(lines, origins, targets, *, tol=0.5, cutoff=None, max_snap=100.0):
    net = build_network(streets(*lines), join_tolerance_m=tol)
    o = snap_points(net, pts(*origins), max_snap_m=max_snap)
    t = snap_points(net, pts(*targets), max_snap_m=max_snap)
    return nearest_distance(net, o, t, cutoff_m=cutoff)


# --- hand-made networks ---------------------------------------------------------------------------

def test_point_beside_the_middle_of_an_edge():
    net = build_network(streets([(0, 0), (100, 0)]))
    s = snap_points(net, pts((50, 10)))
    assert s.edge.tolist() == [0] and s.snap_m[0] == pytest.approx(10.0)
    assert s.along_m[0] == pytest.approx(50.0) and s.xy[0] == pytest.approx([X0 + 50, Y0])
    d, i = distances([[(0, 0), (100, 0)]], [(50, 10)], [(100, 5)])
    assert d[0] == pytest.approx(10 + 50 + 5) and i[0] == 0  # leg 10 + 50 m along + leg 5 to the end


def test_nearest_edge_not_nearest_node():
    # (50, 30) is 30 m from the long street's middle but 58 m from every node
    net = build_network(streets([(0, 0), (100, 0)], [(0, 0), (0, 80)]))
    s = snap_points(net, pts((50, 30)))
    assert s.snap_m[0] == pytest.approx(30.0) and s.along_m[0] == pytest.approx(50.0)


def test_t_junction_of_unsplit_lines():
    lines = [[(0, 0), (200, 0)], [(100, 0), (100, 100)]]  # the stem ends on the bar's interior
    net = build_network(streets(*lines))
    assert (net.report["nodes"], net.report["edges"], net.report["endpoints_on_lines"]) == (4, 3, 1)
    d, _ = distances(lines, [(190, -10)], [(110, 80)])
    assert d[0] == pytest.approx(10 + 90 + 80 + 10)


def test_t_junction_near_miss_joined_within_tolerance():
    lines = [[(0, 0), (200, 0)], [(100, 0.3), (100, 100)]]  # the stem stops 0.3 m short of the bar
    d, _ = distances(lines, [(0, 0)], [(100, 100)], tol=0.5)
    # the bar gets the stem's end as a vertex: hypot(100, 0.3) to it, then 99.7 m up the stem
    assert d[0] == pytest.approx(np.hypot(100, 0.3) + 99.7)
    d, _ = distances(lines, [(0, 0)], [(100, 100)], tol=0.2)
    assert np.isnan(d[0])


def test_one_edge_dead_end():
    lines = [[(0, 0), (100, 0)], [(100, 0), (100, 40)]]  # a spur, 40 m, ending nowhere
    d, _ = distances(lines, [(105, 40)], [(0, -3)])
    assert d[0] == pytest.approx(5 + 40 + 100 + 3)
    d, _ = distances([[(0, 0), (100, 0)]], [(0, 0)], [(100, 0)])  # a network of one edge
    assert d[0] == pytest.approx(100.0)


def test_disconnected_piece_reported_and_unreachable_across():
    lines = [[(0, 0), (100, 0)], [(300, 0), (350, 0)]]
    net = build_network(streets(*lines))
    assert net.report["components"] == 2 and net.report["largest_share"] == pytest.approx(100 / 150)
    assert net.component.tolist().count(0) == 2 and net.component.tolist().count(1) == 2
    o = snap_points(net, pts((320, 5), (10, 5)))
    t = snap_points(net, pts((50, 5)))
    d, i = nearest_distance(net, o, t)
    assert np.isnan(d[0]) and i[0] == -1  # across the gap: unreachable, not the straight line
    assert d[1] == pytest.approx(5 + 40 + 5) and i[1] == 0
    assert count_within(net, o, t, 10_000).tolist() == [0, 1]
    assert point_distances_within(net, o, t, 10_000).toarray()[0, 0] == 0  # absent


def test_target_beyond_the_cutoff():
    lines = [[(0, 0), (1000, 0)]]
    d, i = distances(lines, [(0, 0)], [(600, 0), (900, 0)])
    assert d[0] == pytest.approx(600.0) and i[0] == 0
    d, i = distances(lines, [(0, 0)], [(600, 0), (900, 0)], cutoff=500)
    assert np.isnan(d[0]) and i[0] == -1
    d, _ = distances(lines, [(0, 0)], [(600, 0)], cutoff=600)  # exactly at the cut-off counts
    assert d[0] == pytest.approx(600.0)
    d, _ = distances(lines, [(0, 10)], [(600, 0)], cutoff=605)  # the snap legs count toward it
    assert np.isnan(d[0])


def test_two_points_on_the_same_edge():
    d, i = distances([[(0, 0), (100, 0)]], [(30, 4)], [(70, 3)])
    assert d[0] == pytest.approx(4 + 40 + 3) and i[0] == 0
    # targets at both ends of one edge: each origin goes to the nearer end
    d, i = distances([[(0, 0), (100, 0)]], [(30, 0), (80, 0)], [(0, -2), (100, -1)])
    assert d.tolist() == pytest.approx([32.0, 21.0]) and i.tolist() == [0, 1]
    # several targets on the origin's edge, on both sides: the nearest counting its leg
    d, i = distances([[(0, 0), (1000, 0)]], [(500, 0)], [(300, 50), (380, 90), (560, 45), (700, 1), (650, 60)])
    assert d[0] == pytest.approx(min(250, 210, 105, 201, 210)) and i[0] == 2


def test_direct_way_along_the_edge_is_not_forced():
    # a 100 m straight street and a long detour between the same two nodes
    detour = [(0, 0), (0, 100), (100, 100), (100, 0)]  # 300 m
    lines = [[(0, 0), (100, 0)], detour]
    d, _ = distances(lines, [(0, 10)], [(100, 10)])  # both on the detour, 280 m apart along it
    assert d[0] == pytest.approx(10 + 100 + 10)


def test_unsplit_crossing_lines_are_noded():
    lines = [[(0, 0), (100, 100)], [(0, 100), (100, 0)]]  # an X without a common vertex
    net = build_network(streets(*lines))
    assert (net.report["nodes"], net.report["edges"], net.report["crossings_noded"]) == (5, 4, 1)
    assert net.report["components"] == 1
    d, _ = distances(lines, [(0, 0)], [(0, 100)])
    assert d[0] == pytest.approx(2 * np.hypot(50, 50))


@pytest.mark.parametrize("levels", [
    {"bridge": [None, "yes", None]},  # a footbridge over the street
    {"tunnel": [None, "yes", None]},  # an underpass
    {"layer": [None, "-1", None]},  # a path one level down
    {"layer": [0, 1, 1], "bridge": [None, "viaduct", "no"]},
])
def test_ways_on_different_levels_cross_without_a_junction(levels):
    # a street along y = 0; a way on another level crosses it at x = 100 from (100, -50) to (100, 50);
    # a plain path on the street's level from (100, 50) back down to the street's end at (200, 0)
    lines = [[(0, 0), (200, 0)], [(100, -50), (100, 50)], [(100, 50), (200, 0)]]
    layer = streets(*lines).assign(**levels)
    net = build_network(layer)
    assert net.report["crossings_noded"] == 0 and net.report["crossings_on_different_levels"] == 1
    assert net.report["components"] == 1  # joined at the shared end point (100, 50) only
    o, t = snap_points(net, pts((100, -50))), snap_points(net, pts((150, -5)))  # the target 5 m off the street
    d, _ = nearest_distance(net, o, t)  # up the crossing way, down the path, back along the street
    assert d[0] == pytest.approx(100 + np.hypot(100, 50) + 50 + 5)
    plain = build_network(layer.drop(columns=list(levels)))  # without the tags: noded, straight across
    assert plain.report["crossings_noded"] == 1
    d, _ = nearest_distance(plain, snap_points(plain, pts((100, -50))), snap_points(plain, pts((150, -5))))
    assert d[0] == pytest.approx(50 + 50 + 5)


def test_same_level_tags_still_node_the_crossing():
    lines = [[(0, 0), (200, 0)], [(100, -50), (100, 50)]]
    layer = streets(*lines).assign(layer=["1", 1.0], bridge=["yes", "viaduct"], tunnel=[None, "building_passage"])
    net = build_network(layer)
    assert net.report["crossings_noded"] == 1 and net.report["crossings_on_different_levels"] == 0


def test_lines_through_a_shared_vertex_are_noded():
    lines = [[(0, 0), (50, 0), (100, 0)], [(50, -50), (50, 0), (50, 50)]]
    net = build_network(streets(*lines))
    assert (net.report["nodes"], net.report["edges"]) == (5, 4)
    d, _ = distances(lines, [(0, 0)], [(50, 50)])
    assert d[0] == pytest.approx(100.0)


def test_three_lines_crossing_in_one_point_meet_in_one_node():
    lines = [[(0, 0), (100, 100)], [(0, 100), (100, 0)], [(50, -10), (50, 110)]]
    net = build_network(streets(*lines))
    assert net.report["nodes"] == 7 and net.report["edges"] == 6 and net.report["crossings_noded"] == 1


def test_endpoints_closer_than_the_tolerance_are_joined():
    lines = [[(0, 0), (100, 0)], [(100.3, 0), (200, 0)]]
    net = build_network(streets(*lines), join_tolerance_m=0.5)
    assert net.report["joined_endpoints"] == 1 and net.report["components"] == 1
    d, _ = distances(lines, [(0, 0)], [(200, 0)], tol=0.5)
    assert d[0] == pytest.approx(200.0)
    net = build_network(streets(*lines), join_tolerance_m=0.2)
    assert net.report["joined_endpoints"] == 0 and net.report["components"] == 2


def test_multilines_exploded_and_degenerate_pieces_dropped():
    gdf = gpd.GeoDataFrame(geometry=[
        MultiLineString([[(X0, Y0), (X0 + 100, Y0)], [(X0 + 100, Y0), (X0 + 100, Y0 + 50)]]),
        LineString([(X0 + 5, Y0 + 5), (X0 + 5, Y0 + 5)]),  # zero length
        Point(X0, Y0),  # not a line
        None,
    ], crs=CRS)
    net = build_network(gdf)
    assert net.report["edges"] == 2 and net.edge_source.tolist() == [0, 0]
    assert net.report["skipped_features"] == 3 and net.edge_len_m.sum() == pytest.approx(150.0)
    for g, u, v in zip(net.edge_geom, net.edge_u, net.edge_v, strict=True):  # geometry runs from u to v
        assert shapely.get_coordinates(g)[0] == pytest.approx(net.node_xy[u])
        assert shapely.get_coordinates(g)[-1] == pytest.approx(net.node_xy[v])


@pytest.mark.parametrize("rounds", [(16,), (1,)])  # (1,): few snaps can be certain, most take the fallback
def test_snapping_is_exact_against_query_nearest(monkeypatch, rounds):
    import analysis.network_paths as paths

    monkeypatch.setattr(paths, "K_NEAREST", rounds)
    rng = np.random.default_rng(3)
    lines = [[tuple(p) for p in rng.uniform(0, 500, (rng.integers(2, 6), 2))] for _ in range(60)]
    net = build_network(streets(*lines))
    points = pts(*rng.uniform(-100, 600, (3000, 2)))
    s = snap_points(net, points, max_snap_m=40)
    (i, e), d = net.edge_tree().query_nearest(points, max_distance=40, return_distance=True, all_matches=False)
    expected = np.full(len(points), np.nan)
    expected[i] = d
    np.testing.assert_allclose(s.snap_m, expected, atol=1e-9, equal_nan=True)
    on = s.edge >= 0
    assert 500 < on.sum() < len(points)
    np.testing.assert_allclose(shapely.distance(points[on], shapely.points(s.xy[on])), s.snap_m[on], atol=1e-9)
    located = shapely.line_locate_point(net.edge_geom[s.edge[on]], shapely.points(s.xy[on]))
    np.testing.assert_allclose(located, s.along_m[on], atol=1e-6)


def test_unreachable_points_reported_not_dropped():
    net = build_network(streets([(0, 0), (100, 0)]))
    s = snap_points(net, np.array([Point(X0 + 50, Y0 + 150), None, Point(X0 + 50, Y0 + 99)], dtype=object))
    assert s.edge.tolist() == [-1, -1, 0] and np.isnan(s.snap_m[:2]).all()
    assert s.snap_m[2] == pytest.approx(99.0) and s.reachable.tolist() == [False, False, True]
    d, i = nearest_distance(net, s, snap_points(net, pts((0, 0))))
    assert np.isnan(d[:2]).all() and d[2] == pytest.approx(99 + 50) and i.tolist() == [-1, -1, 0]


def test_point_distances_and_counts_within():
    net = build_network(streets([(0, 0), (1000, 0)], [(500, 0), (500, 300)]))
    a = snap_points(net, pts((100, 0), (500, 200)))
    b = snap_points(net, pts((100, 0), (150, 10), (400, 0), (900, 0), (500, 280)))
    m = point_distances_within(net, a, b, 300).toarray()
    expected = [[ZERO_M, 60, 300, 0, 0],  # 0 m stored as a tiny epsilon; 800 m and 480 m absent
                [0, 0, 300, 0, 80]]  # 200 m up the stem + 100 m along
    np.testing.assert_allclose(m, expected, atol=1e-6)
    assert count_within(net, a, b, 300).tolist() == [3, 2]
    assert count_within(net, b, a, 300).tolist() == [1, 1, 2, 0, 1]
    np.testing.assert_allclose(point_distances_within(net, b, a, 300).toarray(), np.array(expected).T, atol=1e-6)


# --- bad input, cancel, progress ---------------------------------------------------------------------

@pytest.mark.parametrize("gdf,words", [
    (gpd.GeoDataFrame(geometry=[], crs=CRS), "empty"),
    (gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs=CRS), "no lines"),
    (streets([(0, 0), (100, 0)], crs=None), "no coordinate reference system"),
    (gpd.GeoDataFrame(geometry=[LineString([(24.9, 60.1), (24.95, 60.2)])], crs="EPSG:4326"), "in degrees"),
])
def test_bad_street_layers(gdf, words):
    with pytest.raises(CityDeskError, match=words) as err:
        build_network(gdf)
    assert err.value.message.startswith("streets:") and err.value.fix


class Recorder:
    def __init__(self, cancel_at: int = 10**9):
        self.cancel_at, self.checks, self.fractions = cancel_at, 0, []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.checks >= self.cancel_at:
            raise Cancelled()


def test_build_cancels_and_reports_rising_progress():
    lines = [[(x, 0), (x, 500)] for x in range(0, 500, 50)] + [[(0, y), (500, y)] for y in range(0, 500, 50)]
    fb = Recorder()
    net = build_network(streets(*lines), feedback=fb)
    assert net.report["crossings_noded"] == 81 and fb.fractions[-1] == 1.0
    assert all(a <= b for a, b in zip(fb.fractions, fb.fractions[1:], strict=False))
    for n in range(1, fb.checks + 1):
        with pytest.raises(Cancelled):
            build_network(streets(*lines), feedback=Recorder(cancel_at=n))
    o = snap_points(net, pts((10, 10)))
    with pytest.raises(Cancelled):
        nearest_distance(net, o, o, feedback=Recorder(cancel_at=1))


# --- against networkx on the sample city ---------------------------------------------------------------

def _reference_graph(street_gdf, points, max_snap):
    """Independent reference: the street lines noded by shapely's ``unary_union``, each point
    (node ``("pt", i)``) put on the nearest noded line by ``query_nearest``, the line split there."""
    nx = pytest.importorskip("networkx")
    noded = shapely.get_parts(shapely.union_all(street_gdf.geometry.to_numpy()))
    tree = shapely.STRtree(noded)
    graph = nx.Graph()

    def key(xy):
        return (round(xy[0], 4), round(xy[1], 4))

    def add(a, b, w):
        if a != b and (not graph.has_edge(a, b) or graph[a][b]["weight"] > w):
            graph.add_edge(a, b, weight=w)

    (pi, li), legs = tree.query_nearest(points, max_distance=max_snap, return_distance=True, all_matches=False)
    on_line = {}
    for p, line, leg in zip(pi, li, legs, strict=True):
        along = shapely.line_locate_point(noded[line], points[p])
        on_line.setdefault(line, []).append((along, ("p", p)))
        add(("pt", p), ("p", p), leg)
    for line, geom in enumerate(noded):
        coords = shapely.get_coordinates(geom)
        stops = [(0.0, key(coords[0]))] + sorted(on_line.get(line, [])) + [(geom.length, key(coords[-1]))]
        for (a0, n0), (a1, n1) in zip(stops, stops[1:], strict=False):
            add(n0, n1, a1 - a0)
    return graph


def _networkx_nearest(street_gdf, origins, targets, max_snap):
    import networkx as nx

    graph = _reference_graph(street_gdf, np.concatenate([origins, targets]), max_snap)
    sources = [("pt", len(origins) + j) for j in range(len(targets)) if ("pt", len(origins) + j) in graph]
    lengths = nx.multi_source_dijkstra_path_length(graph, sources, weight="weight")
    return np.array([lengths.get(("pt", i), np.nan) for i in range(len(origins))])


def test_many_points_on_few_edges_match_networkx():
    lines = [[(0, 0), (1000, 0)], [(1000, 0), (1000, 600), (0, 600), (0, 0)], [(400, 0), (400, 600)]]
    gdf = streets(*lines)
    rng = np.random.default_rng(5)
    origins = pts(*rng.uniform((-50, -50), (1050, 650), (300, 2)))
    targets = pts(*rng.uniform((-50, -50), (1050, 650), (40, 2)))
    net = build_network(gdf)
    o, t = snap_points(net, origins), snap_points(net, targets)
    ours, idx = nearest_distance(net, o, t)
    np.testing.assert_allclose(ours, _networkx_nearest(gdf, origins, targets, 100), atol=1e-6)
    assert (np.isfinite(ours) == (idx >= 0)).all()
    within = point_distances_within(net, o, t, 250).toarray()
    reference = _networkx_within(gdf, origins, targets, 250, 100)
    np.testing.assert_allclose(within, reference, atol=1e-6)
    assert (within > 0).sum() > 300


def test_random_tangle_of_unsplit_lines_matches_networkx():
    """Sixty random polylines crossing each other (and themselves) anywhere."""
    rng = np.random.default_rng(11)
    lines = [[tuple(p) for p in rng.uniform(0, 800, (rng.integers(2, 7), 2))] for _ in range(60)]
    gdf = streets(*lines)
    net = build_network(gdf, join_tolerance_m=0.0)
    assert net.report["crossings_noded"] > 300
    origins, targets = pts(*rng.uniform(0, 800, (200, 2))), pts(*rng.uniform(0, 800, (15, 2)))
    ours, _ = nearest_distance(net, snap_points(net, origins), snap_points(net, targets))
    np.testing.assert_allclose(ours, _networkx_nearest(gdf, origins, targets, 100), atol=1e-6, equal_nan=True)
    assert np.isfinite(ours).sum() > 150


def _networkx_within(street_gdf, a, b, limit, max_snap):
    import networkx as nx

    graph = _reference_graph(street_gdf, np.concatenate([a, b]), max_snap)
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        if ("pt", i) not in graph:
            continue
        reach = nx.single_source_dijkstra_path_length(graph, ("pt", i), cutoff=limit, weight="weight")
        for j in range(len(b)):
            d = reach.get(("pt", len(a) + j))
            if d is not None:
                out[i, j] = max(d, ZERO_M)
    return out


@pytest.mark.skipif(not SAMPLE.exists(), reason="the sample city is not built")
def test_same_distances_as_networkx_on_the_sample_city():
    # without bridge/tunnel/layer: the reference (a unary_union) nodes every crossing, so ours must too
    street_gdf = gpd.read_file(SAMPLE, layer="streets")[["geometry"]]
    rng = np.random.default_rng(2024)
    lo, hi = street_gdf.total_bounds[:2], street_gdf.total_bounds[2:]
    origins = shapely.points(rng.uniform(lo, hi, (400, 2)))
    net = build_network(street_gdf, join_tolerance_m=0.0)  # unary_union joins nothing either
    o = snap_points(net, origins, max_snap_m=60)
    for n_targets in (1, 12, 40):
        targets = shapely.points(rng.uniform(lo, hi, (n_targets, 2)))
        ours, _ = nearest_distance(net, o, snap_points(net, targets, max_snap_m=60))
        reference = _networkx_nearest(street_gdf, origins, targets, 60)
        assert (np.isnan(ours) == np.isnan(reference)).all()
        assert np.isfinite(ours).sum() > 200
        np.testing.assert_allclose(ours, reference, atol=0.01, equal_nan=True)
    b = shapely.points(rng.uniform(lo, hi, (150, 2)))
    within = point_distances_within(net, o, snap_points(net, b, max_snap_m=60), 250).toarray()
    reference = _networkx_within(street_gdf, origins[:120], b, 250, 60)
    np.testing.assert_allclose(within[:120], reference, atol=0.01)
    assert (within > 0).sum() > 500


@pytest.mark.skipif(not SAMPLE.exists(), reason="the sample city is not built")
def test_sample_city_merged_back_into_whole_ways_gives_the_same_distances():
    """The OSM import splits ways at junctions; merged back into whole ways (junctions now inside
    lines) the network must be noded to the same distances."""
    split = gpd.read_file(SAMPLE, layer="streets")
    merged = split.dissolve(by="osm_id", as_index=False)
    merged["geometry"] = shapely.line_merge(merged.geometry.to_numpy())
    assert len(merged) < len(split) * 0.6
    rng = np.random.default_rng(7)
    lo, hi = split.total_bounds[:2], split.total_bounds[2:]
    origins, targets = shapely.points(rng.uniform(lo, hi, (300, 2))), shapely.points(rng.uniform(lo, hi, (10, 2)))
    result = []
    for gdf in (split, merged):
        net = build_network(gdf, join_tolerance_m=0.0)
        d, _ = nearest_distance(net, snap_points(net, origins), snap_points(net, targets))
        result.append(d)
    np.testing.assert_allclose(result[0], result[1], atol=1e-6, equal_nan=True)
    assert np.isfinite(result[0]).sum() > 200
