"""The analysis framework: parameters, the registry and the checks and reprojection of run_analysis."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from analysis import analyses, get, run_analysis
from analysis.params import Param, Role
from analysis.runner import parse_params
from layers.errors import CityDeskError
from layers.layer import Layer

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_672_000.0


# --- parameters ----------------------------------------------------------------------------------

DIST = Param("max_distance_m", "float", 300.0, "distance", "m", 0, 5000)
COUNT = Param("k_classes", "int", 5, "classes", "", 2, 12)
FLAG = Param("include_paths", "bool", True, "paths too")
MODE = Param("mode", "choice", "walk", "how", choices=("walk", "bike"))


@pytest.mark.parametrize(
    "param,text,expected",
    [
        (DIST, "250", 250.0),
        (DIST, " 12.5 ", 12.5),
        (DIST, 7, 7.0),
        (DIST, "1e3", 1000.0),
        (DIST, "0", 0.0),
        (COUNT, "7", 7),
        (COUNT, 3, 3),
        (COUNT, "4.0", 4),
        (COUNT, 12.0, 12),
        (FLAG, "yes", True),
        (FLAG, "False", False),
        (FLAG, "0", False),
        (FLAG, "on", True),
        (FLAG, True, True),
        (MODE, "bike", "bike"),
        (Param("population_field", "str", ""), None, ""),
        (Param("population_field", "str", ""), "asukkaat", "asukkaat"),
    ],
)
def test_parse_good_values(param, text, expected):
    value = param.parse(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "param,text,accepted",
    [
        (DIST, "far", "a number in m between 0 and 5,000"),
        (DIST, "-1", "between 0 and 5,000"),
        (DIST, "5000.5", "between 0 and 5,000"),
        (DIST, "nan", "a number"),
        (DIST, "inf", "a number"),
        (DIST, True, "a number"),
        (DIST, None, "a number"),
        (DIST, "0,5", "a number"),
        (COUNT, "3.5", "a whole number between 2 and 12"),
        (COUNT, "1", "between 2 and 12"),
        (COUNT, "five", "whole"),
        (FLAG, "maybe", "yes/no"),
        (MODE, "car", "walk, bike"),
    ],
)
def test_parse_bad_values_name_the_parameter_and_the_range(param, text, accepted):
    with pytest.raises(CityDeskError) as err:
        param.parse(text)
    assert param.name in str(err.value) and accepted in str(err.value)


def test_param_declaration_checks():
    with pytest.raises(ValueError):
        Param("x", "decimal", 0)
    assert Param("a_m2", "float", 0, unit="m²", minimum=0, maximum=1e9).describe() == (
        "a number in m² between 0 and 1,000,000,000"
    )
    assert Param("p", "float", 0.5, minimum=0.25).describe() == "a number of at least 0.25"


# --- registry ------------------------------------------------------------------------------------


def test_registry_lists_coverage():
    assert "coverage" in analyses()
    spec = get("coverage")
    assert spec.title and spec.description and spec.sources
    assert [(r.name, r.geometry, r.required) for r in spec.roles] == [
        ("buildings", ("polygon", "point"), True),
        ("targets", ("point", "line", "polygon"), True),
    ]
    assert all(isinstance(r, Role) for r in spec.roles)
    params = {p.name: p for p in spec.params}
    assert list(params) == ["max_distance_m", "min_target_area_m2", "population_field"]
    assert (
        params["max_distance_m"].type,
        params["max_distance_m"].default,
        params["max_distance_m"].unit,
    ) == ("float", 300.0, "m")
    assert spec.defaults() == {"max_distance_m": 300.0, "min_target_area_m2": 0.0, "population_field": ""}
    with pytest.raises(CityDeskError, match="max_distance_m"):
        spec.param("radius")
    with pytest.raises(CityDeskError, match="coverage"):  # the message lists the analyses there are
        get("no-such-analysis")


def test_parse_params_defaults_and_unknown():
    spec = get("coverage")
    assert parse_params(spec, {"max_distance_m": "500"}) == {
        "max_distance_m": 500.0,
        "min_target_area_m2": 0.0,
        "population_field": "",
    }
    with pytest.raises(CityDeskError, match="no parameter 'radius_m'"):
        parse_params(spec, {"radius_m": "5"})


# --- run_analysis checks -------------------------------------------------------------------------


@pytest.fixture
def buildings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": [10, 20, 30, 40]},
        geometry=[box(X0 + d - 5, Y0 - 5, X0 + d + 5, Y0 + 5) for d in (100, 200, 300, 400)],
        crs=CRS,
    )


@pytest.fixture
def parks() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["Karhupuisto"]}, geometry=[box(X0 - 50, Y0 - 50, X0, Y0 + 50)], crs=CRS)


def _error(layers, **kwargs) -> str:
    with pytest.raises(CityDeskError) as err:
        run_analysis("coverage", layers, **kwargs)
    return str(err.value)


def test_missing_role(buildings):
    assert "needs a 'targets' layer" in _error({"buildings": buildings})


def test_unknown_role(buildings, parks):
    message = _error({"buildings": buildings, "targets": parks, "streets": parks})
    assert "'streets'" in message and "buildings, targets" in message


def test_wrong_geometry_kind(buildings, parks):
    streets = gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 10, Y0)])], crs=CRS)
    message = _error({"buildings": streets, "targets": parks}, names={"buildings": "streets.gpkg"})
    assert "streets.gpkg" in message and "line geometries" in message and "polygon or point" in message


def test_empty_layer(buildings, parks):
    message = _error({"buildings": buildings, "targets": parks.iloc[:0]}, names={"targets": "parks.geojson"})
    assert "parks.geojson" in message and "empty" in message
    only_null = gpd.GeoDataFrame(geometry=[None], crs=CRS)
    assert "empty" in _error({"buildings": only_null, "targets": parks})


def test_no_crs(buildings, parks):
    message = _error(
        {"buildings": buildings.set_crs(None, allow_override=True), "targets": parks},
        names={"buildings": "buildings.shp"},
    )
    assert "buildings.shp" in message and "coordinate reference system" in message


def test_bad_parameter_text(buildings, parks):
    message = _error({"buildings": buildings, "targets": parks}, params={"max_distance_m": "far"})
    assert "max_distance_m" in message and "between 0 and 100,000" in message


def test_geographic_and_projected_inputs_give_the_same_numbers(buildings, parks):
    both = run_analysis("coverage", {"buildings": buildings, "targets": parks}, {"max_distance_m": 250})
    mixed = run_analysis(
        "coverage", {"buildings": buildings.to_crs(4326), "targets": parks}, {"max_distance_m": 250}
    )
    geographic = run_analysis(
        "coverage",
        {"buildings": buildings.to_crs(4326), "targets": parks.to_crs(4326)},
        {"max_distance_m": 250},
    )
    assert both.layers["buildings"]["dist_m"].tolist() == pytest.approx([100.0, 200.0, 300.0, 400.0])
    assert mixed.layers["buildings"].crs.to_epsg() == 3067
    assert mixed.layers["buildings"]["dist_m"].tolist() == pytest.approx(
        both.layers["buildings"]["dist_m"].tolist(), abs=1e-6
    )
    assert geographic.layers["buildings"].crs.to_epsg() == 32635
    assert geographic.layers["buildings"]["dist_m"].tolist() == pytest.approx(
        both.layers["buildings"]["dist_m"].tolist(), abs=0.5
    )  # UTM 35N vs TM35FIN: same zone, other datum
    assert mixed.summary["covered_share"] == both.summary["covered_share"] == pytest.approx(0.3)


def test_web_mercator_inputs_are_measured_in_utm(buildings, parks):
    result = run_analysis(
        "coverage",
        {"buildings": buildings.to_crs(3857), "targets": parks.to_crs(3857)},
        {"max_distance_m": 250},
    )
    assert result.layers["buildings"]["dist_m"].tolist() == pytest.approx(
        [100.0, 200.0, 300.0, 400.0], abs=0.5
    )


def test_layers_and_result_inputs(buildings, parks):
    result = run_analysis(
        "coverage",
        {"buildings": Layer("talot", buildings), "targets": parks},
        names={"targets": "puistot.gpkg:parks"},
    )
    assert dict(result.inputs) == {"buildings": "talot", "targets": "puistot.gpkg:parks"}
    assert result.summary_dict()["analysis"] == "coverage"
    broken = Layer("talot", None, error="talot.gpkg: the file does not exist")
    assert "does not exist" in _error({"buildings": broken, "targets": parks})


def test_point_buildings_are_accepted(parks):
    points = gpd.GeoDataFrame(geometry=[Point(X0 + 10, Y0), Point(X0 + 1000, Y0)], crs=CRS)
    result = run_analysis("coverage", {"buildings": points, "targets": parks})
    assert result.layers["buildings"]["dist_m"].tolist() == [10.0, 1000.0]
