"""transit-frequency on the tiny hand-made feed and on the HSL feed."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.readers import read_layer
from tests.data.gtfs_feed import write_feed

HSL_GTFS = Path(__file__).resolve().parents[2] / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"


def test_tiny_feed_by_hand(tmp_path):
    gtfs = read_layer(write_feed(tmp_path / "tiny.zip"))
    result = run_analysis("transit-frequency", {"gtfs": gtfs}, {"date": "2022-02-22"})
    stops = result.layers["stops"].set_index("stop_id")
    assert stops.crs.is_projected
    assert stops.loc["B1", "departures"] == 6 + 4 + 2  # BUS1 both directions + BUS2
    assert stops.loc["B1", "per_hour_bus"] == 12 and stops.loc["R1", "per_hour_rail"] == 4
    assert stops.loc["T1", "departures"] == 0  # a terminus: arrivals only
    routes = result.layers["routes"].set_index("route_id")
    assert routes.loc["BUS1", "per_hour"] == 6 and routes.loc["BUS1", "departures"] == 10
    assert routes.loc["RAIL1", "trips"] == 6
    s = result.summary
    assert s["departures_in_window"] == 12 + 4 + 2  # B1 12, R1 4, B2 2 (BUS2)
    assert s["departures_per_hour_bus"] == 14 and s["departures_per_hour_rail"] == 4
    chart = result.charts["departures_by_hour"]
    assert list(chart.columns) == ["hour", "rail", "bus"]
    assert chart.loc[chart["hour"] == 8, "bus"].item() == 6 + 4 + 4  # 08:00-08:59 at B1 (BUS1) and B1/B2 (BUS2)


def test_window_and_bad_times(tmp_path):
    gtfs = read_layer(write_feed(tmp_path / "tiny.zip"))
    evening = run_analysis("transit-frequency", {"gtfs": gtfs}, {"date": "2022-02-22", "start_time": "24:00",
                                                                 "end_time": "25:00"})
    assert evening.layers["stops"].set_index("stop_id").loc["R1", "departures"] == 1  # the 24:30 trip
    with pytest.raises(CityDeskError, match="before it starts"):
        run_analysis("transit-frequency", {"gtfs": gtfs}, {"start_time": "10:00", "end_time": "09:00"})


def test_hsl_feed():
    result = run_analysis("transit-frequency", {"gtfs": read_layer(HSL_GTFS)}, {"date": "2022-02-22"})
    s = result.summary
    assert s["routes_running"] == 198 and s["trips_on_date"] == 12_878
    assert s["departures_in_window"] == 13_952
    assert s["departures_per_hour_tram"] > 1000 and s["departures_per_hour_metro"] > 100
    assert result.layers["routes"].geometry.geom_type.eq("MultiLineString").all()
