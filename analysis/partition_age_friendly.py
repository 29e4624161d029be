"""Partitioned ``age-friendly`` (without new-bench siting: ``new_benches_k`` = 0; the greedy siting
is global and runs whole).

First, tile by tile (:func:`survey`), what depends on the whole street network — which street
lines lie on pieces of network too small to snap to (``min_piece_m``: a piece's length is known
only from the whole network) and which lie off the largest piece — and every destination snapped
once (the counts of unreachable and moved destinations, the rest points); the whole network is
never built in one place, so a worker's memory depends on the tile size, not the region. Each
tile then builds its network from the streets in its halo, told which of them are on small
pieces, so every building snaps as in the whole network.

Per tile, the walking distance to each destination role and the rest-aware distance: with ``H``
the tile's certain radius, a distance ``<= H`` is exact (see :mod:`analysis.partition`). A
rest-aware walk is a chain of stretches, each a network walk, so the whole chain stays in the disc
of its length around the home: a rest-aware distance ``<= H`` is exact too. A missing answer (no
destination, or no rest-aware walk) is certain when the home's piece of network lies wholly inside
the halo (less the snap distance), or — for the rest-aware walk — when every rest the home can
reach lies so far inside the halo that all its stretches (``<= rest_max_m``) are in the tile; else
the building goes round again with a wider halo. The first halo is the largest maximum distance
(or ``rest_max_m``) + 2 x ``max_snap_m``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from analysis import age_friendly as af
from analysis.age_friendly_params import DESTINATIONS, speed_mps
from analysis.age_friendly_rest import build_rest_graph, rest_distances, rest_points, take, target_points
from analysis.network import Network, build_network, nearest_distance, snap_points
from analysis.partition import tile_origins
from analysis.partition_pieces import MARGIN_M as _PIECES_MARGIN
from analysis.partition_pieces import grid_cells, in_cell, street_pieces
from analysis.partition_sources import extent_of
from analysis.population import origins, population_weights
from analysis.result import AnalysisResult
from layers.feedback import SubFeedback, ensure

_TOL = 1e-6
KEYS = ("profile", "walk_speed_mps", *[f"max_{r}_m" for r in DESTINATIONS], "min_green_space_m2", "rest_max_m",
        "max_snap_m", "min_piece_m", "new_benches_k", "population_field")


def not_exact(params) -> str | None:
    if int(params.get("new_benches_k", 0)) > 0:
        return ("new-bench siting is chosen over the whole city at once (a greedy global choice): "
                "set new_benches_k=0 to run 'age-friendly' partitioned")
    return None


def halo_m(params) -> float:
    longest = max([float(params[f"max_{r}_m"]) for r in DESTINATIONS] + [float(params["rest_max_m"])])
    return longest + 2.0 * float(params["max_snap_m"])


def _max_m(params) -> dict[str, float]:
    return {r: float(params[f"max_{r}_m"]) for r in DESTINATIONS}


def _dest_frame(role: str, gdf: gpd.GeoDataFrame, params) -> gpd.GeoDataFrame:
    if role == "green_spaces" and params["min_green_space_m2"] > 0:
        area = shapely.area(shapely.make_valid(gdf.geometry.to_numpy()))
        gdf = gdf[area >= params["min_green_space_m2"]]
    return gdf


# --- the whole network and the destinations, tile by tile ----------------------------------------

def survey(sources: dict, params, engine, feedback=None, tile_rows: int = 50_000) -> dict:
    """What depends on the whole network, found cell by cell (never the whole network in one
    place): which street lines lie on pieces smaller than ``min_piece_m`` and which off the largest
    piece, the network's size (:func:`analysis.partition_pieces.street_pieces`); then, with those,
    each destination and rest point snapped once, in the cell its first point lies in, for the
    counts the summary needs. ``sources``: role -> FrameSource or FileSource."""
    fb = ensure(feedback)
    pieces = street_pieces(sources["streets"], engine, tile_rows=tile_rows, feedback=SubFeedback(fb, 0.0, 0.6))
    out = {"_small_ids": pieces.small_ids(float(params["min_piece_m"])), "_off_main_ids": pieces.off_main_ids(),
           "_network_nodes": pieces.nodes, "_network_components": pieces.count}
    dests = {r: sources[r] for r in DESTINATIONS if r in sources}
    extent = extent_of([s.bounds() for s in (sources["streets"], *dests.values())])
    cells = grid_cells(extent, sources["streets"].count(), tile_rows)
    task_params = {**params, **out}
    tasks = [_DestTask(sources["streets"], dests, c, task_params) for c in cells]
    tasks.append(_DestTask(sources["streets"], dests, None, task_params))
    totals = dict.fromkeys(dests, 0)
    reached = dict.fromkeys(dests, 0)
    moved = rests = rest_stops = 0
    sub = SubFeedback(fb, 0.6, 1.0)
    for done, got in enumerate(engine.map(dest_tile, tasks, sub), 1):
        for role in dests:
            totals[role] += got["total"].get(role, 0)
            reached[role] += got["reached"].get(role, 0)
        moved, rests, rest_stops = moved + got["moved"], rests + got["rests"], rest_stops + got["rest_stops"]
        sub.progress(done / len(tasks), f"destinations: cell {done} of {len(tasks)}")
    out.update({"_dest_moved": int(moved), "_targets_total": totals,
                "_targets_unreachable": {r: int(totals[r] - reached[r]) for r in dests},
                "_roles": tuple(dests), "_rest_points": int(rests), "_rest_points_stops": int(rest_stops)})
    return out


@dataclass
class _DestTask:
    streets: object
    dests: dict  # role -> source
    cell: tuple | None  # None: the features without a location
    params: dict


def dest_tile(task: _DestTask) -> dict:
    """Runs on a worker: the destinations (features) and rest points (points) of one cell, each
    owned by the cell its (first) point lies in, snapped to the network of the streets around them
    — with every street within the snap distance, and each line's piece known from the survey."""
    params = task.params
    got = {"total": {}, "reached": {}, "moved": 0, "rests": 0, "rest_stops": 0}
    if task.cell is None:  # no location: counted, never reached
        for role, src in task.dests.items():
            gdf, _ = src.select_missing()
            got["total"][role] = int(len(_dest_frame(role, gdf.reset_index(drop=True), params)))
        return got
    cell, s, mp = task.cell, float(params["max_snap_m"]), float(params["min_piece_m"])
    frames = {r: src.select(cell)[0].reset_index(drop=True) for r, src in task.dests.items()}
    owned, boxes = {}, [cell]
    for role, gdf in frames.items():
        pts, feature = target_points(_dest_frame(role, gdf, params))
        xy = shapely.get_coordinates(pts) if len(pts) else np.empty((0, 2))
        first = np.r_[True, feature[1:] != feature[:-1]] if len(feature) else np.zeros(0, bool)
        mine = feature[first][in_cell(xy[first], cell)]
        keep = np.isin(feature, mine)
        owned[role] = (pts[keep], feature[keep])
        got["total"][role] = int(len(mine))
        boxes.append(_bounds(xy[keep]))
    r_pts, r_kind = rest_points(frames.get("benches"), frames.get("transit_stops"))
    r_xy = shapely.get_coordinates(r_pts) if len(r_pts) else np.empty((0, 2))
    keep = in_cell(r_xy, cell)
    r_pts, r_kind = r_pts[keep], r_kind[keep]
    boxes.append(_bounds(r_xy[keep]))
    if len(r_pts) == 0 and not any(len(p) for p, _f in owned.values()):
        got["reached"] = dict.fromkeys(owned, 0)
        return got
    b = np.array([x for x in boxes if x is not None], float)
    grow = s + _PIECES_MARGIN
    box = (b[:, 0].min() - grow, b[:, 1].min() - grow, b[:, 2].max() + grow, b[:, 3].max() + grow)
    streets, street_ids = task.streets.select_lines(box)
    network, _main = _tile_network(streets.reset_index(drop=True), street_ids, params)
    if network is None:
        got["reached"] = dict.fromkeys(owned, 0)
        return got
    for role, (pts, feature) in owned.items():
        sn = snap_points(network, pts, max_snap_m=s, min_piece_m=mp)
        got["reached"][role] = int(len(np.unique(feature[sn.edge >= 0])))
        got["moved"] += int(len(np.unique(feature[sn.moved]))) if sn.moved is not None else 0
    rs = snap_points(network, r_pts, max_snap_m=s, min_piece_m=mp)
    on = rs.edge >= 0
    got["rests"], got["rest_stops"] = int(on.sum()), int((r_kind[on] == "stop").sum())
    return got


