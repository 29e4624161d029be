"""Writers: round trips, reprojection, CSV geometry columns and atomic writes."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

import layers.writers as writers
from layers.errors import CityDeskError
from layers.readers import read_layer, read_layers
from layers.writers import atomic_path, write_json, write_layers, write_text


@pytest.fixture
def blocks() -> gpd.GeoDataFrame:
    """Mixed Polygon + MultiPolygon with ints, floats, strings, bools, NaN and None."""
    return gpd.GeoDataFrame(
        {
            "id": [1, 2, 3],
            "area_ha": [1.5, np.nan, 0.25],
            "name": ["Kallio", None, "Töölö"],
            "protected": [True, False, True],
            "floors": pd.Series([3, None, 7], dtype=object),
        },
        geometry=[
            box(0, 0, 100, 100),
            MultiPolygon([box(200, 0, 300, 100), box(400, 0, 500, 100)]),
            box(0, 200, 50, 250),
        ],
        crs="EPSG:3067",
    )


@pytest.fixture
def stops() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["Kamppi", "Töölö"]},
        geometry=[Point(385600, 6672100), Point(384700, 6673300)],
        crs="EPSG:3067",
    )


def test_geopackage_round_trip_several_layers(tmp_path, blocks, stops):
    target = tmp_path / "out.gpkg"
    assert write_layers({"blocks": blocks, "stops": stops}, target) == target
    read = {lay.name: lay.gdf for lay in read_layers(target)}
    assert list(read) == ["blocks", "stops"]
    got = read["blocks"]
    assert got.crs.to_epsg() == 3067
    assert got["id"].tolist() == [1, 2, 3]
    assert got["area_ha"].iloc[0] == 1.5 and np.isnan(got["area_ha"].iloc[1])
    assert got["name"].iloc[0] == "Kallio" and pd.isna(got["name"].iloc[1]) and got["name"].iloc[2] == "Töölö"
    assert got["protected"].tolist() == [True, False, True]
    assert got["floors"].iloc[0] == 3 and pd.isna(got["floors"].iloc[1])  # numbers, not the text "3"
    assert set(got.geom_type) == {"MultiPolygon"}  # mixed Polygon/MultiPolygon promoted to multi
    assert got.geometry.area.round(6).tolist() == blocks.geometry.area.round(6).tolist()
    assert read["stops"]["name"].tolist() == ["Kamppi", "Töölö"]


def test_geojson_is_reprojected_to_wgs84(tmp_path, stops):
    target = tmp_path / "stops.geojson"
    write_layers({"stops": stops}, target)
    data = json.loads(target.read_text(encoding="utf-8"))
    x, y = data["features"][0]["geometry"]["coordinates"]
    assert 24.9 < x < 25.0 and 60.1 < y < 60.2
    got = read_layer(target)
    assert got.crs.to_epsg() == 4326
    back = got.to_crs(3067)
    assert back.geometry.distance(stops.geometry).max() < 0.05  # 7 decimals of a degree ~ 1 cm


def test_csv_points_get_lon_lat(tmp_path, stops):
    target = tmp_path / "stops.csv"
    with_gap = pd.concat(
        [stops, gpd.GeoDataFrame({"name": ["Nowhere"]}, geometry=[None], crs=3067)], ignore_index=True
    )
    write_layers({"stops": with_gap}, target)
    table = pd.read_csv(target)
    assert list(table.columns) == ["name", "longitude", "latitude"]
    assert table["longitude"].iloc[0] == pytest.approx(24.94, abs=0.01) and pd.isna(
        table["longitude"].iloc[2]
    )
    got = read_layer(target)
    assert got.crs.to_epsg() == 4326 and got["name"].tolist() == ["Kamppi", "Töölö", "Nowhere"]
    assert got.geometry.iloc[2] is None


def test_csv_lines_get_wkt(tmp_path):
    streets = gpd.GeoDataFrame(
        {"name": ["Mannerheimintie"]},
        geometry=[LineString([(385000, 6672000), (385000, 6673000)])],
        crs="EPSG:3067",
    )
    target = tmp_path / "streets.csv"
    write_layers({"streets": streets}, target)
    table = pd.read_csv(target)
    assert list(table.columns) == ["name", "wkt"] and table["wkt"].iloc[0].startswith("LINESTRING (24.")
    got = read_layer(target).to_crs(3067)
    assert got.geometry.iloc[0].length == pytest.approx(1000, abs=0.1)


def test_geojson_of_layer_without_crs_in_metres_is_refused(tmp_path, stops):
    with pytest.raises(CityDeskError, match="no CRS"):
        write_layers({"stops": stops.set_crs(None, allow_override=True)}, tmp_path / "stops.geojson")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_old_file_and_leaves_no_temporary_files(tmp_path, monkeypatch, blocks, stops):
    target = tmp_path / "city.gpkg"
    write_layers({"old": stops}, target)
    before = target.read_bytes()
    real = writers.pyogrio.write_dataframe
    calls = []

    def failing(*args, **kwargs):
        calls.append(kwargs.get("layer"))
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(writers.pyogrio, "write_dataframe", failing)
    with pytest.raises(CityDeskError) as err:
        write_layers({"blocks": blocks, "stops": stops}, target)
    assert "city.gpkg" in str(err.value) and "disk full" in str(err.value)
    assert calls == ["blocks", "stops"]  # the first layer was written before the failure
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.gpkg"]
    monkeypatch.undo()
    assert [lay.name for lay in read_layers(target)] == ["old"]


def test_write_to_missing_folder(tmp_path, stops):
    with pytest.raises(CityDeskError) as err:
        write_layers({"stops": stops}, tmp_path / "no" / "such" / "out.gpkg")
    assert "does not exist" in str(err.value) and "such" in str(err.value)


def test_bad_targets(tmp_path, stops):
    with pytest.raises(CityDeskError, match="cannot write '.kml'"):
        write_layers({"stops": stops}, tmp_path / "stops.kml")
    with pytest.raises(CityDeskError, match="one layer"):
        write_layers({"a": stops, "b": stops}, tmp_path / "two.geojson")
    with pytest.raises(CityDeskError, match="nothing to write"):
        write_layers({}, tmp_path / "none.gpkg")
    (tmp_path / "out.gpkg").mkdir()
    with pytest.raises(CityDeskError, match="folder"):
        write_layers({"stops": stops}, tmp_path / "out.gpkg")
    assert [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]


def test_atomic_path_cleans_up_on_error(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("cancelled")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_write_json_and_text(tmp_path):
    write_json(tmp_path / "summary.json", {"share": np.float64(0.25), "n": np.int64(3), "name": "Töölö"})
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8")) == {
        "share": 0.25,
        "n": 3,
        "name": "Töölö",
    }
    write_text(tmp_path / "a.txt", "ä")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "ä"


def test_empty_layer_and_polygon_round_trip(tmp_path, blocks):
    target = tmp_path / "empty.gpkg"
    write_layers({"none": blocks.iloc[:0], "one": blocks.iloc[[0]]}, target)
    read = {lay.name: lay.gdf for lay in read_layers(target)}
    assert len(read["none"]) == 0 and read["one"].geometry.iloc[0].equals(MultiPolygon([box(0, 0, 100, 100)]))
    assert isinstance(read["one"].geometry.iloc[0], MultiPolygon | Polygon)
