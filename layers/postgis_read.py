"""Reading PostGIS tables and queries into GeoDataFrames.

The geometry column and its SRID come from the catalogue (``geometry_columns``); attributes keep
their types (integers stay integers, nullable ones ``Int64``; ``date`` stays a date; ``timestamptz``
is UTC). Rows stream through a server-side binary cursor in chunks, each a cancel point, and
geometry is decoded from WKB with shapely, vectorised. Identifiers are always quoted with
:class:`psycopg.sql.Identifier`; values are always parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.gil import breathe
from layers.postgis_connect import connect, db_error
from layers.postgis_url import PgSource

CHUNK = 20_000
ROW_ID_NAMES = ("fid", "ogc_fid")  # an integer primary key of this name is the row id, not an attribute
_INT = {"int2": "Int16", "int4": "Int32", "int8": "Int64"}
_FLOAT = {"float4": "float32", "float8": "float64", "numeric": "float64"}


@dataclass(frozen=True)
class TableInfo:
    """A geometry table (or view) of a database, from ``geometry_columns``."""

    schema: str
    table: str
    column: str
    geometry_type: str
    srid: int
    rows: int  # the planner's estimate (-1: never analysed)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


def list_tables(src: PgSource) -> list[TableInfo]:
    """Every geometry column of the database (``geometry_columns``), by schema and table."""
    with connect(src) as conn:
        return _tables(conn)


def _tables(conn) -> list[TableInfo]:
    rows = conn.execute(
        "SELECT g.f_table_schema, g.f_table_name, g.f_geometry_column, g.type, g.srid, "
        "COALESCE(c.reltuples, -1)::bigint FROM geometry_columns g "
        "LEFT JOIN pg_namespace n ON n.nspname = g.f_table_schema "
        "LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = g.f_table_name "
        "WHERE g.f_table_schema NOT IN ('topology', 'tiger', 'tiger_data') "
        "ORDER BY 1, 2, 3").fetchall()
    return [TableInfo(str(s), str(t), str(c), _type_name(str(ty)), int(srid or 0), int(n))
            for s, t, c, ty, srid, n in rows]


def _type_name(pg_type: str) -> str:
    names = {"POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon", "MULTIPOINT": "MultiPoint",
             "MULTILINESTRING": "MultiLineString", "MULTIPOLYGON": "MultiPolygon",
             "GEOMETRYCOLLECTION": "GeometryCollection", "GEOMETRY": "Geometry"}
    return names.get(pg_type.upper().rstrip("ZM"), pg_type)


def table_geometry(conn, src: PgSource) -> TableInfo:
    """The geometry column of ``src``'s table, or a clear error when the table is missing or has none."""
    found = conn.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')",
        (src.schema, src.table)).fetchone()
    tables = _tables(conn)
    if found is None:
        listed = ", ".join(t.qualified for t in tables[:15]) + (", …" if len(tables) > 15 else "")
        raise CityDeskError(f"there is no table {src.qualified!r} in the database {src.server}",
                            source=src.database_url(),
                            fix=f"Tables with geometry: {listed}" if tables else "The database has no geometry "
                            "tables yet; check the database name, or write one with citydesk run --out")
    mine = [t for t in tables if (t.schema, t.table) == (src.schema, src.table)]
    if not mine and not conn.execute("SELECT has_table_privilege(%s, 'SELECT')", (found[0],)).fetchone()[0]:
        raise CityDeskError(f"user {src.user or '(your login name)'} may not read the table {src.qualified!r}",
                            source=str(src), fix="Ask the database administrator for SELECT rights on it")
    if not mine:
        raise CityDeskError(f"the table {src.qualified!r} has no geometry column", source=str(src),
                            fix="Choose a table with points, lines or polygons, or join this one to a map layer")
    return mine[0]


