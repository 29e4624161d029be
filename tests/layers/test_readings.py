"""Importing fill-level readings: header detection, time zones and DST, fill units, the Edinburgh
export's quirks (on a small derived copy), errors, writing, the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from layers.errors import CityDeskError
from layers.readings import preview, read_readings, write_readings

DATA = Path(__file__).resolve().parents[1] / "data"
EDINBURGH = DATA / "edinburgh_smart_bins_sample.xlsx"
ROOT = Path(__file__).resolve().parents[2]

# A title row and a summary row above the header; the zone in a column name; clocks in Helsinki
# go forward at 03:00 local on 30 March 2025 and back at 04:00 local on 26 October 2025.
DST_CSV = """Bin fill report,,,
Average,,,55%
Bin,Measured at (Europe/Helsinki),Fill (%),Note
A-1,2025-03-30 02:30,10%,before the change
A-1,2025-03-30 04:30,20%,after the change
A-1,2025-10-26 03:30,85%,in the repeated hour
A-1,,50%,no time
b-2,2025-06-01 12:00,,no fill
b-2,2025-06-01 12:00,40 %,summer
b-2,2025-06-01 12:00,40 %,duplicate
b-2,2025-01-15 12:00,120%,overfull winter
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_title_rows_zone_in_name_and_dst(tmp_path):
    readings = read_readings(_write(tmp_path, "fill.csv", DST_CSV))
    table, report = readings.table, readings.report
    assert report.header_row == 3 and report.timezone == "Europe/Helsinki"
    assert report.rows_read == 8 and report.rows_kept == 5 and report.bins == 2
    assert report.dropped["no time"] == 1 and report.dropped["no fill level"] == 1
    assert report.dropped["exact duplicate of another reading"] == 1
    a = table[table["bin_id"] == "A-1"].set_index("time")["fill_pct"]
    # 02:30 EET (+2) = 00:30 UTC; 04:30 EEST (+3) = 01:30 UTC: one hour apart, not two
    assert list(a.index) == [pd.Timestamp("2025-03-30 00:30", tz="UTC"), pd.Timestamp("2025-03-30 01:30", tz="UTC"),
                             pd.Timestamp("2025-10-26 00:30", tz="UTC")]  # repeated hour: summer time (+3)
    assert list(a) == [10.0, 20.0, 85.0]
    b = table[table["bin_id"] == "b-2"].set_index("time")["fill_pct"]
    assert b[pd.Timestamp("2025-01-15 10:00", tz="UTC")] == 100.0  # winter +2; 120 % capped
    assert b[pd.Timestamp("2025-06-01 09:00", tz="UTC")] == 40.0  # summer +3
    text = " | ".join(report.lines())
    assert "repeated hour" in text and "above 100 %" in text and "Europe/Helsinki" in text
    assert str(table["time"].dt.tz) == "UTC" and table["bin_id"].map(type).eq(str).all()


def test_timezone_option_overrides_and_offsets_are_kept(tmp_path):
    path = _write(tmp_path, "r.csv", "bin_id;time;fill\n7;2025-07-01T12:00:00+02:00;0,5\n7;2025-07-01 12:00;0,25\n"
                  "8;2025-07-01T12:00:00Z;0,75\n")
    table = read_readings(path, timezone="Europe/London").table
    assert list(table["time"]) == [pd.Timestamp("2025-07-01 10:00", tz="UTC"),
                                   pd.Timestamp("2025-07-01 11:00", tz="UTC"),  # naive London BST (+1)
                                   pd.Timestamp("2025-07-01 12:00", tz="UTC")]
    assert list(table["fill_pct"]) == [50.0, 25.0, 75.0]  # 0-1 fractions (decimal commas) times 100
    report = read_readings(path).report
    assert any("fractions" in n for n in report.notes)
    assert any("read as UTC" in n for n in report.notes)  # no zone anywhere: said so


