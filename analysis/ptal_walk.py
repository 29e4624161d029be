"""Origins of the PTAL analysis (a grid over the area of interest, or buildings) and the walk
distances from them to the service access points: along the streets (the network engine: snap,
then :func:`analysis.network.point_distances_within`) when a streets layer is given, else in a
straight line. Origins or stops farther than ``max_snap_m`` from every street are measured in a
straight line and counted in the report."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback

MAX_CELLS = 1_000_000


def grid_cells(bounds: tuple[float, float, float, float], grid_m: float,
               area: gpd.GeoDataFrame | None = None) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Square cells of ``grid_m`` metres aligned to multiples of ``grid_m`` covering ``bounds``
    (and, with ``area``, only cells whose centre lies inside it): (centres (n, 2), column/row
    index (n, 2), origin (x0, y0) of the grid)."""
    xmin, ymin, xmax, ymax = bounds
    x0, y0 = np.floor(xmin / grid_m) * grid_m, np.floor(ymin / grid_m) * grid_m
    nx, ny = int(np.ceil((xmax - x0) / grid_m)) or 1, int(np.ceil((ymax - y0) / grid_m)) or 1
    if nx * ny > MAX_CELLS:
        raise CityDeskError(f"a {grid_m:g} m grid over this area has {nx * ny:,} cells (at most {MAX_CELLS:,})",
                            fix="Choose larger cells (grid_m), give a smaller area layer, or use buildings")
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny))
    ij = np.column_stack([ii.ravel(), jj.ravel()])
    centres = np.column_stack([x0 + (ij[:, 0] + 0.5) * grid_m, y0 + (ij[:, 1] + 0.5) * grid_m])
    if area is not None:
        shape = shapely.union_all(area.geometry.to_numpy())
        shapely.prepare(shape)
        inside = shapely.contains_xy(shape, centres[:, 0], centres[:, 1])
        centres, ij = centres[inside], ij[inside]
    return centres, ij, (x0, y0)


def cell_polygons(centres: np.ndarray, grid_m: float) -> np.ndarray:
    half = grid_m / 2.0
    return shapely.box(centres[:, 0] - half, centres[:, 1] - half, centres[:, 0] + half, centres[:, 1] + half)


def walk_pairs(origins: np.ndarray, saps: np.ndarray, reach_m: float, streets: gpd.GeoDataFrame | None, *,
               max_snap_m: float = 100.0, feedback: Feedback) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(origin, sap, distance in m) of every pair within ``reach_m``, and a report: ``walk`` is
    'network' or 'straight line', with the counts of points measured in a straight line."""
    has = ~shapely.is_missing(origins)
    if streets is None:
        o, s, d = _straight(origins, saps, reach_m, np.flatnonzero(has), np.arange(len(saps)))
        return o, s, d, {"walk_distances": "straight line"}
    from analysis.network import build_network, point_distances_within, snap_points

    net = build_network(streets, feedback=SubFeedback(feedback, 0.0, 0.2))
    feedback.progress(0.2, "Snapping origins and stops to the streets")
    so = snap_points(net, origins, max_snap_m=max_snap_m)
    ss = snap_points(net, saps, max_snap_m=max_snap_m)
    matrix = point_distances_within(net, so, ss, reach_m, feedback=SubFeedback(feedback, 0.25, 0.95)).tocoo()
    o, s, d = [matrix.row.astype(np.int64)], [matrix.col.astype(np.int64)], [matrix.data.astype(float)]
    off_o = np.flatnonzero(has & (so.edge < 0))
    off_s = np.flatnonzero(ss.edge < 0)
    on_o = np.flatnonzero(has & (so.edge >= 0))
    for rows, cols in ((off_o, np.arange(len(saps))), (on_o, off_s)):  # straight line where either is off-network
        if len(rows) and len(cols):
            a, b, c = _straight(origins, saps, reach_m, rows, cols)
            o.append(a), s.append(b), d.append(c)
    report = {"walk_distances": "network", "origins_off_network": int(len(off_o)),
              "stops_off_network": int(len(off_s))}
    return np.concatenate(o), np.concatenate(s), np.concatenate(d), report


def _straight(origins: np.ndarray, saps: np.ndarray, reach_m: float, rows: np.ndarray,
              cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(rows) == 0 or len(cols) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    tree = shapely.STRtree(saps[cols])
    src, tgt = tree.query(origins[rows], predicate="dwithin", distance=reach_m)
    o, s = rows[src], cols[tgt]
    return o.astype(np.int64), s.astype(np.int64), shapely.distance(origins[o], saps[s])
