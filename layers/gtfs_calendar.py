"""The service calendar of a GTFS feed: which ``service_id`` runs on a date (``calendar.txt``
weekdays between start and end date, then ``calendar_dates.txt`` exceptions: 1 added, 2 removed),
and the busiest date of the feed (the default when no date is given)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pyarrow as pa

from layers.errors import CityDeskError
from layers.gtfs_read import parse_ints, texts
from layers.gtfs_report import FeedReport

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class Calendar:
    """Weekly patterns (``weekly``: service_id -> (7 weekday flags, first day, last day) as
    ordinals) and exceptions (``added`` / ``removed``: ordinal -> service ids). ``known`` is False
    when the feed has neither calendar file: then every service counts as running every day."""

    weekly: dict[str, tuple[tuple[bool, ...], int, int]] = field(default_factory=dict)
    added: dict[int, set[str]] = field(default_factory=dict)
    removed: dict[int, set[str]] = field(default_factory=dict)
    known: bool = True

    def active(self, day: date, services) -> set[str]:
        """The ids among ``services`` that run on ``day``."""
        if not self.known:
            return set(services)
        n = day.toordinal()
        out = {sid for sid, (days, first, last) in self.weekly.items() if first <= n <= last and days[day.weekday()]}
        out |= self.added.get(n, set())
        out -= self.removed.get(n, set())
        return out & set(services)

    def span(self) -> tuple[date, date] | None:
        """The first and last day with any service."""
        days = [d for _, first, last in self.weekly.values() for d in (first, last)]
        days += list(self.added)
        if not days:
            return None
        return date.fromordinal(min(days)), date.fromordinal(max(days))

    def busiest(self, trips_per_service: Counter) -> date | None:
        """The day between the first and last service day with the most trips (the earliest of equals)."""
        span = self.span()
        if span is None:
            return None
        first, last = span[0].toordinal(), min(span[1].toordinal(), span[0].toordinal() + 400)
        best, best_n = None, -1
        for n in range(first, last + 1):
            day = date.fromordinal(n)
            count = sum(trips_per_service.get(s, 0) for s in self.active(day, trips_per_service))
            if count > best_n:
                best, best_n = day, count
        return best


def read_calendar(calendar: pa.Table | None, calendar_dates: pa.Table | None, report: FeedReport) -> Calendar:
    """The :class:`Calendar` of the two files (either may be None); bad rows are reported and skipped."""
    cal = Calendar(known=calendar is not None or calendar_dates is not None)
    if not cal.known:
        report.add("calendar.txt", None, None, "neither calendar.txt nor calendar_dates.txt is in the feed",
                   action="every service is taken to run every day")
    if calendar is not None and calendar.num_rows:
        ids = texts(calendar["service_id"])
        flags = np.stack([parse_ints(calendar[d], 0)[0] == 1 for d in DAYS], axis=1)
        first, bad_first = _dates(calendar["start_date"])
        last, bad_last = _dates(calendar["end_date"])
        for column, bad in (("start_date", bad_first), ("end_date", bad_last)):
            rows = np.flatnonzero(bad)
            report.add_rows("calendar.txt", rows + 2, column, [f"'{texts(calendar[column])[i]}' is not a date "
                            "YYYYMMDD" for i in rows[:5]], kind="bad date", action="the service is left out")
        for i in np.flatnonzero(~bad_first & ~bad_last & (first > 0) & (last > 0)):
            cal.weekly[str(ids[i])] = (tuple(bool(x) for x in flags[i]), int(first[i]), int(last[i]))
    if calendar_dates is not None and calendar_dates.num_rows:
        ids = texts(calendar_dates["service_id"])
        days, bad_day = _dates(calendar_dates["date"])
        kinds, _ = parse_ints(calendar_dates["exception_type"], 0)
        rows = np.flatnonzero(bad_day)
        report.add_rows("calendar_dates.txt", rows + 2, "date", [f"'{texts(calendar_dates['date'])[i]}' is not a "
                        "date YYYYMMDD" for i in rows[:5]], kind="bad date", action="the exception is left out")
        bad_kind = ~np.isin(kinds, (1, 2)) & ~bad_day
        rows = np.flatnonzero(bad_kind)
        report.add_rows("calendar_dates.txt", rows + 2, "exception_type", ["exception_type must be 1 (added) or 2 "
                        "(removed)"] * min(len(rows), 5), kind="bad exception_type", action="the row is left out")
        for i in np.flatnonzero(~bad_day & ~bad_kind & (days > 0)):
            target = cal.added if kinds[i] == 1 else cal.removed
            target.setdefault(int(days[i]), set()).add(str(ids[i]))
    return cal


def parse_date(text: str | date | None) -> date | None:
    """'2022-02-22' or '20220222' (or a date) as a date; None for empty text."""
    if text is None or isinstance(text, date):
        return text
    text = str(text).strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CityDeskError(f"'{text}' is not a date", fix="Give the date as YYYY-MM-DD, e.g. 2022-02-22")


def _dates(values) -> tuple[np.ndarray, np.ndarray]:
    """YYYYMMDD texts as date ordinals (0 where empty or bad) and the mask of bad ones."""
    raw, bad = parse_ints(values, 0)
    out = np.zeros(len(raw), dtype=np.int64)
    for i in np.flatnonzero(raw > 0):
        try:
            out[i] = date(int(raw[i] // 10000), int(raw[i] // 100 % 100), int(raw[i] % 100)).toordinal()
        except ValueError:
            bad[i] = True
    return out, bad
