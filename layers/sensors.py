"""Sensor readings (air quality, noise, any measured variable) from CSV, Excel or Parquet into one
clean long table.

The clean table has one row per reading: ``station_id``, ``time`` (UTC, time-zone aware),
``variable`` (``NO2``, ``PM2.5``, ``PM10``, ``O3``, ``LAeq``, ``Lden`` … or the name as written),
``value`` (float) and ``unit``; sorted by station, variable and time. ``station_id``, ``variable``
and ``unit`` are categoricals (a year of hourly readings of 500 stations is 4.4 million rows).

Two layouts are read:

- long: a station, a time, a variable and a value column (a unit column optional);
- wide: a station and a time column and one column per variable (``NO2 (µg/m³)``: the unit in
  brackets); a file without a station column is one station named after the file.

Times with an offset (``Z``, ``+02:00``) keep it; naive times are in ``timezone`` (else the zone in
the time column's name, else UTC) with daylight saving time respected: in the hour repeated when
clocks go back, the first reading of a station at a wall time is summer time and a second one at
the same wall time winter time. Nothing is dropped silently: rows without a station, time or
value, exact duplicates and conflicting duplicates (same station, variable and time, another
value: the first is kept) are counted in the :class:`SensorReport`, and so are gaps (missing
readings between a station's first and last, at its usual interval).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.readings_columns import find_header, parse_times, snake, zone_in_name
from layers.sensor_gaps import find_gaps

SUFFIXES = (".csv", ".txt", ".tsv", ".gz", ".xlsx", ".xlsm", ".parquet")
CLEAN = ("station_id", "time", "variable", "value", "unit")
STATION_NAMES = ("station_id", "stationid", "station", "station_code", "site_id", "site", "site_code", "sensor_id",
                 "sensor", "bin_id", "device_id", "device", "location_id", "location", "code", "id", "name",
                 "station_name")
TIME_NAMES = ("time", "datetime", "date_time", "timestamp", "time_utc", "start_time", "start", "period_start",
              "date", "measured_at", "observed_at", "time_start", "hour")
VARIABLE_NAMES = ("variable", "pollutant", "parameter", "component", "species", "measurand", "quantity", "metric",
                  "indicator")
VALUE_NAMES = ("value", "concentration", "measurement", "reading", "result", "level", "val")
UNIT_NAMES = ("unit", "units", "uom", "unit_of_measure")
#: Variable names understood, in their canonical spelling.
CANONICAL = {"no2": "NO2", "nitrogendioxide": "NO2", "pm25": "PM2.5", "pm2_5": "PM2.5", "pm2.5": "PM2.5",
             "pm10": "PM10", "o3": "O3", "ozone": "O3", "so2": "SO2", "co": "CO", "laeq": "LAeq", "lden": "Lden",
             "lnight": "Lnight", "noise": "LAeq", "noise_laeq": "LAeq"}


@dataclass
class SensorReport:
    """What an import read, kept and dropped, and every guess it made (``notes``)."""

    source: str
    layout: str = "long"  # long or wide
    header_row: int = 1
    mapping: dict[str, str] = field(default_factory=dict)  # clean column -> source column(s)
    timezone: str = "UTC"
    rows_read: int = 0
    readings: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    stations: int = 0
    variables: list[str] = field(default_factory=list)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    step: pd.Timedelta | None = None  # the usual interval between a station's readings
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)  # see layers.sensor_gaps.find_gaps
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        """Readings missing in gaps (at the usual interval), all stations and variables."""
        return int(self.gaps["missing"].sum()) if len(self.gaps) else 0

    def lines(self) -> list[str]:
        """The report as lines of plain text for a person."""
        out = [f"{Path(self.source).name}: {self.layout} layout, header on row {self.header_row}",
               f"{self.rows_read:,} readings read, {self.readings:,} kept; {self.stations:,} stations; "
               f"variables {', '.join(self.variables) or '(none)'}"]
        out += [f"{n:,} dropped: {reason}" for reason, n in self.dropped.items() if n]
        if self.start is not None:
            out.append(f"time range (UTC): {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}; "
                       f"usual interval {_fmt_step(self.step)}")
        if len(self.gaps):
            worst = self.gaps.sort_values("missing", ascending=False).iloc[0]
            out.append(f"{int(self.gaps['gaps'].sum()):,} gaps, {self.missing:,} readings missing; the longest: "
                       f"{worst['station_id']} {worst['variable']} {int(worst['longest'])} readings from "
                       f"{worst['longest_from']:%Y-%m-%d %H:%M} UTC")
        else:
            out.append("no gaps")
        out += [f"{clean} ← {src}" for clean, src in self.mapping.items()]
        return out + self.notes

    def to_dict(self) -> dict:
        return {"source": self.source, "layout": self.layout, "header_row": self.header_row,
                "mapping": dict(self.mapping), "timezone": self.timezone, "rows_read": self.rows_read,
                "readings": self.readings, "dropped": dict(self.dropped), "stations": self.stations,
                "variables": list(self.variables), "start": None if self.start is None else self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(),
                "step_minutes": None if self.step is None else self.step.total_seconds() / 60,
                "gaps": int(self.gaps["gaps"].sum()) if len(self.gaps) else 0, "missing": self.missing,
                "notes": list(self.notes)}


@dataclass
class SensorReadings:
    """A clean readings table and the report of its import."""

    table: pd.DataFrame
    report: SensorReport


def read_sensor_readings(path: str | Path, *, sheet: str | int | None = None, station_column: str | None = None,
                         time_column: str | None = None, variable_column: str | None = None,
                         value_column: str | None = None, unit_column: str | None = None,
                         timezone: str | None = None, feedback: Feedback | None = None) -> SensorReadings:
    """Read sensor readings from ``path`` (CSV, Excel, Parquet; long or wide) into the clean table
    (see the module docstring). Column arguments name source columns when the guess is wrong;
    ``timezone`` (IANA, e.g. ``Europe/Helsinki``) is the zone of times written without one."""
    fb = ensure(feedback)
    path = Path(path)
    fb.progress(0.0, f"Reading {path.name}")
    frame, header_row = _read_file(path, sheet)
    fb.check_cancelled()
    fb.progress(0.4, "Finding the columns")
    readings = clean_readings(frame, source=str(path), station_column=station_column, time_column=time_column,
                              variable_column=variable_column, value_column=value_column,
                              unit_column=unit_column, timezone=timezone, default_station=path.name.split(".")[0],
                              feedback=fb)
    readings.report.header_row = header_row
    return readings


def clean_readings(frame: pd.DataFrame, *, source: str = "readings", station_column: str | None = None,
                   time_column: str | None = None, variable_column: str | None = None,
                   value_column: str | None = None, unit_column: str | None = None, timezone: str | None = None,
                   default_station: str = "station", feedback: Feedback | None = None) -> SensorReadings:
    """The clean table from a table already in memory (columns as in a file)."""
    fb = ensure(feedback)
    report = SensorReport(source)
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    time = time_column or _pick(columns, TIME_NAMES, "time", source)
    station = station_column or _pick(columns, STATION_NAMES, None, source, exclude=(time,))
    variable = variable_column or _pick(columns, VARIABLE_NAMES, None, source, exclude=(time, station))
    value = value_column or _pick(columns, VALUE_NAMES, None, source, exclude=(time, station, variable))
    unit = unit_column or _pick(columns, UNIT_NAMES, None, source, exclude=(time, station, variable, value))
    for name in (time, station, variable, value, unit):
        if name is not None and name not in columns:
            raise CityDeskError(f"there is no column '{name}'", source=source, fix=f"Columns: {', '.join(columns)}")
    report.rows_read = len(frame)
    if variable and value:
        long = pd.DataFrame({"station": frame[station] if station else default_station, "time": frame[time],
                             "variable": frame[variable], "value": frame[value],
                             "unit": frame[unit] if unit else ""})
        report.mapping = {"station_id": station or f"(the file: {default_station})", "time": time,
                          "variable": variable, "value": value, "unit": unit or "(none)"}
    else:
        long = _melt_wide(frame, station, time, unit, default_station, report, source)
    if not station:
        report.notes.append(f"no station column: every reading is of one station, '{default_station}'")
    zone = timezone or zone_in_name(time) or "UTC"
    report.timezone = zone
    fb.check_cancelled()
    fb.progress(0.55, "Reading times")
    table = _typed(long, zone, bool(timezone or zone_in_name(time)), source, time, report)
    fb.check_cancelled()
    fb.progress(0.8, "Checking duplicates and gaps")
    table = _dedupe(table, report)
    if report.rows_read and not len(table):
        raise CityDeskError(f"no reading is left of {report.rows_read:,} rows ({_reasons(report)})", source=source,
                            fix="Choose the columns that hold the station, time and value")
    report.readings = len(table)
    report.stations = int(table["station_id"].nunique())
    report.variables = [str(v) for v in table["variable"].cat.categories if (table["variable"] == v).any()]
    if len(table):
        report.start, report.end = table["time"].iloc[0], table["time"].max()
        report.gaps, report.step = find_gaps(table)
    fb.progress(1.0, f"{len(table):,} readings of {report.stations:,} stations")
    return SensorReadings(table, report)


# ------------------------------------------------------------------------------------ files
def _read_file(path: Path, sheet) -> tuple[pd.DataFrame, int]:
    if not path.exists():
        raise CityDeskError("the file does not exist", source=path, fix="Check the path")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix not in SUFFIXES:
        raise CityDeskError(f"sensor readings cannot be read from '{path.name}'", source=path,
                            fix="Give a CSV (.csv, .csv.gz), Excel (.xlsx) or Parquet (.parquet) file")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path), 1
        if suffix in (".xlsx", ".xlsm"):
            raw = pd.read_excel(path, sheet_name=sheet if sheet not in (None, "") else 0, header=None, dtype=object)
            header = find_header(raw.head(30))
            frame = raw.iloc[header + 1:].set_axis([str(c).strip() for c in raw.iloc[header]], axis=1)
            return frame.dropna(how="all").reset_index(drop=True), header + 1
        return _csv(path)
    except CityDeskError:
        raise
    except Exception as exc:  # a damaged file: say so in words
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CityDeskError(f"cannot be read ({first})", source=path,
                            fix="Check that the file is complete and saved in that format") from exc


def _csv(path: Path) -> tuple[pd.DataFrame, int]:
    import csv
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise CityDeskError("the file is empty", source=path, fix="Choose a file with a header and rows")
    encoding = next(e for e in ("utf-8-sig", "cp1252", "latin-1") if _decodes(head, e))
    lines = head.decode(encoding, errors="ignore").splitlines()[:30]
    sep = max((",", ";", "\t", "|"), key=lambda s: (max(len(r) for r in csv.reader(lines, delimiter=s)), s == ","))
    rows = list(csv.reader(lines, delimiter=sep))
    width = max(len(r) for r in rows)
    header = find_header(pd.DataFrame([r + [None] * (width - len(r)) for r in rows], dtype=object))
    frame = pd.read_csv(path, sep=sep, skiprows=header, encoding=encoding, low_memory=False)
    return frame.dropna(how="all"), header + 1


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data[:-4].decode(encoding)  # the cut may split a character at the end
        return True
    except UnicodeDecodeError:
        return False


# ------------------------------------------------------------------------------------ columns
def _pick(columns: list[str], names: tuple[str, ...], required: str | None, source: str,
          exclude: tuple = ()) -> str | None:
    by_name = {snake(c): c for c in reversed(columns) if c not in exclude}
    for name in names:
        if name in by_name:
            return by_name[name]
    if required:
        raise CityDeskError(f"no {required} column found", source=source,
                            fix=f"Name the {required} column (columns: {', '.join(columns)})")
    return None


def variable_and_unit(name: str) -> tuple[str, str]:
    """'NO2 (µg/m³)' -> ('NO2', 'µg/m³'); 'pm2_5' -> ('PM2.5', '')."""
    match = re.search(r"[\(\[]([^\)\]]*)[\)\]]", name)
    unit = match.group(1).strip() if match else ""
    base = re.sub(r"[\(\[].*?[\)\]]", "", name).strip()
    return canonical(base), unit


def canonical(name: str) -> str:
    """The canonical spelling of a variable name: 'no2' -> 'NO2', 'pm2.5' -> 'PM2.5'."""
    key = re.sub(r"[\s\-]+", "", str(name).strip().lower())
    return CANONICAL.get(key, CANONICAL.get(key.replace(".", "_"), str(name).strip()))


def _melt_wide(frame: pd.DataFrame, station, time, unit, default_station, report, source) -> pd.DataFrame:
    skip = {c for c in (station, time, unit) if c}
    value_columns = []
    for column in frame.columns:
        if column in skip:
            continue
        numeric = pd.to_numeric(frame[column].head(1000), errors="coerce")
        if numeric.notna().any():
            value_columns.append(column)
    if not value_columns:
        raise CityDeskError("no value column found: neither a long layout (variable and value columns) nor a wide "
                            "one (a numeric column per variable)", source=source,
                            fix="Name the variable and value columns, or give one numeric column per variable")
    report.layout = "wide"
    parts = []
    for column in value_columns:
        name, column_unit = variable_and_unit(column)
        parts.append(pd.DataFrame({"station": frame[station] if station else default_station, "time": frame[time],
                                   "variable": name, "value": frame[column], "unit": column_unit}))
        report.mapping[name] = column
    report.mapping = {"station_id": station or f"(the file: {default_station})", "time": time, **report.mapping}
    report.notes.append(f"wide layout: one column per variable ({', '.join(value_columns)})")
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------------ typing
def _typed(long: pd.DataFrame, zone: str, zone_given: bool, source: str, column: str, report) -> pd.DataFrame:
    """Times, values and categories parsed; unusable rows dropped and counted."""
    times, ambiguous = _times(long["time"], zone, zone_given, source, column, report)
    values = pd.to_numeric(long["value"], errors="coerce")
    if values.isna().mean() > 0.5 and long["value"].dtype == object:  # decimal commas: "12,5"
        values = pd.to_numeric(long["value"].astype("string").str.replace(",", ".", regex=False), errors="coerce")
    station = _category(long["station"], lambda u: u.astype(str).str.strip())
    variable = _category(long["variable"], lambda u: u.map(canonical))
    unit = pd.Categorical(_category(long["unit"].fillna(""), lambda u: u.astype(str).str.strip()))
    if unit.isna().any():
        unit = unit.add_categories([""]) if "" not in unit.categories else unit
        unit = unit.fillna("")
    table = pd.DataFrame({"station_id": station, "time": times, "variable": variable,
                          "value": values.to_numpy(dtype=float), "unit": unit})
    bad = np.zeros(len(table), dtype=bool)
    for reason, missing in (("no time", table["time"].isna().to_numpy()),
                            ("no value (empty or not a number)", table["value"].isna().to_numpy()),
                            ("no station", table["station_id"].isna().to_numpy() if len(table) else bad),
                            ("no variable", table["variable"].isna().to_numpy() if len(table) else bad)):
        report.dropped[reason] = int((missing & ~bad).sum())
        bad |= missing
    table["_fold"] = ambiguous
    return table[~bad].reset_index(drop=True)


def _category(values, clean) -> pd.Categorical:
    """``values`` as a categorical, ``clean`` applied to the distinct values only (fast)."""
    codes, uniques = pd.factorize(pd.Series(values).reset_index(drop=True), use_na_sentinel=True)
    cleaned = clean(pd.Series(uniques)) if len(uniques) else pd.Series([], dtype=object)
    cleaned = cleaned.astype(object).where(cleaned.astype(str) != "", None)
    cats = pd.Index(pd.unique(cleaned.dropna().astype(str)))
    mapped = cats.get_indexer(cleaned.astype(str).where(cleaned.notna(), None))
    return pd.Categorical.from_codes(np.where(codes >= 0, mapped[codes], -1), categories=cats)


def _times(values: pd.Series, zone: str, zone_given: bool, source, column, report) -> tuple[pd.Series, np.ndarray]:
    """UTC times, and a mask of rows whose wall time falls in the hour repeated when clocks go back."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values) and getattr(values.dt, "tz", None) is not None:
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"), np.zeros(len(values), dtype=bool)
    codes, uniques = pd.factorize(values)
    parsed, notes = parse_times(pd.Series(uniques, dtype=object), zone, source=source, column=column,
                                zone_given=zone_given)
    report.notes += [n for n in notes if "repeated hour" not in n]
    naive = pd.to_datetime(pd.Series(uniques, dtype=object), errors="coerce", format="mixed") \
        if not pd.api.types.is_datetime64_any_dtype(uniques) else pd.Series(uniques)
    fold = np.zeros(len(uniques), dtype=bool)
    if naive.notna().any() and getattr(naive.dt, "tz", None) is None:
        probe = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
        offset = pd.Series(uniques, dtype=object).astype(str).str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$")
        fold = np.array(probe.isna() & naive.notna(), dtype=bool) & ~np.array(offset, dtype=bool)
    ns = parsed.astype("datetime64[ns, UTC]").array.asi8  # NaT is the smallest int64
    utc = np.where(codes >= 0, ns[np.where(codes >= 0, codes, 0)], np.iinfo(np.int64).min)
    out = pd.Series(pd.DatetimeIndex(utc.view("datetime64[ns]")).tz_localize("UTC"))
    return out, np.where(codes >= 0, fold[np.where(codes >= 0, codes, 0)], False)


