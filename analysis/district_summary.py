"""``district-summary`` — the table every report needs: a point, line or polygon layer aggregated
by districts (a polygon layer) or by a generated square or hexagonal grid.

Per zone:

* ``count``: the features whose representative point lies in the zone (a point itself, the
  ``point_on_surface`` of a polygon, the middle of a line). A point on a border shared by two
  zones counts in the first of them (layer order); a feature in no zone is counted in the
  summary (``features_outside``), not in any zone.
* ``sum_<col>`` and ``mean_<col>`` of the chosen numeric columns over the same features (missing
  values left out of the mean, 0 in the sum).
* polygon features: ``feature_area_m2`` (the features' area clipped to the zone, overlaps counted
  once per feature) and ``area_share`` (of the zone's area); line features: ``feature_length_m``.
* ``zone_area_km2`` and ``per_km2`` (count per km²).
* with a buildings layer: ``residents`` (the residents of the buildings whose
  ``point_on_surface`` is in the zone) and ``per_1000_residents`` (count per 1,000 residents;
  empty where nobody lives), and ``<sum col>_per_1000_residents`` for each summed column.

Grids: ``square`` cells of ``cell_m`` metres snapped to multiples of ``cell_m``; ``hexagon`` cells
are pointy-topped hexagons ``cell_m`` metres across the flats (the distance between neighbouring
centres; area ``√3/2 · cell_m²``). Only cells that hold a feature or a building are kept.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.params import Param, Role
from analysis.partition_spec import PartitionSpec
from analysis.population import origins, population_weights
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.raster import MAX_CELLS
from layers.style import Style

ZONES = ("auto", "districts", "square", "hexagon")
NAME_FIELDS = ("name", "nimi", "district", "zone", "id")


def zone_table(names, feature_zone: np.ndarray, features: pd.DataFrame, sums, means) -> pd.DataFrame:
    """Per zone (``names``, in zone order): the count of features (``feature_zone`` their zone,
    -1 outside every zone), the sum of each column of ``sums`` and the mean of each of ``means``
    (missing values left out). Shared with the partitioned merge (analysis.partition_district)."""
    n = len(names)
    inside = feature_zone >= 0
    table = pd.DataFrame({"zone": pd.Series(names, dtype="str")})
    table["count"] = np.bincount(feature_zone[inside], minlength=n)
    for col in sums:
        values = pd.to_numeric(features[col], errors="coerce").to_numpy(dtype=float)
        table[f"sum_{col}"] = np.bincount(feature_zone[inside], weights=np.nan_to_num(values[inside]), minlength=n)
    for col in means:
        values = pd.to_numeric(features[col], errors="coerce").to_numpy(dtype=float)
        ok = inside & np.isfinite(values)
        total = np.bincount(feature_zone[ok], weights=values[ok], minlength=n)
        number = np.bincount(feature_zone[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[f"mean_{col}"] = np.where(number > 0, total / np.maximum(number, 1), np.nan)
    return table


def zone_summary(table: pd.DataFrame, zones: str, cell_m: float, inside: np.ndarray, located: np.ndarray,
                 weights: np.ndarray | None, pop_col: str, sums) -> dict:
    """The summary of a zone table (:func:`zone_table` plus residents): ``inside`` / ``located`` per
    feature, ``weights`` the residents per building (None without buildings). Shared with the
    partitioned merge (analysis.partition_district), so both report the same figures."""
    n = len(table)
    summary = {
        "zones_used": {"districts": "districts layer", "square": f"square grid, {cell_m:g} m",
                       "hexagon": f"hexagonal grid, {cell_m:g} m"}[zones],
        "features_in_zones": int(inside.sum()),
        "zones": int(n),
        "features_total": int(len(inside)),
        "features_outside": int((located & ~inside).sum()),
        "features_without_geometry": int((~located).sum()),
        "zones_with_features": int((table["count"] > 0).sum()),
        "max_count": int(table["count"].max()) if n else 0,
    }
    if zones == "districts" and n and table["count"].max() > 0:  # grid cell ids mean nothing to a reader
        summary["zone_with_most"] = str(table["zone"].iloc[int(table["count"].to_numpy().argmax())])
    if weights is not None:
        summary["residents_total"] = float(weights.sum())
        summary["residents_in_zones"] = float(table["residents"].sum())
        total_res = float(table["residents"].sum())
        summary["rate_per_1000"] = (float(inside.sum()) / total_res * 1000) if total_res > 0 else None
        summary["population_field"] = pop_col or ""
    for col in sums:
        summary[f"sum_{col}"] = float(table[f"sum_{col}"].sum())
    return summary


def district_summary(features: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None = None,
                     buildings: gpd.GeoDataFrame | None = None, *, zones: str = "auto", cell_m: float = 250.0,
                     sum_fields: str = "", mean_fields: str = "", name_field: str = "",
                     population_field: str = "", feedback: Feedback | None = None) -> AnalysisResult:
    """Aggregate ``features`` by ``districts`` (``zones="districts"``, or ``"auto"`` when a
    districts layer is given) or by a ``"square"`` / ``"hexagon"`` grid of ``cell_m`` metres
    (``"auto"`` without districts: hexagons). ``sum_fields`` and ``mean_fields`` are comma-separated
    column names of ``features``. All layers in one metric CRS. Returns the layer ``zones`` (see
    the module docstring for its columns) and a summary."""
    fb = ensure(feedback)
    fb.check_cancelled()
    for role, gdf in (("features", features), ("districts", districts), ("buildings", buildings)):
        if gdf is not None and (gdf.crs is None or not gdf.crs.is_projected):
            raise CityDeskError("district-summary needs layers in a metric CRS", source=role,
                                fix="Run it through citydesk run or the window, which reproject for you")
    if zones not in ZONES:
        raise CityDeskError(f"unknown zones {zones!r}", fix=f"Choose one of {', '.join(ZONES)}")
    if zones == "auto":
        zones = "districts" if districts is not None else "hexagon"
    if zones == "districts" and districts is None:
        raise CityDeskError("zones=districts needs a districts layer", source="districts",
                            fix="Choose a districts (polygon) layer, or zones=square / hexagon for a grid")
    sums = _fields(features, sum_fields, "sum_fields")
    means = _fields(features, mean_fields, "mean_fields")
    fb.progress(0.05, "Feature points")
    geoms = _repaired(features.geometry.to_numpy())
    points = representative_points(geoms)
    weights, pop_col = (population_weights(buildings, population_field) if buildings is not None
                        else (None, None))
    homes = origins(buildings) if buildings is not None else None
    fb.check_cancelled()
    fb.progress(0.15, "Zones")
    if zones == "districts":
        zone_geoms = _repaired(districts.geometry.to_numpy())
        keep = ~shapely.is_missing(zone_geoms) & ~shapely.is_empty(zone_geoms)
        zone_geoms = zone_geoms[keep]
        names = _zone_names(districts[keep], name_field)
    else:
        extent = [points[~shapely.is_missing(points)]]
        if homes is not None:
            extent.append(homes[~shapely.is_missing(homes)])
        everything = np.concatenate(extent)
        if len(everything) == 0:
            raise CityDeskError("the features have no geometry to make a grid over", source="features",
                                fix="Choose a layer with features")
        bounds = shapely.total_bounds(everything)
        zone_geoms = square_grid(bounds, cell_m) if zones == "square" else hex_grid(bounds, cell_m)
        names = None
    fb.check_cancelled()
    fb.progress(0.3, "Counting")
    feature_zone = assign(points, zone_geoms)
    home_zone = assign(homes, zone_geoms) if homes is not None else None
    if names is None:  # a grid: only the cells that hold something
        zone_geoms, feature_zone, home_zone, names, _remap = used_cells(zone_geoms, feature_zone, home_zone, zones)
    inside = feature_zone >= 0
    table = zone_table(names, feature_zone, features, sums, means)
    fb.check_cancelled()
    fb.progress(0.55, "Areas and lengths")
    kind = _kind(geoms)
    clipped = clipped_measure(geoms, zone_geoms, kind) if kind in ("polygon", "line") else None
    add_measures(table, zone_geoms, kind, clipped, home_zone, weights, sums)
    fb.progress(0.9, "Summary")
    out = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(zone_geoms, crs=features.crs), crs=features.crs)
    located = ~shapely.is_missing(points)
    summary = zone_summary(table, zones, cell_m, inside, located, weights if home_zone is not None else None,
                           pop_col, sums)
    params = {"zones": zones, "cell_m": cell_m, "sum_fields": ",".join(sums) or "none",
              "mean_fields": ",".join(means) or "none",
              "name_field": name_field, "population_field": population_field}
    fb.progress(1.0, "District summary done")
    return AnalysisResult.make("district-summary", {"zones": out}, summary, params)


def representative_points(geoms: np.ndarray) -> np.ndarray:
    """A point per geometry: the point itself, a polygon's ``point_on_surface``, a line's middle
    (half its length along it); None for a missing or empty geometry."""
    out = np.empty(len(geoms), dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    lines = ~missing & np.isin(types, (1, 2))  # LineString, LinearRing (multi-lines: point_on_surface)
    rest = ~missing & ~lines
    out[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    out[rest] = shapely.point_on_surface(geoms[rest])
    out[missing] = None
    return out


def assign(points: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """For each point the index of the first zone that covers it (border included), else -1."""
    out = np.full(len(points), -1, dtype=np.int64)
    present = np.flatnonzero(~shapely.is_missing(points))
    if not len(present) or not len(zones):
        return out
    tree = shapely.STRtree(zones)
    p, z = tree.query(points[present], predicate="intersects")
    if len(p):
        order = np.lexsort((z, p))  # by point, then zone: the first zone of each point first
        p, z = p[order], z[order]
        first = np.r_[True, p[1:] != p[:-1]]
        out[present[p[first]]] = z[first]
    return out


def clipped_measure(geoms: np.ndarray, zones: np.ndarray, kind: str) -> np.ndarray:
    """Per zone, the area (polygons) or length (lines) of ``geoms`` inside it, metres."""
    total = np.zeros(len(zones))
    present = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
    if not len(present) or not len(zones):
        return total
    tree = shapely.STRtree(geoms[present])
    z, g = tree.query(zones, predicate="intersects")
    if not len(z):
        return total
    pieces = shapely.intersection(zones[z], geoms[present][g])
    measure = shapely.area(pieces) if kind == "polygon" else shapely.length(pieces)
    return np.bincount(z, weights=measure, minlength=len(zones))


def square_grid(bounds, cell_m: float) -> np.ndarray:
    """Square cells of ``cell_m`` covering ``bounds``, snapped to multiples of ``cell_m``, row by row
    from the south-west."""
    minx, miny, maxx, maxy = bounds
    x0, y0 = math.floor(minx / cell_m) * cell_m, math.floor(miny / cell_m) * cell_m
    cols = int((maxx - x0) // cell_m) + 1  # a point on the east edge is still inside the last cell
    rows = int((maxy - y0) // cell_m) + 1
    _check_cells(rows * cols, cell_m)
    jj, ii = np.meshgrid(np.arange(cols), np.arange(rows))
    west, south = x0 + jj.ravel() * cell_m, y0 + ii.ravel() * cell_m
    return shapely.box(west, south, west + cell_m, south + cell_m)


def hex_grid(bounds, cell_m: float) -> np.ndarray:
    """Pointy-topped hexagons ``cell_m`` across the flats (neighbouring centres ``cell_m`` apart)
    covering ``bounds``, row by row from the south; odd rows shifted east by half a cell."""
    minx, miny, maxx, maxy = bounds
    radius = cell_m / math.sqrt(3.0)  # centre to corner
    dy = 1.5 * radius
    x0 = math.floor(minx / cell_m) * cell_m - cell_m
    y0 = math.floor(miny / dy) * dy - dy
    cols = math.ceil((maxx - x0) / cell_m) + 2
    rows = math.ceil((maxy - y0) / dy) + 2
    _check_cells(rows * cols, cell_m)
    jj, ii = (a.ravel() for a in np.meshgrid(np.arange(cols), np.arange(rows)))
    # corners on a lattice of half cells (x) and half radii (y): neighbours share corners exactly
    hx, hy = 2 * jj + ii % 2, 3 * ii
    kx = hx[:, None] + np.array([1, 0, -1, -1, 0, 1])[None, :]
    ky = hy[:, None] + np.array([1, 2, 1, -1, -2, -1])[None, :]
    rings = np.stack([x0 + kx * (cell_m / 2.0), y0 + ky * (radius / 2.0)], axis=-1)
    return shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))


def _check_cells(n: int, cell_m: float) -> None:
    if n > MAX_CELLS:
        raise CityDeskError(f"a {cell_m:g} m grid over these layers would have {n:,} cells (at most {MAX_CELLS:,})",
                            fix="Choose a larger cell size (cell_m)")


def _fields(gdf: gpd.GeoDataFrame, text: str, param: str) -> list[str]:
    """The comma-separated column names in ``text``, each checked to exist and hold numbers."""
    names = [t.strip() for t in (text or "").split(",") if t.strip()]
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    numeric = [str(c) for c in columns if pd.api.types.is_numeric_dtype(gdf[c]) and not
               pd.api.types.is_bool_dtype(gdf[c])]
    for name in names:
        if name not in columns:
            raise CityDeskError(f"the features layer has no column '{name}' ({param})", source="features",
                                fix=f"Numeric columns: {', '.join(numeric[:30]) or '(none)'}")
        values = pd.to_numeric(gdf[name], errors="coerce")
        if values.isna().all() and gdf[name].notna().any():
            raise CityDeskError(f"the column '{name}' ({param}) holds no numbers", source="features",
                                fix=f"Numeric columns: {', '.join(numeric[:30]) or '(none)'}")
    return list(dict.fromkeys(names))


def _zone_names(districts: gpd.GeoDataFrame, name_field: str) -> np.ndarray:
    """Each district's name: ``name_field``, else the first name-like column, else 'D1', 'D2', ...
    (a missing name is the district's number)."""
    columns = [c for c in districts.columns if c != districts.geometry.name]
    if name_field and name_field not in columns:
        raise CityDeskError(f"the districts layer has no column '{name_field}'", source="districts",
                            fix=f"Columns: {', '.join(map(str, columns[:30])) or '(none)'}")
    lower = {str(c).lower(): c for c in columns}
    chosen = name_field or next((lower[n] for n in NAME_FIELDS if n in lower), None)
    fallback = np.array([f"D{i + 1}" for i in range(len(districts))], dtype=object)
    if chosen is None:
        return fallback
    values = districts[chosen]
    text = values.astype("str").to_numpy(dtype=object)
    return np.where(values.notna().to_numpy(), text, fallback)


def _repaired(geoms: np.ndarray) -> np.ndarray:
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return geoms


def add_measures(table: pd.DataFrame, zone_geoms: np.ndarray, kind: str, clipped: np.ndarray | None,
                 home_zone: np.ndarray | None, weights: np.ndarray | None, sums: list[str]) -> None:
    """The zone table's areas, densities and rates: the features' area (or length) clipped to each
    zone, the zone's area, features per km², and with homes the residents and rates per 1,000."""
    n = len(zone_geoms)
    zone_area = shapely.area(zone_geoms)
    if clipped is not None:
        if kind == "polygon":
            table["feature_area_m2"] = clipped
            with np.errstate(invalid="ignore", divide="ignore"):
                table["area_share"] = np.where(zone_area > 0, clipped / zone_area, np.nan)
        else:
            table["feature_length_m"] = clipped
    table["zone_area_km2"] = zone_area / 1e6
    with np.errstate(invalid="ignore", divide="ignore"):
        table["per_km2"] = np.where(zone_area > 0, table["count"] / (zone_area / 1e6), np.nan)
    if home_zone is not None:
        housed = home_zone >= 0
        residents = np.bincount(home_zone[housed], weights=weights[housed], minlength=n)
        table["residents"] = residents
        with np.errstate(invalid="ignore", divide="ignore"):
            table["per_1000_residents"] = np.where(residents > 0, table["count"] / residents * 1000, np.nan)
            for col in sums:
                table[f"{col}_per_1000_residents"] = np.where(residents > 0,
                                                              table[f"sum_{col}"] / residents * 1000, np.nan)


def used_cells(zone_geoms: np.ndarray, feature_zone: np.ndarray, home_zone: np.ndarray | None, zones: str):
    """Only the grid cells that hold a feature or a home, renumbered, and their names ('H1', 'S1',
    ...): (cells, feature zones, home zones, names, old number -> new number or -1)."""
    used = np.unique(np.concatenate([feature_zone[feature_zone >= 0],
                                     home_zone[home_zone >= 0] if home_zone is not None else []]).astype(int))
    remap = np.full(len(zone_geoms), -1)
    remap[used] = np.arange(len(used))
    feature_zone = np.where(feature_zone >= 0, remap[np.maximum(feature_zone, 0)], -1)
    if home_zone is not None:
        home_zone = np.where(home_zone >= 0, remap[np.maximum(home_zone, 0)], -1)
    names = np.array([f"{zones[0].upper()}{i + 1}" for i in range(len(used))], dtype=object)
    return zone_geoms[used], feature_zone, home_zone, names, remap


def _kind(geoms: np.ndarray) -> str:
    return kind_of_types(set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist()))


