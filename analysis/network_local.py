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
from analysis.network_paths import Snapped, augmented
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
            data, indices, indptr = _subgraph_arrays(graph, nodes, local)
            indptr = np.append(indptr, indptr[-1])  # the dummy node m: no edges out
            step = max(1, MAX_ENTRIES // (m + 1))  # a long limit over a big city: fewer sources per search
            for part in range(0, len(g), step):
                src = rows[g[part:part + step]]
                e, al = sources.edge[src], sources.along_m[src]
                lu, lv = local[u[e]], local[v[e]]
                lu = np.where(lu < 0, m, lu)  # an end outside the box is farther than the limit: to the dummy node
                lv = np.where(lv < 0, m, lv)
                aug = csr(*augmented(data, indices, indptr, lu, lv, al, length[e] - al))
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
    srcs, counts, cols, vals = [], [], [], []
    if len(a_ok) and len(b_ok):
        u, v, length = network.edge_u, network.edge_v, network.edge_len_m
        b_order = b_ok[np.argsort(b.xy[b_ok, 0], kind="stable")]
        b_x = b.xy[b_order, 0]
        n = len(network.node_xy)
        local = np.full(n, -1, np.int64)
        for src, nodes, dist in local_searches(network, a, a_ok, limit, fb):
            # every source is in one search only: its pairs are made here, in column order
            sxy = a.xy[src]
            lo, hi = sxy.min(axis=0) - limit, sxy.max(axis=0) + limit
            i0, i1 = np.searchsorted(b_x, [lo[0], hi[0]], side="left")
            cand = b_order[i0:i1]
            cand = np.sort(cand[(b.xy[cand, 1] >= lo[1]) & (b.xy[cand, 1] <= hi[1])])
            if len(cand) == 0:
                continue
            local[nodes] = np.arange(len(nodes))
            m = len(nodes)
            e, al = b.edge[cand], b.along_m[cand]
            lu, lv = local[u[e]], local[v[e]]
            lu, lv = np.where(lu < 0, m, lu), np.where(lv < 0, m, lv)
            local[nodes] = -1
            step = max(1, PAIR_ENTRIES // len(src))
            found_i, found_j, found_d = [], [], []
            for k in range(0, len(cand), step):
                s = slice(k, k + step)
                d = np.minimum(dist[:, lu[s]] + al[s], dist[:, lv[s]] + (length[e[s]] - al[s]))
                d += a.snap_m[src][:, None] + b.snap_m[cand[s]][None, :]
                i, j = np.nonzero(d <= limit)
                found_i.append(i)
                found_j.append(cand[s][j])
                found_d.append(d[i, j])
                breathe()
            i, j, d = (np.concatenate(x) for x in (found_i, found_j, found_d))
            if len(found_i) > 1:  # pieces of columns: rows apart again, columns in order within them
                order = np.argsort(i, kind="stable")
                i, j, d = i[order], j[order], d[order]
            srcs.append(src)
            counts.append(np.bincount(i, minlength=len(src)))
            cols.append(j)
            vals.append(d)
    same = _same_edge_pairs(a, a_ok, b, b_ok, limit) if len(a_ok) and len(b_ok) else None
    return _rows_matrix(srcs, counts, cols, vals, same, (len(a.edge), len(b.edge)))


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


def _subgraph_arrays(graph: sp.csr_matrix, nodes: np.ndarray, local: np.ndarray) -> tuple:
    """``(data, indices, indptr)`` of the rows and columns ``nodes`` of ``graph`` (``local`` maps a
    node to its position, -1 outside), columns in the order of ``graph`` within each row."""
    start = graph.indptr[nodes]
    counts = graph.indptr[nodes + 1] - start
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    offsets = np.repeat(start - (ends - counts), counts) + np.arange(total)
    col = local[graph.indices[offsets]]
    keep = col >= 0
    kept = np.zeros(total + 1, np.int64)
    np.cumsum(keep, out=kept[1:])
    indptr = np.r_[0, kept[ends]]  # kept entries up to the end of each row
    return graph.data[offsets[keep]], col[keep], indptr


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


def _rows_matrix(srcs, counts, cols, vals, same, shape) -> sp.csr_matrix:
    """The CSR matrix of the pairs found by the searches — per search its sources ``srcs``, the
    pairs per source ``counts`` and their columns and distances, by source and in column order;
    every source in one search only — with the ``same`` edge pairs ``(rows, cols, dist)`` merged
    in (the shorter where both have a pair), an actual 0 m stored as ``ZERO_M``. Blocks of rows
    put in order, not one sort of all pairs."""
    n_rows, n_cols = shape
    indptr = np.zeros(n_rows + 1, np.int64)
    for src, count in zip(srcs, counts, strict=True):
        indptr[src + 1] = count
    np.cumsum(indptr, out=indptr)
    col, val = np.empty(indptr[-1], np.int64), np.empty(indptr[-1])
    for src, count, j, d in zip(srcs, counts, cols, vals, strict=True):  # each block to its rows
        where = np.repeat(indptr[src] - (np.cumsum(count) - count), count) + np.arange(len(j))
        col[where] = j
        val[where] = d
        breathe()
    if same is not None and len(same[0]):
        col, val = _merged(indptr, col, val, same, n_cols)
    np.maximum(val, ZERO_M, out=val)
    out = csr(val, col, indptr, shape)
    out.has_sorted_indices = True  # sorted by (row, column) and without repeats: canonical
    out.has_canonical_format = True
    return out


def _merged(indptr: np.ndarray, col: np.ndarray, val: np.ndarray, same, n_cols: int):
    """``same`` pairs ``(rows, cols, dist)`` (no repeats) merged into the canonical CSR arrays
    (``indptr`` updated in place): the shorter distance where a pair is in both."""
    r, c, d = same
    key_b = r.astype(np.int64) * n_cols + c
    order = np.argsort(key_b)
    key_b, r, c, d = key_b[order], r[order], c[order], d[order]
    key_a = np.empty(len(col), np.int64)  # row * n_cols + column, sorted; made in pieces of rows
    cuts = np.unique(np.searchsorted(indptr, np.arange(0, len(col) + PAIR_ENTRIES, PAIR_ENTRIES)))
    for ra, rb in zip(cuts[:-1], np.minimum(cuts[1:], len(indptr) - 1), strict=True):
        piece = slice(indptr[ra], indptr[rb])
        key_a[piece] = np.repeat(np.arange(ra, rb, dtype=np.int64), np.diff(indptr[ra:rb + 1])) * n_cols
        key_a[piece] += col[piece]
        breathe()
    pos = np.searchsorted(key_a, key_b)
    both = pos < len(key_a)
    both[both] = key_a[pos[both]] == key_b[both]
    val[pos[both]] = np.minimum(val[pos[both]], d[both])
    new = ~both
    if new.any():
        col = np.insert(col, pos[new], c[new])
        breathe()
        val = np.insert(val, pos[new], d[new])
        indptr[1:] += np.cumsum(np.bincount(r[new], minlength=len(indptr) - 1))
    return col, val


def csr_from_entries(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> sp.csr_matrix:
    """The (n, n) CSR graph of the directed edges ``rows -> cols`` of weights ``vals``, in row order
    (a stable sort by row): repeated pairs are kept apart, not summed (a shortest-path search takes
    the shortest of them), so no ``sum_duplicates`` pass over the whole graph holding the GIL."""
    order = np.argsort(rows, kind="stable")
    breathe()
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n))]
    return csr(vals[order], cols[order], indptr, (n, n))
