"""Gaps in waste-bin coverage: clusters of uncovered buildings as polygons (no Qt).

Two uncovered buildings belong to the same gap when their footprints (or points) are at most
``cluster_m`` metres apart, directly or through a chain of such buildings (for very large
layers: their origins, see :func:`gap_clusters`). Each gap is drawn as
the concave hull of its buildings' vertices widened by a quarter of ``cluster_m`` (a lone building becomes its
footprint with a margin), so the outline hugs the buildings and does not swallow covered ones
between two arms of an L-shaped cluster or a park inside one (holes are kept).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from layers.gil import made_in_chunks

#: Concave hull ratio (0 = tightest, 1 = convex hull).
HULL_RATIO = 0.1
#: Up to this many uncovered buildings are clustered by footprint distance, beyond by origin distance.
EXACT_CLUSTERING = 20_000
#: Up to this many footprint vertices the hulls follow the footprints, beyond the origins (widened more).
MAX_HULL_VERTICES = 200_000


def gap_clusters(geoms: np.ndarray, cluster_m: float, points: np.ndarray | None = None) -> np.ndarray:
    """A cluster label (0..n-1) per geometry: connected components of 'at most ``cluster_m``
    metres apart'. Footprint to footprint (an STRtree ``dwithin`` query) up to
    ``EXACT_CLUSTERING`` geometries; beyond, origin to origin (``point_on_surface``, a KD-tree),
    which is much faster and only splits large buildings whose origins are far apart. ``points``:
    the origins if known."""
    n = len(geoms)
    if n == 0:
        return np.empty(0, np.int64)
    if n <= EXACT_CLUSTERING:
        a, b = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=float(cluster_m))
    else:
        xy = shapely.get_coordinates(shapely.point_on_surface(geoms) if points is None else points)
        pairs = cKDTree(xy).query_pairs(float(cluster_m), output_type="ndarray")
        a, b = pairs[:, 0], pairs[:, 1]
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def gap_polygons(buildings: gpd.GeoDataFrame, uncovered: np.ndarray, weights: np.ndarray, dist: np.ndarray,
                 *, cluster_m: float, points: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """One polygon per cluster of uncovered buildings with residents, largest first (by residents, then buildings):
    ``gap`` (1 = the largest), ``buildings``, ``residents``, ``unreachable`` (buildings with no
    walking route to any bin), ``median_bin_m`` (of the reachable ones, metres), ``area_m2``.
    ``points``: the buildings' origins (``point_on_surface``) if already known."""
    columns = ["gap", "buildings", "residents", "unreachable", "median_bin_m", "area_m2"]
    geoms = buildings.geometry.to_numpy()
    rows = np.flatnonzero(uncovered & (weights > 0) & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if len(rows) == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=buildings.crs)
    g = geoms[rows]
    origin = None if points is None else points[rows]
    label = gap_clusters(g, cluster_m, origin)
    if int(shapely.get_num_coordinates(g).sum()) <= MAX_HULL_VERTICES:
        coords, owner = shapely.get_coordinates(g, return_index=True)
        pad = max(cluster_m / 4.0, 1.0)
    else:  # big layers: hulls of the origins, widened to take in the footprints
        origin = shapely.point_on_surface(g) if origin is None else origin
        coords, owner = shapely.get_coordinates(origin), np.arange(len(g))
        pad = max(cluster_m / 2.0, 1.0)
    order = np.argsort(label[owner], kind="stable")
    hulls = made_in_chunks(shapely.multipoints, coords[order], label[owner][order])
    hull = shapely.concave_hull(hulls, ratio=HULL_RATIO, allow_holes=True)
    shapes = shapely.buffer(hull, pad, quad_segs=4)
    n = int(label.max()) + 1
    residents = np.bincount(label, weights=weights[rows], minlength=n)
    count = np.bincount(label, minlength=n)
    d = dist[rows]
    unreachable = np.bincount(label, weights=~np.isfinite(d), minlength=n).astype(np.int64)
    median = _group_median(label, d, n)
    rank = np.lexsort((-count, -residents))
    out = gpd.GeoDataFrame({"gap": np.arange(1, n + 1), "buildings": count[rank], "residents": residents[rank],
                            "unreachable": unreachable[rank], "median_bin_m": median[rank],
                            "area_m2": shapely.area(shapes[rank])}, geometry=shapes[rank], crs=buildings.crs)
    return out


def _group_median(label: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Median of the finite ``values`` per label (NaN for a label without any)."""
    ok = np.isfinite(values)
    out = np.full(n, np.nan)
    if not ok.any():
        return out
    lab, val = label[ok], values[ok]
    order = np.lexsort((val, lab))
    lab, val = lab[order], val[order]
    start = np.searchsorted(lab, np.arange(n), side="left")
    stop = np.searchsorted(lab, np.arange(n), side="right")
    has = stop > start
    lo = (start + stop - 1) // 2
    hi = (start + stop) // 2
    out[has] = (val[lo[has]] + val[hi[has]]) / 2.0
    return out
