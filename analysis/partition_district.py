"""Partitioned ``district-summary``: every feature (and building) is placed in its zone by its own
tile — the zones are independent of each other, so a feature's answer needs no halo: its
representative point, the first zone covering it and the pieces of its area or length in each zone
it meets. The zones themselves (the districts, or the grid over the extent of all features and
homes) are fixed once, on one worker (:func:`global_task`); the merge counts, sums and averages per
zone from the merged layers exactly as :func:`analysis.district_summary.district_summary` does."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis import district_summary as ds
from analysis.population import origins, population_weights
from analysis.result import AnalysisResult
from layers.errors import CityDeskError

GLOBAL_INPUTS = ("features", "buildings", "districts")


def global_task(layers: dict, params) -> dict:
    """The zones (geometries and names), the kind of features and the checked field lists."""
    features = layers["features"][0]
    districts = layers["districts"][0] if "districts" in layers else None
    buildings = layers["buildings"][0] if "buildings" in layers else None
    zones = params["zones"]
    if zones not in ds.ZONES:
        raise CityDeskError(f"unknown zones {zones!r}", fix=f"Choose one of {', '.join(ds.ZONES)}")
    if zones == "auto":
        zones = "districts" if districts is not None else "hexagon"
    if zones == "districts" and districts is None:
        raise CityDeskError("zones=districts needs a districts layer", source="districts",
                            fix="Choose a districts (polygon) layer, or zones=square / hexagon for a grid")
    sums = ds._fields(features, params["sum_fields"], "sum_fields")
    means = ds._fields(features, params["mean_fields"], "mean_fields")
    geoms = ds._repaired(features.geometry.to_numpy())
    names = None
    if zones == "districts":
        zone_geoms = ds._repaired(districts.geometry.to_numpy())
        keep = ~shapely.is_missing(zone_geoms) & ~shapely.is_empty(zone_geoms)
        zone_geoms = zone_geoms[keep]
        names = ds._zone_names(districts[keep], params["name_field"])
    else:
        points = ds.representative_points(geoms)
        extent = [points[~shapely.is_missing(points)]]
        if buildings is not None:
            homes = origins(buildings)
            extent.append(homes[~shapely.is_missing(homes)])
        everything = np.concatenate(extent)
        if len(everything) == 0:
            raise CityDeskError("the features have no geometry to make a grid over", source="features",
                                fix="Choose a layer with features")
        bounds = shapely.total_bounds(everything)
        cell = float(params["cell_m"])
        zone_geoms = ds.square_grid(bounds, cell) if zones == "square" else ds.hex_grid(bounds, cell)
    return {"_zones": zones, "_zone_geoms": zone_geoms, "_zone_names": names, "_kind": ds._kind(geoms),
            "_sums": sums, "_means": means}


def tile_features(demand, context, params, certain_m):
    geoms = ds._repaired(demand.geometry.to_numpy())
    zones = params["_zone_geoms"]
    cols = {"__zone": ds.assign(ds.representative_points(geoms), zones)}
    if params["_kind"] in ("polygon", "line"):
        pz = np.empty(len(demand), dtype=object)
        pm = np.empty(len(demand), dtype=object)
        present = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
        z, g = shapely.STRtree(geoms[present]).query(zones, predicate="intersects") if len(present) \
            else (np.empty(0, np.int64), np.empty(0, np.int64))
        pieces = shapely.intersection(zones[z], geoms[present][g])
        measure = shapely.area(pieces) if params["_kind"] == "polygon" else shapely.length(pieces)
        row = present[g]
        order = np.argsort(row, kind="stable")
        split = np.searchsorted(row[order], np.arange(len(demand) + 1))
        for i in range(len(demand)):  # a list per feature (the pieces in the zones it meets)
            sel = order[split[i]:split[i + 1]]
            pz[i], pm[i] = z[sel], measure[sel]
        cols["__pz"], cols["__pm"] = pz, pm
    return pd.DataFrame(cols), np.ones(len(demand), bool)


def tile_buildings(demand, context, params, certain_m):
    return pd.DataFrame({"__zone": ds.assign(origins(demand), params["_zone_geoms"])}), np.ones(len(demand), bool)


def _no_halo(params) -> float:
    return 0.0


PASSES = {"features": (tile_features, _no_halo), "buildings": (tile_buildings, _no_halo)}


def merge(merged, whole, params) -> AnalysisResult:
    features = merged["features"]
    buildings = merged.get("buildings")
    zones, zone_geoms, names = params["_zones"], params["_zone_geoms"], params["_zone_names"]
    sums, means, kind = params["_sums"], params["_means"], params["_kind"]
    feature_zone = features["__zone"].to_numpy(dtype=np.int64)
    home_zone = buildings["__zone"].to_numpy(dtype=np.int64) if buildings is not None else None
    pz = pm = None
    if kind in ("polygon", "line"):
        pz = np.concatenate(list(features["__pz"]) + [np.empty(0, np.int64)]).astype(np.int64)
        pm = np.concatenate(list(features["__pm"]) + [np.empty(0)]).astype(float)
    if names is None:  # a grid: only the cells that hold something
        used = np.unique(np.concatenate([feature_zone[feature_zone >= 0],
                                         home_zone[home_zone >= 0] if home_zone is not None else []]).astype(int))
        remap = np.full(len(zone_geoms), -1)
        remap[used] = np.arange(len(used))
        zone_geoms = zone_geoms[used]
        feature_zone = np.where(feature_zone >= 0, remap[np.maximum(feature_zone, 0)], -1)
        if home_zone is not None:
            home_zone = np.where(home_zone >= 0, remap[np.maximum(home_zone, 0)], -1)
        if pz is not None:
            pz = remap[pz]
            pm, pz = pm[pz >= 0], pz[pz >= 0]
        names = np.array([f"{zones[0].upper()}{i + 1}" for i in range(len(zone_geoms))], dtype=object)
    n = len(zone_geoms)
    inside = feature_zone >= 0
    table = ds.zone_table(names, feature_zone, features, sums, means)
    zone_area = shapely.area(zone_geoms)
    if pz is not None:
        clipped = np.bincount(pz, weights=pm, minlength=n) if len(pz) else np.zeros(n)
        if kind == "polygon":
            table["feature_area_m2"] = clipped
            with np.errstate(invalid="ignore", divide="ignore"):
                table["area_share"] = np.where(zone_area > 0, clipped / zone_area, np.nan)
        else:
            table["feature_length_m"] = clipped
    table["zone_area_km2"] = zone_area / 1e6
    with np.errstate(invalid="ignore", divide="ignore"):
        table["per_km2"] = np.where(zone_area > 0, table["count"] / (zone_area / 1e6), np.nan)
    weights = pop_col = None
    if home_zone is not None:
        weights, pop_col = population_weights(buildings, params["population_field"])
        housed = home_zone >= 0
        residents = np.bincount(home_zone[housed], weights=weights[housed], minlength=n)
        table["residents"] = residents
        with np.errstate(invalid="ignore", divide="ignore"):
            table["per_1000_residents"] = np.where(residents > 0, table["count"] / residents * 1000, np.nan)
            for col in sums:
                table[f"{col}_per_1000_residents"] = np.where(residents > 0,
                                                              table[f"sum_{col}"] / residents * 1000, np.nan)
    crs = features.crs
    out = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(zone_geoms, crs=crs), crs=crs)
    located = ~shapely.is_missing(ds.representative_points(ds._repaired(features.geometry.to_numpy())))
    cell_m = params["cell_m"]
    summary = ds.zone_summary(table, zones, cell_m, inside, located, weights if home_zone is not None else None,
                              pop_col, sums)
    run_params = {"zones": zones, "cell_m": cell_m, "sum_fields": ",".join(sums) or "none",
                  "mean_fields": ",".join(means) or "none",
                  "name_field": params["name_field"], "population_field": params["population_field"]}
    return AnalysisResult.make("district-summary", {"zones": out}, summary, run_params)
