"""Partitioned ``waste-coverage``: per tile the walking distance of each building to its nearest
bin (of every kind with ``per_kind``) and which bin that is (its row in the bin layer); each
bin is also snapped by exactly one buildings tile (``ASSIGNED``: the tile nearest it, whose
streets reach it — no second set of tile networks). The merge then counts each bin's residents
over all the buildings assigned to it, whichever tile they were in, and recomputes loads, gaps and
the summary exactly as :func:`analysis.waste_coverage.waste_coverage` does (see
:mod:`analysis.partition` for the halo)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis import waste_coverage
from analysis.network import build_network, snap_points
from analysis.partition import tile_origins
from analysis.population import origins, population_weights
from analysis.result import AnalysisResult
from analysis.waste_common import (
    CAPACITY_FIELDS,
    KIND_FIELDS,
    Homes,
    add_bin_loads,
    guess_field,
    kinds_of,
    median_or_none,
    nearest_bins,
    served,
    slug,
    within,
)
from analysis.waste_coverage import MAX_KINDS, _kept
from analysis.waste_gaps import gap_polygons
from layers.errors import CityDeskError

KEYS = ("max_distance_m", "kind_field", "kinds", "per_kind", "capacity_field", "default_capacity_l",
        "litres_per_resident_per_collection", "gap_cluster_m", "max_snap_m", "population_field")


def prepare(whole, params) -> dict:
    """The bin columns and kinds, chosen once from the whole bin layer (as the single run does)."""
    bins = whole["waste_bins"]
    kind_col = guess_field(bins, params["kind_field"], KIND_FIELDS, "waste_bins", "bin kind")
    cap_col = guess_field(bins, params["capacity_field"], CAPACITY_FIELDS, "waste_bins", "capacity in litres")
    kind = kinds_of(bins, kind_col)
    keep = _kept(kind, params["kinds"], kind_col)
    names = sorted(set(kind[keep]))
    if params["per_kind"] and len(names) > MAX_KINDS:
        raise CityDeskError(f"the bins have {len(names)} kinds, too many to measure one by one",
                            source="waste_bins", fix=f"Keep at most {MAX_KINDS} kinds with 'kinds', or "
                                                     "turn per_kind off")
    return {"_kind_col": kind_col, "_cap_col": cap_col, "_kind_names": names}


def _network(streets):
    if len(streets) == 0 or not (streets.geometry.notna() & ~streets.geometry.is_empty).any():
        return None
    return build_network(streets)


def tile_buildings(demand, context, params, certain_m):
    streets, _ = context["streets"]
    bins, bin_ids = context["waste_bins"]
    n, s_max = len(demand), params["max_snap_m"]
    network = _network(streets)
    names = params["_kind_names"] if params["per_kind"] else []
    cols = {"bin_m": np.full(n, np.nan), "covered": np.zeros(n, bool), "nearest_bin": np.full(n, -1, np.int64)}
    for name in names:
        cols[f"bin_m_{slug(name)}"] = np.full(n, np.nan)
        cols[f"covered_{slug(name)}"] = np.zeros(n, bool)
    unreachable = np.ones(n, bool)
    side = _snap_assigned(network, streets, context, params)
    if network is None or n == 0:
        cols["__unreachable"] = unreachable
        return pd.DataFrame(cols), np.full(n, certain_m >= s_max), side
    points = tile_origins(demand, context)
    snapped = snap_points(network, points, max_snap_m=s_max)
    unreachable = snapped.edge < 0
    homes = Homes(network, points, snapped, np.ones(n), None)
    kind = kinds_of(bins, params["_kind_col"])
    wanted = {k.strip().lower() for k in params["kinds"].split(",") if k.strip()}
    keep = np.isin(np.array([str(k).lower() for k in kind], dtype=object), list(wanted)) if wanted \
        else np.ones(len(kind), bool)
    b_ids, kind = bin_ids[keep], kind[keep]
    bin_snap = snap_points(network, bins[keep].geometry.to_numpy(), max_snap_m=s_max)
    dist, nearest = nearest_bins(homes, bin_snap)
    cols["bin_m"], cols["covered"] = dist, within(dist, params["max_distance_m"])
    cols["nearest_bin"] = np.where(nearest >= 0, b_ids[np.maximum(nearest, 0)] if len(b_ids) else -1, -1)
    certain = np.nan_to_num(dist, nan=np.inf) <= certain_m
    for name in names:
        rows = np.flatnonzero(kind == name)
        d, near = nearest_bins(homes, bin_snap.take(rows))
        cols[f"bin_m_{slug(name)}"], cols[f"covered_{slug(name)}"] = d, within(d, params["max_distance_m"])
        cols[f"__nearest_{slug(name)}"] = np.where(near >= 0, b_ids[rows][np.maximum(near, 0)] if len(rows) else -1,
                                                   -1)
        certain &= np.nan_to_num(d, nan=np.inf) <= certain_m
    cols["__unreachable"] = unreachable
    # an origin with no street within the snap distance has none in the whole layer either
    certain |= unreachable & (certain_m >= s_max)
    return pd.DataFrame(cols), certain, side


def _snap_assigned(network, streets, context, params):
    """The snap distance and edge (-1: none within max_snap_m) of the bins this tile was given,
    indexed by bin id; with the tile's network, or — when some bin lies beyond the tile's streets —
    with a network of the tile's streets and those read around such bins (``__reach_streets``)."""
    if "__assigned" not in context:
        return None
    bins, ids = context["__assigned"]
    if "__reach_streets" in context:
        extra, extra_ids = context["__reach_streets"]
        all_ids, first = np.unique(np.r_[context["streets"][1], extra_ids], return_index=True)
        frame = pd.concat([streets, extra], ignore_index=True).iloc[first].reset_index(drop=True)
        network = _network(gpd.GeoDataFrame(frame, geometry=streets.geometry.name, crs=streets.crs))
    n = len(bins)
    if network is None or n == 0:
        return pd.DataFrame({"__snap_m": np.full(n, np.nan), "__edge": np.full(n, -1)}, index=ids)
    s = snap_points(network, bins.geometry.to_numpy(), max_snap_m=params["max_snap_m"])
    return pd.DataFrame({"__snap_m": s.snap_m, "__edge": s.edge}, index=ids)


