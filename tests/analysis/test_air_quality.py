"""air-quality: hand-made readings with a known exceedance count (a DST day included), the
synthetic Helsinki stations end to end, cancel and bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from analysis.air_quality import air_quality
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Cancelled
from layers.sensors import clean_readings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def stations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"station_id": ["A", "B"], "name": ["a", "b"]},
                            geometry=[shapely.Point(0, 0), shapely.Point(500, 0)], crs="EPSG:3067")


def year_of_pm10() -> pd.DataFrame:
    """Hourly PM10 for Helsinki's 2025: A is 20 µg/m³ except on 40 local days at 60 (including the
    25-hour DST day 2025-10-26 and the 23-hour 2025-03-30); B only has January (too little data)."""
    hours = pd.date_range("2025-01-01", "2026-01-01", freq="h", inclusive="left", tz="Europe/Helsinki")
    days = hours.normalize()
    high_days = set(pd.date_range("2025-02-01", periods=38, freq="D", tz="Europe/Helsinki")) | {
        pd.Timestamp("2025-10-26", tz="Europe/Helsinki"), pd.Timestamp("2025-03-30", tz="Europe/Helsinki")}
    value = [60.0 if d in high_days else 20.0 for d in days]
    a = pd.DataFrame({"station_id": "A", "time": hours.tz_convert("UTC"), "variable": "PM10", "value": value,
                      "unit": "µg/m³"})
    b = a[a["time"] < pd.Timestamp("2025-02-01", tz="UTC")].assign(station_id="B", value=30.0)
    return clean_readings(pd.concat([a, b], ignore_index=True)).table


def test_known_exceedance_count_with_dst_days():
    result = air_quality(stations(), readings=year_of_pm10(), timezone="Europe/Helsinki")
    out = result.layers["sensors"].set_index("station_id")
    assert out.loc["A", "pm10_days_over_45"] == 40 and out.loc["A", "pm10_days_over_50"] == 40
    assert out.loc["A", "pm10_valid_days"] == 365 and out.loc["A", "pm10_coverage_pct"] == pytest.approx(100)
    assert bool(out.loc["A", "pm10_exceeds_eu2030"])  # 40 days > 18 allowed
    assert bool(out.loc["A", "pm10_exceeds_eu2008"])  # 40 days > 35 allowed
    assert pd.isna(out.loc["B", "pm10_exceeds_eu2030"])  # 31 days of data, nothing over: too little data
    assert out.loc["A", "status_level"] == 4 and out.loc["B", "status_level"] == 0
    assert result.summary["stations_exceeding_eu2030"] == 1 and result.summary["year"] == 2025


def test_sample_city_end_to_end():
    layer = gpd.read_file(SAMPLE / "helsinki.gpkg", layer="air_quality_stations_synthetic")
    layer.attrs["source_dir"] = str(SAMPLE)
    result = run_analysis("air-quality", {"sensors": layer}, {"timezone": "Europe/Helsinki"})
    out = result.layers["sensors"]
    assert result.summary["matched_stations"] == 6 and result.summary["readings_dropped"] == 3
    assert out["no2_coverage_pct"].between(90, 100).all()
    traffic = out["kind"] == "traffic"
    assert (out.loc[traffic, "no2_mean"] > out.loc[~traffic, "no2_mean"].max()).all()
    assert out["exceeds_who2021"].all() and result.summary["stations_exceeding_eu2008"] == 0


def test_cancel_and_bad_input():
    class CancelAfter:
        def __init__(self):
            self.calls, self.seen = 0, []

        def progress(self, fraction, message=""):
            self.seen.append(fraction)

        def check_cancelled(self):
            self.calls += 1
            if self.calls > 1:
                raise Cancelled()

    with pytest.raises(Cancelled):
        air_quality(stations(), readings=year_of_pm10(), feedback=CancelAfter())
    with pytest.raises(CityDeskError, match="empty"):
        air_quality(stations().iloc[:0], readings=year_of_pm10())
    with pytest.raises(CityDeskError, match="no readings in 2019"):
        air_quality(stations(), readings=year_of_pm10(), year=2019)
    other = year_of_pm10().assign(station_id="Z")
    with pytest.raises(CityDeskError, match="station ids"):
        air_quality(stations(), readings=clean_readings(other).table)
