"""Fill-level readings from sensor exports (CSV, Excel .xlsx, Parquet) into one clean table.

The clean table has one row per reading: ``bin_id`` (text), ``time`` (UTC, time-zone aware),
``fill_pct`` (0-100), ``event`` when known (``collection``: the level just before the bin was
emptied; ``reading``: a periodic reading), ``fill_after_pct`` when the export has it, and the
columns the bin id was built from (``site_name``, ``address``).

Real exports are untidy; what :func:`read_readings` copes with, and says it did:

- title and summary rows above the header (the header is the first of the first 30 rows with
  the most text cells);
- units and a time zone inside column names (``Date & Time of bin collection (Europe/London)``,
  ``Fill level before collection (%)``): naive times are localised to that zone (or to
  ``timezone=``, else UTC) with daylight saving time respected, then converted to UTC;
- bins identified by a site name and an address rather than an id: ``bin_id`` is then built as
  ``"<site name>, <address>"``;
- fill levels as numbers, ``"85%"`` text or 0-1 fractions (multiplied by 100, and said so);
- a record id column (``ID`` unique per row) is not taken for the bin id.

Rows without a time, a fill level or a bin id are dropped and counted; so are exact duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.readings_columns import (
    Columns,
    detect_columns,
    find_header,
    parse_fill,
    parse_times,
    snake,
    zone_in_name,
)

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".parquet")
ROWS = ("auto", "collections", "readings")
CLEAN = ("bin_id", "time", "fill_pct")


@dataclass
class ImportReport:
    """What an import read, kept and dropped, and every guess it made (``notes``)."""

    source: str
    sheet: str | None = None
    header_row: int = 1  # 1-based row of the header in the file
    columns: list[str] = field(default_factory=list)  # every column found in the header
    mapping: dict[str, str] = field(default_factory=dict)  # clean column -> source column(s)
    timezone: str = "UTC"
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    bins: int = 0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as lines of plain text for a person."""
        where = f"sheet '{self.sheet}', " if self.sheet else ""
        out = [f"{Path(self.source).name}: {where}header on row {self.header_row}",
               f"{self.rows_read:,} rows read, {self.rows_kept:,} readings kept, {self.bins:,} bins"]
        for reason, count in self.dropped.items():
            if count:
                out.append(f"{count:,} rows dropped: {reason}")
        if self.start is not None:
            out.append(f"time range (UTC): {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}")
        out += [f"{clean} ← {src}" for clean, src in self.mapping.items()]
        return out + self.notes

    def to_dict(self) -> dict:
        return {"source": self.source, "sheet": self.sheet, "header_row": self.header_row,
                "mapping": dict(self.mapping), "timezone": self.timezone, "rows_read": self.rows_read,
                "rows_kept": self.rows_kept, "dropped": dict(self.dropped), "bins": self.bins,
                "start": None if self.start is None else self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(), "notes": list(self.notes)}


@dataclass
class Readings:
    """A clean readings table and the report of its import."""

    table: pd.DataFrame
    report: ImportReport


@dataclass
class Preview:
    """The first rows of a file as the import would see them (for the import dialog)."""

    header_row: int  # 1-based
    columns: list[str]
    rows: pd.DataFrame  # up to 20 data rows below the header, as text
    guess: Columns
    sheets: list[str]
    sheet: str | None