def _bounds(xy: np.ndarray):
    if len(xy) == 0:
        return None
    return (*xy.min(axis=0), *xy.max(axis=0))


# --- per tile --------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _TileNetwork(Network):
    """A tile's network that knows which of its edges lie on large pieces of the whole network."""

    large: np.ndarray | None = None

    def edges_on_pieces_of(self, min_piece_m: float) -> np.ndarray:
        return self.large


def _tile_network(streets: gpd.GeoDataFrame, street_ids: np.ndarray, params):
    geoms = streets.geometry
    if len(streets) == 0 or not (geoms.notna() & ~geoms.is_empty).any():
        return None, None
    net = build_network(streets)
    gid = np.asarray(street_ids)[net.edge_source]
    large = ~np.isin(gid, params["_small_ids"])
    main = ~np.isin(gid, params["_off_main_ids"])
    tile = _TileNetwork(**{f.name: getattr(net, f.name) for f in fields(Network) if f.init}, large=large)
    return tile, main


def tile_buildings(demand, context, params, certain_m):
    n, s_max, rest_max = len(demand), float(params["max_snap_m"]), float(params["rest_max_m"])
    roles = list(params["_roles"])
    streets, street_ids = context["streets"]
    network, main_edge = _tile_network(streets, street_ids, params)
    cols = {"snap_m": np.full(n, np.nan)}
    for role in roles:
        cols[f"{role}_m"] = np.full(n, np.nan)
    for role in roles:
        cols[f"{role}_rest_m"] = np.full(n, np.nan)
    cols["__moved"] = np.zeros(n, bool)
    cols["__off_main"] = np.zeros(n, bool)
    cols["__unreachable"] = np.ones(n, bool)
    if network is None or n == 0:
        return pd.DataFrame(cols), np.full(n, certain_m >= s_max)
    mp = float(params["min_piece_m"])
    points = tile_origins(demand, context)
    snapped = snap_points(network, points, max_snap_m=s_max, min_piece_m=mp)
    reach = np.flatnonzero(snapped.edge >= 0)
    homes = take(snapped, reach)
    cols["snap_m"] = np.where(snapped.edge >= 0, snapped.snap_m, np.nan)
    cols["__moved"] = snapped.moved if snapped.moved is not None else np.zeros(n, bool)
    cols["__unreachable"] = snapped.edge < 0
    cols["__off_main"][reach] = ~main_edge[snapped.edge[reach]]
    certain = np.ones(len(reach), bool)
    closed = _closed_pieces(network, context["__box"], certain_m - s_max)[network.component[
        network.edge_u[homes.edge]]] if len(reach) else np.zeros(0, bool)
    dests = {}
    for role in roles:
        gdf, _ids = context[role]
        pts, _feature = target_points(_dest_frame(role, gdf.reset_index(drop=True), params))
        d = snap_points(network, pts, max_snap_m=s_max, min_piece_m=mp)
        dests[role] = take(d, np.flatnonzero(d.edge >= 0))
    for role, d in dests.items():
        dist = np.full(len(reach), np.nan)
        if len(d.edge) and len(reach):
            dist, _ = nearest_distance(network, homes, d)
        cols[f"{role}_m"][reach] = dist
        empty_role = _none_reachable(params, role)
        certain &= (np.nan_to_num(dist, nan=np.inf) <= certain_m) | closed | empty_role
    rests_pts, _kind = rest_points(context["benches"][0] if "benches" in context else None,
                                   context["transit_stops"][0] if "transit_stops" in context else None)
    rs = snap_points(network, rests_pts, max_snap_m=s_max, min_piece_m=mp)
    rests = take(rs, np.flatnonzero(rs.edge >= 0))
    graph = build_rest_graph(network, homes, rests, dests, rest_max)
    inner = _inner_rests(graph, rests, context["__box"], certain_m - rest_max - s_max)
    for role in dests:
        r = rest_distances(graph, role)
        cols[f"{role}_rest_m"][reach] = np.where(np.isfinite(r), r, np.nan)
        empty_role = _none_reachable(params, role)
        certain &= (r <= certain_m) | inner | empty_role
    out = np.ones(n, bool)
    out[reach] = certain
    out[snapped.edge < 0] = certain_m >= s_max  # no street within the snap distance here: none anywhere
    return pd.DataFrame(cols), out


