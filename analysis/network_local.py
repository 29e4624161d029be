"""Distances within a limit between many points: bounded shortest paths on local pieces of the
network (conventions in :mod:`analysis.network`).

A walk of at most ``limit`` metres from a snapped position never leaves the disc of that radius
around it, so the sources are grouped by grid cell and each group searches only the nodes in
its cell's box widened by the limit: many small Dijkstra runs instead of one per source over
the whole city, and memory bounded by the group, not by the city.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from analysis.network_build import Network, csr
from analysis.network_paths import Snapped, with_sources
from layers.feedback import Feedback, ensure
from layers.gil import breathe

#: About this many sources per bounded search.
GROUP = 128
#: A cell of sources is at most this many limits wide.
CELL_LIMITS = 4.0
#: At most this many distances held at once per search (sources x nodes), 32 MB.
MAX_ENTRIES = 4_000_000
#: Source-target pairs compared at a time (np.nonzero over them holds the GIL: ~12 ms per million).
PAIR_ENTRIES = 1_000_000
#: A stored distance of exactly 0 m (absent entries of a sparse matrix mean "farther").
ZERO_M = 1e-9
#: A group of sources whose box holds more nodes than this is split in two (a long limit in a dense
#: city): every single numpy or scipy step of a search stays short, so the window never waits long.
MAX_BOX_NODES = 20_000


def local_searches(network: Network, sources: Snapped, rows: np.ndarray, limit_m: float,
                   feedback: Feedback | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For groups of the snapped ``sources[rows]`` (all on the network): ``(group_rows, nodes,
    dist)`` where ``dist[i, j]`` is the network distance in metres from the snapped position of
    source ``group_rows[i]`` (without its snap leg) to node ``nodes[j]``, inf beyond ``limit_m``;
    ``dist`` has one more column, all inf, that stands for "a node not in ``nodes``"."""
    fb = ensure(feedback)
    if len(rows) == 0:
        return
    xy = sources.xy[rows]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    area = max(float(np.prod(hi - lo)), 1.0)
    # cells of about GROUP sources, but not much wider than the limit: a few sources spread over a
    # city would otherwise search (and hold distances for) nodes far beyond their reach
    cell = max(float(limit_m), min(np.sqrt(area * GROUP / len(rows)), CELL_LIMITS * float(limit_m)), 1.0)
    ij = np.floor((xy - lo) / cell).astype(np.int64)
    key = ij[:, 0] * (ij[:, 1].max() + 1) + ij[:, 1]
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1], True])
    groups = [order[a:b][i:i + 2 * GROUP] for a, b in zip(bounds[:-1], bounds[1:], strict=True)
              for i in range(0, b - a, 2 * GROUP)]
    graph = network.graph()
    n = len(network.node_xy)
    node_order, node_x = _nodes_by_x(network)
    local = np.full(n + 1, -1, np.int64)
    u, v, length = network.edge_u, network.edge_v, network.edge_len_m
    for done, group in enumerate(groups):
        for g, nodes in _boxes(network, xy, group, float(limit_m), node_order, node_x):
            fb.check_cancelled()
            breathe()
            m = len(nodes)
            local[nodes] = np.arange(m)
            sub = _subgraph(graph, nodes, local)
            padded = csr(sub.data, sub.indices, np.r_[sub.indptr, sub.indptr[-1]], (m + 1, m + 1))
            step = max(1, MAX_ENTRIES // (m + 1))  # a long limit over a big city: fewer sources per search
            for part in range(0, len(g), step):
                src = rows[g[part:part + step]]
                e, al = sources.edge[src], sources.along_m[src]
                lu, lv = local[u[e]], local[v[e]]
                lu = np.where(lu < 0, m, lu)  # an end outside the box is farther than the limit: to the dummy node
                lv = np.where(lv < 0, m, lv)
                aug = with_sources(padded, lu, lv, al, length[e] - al)
                dist = dijkstra(aug, directed=True, indices=np.arange(m + 1, m + 1 + len(src)), limit=limit_m)
                dist = dist[:, : m + 1]
                dist[:, m] = np.inf
                yield src, nodes, dist
                fb.check_cancelled()
                breathe()
            local[nodes] = -1
        fb.progress((done + 1) / len(groups), "Walking distances")


def _boxes(network: Network, xy: np.ndarray, g: np.ndarray, limit_m: float, node_order: np.ndarray,
           node_x: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(sources, nodes)``: the group ``g`` (positions into ``xy``) with the sorted nodes of its box
    widened by ``limit_m``; a group whose box holds more than ``MAX_BOX_NODES`` nodes is split in two
    along its longer side, again and again (one source always searches its whole box)."""
    todo = [g]
    while todo:
        g = todo.pop()
        gxy = xy[g]
        box_lo, box_hi = gxy.min(axis=0) - limit_m, gxy.max(axis=0) + limit_m
        a, b = np.searchsorted(node_x, [box_lo[0], box_hi[0]], side="left")
        cand = node_order[a:b]
        y = network.node_xy[cand, 1]
        nodes = cand[(y >= box_lo[1]) & (y <= box_hi[1])]
        if len(nodes) > MAX_BOX_NODES and len(g) > 1:
            axis = int(np.argmax(box_hi - box_lo))
            order = g[np.argsort(gxy[:, axis], kind="stable")]
            half = len(order) // 2
            todo += [order[half:], order[:half]]  # the first half next
            continue
        yield g, np.sort(nodes)


def point_distances_within(network: Network, a: Snapped, b: Snapped, limit_m: float, *,
                           feedback: Feedback | None = None) -> sp.csr_matrix:
    """The (len(a), len(b)) walking distances in metres — snap leg of a + network distance between
    the snapped positions + snap leg of b — that are at most ``limit_m``; farther pairs and
    unreachable points are absent (an actual 0 m is stored as ``ZERO_M`` = 1e-9). Exact: bounded
    searches over local pieces of the network (:func:`local_searches`) plus the direct way
    along an edge for points on the same edge. The searches start from the smaller side."""
    if np.count_nonzero(b.edge >= 0) < np.count_nonzero(a.edge >= 0):
        return point_distances_within(network, b, a, limit_m, feedback=feedback).T.tocsr()
    fb = ensure(feedback)
    limit = float(limit_m)
    a_ok = np.flatnonzero((a.edge >= 0) & (a.snap_m <= limit))
    b_ok = np.flatnonzero((b.edge >= 0) & (b.snap_m <= limit))
    rows, cols, vals = [], [], []
    if len(a_ok) and len(b_ok):
        u, v, length = network.edge_u, network.edge_v, network.edge_len_m
        b_order = b_ok[np.argsort(b.xy[b_ok, 0], kind="stable")]
        b_x = b.xy[b_order, 0]
        n = len(network.node_xy)
        local = np.full(n, -1, np.int64)
        for src, nodes, dist in local_searches(network, a, a_ok, limit, fb):
            sxy = a.xy[src]
            lo, hi = sxy.min(axis=0) - limit, sxy.max(axis=0) + limit
            i0, i1 = np.searchsorted(b_x, [lo[0], hi[0]], side="left")
            cand = b_order[i0:i1]
            cand = cand[(b.xy[cand, 1] >= lo[1]) & (b.xy[cand, 1] <= hi[1])]
            if len(cand) == 0:
                continue
            local[nodes] = np.arange(len(nodes))
            m = len(nodes)
            e, al = b.edge[cand], b.along_m[cand]
            lu, lv = local[u[e]], local[v[e]]
            lu, lv = np.where(lu < 0, m, lu), np.where(lv < 0, m, lv)
            local[nodes] = -1
            step = max(1, PAIR_ENTRIES // len(src))
            for k in range(0, len(cand), step):
                s = slice(k, k + step)
                d = np.minimum(dist[:, lu[s]] + al[s], dist[:, lv[s]] + (length[e[s]] - al[s]))
                d += a.snap_m[src][:, None] + b.snap_m[cand[s]][None, :]
                i, j = np.nonzero(d <= limit)
                rows.append(src[i])
                cols.append(cand[s][j])
                vals.append(d[i, j])
                breathe()
        i, j, d = _same_edge_pairs(a, a_ok, b, b_ok, limit)
        rows.append(i)
        cols.append(j)
        vals.append(d)
    return _min_matrix(rows, cols, vals, (len(a.edge), len(b.edge)))


def count_within(network: Network, origins: Snapped, targets: Snapped, distance_m: float, *,
                 feedback: Feedback | None = None) -> np.ndarray:
    """Per origin, how many targets lie within ``distance_m`` metres of walking (snap legs
    included, as in :func:`point_distances_within`); 0 for an unreachable origin."""
    within = point_distances_within(network, origins, targets, distance_m, feedback=feedback)
    return np.diff(within.indptr).astype(np.int64)


def _nodes_by_x(network: Network) -> tuple[np.ndarray, np.ndarray]:
    if "nodes_by_x" not in network._cache:
        order = np.argsort(network.node_xy[:, 0], kind="stable")
        network._cache["nodes_by_x"] = (order, network.node_xy[order, 0])
    return network._cache["nodes_by_x"]


def _subgraph(graph: sp.csr_matrix, nodes: np.ndarray, local: np.ndarray) -> sp.csr_matrix:
    """The rows and columns ``nodes`` of ``graph`` (``local`` maps a node to its position, -1 outside)."""
    start, stop = graph.indptr[nodes], graph.indptr[nodes + 1]
    counts = stop - start
    total = int(counts.sum())
    offsets = np.repeat(start - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(total)
    row = np.repeat(np.arange(len(nodes)), counts)
    col = local[graph.indices[offsets]]
    keep = col >= 0
    indptr = np.r_[0, np.cumsum(np.bincount(row[keep], minlength=len(nodes)))]
    return csr(graph.data[offsets][keep], col[keep], indptr, (len(nodes), len(nodes)))


def _same_edge_pairs(a: Snapped, a_ok: np.ndarray, b: Snapped, b_ok: np.ndarray, limit: float):
    """The pairs of points on the same edge with the direct way along it, if within ``limit``."""
    b_sorted = b_ok[np.argsort(b.edge[b_ok], kind="stable")]
    be = b.edge[b_sorted]
    lo = np.searchsorted(be, a.edge[a_ok], side="left")
    hi = np.searchsorted(be, a.edge[a_ok], side="right")
    counts = hi - lo
    i = np.repeat(a_ok, counts)
    j = b_sorted[np.repeat(lo - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(int(counts.sum()))]
    d = np.abs(a.along_m[i] - b.along_m[j]) + a.snap_m[i] + b.snap_m[j]
    keep = d <= limit
    return i[keep], j[keep], d[keep]


def _min_matrix(rows, cols, vals, shape) -> sp.csr_matrix:
    if not rows:
        return sp.csr_matrix(shape)
    r, c, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    if len(r) == 0:  # no pair within the limit (np.r_[True, ...] below would be one too long)
        return sp.csr_matrix(shape)
    key = r.astype(np.int64) * shape[1] + c  # one integer key: one sort, not a three-key lexsort
    order = np.argsort(key)
    breathe()
    key, d = key[order], d[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    d = np.maximum(np.minimum.reduceat(d, start), ZERO_M)  # the shortest of repeated pairs
    key = key[start]
    breathe()
    r, c = key // shape[1], key % shape[1]
    indptr = np.r_[0, np.cumsum(np.bincount(r, minlength=shape[0]))]
    out = csr(d, c, indptr, shape)
    out.has_sorted_indices = True  # sorted by (row, column) and without repeats: canonical
    out.has_canonical_format = True
    return out


def csr_from_entries(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> sp.csr_matrix:
    """The (n, n) CSR graph of the directed edges ``rows -> cols`` of weights ``vals``, in row order
    (a stable sort by row): repeated pairs are kept apart, not summed (a shortest-path search takes
    the shortest of them), so no ``sum_duplicates`` pass over the whole graph holding the GIL."""
    order = np.argsort(rows, kind="stable")
    breathe()
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n))]
    return csr(vals[order], cols[order], indptr, (n, n))
