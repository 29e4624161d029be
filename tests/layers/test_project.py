"""Project files: save/load round trip, moving the folder, and damaged or hostile project files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import CRS
from shapely.geometry import Point, box

import layers.writers as writers
from layers.errors import CityDeskError
from layers.layer import Layer, Source
from layers.project import AnalysisRun, Project, layers_to_keep, load_project
from layers.readers import read_layers
from layers.style import Style
from layers.writers import write_layers


@pytest.fixture
def city(tmp_path) -> Path:
    """A project folder with data/city.gpkg (two layers) and data/bins.csv."""
    data = tmp_path / "proj" / "data"
    data.mkdir(parents=True)
    buildings = gpd.GeoDataFrame(
        {"residents": [10, 20]}, geometry=[box(0, 0, 10, 10), box(50, 0, 60, 10)], crs="EPSG:3067"
    )
    parks = gpd.GeoDataFrame({"name": ["Esplanadi"]}, geometry=[box(0, 100, 80, 140)], crs="EPSG:3067")
    write_layers({"buildings": buildings, "parks": parks}, data / "city.gpkg")
    (data / "bins.csv").write_text("id,lat,lon\n1,60.17,24.94\n", encoding="utf-8")
    return tmp_path / "proj"


def _project(folder: Path) -> Project:
    project = Project(
        title="Kallio green space",
        crs=CRS.from_epsg(3067),
        view=(0.0, 0.0, 100.0, 150.0),
        attribution=["© OpenStreetMap contributors", "HSL"],
    )
    for layer in read_layers(folder / "data" / "city.gpkg") + read_layers(folder / "data" / "bins.csv"):
        project.layers.append(layer)
    project.layers[0].style = Style(
        kind="graduated",
        field="residents",
        scheme="natural_breaks",
        classes=4,
        ramp="cividis",
        unit="residents",
    )
    project.layers[1].visible = False
    project.analyses.append(
        AnalysisRun(
            "coverage",
            "Parks within 300 m",
            {"buildings": "buildings", "targets": "parks"},
            {"max_distance_m": 300.0, "population_field": "residents"},
        )
    )
    return project


def test_round_trip(city):
    project = _project(city)
    saved = project.save(city / "kallio")
    assert saved == city / "kallio.citydesk" and project.path == saved
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["format"] == "citydesk-project" and data["version"] == 1
    assert [entry["source"]["path"] for entry in data["layers"]] == [
        "data/city.gpkg",
        "data/city.gpkg",
        "data/bins.csv",
    ]
    opened = load_project(saved)
    assert opened.warnings == []
    assert opened.title == "Kallio green space" and opened.crs == CRS.from_epsg(3067)
    assert opened.view == (0.0, 0.0, 100.0, 150.0)
    assert opened.attribution == ["© OpenStreetMap contributors", "HSL"]
    assert [lay.name for lay in opened.layers] == ["buildings", "parks", "bins"]
    assert [lay.visible for lay in opened.layers] == [True, False, True]
    assert opened.layers[0].style == project.layers[0].style
    assert opened.layer("buildings").gdf["residents"].tolist() == [10, 20]
    assert opened.layer("bins").role == project.layer("bins").role
    assert opened.analyses == project.analyses


def test_paths_still_work_after_moving_the_folder(city, tmp_path):
    _project(city).save(city / "kallio.citydesk")
    moved = shutil.move(str(city), str(tmp_path / "elsewhere" / "moved"))
    opened = load_project(Path(moved) / "kallio.citydesk")
    assert opened.warnings == [] and all(lay.gdf is not None for lay in opened.layers)
    assert Path(opened.layers[0].source.path).resolve() == (Path(moved) / "data" / "city.gpkg").resolve()


def test_saving_is_atomic(city, monkeypatch):
    path = _project(city).save(city / "kallio.citydesk")
    before = path.read_bytes()
    real = Path.write_text

    def failing(tmp, text, encoding="utf-8"):
        real(tmp, text[:10], encoding=encoding)  # half written, then the disk is full
        raise OSError("disk full")

    monkeypatch.setattr(writers.Path, "write_text", failing)
    with pytest.raises(CityDeskError, match="disk full"):
        _project(city).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in city.iterdir()) == ["data", "kallio.citydesk"]


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "bad.citydesk"
    path.write_text('{\n  "format": "citydesk-project",\n  "version": 1,\n  "layers": [,]\n}\n')
    with pytest.raises(CityDeskError) as err:
        load_project(path)
    assert "bad.citydesk" in str(err.value) and "line 4" in str(err.value)


@pytest.mark.parametrize("content", ['{"type": "FeatureCollection", "features": []}', "[1, 2]", '"text"'])
def test_not_a_project_file(tmp_path, content):
    path = tmp_path / "other.citydesk"
    path.write_text(content)
    with pytest.raises(CityDeskError, match="not a CityDesk project file"):
        load_project(path)


def test_binary_file_and_missing_file(tmp_path):
    path = tmp_path / "city.gpkg"
    path.write_bytes(b"SQLite format 3\x00\xff\xfe" + bytes(range(256)))
    with pytest.raises(CityDeskError, match="not a CityDesk project file"):
        load_project(path)
    with pytest.raises(CityDeskError, match="does not exist"):
        load_project(tmp_path / "nowhere.citydesk")
    with pytest.raises(CityDeskError, match="folder"):
        load_project(tmp_path)


def test_newer_version_opens_with_a_warning(city):
    path = _project(city).save(city / "kallio.citydesk")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["version"] = 7
    data["layers"][0]["labels"] = {"placement": "new in version 7"}
    data["timeline"] = {"years": [2020, 2030]}
    path.write_text(json.dumps(data), encoding="utf-8")
    opened = load_project(path)
    assert len(opened.layers) == 3
    assert len(opened.warnings) == 1 and "newer CityDesk" in opened.warnings[0]


def test_missing_layer_file_keeps_the_other_layers(city):
    path = _project(city).save(city / "kallio.citydesk")
    (city / "data" / "bins.csv").unlink()
    opened = load_project(path)
    assert [lay.name for lay in opened.layers] == ["buildings", "parks", "bins"]
    bins = opened.layer("bins")
    assert bins.gdf is None and "bins.csv" in bins.error and "does not exist" in bins.error
    assert opened.layer("parks").gdf is not None
    assert len(opened.warnings) == 1 and "bins" in opened.warnings[0]
    opened.save(path)  # the missing layer is kept in the project file
    assert [e["name"] for e in json.loads(path.read_text(encoding="utf-8"))["layers"]] == [
        "buildings",
        "parks",
        "bins",
    ]


def test_code_looking_strings_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    path = tmp_path / "evil.citydesk"
    path.write_text(
        json.dumps(
            {
                "format": "citydesk-project",
                "version": 1,
                "title": code,
                "crs": code,
                "view": [code, 0, 1, 2],
                "attribution": code,
                "layers": [
                    {
                        "name": code,
                        "role": code,
                        "visible": code,
                        "style": {
                            "kind": code,
                            "fill": code,
                            "stroke": "eval('1')",
                            "size": code,
                            "opacity": code,
                            "classes": code,
                            "scheme": code,
                            "ramp": code,
                            "categories": {"a": code, "b": "#00ff00"},
                            "__class__": code,
                            "field": code,
                        },
                        "source": {"path": code, "layer": {"x": code}},
                    },
                    code,
                    5,
                ],
                "analyses": [
                    {"analysis": "coverage", "params": {"max_distance_m": code, "bad": {"x": 1}}},
                    code,
                ],
            }
        )
    )
    opened = load_project(path)
    assert not marker.exists()
    assert opened.title == code and opened.crs == CRS.from_epsg(3857) and opened.view is None
    assert opened.attribution == []
    (layer,) = opened.layers
    assert layer.name == code and layer.role == "other" and layer.visible is True and layer.gdf is None
    style = layer.style
    assert (style.kind, style.fill, style.stroke, style.size, style.opacity) == (
        "single",
        Style().fill,
        Style().stroke,
        Style().size,
        Style().opacity,
    )
    assert style.categories == {"b": "#00ff00"} and style.field == code  # a field name is just a name
    assert opened.analyses[0].params == {"max_distance_m": code}
    assert any("not known" in w for w in opened.warnings)
    assert any("skipped" in w for w in opened.warnings)


def test_layer_without_source_and_project_layer_lookup(tmp_path):
    gdf = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:3067")
    project = Project(layers=[Layer("result", gdf), Layer("bins", gdf, Source(str(tmp_path / "x.csv")))])
    path = project.save(tmp_path / "p.citydesk")
    opened = load_project(path)
    assert opened.layer("result").error == "the layer has no source"
    with pytest.raises(CityDeskError, match="result, bins"):
        opened.layer("roads")


# ------------------------------------------------- layers without a file: kept next to the project

def _with_result(folder: Path) -> Project:
    project = _project(folder)
    result = gpd.GeoDataFrame({"dist_m": [5.0, 120.0], "covered": [True, False]},
                              geometry=[box(0, 0, 10, 10), box(50, 0, 60, 10)], crs="EPSG:3067")
    style = Style(kind="categorized", field="covered", categories={"True": "#0072B2", "False": "#D55E00"})
    project.layers.insert(0, Layer("Parks ≥ 0.5 ha within 300 m — buildings", result, None, "buildings", style))
    return project


def test_layers_without_a_file_are_kept_next_to_the_project(city):
    from layers.project import layers_file, save_project

    project = _with_result(city)
    path = save_project(project, city / "kallio")
    assert path == city / "kallio.citydesk" and layers_file(path) == city / "kallio_layers.gpkg"
    result = project.layers[0]
    assert result.source.path == str(city / "kallio_layers.gpkg")
    assert result.source.layer == "parks_0_5_ha_within_300_m_buildings"
    saved = json.loads(path.read_text(encoding="utf-8"))["layers"][0]["source"]
    assert saved == {"path": "kallio_layers.gpkg", "layer": "parks_0_5_ha_within_300_m_buildings"}
    opened = load_project(path)
    assert opened.warnings == []
    back = opened.layers[0]
    assert back.name == "Parks ≥ 0.5 ha within 300 m — buildings" and back.role == "buildings"
    assert back.gdf["covered"].tolist() == [True, False] and back.gdf["dist_m"].tolist() == [5.0, 120.0]
    assert back.style == result.style
    # layers with files of their own are not copied
    assert [lay.name for lay in read_layers(city / "kallio_layers.gpkg")] == ["parks_0_5_ha_within_300_m_buildings"]


def test_a_second_result_rewrites_the_layers_file_with_both(city):
    from layers.project import save_project

    project = _with_result(city)
    path = save_project(project, city / "kallio.citydesk")
    second = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(5, 5)], crs="EPSG:3067")
    project.layers.insert(0, Layer("Parks ≥ 0.5 ha within 300 m — buildings", second))  # same name
    save_project(project, path)
    # the layer saved before keeps its table (a project saved earlier still points at the right data)
    assert project.layers[1].source.layer == "parks_0_5_ha_within_300_m_buildings"
    assert project.layers[0].source.layer == "parks_0_5_ha_within_300_m_buildings_2"
    names = sorted(lay.name for lay in read_layers(city / "kallio_layers.gpkg"))
    assert names == ["parks_0_5_ha_within_300_m_buildings", "parks_0_5_ha_within_300_m_buildings_2"]
    opened = load_project(path)
    assert opened.warnings == [] and len(opened.layers[0]) == 1 and len(opened.layers[1]) == 2


def test_nothing_is_written_when_every_layer_has_a_file(city):
    from layers.project import save_project, write_layers_file

    project = _project(city)
    assert write_layers_file(project, city / "kallio.citydesk") == []
    save_project(project, city / "kallio.citydesk")
    assert not (city / "kallio_layers.gpkg").exists()


def test_save_as_elsewhere_copies_the_kept_layers_and_keeps_relative_paths(city, tmp_path):
    from layers.project import save_project

    project = _with_result(city)
    save_project(project, city / "kallio.citydesk")
    other = tmp_path / "elsewhere"
    other.mkdir()
    path = save_project(project, other / "copy.citydesk")
    assert (other / "copy_layers.gpkg").exists()
    sources = [entry["source"]["path"] for entry in json.loads(path.read_text(encoding="utf-8"))["layers"]]
    assert sources == ["copy_layers.gpkg", "../proj/data/city.gpkg", "../proj/data/city.gpkg", "../proj/data/bins.csv"]
    (city / "kallio_layers.gpkg").unlink()  # the copy does not need the first project's file
    opened = load_project(path)
    assert opened.warnings == [] and opened.layers[0].gdf["covered"].tolist() == [True, False]


def test_an_unreadable_kept_layer_stops_the_save_before_anything_is_lost(city):
    from layers.project import save_project

    project = _with_result(city)
    path = save_project(project, city / "kallio.citydesk")
    before = (city / "kallio_layers.gpkg").read_bytes()
    project.layers[0].gdf = None  # as if its table could not be read
    project.layers.insert(0, Layer("new result", gpd.GeoDataFrame(geometry=[Point(1, 1)], crs="EPSG:3067")))
    with pytest.raises(CityDeskError, match="could not be read"):
        save_project(project, path)
    assert (city / "kallio_layers.gpkg").read_bytes() == before


def test_results_entries_round_trip_and_bad_ones_are_skipped(tmp_path):
    project = Project(title="With results")
    project.results = [{"title": "Bins", "analysis": "waste-coverage", "summary": {"covered_share": 0.5}},
                       {"analysis": "waste-coverage"}]  # no summary: skipped on load, with a warning
    path = project.save(tmp_path / "r.citydesk")
    back = load_project(path)
    assert back.results == [project.results[0]]
    assert any("result entry 2 was skipped" in w for w in back.warnings)


def test_transient_layers_are_not_saved(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    from layers.layer import Layer

    shown = Layer("Sensor values now", gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=3067), transient=True)
    kept = Layer("Result", gpd.GeoDataFrame(geometry=[Point(1, 1)], crs=3067))
    project = Project(layers=[shown, kept], title="t")
    path = project.save(tmp_path / "t.citydesk")
    assert [lay["name"] for lay in json.loads(path.read_text())["layers"]] == ["Result"]
    assert [lay.name for lay in layers_to_keep(project, path)] == ["Result"]
