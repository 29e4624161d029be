"""Tables with coordinates (CSV, plain Parquet) turned into point or WKT layers."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import CityDeskError

LON_NAMES = ("longitude", "lon", "lng", "long", "x_wgs84", "lon_wgs84", "stop_lon", "x", "easting")
LAT_NAMES = ("latitude", "lat", "y_wgs84", "lat_wgs84", "stop_lat", "y", "northing")
PAIRS = (("longitude", "latitude"), ("lon", "lat"), ("lng", "lat"), ("long", "lat"), ("x_wgs84", "y_wgs84"),
         ("lon_wgs84", "lat_wgs84"), ("stop_lon", "stop_lat"), ("x", "y"), ("easting", "northing"))
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkt_geom", "shape")
DELIMITERS = (",", ";", "\t", "|")


def read_csv_layer(path: Path, *, crs=None) -> gpd.GeoDataFrame:
    """A CSV file as a layer. The delimiter is found from the header line (comma, semicolon, tab
    or pipe); geometry comes from longitude/latitude columns under their common names or from a
    WKT column. Text that looks like a code (postal code ``00100``) stays text; decimal commas
    (``60,17`` in a semicolon-separated file) are read as numbers."""
    raw = path.read_bytes()
    if not raw.strip():
        raise CityDeskError("the file is empty", source=path, fix="Choose a CSV file with a header and rows")
    text = _decode(raw)
    sep = _delimiter(text.split("\n", 1)[0])
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=True)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CityDeskError(f"cannot be read as CSV ({first})", source=path,
                            fix="Save it as comma- or semicolon-separated text with one header row") from exc
    table.columns = [str(c).strip() for c in table.columns]
    for col in table.columns:
        table[col] = _typed(table[col], decimal_comma=sep != ",")
    return table_to_layer(table, source=path, crs=crs)


def table_to_layer(table: pd.DataFrame, *, source, crs=None) -> gpd.GeoDataFrame:
    """Points from longitude/latitude columns, else geometries from a WKT column. Without ``crs``
    the coordinates must be longitude/latitude (EPSG:4326)."""
    lower = {str(c).strip().lower(): c for c in table.columns}
    wkt_col = next((lower[n] for n in WKT_NAMES if n in lower), None)
    lon_col, lat_col = _coordinate_columns(lower)
    if lon_col is not None and lat_col is not None:
        lon = _numbers(table[lon_col])
        lat = _numbers(table[lat_col])
        known = lon.notna() & lat.notna()
        if len(table) and not known.any():
            raise CityDeskError(f"the columns '{lon_col}' and '{lat_col}' hold no numbers", source=source,
                                fix="Fill them with coordinates such as 24.94 and 60.17 (lon, lat)")
        if crs is None:
            _check_lonlat(lon[known], lat[known], f"the columns '{lon_col}'/'{lat_col}'", source)
            crs = "EPSG:4326"
        geometry = gpd.points_from_xy(lon, lat)
        geometry[(~known).to_numpy()] = None
        rest = table.drop(columns=[lon_col, lat_col])
        rest = rest.assign(**{str(lon_col): lon, str(lat_col): lat})
        return gpd.GeoDataFrame(rest, geometry=geometry, crs=crs)
    if wkt_col is not None:
        geometry = _parse_geometries(table[wkt_col], wkt_col, source)
        if crs is None:
            present = geometry[~shapely.is_missing(geometry) & ~shapely.is_empty(geometry)]
            if len(present):
                xmin, ymin, xmax, ymax = shapely.total_bounds(present)
                _check_lonlat(pd.Series([xmin, xmax]), pd.Series([ymin, ymax]),
                              f"the geometries in the column '{wkt_col}'", source)
        return gpd.GeoDataFrame(table.drop(columns=[wkt_col]), geometry=geometry, crs=crs or "EPSG:4326")
    columns = ", ".join(map(str, table.columns[:20])) or "(none)"
    raise CityDeskError(
        f"no coordinate columns found (columns: {columns})",
        source=source,
        fix="Add longitude and latitude columns (named lon/lat, lng/lat, longitude/latitude or x/y) "
            "or a WKT column named wkt or geometry",
    )


def _coordinate_columns(lower: dict) -> tuple[object, object]:
    """The first longitude/latitude pair of columns whose names go together (lon/lat, x/y)."""
    for lon_name, lat_name in PAIRS:
        if lon_name in lower and lat_name in lower:
            return lower[lon_name], lower[lat_name]
    lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
    return lon_col, lat_col


def _check_lonlat(lon: pd.Series, lat: pd.Series, what: str, source) -> None:
    if (lon.abs() > 180).any() or (lat.abs() > 90).any():
        raise CityDeskError(
            f"{what} hold values outside longitude/latitude ranges (they look like projected "
            "coordinates, e.g. metres in EPSG:3067)",
            source=source,
            fix="Open the file with its CRS (e.g. crs='EPSG:3067', or --crs EPSG:3067 on the command line), "
                "give the coordinates in longitude/latitude (WGS84), or save the layer as a GeoPackage",
        )


def _parse_geometries(values: pd.Series, column, source) -> np.ndarray:
    """WKT (or hex WKB, as PostGIS exports) text into geometries; empty cells become None."""
    text = np.array([None if pd.isna(v) or not str(v).strip() else str(v).strip() for v in values],
                    dtype=object)
    given = np.array([v is not None for v in text], dtype=bool)
    if not given.any():
        return np.full(len(text), None, dtype=object)
    sample = next(v for v in text if v is not None)
    is_hex = all(c in "0123456789abcdefABCDEF" for c in sample)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            geometry = (shapely.from_wkb(text, on_invalid="ignore") if is_hex
                        else shapely.from_wkt(text, on_invalid="ignore"))
        except Exception as exc:
            raise CityDeskError(f"the column '{column}' does not hold WKT geometries ({exc})", source=source,
                                fix="Use WKT text such as POINT (24.94 60.17)") from exc
    bad = given & shapely.is_missing(geometry)
    if bad.all():
        raise CityDeskError(f"the column '{column}' does not hold WKT geometries "
                            f"(first value: {sample[:60]!r})", source=source,
                            fix="Use WKT text such as POINT (24.94 60.17)")
    return geometry


def _delimiter(header: str) -> str:
    """The delimiter that splits the header line into the most fields (comma on a tie)."""
    counts = {}
    for sep in DELIMITERS:
        try:
            counts[sep] = len(next(csv.reader([header], delimiter=sep)))
        except (csv.Error, StopIteration):
            counts[sep] = 1
    best = max(DELIMITERS, key=lambda s: (counts[s], s == ","))
    return best if counts[best] > 1 else ","


def _typed(values: pd.Series, *, decimal_comma: bool) -> pd.Series:
    """A text column as numbers when every value is a number and none looks like a code with a
    leading zero (postal codes, ids); else text."""
    present = values.dropna().str.strip()
    if present.empty:
        return values
    if present.str.match(r"^[+-]?0\d").any():
        return values
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any() and decimal_comma:
        numbers = pd.to_numeric(present.str.replace(",", ".", regex=False), errors="coerce")
    if numbers.isna().any():
        return values
    out = pd.to_numeric(values.str.strip().str.replace(",", ".", regex=False) if decimal_comma else values,
                        errors="coerce")
    return out


def _numbers(values: pd.Series) -> pd.Series:
    """Coordinates as floats; text with a decimal comma is read too."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(float)


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")
