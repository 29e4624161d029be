"""Partitioned ``ptal``, per building (``origins=buildings``) or on TfL's grid (``origins=grid``).

Once, on the client (:func:`prepare`): the timetable is read and the service access points (SAPs)
— the stops of the ``gtfs`` layer served in the window, with their routes and departures per hour —
are chosen as the single run chooses them (:func:`analysis.ptal._access_points`); their coordinates
and routes travel with the parameters (a feed has thousands of stops, not millions).

Per tile, the walk distance of each building to every SAP within reach (the larger of the bus
and rail catchments, ``R``), along the streets of the halo or in a straight line where the
building or the stop is farther than ``max_snap_m`` (``S``) from every street, then the AI per
mode. The halo is ``R + 2 S``: a pair within ``R`` walks wholly inside the disc of radius ``R``
around the building (see :mod:`analysis.partition`), so every pair that counts is found, exactly;
a stop within ``R`` of the building has every street within ``S`` of it in the halo, so it is
off the network in the tile exactly when it is in the whole layer. Every answer is certain in the
first round. A second pass over the ``gtfs`` layer (halo ``S``) tells which stops are off the
network, for the summary's ``stops_off_network``.

On TfL's grid (``origins=grid``) the cells are made once on the client (:func:`survey`), as the
single run makes them, and their centres are the layer tiled with the same halo (``cells``); the
buildings pass then only places each building in its cell (no halo), for the residents per cell.

The merge keeps the SAPs within ``R`` of the buildings' bounding box (as the single run does), the
AI columns of the modes those SAPs serve, and recomputes the bands and the summary with
:func:`analysis.ptal._summary`.
"""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis import ptal as ptal_mod
from analysis.partition import tile_origins
from analysis.population import origins, population_weights
from analysis.ptal_core import Constants, accessibility, bands, parse_limits
from analysis.ptal_walk import _straight, cell_polygons
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.gtfs import feed_for_layer
from layers.gtfs_layers import parse_clock, stop_route_frequency

KEYS = ("date", "start_time", "end_time", "origins", "grid_m", "modes", "walk_speed_mps", "bus_max_walk_m",
        "rail_max_walk_m", "bus_reliability_min", "rail_reliability_min", "swt_factor", "edf_constant_min",
        "other_routes_weight", "band_limits", "max_snap_m", "population_field")


def _grid(params) -> bool:
    return params.get("origins", "grid") != "buildings"


def _constants(params) -> Constants:
    return Constants(params["walk_speed_mps"], params["bus_max_walk_m"], params["rail_max_walk_m"],
                     params["bus_reliability_min"], params["rail_reliability_min"], params["swt_factor"],
                     params["edf_constant_min"], params["other_routes_weight"], parse_limits(params["band_limits"]))


def halo_m(params) -> float:
    """The buildings pass: the catchment and two snaps (PTAL per building); none on a grid (each
    building is only placed in its cell)."""
    return 0.0 if _grid(params) else halo_cells(params)


def halo_cells(params) -> float:
    return _constants(params).reach_m + 2.0 * float(params["max_snap_m"])


def survey(sources: dict, params, engine=None, feedback=None, tile_rows: int = 50_000) -> dict:
    """On a grid: the cells, made on the client as the single run makes them — over the area layer,
    else the extent of the buildings, the streets or the SAPs (read from the files' metadata or the
    layers in memory, nothing read whole); a region's grid is capped at
    :data:`analysis.ptal_walk.MAX_CELLS` cells, as the single run's is."""
    if not _grid(params):
        return {}
    from analysis.ptal_walk import grid_cells

    area = sources["area"].select(None)[0] if "area" in sources else None
    bounds = None
    if area is not None and len(area) and np.isfinite(area.total_bounds).all():
        bounds = tuple(area.total_bounds)
    else:
        for role in ("buildings", "streets"):
            if role in sources and np.isfinite(sources[role].bounds()).all():
                bounds = sources[role].bounds()
                break
    if bounds is None:
        bounds = tuple(shapely.total_bounds(params["_saps"].geometry.to_numpy()))
    centres, ij, corner = grid_cells(bounds, float(params["grid_m"]), area)
    return {"_cells": (centres, ij, corner)}


