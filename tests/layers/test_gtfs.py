"""GTFS timetables: the tiny hand-made feed of tests/data/gtfs_feed.py, broken feeds, the HSL feed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from layers.errors import CityDeskError
from layers.gtfs import feed_for_layer, read_feed, route_mode
from layers.gtfs_layers import stop_route_frequency, transit_routes, transit_stops
from layers.gtfs_read import parse_times
from layers.readers import list_layers, read_layer, read_layers
from tests.data.gtfs_feed import write_feed

HSL_GTFS = Path(__file__).resolve().parents[2] / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"
AM = (8 * 3600 + 15 * 60, 9 * 3600 + 15 * 60)


@pytest.fixture
def feed_path(tmp_path) -> Path:
    return write_feed(tmp_path / "tiny.zip")


def _stop(feed, stop_id: str) -> int:
    return int(np.flatnonzero(feed.stops["stop_id"].to_numpy() == stop_id)[0])


def _route(feed, route_id: str) -> int:
    return int(np.flatnonzero(feed.routes["route_id"].to_numpy() == route_id)[0])


def test_times_parse_past_midnight_and_bad_values():
    seconds, bad = parse_times(pa.array(["08:15:00", " 8:15:00", "26:31:00", "", None, "8:6x:00", "08:61:00"]))
    assert seconds.dtype == np.int32
    assert seconds.tolist() == [29700, 29700, 95460, -1, -1, -1, -1]
    assert bad.tolist() == [False, False, False, False, False, True, True]


def test_route_types_to_modes():
    assert [route_mode(t) for t in (0, 1, 2, 3, 4, 5, 7, 11, 12)] == [
        "tram", "metro", "rail", "bus", "ferry", "tram", "funicular", "bus", "metro"]
    assert [route_mode(t) for t in (109, 200, 401, 700, 704, 800, 900, 1000, 1200, 1300, 1400, 1700)] == [
        "rail", "bus", "metro", "bus", "bus", "bus", "tram", "ferry", "ferry", "aerial", "funicular", "other"]


def test_tiny_feed_frequencies_by_hand(feed_path):
    feed = read_feed(feed_path, service_date="2022-02-22")
    # BUS1: 12 runs every 600 s + 8 runs every 900 s (08:00-10:00), BUS2 2, RAIL1 5 + the 24:30 trip
    assert feed.counts["trips_on_date"] == 12 + 8 + 2 + 6
    freq = stop_route_frequency(feed, *AM).set_index(["stop", "route"])
    b1, r1 = _stop(feed, "B1"), _stop(feed, "R1")
    assert freq.loc[(b1, _route(feed, "BUS1")), "departures"] == 6  # direction 0 (6) beats direction 1 (4)
    assert freq.loc[(b1, _route(feed, "BUS2")), "per_hour"] == 2
    assert freq.loc[(r1, _route(feed, "RAIL1")), "per_hour"] == 4  # 09:15 is outside [08:15, 09:15)
    assert freq.loc[(b1, _route(feed, "BUS1")), "mode"] == "bus"
    assert _stop(feed, "T1") not in freq.index.get_level_values("stop")  # a terminus has arrivals only


def test_frequencies_expansion_exact_and_not(feed_path):
    feed = read_feed(feed_path, service_date="2022-02-22")
    dep = feed.departures
    bus1 = dep[(dep["route"] == _route(feed, "BUS1")) & (dep["stop"] == _stop(feed, "B1"))]
    d0 = sorted(bus1.loc[bus1["direction"] == 0, "time_s"])  # exact_times=1, every 600 s from 08:00 before 10:00
    d1 = sorted(bus1.loc[bus1["direction"] == 1, "time_s"])  # exact_times=0: the same nominal schedule
    assert d0 == list(range(8 * 3600, 10 * 3600, 600))
    assert d1 == list(range(8 * 3600, 10 * 3600, 900))


def test_long_headway_has_no_16_bit_overflow(tmp_path):
    path = write_feed(tmp_path / "long.zip", {
        "frequencies.txt": "trip_id,start_time,end_time,headway_secs\nbus1_d0,04:00:00,28:00:00,71760\n"})
    feed = read_feed(path, service_date="2022-02-22")
    dep = feed.departures
    times = sorted(dep.loc[(dep["trip"] == 0) & (dep["stop"] == _stop(feed, "B1")), "time_s"])
    assert times == [4 * 3600, 4 * 3600 + 71760]  # 04:00 and 23:56
    assert feed.departures["time_s"].dtype == np.int32


def test_calendar_exceptions(feed_path):
    def rail_times(day):
        feed = read_feed(feed_path, service_date=day)
        dep = feed.departures
        return sorted(dep.loc[dep["stop"] == _stop(feed, "R1"), "time_s"].tolist())

    # Tuesday: weekday service; its 24:30 trip runs at 88200 s; Monday's 24:30 trip departs at 00:30
    assert rail_times("2022-02-22") == [1800, 30000, 30900, 31800, 32700, 33300, 88200]
    # Wednesday 23rd: WK removed, HOL added (10:00); Tuesday's 24:30 trip still departs at 00:30
    assert rail_times("2022-02-23") == [1800, 36000]
    assert rail_times("20220226") == [1800]  # Saturday: only Friday's trip past midnight
    assert rail_times("2022-02-27") == []  # Sunday


def test_busiest_day_is_the_default(feed_path):
    feed = read_feed(feed_path)
    assert feed.date.isoformat() == "2022-02-01"  # the first weekday of the feed (all weekdays are equal)
    assert any("busiest day" in note for note in feed.report.notes)


def test_broken_feed_report_names_file_line_field(tmp_path):
    path = write_feed(tmp_path / "broken.zip", {
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                          "rail_0,08:20:00,08:20:00,R1,1\n"
                          "rail_0,08:3x:00,08:3x:00,B1,2\n"  # line 3: bad time, interpolated
                          "rail_0,08:40:00,08:40:00,T1,3\n"
                          "rail_1,08:35:00,08:35:00,NOPE,1\n"  # line 5: unknown stop
                          "ghost,08:35:00,08:35:00,R1,1\n"  # line 6: unknown trip
                          "rail_2,08:50:00,08:50:00,R1,1\n"
                          "rail_2,09:00:00,09:00:00,T1,2\n",
        "trips.txt": "route_id,service_id,trip_id,direction_id\nRAIL1,WK,rail_0,0\nRAIL1,WK,rail_1,0\n"
                     "RAIL1,WK,rail_2,0\nMISSING,WK,rail_3,0\n",  # line 5: unknown route
        "frequencies.txt": "trip_id,start_time,end_time,headway_secs\nrail_2,08:00:00,09:00:00,0\n",
        "shapes.txt": None,
    })
    feed = read_feed(path, service_date="2022-02-22")
    text = feed.report.text()
    assert "stop_times.txt line 3, field departure_time: '08:3x:00' is not a time HH:MM:SS" in text
    assert "stop_times.txt line 5, field stop_id: stop 'NOPE' is not in stops.txt" in text
    assert "stop_times.txt line 6, field trip_id: trip 'ghost' is not in trips.txt" in text
    assert "trips.txt line 5, field route_id: route 'MISSING' is not in routes.txt" in text
    assert "frequencies.txt line 2, field headway_secs" in text
    # the usable parts are used: rail_0's middle stop interpolated halfway, rail_2 as scheduled
    dep = feed.departures
    b1 = dep.loc[dep["stop"] == _stop(feed, "B1"), "time_s"].tolist()
    assert b1 == [8 * 3600 + 30 * 60]
    assert sorted(dep.loc[dep["stop"] == _stop(feed, "R1"), "time_s"]) == [8 * 3600 + 20 * 60, 8 * 3600 + 50 * 60]
    notes = " / ".join(list_layers(path)[0].notes)  # `citydesk info` shows the report too
    assert "stop_times.txt line 5, field stop_id: stop 'NOPE' is not in stops.txt" in notes


def test_missing_required_column_and_files(tmp_path):
    path = write_feed(tmp_path / "nocal.zip", {
        "routes.txt": "route_id,route_short_name\nBUS1,1\n", "calendar.txt": None, "calendar_dates.txt": None})
    feed = read_feed(path, service_date="2022-02-22")
    text = feed.report.text()
    assert "routes.txt line 1, field route_type: required column(s) route_type missing" in text
    assert "neither calendar.txt nor calendar_dates.txt" in text
    assert len(feed.departures) == 0  # no routes: no trip is usable, but the stops are
    assert len(feed.stops) == 4
    no_times = write_feed(tmp_path / "nostoptimes.zip", {"stop_times.txt": None})
    feed = read_feed(no_times, service_date="2022-02-22")
    assert "stop_times.txt: the file is missing" in feed.report.text() and len(feed.departures) == 0
    with pytest.raises(CityDeskError, match="stops.txt"):
        read_feed(write_feed(tmp_path / "nostops.zip", {"stops.txt": None}))


def test_layers_of_the_tiny_feed(feed_path):
    feed = read_feed(feed_path, service_date="2022-02-22")
    stops = transit_stops(feed, *AM).set_index("stop_id")
    assert stops.loc["B1", "routes"] == "1, 2" and stops.loc["B1", "modes"] == "bus"
    assert stops.loc["B1", "departures"] == 6 + 4 + 2 and stops.loc["R1", "per_hour"] == 4
    assert stops.attrs["gtfs_path"] == str(feed_path) and stops.crs.to_epsg() == 4326
    routes = transit_routes(feed, *AM).set_index("route_id")
    assert routes.loc["BUS1", "geometry_from"] == "shapes" and routes.loc["RAIL1", "geometry_from"] == "stops"
    assert routes.loc["BUS1", "route_color"] == "#0072B2" and pd.isna(routes.loc["BUS2", "route_color"])
    assert routes.loc["BUS2", "mode"] == "bus" and routes.loc["RAIL1", "mode"] == "rail"
    assert routes.loc["BUS1", "trips"] == 20 and routes.loc["BUS1", "per_hour"] == 6
    assert routes.geometry.geom_type.eq("MultiLineString").all()


def test_readers_give_stops_and_routes(feed_path):
    stops, both_routes = read_layers(feed_path)  # adding a feed gives its stops and its routes
    assert both_routes.name == "transit_routes" and len(both_routes) == 3 and both_routes.role == "other"
    assert stops.name == "transit_stops" and stops.gdf["stop_id"].dtype == "string"
    assert stops.gdf.attrs["gtfs_path"] == str(feed_path.resolve())
    assert {"routes", "modes", "departures", "per_hour", "departures_day"} <= set(stops.gdf.columns)
    (routes,) = read_layers(f"{feed_path}:transit_routes")
    assert routes.name == "transit_routes" and len(routes) == 3 and routes.geometry_kind == "line"
    with pytest.raises(CityDeskError, match="transit_stops, transit_routes"):
        read_layer(feed_path, "timetable")
    assert feed_for_layer(stops.gdf).date.isoformat() == "2022-02-01"


def test_feed_for_a_layer_without_timetable():
    import geopandas as gpd
    from shapely.geometry import Point

    plain = gpd.GeoDataFrame({"stop_id": ["1"]}, geometry=[Point(0, 0)], crs=3067)
    with pytest.raises(CityDeskError, match="not read from a GTFS feed"):
        feed_for_layer(plain)


def test_hsl_feed():
    feed = read_feed(HSL_GTFS, service_date="2022-02-22")
    assert feed.counts["stops"] == 1388 and feed.counts["routes"] == 200
    assert feed.counts["trips_frequency_based"] == 1780
    assert feed.counts["trips_on_date"] == 12_878  # frequency trips expanded
    assert feed.counts["departures"] == 212_718
    assert feed.counts["last_departure"] == "28:26:00"  # past midnight
    assert feed.report.total == 0
    assert sorted(feed.routes["mode"].unique()) == ["bus", "ferry", "metro", "rail", "tram"]
