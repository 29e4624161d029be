"""Sensor readings import (long/wide, DST, duplicates, gaps), resampling, statistics, raster cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.errors import CityDeskError
from layers.raster import cells_layer, from_cells, grid_centres, grid_for, raster_style
from layers.sensor_stats import resample, station_stats
from layers.sensors import clean_readings, read_sensor_readings


def dst_day_csv(path, *, zone_in_header: bool = True):
    """Hourly naive Europe/Helsinki wall times for 2025-10-26 (clocks go back: 25 hours, 03:00
    twice) for station A, NO2 = 10 except 3 hours of 100."""
    walls = [f"2025-10-26 {h:02d}:00" for h in range(0, 4)] + ["2025-10-26 03:00"] + \
        [f"2025-10-26 {h:02d}:00" for h in range(4, 24)]
    values = [10.0] * 25
    values[5:8] = [100.0, 100.0, 100.0]
    header = "Time (Europe/Helsinki)" if zone_in_header else "Time"
    lines = [f"{header},Station,NO2 (µg/m³)"] + [f"{w},A,{v}" for w, v in zip(walls, values, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_wide_csv_with_dst_fold_keeps_all_25_hours(tmp_path):
    readings = read_sensor_readings(dst_day_csv(tmp_path / "r.csv"))
    table, report = readings.table, readings.report
    assert report.layout == "wide" and report.timezone == "Europe/Helsinki"
    assert len(table) == 25 and report.dropped.get("exact duplicate (same station, variable, time and value)") == 0
    assert table["time"].is_unique and (table["time"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert table["time"].iloc[0] == pd.Timestamp("2025-10-25 21:00", tz="UTC")  # 00:00 EEST = UTC+3
    assert str(table["unit"].iloc[0]) == "µg/m³" and str(table["variable"].iloc[0]) == "NO2"
    day = resample(table, "daily", timezone="Europe/Helsinki")
    assert len(day) == 1 and day["expected"].iloc[0] == 25 and day["coverage"].iloc[0] == 1.0
    assert day["value"].iloc[0] == pytest.approx((22 * 10 + 300) / 25)
    assert any("repeated" in n for n in report.notes)


def test_spring_forward_day_has_23_hours_and_duplicates_and_gaps_are_reported():
    hours = pd.date_range("2025-03-30", periods=23, freq="h", tz="Europe/Helsinki")  # 23 real hours
    frame = pd.DataFrame({"station_id": "S1", "time": hours.tz_convert("UTC"), "variable": "pm10",
                          "value": 20.0, "unit": "µg/m³"})
    frame = frame.drop(index=[5, 6, 7])  # a 3-hour gap
    frame = pd.concat([frame, frame.iloc[[0]], frame.iloc[[1]].assign(value=99.0)], ignore_index=True)
    readings = clean_readings(frame)
    report = readings.report
    assert len(readings.table) == 20 and str(readings.table["variable"].iloc[0]) == "PM10"
    assert report.dropped["exact duplicate (same station, variable, time and value)"] == 1
    assert sum(v for k, v in report.dropped.items() if k.startswith("conflicting")) == 1
    assert report.missing == 3 and int(report.gaps["longest"].iloc[0]) == 3
    day = resample(readings.table, "daily", timezone="Europe/Helsinki")
    assert day["expected"].iloc[0] == 23 and day["coverage"].iloc[0] == pytest.approx(20 / 23)
    assert any("3 readings missing" in line for line in report.lines())


def test_long_excel_and_parquet_and_statistics(tmp_path):
    times = pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC")
    frame = pd.DataFrame({"Site": ["X"] * 48 + ["Y"] * 48, "Date time (UTC)": list(times) * 2,
                          "Pollutant": "NO2", "Concentration": np.r_[np.arange(48.0), np.full(48, 5.0)],
                          "Units": "ug/m3"})
    frame.to_parquet(tmp_path / "r.parquet")
    excel = frame.assign(**{"Date time (UTC)": frame["Date time (UTC)"].dt.tz_localize(None)})
    excel.to_excel(tmp_path / "r.xlsx", index=False)
    for name in ("r.parquet", "r.xlsx"):
        readings = read_sensor_readings(tmp_path / name)
        assert readings.report.layout == "long" and len(readings.table) == 96
        stats = station_stats(readings.table).set_index("station_id")
        assert stats.loc["X", "mean"] == pytest.approx(23.5) and stats.loc["Y", "p90"] == 5.0
        assert stats.loc["X", "coverage_pct"] == 100.0
    monthly = resample(readings.table, "monthly")
    yearly = resample(readings.table, "yearly")
    assert monthly["count"].tolist() == [48, 48] and yearly["expected"].iloc[0] == 8760


def test_decibels_are_averaged_energetically():
    frame = pd.DataFrame({"station_id": "N", "time": pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC"),
                          "variable": "LAeq", "value": [50.0, 60.0], "unit": "dB(A)"})
    day = resample(clean_readings(frame).table, "daily")
    assert day["value"].iloc[0] == pytest.approx(10 * np.log10((1e5 + 1e6) / 2))


def test_missing_columns_and_files_are_readable_errors(tmp_path):
    with pytest.raises(CityDeskError, match="does not exist"):
        read_sensor_readings(tmp_path / "nope.csv")
    (tmp_path / "bad.csv").write_text("a,b\nx,y\n", encoding="utf-8")
    with pytest.raises(CityDeskError, match="time column"):
        read_sensor_readings(tmp_path / "bad.csv")


def test_raster_cells_round_trip():
    x0, y0, rows, cols = grid_for((3, 7, 995, 490), 100)
    assert (x0, y0, rows, cols) == (0.0, 0.0, 5, 10)
    xs, ys = grid_centres(x0, y0, 100, rows, cols)
    values = xs + 1000 * ys
    values[0, 0] = np.nan
    cells = cells_layer(values, x0, y0, 100, "EPSG:3067", name="v")
    assert len(cells) == 49 and cells.geometry.iloc[0].bounds == (100.0, 0.0, 200.0, 100.0)
    back = from_cells(cells, name="v")
    assert np.allclose(back.values, values, equal_nan=True)
    assert raster_style("v").kind == "graduated" and raster_style("v").stroke_width == 0
    with pytest.raises(CityDeskError, match="cell size"):
        grid_for((0, 0, 1e6, 1e6), 1)
