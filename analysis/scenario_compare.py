"""``scenario-compare`` — what a proposed change to a point layer (bins, stops, benches) does to
walking coverage and to the load on each point.

Both layers are measured the same way (:mod:`analysis.waste_common`: walking distance along the
streets from every building to its nearest point, covered when at most the maximum distance). The
maximum distance follows the ``purpose``: waste bins 100 m (SanPiN 2.1.3684-21), transit stops
400 m and benches 100 m (the ``age-friendly`` defaults, :mod:`analysis.age_friendly_params`), or
``max_distance_m`` when given (> 0).

Per building: ``state`` = gained / lost / unchanged covered / unchanged not covered. Per point
(the union of both layers): ``status`` kept / moved / added / removed, and the residents assigned to
it (each building to its nearest point, as in ``waste-coverage``) before and after. Points are
matched by ``id_field`` when given (or a column named ``id``, ``bin_id``, ``osm_id``... present in
both layers): same id at most ``match_tolerance_m`` apart is kept, farther is moved; without ids,
points at most ``match_tolerance_m`` apart (mutually nearest) are the same point.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from analysis import figures
from analysis.age_friendly_params import MAX_DEFAULTS
from analysis.network import snap_points
from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from analysis.waste_common import check_layers, median_or_none, nearest_bins, place_homes, served, within
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.style import Style

#: Default maximum walking distance per purpose, metres.
PURPOSES = {"waste_bins": 100.0, "transit_stops": MAX_DEFAULTS["transit_stops"], "benches": MAX_DEFAULTS["benches"]}
ID_FIELDS = ("id", "bin_id", "stop_id", "osm_id", "fid", "code")
STATES = ("gained", "lost", "unchanged covered", "unchanged not covered")


def scenario_compare(buildings: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, baseline: gpd.GeoDataFrame,
                     scenario: gpd.GeoDataFrame, *, purpose: str = "waste_bins", max_distance_m: float = 0.0,
                     id_field: str = "", match_tolerance_m: float = 1.0, max_snap_m: float = 100.0,
                     population_field: str = "", feedback: Feedback | None = None) -> AnalysisResult:
    """Coverage of ``buildings`` by the ``baseline`` points and by the ``scenario`` points, and
    the change (all layers in one metric CRS). Result layers ``buildings`` (input columns +
    ``dist_before_m``, ``dist_after_m``, ``covered_before``, ``covered_after``, ``state``) and
    ``points`` (``status``, ``residents_before``, ``residents_after``, ``residents_change``, sorted
    by the largest change of load first). Summary: ``covered_share_before``/``_after``,
    ``residents_gained``, ``residents_lost`` and counts of points added, removed, moved, kept."""
    fb = ensure(feedback)
    fb.check_cancelled()
    check_layers("scenario-compare", {"buildings": buildings, "streets": streets, "baseline": baseline,
                                      "scenario": scenario})
    if purpose not in PURPOSES:
        raise CityDeskError(f"unknown purpose '{purpose}'", fix=f"Choose one of {', '.join(PURPOSES)}")
    limit = float(max_distance_m) if max_distance_m > 0 else PURPOSES[purpose]
    homes = place_homes(buildings, streets, population_field=population_field, max_snap_m=max_snap_m,
                        feedback=SubFeedback(fb, 0.0, 0.3))
    dists, nearest = [], []
    for i, layer in enumerate((baseline, scenario)):
        fb.check_cancelled()
        snapped = snap_points(homes.network, layer.geometry.to_numpy(), max_snap_m=max_snap_m)
        d, n = nearest_bins(homes, snapped, feedback=SubFeedback(fb, 0.3 + 0.3 * i, 0.6 + 0.3 * i))
        dists.append(d)
        nearest.append(n)
    before, after = within(dists[0], limit), within(dists[1], limit)
    state = np.select([after & ~before, before & ~after, before & after], STATES[:3], STATES[3])
    out = buildings.copy()
    out["dist_before_m"], out["dist_after_m"] = dists
    out["covered_before"], out["covered_after"] = before, after
    out["state"] = state

    fb.progress(0.92, "Matching points and their loads")
    points = _points(baseline, scenario, id_field, match_tolerance_m)
    load_before, _ = served(nearest[0], homes.weights, len(baseline))
    load_after, _ = served(nearest[1], homes.weights, len(scenario))
    b, s = points["baseline_row"].to_numpy(), points["scenario_row"].to_numpy()
    points["residents_before"] = np.where(b >= 0, load_before[np.maximum(b, 0)], 0.0)
    points["residents_after"] = np.where(s >= 0, load_after[np.maximum(s, 0)], 0.0)
    points["residents_change"] = points["residents_after"] - points["residents_before"]
    points = points.iloc[np.argsort(-points["residents_change"].abs().to_numpy(), kind="stable")].reset_index(drop=True)
    points.insert(0, "change_rank", np.arange(1, len(points) + 1))

    w = homes.weights
    status = points["status"].to_numpy()
    change = points["residents_change"].to_numpy()
    summary = {
        "covered_share_before": homes.share(before),
        "covered_share_after": homes.share(after),
        "residents_gained": float(w[state == "gained"].sum()),
        "residents_lost": float(w[state == "lost"].sum()),
        "buildings_gained": int((state == "gained").sum()),
        "buildings_lost": int((state == "lost").sum()),
        "points_added": int((status == "added").sum()),
        "points_removed": int((status == "removed").sum()),
        "points_moved": int((status == "moved").sum()),
        "points_kept": int((status == "kept").sum()),
        "largest_load_increase": float(max(0.0, change.max())) if len(change) else 0.0,
        "largest_load_decrease": float(max(0.0, -change.min())) if len(change) else 0.0,
        "median_dist_before_m": median_or_none(dists[0]),
        "median_dist_after_m": median_or_none(dists[1]),
        "max_distance_used_m": limit,
        "residents_total": homes.total,
        "population_field": homes.population_field,
    }
    params = {"purpose": purpose, "max_distance_m": limit,  # the distance used (the purpose's when 0)
              "id_field": id_field, "match_tolerance_m": match_tolerance_m, "max_snap_m": max_snap_m,
              "population_field": population_field}
    fb.progress(1.0, "Scenario compared")
    return AnalysisResult.make("scenario-compare", {"buildings": out, "points": points}, summary, params)


def _points(baseline: gpd.GeoDataFrame, scenario: gpd.GeoDataFrame, id_field: str, tol: float) -> gpd.GeoDataFrame:
    """The union of both layers' points with ``baseline_row``/``scenario_row`` (row positions, -1
    when absent), ``status`` and ``id`` (when matched by id)."""
    key = _id_column(baseline, scenario, id_field)
    pa = shapely.point_on_surface(baseline.geometry.to_numpy())
    pb = shapely.point_on_surface(scenario.geometry.to_numpy())
    if key is not None:
        ia = baseline[key].astype("string").to_numpy(dtype=object)
        ib = scenario[key].astype("string").to_numpy(dtype=object)
        rows_b = {v: j for j, v in enumerate(ib) if v is not None and v is not pd.NA}
        pairs = [(i, rows_b[v]) for i, v in enumerate(ia) if v in rows_b]
        a_idx = np.array([p[0] for p in pairs], dtype=np.int64)
        b_idx = np.array([p[1] for p in pairs], dtype=np.int64)
    else:
        a_idx, b_idx = _match_by_position(pa, pb, tol)
    moved = np.zeros(len(a_idx), dtype=bool)
    if len(a_idx):
        moved = ~(shapely.distance(pa[a_idx], pb[b_idx]) <= tol)
    only_a = np.setdiff1d(np.arange(len(pa)), a_idx)
    only_b = np.setdiff1d(np.arange(len(pb)), b_idx)
    base_row = np.r_[a_idx, only_a, np.full(len(only_b), -1)].astype(np.int64)
    scen_row = np.r_[b_idx, np.full(len(only_a), -1), only_b].astype(np.int64)
    status = np.r_[np.where(moved, "moved", "kept"), np.full(len(only_a), "removed"),
                   np.full(len(only_b), "added")].astype(object)
    geom = np.where(scen_row >= 0, pb[np.maximum(scen_row, 0)] if len(pb) else None,
                    pa[np.maximum(base_row, 0)] if len(pa) else None)
    frame = {"status": status, "baseline_row": base_row, "scenario_row": scen_row}
    if key is not None:
        ids = np.where(scen_row >= 0, scenario[key].to_numpy(dtype=object)[np.maximum(scen_row, 0)],
                       baseline[key].to_numpy(dtype=object)[np.maximum(base_row, 0)])
        frame = {"id": pd.array(ids).astype("string"), **frame}
    return gpd.GeoDataFrame(frame, geometry=list(geom), crs=baseline.crs)


def _id_column(baseline, scenario, id_field: str) -> str | None:
    if id_field:
        for role, gdf in (("baseline", baseline), ("scenario", scenario)):
            if id_field not in gdf.columns:
                raise CityDeskError(f"the {role} layer has no column '{id_field}'", source=role,
                                    fix="Name a column both layers have, or leave id_field empty to match by "
                                        "position")
        return id_field
    for name in ID_FIELDS:
        if name in baseline.columns and name in scenario.columns:
            ids = baseline[name]
            if ids.notna().all() and ids.is_unique:
                return name
    return None


def _match_by_position(pa: np.ndarray, pb: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of mutually nearest points at most ``tol`` apart."""
    if len(pa) == 0 or len(pb) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    xa, xb = shapely.get_coordinates(pa), shapely.get_coordinates(pb)
    da, ja = cKDTree(xb).query(xa, distance_upper_bound=tol)
    _, ib = cKDTree(xa).query(xb, distance_upper_bound=tol)
    a = np.flatnonzero(np.isfinite(da))
    mutual = ib[ja[a]] == a
    return a[mutual].astype(np.int64), ja[a][mutual].astype(np.int64)


