"""PTAL on the tiny hand-made feed (values computed by hand in tests/data/gtfs_feed.py) and on the
Helsinki sample city with the HSL feed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from analysis.ptal_core import bands
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Cancelled
from layers.readers import read_layer
from tests.data.gtfs_feed import EXPECTED_AI, EXPECTED_BUS_AI, EXPECTED_RAIL_AI, P, write_feed

ROOT = Path(__file__).resolve().parents[2]
HSL_GTFS = ROOT / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"
SAMPLE = ROOT / "sample_data" / "helsinki.gpkg"
DAY = {"date": "2022-02-22"}


@pytest.fixture
def gtfs(tmp_path) -> gpd.GeoDataFrame:
    return read_layer(write_feed(tmp_path / "tiny.zip"))


@pytest.fixture
def home() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"residents": [10]}, geometry=[Point(P)], crs=3067)


def _run(layers, **params):
    return run_analysis("ptal", layers, {**DAY, **params})


def test_hand_computed_ai(gtfs, home):
    result = _run({"gtfs": gtfs, "buildings": home}, origins="buildings")
    row = result.layers["ptal"].iloc[0]
    assert row["ai"] == pytest.approx(EXPECTED_AI, abs=0.006)  # 5.42: bus 30/10.75 + 0.5*30/20.75, rail 30/15.75
    assert row["ai_bus"] == pytest.approx(EXPECTED_BUS_AI, abs=0.006)
    assert row["ai_rail"] == pytest.approx(EXPECTED_RAIL_AI, abs=0.006)
    assert row["ptal"] == "2"
    summary = result.summary
    assert summary["walk_distances"] == "straight line"
    assert summary["ptal_2_share"] == 1.0 and summary["residents_total"] == 10
    assert summary["access_points"] == 3 and summary["routes_counted"] == 3
    points = result.layers["access_points"].set_index("stop_id")
    assert points.loc["B1", "routes"] == "1, 2" and points.loc["B1", "per_hour"] == 8  # 6 + 2


def test_every_constant_is_a_parameter(gtfs, home):
    base = {"gtfs": gtfs, "buildings": home}
    rail_only = _run(base, origins="buildings", bus_max_walk_m=250).layers["ptal"].iloc[0]
    assert rail_only["ai"] == pytest.approx(EXPECTED_RAIL_AI, abs=0.006)
    slow = _run(base, origins="buildings", walk_speed_mps=40 / 60, rail_max_walk_m=600, bus_reliability_min=0,
                rail_reliability_min=0, swt_factor=1, edf_constant_min=60, other_routes_weight=1,
                modes="bus").layers["ptal"].iloc[0]
    # bus only: BUS1 walk 7.5 + SWT 10 -> 60/17.5; BUS2 walk 7.5 + SWT 30 -> 60/37.5, weight 1
    assert slow["ai"] == pytest.approx(60 / 17.5 + 60 / 37.5, abs=0.006)
    banded = _run(base, origins="buildings", band_limits="0,1,2,3,4,5,6,7").layers["ptal"].iloc[0]
    assert banded["ptal"] == "5"  # 5.42 in (5, 6]
    with pytest.raises(CityDeskError, match="(?i)band_limits"):
        _run(base, band_limits="0,1,2")
    with pytest.raises(CityDeskError, match="(?i)unknown mode"):
        _run(base, modes="bus,hovercraft")


def test_bands_at_tfl_limits():
    ai = np.array([0, 0.004, 0.01, 2.5, 2.51, 5, 5.01, 10, 15, 20, 25, 25.01, 40, 40.01, np.nan])
    assert bands(ai).tolist() == ["0", "0", "1a", "1a", "1b", "1b", "2", "2", "3", "4", "5", "6a", "6a", "6b", None]


def test_walk_on_the_streets(gtfs, home):
    # P -> B1 along a street (300 m); R1 only by a detour of 1,200 m (beyond 960 m): rail does not count
    streets = gpd.GeoDataFrame(geometry=[
        LineString([P, (P[0] + 300, P[1]), (P[0] + 300, P[1] + 600), (P[0], P[1] + 600)])], crs=3067)
    result = _run({"gtfs": gtfs, "buildings": home, "streets": streets}, origins="buildings")
    row = result.layers["ptal"].iloc[0]
    assert result.summary["walk_distances"] == "network"
    assert row["ai"] == pytest.approx(EXPECTED_BUS_AI, abs=0.006) and row["ai_rail"] == 0
    assert result.summary["stops_off_network"] == 1  # B2, 400 m beyond the street's end


def test_grid_over_an_area(gtfs, home):
    area = gpd.GeoDataFrame(geometry=[box(P[0] - 100, P[1] - 100, P[0] + 100, P[1] + 100)], crs=3067)
    result = _run({"gtfs": gtfs, "buildings": home, "area": area}, grid_m=100)
    cells = result.layers["ptal"]
    assert len(cells) == 4 and cells.geometry.area.round().eq(10_000).all()
    assert cells["residents"].sum() == 10 and set(cells["ptal"]) <= {"1b", "2"}
    assert cells["ai"].between(3, 8).all()
    assert sum(v for k, v in result.summary.items() if k.startswith("ptal_") and k.endswith("_share")) \
        == pytest.approx(1.0)


def test_layer_without_timetable_and_day_without_service(gtfs, home):
    plain = gpd.GeoDataFrame({"stop_id": ["B1"]}, geometry=[Point(P[0] + 300, P[1])], crs=3067)
    with pytest.raises(CityDeskError, match="not read from a GTFS feed"):
        _run({"gtfs": plain, "buildings": home})
    with pytest.raises(CityDeskError, match="no stop of the 'gtfs' layer is served"):
        run_analysis("ptal", {"gtfs": gtfs, "buildings": home}, {"date": "2022-02-27"})  # a Sunday
    with pytest.raises(CityDeskError, match="not a time of day"):
        _run({"gtfs": gtfs, "buildings": home}, start_time="8.15")
    with pytest.raises(CityDeskError, match="needs a buildings layer"):
        _run({"gtfs": gtfs}, origins="buildings")


class _Recorder:
    def __init__(self, cancel_after: int | None = None):
        self.values, self.cancel_after = [], cancel_after

    def progress(self, fraction, message=""):
        self.values.append(fraction)

    def check_cancelled(self):
        if self.cancel_after is not None and len(self.values) >= self.cancel_after:
            raise Cancelled()


def test_progress_goes_up_and_cancel_stops(gtfs, home):
    rec = _Recorder()
    run_analysis("ptal", {"gtfs": gtfs, "buildings": home}, DAY, feedback=rec)
    assert rec.values == sorted(rec.values) and rec.values[-1] == 1.0
    with pytest.raises(Cancelled):
        run_analysis("ptal", {"gtfs": gtfs, "buildings": home}, DAY, feedback=_Recorder(cancel_after=2))


def test_hsl_on_the_sample_city():
    layers = {"gtfs": read_layer(HSL_GTFS), "buildings": read_layer(SAMPLE, "buildings"),
              "streets": read_layer(SAMPLE, "streets")}
    result = run_analysis("ptal", layers, DAY)
    s = result.summary
    shares = {k: v for k, v in s.items() if k.startswith("ptal_") and k.endswith("_share")}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert s["walk_distances"] == "network" and s["shares_of"] == "residents"
    assert s["ptal_6b_share"] > 0.5  # central Helsinki: trams, metro and buses everywhere
    cells = result.layers["ptal"]
    assert len(cells) == s["origins"] and cells["ptal"].notna().all()
    assert {"ai_bus", "ai_tram", "ai_metro", "ai_rail"} <= set(cells.columns)


def test_command_line(tmp_path):
    feed = write_feed(tmp_path / "tiny.zip")
    home = tmp_path / "home.geojson"
    gpd.GeoDataFrame({"residents": [10]}, geometry=[Point(P)], crs=3067).to_crs(4326).to_file(home)
    out, summary = tmp_path / "ptal.gpkg", tmp_path / "ptal.json"
    cli = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]
    done = subprocess.run([*cli, "run", "ptal", "--layer", f"gtfs={feed}", "--layer", f"buildings={home}",
                           "--param", "origins=buildings", "--param", "date=2022-02-22", "--out", str(out),
                           "--summary", str(summary)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(summary.read_text())["summary"]
    assert figures["ptal_2_share"] == 1.0
    assert read_layer(out, "ptal")["ptal"].tolist() == ["2"]