def crs_of(conn, srid: int, src: PgSource) -> CRS | None:
    """The CRS of ``srid`` from ``spatial_ref_sys`` (EPSG codes as such; others from their WKT)."""
    if not srid:
        return None
    row = conn.execute("SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s",
                       (srid,)).fetchone()
    try:
        if row is None or (row[0] or "").upper() == "EPSG":
            return CRS.from_epsg(row[1] if row else srid)
        return CRS.from_wkt(row[2])
    except Exception as exc:
        raise CityDeskError(f"the SRID {srid} of the table is not a CRS CityDesk knows", source=str(src),
                            fix="Transform the geometry to an EPSG CRS (ST_Transform) in the database") from exc


def read_postgis(src: PgSource, *, bbox: tuple[float, float, float, float] | None = None, bbox_crs=None,
                 feedback: Feedback | None = None) -> gpd.GeoDataFrame:
    """``src``'s table (or ``sql`` query) as a GeoDataFrame. With ``bbox`` (xmin, ymin, xmax, ymax
    in ``bbox_crs``, default the table's CRS) only features whose bounding box meets it are read
    (through the spatial index)."""
    from psycopg import sql

    fb = ensure(feedback)
    if src.table is None and src.sql is None:
        raise CityDeskError("the URL names no table", source=str(src),
                            fix="Add ?table=SCHEMA.TABLE (see 'citydesk info' on the database URL for its tables)")
    with connect(src) as conn:
        try:
            if src.sql is not None:
                query, columns, geom, crs = _query_plan(conn, src)
            else:
                info = table_geometry(conn, src)
                crs = crs_of(conn, info.srid, src)
                columns = _columns(conn, src, info.column)
                geom = info.column
                select = [sql.Identifier(name) for name, _ in columns]
                select.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(geom)))
                query = sql.SQL("SELECT {} FROM {}.{}").format(sql.SQL(", ").join(select),
                                                               sql.Identifier(src.schema), sql.Identifier(src.table))
                if bbox is not None:
                    box = _bbox_in(bbox, bbox_crs, crs)
                    query += sql.SQL(" WHERE {} && ST_MakeEnvelope(%s, %s, %s, %s, %s)").format(sql.Identifier(geom))
                    params = (*box, info.srid)
                else:
                    params = ()
                query = (query, params)
            frame = _fetch(conn, query, columns, fb)
        except CityDeskError:
            raise
        except Exception as exc:
            from psycopg import Error

            if isinstance(exc, Error):
                raise db_error(src, exc, "reading the table" if src.table else "the query") from None
            raise
    if crs is None and frame[1].size and pd.notna(frame[1]).any():
        raise CityDeskError("the geometry column has no SRID (it is 0), so its CRS is unknown", source=str(src),
                            fix="Set it in the database: SELECT UpdateGeometrySRID('schema', 'table', 'geom', 3067)")
    attrs, geometry = frame
    array = gpd.array.GeometryArray(geometry, crs=crs)
    gdf = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(array, index=attrs.index, name=geom), crs=crs)
    fb.progress(1.0, f"Read {len(gdf):,} features")
    return gdf


def _columns(conn, src: PgSource, geom: str) -> list[tuple[str, str]]:
    """``(name, type name)`` of the attribute columns, in table order (geometry and row id left out)."""
    rows = conn.execute(
        "SELECT a.attname, t.typname, COALESCE(i.indisprimary, false) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1 AND a.attnum = i.indkey[0] "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (src.schema, src.table)).fetchall()
    out = []
    for name, typname, primary in rows:
        if name == geom or typname in ("geometry", "geography"):
            continue
        if primary and typname in _INT and name.lower() in ROW_ID_NAMES:
            continue
        out.append((name, typname))
    return out


