"""Layers made small enough for a web page: popup values as text, colours from the layer style,
geometry simplified (in metres) and rounded (in degrees) to fit a size budget.

No Qt and no folium here: :func:`prepare_layers` returns plain data that ``reports.webmap`` puts
into the page, plus the figures of what was left out, so the export can say what it dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.crs import metric_crs
from layers.feedback import Feedback, ensure
from layers.layer import Layer, geometry_kind
from reports.symbology import symbology as symbolize

#: 6 decimals of a degree are about 0.1 m on the ground: finer than any city layer is drawn.
COORD_DECIMALS = 6
#: Bytes one rounded vertex takes in the page, ``[24.941234,60.170001],``.
BYTES_PER_VERTEX = 22
#: Bytes a feature's geometry wrapper takes, ``{"type":"Polygon","coordinates":[[…]]},``.
BYTES_PER_FEATURE = 42
#: Simplification tolerances tried in turn (metres), until the layers fit the budget.
TOLERANCES_M = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
#: What Leaflet, its plugins and the page frame take before any layer (bytes).
ASSETS_BYTES = 1_550_000
#: At most this many characters of a text value go into a popup.
MAX_TEXT = 500
#: At most this many popup fields are chosen by default.
DEFAULT_FIELDS = 6
_PREFERRED = ("name", "stop_name", "title", "address", "description", "service_name", "status", "kind", "use",
              "mode", "shop", "highway", "residents", "population", "fill_pct", "walk_min", "distance_m")
_SKIPPED = ("osm_id", "id", "fid", "geometry", "readings_file", "media_url", "stop_url", "synthetic")


@dataclass
class LayerStats:
    """What one layer became in the page. ``dropped`` features had no geometry or were polygons
    smaller than the simplification tolerance squared; ``outside`` ones lay outside the chosen extent."""

    name: str
    features: int
    kept: int = 0
    dropped: int = 0
    outside: int = 0
    vertices: int = 0
    vertices_kept: int = 0
    bytes: int = 0


@dataclass
class WebLayer:
    """One layer ready for the page: geometry JSON (WGS84), popup rows, colour indexes."""

    layer: Layer
    kind: str  # point / line / polygon / mixed
    geometry_json: str  # a JSON list of GeoJSON geometries
    popup_json: str  # a JSON list of popup rows (text or null), one per geometry
    color_index: np.ndarray  # into ``colors``, one per geometry
    colors: list[str]
    legend: list[tuple[str, str]]
    fields: list[str]
    stats: LayerStats
    bounds: tuple[float, float, float, float] | None  # lon/lat of the kept features
    metric: gpd.GeoSeries = field(repr=False, default=None)  # the kept geometry before simplification

    @property
    def bytes(self) -> int:
        return len(self.geometry_json) + len(self.popup_json) + 2 * len(self.color_index)


def default_fields(layer: Layer, limit: int = DEFAULT_FIELDS) -> list[str]:
    """A few meaningful columns for the popups: the label and style fields, then names, addresses,
    descriptions and kinds, then other columns that are not identifiers."""
    if layer.gdf is None:
        return []
    columns = [c for c in layer.gdf.columns if c != layer.gdf.geometry.name]
    chosen = [c for c in (layer.style.label_field, layer.style.field) if c in columns]
    chosen += [c for c in _PREFERRED if c in columns]
    chosen += [c for c in columns if c.lower() not in _SKIPPED and not c.lower().endswith("_id")]
    return list(dict.fromkeys(chosen))[:limit]


def popup_text(values: pd.Series) -> pd.Series:
    """The column as popup text: numbers with thousands separators and at most 2 decimals,
    yes/no, dates as ISO text, long text cut at ``MAX_TEXT`` characters; missing values None."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(values):
        text = values.map({True: "yes", False: "no"})
    elif pd.api.types.is_integer_dtype(values):
        text = values.map(lambda v: f"{int(v):,}" if v == v else None)
    elif pd.api.types.is_float_dtype(values):
        text = values.map(_number)
    elif pd.api.types.is_datetime64_any_dtype(values):
        text = values.map(lambda v: v.isoformat(sep=" ") if v == v else None)
    else:
        text = values.map(lambda v: v if isinstance(v, str) else str(v))
        long = text.str.len() > MAX_TEXT
        if long.any():
            text = text.where(~long, text.str.slice(0, MAX_TEXT) + "…")
    text = text.astype(object)
    text[missing] = None
    return text


