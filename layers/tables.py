"""Tables with coordinates (CSV, plain Parquet) turned into point or WKT layers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from layers.errors import CityDeskError

LON_NAMES = ("longitude", "lon", "lng", "long", "x_wgs84", "lon_wgs84", "x", "easting")
LAT_NAMES = ("latitude", "lat", "y_wgs84", "lat_wgs84", "y", "northing")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkt_geom", "shape")


def read_csv_layer(path: Path, *, crs=None) -> gpd.GeoDataFrame:
    """A CSV file as a layer. The delimiter is sniffed (comma, semicolon, tab, pipe); geometry
    comes from longitude/latitude columns under their common names or from a WKT column."""
    raw = path.read_bytes()
    if not raw.strip():
        raise CityDeskError("the file is empty", source=path, fix="Choose a CSV file with a header and rows")
    text = _decode(raw)
    sample = text[:65536]
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, low_memory=False)
    except Exception as exc:
        raise CityDeskError(f"cannot be read as CSV ({exc})", source=path,
                            fix="Save it as comma- or semicolon-separated text with one header row") from exc
    return table_to_layer(table, source=path, crs=crs)


def table_to_layer(table: pd.DataFrame, *, source, crs=None) -> gpd.GeoDataFrame:
    """Points from longitude/latitude columns, else geometries from a WKT column."""
    lower = {str(c).strip().lower(): c for c in table.columns}
    wkt_col = next((lower[n] for n in WKT_NAMES if n in lower), None)
    lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
    if lon_col is not None and lat_col is not None:
        lon = pd.to_numeric(table[lon_col], errors="coerce")
        lat = pd.to_numeric(table[lat_col], errors="coerce")
        if crs is None:
            known = lon.notna() & lat.notna()
            if known.any() and ((lon[known].abs() > 180).any() or (lat[known].abs() > 90).any()):
                raise CityDeskError(
                    f"the columns '{lon_col}'/'{lat_col}' hold values outside longitude/latitude ranges",
                    source=source,
                    fix="Give the coordinates in longitude/latitude (WGS84), or save the layer as a "
                        "GeoPackage with its projected CRS",
                )
            crs = "EPSG:4326"
        geometry = gpd.points_from_xy(lon, lat)
        geometry[(lon.isna() | lat.isna()).to_numpy()] = None
        rest = table.drop(columns=[lon_col, lat_col])
        rest = rest.assign(**{str(lon_col): lon, str(lat_col): lat})
        return gpd.GeoDataFrame(rest, geometry=geometry, crs=crs)
    if wkt_col is not None:
        text = table[wkt_col].astype("string")
        try:
            geometry = shapely.from_wkt(text.fillna("").replace("", None).to_numpy(dtype=object), on_invalid="warn")
        except Exception as exc:
            raise CityDeskError(f"the column '{wkt_col}' does not hold WKT geometries ({exc})", source=source,
                                fix="Use WKT text such as POINT (24.94 60.17)") from exc
        return gpd.GeoDataFrame(table.drop(columns=[wkt_col]), geometry=geometry, crs=crs or "EPSG:4326")
    columns = ", ".join(map(str, table.columns[:20])) or "(none)"
    raise CityDeskError(
        f"no coordinate columns found (columns: {columns})",
        source=source,
        fix="Add longitude and latitude columns (named lon/lat, lng/lat, longitude/latitude or x/y) "
            "or a WKT column named wkt or geometry",
    )


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")
