"""The metric-CRS helper: analyses never measure in degrees (nor in Web Mercator's stretched metres)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from pyproj import CRS, Geod
from shapely.geometry import LineString, Point

from layers.crs import common_metric_crs, metric_crs, scale_error, to_metric
from layers.errors import CityDeskError

HELSINKI = Point(24.9384, 60.1699)
#: Ellipsoidal distance between the two test points, in metres.
TRUE_M = Geod(ellps="WGS84").inv(24.9384, 60.1699, 24.95, 60.18)[2]


def _points(crs="EPSG:4326") -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame({"n": [1, 2]}, geometry=[HELSINKI, Point(24.95, 60.18)], crs="EPSG:4326")
    return gdf.to_crs(crs)


@pytest.mark.parametrize("epsg", [3067, 3879, 3035, 32635])
def test_projected_layer_keeps_its_crs(epsg):
    gdf = _points(f"EPSG:{epsg}")
    assert metric_crs(gdf) == CRS.from_epsg(epsg)
    assert to_metric(gdf) is gdf


def test_geographic_helsinki_goes_to_utm_35n():
    gdf = _points()
    assert metric_crs(gdf).to_epsg() == 32635
    out = to_metric(gdf)
    assert out.crs.to_epsg() == 32635 and out.crs.axis_info[0].unit_name == "metre"
    assert out.geometry.iloc[0].distance(out.geometry.iloc[1]) == pytest.approx(TRUE_M, rel=1e-3)


def test_web_mercator_is_not_measured_in():
    gdf = _points("EPSG:3857")
    assert scale_error(gdf.crs, gdf) == pytest.approx(1.01, abs=0.01)  # 2x too long at 60° N
    assert metric_crs(gdf).to_epsg() == 32635
    metric = to_metric(gdf)
    assert metric.geometry.iloc[0].distance(metric.geometry.iloc[1]) == pytest.approx(TRUE_M, rel=1e-3)


def test_no_crs_is_a_clear_error():
    gdf = _points().set_crs(None, allow_override=True)
    for call in (
        lambda: metric_crs(gdf, name="benches.csv"),
        lambda: to_metric(gdf, name="benches.csv"),
        lambda: common_metric_crs({"benches.csv": gdf}),
    ):
        with pytest.raises(CityDeskError) as err:
            call()
        assert "benches.csv" in str(err.value) and "coordinate reference system" in str(err.value)


def test_never_degrees():
    gdf = _points()
    with pytest.raises(CityDeskError, match="not a projected CRS in metres"):
        to_metric(gdf, CRS.from_epsg(4326))
    feet = CRS.from_epsg(2263)  # New York State Plane, US feet
    assert metric_crs(_points().to_crs(feet)).axis_info[0].unit_name == "metre"


def test_empty_geographic_layer():
    empty = gpd.GeoDataFrame(geometry=[None], crs="EPSG:4326")
    with pytest.raises(CityDeskError, match="no geometries"):
        metric_crs(empty, name="empty.geojson")


def test_common_metric_crs_prefers_a_projected_layer():
    lines = gpd.GeoDataFrame(geometry=[LineString([(385000, 6672000), (385500, 6672000)])], crs="EPSG:3067")
    assert common_metric_crs({"stops": _points(), "streets": lines}) == CRS.from_epsg(3067)
    assert common_metric_crs({"stops": _points(), "more": _points()}).to_epsg() == 32635
    assert common_metric_crs({"stops": _points("EPSG:3857")}).to_epsg() == 32635
    with pytest.raises(CityDeskError, match="empty"):
        common_metric_crs({"a": gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")})