def _rows_json(table: pd.DataFrame) -> str:
    """The popup rows as a JSON list of lists ('[]' when there are no fields)."""
    return table.to_json(orient="values", force_ascii=False) if len(table.columns) else "[]"


def _number(v: float) -> str | None:
    if v != v or v is None:
        return None
    if float(v).is_integer() or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def _extent_mask(gdf: gpd.GeoDataFrame, extent, extent_crs) -> np.ndarray:
    """True for features touching ``extent`` (xmin, ymin, xmax, ymax in ``extent_crs``)."""
    box = gpd.GeoSeries([shapely.box(*extent)], crs=extent_crs or gdf.crs)
    if gdf.crs is not None and box.crs is not None and CRS.from_user_input(gdf.crs) != CRS.from_user_input(box.crs):
        box = box.to_crs(gdf.crs)
    hits = gdf.sindex.query(box.iloc[0], predicate="intersects")
    mask = np.zeros(len(gdf), dtype=bool)
    mask[hits] = True
    return mask


@dataclass
class _Prepared:
    layer: Layer
    kind: str
    metric: gpd.GeoSeries  # kept features in a metric CRS
    rows: np.ndarray  # their positions in layer.gdf
    colors: np.ndarray  # their colours
    legend: list
    fields: list[str]
    table: pd.DataFrame  # popup text of the kept features
    popup_bytes: int
    stats: LayerStats


def _prepare(layer: Layer, fields: list[str] | None, extent, extent_crs, crs: CRS | None) -> _Prepared:
    gdf = layer.gdf
    stats = LayerStats(layer.name, len(gdf))
    symbology = symbolize(layer.style, gdf)  # on the whole layer: the same classes as the window
    geoms = gdf.geometry
    present = (geoms.notna() & ~geoms.is_empty).to_numpy()
    keep = present.copy()
    if extent is not None and len(gdf):
        inside = _extent_mask(gdf, extent, extent_crs)
        stats.outside = int((present & ~inside).sum())
        keep &= inside
    stats.dropped = int((~present).sum())
    rows = np.flatnonzero(keep)
    sub = gdf.iloc[rows]
    target = crs if crs is not None and crs.is_projected else None
    if sub.crs is None:
        metric = sub.geometry
    else:
        metric = sub.geometry.to_crs(target or metric_crs(gdf, name=layer.name))
    fields = [f for f in (default_fields(layer) if fields is None else fields) if f in gdf.columns]
    table = pd.DataFrame({f: popup_text(sub[f]) for f in fields}, index=sub.index)
    popup_bytes = len(_rows_json(table))
    stats.vertices = int(shapely.get_num_coordinates(metric.array).sum()) if len(metric) else 0
    return _Prepared(layer, geometry_kind(gdf), metric.reset_index(drop=True), rows, symbology.colors[rows],
                     symbology.legend, fields, table, popup_bytes, stats)


