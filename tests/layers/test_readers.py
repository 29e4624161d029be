"""Readers on tiny files made in the tests: every format, ``list_layers`` and bad inputs."""

from __future__ import annotations

import shutil
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon

from layers.errors import CityDeskError
from layers.readers import list_layers, read_layer, read_layers, sniff_kind, split_spec

HSL_GTFS = Path(__file__).resolve().parents[2] / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"


@pytest.fixture
def stops() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["Kamppi", "Töölön tori"], "lines": [12, 3]},
        geometry=[Point(24.9316, 60.1690), Point(24.9230, 60.1800)],
        crs="EPSG:4326",
    )


@pytest.fixture
def parks() -> gpd.GeoDataFrame:
    square = Polygon([(385000, 6672000), (385100, 6672000), (385100, 6672100), (385000, 6672100)])
    return gpd.GeoDataFrame({"name": ["Sinebrychoffin puisto"]}, geometry=[square], crs="EPSG:3067")


@pytest.fixture
def gpkg(tmp_path, stops, parks) -> Path:
    path = tmp_path / "city.gpkg"
    stops.to_file(path, layer="stops", driver="GPKG")
    parks.to_file(path, layer="parks", driver="GPKG")
    return path


def _shapefile(folder: Path, gdf: gpd.GeoDataFrame, stem: str = "stops") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.shp"
    gdf.to_file(path)
    return path