def _none_reachable(params, role: str) -> bool:
    """No destination of ``role`` can be reached from anywhere (then every answer is 'none')."""
    return params["_targets_total"][role] - params["_targets_unreachable"][role] == 0


def _closed_pieces(network: Network, tile_box, reach_m: float) -> np.ndarray:
    """Per component of the tile's network: True when all its edges lie within ``reach_m`` of the
    tile's box (then it is a whole piece of the full network, with every destination that snaps to
    it in the tile)."""
    n_comp = int(network.component.max(initial=-1)) + 1
    if reach_m < 0 or n_comp == 0:
        return np.zeros(max(n_comp, 0), bool)
    b = shapely.bounds(network.edge_geom)
    x0, y0, x1, y1 = tile_box
    ok = (b[:, 0] >= x0 - reach_m) & (b[:, 1] >= y0 - reach_m) & (b[:, 2] <= x1 + reach_m) & (b[:, 3] <= y1 + reach_m)
    bad = np.zeros(n_comp, bool)
    bad[network.component[network.edge_u[~ok]]] = True
    return ~bad


def _inner_rests(graph, rests, tile_box, reach_m: float) -> np.ndarray:
    """Per home: True when every rest it can reach (through chains of stretches) lies within
    ``reach_m`` of the tile's box, so that all their stretches are in the tile."""
    n_h = len(graph.homes.edge)
    if len(rests.edge) == 0:
        return np.ones(n_h, bool)
    if reach_m < 0:
        return np.asarray(graph.hr.getnnz(axis=1) == 0)
    x0, y0, x1, y1 = tile_box
    xy = rests.xy
    ok = (xy[:, 0] >= x0 - reach_m) & (xy[:, 1] >= y0 - reach_m) & (xy[:, 0] <= x1 + reach_m) & \
         (xy[:, 1] <= y1 + reach_m)
    _, comp = connected_components(sp.csr_matrix(graph.rr), directed=False)
    bad_comp = np.zeros(comp.max() + 1, bool)
    bad_comp[comp[~ok]] = True
    bad = sp.csr_matrix(graph.hr).astype(bool).astype(np.int64) @ bad_comp[comp].astype(np.int64)
    return np.asarray(bad).ravel() == 0


