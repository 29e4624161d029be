"""Partitioned ``coverage`` (straight-line): per tile the distance of each building's origin to
the nearest target, certain when at most the tile's certain radius (a target that near meets the
halo); the merge recomputes the summary from the merged layer exactly as
:func:`analysis.coverage.coverage` does."""

from __future__ import annotations

import numpy as np
import shapely

from analysis.coverage import _repaired, coverage
from analysis.population import origins, population_weights
from analysis.result import AnalysisResult


def tile_buildings(demand, context, params, certain_m):
    targets, _ids = context["targets"]
    dist = np.full(len(demand), np.nan)
    if len(targets) and len(demand):
        res = coverage(demand, targets, max_distance_m=params["max_distance_m"],
                       min_target_area_m2=params["min_target_area_m2"], population_field=params["population_field"])
        dist = res.layers["buildings"]["dist_m"].to_numpy(dtype=float)
    missing = shapely.is_missing(origins(demand))
    covered = np.nan_to_num(dist, nan=np.inf) <= params["max_distance_m"]
    import pandas as pd

    cols = pd.DataFrame({"dist_m": dist, "covered": covered})
    return cols, (np.nan_to_num(dist, nan=np.inf) <= certain_m) | missing


def halo_m(params) -> float:
    return float(params["max_distance_m"])


PASSES = {"buildings": (tile_buildings, halo_m)}


def merge(merged, whole, params) -> AnalysisResult:
    out = merged["buildings"]
    targets = whole["targets"]
    weights, pop_col = population_weights(out, params["population_field"])
    used = _repaired(targets[targets.geometry.notna() & ~targets.geometry.is_empty])
    if params["min_target_area_m2"] > 0:
        used = used[used.geometry.area >= params["min_target_area_m2"]]
    dist = out["dist_m"].to_numpy(dtype=float)
    covered = out["covered"].to_numpy(dtype=bool)
    points = origins(out)
    total = float(weights.sum())
    summary = {
        "covered_share": float(weights[covered].sum() / total) if total > 0 else 0.0,
        "covered_share_buildings": float(covered.mean()) if len(covered) else 0.0,
        "residents_not_covered": float(weights[~covered].sum()),
        "residents_total": total,
        "buildings_total": int(len(out)),
        "buildings_covered": int(covered.sum()),
        "buildings_without_geometry": int(shapely.is_missing(points).sum()),
        "targets_used": int(len(used)),
        "targets_total": int(len(targets)),
        "population_field": pop_col,
        "median_dist_m": float(np.nanmedian(dist)) if np.isfinite(dist).any() else None,
        "max_distance_m": float(params["max_distance_m"]),
    }
    keys = ("max_distance_m", "min_target_area_m2", "population_field")
    return AnalysisResult.make("coverage", {"buildings": out, "targets": used.copy()}, summary,
                               {k: params[k] for k in keys})