def _text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _gtfs(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


# --- formats -------------------------------------------------------------------------------------


def test_geopackage_all_layers(gpkg):
    layers = read_layers(gpkg)
    assert [lay.name for lay in layers] == ["stops", "parks"]
    assert [lay.role for lay in layers] == ["transit_stops", "green_spaces"]
    assert layers[0].gdf.crs.to_epsg() == 4326 and layers[1].gdf.crs.to_epsg() == 3067
    assert layers[0].gdf["name"].tolist() == ["Kamppi", "Töölön tori"]
    assert str(layers[1].source) == f"{gpkg}:parks"


def test_geopackage_one_layer_by_spec(gpkg):
    (layer,) = read_layers(f"{gpkg}:parks")
    assert layer.name == "parks" and len(layer) == 1 and layer.geometry_kind == "polygon"
    assert len(read_layer(gpkg, "stops")) == 2


def test_geopackage_missing_layer_lists_layers(gpkg):
    with pytest.raises(CityDeskError) as err:
        read_layers(f"{gpkg}:roads")
    message = str(err.value)
    assert "city.gpkg" in message and "'roads'" in message and "stops, parks" in message
    with pytest.raises(CityDeskError, match="stops, parks"):
        read_layer(gpkg, "roads")
    with pytest.raises(CityDeskError, match="stops, parks"):
        list_layers(f"{gpkg}:roads")


def test_geopackage_table_without_geometry_is_left_out(gpkg):
    import pyogrio

    pyogrio.write_dataframe(pd.DataFrame({"k": [1, 2]}), gpkg, layer="codes", driver="GPKG", append=True)
    assert [lay.name for lay in read_layers(gpkg)] == ["stops", "parks"]
    with pytest.raises(CityDeskError, match="table without geometry"):
        read_layers(f"{gpkg}:codes")


def test_geojson(tmp_path, stops):
    path = tmp_path / "stops.geojson"
    stops.to_file(path, driver="GeoJSON")
    (layer,) = read_layers(path)
    assert layer.name == "stops" and len(layer) == 2 and layer.gdf.crs.to_epsg() == 4326


def test_shapefile(tmp_path, stops):
    path = _shapefile(tmp_path / "shp", stops)
    (layer,) = read_layers(path)
    assert layer.name == "stops" and layer.gdf["name"].tolist() == ["Kamppi", "Töölön tori"]
    assert layer.gdf.crs.to_epsg() == 4326


def test_zipped_shapefile(tmp_path, stops):
    shp = _shapefile(tmp_path / "shp", stops)
    archive = tmp_path / "stops_shp.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, part.name)
    assert sniff_kind(archive) == "shapefile"
    (layer,) = read_layers(archive)
    assert len(layer) == 2 and layer.gdf.crs.to_epsg() == 4326
    assert layer.gdf.geometry.x.round(4).tolist() == [24.9316, 24.9230]


def test_zipped_shapefile_in_a_folder(tmp_path, stops):
    shp = _shapefile(tmp_path / "shp", stops)
    archive = tmp_path / "pysakit.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, f"pysakit/{part.name}")
    (layer,) = read_layers(archive)
    assert layer.name == "pysakit" and layer.role == "transit_stops" and len(layer) == 2
    assert [info.name for info in list_layers(archive)] == ["pysakit"]


def test_flatgeobuf(tmp_path, parks):
    path = tmp_path / "parks.fgb"
    parks.to_file(path, driver="FlatGeobuf")
    (layer,) = read_layers(path)
    assert layer.gdf.crs.to_epsg() == 3067 and layer.geometry_kind == "polygon"


def test_geoparquet(tmp_path, parks):
    path = tmp_path / "parks.parquet"
    parks.to_parquet(path)
    (layer,) = read_layers(path)
    assert layer.gdf.crs.to_epsg() == 3067 and layer.gdf.area.iloc[0] == pytest.approx(10_000)


def test_plain_parquet_with_lon_lat(tmp_path):
    path = tmp_path / "bins.parquet"
    pd.DataFrame({"id": [1, 2], "lon": [24.94, 24.95], "lat": [60.17, 60.18]}).to_parquet(path)
    gdf = read_layer(path)
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.y.tolist() == [60.17, 60.18]
    assert list_layers(path)[0].kind == "Parquet"


@pytest.mark.parametrize("sep", [",", ";", "\t"])
@pytest.mark.parametrize(
    "lon,lat",
    [
        ("lon", "lat"),
        ("lng", "lat"),
        ("longitude", "latitude"),
        ("x", "y"),
        ("X", "Y"),
        ("Longitude", "Latitude"),
    ],
)
def test_csv_delimiters_and_coordinate_names(tmp_path, sep, lon, lat):
    path = _text(
        tmp_path / "bins.csv", f"id{sep}{lat}{sep}{lon}\n1{sep}60.17{sep}24.94\n2{sep}60.18{sep}24.95\n"
    )
    gdf = read_layer(path)
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.x.tolist() == [24.94, 24.95] and gdf.geometry.y.tolist() == [60.17, 60.18]
    assert gdf["id"].tolist() == [1, 2]


def test_csv_wkt_column(tmp_path):
    path = _text(
        tmp_path / "mixed.csv", 'id,wkt\n1,"POINT (24.94 60.17)"\n2,"LINESTRING (24.9 60.1, 25 60.2)"\n3,\n'
    )
    gdf = read_layer(path)
    assert gdf.geometry.iloc[0].equals(Point(24.94, 60.17))
    assert gdf.geometry.iloc[1].equals(LineString([(24.9, 60.1), (25, 60.2)]))
    assert gdf.geometry.iloc[2] is None
    assert list_layers(path)[0].geometry_type == "LineString/Point"


def test_csv_bom_and_finnish_characters(tmp_path):
    path = _text(
        tmp_path / "penkit.csv",
        "\ufeffnimi;longitude;latitude\nPäivölä;24,94;60,17\nÖljysatama;24,95;60,18\n",
    )
    gdf = read_layer(path)
    assert list(gdf.columns[:1]) == ["nimi"]
    assert gdf["nimi"].tolist() == ["Päivölä", "Öljysatama"]
    assert gdf.geometry.x.tolist() == [24.94, 24.95]  # decimal commas in a semicolon file


def test_csv_cp1252_and_postal_codes_keep_leading_zeros(tmp_path):
    path = _text(tmp_path / "shops.csv", "nimi,postinumero,lat,lon\nKäpylä,00610,60.21,24.95\n", "cp1252")
    gdf = read_layer(path)
    assert gdf["nimi"].iloc[0] == "Käpylä" and gdf["postinumero"].iloc[0] == "00610"


def test_csv_projected_coordinates_with_given_crs(tmp_path):
    path = _text(tmp_path / "trees.csv", "id,x,y\n1,385000,6672000\n")
    gdf = read_layer(path, crs="EPSG:3067")
    assert gdf.crs.to_epsg() == 3067 and gdf.geometry.x.iloc[0] == 385000


def test_gtfs_hsl_stops():
    layer, routes = read_layers(HSL_GTFS)  # the stops, and the routes as lines
    assert layer.name == "transit_stops" and layer.role == "transit_stops"
    assert routes.name == "transit_routes" and routes.source.layer == "transit_routes" and len(routes) == 198
    assert set(routes.gdf.geom_type) <= {"LineString", "MultiLineString"}
    assert len(layer) == 1388 and layer.gdf.crs.to_epsg() == 4326
    assert layer.gdf["stop_id"].dtype == "string"
    xmin, ymin, xmax, ymax = layer.gdf.total_bounds
    assert 24.5 < xmin < xmax < 25.5 and 60.0 < ymin < ymax < 60.5


def test_gtfs_minimal(tmp_path):
    path = _gtfs(
        tmp_path / "feed.zip",
        {
            "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n1,HSL,https://hsl.fi,Europe/Helsinki\n",
            "stops.txt": "stop_id,stop_code,stop_name,stop_lat,stop_lon\n"
            "0100,H0100,Rautatientori,60.1709,24.9412\n"
            "0200,H0200,Kamppi,60.1690,24.9316\n",
        },
    )
    assert sniff_kind(path) == "gtfs"
    gdf = read_layer(path)
    assert gdf["stop_id"].tolist() == ["0100", "0200"]  # ids stay text: leading zeros kept
    assert gdf.geometry.y.tolist() == [60.1709, 60.1690]


# --- list_layers -----------------------------------------------------------------------------------


def test_list_layers_geopackage(gpkg):
    infos = {info.name: info for info in list_layers(gpkg)}
    assert set(infos) == {"stops", "parks"}
    stops, parks = infos["stops"], infos["parks"]
    assert (stops.kind, stops.geometry_type, stops.count, stops.crs) == (
        "GeoPackage",
        "Point",
        2,
        "EPSG:4326",
    )
    assert stops.bounds == pytest.approx((24.9230, 60.1690, 24.9316, 60.1800))
    assert set(stops.columns) == {"name", "lines"}
    assert (parks.geometry_type, parks.crs, parks.bounds) == (
        "Polygon",
        "EPSG:3067",
        (385000.0, 6672000.0, 385100.0, 6672100.0),
    )
    assert parks.to_dict()["bounds"] == [385000.0, 6672000.0, 385100.0, 6672100.0]
    assert [i.name for i in list_layers(f"{gpkg}:parks")] == ["parks"]


@pytest.mark.parametrize(
    "suffix,driver,kind",
    [
        (".geojson", "GeoJSON", "GeoJSON"),
        (".shp", None, "Shapefile"),
        (".fgb", "FlatGeobuf", "FlatGeobuf"),
        (".parquet", None, "GeoParquet"),
    ],
)
def test_list_layers_file_formats(tmp_path, stops, suffix, driver, kind):
    path = tmp_path / f"stops{suffix}"
    if suffix == ".parquet":
        stops.to_parquet(path)
    else:
        stops.to_file(path, driver=driver)
    (info,) = list_layers(path)
    assert (info.kind, info.geometry_type, info.count, info.crs) == (kind, "Point", 2, "EPSG:4326")
    assert info.bounds == pytest.approx((24.9230, 60.1690, 24.9316, 60.1800))
    assert {"name", "lines"} <= set(info.columns)


def test_list_layers_csv_and_gtfs(tmp_path):
    path = _text(tmp_path / "bins.csv", "id,lat,lon\n1,60.17,24.94\n2,60.18,24.95\n")
    (info,) = list_layers(path)
    assert (info.kind, info.geometry_type, info.count, info.crs) == ("CSV", "Point", 2, "EPSG:4326")
    assert info.bounds == (24.94, 60.17, 24.95, 60.18) and "id" in info.columns
    gtfs, routes = list_layers(HSL_GTFS)
    assert (gtfs.kind, gtfs.count, gtfs.name) == ("GTFS", 1388, "transit_stops")
    assert (routes.count, routes.name) == (198, "transit_routes")
    assert "stop_name" in gtfs.columns


# --- bad inputs ----------------------------------------------------------------------------------


def _fails(path, *words: str) -> str:
    with pytest.raises(CityDeskError) as err:
        read_layers(path)
    message = str(err.value)
    assert Path(path).name in message, message
    for word in words:
        assert word in message, message
    return message


def test_random_bytes_named_gpkg(tmp_path):
    path = tmp_path / "city.gpkg"
    path.write_bytes(bytes(range(256)) * 8)
    _fails(path, "not a valid GeoPackage")


def test_truncated_geopackage(tmp_path, gpkg):
    data = gpkg.read_bytes()
    path = tmp_path / "cut.gpkg"
    path.write_bytes(data[: len(data) // 3])
    message = _fails(path)
    assert "sqlite3_prepare" not in message and "export it again" in message
    with pytest.raises(CityDeskError, match="cut.gpkg"):
        list_layers(path)


def test_garbage_geojson(tmp_path):
    _fails(_text(tmp_path / "parks.geojson", "this is not json"), "not GeoJSON")
    message = _fails(_text(tmp_path / "broken.geojson", '{"type": "FeatureCollection", "features": [{'))
    assert "<DRIVER>" not in message


@pytest.mark.parametrize(
    "name", ["a.gpkg", "a.geojson", "a.shp", "a.csv", "a.parquet", "a.fgb", "a.zip", "a.osm.pbf"]
)
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    _fails(path, "empty")


def test_shapefile_without_prj(tmp_path, stops):
    path = _shapefile(tmp_path / "shp", stops)
    path.with_suffix(".prj").unlink()
    _fails(path, "no coordinate reference system", ".prj")
    assert read_layer(path, crs="EPSG:4326").crs.to_epsg() == 4326


def test_shapefile_without_shx(tmp_path, stops):
    path = _shapefile(tmp_path / "shp", stops)
    path.with_suffix(".shx").unlink()
    _fails(path, ".shx")


def test_csv_without_coordinates_lists_columns(tmp_path):
    _fails(
        _text(tmp_path / "names.csv", "nimi,osoite\nKirjasto,Töölönlahdenkatu 4\n"),
        "no coordinate columns",
        "nimi, osoite",
    )


def test_csv_projected_looking_xy(tmp_path):
    _fails(
        _text(tmp_path / "trees.csv", "id,x,y\n1,385000,6672000\n"), "'x'/'y'", "longitude/latitude", "EPSG"
    )


def test_csv_bad_wkt(tmp_path):
    _fails(_text(tmp_path / "shapes.csv", "id,wkt\n1,hello\n"), "'wkt'", "WKT")


def test_gtfs_without_stops(tmp_path):
    path = _gtfs(tmp_path / "feed.zip", {"agency.txt": "agency_id\n1\n", "routes.txt": "route_id\n1\n"})
    _fails(path, "stops.txt")


def test_gtfs_with_broken_stops(tmp_path):
    _fails(_gtfs(tmp_path / "feed.zip", {"stops.txt": 'stop_id,stop_lat,stop_lon\n1,"60.1\n'}), "stops.txt")


def test_zip_with_neither_shapefile_nor_gtfs(tmp_path):
    path = _gtfs(tmp_path / "photos.zip", {"readme.md": "hello"})
    _fails(path, "readme.md")


def test_text_named_pbf_is_rejected_before_import(tmp_path):
    path = _text(tmp_path / "helsinki.osm.pbf", "this is not a protobuf file\n")
    _fails(path, "not an OpenStreetMap file")
    with pytest.raises(CityDeskError, match="not an OpenStreetMap file"):
        sniff_kind(path)


def test_osm_headers_are_recognised(tmp_path):
    xml = _text(tmp_path / "small.osm", '<?xml version="1.0"?>\n<osm version="0.6"></osm>\n')
    assert sniff_kind(xml) == "osm"
    pbf = tmp_path / "small.osm.pbf"
    pbf.write_bytes(b"\x00\x00\x00\x0d\x0a\x09OSMHeader\x18\x50" + b"\x00" * 40)
    assert sniff_kind(pbf) == "osm"


def test_unknown_extension(tmp_path):
    _fails(_text(tmp_path / "notes.docx", "hello"), "not known", ".gpkg")


def test_nonexistent_path(tmp_path):
    _fails(tmp_path / "nowhere.gpkg", "does not exist")


def test_folder(tmp_path):
    folder = tmp_path / "data.gpkg"
    folder.mkdir()
    _fails(folder, "folder")


def test_folder_of_geoparquet_parts_is_one_layer(tmp_path, stops):
    """A partitioned GeoParquet dataset (as written for region runs) reads as one layer, parts in name order."""
    folder = tmp_path / "stops"
    folder.mkdir()
    stops.iloc[1:].to_parquet(folder / "part-1.parquet")
    stops.iloc[:1].to_parquet(folder / "part-0.parquet")
    (folder / "README.txt").write_text("two parts")
    gdf = read_layer(folder)
    assert list(gdf["name"]) == ["Kamppi", "Töölön tori"] and gdf.crs == "EPSG:4326"


def test_split_spec(tmp_path, gpkg):
    assert split_spec(f"{gpkg}:parks") == (str(gpkg), "parks")
    assert split_spec(str(gpkg)) == (str(gpkg), None)
    assert split_spec("C:city.gpkg") == ("C:city.gpkg", None)


def test_sqlite_that_is_not_a_geopackage(tmp_path):
    path = tmp_path / "notes.gpkg"
    with sqlite3.connect(path) as db:
        db.execute("create table notes (t text)")
    with pytest.raises(CityDeskError, match="notes.gpkg"):
        read_layers(path)


def test_layer_read_from_copy_of_folder(tmp_path, stops):
    """A Shapefile copied with its side files reads the same from the new folder."""
    path = _shapefile(tmp_path / "a", stops)
    shutil.copytree(path.parent, tmp_path / "b")
    assert read_layer(tmp_path / "b" / path.name).equals(read_layer(path))