def test_edinburgh_export_quirks():
    readings = read_readings(EDINBURGH)
    table, report = readings.table, readings.report
    book = openpyxl.load_workbook(EDINBURGH, read_only=True)
    rows = [r for r in list(book.active.iter_rows(values_only=True))[3:] if any(v is not None for v in r)]
    assert report.header_row == 3 and report.sheet == "Enevo ONe API v3"
    assert report.rows_read == len(rows) == report.rows_kept == 145  # no collection lost or duplicated
    assert report.bins == 4 and report.timezone == "Europe/London"
    assert report.mapping["bin_id"] == "Site name + Address"
    spaced = [r[2] for r in rows if "  " in r[2]]
    assert all("  " not in b for b in table["bin_id"]) and len(spaced) > 0  # double spaces collapsed
    assert any("'ID' is unique on every row" in n for n in report.notes)
    assert (table["event"] == "collection").all() and (table["fill_after_pct"] == 0).all()
    assert report.start == pd.Timestamp("2016-06-04 02:57:27", tz="UTC")  # 03:57:27 BST
    assert report.end == pd.Timestamp("2016-08-09 14:46:34", tz="UTC")  # 15:46:34 BST, the newest row
    per_bin = table.groupby("bin_id").size()
    plain = pd.Series([" ".join(r[2].split()) for r in rows]).value_counts()
    assert sorted(per_bin.to_numpy()) == sorted(plain.to_numpy())
    assert {"site_name", "address"} <= set(table.columns)


def test_preview_guesses_the_columns():
    p = preview(EDINBURGH)
    assert p.header_row == 3 and "Site name" in p.columns and p.sheets[0] == "Enevo ONe API v3"
    assert p.guess.time.startswith("Date & Time of bin collection")
    assert p.guess.fill.startswith("Fill level before collection") and p.guess.ids == ["Site name", "Address"]
    assert len(p.rows) == 20


def test_given_columns_and_joined_id(tmp_path):
    readings = read_readings(EDINBURGH, id_column="Site", sheet="1")
    assert readings.report.bins == 4 and readings.table["bin_id"].str.fullmatch(r"\d+").all()
    joined = read_readings(EDINBURGH, id_column="site name + address", fill_column="Container slot:Fill level before")
    assert joined.report.bins == 4 and joined.report.mapping["fill_pct"] == "Container slot:Fill level before"


def test_errors_name_file_problem_and_fix(tmp_path):
    path = _write(tmp_path, "x.csv", "bin_id,when,comment\n1,2025-01-01,ok\n")
    with pytest.raises(CityDeskError) as err:
        read_readings(path)
    assert "x.csv" in err.value.message and "no fill level column" in err.value.message
    assert "bin_id, when, comment" in err.value.message
    with pytest.raises(CityDeskError, match="no time column 'Zeit'.*columns found"):
        read_readings(path, time_column="Zeit")
    good = _write(tmp_path, "y.csv", "bin_id,time,fill_pct\n1,2025-01-01 10:00,5\n")
    with pytest.raises(CityDeskError, match="not a time zone"):
        read_readings(good, timezone="Mars/Olympus")
    with pytest.raises(CityDeskError, match="does not exist"):
        read_readings(tmp_path / "missing.csv")
    with pytest.raises(CityDeskError, match="Excel"):
        read_readings(_write(tmp_path, "z.docx", "x"))
    with pytest.raises(CityDeskError, match="no sheet 'Nope'.*Enevo"):
        read_readings(EDINBURGH, sheet="Nope")


def test_write_csv_and_parquet_round_trip(tmp_path):
    table = read_readings(EDINBURGH).table
    for name in ("clean.csv", "clean.parquet"):
        write_readings(table, tmp_path / name)
        back = read_readings(tmp_path / name).table
        assert len(back) == len(table) and back["time"].equals(table["time"])
        assert back["bin_id"].tolist() == table["bin_id"].tolist()
    with pytest.raises(CityDeskError, match=r"\.csv or \.parquet"):
        write_readings(table, tmp_path / "clean.xlsx")


def test_command_line_import(tmp_path):
    out = tmp_path / "readings.csv"
    done = subprocess.run([sys.executable, "-m", "app.cli", "import-readings", str(EDINBURGH), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "145 rows read, 145 readings kept, 4 bins" in done.stdout
    assert "time range (UTC): 2016-06-04 02:57 – 2016-08-09 14:46" in done.stdout
    assert len(pd.read_csv(out)) == 145
    bad = subprocess.run([sys.executable, "-m", "app.cli", "import-readings", str(EDINBURGH), "--out",
                          str(tmp_path / "r.csv"), "--fill-column", "nope"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1 and "columns found" in bad.stderr and "Traceback" not in bad.stderr
