"""The walking-network engine on the synthetic city: build the graph, snap every building and six
destination layers, then one nearest-facility pass per layer; against networkx
(``multi_source_dijkstra`` on the same graph with the same snapped points) and pandana
(``nearest_pois``, which snaps points to the nearest node).

    python benchmarks/bench_network.py [--sizes 10000 100000 1000000] [--networkx-at 10000]
                                       [--pandana-at 10000 100000] [--age-friendly-at 10000 100000]

networkx and pandana are benchmark-only: ``pip install networkx pandana`` (not CityDesk
dependencies). Prints seconds per step, the ratios (above 1: CityDesk is faster) and the mean
difference pandana's node snapping makes against CityDesk's exact-to-the-edge distances.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.network import build_network, nearest_distance, snap_points  # noqa: E402
from analysis.population import origins  # noqa: E402
from benchmarks.synthetic_city import synthetic_city, synthetic_destinations, synthetic_network  # noqa: E402

#: The same search radius for every engine (pandana needs one), metres.
MAX_DIST_M = 2000.0


def ours(streets, homes, dests) -> tuple[dict, object, object, dict]:
    times = {}
    t = time.perf_counter()
    net = build_network(streets)
    times["build"] = time.perf_counter() - t
    t = time.perf_counter()
    home_s = snap_points(net, homes)
    dest_s = {name: snap_points(net, pts) for name, pts in dests.items()}
    times["snap"] = time.perf_counter() - t
    t = time.perf_counter()
    dist = {name: nearest_distance(net, home_s, s, cutoff_m=MAX_DIST_M)[0] for name, s in dest_s.items()}
    times["nearest x6"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    return times, net, (home_s, dest_s), dist


def with_networkx(net, home_s, dest_s) -> tuple[dict, dict]:
    """networkx on the same graph, the same snapped points inserted by splitting their edges."""
    import networkx as nx

    t = time.perf_counter()
    layers = [("home", home_s)] + [(name, s) for name, s in dest_s.items()]
    keys, edges, alongs, legs = [], [], [], []
    for name, s in layers:
        ok = np.flatnonzero(s.edge >= 0)
        keys += [(name, int(i)) for i in ok]
        edges.append(s.edge[ok])
        alongs.append(s.along_m[ok])
        legs.append(s.snap_m[ok])
    edge, along, leg = np.concatenate(edges), np.concatenate(alongs), np.concatenate(legs)
    graph = nx.Graph()
    order = np.lexsort((along, edge))
    on_edge = {}
    for k in order:
        on_edge.setdefault(int(edge[k]), []).append(k)
    for e in range(len(net.edge_u)):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_len_m[e])
        stops = [(0.0, u)] + [(float(along[k]), ("at", k)) for k in on_edge.get(e, [])] + [(length, v)]
        for (a0, n0), (a1, n1) in zip(stops, stops[1:], strict=False):
            if n0 != n1 and (not graph.has_edge(n0, n1) or graph[n0][n1]["weight"] > a1 - a0):
                graph.add_edge(n0, n1, weight=a1 - a0)
    for k, key in enumerate(keys):
        graph.add_edge(key, ("at", k), weight=float(leg[k]))
    build = time.perf_counter() - t
    t = time.perf_counter()
    out = {}
    for name, s in dest_s.items():
        lengths = nx.multi_source_dijkstra_path_length(graph, [(name, int(i)) for i in np.flatnonzero(s.edge >= 0)],
                                                       cutoff=MAX_DIST_M, weight="weight")
        out[name] = np.array([lengths.get(("home", i), np.nan) for i in range(len(home_s.edge))])
    passes = time.perf_counter() - t
    return {"graph": build, "nearest x6": passes, "total": build + passes}, out


@contextlib.contextmanager
def _quiet():
    """Silence output written by C++ code (pandana prints its progress)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def with_pandana(net, homes, dests) -> tuple[dict, dict]:
    """pandana on the same nodes and edges: its network (contraction hierarchies, built once per
    network) and then nearest_pois per layer, points snapped to their nearest node."""
    import pandana
    import pandas as pd

    t = time.perf_counter()
    with _quiet():
        network = pandana.Network(pd.Series(net.node_xy[:, 0]), pd.Series(net.node_xy[:, 1]),
                                  pd.Series(net.edge_u), pd.Series(net.edge_v),
                                  pd.DataFrame({"length": net.edge_len_m}), twoway=True)
        prepared = time.perf_counter()
        hxy = shapely.get_coordinates(homes)
        home_nodes = network.get_node_ids(pd.Series(hxy[:, 0]), pd.Series(hxy[:, 1])).to_numpy()
        out = {}
        for name, pts in dests.items():
            xy = shapely.get_coordinates(pts)
            network.set_pois(name, MAX_DIST_M, 1, pd.Series(xy[:, 0]), pd.Series(xy[:, 1]))
            near = network.nearest_pois(MAX_DIST_M, name, num_pois=1)[1]
            d = np.array(near.reindex(home_nodes), dtype=float)
            d[d >= MAX_DIST_M] = np.nan
            out[name] = d
    done = time.perf_counter()
    return {"network": prepared - t, "queries": done - prepared, "total": done - t}, out


SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "helsinki.gpkg"
SAMPLE_DESTINATIONS = ("transit_stops", "benches", "toilets", "pharmacies", "groceries", "healthcare")


def sample_city_note() -> str:
    """CityDesk and pandana on the real network of the sample city (central Helsinki)."""
    import geopandas as gpd

    streets = gpd.read_file(SAMPLE, layer="streets")
    homes = origins(gpd.read_file(SAMPLE, layer="buildings"))
    dests = {name: gpd.read_file(SAMPLE, layer=name).geometry.to_numpy() for name in SAMPLE_DESTINATIONS}
    times, net, _, dist = ours(streets, homes, dests)
    pd_times, pd_dist = with_pandana(net, homes, dests)
    signed = np.concatenate([(dist[k] - pd_dist[k])[np.isfinite(dist[k]) & np.isfinite(pd_dist[k])] for k in dist])
    return (f"sample city ({len(homes)} buildings, {len(net.node_xy):,} nodes): CityDesk {times['total']:.3f} s, "
            f"pandana {pd_times['total']:.3f} s ({pd_times['network']:.3f} s of it its network); exact minus "
            f"node-to-node distances: mean {signed.mean():+.1f} m, mean absolute {np.abs(signed).mean():.1f} m")


def age_friendly_note(n: int) -> str:
    """The whole age-friendly analysis on the synthetic city of ``n`` buildings, with the time of
    the greedy new-bench siting apart."""
    from analysis import age_friendly_rest
    from analysis.age_friendly import age_friendly

    city = synthetic_city(n)
    layers = {**synthetic_destinations(n), "green_spaces": city["green_spaces"]}
    streets = synthetic_network(n)
    spent = {}
    propose = age_friendly_rest.propose_benches

    def timed(*args, **kw):
        t = time.perf_counter()
        try:
            return propose(*args, **kw)
        finally:
            spent["benches"] = time.perf_counter() - t

    import analysis.age_friendly as module
    module.propose_benches = timed
    try:
        t = time.perf_counter()
        result = age_friendly(city["buildings"], streets, new_benches_k=5, **layers)
        total = time.perf_counter() - t
    finally:
        module.propose_benches = propose
    return (f"{n:>10,}: age-friendly (7 roles, rests, 5 new benches) {total:.2f} s, of it the greedy bench siting "
            f"{spent.get('benches', 0.0):.2f} s; {result.summary['new_benches_residents_connected']:,.0f} residents "
            f"connected by the new benches")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--networkx-at", type=int, nargs="*", default=[10_000])
    parser.add_argument("--pandana-at", type=int, nargs="*", default=[10_000])
    parser.add_argument("--age-friendly-at", type=int, nargs="*", default=[],
                        help="also time the whole age-friendly analysis (six destination layers, parks, rests, "
                             "five new benches) at these sizes")
    args = parser.parse_args(argv)
    try:
        import networkx  # noqa: F401
    except ImportError:
        print("networkx not available (pip install networkx): no networkx comparison")
        args.networkx_at = []
    try:
        import pandana  # noqa: F401
    except ImportError:
        print("pandana not available (pip install pandana): no pandana comparison")
        args.pandana_at = []
    warm = synthetic_city(400)  # first calls load code and caches: keep them out of the timings
    ours(synthetic_network(400), origins(warm["buildings"]), {"stops": warm["transit_stops"].geometry.to_numpy()})
    print(f"{'buildings':>10} {'nodes':>9} {'edges':>9} {'build s':>8} {'snap s':>7} {'6 pass s':>8} {'total s':>8}")
    totals = {}
    notes = []
    for n in args.sizes:
        city = synthetic_city(n)
        homes = origins(city["buildings"])
        dests = {name: g.geometry.to_numpy() for name, g in synthetic_destinations(n).items()}
        streets = synthetic_network(n)
        times, net, (home_s, dest_s), dist = ours(streets, homes, dests)
        totals[n] = times["total"]
        print(f"{n:>10,} {len(net.node_xy):>9,} {len(net.edge_u):>9,} {times['build']:>8.2f} {times['snap']:>7.2f} "
              f"{times['nearest x6']:>8.2f} {times['total']:>8.2f}", flush=True)
        t = time.perf_counter()
        unsplit = build_network(city["streets"])
        notes.append(f"{n:>10,}: building from {len(city['streets']):,} unsplit grid lines (noding "
                     f"{unsplit.report['crossings_noded']:,} crossings) took {time.perf_counter() - t:.2f} s")
        if n in args.networkx_at:
            nx_times, nx_dist = with_networkx(net, home_s, dest_s)
            diff = max(float(np.nanmax(np.abs(nx_dist[k] - dist[k]))) for k in dist)
            passes, total = nx_times["nearest x6"] / times["nearest x6"], nx_times["total"] / times["total"]
            notes.append(f"{n:>10,}: networkx graph {nx_times['graph']:.2f} s + six multi_source_dijkstra "
                         f"{nx_times['nearest x6']:.2f} s; ratio networkx / CityDesk: passes {passes:.1f}x, "
                         f"all {total:.1f}x (max distance difference {diff:.2e} m)")
        if n in args.pandana_at:
            pd_times, pd_dist = with_pandana(net, homes, dests)
            both = {k: np.isfinite(pd_dist[k]) & np.isfinite(dist[k]) for k in dist}
            signed = np.concatenate([(dist[k] - pd_dist[k])[both[k]] for k in dist])
            notes.append(f"{n:>10,}: pandana network (contraction hierarchies) {pd_times['network']:.2f} s + node "
                         f"ids and six set_pois/nearest_pois {pd_times['queries']:.2f} s; ratio pandana / CityDesk: "
                         f"all {pd_times['total'] / times['total']:.2f}x, without building the networks "
                         f"{pd_times['queries'] / (times['snap'] + times['nearest x6']):.2f}x")
            notes.append(f"{n:>10,}: CityDesk's exact distances minus pandana's node-to-node ones: mean "
                         f"{signed.mean():+.1f} m, mean absolute {np.abs(signed).mean():.1f} m, "
                         f"largest {np.abs(signed).max():.1f} m")
    for n in args.age_friendly_at:
        notes.append(age_friendly_note(n))
    if args.pandana_at and SAMPLE.exists():
        notes.append(sample_city_note())
    for note in notes:
        print(note)
    sizes = sorted(totals)
    for a, b in zip(sizes, sizes[1:], strict=False):
        print(f"growth {a:,} -> {b:,} buildings (x{b / a:.0f}): time x{totals[b] / totals[a]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
