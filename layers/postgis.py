"""PostGIS as a layer source and a destination for results.

A source is written ``postgresql://USER@HOST:PORT/DATABASE?table=SCHEMA.TABLE`` (or
``?sql=SELECT …``, read-only) and is accepted wherever a file path is: ``read_layers``,
``read_layer``, ``list_layers`` (``citydesk info``), ``--layer ROLE=…`` and ``--out`` of
``citydesk run``, and project files (which keep the URL, never a password).

The pieces: :mod:`layers.postgis_url` (parsing), :mod:`layers.postgis_connect` (connections,
passwords, messages), :mod:`layers.postgis_read` and :mod:`layers.postgis_write`. The driver is
psycopg 3 (``psycopg[binary]``, which brings its own libpq); GDAL is not involved.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd

from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.layer import Layer, Source, guess_role
from layers.postgis_connect import PasswordRequired, connect, remember_password
from layers.postgis_read import TableInfo, crs_of, list_tables, read_postgis, table_geometry
from layers.postgis_url import PgSource, is_postgis_url, parse_url
from layers.postgis_write import table_exists, write_postgis

__all__ = [
    "PasswordRequired", "PgSource", "TableInfo", "is_postgis_url", "list_tables", "parse_url", "postgis_infos",
    "read_postgis_layer", "read_postgis_layers", "remember_password", "tables_exist", "write_postgis_layers",
]


def read_postgis_layer(url: str | PgSource, *, bbox=None, bbox_crs=None,
                       feedback: Feedback | None = None) -> gpd.GeoDataFrame:
    """One table (or query) as a GeoDataFrame; ``bbox`` (in ``bbox_crs``) reads only what meets it."""
    src = url if isinstance(url, PgSource) else parse_url(url)
    gdf = read_postgis(src, bbox=bbox, bbox_crs=bbox_crs, feedback=feedback)
    gdf.attrs["source"] = str(src)
    return gdf


def read_postgis_layers(url: str | PgSource, *, bbox=None, bbox_crs=None,
                        feedback: Feedback | None = None) -> list[Layer]:
    """The table (or query) of ``url`` as a :class:`Layer`, or, for a database URL without a
    table, every geometry table of the database (one layer each, named as the table)."""
    src = url if isinstance(url, PgSource) else parse_url(url)
    fb = ensure(feedback)
    if src.table is not None or src.sql is not None:
        sources = [src]
    else:
        tables = list_tables(src)
        if not tables:
            raise CityDeskError(f"the database {src.server} has no tables with geometry", source=str(src),
                                fix="Check the database name, or name a table with ?table=SCHEMA.TABLE")
        sources = [src.with_table(t.table, t.schema) for t in tables]
    layers = []
    for i, one in enumerate(sources):
        part = SubFeedback(fb, i / len(sources), (i + 1) / len(sources))
        gdf = read_postgis(one, bbox=bbox, bbox_crs=bbox_crs, feedback=part)
        name = _layer_name(one)
        layers.append(Layer(name, gdf, Source(str(one)), guess_role(name)))
    return layers


def _layer_name(src: PgSource) -> str:
    if src.table is None:
        return "query"
    return src.table if src.schema == "public" else f"{src.schema}.{src.table}"


def postgis_infos(url: str | PgSource) -> list:
    """What ``citydesk info`` says about a table (or every geometry table of a database): a
    :class:`layers.readers.LayerInfo` each, with exact counts and bounds."""
    from psycopg import sql

    from layers.readers import LayerInfo, _crs_text

    src = url if isinstance(url, PgSource) else parse_url(url)
    if src.sql is not None:
        gdf = read_postgis(src)
        from layers.readers import _info

        return [_info("query", "PostGIS query", gdf)]
    with connect(src) as conn:
        tables = [table_geometry(conn, src)] if src.table is not None else list_tables(src)
        infos = []
        for t in tables:
            one = src.with_table(t.table, t.schema)
            ident = sql.SQL("{}.{}").format(sql.Identifier(t.schema), sql.Identifier(t.table))
            geom = sql.Identifier(t.column)
            count, box = conn.execute(sql.SQL("SELECT count(*), ST_Extent({})::text FROM {}").format(geom, ident)
                                      ).fetchone()
            from layers.postgis_read import _columns

            columns = {name: typname for name, typname in _columns(conn, one, t.column)}
            bounds = _box(box)
            infos.append(LayerInfo(_layer_name(one), "PostGIS", t.geometry_type, int(count),
                                   _crs_text(crs_of(conn, t.srid, one)), bounds, columns))
        return infos


def _box(text: str | None):
    """``BOX(xmin ymin,xmax ymax)`` as a tuple."""
    if not text or not text.startswith("BOX("):
        return None
    lo, hi = text[4:-1].split(",")
    return tuple(float(v) for v in (*lo.split(), *hi.split()))


def tables_exist(layers: Mapping[str, gpd.GeoDataFrame], url: str | PgSource) -> list[str]:
    """The tables that writing ``layers`` to ``url`` would replace (empty: nothing is replaced)."""
    from layers.postgis_write import targets

    src = url if isinstance(url, PgSource) else parse_url(url)
    with connect(src) as conn:
        return [dst.qualified for dst, _ in targets(layers, src) if table_exists(conn, dst)]


def write_postgis_layers(layers: Mapping[str, gpd.GeoDataFrame], url: str | PgSource, *, replace: bool = False,
                         feedback: Feedback | None = None) -> list[str]:
    """Write the layers to PostGIS (one transaction; see :func:`layers.postgis_write.write_postgis`).
    Returns the URLs of the tables written."""
    src = url if isinstance(url, PgSource) else parse_url(url)
    return [str(dst) for dst in write_postgis(layers, src, replace=replace, feedback=feedback)]
