"""Tiles of a partitioned run (see :mod:`analysis.partition`): boxes, the grid over files, the
grouping of a later round's features, and the rows handed to the first round's tiles (no Qt, no
Dask)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.partition_files import FileSource
from analysis.partition_pieces import grid_cells
from analysis.partition_sources import (
    Box,
    BoxesReader,
    FrameSource,
    _end_boxes,
    hilbert_order,
    lines_in_boxes,
)
from analysis.population import origins

#: The ``ids`` of the task that reads a file's rows without geometry.
MISSING = "missing"


def widen(box: Box, by: float) -> Box:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def widen_all(pending, halo: float) -> list[Box]:
    return [widen(box, halo) for _ids, box in pending]


def covers(boxes: list[Box], extent: Box) -> bool:
    """True when every one of ``boxes`` holds the whole ``extent`` (each tile then sees everything)."""
    return all(b[0] <= extent[0] and b[1] <= extent[1] and b[2] >= extent[2] and b[3] >= extent[3] for b in boxes)


def xy_of(points: np.ndarray) -> np.ndarray:
    xy = np.full((len(points), 2), np.nan)
    ok = ~(shapely.is_missing(points) | shapely.is_empty(points))
    if ok.any():
        xy[ok] = shapely.get_coordinates(points[ok])
    return xy


def box_of(xy: np.ndarray) -> Box:
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return (0.0, 0.0, 0.0, 0.0)
    lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def regroup(xy: np.ndarray, tile_rows: int, cell_m: float) -> list[np.ndarray]:
    """The uncertain features of a round (origins ``xy``) grouped for the next: by grid cells of
    ``cell_m`` (a first-round tile's size, or the new halo when wider), at most ``tile_rows`` per
    group, cells in Hilbert order. A group's box — and what its task reads — stays the size of a
    tile and its halo however scattered the features are over the region (grouping them by count
    alone would give one box as big as the region)."""
    if len(xy) == 0:
        return []
    cell = np.floor((xy - xy.min(axis=0)) / max(cell_m, 1.0)).astype(np.int64)
    cells, group = np.unique(cell, axis=0, return_inverse=True)
    group = group.ravel()
    rank = np.empty(len(cells), np.int64)
    rank[hilbert_order(cells.astype(float))] = np.arange(len(cells))
    order = np.argsort(rank[group], kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(rank[group][order]) != 0])
    out = []
    for members in np.split(order, starts[1:]):
        out += chunks(members, tile_rows)
    return out


def chunks(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [np.sort(order[i:i + size]) for i in range(0, len(order), max(1, int(size)))]


def grid_tiles(source: FileSource, tile_rows: int, bounds: Box | None = None) -> list[Box]:
    """A grid over ``bounds`` (default: a file layer's extent), in Hilbert order, of about
    ``tile_rows`` features of the layer per cell on average (half-open cells: a feature belongs to
    the cell its origin lies in)."""
    return grid_cells(bounds or source.bounds(), source.count(), tile_rows)


def assign_rows(tasks: list, pending: list, assign, context: dict, halo: float, whole: bool) -> None:
    """Give each row of ``assign`` (gdf, ids, reach_m, line_roles) with a location to exactly one
    task: the one whose box is nearest (Chebyshev) its origin — for a file grid, the cell it lies in.
    Each row needs the lines of ``line_roles`` within ``reach_m`` of it (a bin: the streets within
    the snap distance, plus the margin); when the task's read box (its box widened by ``halo``)
    does not hold that, the task also gets those lines, in ``__reach_<role>`` (used only for the
    assigned rows, so the demand's answers do not change). Rows without a location are given to
    nobody (the adapter's merge gives them the answer of an unlocated row)."""
    gdf, ids, reach, line_roles = assign
    xy = xy_of(origins(gdf))
    live = [k for k, (tile_ids, _box) in enumerate(pending) if tile_ids is not MISSING]
    located = np.flatnonzero(np.isfinite(xy).all(axis=1))
    if not live or len(located) == 0:
        return
    p = xy[located]
    best = np.full(len(located), np.inf)
    owner = np.zeros(len(located), np.int64)
    for k in live:
        x0, y0, x1, y1 = pending[k][1]
        d = np.maximum(np.maximum(x0 - p[:, 0], p[:, 0] - x1), np.maximum(y0 - p[:, 1], p[:, 1] - y1)).clip(0.0)
        nearer = d < best
        best[nearer], owner[nearer] = d[nearer], k
    for k in live:
        mine = located[owner == k]
        tasks[k].assigned = (gdf.iloc[mine], ids[mine])
        far = mine[best[owner == k] > halo - reach]
        if whole or len(far) == 0:
            continue
        boxes = _end_boxes(xy[far], reach)
        for r in line_roles:
            if r in context:
                s = context[r]
                tasks[k].context[f"__reach_{r}"] = (lines_in_boxes(s, boxes) if isinstance(s, FrameSource)
                                                    else BoxesReader(s, boxes))


def assigned_layer(source, gdf: gpd.GeoDataFrame, ids: np.ndarray, sides: list) -> gpd.GeoDataFrame:
    """The assigned layer with the tiles' columns (NaN for rows no tile answered), like a pass's output."""
    columns = pd.concat(sides) if sides else pd.DataFrame(index=pd.Index([], dtype=np.int64))
    columns = columns[~columns.index.duplicated()].reindex(ids)
    if isinstance(source, FrameSource):
        out = source.gdf.copy()
    else:
        out = gdf.copy()
        out["__id"] = ids
    for name in columns.columns:
        out[name] = columns[name].to_numpy()
    return out