PASSES = {"buildings": (tile_buildings, halo_m)}


# --- merge -----------------------------------------------------------------------------------------

def merge(merged, whole, params) -> AnalysisResult:
    out = merged["buildings"]
    hidden = [c for c in out.columns if str(c).startswith("__")]
    extra = out[hidden]
    out = out.drop(columns=hidden)
    roles = list(params["_roles"])
    max_m = _max_m(params)
    speed = speed_mps(params["profile"], params["walk_speed_mps"])
    weights, pop_col = population_weights(out, params["population_field"])
    base = out.drop(columns=["snap_m"] + [f"{r}_m" for r in roles] + [f"{r}_rest_m" for r in roles])
    result = base.copy()
    result["snap_m"] = out["snap_m"].to_numpy(dtype=float)
    ok, rest_ok, dist = {}, {}, {}
    for role in roles:
        full = out[f"{role}_m"].to_numpy(dtype=float)
        dist[role] = full
        ok[role] = np.nan_to_num(full, nan=np.inf) <= max_m[role] + _TOL
        result[f"{role}_m"] = full
        result[f"{role}_min"] = full / speed / 60.0
        result[f"{role}_ok"] = ok[role]
    for role in roles:
        full = out[f"{role}_rest_m"].to_numpy(dtype=float)
        rest_ok[role] = ok[role] & (np.nan_to_num(full, nan=np.inf) <= max_m[role] + _TOL)
        result[f"{role}_rest_m"] = full
        result[f"{role}_rest_ok"] = rest_ok[role]
    score = 100.0 * np.sum([ok[r] for r in roles], axis=0) / len(roles)
    rest_score = 100.0 * np.sum([rest_ok[r] for r in roles], axis=0) / len(roles)
    result["age_friendly_score"] = score
    result["age_friendly_rest_score"] = rest_score
    points = origins(result)
    districts = whole.get("districts")
    areas = af._areas(result, weights, points, roles, ok, rest_ok, score, districts)
    new = gpd.GeoDataFrame({"rank": np.arange(1, 1, dtype=int), "residents_connected": np.empty(0, float),
                            "access_gained": np.empty(0, float), "roles": np.empty(0, dtype=str).astype(object)},
                           geometry=np.empty(0, dtype=object), crs=result.crs)
    total = float(weights.sum())
    summary = af.access_summary(roles, weights, ok, rest_ok, score, rest_score, dist, params["_targets_total"],
                                params["_targets_unreachable"])
    unreachable = extra["__unreachable"].to_numpy(dtype=bool)
    off_main = extra["__off_main"].to_numpy(dtype=bool)
    moved = extra["__moved"].to_numpy(dtype=bool)
    in_areas = float(areas["residents"].sum())
    summary.update({
        "buildings_total": int(len(result)),
        "buildings_unreachable": int(unreachable.sum()),
        "residents_unreachable": float(weights[unreachable].sum()),
        "buildings_off_main_network": int(off_main.sum()),
        "buildings_moved_off_small_pieces": int(moved.sum()) if params["min_piece_m"] > 0 else 0,
        "destinations_moved_off_small_pieces": int(params["_dest_moved"]),
        "residents_off_main_network": float(weights[off_main].sum()),
        "buildings_without_geometry": int(shapely.is_missing(points).sum()),
        "rest_points": int(params["_rest_points"]),
        "rest_points_stops": int(params["_rest_points_stops"]),
        "areas": int(len(areas)),
        "residents_outside_areas": float(total - in_areas) if districts is not None else 0.0,
        "new_benches": 0,
        "new_benches_residents_connected": 0.0,
        "profile": params["profile"],
        "walk_speed_mps": speed,
        "rest_max_m": float(params["rest_max_m"]),
        "population_field": pop_col,
        "network_nodes": int(params["_network_nodes"]),
        "network_components": int(params["_network_components"]),
    })
    run_params = {"profile": params["profile"], "walk_speed_mps": speed,
                  **{f"max_{r}_m": max_m[r] for r in DESTINATIONS}, "min_green_space_m2": params["min_green_space_m2"],
                  "rest_max_m": params["rest_max_m"], "max_snap_m": params["max_snap_m"],
                  "min_piece_m": params["min_piece_m"], "new_benches_k": params["new_benches_k"],
                  "population_field": params["population_field"]}
    chart = pd.DataFrame({"destination": [af.ROLE_TITLES.get(r, r) for r in roles],
                          "share_in_reach": [summary[f"share_in_reach_{r}"] for r in roles],
                          "share_with_rests": [summary[f"share_rest_in_reach_{r}"] for r in roles]})
    chart.attrs.update({"kind": "barh", "title": "Residents within reach"})
    return AnalysisResult.make("age-friendly", {"buildings": result, "new_benches": new, "areas": areas}, summary,
                               run_params, charts={"reach_by_destination": chart})
