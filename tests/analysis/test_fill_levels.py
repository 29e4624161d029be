"""``fill-levels``: per-bin statistics worked out by hand, the join, the registered analysis on the
sample city, cancel, progress and bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from analysis.fill_levels import best_key_column, bin_statistics, fill_levels, join_report
from analysis.registry import get
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Cancelled

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
T0 = pd.Timestamp("2025-05-05 06:00", tz="UTC")


def _readings(rows) -> pd.DataFrame:
    """(bin, days after T0, fill %, event) -> a clean readings table."""
    return pd.DataFrame({"bin_id": [r[0] for r in rows], "time": [T0 + pd.Timedelta(days=r[1]) for r in rows],
                         "fill_pct": [float(r[2]) for r in rows], "event": [r[3] for r in rows]})


# Bin A: collections on days 0, 2, 5, 6 at 50, 90, 60, 80 % (emptied to 0 each time), readings between.
# Bin B: one collection at 85 %, and a later reading at 40 %.
HAND = _readings([
    ("A", 0, 50, "collection"), ("A", 1, 45, "reading"), ("A", 2, 90, "collection"), ("A", 5, 60, "collection"),
    ("A", 6, 80, "collection"),
    ("B", 1, 85, "collection"), ("B", 1.5, 40, "reading"),
])


def test_statistics_by_hand():
    stats = bin_statistics(HAND)
    a, b = stats.loc["A"], stats.loc["B"]
    assert a["readings"] == 5 and a["collections"] == 4
    assert a["mean_fill_pct"] == pytest.approx((50 + 90 + 60 + 80) / 4)  # 70
    assert a["overflow_risk_pct"] == pytest.approx(50.0)  # 90 and 80 of four are >= 80
    assert a["mean_days_between"] == pytest.approx((2 + 3 + 1) / 3)  # 2 days
    assert a["fill_rate_pct_day"] == pytest.approx((90 + 60 + 80) / 6)  # 38.33 %/day, empty after each
    assert a["days_to_full"] == pytest.approx(100 / (230 / 6))  # 2.61 days
    assert a["days_until_full"] == pytest.approx(100 / (230 / 6))  # last row a collection: empty then
    assert bool(a["at_risk"]) and a["first_time"] == T0 and a["last_time"] == T0 + pd.Timedelta(days=6)
    assert b["collections"] == 1 and b["overflow_risk_pct"] == 100.0 and pd.isna(b["mean_days_between"])
    assert pd.isna(b["fill_rate_pct_day"]) and pd.isna(b["days_until_full"])  # one collection: no rate
    stricter = bin_statistics(HAND, overflow_pct=90.0, at_risk_share=0.3)
    assert stricter.loc["A", "overflow_risk_pct"] == pytest.approx(25.0) and not stricter.loc["A", "at_risk"]


def test_level_after_collection_and_last_reading():
    table = HAND[HAND["bin_id"] == "A"].assign(fill_after_pct=[10.0, None, 10.0, 10.0, 10.0])
    table = pd.concat([table, _readings([("A", 6.5, 30, "reading")])], ignore_index=True)
    stats = bin_statistics(table).loc["A"]
    rate = ((90 - 10) + (60 - 10) + (80 - 10)) / 6  # 33.33 %/day: rises from the level left after emptying
    assert stats["fill_rate_pct_day"] == pytest.approx(rate)
    assert stats["days_until_full"] == pytest.approx((100 - 30) / rate)  # from the last reading, 30 %


def test_collections_found_from_drops_without_events():
    plain = _readings([("C", 0, 20, None), ("C", 1, 70, None), ("C", 2, 5, None), ("C", 3, 50, None),
                       ("C", 4, 95, None), ("C", 4.5, 2, None), ("C", 5, 30, None)]).drop(columns="event")
    stats = bin_statistics(plain, collection_drop_pct=30).loc["C"]
    assert stats["collections"] == 2 and stats["mean_fill_pct"] == pytest.approx((70 + 95) / 2)
    assert stats["mean_days_between"] == pytest.approx(3.0)
    assert stats["days_until_full"] == pytest.approx((100 - 30) / (95 / 3))  # last level 30 %, rate 95 %/3 days


def _bins() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [" a", "b ", "c"], "num": [1.0, 2.0, 3.0]},
                            geometry=shapely.points([(0, 0), (10, 0), (20, 0)]), crs="EPSG:3067")


def test_join_normalises_case_and_space_only():
    readings = pd.concat([HAND, _readings([("Z  9", 1, 10, "collection"), ("a-", 1, 10, "collection")])])
    report = join_report(_bins(), readings, "code")
    assert (report.bins, report.bins_matched, report.reading_bins, report.reading_bins_unmatched) == (3, 2, 4, 2)
    assert (report.readings_matched, report.readings_unmatched) == (7, 2)
    assert set(report.unmatched_examples) == {"Z  9", "a-"}  # no fuzzy match of 'a-' to 'a'
    assert best_key_column(_bins(), readings) == "code"
    numbers = _readings([("2", 0, 50, "collection"), ("3.0", 0, 50, "collection")])
    assert join_report(_bins(), numbers, "num").bins_matched == 2  # 2.0 matches "2", 3.0 matches "3.0"
    with pytest.raises(CityDeskError, match="no column 'nope'.*code, num"):
        join_report(_bins(), HAND, "nope")


def test_fill_levels_result_layer_and_summary():
    result = fill_levels(_bins(), readings=HAND, key_column="code")
    out = result.layers["waste_bins"]
    assert list(out["readings"]) == [5, 2, 0] and list(out["at_risk"]) == [True, True, False]
    assert out.loc[0, "mean_fill_pct"] == pytest.approx(70.0) and pd.isna(out.loc[2, "mean_fill_pct"])
    s = result.summary
    assert (s["bins"], s["bins_with_readings"], s["bins_at_risk"], s["readings"], s["collections"]) == (3, 2, 2, 7, 5)
    assert s["collections_overflow_share"] == pytest.approx(3 / 5)
    assert s["period_start"] == "2025-05-05 06:00" and s["key_column"] == "code"
    style = get("fill-levels").result_styles["waste_bins"]
    assert style.kind == "graduated" and style.field == "overflow_risk_pct" and style.ramp == "RdYlBu_r"


def test_sample_city_end_to_end():
    sensors = gpd.read_file(SAMPLE / "helsinki.gpkg", layer="bin_sensors_synthetic")
    sensors.attrs["source_dir"] = str(SAMPLE)  # as the window and the command line set it
    steps = []

    class Record:
        def progress(self, fraction, message=""):
            steps.append(fraction)

        def check_cancelled(self):
            pass

    result = run_analysis("fill-levels", {"waste_bins": sensors}, {}, feedback=Record())
    s = result.summary
    assert s["bins"] == s["bins_with_readings"] == 20 and s["readings_unmatched"] == 0
    assert 0 < s["bins_at_risk"] < 20 and s["readings"] > 5000 and s["key_column"] == "bin_id"
    out = result.layers["waste_bins"]
    every = out["collect_every_days"].astype(float)
    assert ((out["mean_days_between"] - every).abs() < 1.5).all()  # the schedule, with a missed one now and then
    assert steps == sorted(steps) and steps[-1] == 1.0


def test_cancel_and_bad_input(tmp_path):
    class Cancel:
        def progress(self, fraction, message=""):
            pass

        def check_cancelled(self):
            raise Cancelled

    with pytest.raises(Cancelled):
        fill_levels(_bins(), readings=HAND, key_column="code", feedback=Cancel())
    with pytest.raises(CityDeskError, match="no column time"):
        fill_levels(_bins(), readings=HAND.drop(columns="time"))
    with pytest.raises(CityDeskError, match="no column of the bin layer holds"):
        fill_levels(_bins(), readings=_readings([("zz", 0, 1, "collection")]))
    with pytest.raises(CityDeskError, match="no readings file given"):
        run_analysis("fill-levels", {"waste_bins": _bins()}, {})
    with pytest.raises(CityDeskError, match="does not exist"):
        run_analysis("fill-levels", {"waste_bins": _bins()}, {"readings_file": str(tmp_path / "none.csv")})
