"""Writing GeoDataFrames to PostGIS tables, all or nothing.

Every table is first filled under a temporary name (a bulk ``COPY`` whose text is built a chunk at
a time with numpy, :mod:`layers.postgis_copy`), and only then, in the same
transaction, the old table (when replacing) is dropped, the new one renamed into place and given
its primary key, spatial (GiST) index and statistics. A failure, a cancel or a killed process at
any point rolls the whole transaction back: the old table stays exactly as it was, and no
temporary table is left. Identifiers are quoted with :class:`psycopg.sql.Identifier`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.errors import CityDeskError
from layers.feedback import Cancelled, Feedback, ensure
from layers.gil import breathe
from layers.postgis_connect import connect, db_error
from layers.postgis_copy import column_encoder, ewkb_hex, payload, row_ids
from layers.postgis_url import PgSource

CHUNK = 20_000
_TYPE_NAMES = {"POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon", "MULTIPOINT": "MultiPoint",
               "MULTILINESTRING": "MultiLineString", "MULTIPOLYGON": "MultiPolygon",
               "GEOMETRYCOLLECTION": "GeometryCollection"}


def targets(layers: Mapping[str, gpd.GeoDataFrame], src: PgSource) -> list[tuple[PgSource, gpd.GeoDataFrame]]:
    """Where each layer goes: one layer to the URL's table; several to ``TABLE_LAYER`` each (or,
    without a table in the URL, to a table named as the layer, in ``public``)."""
    if src.sql is not None:
        raise CityDeskError("cannot write to a query (?sql=)", source=str(src),
                            fix="Write to a table: postgresql://USER@HOST:PORT/DATABASE?table=SCHEMA.TABLE")
    if not layers:
        raise CityDeskError("there is nothing to write", source=str(src), fix="Choose at least one layer")
    if src.table is not None and len(layers) == 1:
        return [(src, next(iter(layers.values())))]
    out = []
    for name, gdf in layers.items():
        table = f"{src.table}_{name}" if src.table is not None else name
        out.append((src.with_table(table, src.schema), gdf))
    return out


def write_postgis(layers: Mapping[str, gpd.GeoDataFrame], src: PgSource, *, replace: bool = False,
                  feedback: Feedback | None = None) -> list[PgSource]:
    """Write ``{name: layer}`` to PostGIS tables (see :func:`targets`), each with a ``fid`` primary
    key and a GiST index on ``geom``, in one transaction. An existing table is an error unless
    ``replace``; then it is replaced atomically. Returns the tables written."""
    fb = ensure(feedback)
    plan = [(dst, _prepare(gdf, dst)) for dst, gdf in targets(layers, src)]
    total = sum(len(frame) for _, (frame, _g, _t, _s) in plan) or 1
    from psycopg import Error

    with connect(src) as conn:
        try:
            _check_targets(conn, [dst for dst, _ in plan], replace)
            done = 0
            with conn.transaction():
                for dst, prepared in plan:
                    done = _write_one(conn, dst, prepared, fb, done, total)
        except (CityDeskError, Cancelled):
            raise
        except Error as exc:
            raise db_error(src, exc, "writing the table") from None
    fb.progress(1.0, f"Wrote {', '.join(dst.qualified for dst, _ in plan)}")
    return [dst for dst, _ in plan]


def table_exists(conn, src: PgSource) -> bool:
    return conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s", (src.schema, src.table)).fetchone() is not None


def _check_targets(conn, dsts: list[PgSource], replace: bool) -> None:
    names = [(d.schema, d.table) for d in dsts]
    if len(set(names)) != len(names):
        raise CityDeskError("two layers would go to the same table", source=str(dsts[0]), fix="Name the tables apart")
    for dst in dsts:
        if len(dst.table.encode()) > 63:
            raise CityDeskError(f"the table name {dst.table!r} is longer than PostgreSQL allows (63 bytes)",
                                source=str(dst), fix="Choose a shorter name")
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (dst.schema,)).fetchone() is None:
            raise CityDeskError(f"there is no schema {dst.schema!r} in the database", source=str(dst),
                                fix="Write to an existing schema (e.g. public), or create it first")
        if table_exists(conn, dst) and not replace:
            raise CityDeskError(f"the table {dst.qualified!r} already exists", source=str(dst),
                                fix="Replace it with --replace (in the window: confirm the replace), "
                                    "or choose another table name")


def _prepare(gdf: gpd.GeoDataFrame, dst: PgSource):
    """(attribute columns as (name, PostgreSQL type, chunk encoder), geometries, geometry type, SRID)."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise CityDeskError("the layer has no geometry column", source=str(dst),
                            fix="Write a GeoDataFrame (a table with geometries)")
    if gdf.crs is None:
        raise CityDeskError("the layer has no CRS, so its SRID is unknown", source=str(dst),
                            fix="Set the layer's CRS before writing it")
    srid = CRS.from_user_input(gdf.crs).to_epsg()
    if not srid:
        raise CityDeskError(f"the layer's CRS ({CRS.from_user_input(gdf.crs).name}) has no EPSG code",
                            source=str(dst), fix="Reproject the layer to an EPSG CRS before writing it")
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    geoms, geom_type = _promote(geoms)
    attrs = gdf.drop(columns=gdf.geometry.name)
    columns = [(str(name), *column_encoder(attrs[name])) for name in attrs.columns]
    return columns, geoms, geom_type, srid