def extra_sources(params, crs) -> dict:
    """On a grid, its cells' centres are the layer the PTAL is computed for (``cells``)."""
    if not _grid(params):
        return {}
    from analysis.partition_sources import FrameSource

    centres = params["_cells"][0]
    return {"cells": FrameSource(gpd.GeoDataFrame(geometry=shapely.points(centres), crs=crs))}


def prepare(whole, params) -> dict:
    """The SAPs and their routes, chosen once from the whole stops layer and the timetable."""
    gtfs = whole["gtfs"]
    _constants(params)  # band_limits checked before anything is read
    wanted = ptal_mod._modes(params["modes"])
    feed = feed_for_layer(gtfs, service_date=params["date"] or None)
    freq = stop_route_frequency(feed, parse_clock(params["start_time"]), parse_clock(params["end_time"]))
    freq = freq[freq["mode"].isin(wanted) & (freq["per_hour"] > 0)]
    saps, sap_routes = ptal_mod._access_points(gtfs, feed, freq)
    xy = np.c_[saps.geometry.x.to_numpy(), saps.geometry.y.to_numpy()]
    # the layer row of each SAP (for the stops pass), found as _access_points finds them
    index = pd.Index(feed.stops["stop_id"].astype(str)).drop_duplicates()
    pos = index.get_indexer(gtfs["stop_id"].astype(str))
    has_geom = ~(gtfs.geometry.isna() | gtfs.geometry.is_empty).to_numpy()
    layer_row = np.flatnonzero((pos >= 0) & has_geom)
    layer_row = layer_row[np.isin(pos[layer_row], freq["stop"].to_numpy())].astype(np.int64)
    return {"_saps": saps, "_sap_xy": xy, "_sap_routes": sap_routes, "_sap_rows": layer_row,
            "_service_date": feed.date.isoformat()}


# --- per tile --------------------------------------------------------------------------------------

def _network(streets):
    from analysis.network import build_network

    if streets is None or len(streets) == 0 or not (streets.geometry.notna() & ~streets.geometry.is_empty).any():
        return None
    return build_network(streets)


def _walk_pairs(points, sap_idx, sap_pts, reach, streets, s_max):
    """(origin, sap, distance) pairs within ``reach`` and the origins off the network, as
    :func:`analysis.ptal_walk.walk_pairs` measures them (``sap_idx``: the global SAP positions)."""
    from analysis.network import point_distances_within, snap_points

    has = ~shapely.is_missing(points)
    network = _network(streets)
    if network is None:  # no street: everything in a straight line (none within S of anything here)
        o, s, d = _straight(points, sap_pts, reach, np.flatnonzero(has), np.arange(len(sap_pts)))
        return o, sap_idx[s], d, has.copy()
    so = snap_points(network, points, max_snap_m=s_max)
    ss = snap_points(network, sap_pts, max_snap_m=s_max)
    matrix = point_distances_within(network, so, ss, reach).tocoo()
    o, s, d = [matrix.row.astype(np.int64)], [matrix.col.astype(np.int64)], [matrix.data.astype(float)]
    off_o = np.flatnonzero(has & (so.edge < 0))
    off_s = np.flatnonzero(ss.edge < 0)
    on_o = np.flatnonzero(has & (so.edge >= 0))
    for rows, cols in ((off_o, np.arange(len(sap_pts))), (on_o, off_s)):
        if len(rows) and len(cols):
            a, b, c = _straight(points, sap_pts, reach, rows, cols)
            o.append(a), s.append(b), d.append(c)
    return np.concatenate(o), sap_idx[np.concatenate(s)], np.concatenate(d), has & (so.edge < 0)