def _simplified(p: _Prepared, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Geometries simplified to ``tolerance`` metres and a mask of those still worth drawing:
    polygons of at least tolerance² (a smaller one is a speck at the zoom this detail suits); lines
    and points always (a short street segment is part of a street)."""
    geoms = np.asarray(p.metric.array, dtype=object)
    if tolerance <= 0 or p.kind == "point" or not len(geoms):
        return geoms, np.ones(len(geoms), dtype=bool)
    types = shapely.get_type_id(geoms)
    polygon, line = np.isin(types, (3, 6)), np.isin(types, (1, 2, 5))
    big = ~polygon | (shapely.area(geoms) >= tolerance * tolerance)
    out = geoms.copy()
    shapes = polygon | line
    out[shapes] = shapely.simplify(geoms[shapes], tolerance, preserve_topology=True)
    return out, big & ~shapely.is_empty(out)


def _estimate(prepared: list[_Prepared], tolerance: float) -> int:
    total = 0
    for p in prepared:
        geoms, ok = _simplified(p, tolerance)
        total += int(shapely.get_num_coordinates(geoms[ok]).sum()) * BYTES_PER_VERTEX
        total += int(ok.sum()) * BYTES_PER_FEATURE + p.popup_bytes
    return total


def choose_tolerance(prepared: list[_Prepared], budget_bytes: float) -> float:
    """The smallest tolerance (metres) of ``TOLERANCES_M`` whose estimated page fits the budget
    (the largest when none does)."""
    room = budget_bytes - ASSETS_BYTES
    for tolerance in TOLERANCES_M:
        if _estimate(prepared, tolerance) <= room:
            return tolerance
    return TOLERANCES_M[-1]


def _finish(p: _Prepared, tolerance: float) -> WebLayer:
    geoms, ok = _simplified(p, tolerance)
    p.stats.dropped += int((~ok).sum())
    geoms = geoms[ok]
    wgs = gpd.GeoSeries(geoms, crs=p.metric.crs)
    if wgs.crs is not None:
        wgs = wgs.to_crs(4326)
    rounded = shapely.transform(np.asarray(wgs.array, dtype=object), lambda c: np.round(c, COORD_DECIMALS))
    p.stats.kept = len(rounded)
    p.stats.vertices_kept = int(shapely.get_num_coordinates(rounded).sum()) if len(rounded) else 0
    geometry_json = "[" + ",".join(shapely.to_geojson(rounded).tolist()) + "]" if len(rounded) else "[]"
    popup_json = _rows_json(p.table.iloc[np.flatnonzero(ok)])
    codes, uniques = pd.factorize(pd.Series(p.colors[ok], dtype=object))
    colors = [str(c) for c in uniques] or [p.legend[0][1] if p.legend else "#3182bd"]
    index = codes.astype(np.int32)
    bounds = tuple(float(b) for b in shapely.total_bounds(rounded)) if len(rounded) else None
    if bounds is not None and not all(math.isfinite(b) for b in bounds):
        bounds = None
    web = WebLayer(p.layer, p.kind, geometry_json, popup_json, index, colors, p.legend, p.fields, p.stats,
                   bounds, p.metric)
    p.stats.bytes = web.bytes
    return web


def prepare_layers(layers: list[Layer], *, fields: dict[str, list[str]] | None = None,
                   budget_bytes: float = 10e6, extent=None, extent_crs=None, crs: CRS | None = None,
                   feedback: Feedback | None = None) -> tuple[list[WebLayer], float]:
    """The layers as :class:`WebLayer` (same order) and the simplification tolerance used (metres).

    ``fields`` maps a layer name to its popup columns (default: :func:`default_fields`);
    ``extent`` (xmin, ymin, xmax, ymax in ``extent_crs``) keeps only the features touching it;
    ``crs`` is the projected CRS to simplify in (default: each layer's own metric CRS)."""
    fb = ensure(feedback)
    fields = fields or {}
    prepared = []
    for i, layer in enumerate(layers):
        fb.check_cancelled()
        fb.progress(0.6 * i / max(len(layers), 1), f"Preparing {layer.name}")
        prepared.append(_prepare(layer, fields.get(layer.name), extent, extent_crs, crs))
    fb.progress(0.6, "Fitting the size budget")
    tolerance = choose_tolerance(prepared, budget_bytes)
    out = []
    for i, p in enumerate(prepared):
        fb.check_cancelled()
        fb.progress(0.6 + 0.4 * i / max(len(prepared), 1), f"Writing {p.layer.name}")
        out.append(_finish(p, tolerance))
    return out, tolerance