def _query_plan(conn, src: PgSource):
    """For ``?sql=``: run read-only; the first geometry column of the result is the geometry."""
    from psycopg import sql

    conn.execute("SET default_transaction_read_only = on")
    inner = sql.SQL(src.sql.rstrip().rstrip(";"))
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM ({}) AS citydesk_q LIMIT 0").format(inner))
        described = [(d.name, d.type_code) for d in cur.description]
    oids = dict(conn.execute("SELECT oid, typname FROM pg_type WHERE typname = ANY(%s)",
                             (["geometry", "geography"] + list(_INT) + list(_FLOAT) +
                              ["bool", "date", "timestamp", "timestamptz", "text", "varchar", "json", "jsonb"],))
                .fetchall())
    types = [(name, oids.get(code, "other")) for name, code in described]
    geoms = [name for name, t in types if t in ("geometry", "geography")]
    if not geoms:
        raise CityDeskError("the query returns no geometry column", source=str(src),
                            fix="Select a geometry column too, e.g. SELECT *, geom FROM …")
    geom = geoms[0]
    columns = [(name, t) for name, t in types if t not in ("geometry", "geography")]
    ident = sql.Identifier(geom)
    row = conn.execute(sql.SQL("SELECT ST_SRID({}::geometry) FROM ({}) AS citydesk_q WHERE {} IS NOT NULL LIMIT 1")
                       .format(ident, inner, ident)).fetchone()
    crs = crs_of(conn, int(row[0]) if row else 0, src)
    select = [sql.Identifier(name) for name, _ in columns] + [sql.SQL("ST_AsBinary({}::geometry)").format(ident)]
    query = sql.SQL("SELECT {} FROM ({}) AS citydesk_q").format(sql.SQL(", ").join(select), inner)
    return (query, ()), columns, geom, crs


def _bbox_in(bbox, bbox_crs, crs: CRS | None) -> tuple[float, float, float, float]:
    if bbox_crs is None or crs is None or CRS.from_user_input(bbox_crs) == crs:
        return tuple(float(v) for v in bbox)
    from pyproj import Transformer

    t = Transformer.from_crs(bbox_crs, crs, always_xy=True)
    return tuple(float(v) for v in t.transform_bounds(*bbox, densify_pts=21))


def _fetch(conn, query, columns: list[tuple[str, str]], fb) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows through a server-side binary cursor, ``CHUNK`` at a time (a cancel point each)."""
    statement, params = query
    with conn.transaction():
        total = None
        with conn.cursor() as cur:
            from psycopg import sql

            cur.execute(sql.SQL("SELECT count(*) FROM ({}) AS citydesk_n").format(statement), params)
            total = cur.fetchone()[0]
        values: list[list] = [[] for _ in columns]
        geoms: list[np.ndarray] = []
        with conn.cursor(name="citydesk_read", binary=True) as cur:
            cur.itersize = CHUNK
            cur.execute(statement, params)
            done = 0
            while rows := cur.fetchmany(CHUNK):
                fb.check_cancelled()
                parts = list(zip(*rows, strict=True))
                for i in range(len(columns)):
                    values[i].extend(parts[i])
                wkb = np.array(parts[-1], dtype=object)
                geoms.append(shapely.from_wkb(wkb, on_invalid="fix"))
                done += len(rows)
                fb.progress(min(done / max(total, 1), 1.0) * 0.95, f"Read {done:,} of {total:,} features")
                breathe()
    geometry = np.concatenate(geoms) if geoms else np.empty(0, dtype=object)
    data = {name: _series(values[i], typname) for i, (name, typname) in enumerate(columns)}
    return pd.DataFrame(data, index=pd.RangeIndex(len(geometry))), geometry


def _series(values: list, typname: str) -> pd.Series:
    """One attribute column with the pandas type closest to its PostgreSQL type."""
    has_null = any(v is None for v in values)
    if typname in _INT:
        return pd.Series(values, dtype=_INT[typname] if has_null else _INT[typname].lower())
    if typname in _FLOAT:
        floats = [None if v is None else float(v) for v in values] if typname == "numeric" else values
        return pd.Series(floats, dtype=_FLOAT[typname])
    if typname == "bool":
        return pd.Series(values, dtype="boolean" if has_null else bool)
    if typname == "timestamptz":
        return pd.Series(pd.to_datetime(values, utc=True))
    if typname == "timestamp":
        return pd.Series(pd.to_datetime(values))
    if typname == "date":
        return pd.Series(values, dtype=object)
    if typname in ("json", "jsonb"):
        return pd.Series([None if v is None else json.dumps(v, ensure_ascii=False) for v in values])
    if typname in ("text", "varchar", "bpchar", "name", "char"):
        return pd.Series(values)
    return pd.Series([None if v is None else (float(v) if isinstance(v, Decimal) else str(v)) for v in values])