def tile_buildings(demand, context, params, certain_m):
    """PTAL per building, or — on a grid — the cell (column, row) each building's point lies in."""
    if _grid(params):
        points = tile_origins(demand, context)
        ij = np.full((len(demand), 2), -1, np.int64)
        ok = ~shapely.is_missing(points)
        if ok.any():
            x0, y0 = params["_cells"][2]
            grid_m = float(params["grid_m"])
            xy = shapely.get_coordinates(points[ok])
            ij[ok] = np.floor((xy - (x0, y0)) / grid_m).astype(np.int64)
        return pd.DataFrame({"__ci": ij[:, 0], "__cj": ij[:, 1]}), np.ones(len(demand), bool)
    return tile_origins_ai(demand, context, params)


def tile_cells(demand, context, params, certain_m):
    return tile_origins_ai(demand, context, params)


def tile_origins_ai(demand, context, params):
    """The AI (per mode) of each origin, its walks measured in the tile (see the module docstring)."""
    n = len(demand)
    c = _constants(params)
    points = tile_origins(demand, context)
    present = points[~shapely.is_missing(points)]
    xy = params["_sap_xy"]
    if len(present):
        x0, y0, x1, y1 = shapely.total_bounds(present)
        r = c.reach_m
        sap_idx = np.flatnonzero((xy[:, 0] >= x0 - r) & (xy[:, 0] <= x1 + r) & (xy[:, 1] >= y0 - r) &
                                 (xy[:, 1] <= y1 + r))
    else:
        sap_idx = np.zeros(0, np.int64)
    sap_pts = shapely.points(xy[sap_idx]) if len(sap_idx) else np.empty(0, dtype=object)
    has_streets = "streets" in context
    streets = context["streets"][0] if has_streets else None
    if has_streets and len(sap_idx):
        o, s, d, off = _walk_pairs(points, sap_idx, sap_pts, c.reach_m, streets, params["max_snap_m"])
    else:
        o, s, d = _straight(points, sap_pts, c.reach_m, np.flatnonzero(~shapely.is_missing(points)),
                            np.arange(len(sap_pts)))
        s = sap_idx[s]
        off = np.zeros(n, bool)
        if has_streets:  # no SAP near: the origins' snap still counts in the report
            off = _off_network(points, streets, params["max_snap_m"])
    ai, per_mode = accessibility(n, o, s, d, params["_sap_routes"], c)
    ai[shapely.is_missing(points)] = np.nan
    cols = {"__ai": ai, "__off": off, "__net": np.full(n, has_streets)} | {f"__ai_{m}": v for m, v in per_mode.items()}
    return pd.DataFrame(cols), np.ones(n, bool)


def _off_network(points, streets, s_max) -> np.ndarray:
    from analysis.network import snap_points

    has = ~shapely.is_missing(points)
    network = _network(streets)
    if network is None:
        return has.copy()
    return has & (snap_points(network, points, max_snap_m=s_max).edge < 0)


def tile_stops(demand, context, params, certain_m):
    """Per stop of the ``gtfs`` layer: off the network (no street within ``max_snap_m``)."""
    points = shapely.point_on_surface(demand.geometry.to_numpy())
    off = _off_network(points, context["streets"][0] if "streets" in context else None, params["max_snap_m"])
    return pd.DataFrame({"__off": off}), np.ones(len(demand), bool)


def _snap_halo(params) -> float:
    return float(params["max_snap_m"])


PASSES = {"cells": (tile_cells, halo_cells), "buildings": (tile_buildings, halo_m), "gtfs": (tile_stops, _snap_halo)}


# --- merge -----------------------------------------------------------------------------------------

