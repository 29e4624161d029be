"""Partitioned ``district-summary``: every feature (and building) is placed in its zone by its own
tile — the zones are independent of each other, so a feature's answer needs no halo: its
representative point, the first zone covering it and the pieces of its area or length in each zone
it meets. The zones themselves (the districts, or the grid over the extent of all features and
homes) are found cell by cell (:func:`survey`), no layer read whole; the merge counts, sums and averages per
zone from the merged layers exactly as :func:`analysis.district_summary.district_summary` does."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis import district_summary as ds
from analysis.partition_pieces import grid_cells, in_cell
from analysis.partition_sources import extent_of
from analysis.population import origins, population_weights
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import ensure

#: A box that meets no feature (a layer's columns, no rows).
NOTHING = (0.0, 0.0, -1.0, -1.0)

def survey(sources: dict, params, engine, feedback=None, tile_rows: int = 50_000) -> dict:
    """The zones (geometries and names), the kind of features and the checked field lists, found
    cell by cell (no layer is read whole but the districts): each cell reports the extent of the
    representative points and homes that lie in it, the geometry types and, per summed or averaged
    field, whether it holds values and numbers there; features without geometry come in one more
    task. ``sources``: role -> FrameSource or FileSource."""
    zones = params["zones"]
    if zones not in ds.ZONES:
        raise CityDeskError(f"unknown zones {zones!r}", fix=f"Choose one of {', '.join(ds.ZONES)}")
    has_districts = "districts" in sources
    if zones == "auto":
        zones = "districts" if has_districts else "hexagon"
    if zones == "districts" and not has_districts:
        raise CityDeskError("zones=districts needs a districts layer", source="districts",
                            fix="Choose a districts (polygon) layer, or zones=square / hexagon for a grid")
    features = sources["features"]
    schema = features.select(NOTHING)[0]
    wanted = {k: [t.strip() for t in (params[k] or "").split(",") if t.strip()] for k in ("sum_fields", "mean_fields")}
    for key, names in wanted.items():
        ds._fields(schema, ",".join(names), key)  # every column there (the numbers are checked below)
    fields = sorted({n for names in wanted.values() for n in names})
    roles = {r: sources[r] for r in ("features", "buildings") if r in sources}
    cells = grid_cells(extent_of([s.bounds() for s in roles.values()]), sum(s.count() for s in roles.values()),
                       tile_rows)
    tasks = [(roles, c, fields) for c in cells] + [(roles, None, fields)]
    types, has_value, has_number, boxes = set(), set(), set(), []
    fb = ensure(feedback)
    for done, got in enumerate(engine.map(survey_tile, tasks, fb), 1):
        types |= got["types"]
        has_value |= got["has_value"]
        has_number |= got["has_number"]
        boxes += got["boxes"]
        fb.progress(done / len(tasks), f"features: cell {done} of {len(tasks)}")
    for key, names in wanted.items():
        for name in names:
            if name in has_value and name not in has_number:
                numeric = [str(c) for c in schema.columns if c != schema.geometry.name and
                           pd.api.types.is_numeric_dtype(schema[c]) and not pd.api.types.is_bool_dtype(schema[c])]
                raise CityDeskError(f"the column '{name}' ({key}) holds no numbers", source="features",
                                    fix=f"Numeric columns: {', '.join(numeric[:30]) or '(none)'}")
    names = None
    if zones == "districts":
        districts = sources["districts"].select(None)[0]
        zone_geoms = ds._repaired(districts.geometry.to_numpy())
        keep = ~shapely.is_missing(zone_geoms) & ~shapely.is_empty(zone_geoms)
        zone_geoms = zone_geoms[keep]
        names = ds._zone_names(districts[keep], params["name_field"])
    else:
        if not boxes:
            raise CityDeskError("the features have no geometry to make a grid over", source="features",
                                fix="Choose a layer with features")
        e = np.array(boxes, float)
        bounds = (e[:, 0].min(), e[:, 1].min(), e[:, 2].max(), e[:, 3].max())
        cell = float(params["cell_m"])
        zone_geoms = ds.square_grid(bounds, cell) if zones == "square" else ds.hex_grid(bounds, cell)
    return {"_zones": zones, "_zone_geoms": zone_geoms, "_zone_names": names, "_kind": ds.kind_of_types(types),
            "_sums": list(dict.fromkeys(wanted["sum_fields"])), "_means": list(dict.fromkeys(wanted["mean_fields"]))}


def survey_tile(task) -> dict:
    """Runs on a worker: what :func:`survey` needs of one cell (``cell`` None: the features without
    a geometry, which no box selects)."""
    roles, cell, fields = task
    got = {"types": set(), "has_value": set(), "has_number": set(), "boxes": []}
    for role, source in roles.items():
        gdf = (source.select_missing() if cell is None else source.select(cell))[0]
        geoms = gdf.geometry.to_numpy()
        if role == "features":
            points = ds.representative_points(ds._repaired(geoms))
        else:
            points = origins(gdf)
        mine = np.ones(len(gdf), bool)
        if cell is not None:
            xy = np.full((len(points), 2), np.inf)
            ok = ~shapely.is_missing(points)
            xy[ok] = shapely.get_coordinates(points[ok])
            mine = in_cell(xy, cell)  # each feature reported by the cell its point lies in
        if mine.any() and cell is not None:
            got["boxes"].append(tuple(shapely.total_bounds(points[mine])))
        if role != "features":
            continue
        present = mine & ~shapely.is_missing(geoms)
        got["types"] |= set(shapely.get_type_id(geoms[present]).tolist())
        for name in fields:
            column = gdf[name][mine]
            if column.notna().any():
                got["has_value"].add(name)
            if pd.to_numeric(column, errors="coerce").notna().any():
                got["has_number"].add(name)
    return got


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
        zone_geoms, feature_zone, home_zone, names, remap = ds.used_cells(zone_geoms, feature_zone, home_zone, zones)
        if pz is not None:
            pz = remap[pz]
            pm, pz = pm[pz >= 0], pz[pz >= 0]
    n = len(zone_geoms)
    inside = feature_zone >= 0
    table = ds.zone_table(names, feature_zone, features, sums, means)
    clipped = None
    if pz is not None:
        clipped = np.bincount(pz, weights=pm, minlength=n) if len(pz) else np.zeros(n)
    weights = pop_col = None
    if home_zone is not None:
        weights, pop_col = population_weights(buildings, params["population_field"])
    ds.add_measures(table, zone_geoms, kind, clipped, home_zone, weights, sums)
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