def read_readings(path: str | Path, *, sheet: str | int | None = None, id_column: str | None = None,
                  time_column: str | None = None, fill_column: str | None = None, timezone: str | None = None,
                  fill_unit: str = "auto", rows: str = "auto", feedback: Feedback | None = None) -> Readings:
    """Read fill-level readings from ``path`` into the clean table (see the module docstring).

    ``id_column`` may name one column or several joined with ``+`` (``"Site name+Address"``);
    without it a bin id column is looked for, else the site name and address are used.
    ``timezone`` (an IANA name such as ``Europe/London``) overrides the zone in the time column's
    name. ``fill_unit`` is ``auto``, ``percent`` or ``fraction`` (0-1). ``rows`` says what a row is:
    ``collections`` (each row is a collection: the fill before emptying), ``readings``, or ``auto``
    (an event column if there is one; else collections when the time or fill column names a
    collection)."""
    fb = ensure(feedback)
    path = Path(path)
    if rows not in ROWS:
        raise CityDeskError(f"rows={rows!r} is not one of {', '.join(ROWS)}", source=path,
                            fix="Use rows=auto, collections or readings")
    fb.progress(0.0, f"Reading {path.name}")
    raw, sheet_name, _sheets = _raw_table(path, sheet)
    fb.check_cancelled()
    fb.progress(0.5, "Finding the header and columns")
    header = find_header(raw.head(30))
    table = _with_header(raw, header)
    report = ImportReport(str(path), sheet_name, header + 1, [str(c) for c in table.columns])
    cols = detect_columns(table, id_column=id_column, time_column=time_column, fill_column=fill_column,
                          source=path)
    report.notes += cols.notes
    report.rows_read = len(table)
    fb.check_cancelled()
    fb.progress(0.6, "Reading times and fill levels")
    zone = timezone or zone_in_name(cols.time) or "UTC"
    report.timezone = zone
    times, notes = parse_times(table[cols.time], zone, source=path, column=cols.time,
                               zone_given=bool(timezone or zone_in_name(cols.time)))
    report.notes += notes
    fill, notes = parse_fill(table[cols.fill], fill_unit, source=path, column=cols.fill)
    report.notes += notes
    out = pd.DataFrame({"bin_id": _bin_ids(table, cols.ids), "time": times, "fill_pct": fill})
    report.mapping = {"bin_id": " + ".join(cols.ids), "time": cols.time, "fill_pct": cols.fill}
    if cols.fill_after:
        after, _ = parse_fill(table[cols.fill_after], fill_unit, source=path, column=cols.fill_after)
        out["fill_after_pct"] = after.to_numpy()
        report.mapping["fill_after_pct"] = cols.fill_after
    _add_event(out, table, cols, rows, report)
    for name in cols.keep:
        out[snake(name)] = table[name].to_numpy()
        report.mapping[snake(name)] = name
    fb.check_cancelled()
    fb.progress(0.9, "Checking rows")
    out = _drop_bad(out, report)
    report.rows_kept = len(out)
    if report.rows_read and not len(out):
        reason, count = max(report.dropped.items(), key=lambda kv: kv[1])
        column = {"no time": cols.time, "no fill level": cols.fill}.get(reason, " + ".join(cols.ids))
        raise CityDeskError(f"no reading is left: {count:,} of {report.rows_read:,} rows have {reason} "
                            f"(column '{column}')", source=path,
                            fix="Choose the column that holds it (--time-column, --fill-column, --id-column)")
    report.bins = int(out["bin_id"].nunique())
    if len(out):
        report.start, report.end = out["time"].min(), out["time"].max()
    fb.progress(1.0, f"{len(out):,} readings of {report.bins:,} bins")
    return Readings(out, report)


def preview(path: str | Path, *, sheet: str | int | None = None) -> Preview:
    """The detected header, the columns, the first rows and the guessed columns of ``path``."""
    path = Path(path)
    raw, sheet_name, sheets = _raw_table(path, sheet, nrows=200)
    header = find_header(raw.head(30))
    table = _with_header(raw, header)
    try:
        guess = detect_columns(table, source=path)
    except CityDeskError as exc:
        guess = Columns(ids=[], time="", fill="", notes=[exc.message])
    return Preview(header + 1, [str(c) for c in table.columns], table.head(20).astype("string"), guess, sheets,
                   sheet_name)


