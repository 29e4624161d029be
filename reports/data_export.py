"""Layers out of CityDesk as data: a GeoPackage with every layer and its style in a
``layer_styles`` table (QML and SLD, the table QGIS writes and reads: QGIS opens the layers
styled as in CityDesk), GeoJSON (WGS84) or CSV (WKT, or longitude/latitude for points).

Every file is written atomically: a failed or cancelled export leaves no half-written file.

    export_layers(result_layers, "results.gpkg")          # one file, every layer, styles
    export_layers(result_layers, "results.geojson")       # one file per layer: results-<layer>.geojson
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.layer import Layer
from layers.writers import FORMATS, atomic_path, write_layers
from reports.data_export_styles import to_qml, to_sld

#: The table exactly as QGIS creates it (QgsOgrProvider, GeoPackage) when it saves a style.
STYLE_TABLE_DDL = (
    'CREATE TABLE IF NOT EXISTS "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    "\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)
_COUNT_TRIGGERS = (
    'CREATE TRIGGER IF NOT EXISTS "trigger_insert_feature_count_layer_styles" AFTER INSERT ON "layer_styles" '
    "BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count + 1 "
    "WHERE lower(table_name) = lower('layer_styles'); END",
    'CREATE TRIGGER IF NOT EXISTS "trigger_delete_feature_count_layer_styles" AFTER DELETE ON "layer_styles" '
    "BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count - 1 "
    "WHERE lower(table_name) = lower('layer_styles'); END",
)


def table_name(name: str, taken: set[str]) -> str:
    """A GeoPackage table name for a layer name: its words (letters of any script, digits, ``_``
    and ``-``) joined by ``_``, at most 60 characters, unique (case-insensitively) among ``taken``."""
    base = re.sub(r"[^\w-]+", "_", name, flags=re.UNICODE).strip("_")[:60] or "layer"
    if base.lower().startswith(("gpkg_", "rtree_", "sqlite_")) or base.lower() == "layer_styles":
        base = f"layer_{base}"
    out, n = base, 2
    while out.lower() in taken:
        out, n = f"{base}_{n}", n + 1
    taken.add(out.lower())
    return out


def _as_layers(layers) -> list[Layer]:
    if isinstance(layers, Layer):
        return [layers]
    if isinstance(layers, Mapping):
        return [Layer(str(name), gdf) for name, gdf in layers.items()]
    return list(layers)


def export_layers(layers, path: str | Path, *, styles: bool = True,
                  feedback: Feedback | None = None) -> list[Path]:
    """Write ``layers`` (Layers, or ``{name: GeoDataFrame}``) to ``path`` and return the files written.

    ``.gpkg``: one file with every layer (table names from the layer names) and, with ``styles``,
    a ``layer_styles`` table holding each layer's style as QML and SLD, used by QGIS as the
    default style. ``.geojson`` / ``.csv``: one layer per file — a single layer goes to ``path``,
    several to ``<stem>-<layer>.<suffix>`` next to it."""
    fb = ensure(feedback)
    path = Path(path)
    layers = [lay for lay in _as_layers(layers)]
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CityDeskError(f"cannot export to '{path.suffix or path.name}' files", source=path,
                            fix="Use .gpkg (every layer with its style), .geojson or .csv")
    empty = [lay.name for lay in layers if not isinstance(lay.gdf, gpd.GeoDataFrame)]
    if empty:
        raise CityDeskError(f"the layer {', '.join(repr(n) for n in empty)} has no data to export", source=path,
                            fix="Leave out layers that could not be read")
    if not layers:
        raise CityDeskError("there is nothing to export", source=path, fix="Choose at least one layer")
    if fmt == "GeoPackage":
        return [_export_gpkg(layers, path, styles, fb)]
    written, taken = [], set()
    for i, layer in enumerate(layers):
        fb.check_cancelled()
        fb.progress(i / len(layers), f"Writing {layer.name}")
        target = path if len(layers) == 1 else path.with_name(f"{path.stem}-{table_name(layer.name, taken)}"
                                                              f"{path.suffix}")
        written.append(write_layers({layer.name: layer.gdf}, target))
    fb.progress(1.0, "Exported")
    return written


def _export_gpkg(layers: list[Layer], path: Path, styles: bool, fb: Feedback) -> Path:
    taken: set[str] = set()
    names = [table_name(lay.name, taken) for lay in layers]
    with atomic_path(path) as tmp:
        fb.progress(0.0, "Writing the layers")
        frames = {name: lay.gdf for name, lay in zip(names, layers, strict=True)}
        write_layers(frames, tmp)
        fb.check_cancelled()
        if styles:
            fb.progress(0.8, "Writing the styles")
            rows = [(name, to_qml(lay), to_sld(lay, name), lay.name) for name, lay in zip(names, layers, strict=True)]
            write_styles(tmp, rows)
    fb.progress(1.0, "Exported")
    return path


def write_styles(gpkg: str | Path, rows: list[tuple[str, str, str, str]]) -> None:
    """Add ``rows`` of (table, QML, SLD, description) to the GeoPackage's ``layer_styles`` table,
    each the default style of its table, registered as QGIS registers it (an attributes table in
    ``gpkg_contents``, counted in ``gpkg_ogr_contents``)."""
    con = sqlite3.connect(str(gpkg))
    try:
        with con:
            con.execute(STYLE_TABLE_DDL)
            con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, last_change) "
                        "VALUES ('layer_styles', 'attributes', 'layer_styles', "
                        "strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
            ogr = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone()
            if ogr:
                con.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) SELECT 'layer_styles', 0 "
                            "WHERE NOT EXISTS (SELECT 1 FROM gpkg_ogr_contents WHERE table_name = 'layer_styles')")
                for trigger in _COUNT_TRIGGERS:
                    con.execute(trigger)
            geometry = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
            for table, qml, sld, description in rows:
                con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (table,))
                con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                            "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL)",
                            (table, geometry.get(table, "geom"), table, qml, sld,
                             f"CityDesk style of the layer '{description}'"))
    except sqlite3.Error as exc:
        raise CityDeskError(f"could not store the layer styles ({exc})", source=gpkg,
                            fix="Export without styles, or to another file") from exc
    finally:
        con.close()