def halo_buildings(params) -> float:
    return float(params["max_distance_m"]) + 2.0 * float(params["max_snap_m"])


def reach_bins(params) -> float:
    return float(params["max_snap_m"])


PASSES = {"buildings": (tile_buildings, halo_buildings)}
#: Each bin is snapped by one buildings tile, which needs the streets within ``reach_bins`` of it.
ASSIGNED = ("waste_bins", reach_bins, ("streets",))


def merge(merged, whole, params) -> AnalysisResult:
    out = merged["buildings"]
    hidden = [c for c in out.columns if str(c).startswith("__")]
    extra = out[hidden]
    out = out.drop(columns=hidden)
    waste_bins = merged["waste_bins"]
    for col in ("__snap_m", "__edge"):  # no building tile at all: no bin was snapped
        if col not in waste_bins.columns:
            waste_bins = waste_bins.assign(**{col: np.nan})
    if "__id" in waste_bins.columns:  # read from a file: bin ids are FIDs or partition rows, not positions
        file_ids = waste_bins["__id"].to_numpy(dtype=np.int64)
        waste_bins = waste_bins.drop(columns=["__id"])
        for col in ["nearest_bin"] + [c for c in extra.columns if c.startswith("__nearest_")]:
            frame = out if col == "nearest_bin" else extra
            v = frame[col].to_numpy(dtype=np.int64)
            frame[col] = np.where(v >= 0, np.searchsorted(file_ids, np.maximum(v, 0)), -1)
    kind_col, cap_col, names = params["_kind_col"], params["_cap_col"], params["_kind_names"]
    kind = kinds_of(waste_bins, kind_col)
    keep = _kept(kind, params["kinds"], kind_col)
    bin_rows = np.flatnonzero(keep)
    bins = waste_bins[keep].drop(columns=["__snap_m", "__edge"]).copy()
    snap_m = waste_bins["__snap_m"].to_numpy(dtype=float)[keep]
    bin_edge = np.nan_to_num(waste_bins["__edge"].to_numpy(dtype=float), nan=-1.0)[keep]  # NaN: no location
    kind = kind[keep]
    weights, pop_col = population_weights(out, params["population_field"])
    total = float(weights.sum())

    def share(mask):
        return float(weights[mask].sum() / total) if total > 0 else 0.0

    pos = np.full(len(waste_bins), -1, np.int64)
    pos[bin_rows] = np.arange(len(bin_rows))
    nearest_row = out["nearest_bin"].to_numpy(dtype=np.int64)
    nearest = np.where(nearest_row >= 0, pos[np.maximum(nearest_row, 0)], -1)
    dist = out["bin_m"].to_numpy(dtype=float)
    covered = out["covered"].to_numpy(dtype=bool)
    summary_kinds = {}
    if params["per_kind"] and len(bins):
        residents, count = np.zeros(len(bins)), np.zeros(len(bins), np.int64)
        for name in names:
            rows = np.flatnonzero(kind == name)
            rank = np.full(len(bins), -1, np.int64)
            rank[rows] = np.arange(len(rows))
            g = extra[f"__nearest_{slug(name)}"].to_numpy(dtype=np.int64)
            near = np.where(g >= 0, rank[pos[np.maximum(g, 0)]], -1)
            summary_kinds[f"covered_share_{slug(name)}"] = share(out[f"covered_{slug(name)}"].to_numpy(dtype=bool))
            r, c = served(near, weights, len(rows))
            residents[rows], count[rows] = r, c
    else:
        residents, count = served(nearest, weights, len(bins))
    defaulted = add_bin_loads(bins, kind, cap_col, params["default_capacity_l"], residents, count,
                              params["litres_per_resident_per_collection"], snap_m)
    points = origins(out)
    gaps = gap_polygons(out, ~covered, weights, dist, cluster_m=params["gap_cluster_m"], points=points)
    unreachable = extra["__unreachable"].to_numpy(dtype=bool)
    summary = {
        "covered_share": share(covered),
        "covered_share_buildings": float(covered.mean()) if len(covered) else 0.0,
        "residents_not_covered": float(weights[~covered].sum()),
        "bins_overloaded": int(bins["overloaded"].sum()),
        "median_bin_m": median_or_none(dist),
        **summary_kinds,
        "residents_total": total,
        "buildings_total": int(len(out)),
        "buildings_covered": int(covered.sum()),
        "buildings_unreachable": int(unreachable.sum()),
        "residents_unreachable": float(weights[unreachable].sum()),
        "buildings_without_route": int(np.isnan(dist).sum()),
        "residents_without_route": float(weights[np.isnan(dist)].sum()),
        "bins_used": int(len(bins)),
        "bins_total": int(len(waste_bins)),
        "bins_unreachable": int((bin_edge < 0).sum()),
        "bins_without_capacity": int(defaulted),
        "bins_serving_nobody": int((residents <= 0).sum()),
        "gaps": int(len(gaps)),
        "largest_gap_residents": float(gaps["residents"].iloc[0]) if len(gaps) else 0.0,
        "population_field": pop_col,
        "kind_field": kind_col,
        "capacity_field": cap_col,
        "max_distance_m": float(params["max_distance_m"]),
    }
    charts = {}
    if hasattr(waste_coverage, "walk_bands"):
        charts["walk_to_bin"] = waste_coverage.walk_bands(dist, weights, params["max_distance_m"])
    return AnalysisResult.make("waste-coverage", {"buildings": out, "waste_bins": bins, "gaps": gaps}, summary,
                               {k: params[k] for k in KEYS}, charts=charts)