def write_readings(table: pd.DataFrame, target: str | Path) -> Path:
    """Write the clean table as CSV (times as ISO 8601 UTC with ``Z``) or Parquet, atomically."""
    from layers.writers import atomic_path

    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CityDeskError(f"cannot write readings as '{suffix or target.name}'", source=target,
                            fix="Give a file name ending in .csv or .parquet")
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            text = table.copy()
            text["time"] = text["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            text.to_csv(tmp, index=False, lineterminator="\n")
        else:
            table.to_parquet(tmp, index=False)
    return target


# ------------------------------------------------------------------------------------ reading
def _raw_table(path: Path, sheet, nrows: int | None = None) -> tuple[pd.DataFrame, str | None, list[str]]:
    """Every cell of the file without a header (the header row is found afterwards)."""
    if not path.exists():
        raise CityDeskError("the file does not exist", source=path, fix="Check the path")
    if path.is_dir():
        raise CityDeskError("this is a folder, not a readings file", source=path, fix="Choose a CSV, Excel or "
                            "Parquet file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CityDeskError(f"readings cannot be read from a '{suffix or 'extensionless'}' file", source=path,
                            fix="Give a CSV (.csv), Excel (.xlsx) or Parquet (.parquet) file")
    try:
        if suffix in (".xlsx", ".xlsm"):
            return _excel(path, sheet, nrows)
        if suffix == ".parquet":
            table = pd.read_parquet(path)
            header = pd.DataFrame([list(map(str, table.columns))], columns=range(table.shape[1]))
            table.columns = range(table.shape[1])
            return pd.concat([header, table.head(nrows) if nrows else table], ignore_index=True), None, []
        return _csv(path, nrows), None, []
    except CityDeskError:
        raise
    except Exception as exc:  # a damaged file: say so in words
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CityDeskError(f"cannot be read as a {suffix.lstrip('.').upper()} file ({first})", source=path,
                            fix="Check that the file is complete and saved in that format") from exc


def _excel(path: Path, sheet, nrows) -> tuple[pd.DataFrame, str, list[str]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = list(book.sheetnames)
        if sheet is None or sheet == "":
            name = names[0]
        elif isinstance(sheet, int) or str(sheet).isdigit():
            index = int(sheet) - (0 if isinstance(sheet, int) else 1)  # --sheet 1 is the first sheet
            if not 0 <= index < len(names):
                raise CityDeskError(f"there is no sheet number {sheet}", source=path,
                                    fix=f"Sheets: {', '.join(names)}")
            name = names[index]
        elif sheet in names:
            name = sheet
        else:
            raise CityDeskError(f"there is no sheet '{sheet}'", source=path, fix=f"Sheets: {', '.join(names)}")
        rows = []
        for row in book[name].iter_rows(values_only=True):
            rows.append(row)
            if nrows is not None and len(rows) >= nrows:
                break
    finally:
        book.close()
    if not rows:
        raise CityDeskError(f"the sheet '{name}' is empty", source=path, fix="Choose the sheet that holds the "
                            f"readings (sheets: {', '.join(names)})")
    return pd.DataFrame(rows, dtype=object), name, names


def _csv(path: Path, nrows) -> pd.DataFrame:
    import csv
    import io

    raw = path.read_bytes()
    if not raw.strip():
        raise CityDeskError("the file is empty", source=path, fix="Choose a file with a header and rows")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    lines = text.splitlines()[:30]
    sep = max((",", ";", "\t", "|"), key=lambda s: (max(len(r) for r in csv.reader(lines, delimiter=s)), s == ","))
    return pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, nrows=nrows, skip_blank_lines=False,
                       keep_default_na=False, na_values=[""], engine="python", names=_wide(lines, sep))


def _wide(lines: list[str], sep: str) -> list[int]:
    """Column positions for the widest of the first lines (a title row has fewer fields)."""
    import csv

    return list(range(max(len(r) for r in csv.reader(lines, delimiter=sep))))


def _with_header(raw: pd.DataFrame, header: int) -> pd.DataFrame:
    """Rows below ``header`` with its cells as column names; empty columns and rows dropped."""
    names, seen = [], {}
    for i, value in enumerate(raw.iloc[header].tolist()):
        name = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
        name = name or f"column {i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        names.append(name)
    table = raw.iloc[header + 1:].copy()
    table.columns = names
    table = table.replace({"": None})
    empty_cols = [c for c in table.columns if c.startswith("column ") and table[c].isna().all()]
    table = table.drop(columns=empty_cols)
    return table.dropna(how="all").reset_index(drop=True)


# ------------------------------------------------------------------------------------ building
def _bin_ids(table: pd.DataFrame, ids: list[str]) -> pd.Series:
    parts = []
    for name in ids:
        values = table[name]
        numeric = pd.to_numeric(values, errors="coerce")
        whole = numeric.notna() & (numeric == np.floor(numeric.fillna(0)))
        text = values.astype("string").str.strip()
        text = text.where(~whole, numeric.astype("Int64").astype("string"))  # 12.0 read from Excel -> "12"
        parts.append(text.str.replace(r"\s+", " ", regex=True))
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return out.replace({"": pd.NA}).reset_index(drop=True)


_COLLECTION_WORDS = re.compile(r"collect|empt|pick.?up|emptied|lift", re.I)


def _add_event(out: pd.DataFrame, table: pd.DataFrame, cols: Columns, rows: str, report: ImportReport) -> None:
    if cols.event and rows == "auto":
        text = table[cols.event].astype("string").str.strip().str.lower()
        out["event"] = np.where(text.str.contains(_COLLECTION_WORDS).fillna(False), "collection", "reading")
        report.mapping["event"] = cols.event
        return
    named = cols.time if _COLLECTION_WORDS.search(cols.time) else cols.fill if _COLLECTION_WORDS.search(
        cols.fill) else None
    if rows == "collections" or (rows == "auto" and named):
        out["event"] = "collection"
        why = "as asked" if rows == "collections" else f"the column '{named}' names collections"
        report.notes.append(f"each row is read as a collection: the fill level just before the bin was emptied "
                            f"({why})")
    elif rows == "readings":
        out["event"] = "reading"


def _drop_bad(out: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    checks = (("no time", out["time"].isna()), ("no fill level", out["fill_pct"].isna()),
              ("no bin id", out["bin_id"].isna()))
    bad = pd.Series(False, index=out.index)
    for reason, missing in checks:
        report.dropped[reason] = int((missing & ~bad).sum())
        bad |= missing
    out = out[~bad]
    subset = ["bin_id", "time", "fill_pct"] + (["event"] if "event" in out else [])
    duplicated = out.duplicated(subset=subset)
    report.dropped["exact duplicate of another reading"] = int(duplicated.sum())
    out = out[~duplicated]
    out = out.sort_values(["bin_id", "time"], kind="stable", ignore_index=True)
    out["bin_id"] = out["bin_id"].astype(str)
    return out