def _dedupe(table: pd.DataFrame, report: SensorReport) -> pd.DataFrame:
    """Sorted by station, variable, time; the second reading at a repeated wall time moved to winter
    time; exact and conflicting duplicates dropped and counted (the first kept)."""
    if table["_fold"].any():
        fold = table["_fold"].to_numpy()
        seen = table.loc[fold].duplicated(["station_id", "variable", "time"], keep="first")
        later = seen.index[seen.to_numpy()]
        table.loc[later, "time"] = table.loc[later, "time"] + pd.Timedelta(hours=1)
        report.notes.append(f"{int(fold.sum()):,} readings fell in the hour repeated when clocks go back: the first "
                            f"at each wall time was read as summer time, {len(later):,} second ones as winter time")
    table = table.drop(columns="_fold")
    t = table["time"].array.asi8
    order = np.lexsort((t, table["variable"].cat.codes.to_numpy(), table["station_id"].cat.codes.to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    t = t[order]
    s, v = table["station_id"].cat.codes.to_numpy(), table["variable"].cat.codes.to_numpy()
    same = np.zeros(len(table), dtype=bool)
    same[1:] = (t[1:] == t[:-1]) & (s[1:] == s[:-1]) & (v[1:] == v[:-1])
    values = table["value"].to_numpy()
    equal = np.zeros(len(table), dtype=bool)
    equal[1:] = values[1:] == values[:-1]
    report.dropped["exact duplicate (same station, variable, time and value)"] = int((same & equal).sum())
    conflicts = same & ~equal
    report.dropped["conflicting duplicate (same station, variable and time, another value: the first kept)"] = \
        int(conflicts.sum())
    if conflicts.any():
        first = table.loc[np.flatnonzero(conflicts)[0]]
        report.notes.append(f"conflicting duplicates, e.g. {first['station_id']} {first['variable']} at "
                            f"{first['time']:%Y-%m-%d %H:%M} UTC")
    return table[~same].reset_index(drop=True)


def _reasons(report: SensorReport) -> str:
    return "; ".join(f"{n:,} {reason}" for reason, n in report.dropped.items() if n) or "no rows"


def _fmt_step(step: pd.Timedelta | None) -> str:
    if step is None:
        return "unknown"
    minutes = step.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"
