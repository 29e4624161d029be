"""Result layers out as data: a GeoPackage with a QGIS ``layer_styles`` table (the schema QGIS
writes, QML and SLD with the window's classes and colours), GeoJSON and CSV, written atomically."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from layers.errors import CityDeskError
from layers.layer import Layer
from layers.style import Style, symbolize
from reports.data_export import export_layers, table_name
from reports.data_export_styles import style_classes

CRS = "EPSG:3067"
QGIS_COLUMNS = ["id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
                "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"]


def _layers() -> list[Layer]:
    kinds = gpd.GeoDataFrame({"kind": ["recycling", "waste", None, "waste"], "fill": [10.0, 55.0, 80.0, np.nan]},
                             geometry=[Point(385000 + i, 6672000) for i in range(4)], crs=CRS)
    houses = gpd.GeoDataFrame({"residents": [0.0, 5.0, 12.0, 40.0, 90.0, 200.0]},
                              geometry=[box(i * 10, 0, i * 10 + 5, 5) for i in range(6)], crs=CRS)
    return [Layer("Bins <new>", kinds, style=Style(kind="categorized", field="kind")),
            Layer("Houses", houses, style=Style(kind="graduated", field="residents", classes=3, ramp="viridis"))]


def test_geopackage_has_qgis_layer_styles(tmp_path):
    out = export_layers(_layers(), tmp_path / "results.gpkg")
    assert out == [tmp_path / "results.gpkg"]
    assert sorted(gpd.list_layers(out[0])["name"]) == ["Bins_new", "Houses", "layer_styles"]  # as QGIS has it
    with sqlite3.connect(out[0]) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
        rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML, styleSLD, update_time "
                           "FROM layer_styles ORDER BY id").fetchall()
        registered = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    assert columns == QGIS_COLUMNS and registered == ("attributes",)
    assert [(r[0], r[1], r[2]) for r in rows] == [("Bins_new", "geom", 1), ("Houses", "geom", 1)]
    assert all(r[5] for r in rows)  # the default time stamp, as QGIS's table has
    qml = ET.fromstring(rows[0][3].split("\n", 1)[1])
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "kind"
    values = [c.get("value") for c in renderer.iter("category")]
    assert values == ["recycling", "waste", ""]  # the missing value last, as in the legend
    ET.fromstring(rows[0][4].split("\n", 1)[1])  # well-formed SLD


def test_qml_colours_and_ranges_are_the_window_classes():
    bins, houses = _layers()
    legend = symbolize(bins.style, bins.gdf).legend
    kind, classes = style_classes(bins)
    assert kind == "categorized" and [(c.label, c.color) for c in classes] == legend
    kind, classes = style_classes(houses)
    colours = symbolize(houses.style, houses.gdf).colors
    assert kind == "graduated" and classes[0].lower == 0.0 and classes[-1].upper == 200.0
    for value, colour in zip(houses.gdf["residents"], colours, strict=True):  # each value in its colour's range
        hit = [c for c in classes if c.lower <= value <= c.upper and (value > c.lower or c is classes[0])]
        assert hit and hit[0].color == colour


def test_geojson_and_csv_one_file_per_layer(tmp_path):
    written = export_layers(_layers(), tmp_path / "out.geojson")
    assert [p.name for p in written] == ["out-Bins_new.geojson", "out-Houses.geojson"]
    assert gpd.read_file(written[0]).crs.to_epsg() == 4326
    csv = export_layers(_layers()[:1], tmp_path / "bins.csv")
    table = pd.read_csv(csv[0], encoding="utf-8-sig")
    assert list(table.columns) == ["kind", "fill", "longitude", "latitude"] and len(table) == 4


def test_bad_target_leaves_nothing(tmp_path):
    with pytest.raises(CityDeskError, match="cannot export"):
        export_layers(_layers(), tmp_path / "out.shp")
    with pytest.raises(CityDeskError, match="folder does not exist"):
        export_layers(_layers(), tmp_path / "missing" / "out.gpkg")
    assert list(tmp_path.iterdir()) == []


def test_table_names_are_safe_and_unique():
    taken: set[str] = set()
    assert [table_name(n, taken) for n in ("Waste bins", "waste bins", "gpkg_x", "Ääni — ja")] == [
        "Waste_bins", "waste_bins_2", "layer_gpkg_x", "Ääni_ja"]
