"""The guesses behind :mod:`layers.readings`: which row is the header, which columns hold the
bin id, the time and the fill level, the time zone in a column name, and how times and fill
levels are written. Each guess that changes the data is returned as a note for the import report."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from layers.errors import CityDeskError

ID_NAMES = ("bin_id", "binid", "bin", "bin_no", "bin_number", "container_id", "container", "sensor_id", "sensor",
            "device_id", "device", "asset_id", "asset", "serial", "serial_number", "id")
SITE_WORDS = ("site_name", "site", "name", "location", "bin_name")
ADDRESS_WORDS = ("address", "street", "street_address")
EVENT_NAMES = ("event", "event_type", "type", "kind", "reading_type", "record_type")
_ZONE_ALIASES = {"gmt": "GMT", "utc": "UTC", "z": "UTC", "zulu": "UTC"}


@dataclass
class Columns:
    """The source columns chosen for each clean column (``ids``: one or more joined into bin_id)."""

    ids: list[str]
    time: str
    fill: str
    fill_after: str | None = None
    event: str | None = None
    keep: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def snake(name: str) -> str:
    """A column name without units or zones in brackets, as snake_case: 'Site name' -> 'site_name'."""
    plain = re.sub(r"[\(\[].*?[\)\]]", " ", str(name))
    return re.sub(r"[^0-9a-z]+", "_", plain.lower()).strip("_") or "column"


def find_header(head: pd.DataFrame) -> int:
    """The 0-based row of the header among the first rows: the first with the most text cells
    (not numbers, dates, booleans or formulas); title and summary rows above it have fewer."""
    best, best_count = 0, -1
    for i, row in enumerate(head.itertuples(index=False)):
        count = sum(_is_label(v) for v in row)
        if count > best_count:
            best, best_count = i, count
    return best


def _is_label(value) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    if not text or text.startswith("="):
        return False
    if re.fullmatch(r"[+-]?[\d.,]+ ?%?", text) or text.lower() in ("true", "false"):
        return False
    return not re.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", text)  # 2016-06-03, 03/06/2016


def zone_in_name(name: str) -> str | None:
    """The time zone written in a column name: 'Collected (Europe/London)' -> 'Europe/London';
    '(GMT)', '[UTC]', 'time_utc' are understood too."""
    for token in re.findall(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]", str(name)) + re.split(r"[\s_]+", str(name)):
        zone = _zone(token)
        if zone:
            return zone
    return None


def _zone(token: str) -> str | None:
    token = token.strip()
    if token.lower() in _ZONE_ALIASES:
        return _ZONE_ALIASES[token.lower()]
    if "/" in token:
        try:
            zoneinfo.ZoneInfo(token)
            return token
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
    return None


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def detect_columns(table: pd.DataFrame, *, id_column: str | None = None, time_column: str | None = None,
                   fill_column: str | None = None, source=None) -> Columns:
    """Choose the id, time, fill, fill-after and event columns (those given are checked)."""
    columns = [str(c) for c in table.columns]
    found = ", ".join(columns) or "(none)"
    notes: list[str] = []

    def given(name: str, what: str) -> str:
        if name in columns:
            return name
        lower = {c.lower().strip(): c for c in columns}
        if name.lower().strip() in lower:
            return lower[name.lower().strip()]
        raise CityDeskError(f"there is no {what} column '{name}' (columns found: {found})", source=source,
                            fix=f"Give one of the columns found as the {what} column")

    time = given(time_column, "time") if time_column else _best(columns, _time_score)
    fill = given(fill_column, "fill level") if fill_column else _best(columns, _fill_score)
    if time is None:
        raise CityDeskError(f"no time column found (columns found: {found})", source=source,
                            fix="Name the time column (--time-column, or choose it in the import dialog)")
    if fill is None:
        raise CityDeskError(f"no fill level column found (columns found: {found})", source=source,
                            fix="Name the fill level column (--fill-column, or choose it in the import dialog)")
    if id_column:
        ids = [given(part.strip(), "bin id") for part in id_column.split("+") if part.strip()]
        keep = ids if len(ids) > 1 else []
    else:
        ids, keep = _id_columns(table, columns, notes, source, found)
    after = next((c for c in columns if c not in (fill, time) and _fill_score(c) > -50 and "after" in c.lower()
                  and "slot" not in c.lower()), None)
    event = next((c for c in columns if _norm(c) in EVENT_NAMES and c not in ids), None)
    return Columns(ids, time, fill, after, event, keep, notes)


def _best(columns: list[str], score) -> str | None:
    scored = [(score(c), -i, c) for i, c in enumerate(columns)]
    best = max(scored, default=None)
    return best[2] if best and best[0] > 0 else None


def _time_score(name: str) -> int:
    n = name.lower()
    score = 0
    if re.search(r"\b(time|timestamp|datetime|date|when)\b|_time|time_|aika|zeit", n):
        score += 10
    if "date" in n and "time" in n:
        score += 2
    if "collect" in n or "read" in n or "measure" in n:
        score += 2
    if "slot" in n or ":" in n:
        score -= 5
    if "update" in n or "created" in n:
        score -= 3
    return score


def _fill_score(name: str) -> int:
    n = name.lower()
    score = 0
    if "fill" in n or "level" in n or "täyt" in n:
        score += 10
    elif "%" in n or "pct" in n or "percent" in n:
        score += 5
    if "before" in n or "%" in n:
        score += 2
    if "after" in n:
        score -= 8
    if "slot" in n or ":" in n:
        score -= 5
    if "sensor" in n and "id" in n:
        score -= 20
    return score


def _id_columns(table, columns, notes, source, found) -> tuple[list[str], list[str]]:
    by_norm = {_norm(c): c for c in columns}
    for name in ID_NAMES:
        col = by_norm.get(name)
        if col is None:
            continue
        values = table[col].dropna()
        if len(values) > 1 and values.is_unique:
            notes.append(f"the column '{col}' is unique on every row (a record id), so it is not the bin id")
            continue
        return [col], []
    site = next((by_norm[w] for w in SITE_WORDS if w in by_norm), None)
    address = next((by_norm[w] for w in ADDRESS_WORDS if w in by_norm), None)
    ids = [c for c in (site, address) if c is not None]
    if not ids:
        raise CityDeskError(f"no bin id column found, nor a site name or address (columns found: {found})",
                            source=source, fix="Name the bin id column (--id-column, or choose it in the import "
                            "dialog); several columns can be joined with '+'")
    notes.append(f"no bin id column: bin_id is built from {' and '.join(repr(c) for c in ids)}"
                 + (" as 'site name, address'" if len(ids) > 1 else ""))
    return ids, ids


# ------------------------------------------------------------------------------------ values
def parse_fill(values: pd.Series, unit: str, *, source, column: str) -> tuple[pd.Series, list[str]]:
    """Fill levels as floats in 0-100 (NaN when unreadable). ``unit``: auto, percent or fraction."""
    if unit not in ("auto", "percent", "fraction"):
        raise CityDeskError(f"fill unit {unit!r} is not auto, percent or fraction", source=source,
                            fix="Use auto, percent or fraction")
    notes = []
    text = values.astype("string").str.strip()
    has_percent = bool(text.str.endswith("%").fillna(False).any())
    cleaned = text.str.rstrip("%").str.strip().str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(cleaned, errors="coerce").astype(float)
    if has_percent:
        notes.append(f"fill levels written as text with '%' in '{column}' were read as percentages")
    present = numbers.dropna()
    named_percent = bool(re.search(r"%|pct|percent", column, re.I))
    looks_fraction = (len(present) and present.between(0, 1).all() and not (present == present.round()).all())
    if unit == "fraction" or (unit == "auto" and looks_fraction and not has_percent and not named_percent):
        numbers = numbers * 100.0
        notes.append(f"fill levels in '{column}' are 0-1 fractions and were multiplied by 100")
    if len(present) and not len(numbers.dropna()):
        pass
    negative = numbers < 0
    if negative.any():
        notes.append(f"{int(negative.sum())} negative fill levels were dropped as sensor errors")
        numbers = numbers.mask(negative)
    over = numbers > 100
    if over.any():
        notes.append(f"{int(over.sum())} fill levels above 100 % (an overfull bin) were set to 100 %")
        numbers = numbers.clip(upper=100.0)
    bracket = re.search(r"\[(?:nb|note)[^\]]*\]", column, re.I)
    if bracket:
        notes.append(f"the source notes on the fill column: {bracket.group(0)}")
    return numbers.reset_index(drop=True), notes


_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def parse_times(values: pd.Series, zone: str, *, source, column: str, zone_given: bool) -> tuple[pd.Series, list]:
    """Times as UTC timestamps (NaT when unreadable). Times with an offset (``Z``, ``+02:00``)
    keep it; naive times are in ``zone``, with daylight saving time: a time in the repeated hour
    when clocks go back is read as summer time (the first of the two), a time in the hour skipped
    when clocks go forward is moved forward."""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise CityDeskError(f"'{zone}' is not a time zone", source=source,
                            fix="Give an IANA time zone such as Europe/London, Europe/Helsinki or UTC") from exc
    notes = []
    values = values.reset_index(drop=True)
    aware = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    naive = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    is_time = values.map(lambda v: isinstance(v, datetime | pd.Timestamp | np.datetime64)).astype(bool)
    if is_time.any():
        stamps = pd.to_datetime(values[is_time].astype(object), errors="coerce", utc=False, format="mixed")
        if getattr(stamps.dt, "tz", None) is not None:
            aware[is_time] = stamps.dt.tz_convert("UTC")
        else:
            naive[is_time] = stamps
    rest = ~is_time & values.notna()
    if rest.any():
        text = values[rest].astype(str).str.strip()
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().all():
            if numeric.median() > 1e8:
                aware[rest] = pd.to_datetime(numeric, unit="s", utc=True)
                notes.append(f"'{column}' holds Unix times (seconds since 1970, UTC)")
            else:
                naive[rest] = pd.to_datetime("1899-12-30") + pd.to_timedelta(numeric, unit="D")
                notes.append(f"'{column}' holds Excel serial dates")
        else:
            with_offset = text.str.contains(_OFFSET)
            if with_offset.any():
                aware[with_offset[with_offset].index] = pd.to_datetime(text[with_offset], errors="coerce", utc=True,
                                                                       format="mixed")
            plain = text[~with_offset]
            if len(plain):
                naive[plain.index] = _naive_text(plain, column, notes)
    if naive.notna().any():
        local, ambiguous, skipped = _localise(naive, zone)
        aware = aware.where(aware.notna(), local)
        if zone_given:
            notes.append(f"times without a zone were read as {zone} time (daylight saving time respected)")
        else:
            notes.append("times without a zone were read as UTC (no time zone in the column name; give one "
                         "with --timezone or in the import dialog)")
        if ambiguous:
            notes.append(f"{ambiguous} times fell in the repeated hour when clocks go back and were read as "
                         "summer time (the first of the two)")
        if skipped:
            notes.append(f"{skipped} times fell in the hour skipped when clocks go forward and were moved forward")
    return aware, notes


def _naive_text(text: pd.Series, column: str, notes: list) -> pd.Series:
    parts = text.str.extract(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})")
    if parts[0].notna().any():
        first, second = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
        dayfirst = not (second > 12).any() or (first > 12).any()
        notes.append(f"dates in '{column}' were read as {'day/month' if dayfirst else 'month/day'}/year")
        return pd.to_datetime(text, errors="coerce", dayfirst=dayfirst, format="mixed")
    return pd.to_datetime(text, errors="coerce", format="mixed")


def _localise(naive: pd.Series, zone: str) -> tuple[pd.Series, int, int]:
    ambiguous_mask = np.zeros(len(naive), dtype=bool)
    probe = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    forward = naive.dt.tz_localize(zone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
    present = naive.notna().to_numpy()
    unresolved = present & probe.isna().to_numpy()
    if unresolved.any():
        skipped_check = naive.dt.tz_localize(zone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="NaT")
        skipped_mask = unresolved & skipped_check.isna().to_numpy()
        ambiguous_mask = unresolved & ~skipped_mask
    else:
        skipped_mask = ambiguous_mask
    return forward.dt.tz_convert("UTC"), int(ambiguous_mask.sum()), int(skipped_mask.sum())
