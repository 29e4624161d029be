"""Snapping points to the walking graph and nearest-facility distances (conventions in
:mod:`analysis.network`).

The distance between two points is: the origin's snap leg (straight, from the point to the
nearest point of the nearest edge) + the shortest distance along the network between the two
snapped positions + the target's snap leg. Snapped positions behave as virtual nodes inserted
on their edges: from a position at ``along`` metres on edge (u, v) of length L the way goes
``along`` to u or ``L - along`` to v, or straight along the edge to a position on the same edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from analysis.network_build import Network, csr
from layers.feedback import Feedback, ensure
from layers.gil import breathe

#: Pieces of segments indexed for snapping are at most this long (metres), and K are looked at.
INDEX_PIECE_M = 20.0
K_NEAREST = (16,)
#: Points snapped at a time.
SNAP_CHUNK = 20_000


@dataclass(frozen=True, eq=False)
class Snapped:
    """Points placed on a network: per point the nearest ``edge`` (-1 when farther than the snap
    distance or without geometry: unreachable), ``along_m`` (metres from the edge's node u along
    the edge), ``snap_m`` (the straight leg in metres, NaN when unreachable) and ``xy`` (the
    snapped position, NaN when unreachable). ``moved`` (with ``snap_points(..., min_piece_m=...)``,
    else None): True for each point whose nearest edge lay on a piece of network smaller than
    ``min_piece_m`` and that was placed on a larger piece instead."""

    edge: np.ndarray
    along_m: np.ndarray
    snap_m: np.ndarray
    xy: np.ndarray
    moved: np.ndarray | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.edge)

    @property
    def reachable(self) -> np.ndarray:
        """True for each point that snapped to an edge."""
        return self.edge >= 0

    def take(self, rows: np.ndarray) -> Snapped:
        """The snapped points ``rows`` (indices or a boolean mask), in that order."""
        moved = None if self.moved is None else self.moved[rows]
        return Snapped(self.edge[rows], self.along_m[rows], self.snap_m[rows], self.xy[rows], moved)


def snap_points(network: Network, points, *, max_snap_m: float = 100.0, min_piece_m: float = 0.0) -> Snapped:
    """Each point placed on the nearest point of the nearest edge (not the nearest node) within
    ``max_snap_m`` metres; farther points, and missing or empty geometries, are unreachable
    (``edge == -1``), never dropped. ``points``: shapely Points (a building's origin is its
    ``point_on_surface()``, see :func:`analysis.population.origins`) or an (n, 2) array of
    coordinates in ``network.crs``; other geometries count by their ``point_on_surface()``.

    ``min_piece_m`` > 0: small disconnected pieces of network (a courtyard path, steps mapped
    apart from the streets) are passed over: a point goes to the nearest edge of the largest
    piece or of a piece with at least ``min_piece_m`` metres of street, if one lies within
    ``max_snap_m``; else it stays on its small piece (and reaches only what that piece reaches).
    ``Snapped.moved`` then tells which points were placed on a larger piece than their nearest."""
    pts = _as_points(points)
    k = len(pts)
    edge = np.full(k, -1, np.int64)
    along = np.full(k, np.nan)
    snap = np.full(k, np.nan)
    xy = np.full((k, 2), np.nan)
    moved = np.zeros(k, bool) if min_piece_m > 0 else None
    ok = np.flatnonzero(~(shapely.is_missing(pts) | shapely.is_empty(pts)))
    if len(ok) == 0 or len(network.edge_geom) == 0:
        return Snapped(edge, along, snap, xy, moved)
    p = shapely.get_coordinates(pts[ok])
    edge[ok], along[ok], snap[ok], xy[ok] = _nearest_on_edges(network, p, float(max_snap_m))
    if min_piece_m > 0:
        allowed = network.edges_on_pieces_of(min_piece_m)
        small = np.flatnonzero((edge[ok] >= 0) & ~allowed[np.maximum(edge[ok], 0)])
        if len(small):
            e, a, d, q = _nearest_on_edges(network, p[small], float(max_snap_m), float(min_piece_m))
            found = e >= 0
            rows = ok[small[found]]
            edge[rows], along[rows], snap[rows], xy[rows] = e[found], a[found], d[found], q[found]
            moved[rows] = True
    return Snapped(edge, along, snap, xy, moved)


def _nearest_on_edges(network: Network, p: np.ndarray, max_d: float, min_piece_m: float = 0.0):
    """The nearest point of the nearest edge for each (x, y) in ``p`` within ``max_d`` (edge -1
    beyond): a KD-tree over the middles of short pieces (<= INDEX_PIECE_M) of every segment gives
    K candidates, exact when the best candidate is nearer than any other piece can be (its
    middle's distance minus half a piece); points left uncertain try more candidates, then the
    exact ``STRtree.query_nearest``. With ``min_piece_m`` > 0 only the edges of pieces that large
    (and of the largest piece) count."""
    n = len(p)
    if n > SNAP_CHUNK:  # the (points x K) work arrays of a whole big layer would not fit in the caches
        parts = []
        for i in range(0, n, SNAP_CHUNK):
            parts.append(_nearest_on_edges(network, p[i:i + SNAP_CHUNK], max_d, min_piece_m))
            breathe()
        return tuple(np.concatenate([part[j] for part in parts]) for j in range(4))
    edge = np.full(n, -1, np.int64)
    along, best, xy = np.full(n, np.nan), np.full(n, np.nan), np.full((n, 2), np.nan)
    todo = np.arange(n)
    for k in K_NEAREST:
        if len(todo) == 0:
            return edge, along, best, xy
        e, a, d, q, sure = _candidates(network, p[todo], max_d, k, min_piece_m)
        done = todo[sure]
        edge[done], along[done], best[done], xy[done] = e[sure], a[sure], d[sure], q[sure]
        todo = todo[~sure]
    if len(todo):
        pts = shapely.points(p[todo])
        tree, tree_edges = _edge_tree(network, min_piece_m)
        (i, e), d = tree.query_nearest(pts, max_distance=max_d, return_distance=True, all_matches=False)
        e = tree_edges[e]
        rows = todo[i]
        geoms = network.edge_geom[e]
        a = np.clip(shapely.line_locate_point(geoms, pts[i]), 0.0, network.edge_len_m[e])
        edge[rows], along[rows], best[rows] = e, a, d
        xy[rows] = shapely.get_coordinates(shapely.line_interpolate_point(geoms, a))
    return edge, along, best, xy


def _edge_tree(network: Network, min_piece_m: float) -> tuple[shapely.STRtree, np.ndarray]:
    """An STRtree over the edges that count (all, or those of pieces of at least ``min_piece_m``)
    and the edge id of each tree item."""
    if min_piece_m <= 0:
        return network.edge_tree(), np.arange(len(network.edge_geom))
    key = ("edge_tree", float(min_piece_m))
    if key not in network._cache:
        edges = np.flatnonzero(network.edges_on_pieces_of(min_piece_m))
        network._cache[key] = (shapely.STRtree(network.edge_geom[edges]), edges)
    return network._cache[key]


def _candidates(network: Network, p: np.ndarray, max_d: float, k: int, min_piece_m: float = 0.0):
    """Nearest edge point among the segments of the ``k`` nearest indexed pieces, and whether that is sure."""
    seg_a, seg_d, seg_len, seg_edge, seg_cum, tree, seg_of = _segment_index(network, min_piece_m)
    k = min(k, tree.n)
    dk, ik = tree.query(p, k=k, workers=-1)
    dk, ik = dk.reshape(len(p), k), ik.reshape(len(p), k)
    seg = seg_of[ik]
    a, dvec = seg_a[seg], seg_d[seg]
    t = np.clip(np.einsum("nkj,nkj->nk", p[:, None, :] - a, dvec) / np.maximum(seg_len[seg] ** 2, 1e-300), 0, 1)
    proj = a + t[..., None] * dvec
    off = p[:, None, :] - proj
    dist = np.hypot(off[..., 0], off[..., 1])
    j = np.argmin(dist, axis=1)
    r = np.arange(len(p))
    best, s_best = dist[r, j], seg[r, j]
    edge = seg_edge[s_best]
    along = np.minimum(seg_cum[s_best] + t[r, j] * seg_len[s_best], network.edge_len_m[edge])
    half = INDEX_PIECE_M / 2
    sure = (best <= dk[:, -1] - half) | (k == tree.n) | (dk[:, 0] - half > max_d)
    edge = np.where(best <= max_d, edge, -1)
    gone = edge < 0
    along[gone], best[gone] = np.nan, np.nan
    xy = proj[r, j]
    xy[gone] = np.nan
    return edge, along, best, xy, sure


def _segment_index(network: Network, min_piece_m: float = 0.0):
    """Segments of all edges (or of the edges of pieces of at least ``min_piece_m``): start,
    direction, length, edge, distance along the edge at the start; and a KD-tree over the middles
    of their pieces of at most INDEX_PIECE_M."""
    key = "segments" if min_piece_m <= 0 else ("segments", float(min_piece_m))
    if key not in network._cache:
        edges = (np.arange(len(network.edge_geom)) if min_piece_m <= 0
                 else np.flatnonzero(network.edges_on_pieces_of(min_piece_m)))
        coords, idx = shapely.get_coordinates(network.edge_geom[edges], return_index=True)
        k = np.flatnonzero(idx[1:] == idx[:-1])
        seg_a, seg_d = coords[k], coords[k + 1] - coords[k]
        seg_len = np.hypot(seg_d[:, 0], seg_d[:, 1])
        cum = np.r_[0.0, np.cumsum(seg_len)]
        first = np.searchsorted(idx[k], idx[k])  # first segment of each segment's edge
        seg_cum = cum[:-1] - cum[first]
        seg_edge = edges[idx[k]]
        pieces = np.maximum(1, np.ceil(seg_len / INDEX_PIECE_M).astype(np.int64))
        seg_of = np.repeat(np.arange(len(k)), pieces)
        frac = (np.arange(len(seg_of)) - np.repeat(np.cumsum(pieces) - pieces, pieces) + 0.5) / pieces[seg_of]
        tree = cKDTree(seg_a[seg_of] + frac[:, None] * seg_d[seg_of])
        network._cache[key] = (seg_a, seg_d, seg_len, seg_edge, seg_cum, tree, seg_of)
    return network._cache[key]


def nearest_distance(network: Network, origins: Snapped, targets: Snapped, *, cutoff_m: float | None = None,
                     feedback: Feedback | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per origin, the walking distance in metres to the nearest target and that target's index:
    origin snap leg + network distance between the snapped positions + target snap leg, exact.

    One multi-source shortest-path pass (``scipy.sparse.csgraph.dijkstra``, ``min_only=True``)
    from the targets, each a virtual node joined to the two ends of its edge; an origin and a
    target on the same edge also count the direct way along it. NaN and -1 where there is no
    target (unreachable origin, no target on its piece of network) or the nearest is farther
    than ``cutoff_m``.
    """
    fb = ensure(feedback)
    fb.check_cancelled()
    n_o = len(origins.edge)
    dist = np.full(n_o, np.nan)
    nearest = np.full(n_o, -1, np.int64)
    o_ok = np.flatnonzero(origins.edge >= 0)
    t_ok = np.flatnonzero(targets.edge >= 0)
    if len(o_ok) == 0 or len(t_ok) == 0:
        fb.progress(1.0, "No targets on the network")
        return dist, nearest
    limit = np.inf if cutoff_m is None else float(cutoff_m)
    n = len(network.node_xy)
    u, v, length = network.edge_u, network.edge_v, network.edge_len_m
    te, ta, ts = targets.edge[t_ok], targets.along_m[t_ok], targets.snap_m[t_ok]
    graph = with_sources(network.graph(), u[te], v[te], ts + ta, ts + length[te] - ta)
    fb.progress(0.2, "Shortest paths from the targets")
    d_node, _, src = dijkstra(graph, directed=True, indices=np.arange(n, n + len(t_ok)), min_only=True,
                              return_predecessors=True, limit=limit)
    fb.check_cancelled()
    fb.progress(0.8, "Distances per origin")
    oe, oa = origins.edge[o_ok], origins.along_m[o_ok]
    via_u = d_node[u[oe]] + oa
    via_v = d_node[v[oe]] + (length[oe] - oa)
    best = np.minimum(via_u, via_v)
    who = np.where(via_u <= via_v, src[u[oe]], src[v[oe]]) - n
    direct, direct_who = same_edge_nearest(oe, oa, te, ta, ts)
    better = direct < best
    best[better], who[better] = direct[better], direct_who[better]
    total = best + origins.snap_m[o_ok]
    found = np.isfinite(total) & (total <= limit)
    dist[o_ok[found]] = total[found]
    nearest[o_ok[found]] = t_ok[who[found]]
    fb.progress(1.0, "Nearest distances done")
    return dist, nearest


def with_sources(graph: sp.csr_matrix, to_u: np.ndarray, to_v: np.ndarray, w_u: np.ndarray,
                 w_v: np.ndarray) -> sp.csr_matrix:
    """``graph`` with one virtual node per source appended (ids n, n+1, ...), each with edges out
    to ``to_u`` and ``to_v`` of weights ``w_u`` and ``w_v`` (one edge, the shorter, when they are
    the same node); no edges lead in, so no path passes through a virtual node."""
    return csr(*augmented(graph.data, graph.indices, graph.indptr, to_u, to_v, w_u, w_v))


def augmented(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, to_u: np.ndarray, to_v: np.ndarray,
              w_u: np.ndarray, w_v: np.ndarray) -> tuple:
    """:func:`with_sources` on the arrays of a square CSR graph: ``(data, indices, indptr, shape)``
    of the augmented graph, for one matrix construction (a local search builds many)."""
    n, m = len(indptr) - 1, len(to_u)
    loop = to_u == to_v
    w_u = np.where(loop, np.minimum(w_u, w_v), w_u)
    cols = np.stack([to_u, to_v], axis=1)
    data_new = np.stack([w_u, w_v], axis=1)
    keep = np.ones((m, 2), bool)
    keep[:, 1] = ~loop
    swap = keep[:, 1] & (to_v < to_u)  # columns sorted within a row
    cols[swap] = cols[swap][:, ::-1]
    data_new[swap] = data_new[swap][:, ::-1]
    counts = keep.sum(axis=1)
    indptr = np.concatenate([indptr, indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([indices, cols[keep]])
    values = np.concatenate([data, data_new[keep]])
    return values, indices, indptr, (n + m, n + m)


def same_edge_nearest(o_edge: np.ndarray, o_along: np.ndarray, t_edge: np.ndarray, t_along: np.ndarray,
                      t_snap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per origin, the shortest ``|t_along - o_along| + t_snap`` over the targets on its own edge
    and that target's position in the target arrays (inf and -1 when none): a sweep along each
    edge with integer running maxima, exact and without a loop over edges."""
    k = len(o_edge)
    best = np.full(k, np.inf)
    who = np.full(k, -1, np.int64)
    on = np.flatnonzero(np.isin(o_edge, t_edge))
    if len(on) == 0:
        return best, who
    m = len(t_edge)
    edge = np.concatenate([t_edge, o_edge[on]])
    pos = np.concatenate([t_along, o_along[on]])
    is_origin = np.concatenate([np.zeros(m, np.int64), np.ones(len(on), np.int64)])
    order = np.lexsort((is_origin, pos, edge))  # targets first where positions tie
    _, group = np.unique(edge[order], return_inverse=True)
    is_t = is_origin[order] == 0
    item = order[~is_t] - m  # origin rows (into ``on``) in sweep order
    at = pos[order][~is_t]
    big = m + 1
    for value, sweep in ((t_along - t_snap, 1), (-(t_along + t_snap), -1)):
        rank = np.empty(m, np.int64)
        rank[np.argsort(value, kind="stable")] = np.arange(m)
        key = group.astype(np.int64) * big
        key[is_t] += rank[order[is_t]] + 1
        if sweep == 1:
            run = np.maximum.accumulate(key)
        else:  # right to left: reverse, so groups come in descending order; flip them
            rkey = (group.max() - group[::-1]).astype(np.int64) * big
            rkey[is_t[::-1]] += rank[order[::-1][is_t[::-1]]] + 1
            run = np.maximum.accumulate(rkey)[::-1]
        r = run[~is_t] % big - 1  # rank of the best target so far in this edge, -1 for none
        has = r >= 0
        t = np.argsort(value, kind="stable")[r[has]]
        d = (at[has] - t_along[t] if sweep == 1 else t_along[t] - at[has]) + t_snap[t]
        rows = on[item[has]]
        better = d < best[rows]
        best[rows[better]], who[rows[better]] = d[better], t[better]
    return best, who


def _as_points(points) -> np.ndarray:
    if isinstance(points, np.ndarray) and points.dtype != object:
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
        return shapely.points(xy)
    pts = np.asarray(getattr(points, "values", points), dtype=object).ravel()
    if len(pts) == 0:
        return pts
    types = shapely.get_type_id(pts)
    other = (types != 0) & (types >= 0)
    if other.any():
        pts = pts.copy()
        pts[other] = shapely.point_on_surface(pts[other])
    return pts
