"""``age-friendly`` — who can walk to a stop, a bench, a toilet, a pharmacy, a grocery, a green
space and health care, at an older person's pace and with rests.

Distances are walking distances on the street network (:mod:`analysis.network`): a building's
origin is its ``point_on_surface()``; the distance to a destination is the straight snap leg from
the origin to the nearest point of the nearest street edge + the distance along the network + the
destination's snap leg. Points farther than ``max_snap_m`` from every street are unreachable
(reported, never dropped). Polygon destinations (green spaces) are reached at their edge: points
every 25 m along the boundary are snapped and the nearest counts; lines likewise along the line.

Per building and destination role R present: ``R_m`` (metres to the nearest R, NaN where
unreachable), ``R_min`` (minutes at the walking speed: metres / speed / 60), ``R_ok`` (``R_m`` at
most ``max_R_m``), ``R_rest_m`` and ``R_rest_ok`` (the shortest walk with no stretch longer than
``rest_max_m`` between the home, rests and R, and that walk within ``max_R_m`` too; see
:mod:`analysis.age_friendly_rest`). ``age_friendly_score`` is 100 x the share of the present
destination roles within reach of the building (``age_friendly_rest_score`` with rests); the
residents enter in the summary and the areas, which weigh every building by its residents:
shares of residents, and the residents-weighted mean score.

The maximum distances are metres and do not change with the profile: the profile's speed turns
metres into minutes. Small pieces of network apart from the main one (a courtyard path, steps
mapped without their streets) are passed over when snapping (``min_piece_m``, default 500 m of
street; the largest piece always counts): a building, destination or rest whose nearest street
lies on such a piece snaps to the nearest street of a larger piece within ``max_snap_m``
(``buildings_moved_off_small_pieces``, ``destinations_moved_off_small_pieces``). Buildings left on
a piece apart from the largest are counted as ``buildings_off_main_network``: they usually reach
little. ``new_benches`` are the greedy top-k bench sites on the streets that give the most
residents rest-aware access to a destination role (see :mod:`analysis.age_friendly_rest`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis import figures
from analysis.age_friendly_params import DESTINATIONS, PARAMS, ROLES, SOURCES, speed_mps
from analysis.age_friendly_rest import (
    build_rest_graph,
    propose_benches,
    rest_distances,
    rest_points,
    street_candidates,
    take,
    target_points,
)
from analysis.network import build_network, nearest_distance, snap_points
from analysis.partition_spec import PartitionSpec
from analysis.population import origins, population_weights
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.style import Style

GRID_M = 250.0
_TOL = 1e-6


def age_friendly(buildings: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, *,
                 transit_stops: gpd.GeoDataFrame | None = None, benches: gpd.GeoDataFrame | None = None,
                 toilets: gpd.GeoDataFrame | None = None, pharmacies: gpd.GeoDataFrame | None = None,
                 groceries: gpd.GeoDataFrame | None = None, green_spaces: gpd.GeoDataFrame | None = None,
                 healthcare: gpd.GeoDataFrame | None = None, districts: gpd.GeoDataFrame | None = None,
                 profile: str = "older", walk_speed_mps: float = 0.0, max_transit_stops_m: float = 400.0,
                 max_benches_m: float = 100.0, max_toilets_m: float = 500.0, max_pharmacies_m: float = 720.0,
                 max_groceries_m: float = 720.0, max_green_spaces_m: float = 300.0,
                 max_healthcare_m: float = 720.0, min_green_space_m2: float = 0.0, rest_max_m: float = 200.0,
                 max_snap_m: float = 100.0, min_piece_m: float = 500.0, new_benches_k: int = 5,
                 population_field: str = "",
                 feedback: Feedback | None = None) -> AnalysisResult:
    """Walking access of every building to each destination layer given, with and without rests.

    All layers in one metric CRS (``run_analysis`` reprojects). Returns result layers
    ``buildings`` (input columns + the columns in the module docstring + ``snap_m``, the origin's
    snap leg, NaN when unreachable), ``new_benches`` (points on the streets with ``rank``,
    ``residents_connected``, ``access_gained``, ``roles``) and ``areas`` (``districts`` or a 250 m
    grid: ``buildings``, ``residents``, ``R_share``, ``R_rest_share``, ``all_share``,
    ``mean_score``), and a summary of population-weighted shares.
    """
    fb = ensure(feedback)
    fb.check_cancelled()
    given = {"transit_stops": transit_stops, "benches": benches, "toilets": toilets, "pharmacies": pharmacies,
             "groceries": groceries, "green_spaces": green_spaces, "healthcare": healthcare}
    dest_layers = {r: given[r] for r in DESTINATIONS if given[r] is not None}
    max_m = {r: float(v) for r, v in zip(DESTINATIONS, (max_transit_stops_m, max_benches_m, max_toilets_m,
                                                         max_pharmacies_m, max_groceries_m, max_green_spaces_m,
                                                         max_healthcare_m), strict=True)}
    _check(buildings, streets, dest_layers, districts)
    speed = speed_mps(profile, walk_speed_mps)
    weights, pop_col = population_weights(buildings, population_field)

    network = build_network(streets, feedback=SubFeedback(fb, 0.0, 0.2))
    fb.check_cancelled()
    fb.progress(0.2, "Snapping buildings to the streets")
    points = origins(buildings)
    snapped = snap_points(network, points, max_snap_m=max_snap_m, min_piece_m=min_piece_m)
    reach = np.flatnonzero(snapped.edge >= 0)
    homes = take(snapped, reach)

    dests, targets_total, targets_unreachable, targets_moved = {}, {}, {}, 0
    for role, gdf in dest_layers.items():
        if role == "green_spaces" and min_green_space_m2 > 0:
            area = shapely.area(shapely.make_valid(gdf.geometry.to_numpy()))
            gdf = gdf[area >= min_green_space_m2]
        pts, feature = target_points(gdf)
        s = snap_points(network, pts, max_snap_m=max_snap_m, min_piece_m=min_piece_m)
        targets_moved += len(np.unique(feature[s.moved])) if s.moved is not None else 0
        dests[role] = take(s, np.flatnonzero(s.edge >= 0))
        targets_total[role] = len(gdf)
        targets_unreachable[role] = len(gdf) - len(np.unique(feature[s.edge >= 0]))

    out = buildings.copy()
    out["snap_m"] = np.where(snapped.edge >= 0, snapped.snap_m, np.nan)
    ok, rest_ok, dist = {}, {}, {}
    for i, (role, d) in enumerate(dests.items()):
        fb.check_cancelled()
        full = np.full(len(buildings), np.nan)
        if len(d.edge) and len(reach):
            sub = SubFeedback(fb, 0.25 + 0.25 * i / len(dests), 0.25 + 0.25 * (i + 1) / len(dests))
            full[reach], _ = nearest_distance(network, homes, d, feedback=sub)
        dist[role] = full
        ok[role] = np.nan_to_num(full, nan=np.inf) <= max_m[role] + _TOL
        out[f"{role}_m"] = full
        out[f"{role}_min"] = full / speed / 60.0
        out[f"{role}_ok"] = ok[role]
        fb.progress(0.25 + 0.25 * (i + 1) / len(dests), f"Walking distances to {role.replace('_', ' ')}")

    fb.progress(0.5, "Rest-aware access")
    rests_pts, rest_kind = rest_points(benches, transit_stops)
    rs = snap_points(network, rests_pts, max_snap_m=max_snap_m, min_piece_m=min_piece_m)
    rest_on = np.flatnonzero(rs.edge >= 0)
    graph = build_rest_graph(network, homes, take(rs, rest_on), dests, rest_max_m, SubFeedback(fb, 0.5, 0.65))
    rest_m_reach = {}
    for role in dests:
        fb.check_cancelled()
        rest_m_reach[role] = rest_distances(graph, role)
        full = np.full(len(buildings), np.nan)
        full[reach] = np.where(np.isfinite(rest_m_reach[role]), rest_m_reach[role], np.nan)
        rest_ok[role] = ok[role] & (np.nan_to_num(full, nan=np.inf) <= max_m[role] + _TOL)
        out[f"{role}_rest_m"] = full
        out[f"{role}_rest_ok"] = rest_ok[role]
    n_roles = len(dests)
    score = 100.0 * np.sum([ok[r] for r in dests], axis=0) / n_roles
    rest_score = 100.0 * np.sum([rest_ok[r] for r in dests], axis=0) / n_roles
    out["age_friendly_score"] = score
    out["age_friendly_rest_score"] = rest_score
    fb.progress(0.7, "Proposing new benches")

    candidates, sites = street_candidates(network, min_piece_m=min_piece_m)
    chosen = propose_benches(graph, {r: ok[r][reach] for r in dests}, rest_m_reach, max_m, weights[reach],
                             int(new_benches_k), sites, SubFeedback(fb, 0.7, 0.95))
    new = gpd.GeoDataFrame({"rank": np.arange(1, len(chosen) + 1, dtype=int),
                            "residents_connected": chosen["residents_connected"].to_numpy(dtype=float),
                            "access_gained": chosen["access_gained"].to_numpy(dtype=float),
                            "roles": chosen["roles"].astype(str).to_numpy()},
                           geometry=candidates[chosen["index"].to_numpy(dtype=int)], crs=buildings.crs)
    fb.check_cancelled()
    fb.progress(0.95, "Summing up by area")
    areas = _areas(out, weights, points, list(dests), ok, rest_ok, score, districts)
    in_areas = float(areas["residents"].sum())

    total = float(weights.sum())
    summary = access_summary(dests, weights, ok, rest_ok, score, rest_score, dist, targets_total,
                             targets_unreachable)
    unreachable = snapped.edge < 0
    off_main = np.zeros(len(buildings), dtype=bool)
    off_main[reach] = network.component[network.edge_u[snapped.edge[reach]]] != 0
    summary.update({
        "buildings_total": int(len(buildings)),
        "buildings_unreachable": int(unreachable.sum()),
        "residents_unreachable": float(weights[unreachable].sum()),
        "buildings_off_main_network": int(off_main.sum()),
        "buildings_moved_off_small_pieces": int(snapped.moved.sum()) if snapped.moved is not None else 0,
        "destinations_moved_off_small_pieces": int(targets_moved),
        "residents_off_main_network": float(weights[off_main].sum()),
        "buildings_without_geometry": int(shapely.is_missing(points).sum()),
        "rest_points": int(len(rest_on)),
        "rest_points_stops": int((rest_kind[rest_on] == "stop").sum()),
        "areas": int(len(areas)),
        "residents_outside_areas": float(total - in_areas) if districts is not None else 0.0,
        "new_benches": int(len(new)),
        "new_benches_residents_connected": float(new["residents_connected"].sum()),
        "profile": profile,
        "walk_speed_mps": speed,
        "rest_max_m": float(rest_max_m),
        "population_field": pop_col,
        "network_nodes": int(len(network.node_xy)),
        "network_components": int(network.report.get("components", 0)),
    })
    params = {"profile": profile, "walk_speed_mps": speed,  # the speed used (the profile's when none was given)
              **{f"max_{r}_m": max_m[r] for r in DESTINATIONS}, "min_green_space_m2": min_green_space_m2,
              "rest_max_m": rest_max_m, "max_snap_m": max_snap_m, "min_piece_m": min_piece_m,
              "new_benches_k": new_benches_k,
              "population_field": population_field}
    reach = pd.DataFrame({"destination": [ROLE_TITLES.get(r, r) for r in dests],
                          "share_in_reach": [summary[f"share_in_reach_{r}"] for r in dests],
                          "share_with_rests": [summary[f"share_rest_in_reach_{r}"] for r in dests]})
    reach.attrs.update({"kind": "barh", "title": "Residents within reach"})
    fb.progress(1.0, "Age-friendly access done")
    return AnalysisResult.make("age-friendly", {"buildings": out, "new_benches": new, "areas": areas}, summary,
                               params, charts={"reach_by_destination": reach})


ROLE_TITLES = {"transit_stops": "Bus or tram stop", "benches": "Bench", "toilets": "Toilet", "pharmacies": "Pharmacy",
               "groceries": "Grocery", "green_spaces": "Green space", "healthcare": "Health care"}


def headline(summary) -> str:
    """'2.5 % of residents reach every destination (1.9 % with a rest every 200 m); mean score 76 / 100'."""
    text = f"{figures.share(summary['share_all_in_reach'])} of residents reach every destination"
    if "share_all_rest_in_reach" in summary:
        rests = figures.share(summary["share_all_rest_in_reach"])
        text += f" ({rests} with a rest every {summary.get('rest_max_m', 200):g} m)"
    return text + f"; mean score {summary['mean_score']:.0f} / 100"


def access_summary(roles, weights: np.ndarray, ok: dict, rest_ok: dict, score: np.ndarray, rest_score: np.ndarray,
                   dist: dict, targets_total: dict, targets_unreachable: dict) -> dict:
    """The reach figures of a run: shares of residents with every destination and with each one in
    reach (with and without rests), scores, medians and target counts. Shared with the partitioned
    merge (analysis.partition_age_friendly), so both report the same figures."""
    total = float(weights.sum())

    def share(mask: np.ndarray) -> float:
        return float(weights[mask].sum() / total) if total > 0 else 0.0

    summary: dict[str, object] = {
        "share_all_in_reach": share(np.all([ok[r] for r in roles], axis=0)),
        "share_all_rest_in_reach": share(np.all([rest_ok[r] for r in roles], axis=0)),
        "mean_score": float((weights * score).sum() / total) if total > 0 else 0.0,
        "mean_rest_score": float((weights * rest_score).sum() / total) if total > 0 else 0.0,
        "residents_total": total,
    }
    for role in roles:
        summary[f"share_in_reach_{role}"] = share(ok[role])
        summary[f"share_rest_in_reach_{role}"] = share(rest_ok[role])
        summary[f"residents_in_reach_{role}"] = float(weights[ok[role]].sum())
        summary[f"residents_rest_in_reach_{role}"] = float(weights[rest_ok[role]].sum())
        summary[f"residents_out_of_reach_{role}"] = float(weights[~ok[role]].sum())
        summary[f"median_{role}_m"] = float(np.nanmedian(dist[role])) if np.isfinite(dist[role]).any() else None
        summary[f"targets_{role}"] = int(targets_total[role])
        summary[f"targets_unreachable_{role}"] = int(targets_unreachable[role])
    return summary


def _check(buildings, streets, dest_layers, districts) -> None:
    layers = {"buildings": buildings, "streets": streets, **dest_layers}
    if districts is not None:
        layers["districts"] = districts
    for role, gdf in layers.items():
        if gdf.crs is None or not gdf.crs.is_projected:
            raise CityDeskError("the age-friendly analysis needs layers in a metric CRS", source=role,
                                fix="Run it through citydesk run or the window, which reproject for you")
        if gdf.crs != buildings.crs:
            raise CityDeskError(f"the {role} layer is in {gdf.crs.name}, the buildings in {buildings.crs.name}",
                                source=role, fix="Reproject all layers to one metric CRS (run_analysis does)")
    geoms = streets.geometry
    if len(streets) == 0 or not (geoms.notna() & ~geoms.is_empty).any():
        raise CityDeskError("the streets layer is empty", source="streets",
                            fix="Choose a layer of streets and paths (lines)")
    if not dest_layers:
        raise CityDeskError("the age-friendly analysis needs at least one destination layer", source="layers",
                            fix="Give one or more of: " + ", ".join(DESTINATIONS))


#: Columns that name a district, looked for in this order (any case).
NAME_COLUMNS = ("name", "nimi", "namn", "district", "kaupunginosa", "neighbourhood", "label", "title", "id")


def _district_names(districts: gpd.GeoDataFrame) -> np.ndarray:
    """A readable name per district: its name column where it has one, else "District 1", 2, ..."""
    out = np.array([f"District {i + 1}" for i in range(len(districts))], dtype=object)
    lower = {str(c).lower(): c for c in districts.columns if c != districts.geometry.name}
    for key in NAME_COLUMNS:
        if key in lower:
            text = districts[lower[key]].astype("string").str.strip()
            has = (text.notna() & (text != "")).to_numpy(dtype=bool)
            out[has] = text[has].to_numpy(dtype=object)
            break
    return out


def _areas(out: gpd.GeoDataFrame, weights: np.ndarray, points: np.ndarray, roles: list[str],
           ok: dict, rest_ok: dict, score: np.ndarray, districts: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Residents, shares within reach per role (with and without rests) and the mean score per
    district, or per 250 m grid cell holding buildings; ``area_name`` first (the district's name
    column, else "District n"; "250 m cell E x N y" for the grid). A building counts in the district
    its origin lies in (on a shared border: the first); buildings outside every district in none.
    Shares are of the residents (population-weighted), NaN where an area has no residents."""
    has = ~shapely.is_missing(points)
    area_of = np.full(len(out), -1)
    if districts is not None:
        base = districts.reset_index(drop=True)
        geoms = shapely.make_valid(base.geometry.to_numpy())
        tree = shapely.STRtree(geoms)
        pi, di = tree.query(points[has], predicate="intersects")  # on a shared border: the first district
        first = np.unique(pi, return_index=True)[1]
        area_of[np.flatnonzero(has)[pi[first]]] = di[first]
        base = gpd.GeoDataFrame(base.drop(columns=base.geometry.name), geometry=geoms, crs=out.crs)
        names = _district_names(base)
    else:
        xy = shapely.get_coordinates(points[has])
        cell = np.floor(xy / GRID_M).astype(np.int64)
        # the distinct cells in (x, y) order, as np.unique(cell, axis=0) gives them, by a hash table on one
        # integer key (np.unique sorts rows holding the GIL: ~60 ms at 100k buildings)
        lo = cell.min(axis=0) if len(cell) else np.zeros(2, np.int64)
        span = int(cell[:, 1].max(initial=lo[1]) - lo[1]) + 1
        inverse, flat = pd.factorize((cell[:, 0] - lo[0]) * span + (cell[:, 1] - lo[1]), sort=True)
        keys = np.c_[flat // span + lo[0], flat % span + lo[1]].astype(np.int64)
        area_of[has] = inverse
        x0, y0 = keys[:, 0] * GRID_M, keys[:, 1] * GRID_M
        base = gpd.GeoDataFrame({"cell": [f"{int(x)}_{int(y)}" for x, y in zip(x0, y0, strict=True)]},
                                geometry=shapely.box(x0, y0, x0 + GRID_M, y0 + GRID_M), crs=out.crs)
        names = np.array([f"{GRID_M:g} m cell E {int(x)} N {int(y)}" for x, y in zip(x0, y0, strict=True)],
                         dtype=object)
    base.insert(0, "area_name", names)
    inside = area_of >= 0
    frame = pd.DataFrame({"area": area_of[inside], "w": weights[inside], "one": 1,
                          "ws": weights[inside] * score[inside],
                          "all": weights[inside] * np.all([ok[r][inside] for r in roles], axis=0)})
    for r in roles:
        frame[f"{r}_share"] = weights[inside] * ok[r][inside]
        frame[f"{r}_rest_share"] = weights[inside] * rest_ok[r][inside]
    sums = frame.groupby("area").sum().reindex(range(len(base)), fill_value=0)
    res = sums["w"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cols = {"buildings": sums["one"].to_numpy(dtype=int), "residents": res,
                "all_share": sums["all"].to_numpy() / res, "mean_score": sums["ws"].to_numpy() / res}
        for r in roles:
            cols[f"{r}_share"] = sums[f"{r}_share"].to_numpy() / res
            cols[f"{r}_rest_share"] = sums[f"{r}_rest_share"].to_numpy() / res
    for name, values in cols.items():
        base[name] = np.where(res > 0, values, np.nan) if values.dtype.kind == "f" and name != "residents" else values
    return base


SCORE_BREAKS = (20.0, 40.0, 60.0, 80.0, 100.0)  # score classes: fifths, the same on every map

SPEC = Analysis(
    id="age-friendly",
    title="Age-friendly walking access",
    description="Who can walk to a stop, a bench, a toilet, a pharmacy, a grocery, a green space and health care "
                "along the streets at an older person's pace, with a rest at least every 200 m; and where new "
                "benches would connect the most residents.",
    roles=ROLES,
    params=PARAMS,
    run=age_friendly,
    sources=SOURCES,
    partition=PartitionSpec(  # issue 10: exact tiles when no new benches are sited (analysis.partition_age_friendly)
        demand="buildings", context=("streets", *DESTINATIONS), adapter="analysis.partition_age_friendly",
        global_roles=("districts",),
        halo_m=lambda p: __import__("analysis.partition_age_friendly", fromlist=["_"]).halo_m(p),
        not_exact=lambda p: __import__("analysis.partition_age_friendly", fromlist=["_"]).not_exact(p)),
    key_figures=("share_all_in_reach", "share_all_rest_in_reach", "mean_score", "mean_rest_score", "residents_total",
                 "new_benches", "new_benches_residents_connected"),
    headline=headline,
    result_styles={
        "buildings": Style(kind="graduated", field="age_friendly_score", scheme="manual", breaks=SCORE_BREAKS,
                           ramp="cividis", stroke="#7f7f7f", stroke_width=0.4, unit="%"),
        "new_benches": Style(kind="single", fill="#D55E00", stroke="#000000", stroke_width=1.0, size=10.0,
                             label_field="rank"),
        "areas": Style(kind="graduated", field="mean_score", scheme="manual", breaks=SCORE_BREAKS, ramp="cividis",
                       stroke="#555555", stroke_width=0.8, fill_opacity=0.3, unit="%"),
    },
)
