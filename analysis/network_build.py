"""The walking graph built from a street layer (conventions in :mod:`analysis.network`).

Lines are cut ("noded") wherever the network has a junction, and nowhere else:

1. line ends closer than ``join_tolerance_m`` become one node (KD-tree clusters);
2. a line end lying on another line (within the tolerance), or a vertex that two lines share,
   cuts the other line there (a T junction, or streets digitised through a common vertex);
3. two segments that cross without a common vertex cut both lines at the crossing (an X) — unless
   they lie on different levels: when the layer has ``layer``, ``bridge`` or ``tunnel`` columns
   (OpenStreetMap tags, kept by the OSM import), a footbridge or an underpass crossing a street is
   not joined to it; where they share an end point or a vertex they still join (stairs up to a bridge).

An OSM import is already split at its junctions, so steps 2 and 3 find nothing in it: they are
one point-in-line query and one bounding-box query plus numpy orientation tests, not a general
``unary_union``. Edge weights are lengths in metres; disconnected pieces are kept and numbered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.gil import breathe, made_in_chunks

#: Crossing points of different segment pairs closer than this (metres) are one node.
SAME_POINT_M = 1e-6
_LINE_TYPES = (1, 2)  # LineString, LinearRing
_MULTI_TYPES = (4, 5, 6, 7)


@dataclass(frozen=True, eq=False)
class Network:
    """A walking graph in one projected metric CRS. Edges are undirected; ``edge_geom[i]`` runs
    from node ``edge_u[i]`` to node ``edge_v[i]`` and is ``edge_len_m[i]`` metres long (> 0).
    ``component`` numbers the connected pieces per node, 0 being the largest (most nodes).
    ``report`` holds what building found: nodes, edges, components, largest_share (share of the
    street length in component 0), joined_endpoints, crossings_noded, endpoints_on_lines,
    shared_vertices_noded, length_km, lines, skipped_features, dropped_pieces."""

    crs: pyproj.CRS
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_len_m: np.ndarray
    edge_geom: np.ndarray
    edge_source: np.ndarray
    component: np.ndarray
    report: dict
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def graph(self) -> sp.csr_matrix:
        """The node-by-node adjacency (both directions, the shortest of parallel edges, no loops)."""
        if "graph" not in self._cache:
            u, v, w = self.edge_u, self.edge_v, self.edge_len_m
            keep = u != v
            self._cache["graph"] = _csr_min(np.concatenate([u[keep], v[keep]]), np.concatenate([v[keep], u[keep]]),
                                            np.concatenate([w[keep], w[keep]]), len(self.node_xy))
        return self._cache["graph"]

    def piece_length_m(self) -> np.ndarray:
        """Metres of street in each connected piece (``component`` id -> length)."""
        if "piece_length" not in self._cache:
            self._cache["piece_length"] = np.bincount(self.component[self.edge_u], weights=self.edge_len_m,
                                                      minlength=int(self.component.max(initial=-1)) + 1)
        return self._cache["piece_length"]

    def edges_on_pieces_of(self, min_piece_m: float) -> np.ndarray:
        """True for each edge on the largest piece or on a piece with at least ``min_piece_m`` metres of street."""
        big = self.piece_length_m() >= float(min_piece_m)
        if len(big):
            big[0] = True
        return big[self.component[self.edge_u]]

    def edge_tree(self) -> shapely.STRtree:
        if "tree" not in self._cache:
            self._cache["tree"] = shapely.STRtree(self.edge_geom)
        return self._cache["tree"]


def build_network(streets: gpd.GeoDataFrame, *, join_tolerance_m: float = 0.5,
                  feedback: Feedback | None = None) -> Network:
    """The walking graph of ``streets`` (LineStrings or MultiLineStrings in a projected CRS in metres).

    Lines are noded at every junction (T junctions, shared vertices, crossings without a common
    vertex; user layers need not be split), line ends closer than ``join_tolerance_m`` are joined
    (and a line end that close to another line is joined to it), MultiLineStrings are exploded,
    zero-length pieces dropped. Edge weight = length in metres. Disconnected pieces are kept and
    reported (``component``, ``report``). Lines on different levels (columns ``layer``, ``bridge``,
    ``tunnel`` as OpenStreetMap tags them: a different ``layer`` number, untagged = 0, or one a
    bridge or tunnel and the other not) are not noded where they cross; the report counts those
    crossings as ``crossings_on_different_levels``. Raises :class:`CityDeskError` for an empty layer, a layer
    without lines or a layer not in a projected CRS.
    """
    fb = ensure(feedback)
    fb.check_cancelled()
    crs = _checked_crs(streets)
    tol = float(join_tolerance_m)
    if not np.isfinite(tol) or tol < 0:
        raise CityDeskError(f"the join tolerance {join_tolerance_m!r} m is not a distance",
                            fix="Give a tolerance of 0 m or more, e.g. 0.5")
    fb.progress(0.0, "Reading street lines")
    lines = _Lines.read(streets)
    fb.check_cancelled()
    fb.progress(0.15, "Joining line ends")
    joined = lines.join_ends(tol)
    fb.check_cancelled()
    fb.progress(0.3, "Finding junctions")
    geoms = lines.geometries()
    tree = shapely.STRtree(geoms)
    cuts_t = lines.ends_on_lines(tree, geoms, tol)
    cuts_v, n_shared = lines.shared_vertices(tree, geoms)
    fb.check_cancelled()
    fb.progress(0.45, "Finding crossings")
    cuts_x, n_crossings, n_levels = lines.crossings(tree if lines.two_point_only() else None, _levels(streets))
    fb.check_cancelled()
    fb.progress(0.6, "Cutting lines at junctions")
    pieces = lines.cut([cuts_t, cuts_v, cuts_x])
    fb.check_cancelled()
    fb.progress(0.75, "Numbering nodes")
    net = _assemble(lines, pieces, crs, tol)
    net.report.update(joined_endpoints=int(joined), endpoints_on_lines=int(len(cuts_t[0])),
                      shared_vertices_noded=int(n_shared), crossings_noded=int(n_crossings),
                      crossings_on_different_levels=int(n_levels),
                      lines=int(lines.n_lines), skipped_features=int(lines.skipped_rows))
    fb.progress(1.0, "Network built")
    return net


def _checked_crs(streets: gpd.GeoDataFrame) -> pyproj.CRS:
    if not isinstance(streets, gpd.GeoDataFrame):
        raise CityDeskError("the street layer has no geometries", source="streets", fix="Choose a line layer")
    if len(streets) == 0 or (streets.geometry.isna() | streets.geometry.is_empty).all():
        raise CityDeskError("the street layer is empty", source="streets",
                            fix="Choose a layer of streets and paths that holds lines")
    if streets.crs is None:
        raise CityDeskError("the street layer has no coordinate reference system", source="streets",
                            fix="Set its CRS, or run the analysis through citydesk run or the window")
    crs = pyproj.CRS.from_user_input(streets.crs)
    if not crs.is_projected:
        raise CityDeskError(f"the street layer is in {crs.name}, in degrees: the network is measured in metres",
                            source="streets", fix="Reproject it to a projected CRS in metres "
                                                  "(citydesk run and the window do this for you)")
    return crs


class _Lines:
    """Street lines as flat coordinate arrays in local coordinates (shifted by ``origin`` for
    precision): ``xy[k]`` belongs to line ``line[k]``; line ``i`` runs ``start[i]..start[i+1]-1``."""

    def __init__(self, xy, line, source, origin, skipped_rows, parts=None):
        self.xy, self.line, self.source, self.origin = xy, line, source, origin
        self.parts = parts  # the input LineStrings themselves while no coordinate has changed
        self.skipped_rows = skipped_rows
        self.n_lines = len(source)
        self.start = np.searchsorted(line, np.arange(self.n_lines + 1))
        self.end_label = None  # node candidate id of each line's start and end, after join_ends
        self._measure()

    def _measure(self) -> None:
        """``cum``: the distance along its line of every vertex."""
        seg = np.diff(self.xy, axis=0)
        seglen = np.hypot(seg[:, 0], seg[:, 1])
        seglen[self.line[1:] != self.line[:-1]] = 0.0
        cum = np.concatenate([[0.0], np.cumsum(seglen)])
        self.cum = cum - np.repeat(cum[self.start[:-1]], np.diff(self.start))

    @classmethod
    def read(cls, streets: gpd.GeoDataFrame) -> _Lines:
        parts = np.asarray(streets.geometry.to_numpy(), dtype=object)
        row = np.arange(len(parts))
        for _ in range(3):  # multi-lines, collections of multi-lines
            multi = np.isin(shapely.get_type_id(parts), _MULTI_TYPES)
            if not multi.any():
                break
            sub, sub_row = shapely.get_parts(parts[multi], return_index=True)
            parts = np.concatenate([parts[~multi], sub])
            row = np.concatenate([row[~multi], row[multi][sub_row]])
        is_line = np.isin(shapely.get_type_id(parts), _LINE_TYPES) & ~shapely.is_empty(parts)
        if not is_line.any():
            raise CityDeskError("the street layer has no lines", source="streets",
                                fix="Choose a layer of streets and paths (LineStrings)")
        parts, row = parts[is_line], row[is_line]
        xy, idx = shapely.get_coordinates(parts, return_index=True)
        n_coords = len(xy)
        bad = np.zeros(len(parts), bool)
        bad[idx[~np.isfinite(xy).all(axis=1)]] = True
        keep = ~bad[idx]
        # drop repeated vertices; lines left with fewer than two are zero-length
        same = np.zeros(len(xy), bool)
        same[1:] = (idx[1:] == idx[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
        keep &= ~same
        xy, idx = xy[keep], idx[keep]
        counts = np.bincount(idx, minlength=len(parts))
        long_enough = counts >= 2
        keep = long_enough[idx]
        xy, idx = xy[keep], idx[keep]
        if len(xy) == 0:
            raise CityDeskError("the street layer has no lines of any length", source="streets",
                                fix="Choose a layer of streets and paths (LineStrings)")
        new_id = np.cumsum(long_enough) - 1
        line = new_id[idx]
        source = row[long_enough]
        origin = np.floor(xy.min(axis=0))
        skipped = len(streets) - np.count_nonzero(np.bincount(source, minlength=len(streets)))
        pristine = len(xy) == n_coords and (shapely.get_type_id(parts) == 1).all()
        return cls(xy - origin, line, source, origin, skipped, parts if pristine else None)

    def geometries(self) -> np.ndarray:
        """The lines as LineStrings in the layer's coordinates."""
        if self.parts is not None:
            return self.parts
        return made_in_chunks(shapely.linestrings, self.xy + self.origin, self.line)

    def two_point_only(self) -> bool:
        return bool((np.diff(self.start) == 2).all())

    def join_ends(self, tol: float) -> int:
        """Line ends closer than ``tol`` get one coordinate (the first of their cluster); sets
        ``end_label``. Returns how many line ends moved."""
        ends = np.concatenate([self.start[:-1], self.start[1:] - 1])
        uniq, inv = _unique_rows(self.xy[ends])
        label, first = np.arange(len(uniq)), np.arange(len(uniq))
        if tol > 0 and len(uniq) > 1:
            pairs = cKDTree(uniq).query_pairs(tol, output_type="ndarray")
            if len(pairs):
                adj = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(uniq),) * 2)
                n_groups, label = connected_components(adj, directed=False)
                first = np.full(n_groups, len(uniq))
                np.minimum.at(first, label, np.arange(len(uniq)))  # each cluster's first point
        moved_to = uniq[first][label]
        self.node_candidates = uniq[first]
        new = moved_to[inv]
        moved = int((new != self.xy[ends]).any(axis=1).sum())
        self.xy[ends] = new
        self.end_label = label[inv].reshape(2, -1)
        if moved:
            self._measure()
            self.parts = None
        return moved

    def ends_on_lines(self, tree, geoms, tol: float):
        """Cuts where a line end lies on another line other than at its ends: exactly, or within
        ``tol`` for a dangling end (one no other line end shares: a street drawn a little short)."""
        pts = shapely.points(self.node_candidates + self.origin)
        p, ln = tree.query(pts, predicate="intersects")
        if tol > 0:
            is_dangling = np.bincount(self.end_label.ravel(), minlength=len(pts)) == 1
            dangling = np.flatnonzero(is_dangling)
            dp, dln = tree.query(pts[dangling], predicate="dwithin", distance=tol)
            keep = ~is_dangling[p]  # the dangling ends' exact hits are among their near ones
            p, ln = np.concatenate([p[keep], dangling[dp]]), np.concatenate([ln[keep], dln])
        other = (self.end_label[0][ln] != p) & (self.end_label[1][ln] != p)
        p, ln = p[other], ln[other]
        along = shapely.line_locate_point(geoms[ln], pts[p])
        return ln, along, self.node_candidates[p], np.zeros(len(p))

    def shared_vertices(self, tree, geoms):
        """Cuts where an inner vertex of one line lies exactly on another line: at that vertex on
        its own line, and at the same point on the other. Returns the cuts and the number of such vertices."""
        inner = np.ones(len(self.xy), bool)
        inner[self.start[:-1]] = False
        inner[self.start[1:] - 1] = False
        k = np.flatnonzero(inner)
        if len(k) == 0:
            return _no_cuts(), 0
        pts = shapely.points(self.xy[k] + self.origin)
        q, ln = tree.query(pts, predicate="intersects")
        other = ln != self.line[k[q]]
        q, ln = q[other], ln[other]
        if len(q) == 0:
            return _no_cuts(), 0
        kv = k[q]
        along_other = shapely.line_locate_point(geoms[ln], pts[q])
        lines = np.concatenate([self.line[kv], ln])
        along = np.concatenate([self.cum[kv], along_other])
        xy = np.concatenate([self.xy[kv], self.xy[kv]])
        return (lines, along, xy, np.zeros(len(lines))), len(np.unique(kv))

    def crossings(self, line_tree, level=None):
        """Cuts where two segments cross at a point inside both (no common vertex), found by a
        bounding-box query and orientation tests; with ``level`` (a number per input row) only
        segments on the same level. Returns the cuts, the number of crossing points and the number
        of crossings left alone because the lines are on different levels."""
        k = np.flatnonzero(self.line[1:] == self.line[:-1])  # segment k runs from vertex k to k + 1
        a, b = self.xy[k], self.xy[k + 1]
        if line_tree is not None:  # every line is one segment: the line tree is the segment tree
            i, j = _query_all(line_tree, line_tree.geometries)
        else:
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
            i, j = _query_all(shapely.STRtree(boxes), boxes)
        keep = i < j
        i, j = i[keep], j[keep]
        a0, a1, b0, b1 = a[i], b[i], a[j], b[j]
        d1, d2 = _cross(a1 - a0, b0 - a0), _cross(a1 - a0, b1 - a0)
        d3, d4 = _cross(b1 - b0, a0 - b0), _cross(b1 - b0, a1 - b0)
        proper = (d1 * d2 < 0) & (d3 * d4 < 0)
        n_levels = 0
        if level is not None and proper.any():
            row_i, row_j = self.source[self.line[k[i]]], self.source[self.line[k[j]]]
            apart = proper & (level[row_i] != level[row_j])
            n_levels = int(apart.sum())
            proper &= ~apart
        if not proper.any():
            return _no_cuts(), 0, n_levels
        i, j, a0, a1 = i[proper], j[proper], a0[proper], a1[proper]
        d1, d2, d3, d4 = d1[proper], d2[proper], d3[proper], d4[proper]
        t, s = d3 / (d3 - d4), d1 / (d1 - d2)  # nonzero denominators: the signs differ
        pt = a0 + t[:, None] * (a1 - a0)
        pt, n_points = _merge_close(pt, SAME_POINT_M)
        ka, kb = k[i], k[j]
        along_a = self.cum[ka] + t * (self.cum[ka + 1] - self.cum[ka])
        along_b = self.cum[kb] + s * (self.cum[kb + 1] - self.cum[kb])
        lines = np.concatenate([self.line[ka], self.line[kb]])
        return (lines, np.concatenate([along_a, along_b]), np.concatenate([pt, pt]),
                np.ones(len(lines))), n_points, n_levels

    def cut(self, cut_sets) -> tuple[np.ndarray, np.ndarray]:
        """The lines cut at the given cuts ``(line, along, xy, priority)``: returns the piece
        coordinates and the piece id of each (pieces numbered in order, each >= 2 vertices)."""
        ln = np.concatenate([c[0] for c in cut_sets]).astype(np.int64)
        along = np.concatenate([c[1] for c in cut_sets])
        cxy = np.concatenate([c[2].reshape(-1, 2) for c in cut_sets])
        prio = np.concatenate([c[3] for c in cut_sets])
        length = self.cum[self.start[1:] - 1]
        inside = (along > 1e-9) & (along < length[ln] - 1e-9)
        ln, along, cxy, prio = ln[inside], along[inside], cxy[inside], prio[inside]
        if len(ln):  # one cut per place on a line: a junction or vertex cut wins over a computed crossing
            order = np.lexsort((prio, along, ln))
            ln, along, cxy, prio = ln[order], along[order], cxy[order], prio[order]
            new = np.ones(len(ln), bool)
            new[1:] = (ln[1:] != ln[:-1]) | (np.diff(along) >= SAME_POINT_M)
            group = np.cumsum(new) - 1
            best = np.lexsort((prio, group))
            first = best[np.r_[True, group[best][1:] != group[best][:-1]]]
            ln, along, cxy = ln[first], along[first], cxy[first]
        n_v = len(self.xy)
        all_line = np.concatenate([self.line, ln])
        all_along = np.concatenate([self.cum, along])
        is_cut = np.concatenate([np.zeros(n_v, np.int64), np.ones(len(ln), np.int64)])
        all_xy = np.concatenate([self.xy, cxy])
        order = np.lexsort((is_cut, all_along, all_line))
        all_line, is_cut, all_xy = all_line[order], is_cut[order], all_xy[order]
        before = np.cumsum(is_cut) - is_cut
        reps = 1 + is_cut  # a cut ends one piece and starts the next
        xy = np.repeat(all_xy, reps, axis=0)
        line = np.repeat(all_line, reps)
        piece = np.repeat(all_line + before, reps)
        second = np.zeros(len(piece), bool)
        second[(np.cumsum(reps) - 1)[is_cut == 1]] = True
        piece = piece + second
        same = np.zeros(len(xy), bool)
        same[1:] = (piece[1:] == piece[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
        xy, piece, line = xy[~same], piece[~same], line[~same]
        ok = np.bincount(piece)[piece] >= 2
        xy, piece, line = xy[ok], piece[ok], line[ok]
        piece = np.cumsum(np.r_[True, piece[1:] != piece[:-1]]) - 1  # numbered 0, 1, 2, ... again
        return xy, piece, line


def _assemble(lines: _Lines, pieces, crs: pyproj.CRS, tol: float) -> Network:
    """Nodes from the piece ends (exact coordinates), lengths, geometries and components."""
    xy, piece, line = pieces
    n_pieces = int(piece[-1]) + 1
    first = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
    last = np.r_[first[1:] - 1, len(piece) - 1]
    uniq, inv = _unique_rows(np.concatenate([xy[first], xy[last]]))
    u, v = inv[:n_pieces], inv[n_pieces:]
    seg = np.diff(xy, axis=0)
    inner = piece[1:] == piece[:-1]
    length = np.bincount(piece[1:][inner], weights=np.hypot(seg[inner, 0], seg[inner, 1]), minlength=n_pieces)
    keep = (length > 0) & ~((u == v) & (length <= max(2 * tol, SAME_POINT_M)))
    rows = keep[piece]
    new_piece = (np.cumsum(keep) - 1)[piece[rows]]
    u, v, length, source = u[keep], v[keep], length[keep], lines.source[line[first][keep]]
    # nodes numbered along 250 m bands, west to east: neighbours get near numbers (faster searches)
    used = np.zeros(len(uniq), bool)
    used[u] = used[v] = True
    ids = np.flatnonzero(used)
    ids = ids[np.lexsort((uniq[ids, 0], np.floor(uniq[ids, 1] / 250.0)))]
    renum = np.empty(len(uniq), np.int64)
    renum[ids] = np.arange(len(ids))
    u, v = renum[u], renum[v]
    node_xy = uniq[ids] + lines.origin
    if lines.parts is not None and n_pieces == lines.n_lines:  # nothing cut or moved: the lines are the edges
        geoms = lines.parts[keep]
    else:
        geoms = made_in_chunks(shapely.linestrings, xy[rows] + lines.origin, new_piece)
    n = len(node_xy)
    adj = sp.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    n_comp, label = connected_components(adj, directed=False)
    sizes = np.bincount(label, minlength=n_comp)
    rank = np.empty(n_comp, np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(n_comp)
    component = rank[label]
    total = float(length.sum())
    report = {"nodes": int(n), "edges": int(len(u)), "components": int(n_comp),
              "largest_share": float(length[component[u] == 0].sum() / total) if total > 0 else 0.0,
              "length_km": total / 1000.0, "dropped_pieces": int(n_pieces - keep.sum())}
    return Network(crs=crs, node_xy=node_xy, edge_u=u.astype(np.int64), edge_v=v.astype(np.int64),
                   edge_len_m=length, edge_geom=geoms, edge_source=source.astype(np.int64),
                   component=component, report=report)


#: ``bridge``/``tunnel`` values that do not lift or sink a way (OSM: a passage through a building
#: or a roofed way is at street level).
_AT_GRADE = frozenset({"", "no", "false", "0", "building_passage", "covered"})


def _levels(streets: gpd.GeoDataFrame) -> np.ndarray | None:
    """A level number per row from the ``layer``, ``bridge`` and ``tunnel`` columns (None without
    them): rows with equal numbers are on the same level."""
    cols = {str(c).lower(): c for c in streets.columns}
    if not {"layer", "bridge", "tunnel"} & set(cols):
        return None
    n = len(streets)
    layer = np.zeros(n)
    if "layer" in cols:
        layer = pd.to_numeric(streets[cols["layer"]], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    flags = []
    for name in ("bridge", "tunnel"):
        if name in cols:
            text = streets[cols[name]].astype("string").str.strip().str.lower()
            flags.append((text.notna() & ~text.isin(_AT_GRADE)).to_numpy(dtype=bool))
        else:
            flags.append(np.zeros(n, dtype=bool))
    return np.round(layer).astype(np.int64) * 4 + flags[0] * 1 + flags[1] * 2


#: Geometries queried at a time (shapely holds the GIL while it queries a tree).
CHUNK = 50_000


def _query_all(tree: shapely.STRtree, geoms: np.ndarray) -> np.ndarray:
    """``tree.query(geoms)`` (pairs whose boxes meet) in chunks of ``geoms``, the same pairs in the same order."""
    parts = []
    for a in range(0, len(geoms), CHUNK):
        i, j = tree.query(geoms[a:a + CHUNK])
        parts.append(np.stack([i + a, j]))
        breathe()
    return np.concatenate(parts, axis=1) if parts else np.empty((2, 0), np.int64)


def _no_cuts():
    return np.empty(0, np.int64), np.empty(0), np.empty((0, 2)), np.empty(0)


def _cross(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]


def _unique_rows(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an (n, 2) float array (exact equality), in order of first appearance,
    and the inverse index (a hash table: ~3x faster than sorting)."""
    inv, uniq = pd.factorize(xy[:, 0] + 1j * xy[:, 1])
    return np.c_[uniq.real, uniq.imag], inv.astype(np.int64)


def _merge_close(pt: np.ndarray, tol: float) -> tuple[np.ndarray, int]:
    """Points closer than ``tol`` replaced by one of them; returns them and the count of distinct points."""
    uniq, inv = _unique_rows(pt)
    if len(uniq) > 1:
        pairs = cKDTree(uniq).query_pairs(tol, output_type="ndarray")
        if len(pairs):
            adj = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(uniq),) * 2)
            _, label = connected_components(adj, directed=False)
            _, first, label = np.unique(label, return_index=True, return_inverse=True)
            return uniq[first][label][inv], len(first)
    return uniq[inv], len(uniq)


def _csr_min(rows: np.ndarray, cols: np.ndarray, w: np.ndarray, n: int) -> sp.csr_matrix:
    """A CSR matrix keeping the smallest weight of repeated (row, col) entries (zero weights kept)."""
    shape = (n, n)
    pattern = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)  # a counting sort
    pattern.sum_duplicates()  # canonical: columns sorted within rows, so the keys below are sorted
    key = np.repeat(np.arange(n, dtype=np.int64), np.diff(pattern.indptr)) * n + pattern.indices
    data = np.full(pattern.nnz, np.inf)
    np.minimum.at(data, np.searchsorted(key, rows.astype(np.int64) * n + cols), w)
    return sp.csr_matrix((data, pattern.indices, pattern.indptr), shape=shape)


def csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """``csr_matrix((data, indices, indptr), shape)`` without scipy's scans of the index arrays (a
    min and max over each, holding the GIL: ~0.1 s at a few million entries): int32 indices where
    they fit, as scipy would choose."""
    small = max(shape, default=0) < 2**31 - 1 and len(indices) < 2**31 - 1
    dtype = np.int32 if small else np.int64
    return sp.csr_matrix((data, np.asarray(indices, dtype=dtype), np.asarray(indptr, dtype=dtype)), shape=shape)
