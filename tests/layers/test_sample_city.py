"""The committed sample city (sample_data/): its layers, figures, labels, project, and that the build
script reproduces it."""

from __future__ import annotations

import importlib.util
import json
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from geopandas.testing import assert_geodataframe_equal

from analysis.dasymetric import SPEC as DASYMETRIC
from analysis.runner import parse_params, prepare_inputs
from layers.project import load_project

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
GPKG = SAMPLE / "helsinki.gpkg"
PROJECT = SAMPLE / "helsinki.citydesk"
LAYERS = ("buildings", "streets", "transit_stops", "gtfs_stops", "waste_bins", "benches", "toilets",
          "pharmacies", "groceries", "green_spaces", "healthcare", "population_grid",
          "air_quality_stations_synthetic", "citizen_reports_synthetic", "bin_sensors_synthetic",
          "waste_bins_proposal_synthetic")
SYNTHETIC_LAYERS = ("air_quality_stations_synthetic", "citizen_reports_synthetic", "bin_sensors_synthetic",
                    "waste_bins_proposal_synthetic")
SYNTHETIC_FILES = ("air_quality_synthetic_2025.parquet", "bin_fill_synthetic.csv",
                   "citizen_reports_synthetic.json", "citizen_reports_synthetic.xml")


def _build_module():
    spec = importlib.util.spec_from_file_location("build_sample_city", SAMPLE / "build_sample_city.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(GPKG, layer=name) for name in LAYERS}


def test_every_layer_is_in_the_geopackage_in_etrs_tm35fin(layers):
    assert sorted(name for name, _ in pyogrio.list_layers(GPKG)) == sorted(LAYERS)
    for name, frame in layers.items():
        assert len(frame) > 0, name
        assert frame.crs.to_epsg() == 3067, name
        assert frame.geometry.notna().all() and frame.geometry.is_valid.all(), name


def test_known_counts(layers):
    assert len(layers["gtfs_stops"]) == 89  # data README: 89 HSL stops fall inside the extract
    assert len(layers["air_quality_stations_synthetic"]) == 6
    assert len(layers["bin_sensors_synthetic"]) == 20
    proposal = layers["waste_bins_proposal_synthetic"]  # today's bins less 3 idle baskets, plus 5 sited ones
    assert (proposal["proposal"] == "kept").sum() == len(layers["waste_bins"]) - 3
    assert (proposal["proposal"] == "new").sum() == 5
    assert 400 < len(layers["buildings"]) < 600
    assert len(layers["population_grid"]) == 22


def test_residents_add_up_to_the_population_of_cells_with_buildings(layers):
    buildings, grid = layers["buildings"], layers["population_grid"]
    with_buildings = grid[grid["buildings_n"] > 0]
    expected = with_buildings["population_in_extract"].sum()
    assert buildings["residents"].sum() == pytest.approx(expected, rel=0.01)
    assert buildings["residents"].sum() == pytest.approx(grid["residents_assigned"].sum(), rel=1e-6)
    assert grid["population_in_extract"].sum() <= grid["population"].sum()
    assert (buildings["residents"] >= 0).all()
    assert buildings.loc[~buildings["residential"], "residents"].sum() <= grid["residents_assigned"][
        grid["fallback_all_buildings"]].sum() + 1e-6


def test_dasymetric_analysis_on_the_sample_city_matches_the_committed_residents(layers):
    params = parse_params(DASYMETRIC, {"population_field": "population_in_extract"})
    grid = layers["population_grid"][["id", "population", "population_in_extract", "geometry"]]
    buildings = layers["buildings"].drop(columns=["residents"])
    inputs = prepare_inputs(DASYMETRIC, {"buildings": buildings.to_crs("EPSG:4326"), "grid": grid})
    result = DASYMETRIC.run(**inputs, **params)
    assert result.layers["buildings"]["residents"].to_numpy() == pytest.approx(
        layers["buildings"]["residents"].to_numpy(), rel=1e-6, abs=1e-6)
    s = result.summary
    assert s["residents_total"] + s["residents_unassigned"] == pytest.approx(s["population_total"])


def test_synthetic_data_is_labelled_synthetic(layers):
    for name in SYNTHETIC_LAYERS:
        assert "synthetic" in name
        frame = layers[name]
        if "synthetic" in frame.columns:
            assert frame["synthetic"].all()
    assert layers["air_quality_stations_synthetic"]["name"].str.startswith("Synthetic station").all()
    assert layers["bin_sensors_synthetic"]["name"].str.contains("Synthetic").all()
    assert layers["citizen_reports_synthetic"]["service_notice"].str.contains("SYNTHETIC").all()
    for file in SYNTHETIC_FILES:
        assert (SAMPLE / file).exists(), file
    project = json.loads(PROJECT.read_text(encoding="utf-8"))
    for entry in project["layers"]:
        if entry["source"]["layer"] in SYNTHETIC_LAYERS:
            assert "(synthetic)" in entry["name"]
    assert any("Synthetic" in a for a in project["attribution"])


def test_project_opens_without_warnings_and_every_layer_reads():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        project = load_project(PROJECT)
    assert project.warnings == []
    assert project.crs.to_epsg() == 3067
    assert project.title == "Central Helsinki — sample city"
    assert [a.split(",")[0] for a in project.attribution][:1] == ["© OpenStreetMap contributors (ODbL 1.0)"]
    assert len(project.layers) == len(LAYERS) + 1  # the HSL feed's stops and routes, for its copy in the GeoPackage
    feed = (SAMPLE / "raw" / "hsl_gtfs_cropped.zip").resolve()
    for layer in project.layers:
        assert layer.error is None and layer.gdf is not None and len(layer.gdf) > 0, layer.name
        assert Path(layer.source.path).resolve() in (GPKG.resolve(), feed), layer.name
    stops = project.layer("HSL timetable stops (GTFS)")
    assert stops.gdf.attrs["gtfs_path"] == str(feed) and "per_hour" in stops.gdf.columns  # ptal reads it
    assert project.layer("HSL routes (GTFS)").geometry_kind == "line"
    names = [layer.name for layer in project.layers]
    assert names.index("Transit stops") < names.index("Buildings") < names.index("Green spaces") \
        < names.index("Streets and paths") < names.index("Population grid 2020 (HSY)") == len(names) - 1
    hidden = {layer.name for layer in project.layers if not layer.visible}
    assert {"Benches", "Healthcare", "Population grid 2020 (HSY)"} <= hidden
    buildings = project.layer("Buildings")
    style = buildings.style
    assert (style.kind, style.field, style.ramp, style.classes) == ("graduated", "residents", "YlOrRd", 5)
    runs = {run.title: run for run in project.analyses}
    green = runs["Green space ≥ 0.5 ha within 300 m"]
    assert green.params == {"max_distance_m": 300.0, "min_target_area_m2": 5000.0}
    assert green.layers == {"buildings": "Buildings", "targets": "Green spaces"}
    assert runs["Bus or tram stop within 400 m"].layers["targets"] == "Transit stops"
    assert any(run.analysis == "population-from-grid" for run in project.analyses)
    for run in project.analyses:
        for layer_name in run.layers.values():
            project.layer(layer_name)  # raises when the analysis names a layer the project lacks
    xmin, ymin, xmax, ymax = project.view
    assert xmax - xmin > 500 and ymax - ymin > 500


def test_air_quality_readings_are_plausible():
    table = pd.read_parquet(SAMPLE / "air_quality_synthetic_2025.parquet")
    assert list(table.columns) == ["station_id", "time", "variable", "value", "unit"]
    assert str(table["time"].dt.tz) == "UTC"
    assert set(table["variable"]) == {"NO2", "PM2.5", "PM10"}
    assert (table["unit"] == "µg/m³").all()
    assert 1 <= table.duplicated().sum() <= 5
    means = table.groupby("variable")["value"].mean()
    assert 15 <= means["NO2"] <= 30 and 5 <= means["PM2.5"] <= 9 and 12 <= means["PM10"] <= 20
    per_station = table.groupby("station_id").size()
    assert (per_station < 8760 * 3).all()  # gaps
    assert (SAMPLE / "air_quality_synthetic_2025.parquet").stat().st_size < 1.5e6


def test_bin_readings_and_reports(layers):
    fill = pd.read_csv(SAMPLE / "bin_fill_synthetic.csv", dtype={"bin_id": str})
    assert list(fill.columns) == ["bin_id", "time", "fill_pct", "event"]
    assert set(fill["bin_id"]) == set(layers["bin_sensors_synthetic"]["bin_id"])
    assert set(fill["bin_id"]) <= set(layers["waste_bins"]["osm_id"])
    assert fill["fill_pct"].between(0, 100).all() and fill["time"].str.endswith("Z").all()
    assert set(fill["event"]) == {"reading", "collection"}

    reports = json.loads((SAMPLE / "citizen_reports_synthetic.json").read_text(encoding="utf-8"))
    assert len(reports) == 150
    assert any("<script>alert(1)</script>" in (r.get("description") or "") for r in reports)
    assert any("<b>bold</b>" in (r.get("description") or "") for r in reports)
    assert any(r.get("lat") in (None, "") for r in reports)
    assert {r["status"] for r in reports} == {"open", "closed"}
    assert all(r["requested_datetime"][-6:] in ("+02:00", "+03:00") for r in reports)
    with_coords = [r for r in reports if isinstance(r.get("lat"), float)]
    assert len(layers["citizen_reports_synthetic"]) == len(with_coords)
    root = ET.parse(SAMPLE / "citizen_reports_synthetic.xml").getroot()
    assert root.tag == "service_requests" and len(root.findall("request")) == 150
    assert [r.findtext("service_request_id") for r in root] == [r["service_request_id"] for r in reports]


def test_build_script_reads_only_sample_data_raw():
    names = ("build_sample_city.py", "synthetic.py")
    text = "".join((SAMPLE / name).read_text(encoding="utf-8") for name in names)
    assert "/work/shared" not in text and "../shared" not in text


def test_rebuild_gives_the_same_data(tmp_path, layers):
    started = time.perf_counter()
    built = _build_module().main(tmp_path, quiet=True)
    assert time.perf_counter() - started < 30
    assert {name: len(frame) for name, frame in built.items()} == {name: len(layers[name]) for name in LAYERS}
    for name in LAYERS:
        assert_geodataframe_equal(gpd.read_file(tmp_path / "helsinki.gpkg", layer=name), layers[name],
                                  check_less_precise=True)
    for file in (*SYNTHETIC_FILES, "helsinki.citydesk"):
        assert (tmp_path / file).read_bytes() == (SAMPLE / file).read_bytes(), file
