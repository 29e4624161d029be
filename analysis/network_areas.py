"""Walking isochrones (service areas) on the network (conventions in :mod:`analysis.network`)."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from analysis.network_build import Network
from analysis.network_local import local_searches
from analysis.network_paths import Snapped
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure

#: Pieces of street shorter than this (metres) are left out of an area.
MIN_PIECE_M = 0.01
QUAD_SEGS = 4


def isochrones(network: Network, sources: Snapped, bands_m: Sequence[float], *, buffer_m: float = 25.0,
               feedback: Feedback | None = None) -> gpd.GeoDataFrame:
    """One polygon per source and band (rows source by source, bands ascending; columns
    ``source`` (index into ``sources``), ``band_m``, ``area_m2``): the streets reachable within
    ``band_m`` metres of walking — the source's snap leg, then along the network, edges cut at
    the exact reach — buffered by ``buffer_m`` metres, in ``network.crs``. An unreachable source,
    or one whose snap leg alone is longer than the band, gets an empty polygon."""
    fb = ensure(feedback)
    bands = np.asarray([float(b) for b in bands_m], dtype=float)
    if len(bands) == 0 or not np.isfinite(bands).all() or (bands <= 0).any():
        raise CityDeskError(f"the isochrone bands {list(bands_m)} are not all positive distances",
                            fix="Give one or more distances in metres above 0")
    if not np.isfinite(buffer_m) or buffer_m <= 0:
        raise CityDeskError(f"the isochrone buffer {buffer_m!r} m is not a positive distance",
                            fix="Give a buffer above 0 m, e.g. 25")
    bands = np.unique(bands)
    nb, k = len(bands), len(sources.edge)
    u, v, length = network.edge_u, network.edge_v, network.edge_len_m
    ok = np.flatnonzero((sources.edge >= 0) & (sources.snap_m < bands[-1]))
    groups, edges, starts, ends = [], [], [], []
    local = np.full(len(network.node_xy) + 1, -1, np.int64)
    for src, nodes, dist in local_searches(network, sources, ok, float(bands[-1]), SubFeedback(fb, 0.0, 0.7)):
        m = len(nodes)
        cand = _incident_edges(network, nodes)
        local[nodes] = np.arange(m)
        lu, lv = local[u[cand]], local[v[cand]]
        local[nodes] = -1
        du, dv = dist[:, np.where(lu < 0, m, lu)], dist[:, np.where(lv < 0, m, lv)]
        ln = length[cand][None, :]
        own_e, own_a = sources.edge[src], sources.along_m[src]
        for bi, band in enumerate(bands):
            budget = (band - sources.snap_m[src])[:, None]
            reach_u = np.clip(budget - du, 0.0, ln)
            reach_v = np.clip(budget - dv, 0.0, ln)
            full = reach_u + reach_v >= ln
            gid = src * nb + bi
            whole = np.broadcast_to(ln, full.shape)
            for mask, lo, hi in ((full, np.zeros_like(whole), whole),  # reached from both ends
                                 (~full & (reach_u > 0), np.zeros_like(whole), reach_u),  # the u end
                                 (~full & (reach_v > 0), whole - reach_v, whole)):  # the v end
                i, j = np.nonzero(mask)
                groups.append(gid[i])
                edges.append(cand[j])
                starts.append(lo[i, j])
                ends.append(hi[i, j])
            own = budget[:, 0] > 0  # the source's own edge, both ways from the snapped position
            groups.append(gid[own])
            edges.append(own_e[own])
            starts.append(np.maximum(0.0, own_a - budget[:, 0])[own])
            ends.append(np.minimum(length[own_e], own_a + budget[:, 0])[own])
    fb.check_cancelled()
    fb.progress(0.7, "Drawing the areas")
    polygons = np.full(k * nb, None, dtype=object)
    if groups:
        grp, edge = np.concatenate(groups), np.concatenate(edges)
        start, end = np.concatenate(starts), np.concatenate(ends)
        keep = end - start >= MIN_PIECE_M
        grp, edge, start, end = grp[keep], edge[keep], start[keep], end[keep]
        order = np.argsort(grp, kind="stable")
        grp = grp[order]
        # buffering each piece, then a cascaded union per area, is ~30x faster than buffering a multi-line
        rings = shapely.buffer(substrings(network, edge[order], start[order], end[order]), buffer_m,
                               quad_segs=QUAD_SEGS)
        bounds = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1], True])
        for n_done, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            fb.check_cancelled()
            polygons[grp[a]] = shapely.union_all(rings[a:b])
            fb.progress(0.7 + 0.3 * (n_done + 1) / (len(bounds) - 1), "Drawing the areas")
    empty = np.array([g is None for g in polygons])
    polygons[empty] = shapely.Polygon()
    out = gpd.GeoDataFrame({"source": np.repeat(np.arange(k), nb), "band_m": np.tile(bands, k),
                            "area_m2": shapely.area(polygons)}, geometry=polygons, crs=network.crs)
    fb.progress(1.0, "Isochrones done")
    return out


def substrings(network: Network, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The pieces of edges ``edge`` from ``start`` to ``end`` metres along them (from node u), as
    LineStrings; whole edges are the edge geometries themselves."""
    out = np.empty(len(edge), dtype=object)
    whole = (start <= 0) & (end >= network.edge_len_m[edge])
    out[whole] = network.edge_geom[edge[whole]]
    part = np.flatnonzero(~whole)
    if len(part) == 0:
        return out
    coords, offset, cum = _edge_vertices(network)
    e, s, t = edge[part], start[part], end[part]
    n = offset[e + 1] - offset[e]
    piece = np.repeat(np.arange(len(part)), n)
    vid = np.repeat(offset[e] - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(int(n.sum()))
    inner = (cum[vid] > s[piece]) & (cum[vid] < t[piece])
    geoms = network.edge_geom[e]
    first = shapely.get_coordinates(shapely.line_interpolate_point(geoms, s))
    last = shapely.get_coordinates(shapely.line_interpolate_point(geoms, t))
    pid = np.concatenate([np.arange(len(part)), piece[inner], np.arange(len(part))])
    key = np.concatenate([np.full(len(part), -1.0), cum[vid[inner]], np.full(len(part), np.inf)])
    xy = np.concatenate([first, coords[vid[inner]], last])
    order = np.lexsort((key, pid))
    out[part] = shapely.linestrings(xy[order], indices=pid[order])
    return out


def _edge_vertices(network: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All edge vertices, the offset of each edge's first vertex, and each vertex's distance along its edge."""
    if "vertices" not in network._cache:
        coords, idx = shapely.get_coordinates(network.edge_geom, return_index=True)
        offset = np.searchsorted(idx, np.arange(len(network.edge_geom) + 1))
        seg = np.hypot(*np.diff(coords, axis=0).T)
        seg[idx[1:] != idx[:-1]] = 0.0
        cum = np.r_[0.0, np.cumsum(seg)]
        cum -= np.repeat(cum[offset[:-1]], np.diff(offset))
        network._cache["vertices"] = (coords, offset, cum)
    return network._cache["vertices"]


def _incident_edges(network: Network, nodes: np.ndarray) -> np.ndarray:
    """The edges with an end among ``nodes``, each once."""
    if "incidence" not in network._cache:
        ends = np.concatenate([network.edge_u, network.edge_v])
        order = np.argsort(ends, kind="stable")
        edge_ids = np.tile(np.arange(len(network.edge_u)), 2)[order]
        indptr = np.searchsorted(ends[order], np.arange(len(network.node_xy) + 1))
        network._cache["incidence"] = (indptr, edge_ids)
    indptr, edge_ids = network._cache["incidence"]
    start, stop = indptr[nodes], indptr[nodes + 1]
    counts = stop - start
    idx = np.repeat(start - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(int(counts.sum()))
    return np.unique(edge_ids[idx])
