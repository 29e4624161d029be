"""Partitioned ``coverage`` (straight-line): per tile the distance of each building's origin to
the nearest target, certain when at most the tile's certain radius (a target that near meets the
halo); the merge recomputes the summary from the merged layer exactly as
:func:`analysis.coverage.coverage` does."""

from __future__ import annotations

import numpy as np
import shapely

from analysis.coverage import _repaired, coverage, summarize
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
    summary = summarize(out, used, len(targets), weights, pop_col, params["max_distance_m"])
    keys = ("max_distance_m", "min_target_area_m2", "population_field")
    return AnalysisResult.make("coverage", {"buildings": out, "targets": used.copy()}, summary,
                               {k: params[k] for k in keys})