def headline(summary) -> str:
    """'Coverage 7.4 % → 47.4 % within 100 m: 1 735 residents gain, none lose (points: 5 added, 3 removed)'."""
    reach = f" within {summary['max_distance_used_m']:g} m" if "max_distance_used_m" in summary else ""
    lost = round(summary.get("residents_lost") or 0)
    text = (f"Coverage {figures.share(summary['covered_share_before'])} → "
            f"{figures.share(summary['covered_share_after'])}{reach}: "
            f"{figures.people(summary['residents_gained'])} residents gain, "
            + (f"{figures.people(lost)} lose" if lost else "none lose"))
    changes = [f"{summary[f'points_{w}']} {w}" for w in ("added", "removed", "moved") if summary.get(f"points_{w}")]
    return text + (f" (points: {', '.join(changes)})" if changes else " (no point changed)")


SPEC = Analysis(
    id="scenario-compare",
    partition_note="it compares the coverage of two whole layers; it is not cut into tiles",
    title="Scenario comparison (bins, stops, benches)",
    description="Walking coverage of a baseline point layer and of a proposed scenario layer: residents gained and "
                "lost, the points whose load changes most, and the buildings that change state.",
    roles=(
        Role("buildings", ("polygon", "point"), help="homes; residents from a population column, else 1 each"),
        Role("streets", ("line",), help="streets and footpaths people walk along"),
        Role("baseline", ("point",), help="the points as they are (e.g. the waste bins today)", like="waste_bins"),
        Role("scenario", ("point",), help="the points as proposed (e.g. an edited copy of the bin layer)",
             like="waste_bins"),
    ),
    params=(
        Param("purpose", "choice", "waste_bins", "what the points are; sets the default distance: waste bins "
              "100 m, transit stops 400 m, benches 100 m", choices=tuple(PURPOSES)),
        Param("max_distance_m", "float", 0.0, "walking distance that counts as covered (0: the purpose's "
              "default)", "m", 0, 5_000),
        Param("id_field", "str", "", "column identifying the same point in both layers (empty: 'id', 'osm_id'... "
              "if both have it, else matched by position)"),
        Param("match_tolerance_m", "float", 1.0, "points at most this far apart are the same point", "m", 0, 100),
        Param("max_snap_m", "float", 100.0, "buildings and points farther than this from every street are "
              "unreachable", "m", 1, 1_000),
        Param("population_field", "str", "", "column with residents per building (empty: found automatically, "
              "else 1 per building)"),
    ),
    run=scenario_compare,
    key_figures=("covered_share_before", "covered_share_after", "residents_gained", "residents_lost", "points_added",
                 "points_removed", "points_moved", "median_dist_after_m"),
    headline=headline,
    sources=("Russia, SanPiN 2.1.3684-21: container sites at most 100 m from dwellings",
             "CIHT (2018): 400 m to a stop; DfT Inclusive Mobility: seats every 50 m, a bench within 100 m "
             "(the age-friendly defaults)"),
    result_styles={
        "buildings": Style(kind="categorized", field="state", stroke="#7f7f7f", stroke_width=0.4,
                           categories={"gained": "#009E73", "lost": "#D55E00", "unchanged covered": "#9ecae1",
                                       "unchanged not covered": "#d9d9d9"}),
        "points": Style(kind="categorized", field="status", stroke="#000000", stroke_width=0.8, size=9.0,
                        categories={"added": "#009E73", "removed": "#D55E00", "moved": "#E69F00",
                                    "kept": "#0072B2"}),
    },
)
