"""sensor-surface: IDW values and leave-one-out errors by hand, clipping, the sample city."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from analysis.runner import run_analysis
from analysis.sensor_surface import idw, leave_one_out, sensor_surface
from layers.errors import CityDeskError

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_idw_by_hand():
    xy = np.array([[0.0, 0.0], [100.0, 0.0]])
    values = np.array([10.0, 20.0])
    out = idw(xy, values, np.array([[50.0, 0.0], [0.0, 0.0], [25.0, 0.0], [1000.0, 0.0]]), power=2,
              max_distance_m=200)
    assert out[0] == pytest.approx(15.0) and out[1] == 10.0
    assert out[2] == pytest.approx((10 / 25**2 + 20 / 75**2) / (1 / 25**2 + 1 / 75**2))
    assert np.isnan(out[3])  # no station within 200 m
    loo = leave_one_out(np.array([[0.0, 0], [100, 0], [200, 0]]), np.array([1.0, 2.0, 3.0]))
    assert loo[0] == pytest.approx((2 / 100**2 + 3 / 200**2) / (1 / 100**2 + 1 / 200**2))


def test_surface_clipped_to_districts_with_cv():
    sensors = gpd.GeoDataFrame({"v": [10.0, 20.0, 30.0, np.nan]},
                               geometry=shapely.points([(0, 0), (400, 0), (0, 400), (400, 400)]), crs="EPSG:3067")
    district = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 200, 100)], crs="EPSG:3067")
    result = sensor_surface(sensors, values=sensors["v"], districts=district, cell_m=50)
    surface = result.layers["surface"]
    assert len(surface) == 8 and surface.union_all().equals(shapely.box(0, 0, 200, 100))
    assert surface["value"].between(10, 30).all()
    assert result.summary["stations_used"] == 3 and result.summary["loo_rmse"] > 0
    assert np.isnan(result.layers["stations"]["loo_error"].iloc[3])
    with pytest.raises(CityDeskError, match="at least 2"):
        sensor_surface(sensors, values=pd.Series([1.0, np.nan, np.nan, np.nan]), cell_m=50)


def test_sample_city_surface():
    layer = gpd.read_file(SAMPLE / "helsinki.gpkg", layer="air_quality_stations_synthetic")
    layer.attrs["source_dir"] = str(SAMPLE)
    result = run_analysis("sensor-surface", {"sensors": layer}, {"variable": "PM10", "cell_m": 20})
    s = result.summary
    assert s["stations_used"] == 6 and s["cells"] > 1000 and s["loo_mae"] is not None
    assert s["surface_min"] >= 12 and s["surface_max"] <= 20
    # the surface's legend says what the numbers are in (the readings' unit), in the window and the report
    from analysis.registry import get
    from layers.style import symbolize

    style = get("sensor-surface").styles_for(s)["surface"]
    assert s["unit"] and style.unit == s["unit"]
    legend = symbolize(style, result.layers["surface"]).legend
    assert legend and all(label.endswith(s["unit"]) for label, _colour in legend if label)
    assert get("sensor-surface").styles_for({})["surface"].unit == ""  # no unit known: none shown