def _promote(geoms: np.ndarray) -> tuple[np.ndarray, str]:
    """One geometry type for the column: single and multi parts of one kind become multi."""
    present = geoms[pd.notna(geoms)]
    kinds = set(shapely.get_type_id(present).tolist()) if len(present) else set()
    names = {shapely.GeometryType(k).name for k in kinds}
    if not names:
        return geoms, "Geometry"
    if len(names) == 1:
        name = next(iter(names))
        return geoms, _TYPE_NAMES.get(name, "Geometry")
    for single, multi, make in (("POINT", "MULTIPOINT", shapely.multipoints),
                                ("LINESTRING", "MULTILINESTRING", shapely.multilinestrings),
                                ("POLYGON", "MULTIPOLYGON", shapely.multipolygons)):
        if names == {single, multi}:
            out = geoms.copy()
            mask = pd.notna(out)
            mask[mask] = shapely.get_type_id(out[mask]) == shapely.GeometryType[single].value
            idx = np.flatnonzero(mask)
            out[idx] = make(out[idx], indices=np.arange(len(idx)))
            return out, _TYPE_NAMES[multi]
    return geoms, "Geometry"


def _write_one(conn, dst: PgSource, prepared, fb, done: int, total: int) -> int:
    from psycopg import sql

    columns, geoms, geom_type, srid = prepared
    names = [name for name, _, _ in columns]
    fid = next(n for n in ("fid", "citydesk_fid", "citydesk_row_id") if n not in names)
    geom = next(n for n in ("geom", "geometry", "citydesk_geom") if n not in names)
    schema = sql.Identifier(dst.schema)
    tmp_name = f"citydesk_tmp_{uuid.uuid4().hex[:16]}"
    tmp = sql.SQL("{}.{}").format(schema, sql.Identifier(tmp_name))
    defs = [sql.SQL("{} bigint NOT NULL").format(sql.Identifier(fid))]
    defs += [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg)) for name, pg, _ in columns]
    defs.append(sql.SQL("{} geometry({}, {})").format(sql.Identifier(geom), sql.SQL(geom_type), sql.Literal(srid)))
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(tmp, sql.SQL(", ").join(defs)))
    # FREEZE: the table is new in this transaction, so its rows need no visibility bookkeeping later
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FREEZE)").format(
        tmp, sql.SQL(", ").join(sql.Identifier(n) for n in [fid, *names, geom]))
    n = len(geoms)
    fb.progress(done / total, f"Writing {dst.qualified}")
    with conn.cursor() as cur, cur.copy(copy) as out:
        for start in range(0, n, CHUNK):
            fb.check_cancelled()
            stop = min(start + CHUNK, n)
            fields = [row_ids(start, stop), *(encode(start, stop) for _, _, encode in columns),
                      ewkb_hex(geoms[start:stop], srid)]
            out.write(payload(fields))
            done += stop - start
            fb.progress(min(done / total, 1.0) * 0.9, f"Writing {dst.qualified}: {done:,} rows")
            breathe()
    fb.check_cancelled()
    target = sql.SQL("{}.{}").format(schema, sql.Identifier(dst.table))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(tmp, sql.Identifier(dst.table)))
    conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(target, sql.Identifier(fid)))
    conn.execute(sql.SQL("CREATE INDEX ON {} USING GIST ({})").format(target, sql.Identifier(geom)))
    # statistics from a 3,000-row sample (not 30,000): enough for the planner, a tenth of the time on
    # large layers; autovacuum refreshes them as the table changes
    conn.execute("SET LOCAL default_statistics_target = 10")
    conn.execute(sql.SQL("ANALYZE {}").format(target))
    return done