def kind_of_types(types: set) -> str:
    """'polygon', 'line', 'point' or 'mixed', from the set of shapely geometry type ids."""
    if types and types <= {3, 6}:
        return "polygon"
    if types and types <= {1, 2, 5}:
        return "line"
    return "point" if types and types <= {0, 4} else "mixed"


def headline(summary) -> str:
    """'145 features in 39 of 44 zones (hexagonal grid, 250 m); at most 15 in one; 33 per 1,000 residents'."""
    text = (f"{summary['features_in_zones']} features in {summary['zones_with_features']} of {summary['zones']} "
            f"zones ({summary['zones_used']}); at most {summary['max_count']} in one")
    if summary.get("zone_with_most"):
        text += f" ({summary['zone_with_most']})"
    if summary.get("rate_per_1000") is not None:
        text += f"; {summary['rate_per_1000']:.1f} per 1,000 residents"
    if summary.get("features_outside"):
        text += f"; {summary['features_outside']} outside every zone"
    return text


SPEC = Analysis(
    id="district-summary",
    title="District summary",
    description="Aggregate a layer by districts or a square / hexagonal grid: counts, sums and means of chosen "
                "columns, area or length inside each zone, and rates per 1,000 residents.",
    roles=(
        Role("features", ("point", "line", "polygon"), help="the layer to aggregate, e.g. citizen reports"),
        Role("districts", ("polygon",), required=False, help="districts or any zones (else a generated grid)"),
        Role("buildings", ("polygon", "point"), required=False,
             help="homes with residents, for rates per 1,000 residents"),
    ),
    params=(
        Param("zones", "choice", "auto", "districts layer, or a generated grid (auto: the districts layer if "
              "given, else hexagons)", choices=ZONES),
        Param("cell_m", "float", 250.0, "grid cell size (hexagons: across the flats)", "m", 10, 100_000),
        Param("sum_fields", "str", "", "numeric columns to sum per zone, comma-separated"),
        Param("mean_fields", "str", "", "numeric columns to average per zone, comma-separated"),
        Param("name_field", "str", "", "column with the district names (empty: name, nimi, ... if present)"),
        Param("population_field", "str", "", "column with residents per building (empty: found automatically)"),
    ),
    run=district_summary,
    partition=PartitionSpec(demand="features", context=(), adapter="analysis.partition_district",  # issue 10
                            halo_m=lambda p: 0.0, global_roles=("districts",)),
    key_figures=("features_in_zones", "zones_with_features", "max_count", "zone_with_most", "rate_per_1000",
                 "features_outside", "zones_used"),
    headline=headline,
    result_styles={"zones": Style(kind="graduated", field="count", scheme="natural_breaks", classes=5,
                                  ramp="YlGnBu", stroke="#4d4d4d", stroke_width=0.6, fill_opacity=0.5,
                                  label_field="count", label_size=10.0, unit="features")},
)