def merge(merged, whole, params) -> AnalysisResult:
    grid = _grid(params)
    if "buildings" not in merged and not grid:
        raise CityDeskError("origins=buildings needs a buildings layer", fix="Give a buildings layer or use the grid")
    tiles = merged["cells" if grid else "buildings"]
    hidden = [col for col in tiles.columns if str(col).startswith("__")]
    c = _constants(params)
    if grid:
        centres = params["_cells"][0]
        out = gpd.GeoDataFrame(geometry=cell_polygons(centres, float(params["grid_m"])), crs=tiles.crs)
        points = shapely.points(centres)
    else:
        out = tiles.drop(columns=hidden)
        points = origins(out)
    saps, routes = ptal_mod._near(params["_saps"], params["_sap_routes"], points, c.reach_m)
    near = _near_positions(params["_sap_xy"], points, c.reach_m)
    ai = tiles["__ai"].to_numpy(dtype=float)
    band = bands(ai, c.limits)
    modes = sorted(set(routes["mode"]), key=ptal_mod._rank)
    columns = {"ai": np.round(ai, 2), "ptal": band}
    columns |= {f"ai_{m}": np.round(tiles[f"__ai_{m}"].to_numpy(dtype=float), 2) for m in modes}
    if grid:  # the columns first, as the single run has them
        out = gpd.GeoDataFrame(columns, geometry=out.geometry.to_numpy(), crs=out.crs)
    for name, values in columns.items():
        out[name] = values
    if grid:
        weights, pop_col, weights_band = _residents_by_cell(out, merged.get("buildings"), params)
    else:
        weights, pop_col = population_weights(out, params["population_field"])
        weights_band = band
    summary = ptal_mod._summary(SimpleNamespace(date=_Date(params["_service_date"])), weights, weights_band, band,
                                ai, pop_col, "buildings" in merged, grid)
    if tiles["__net"].to_numpy(dtype=bool).any():
        stops_off = merged["gtfs"]["__off"].to_numpy(dtype=bool)[params["_sap_rows"][near]]
        walk = {"walk_distances": "network", "origins_off_network": int(tiles["__off"].to_numpy(dtype=bool).sum()),
                "stops_off_network": int(stops_off.sum())}
    else:
        walk = {"walk_distances": "straight line"}
    summary |= walk | {"access_points": int(len(saps)), "routes_counted": int(routes["route"].nunique()),
                       "origins": int(len(points))}
    return AnalysisResult.make("ptal", {"ptal": out, "access_points": saps}, summary, {k: params[k] for k in KEYS})


def _residents_by_cell(cells, buildings, params):
    """As :func:`analysis.ptal._residents_by_cell`, from the cell (column, row) each building's tile found."""
    if buildings is None:
        return np.ones(len(cells)), None, cells["ptal"].to_numpy()
    weights, pop_col = population_weights(buildings, params["population_field"])
    _centres, ij, _corner = params["_cells"]
    lookup = np.full((int(ij[:, 0].max()) + 1, int(ij[:, 1].max()) + 1) if len(ij) else (1, 1), -1, np.int64)
    lookup[ij[:, 0], ij[:, 1]] = np.arange(len(ij))
    ci, cj = buildings["__ci"].to_numpy(dtype=np.int64), buildings["__cj"].to_numpy(dtype=np.int64)
    located = ~shapely.is_missing(origins(buildings))
    valid = located & (ci >= 0) & (cj >= 0) & (ci < lookup.shape[0]) & (cj < lookup.shape[1])
    cell_of = np.full(len(ci), -1, np.int64)
    cell_of[valid] = lookup[ci[valid], cj[valid]]
    residents = np.zeros(len(cells))
    inside = cell_of >= 0
    np.add.at(residents, cell_of[inside], weights[inside])
    cells["residents"] = np.round(residents, 1)
    return residents, pop_col, cells["ptal"].to_numpy()


def _near_positions(xy: np.ndarray, points: np.ndarray, reach_m: float) -> np.ndarray:
    """The positions of the SAPs :func:`analysis.ptal._near` keeps."""
    present = points[~shapely.is_missing(points)]
    if len(present) == 0:
        return np.zeros(0, np.int64)
    x0, y0, x1, y1 = shapely.total_bounds(present)
    return np.flatnonzero((xy[:, 0] >= x0 - reach_m) & (xy[:, 0] <= x1 + reach_m) & (xy[:, 1] >= y0 - reach_m) &
                          (xy[:, 1] <= y1 + reach_m))


class _Date(str):
    def isoformat(self) -> str:
        return str(self)
