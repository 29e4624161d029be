"""Where a partitioned run reads its layers, tile by tile (no Qt, no Dask).

A *source* gives the features of a layer whose bounding box meets a box, with their **row id**
(the position in the whole layer, or a GeoPackage FID): ``select(box) -> (gdf, ids)``, rows in
layer order. :class:`FrameSource` wraps a GeoDataFrame already in memory (the window, small
runs); :class:`analysis.partition_files.FileSource` reads a GeoPackage layer by bounding box or a
folder of GeoParquet partitions one partition at a time, so a layer bigger than the client's
memory is only ever read piece by piece, on the workers.

:func:`hilbert_order` sorts points along a Hilbert curve: consecutive points are near each other,
so consecutive runs of it make compact tiles.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

Box = tuple[float, float, float, float]
#: Line ends closer than this are looked at together (twice the network's join tolerance, 0.5 m).
JOIN_M = 1.0


class FrameSource:
    """A layer held in memory; row ids are positions."""

    def __init__(self, gdf: gpd.GeoDataFrame):
        self.gdf = gdf
        self.crs = gdf.crs
        self._bounds = shapely.bounds(gdf.geometry.to_numpy())  # NaN for missing geometries

    def __len__(self) -> int:
        return len(self.gdf)

    def count(self) -> int:
        return len(self.gdf)

    def bounds(self) -> Box:
        """The layer's extent; NaN when it has no located feature (an empty layer)."""
        b = self._bounds
        if not np.isfinite(b).all(axis=1).any():
            return (np.nan,) * 4
        return (float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])),
                float(np.nanmax(b[:, 3])))

    def select(self, box: Box | None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        if box is None:
            return self.gdf, np.arange(len(self.gdf))
        b = self._bounds
        ids = np.flatnonzero((b[:, 0] <= box[2]) & (b[:, 2] >= box[0]) & (b[:, 1] <= box[3]) & (b[:, 3] >= box[1]))
        return self.gdf.iloc[ids], ids

    def rows(self, ids: np.ndarray) -> gpd.GeoDataFrame:
        return self.gdf.iloc[ids]

    def select_missing(self) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """The features without a geometry (or with an empty one), which no box selects."""
        geoms = self.gdf.geometry.to_numpy()
        ids = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        return self.gdf.iloc[ids], ids

    def select_lines(self, box: Box | None, join_m: float = JOIN_M) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """Like :meth:`select`, plus every line with an end in the same cluster of line ends (ends
        within ``join_m`` of each other, transitively) as an end of a selected line: the network
        builder moves the ends of a cluster to its first end (in layer order), which moves the
        whole first or last segment of a line; with every end of each such cluster present, the
        tile's lines end exactly where they do in the whole layer. Only the clusters of the
        selected lines' own ends are completed (the added lines lie outside the box, so where
        their far ends go does not matter)."""
        gdf, ids = self.select(box)
        if box is None or len(ids) == 0:
            return gdf, ids
        owner, labels = self._ends()
        if len(owner) == 0:
            return gdf, ids
        seed = np.isin(owner, ids)
        cluster = np.isin(labels, labels[seed])
        ids = np.union1d(ids, owner[cluster])
        return self.gdf.iloc[ids], ids

    def _ends(self):
        if not hasattr(self, "_end_index"):
            xy, owner = line_ends(self.gdf.geometry.to_numpy())
            self._end_index = (owner, end_labels(xy, JOIN_M))
        return self._end_index


def extent_of(boxes: list[Box]) -> Box:
    """The box holding all of ``boxes`` (those of empty layers, NaN, left out; none: a point at 0, 0)."""
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    b = b[np.isfinite(b).all(axis=1)]
    if len(b) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def line_ends(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The start and end points (n, 2) of the line parts of ``geoms`` and the row of each."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    lines = np.isin(shapely.get_type_id(parts), (1, 2)) & ~shapely.is_empty(parts)
    parts, owner = parts[lines], owner[lines]
    if len(parts) == 0:
        return np.empty((0, 2)), np.empty(0, np.int64)
    coords = shapely.get_coordinates(parts)
    last = np.cumsum(shapely.get_num_coordinates(parts)) - 1
    first = np.r_[0, last[:-1] + 1]
    xy = np.concatenate([coords[first], coords[last]])
    return xy, np.concatenate([owner, owner]).astype(np.int64)


def end_labels(xy: np.ndarray, join_m: float) -> np.ndarray:
    """A cluster number per end: ends linked by chains of ends at most ``join_m`` apart share one
    (all pairs found at once, then connected components: no per-end Python loop)."""
    if len(xy) == 0:
        return np.empty(0, np.int64)
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(join_m, output_type="ndarray")
    n = len(xy)
    graph = sp.coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def end_cluster(xy: np.ndarray, seed: np.ndarray, join_m: float) -> np.ndarray:
    """The ends (indices into ``xy``) linked to the ``seed`` ends by chains of ends at most
    ``join_m`` apart."""
    labels = end_labels(xy, join_m)
    wanted = np.zeros(int(labels.max(initial=-1)) + 1, bool)
    wanted[labels[seed]] = True
    return np.flatnonzero(wanted[labels])


def lines_in_boxes(source, boxes: list[Box]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The union of ``source.select_lines(box)`` over ``boxes`` (each feature once, in id order)."""
    got = [source.select_lines(b) for b in boxes]
    ids = np.concatenate([i for _, i in got]) if got else np.empty(0, np.int64)
    if len(ids) == 0:
        return source.select((0.0, 0.0, -1.0, -1.0))
    frame = _concat([g for g, _ in got])
    ids, first = np.unique(ids, return_index=True)
    return gpd.GeoDataFrame(frame.iloc[first].reset_index(drop=True), crs=source.crs), ids


class BoxesReader:
    """Reads, on a worker, the lines of ``source`` within any of ``boxes`` (see :func:`lines_in_boxes`);
    the tile's own box is ignored. Picklable when ``source`` is."""

    def __init__(self, source, boxes: list[Box]):
        self.source, self.boxes = source, boxes

    def select_lines(self, _box: Box | None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        return lines_in_boxes(self.source, self.boxes)


def _inside_any(xy: np.ndarray, boxes: list[Box], by: float) -> np.ndarray:
    """Whether each point lies at least ``by`` inside one of ``boxes`` (the first, the tile's own
    box, holds most of them: only the others are tried against the many small boxes)."""
    x0, y0, x1, y1 = boxes[0]
    inside = (xy[:, 0] >= x0 + by) & (xy[:, 0] <= x1 - by) & (xy[:, 1] >= y0 + by) & (xy[:, 1] <= y1 - by)
    rest = np.flatnonzero(~inside)
    if len(rest) and len(boxes) > 1:
        b = np.array(boxes[1:], float) + (by, by, -by, -by)
        tree = shapely.STRtree(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]))
        hit = tree.query(shapely.points(xy[rest]), predicate="intersects")[0]
        inside[rest[np.unique(hit)]] = True
    return inside


def _member(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Per element of ``sorted_ids`` (sorted, unique): whether it is among ``values``."""
    pos = np.searchsorted(sorted_ids, values)
    ok = pos < len(sorted_ids)
    ok[ok] = sorted_ids[pos[ok]] == values[ok]
    out = np.zeros(len(sorted_ids), bool)
    out[pos[ok]] = True
    return out


def _end_boxes(xy: np.ndarray, by: float, cell_m: float = 250.0) -> list[Box]:
    """Boxes around the points ``xy``, one per occupied ``cell_m`` grid cell (few reads)."""
    cell = np.floor(xy / cell_m).astype(np.int64)
    _, group = np.unique(cell, axis=0, return_inverse=True)
    group = group.ravel()
    boxes = []
    for g in range(group.max() + 1):
        p = xy[group == g]
        lo, hi = p.min(axis=0), p.max(axis=0)
        boxes.append((float(lo[0] - by), float(lo[1] - by), float(hi[0] + by), float(hi[1] + by)))
    return boxes


def _concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def hilbert_order(xy: np.ndarray, bounds: Box | None = None, bits: int = 16) -> np.ndarray:
    """The order of the points ``xy`` (n, 2) along a Hilbert curve over ``bounds`` (default: the
    points' extent) on a 2**bits grid; NaN points last."""
    n = len(xy)
    ok = np.isfinite(xy).all(axis=1)
    if bounds is None:
        if not ok.any():
            return np.arange(n)
        lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
    else:
        lo, hi = np.array(bounds[:2], float), np.array(bounds[2:], float)
    side = (1 << bits) - 1
    span = np.maximum(hi - lo, 1e-9)
    g = np.clip(np.nan_to_num((xy - lo) / span * side), 0, side).astype(np.int64)
    x, y = g[:, 0].copy(), g[:, 1].copy()
    d = np.zeros(n, np.int64)
    s = 1 << (bits - 1)
    while s > 0:  # the classic xy -> d conversion, vectorised over the points
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        flip = ~ry
        swap_x = np.where(flip & rx, side - x, x)
        swap_y = np.where(flip & rx, side - y, y)
        x, y = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    d[~ok] = np.iinfo(np.int64).max
    return np.argsort(d, kind="stable")
