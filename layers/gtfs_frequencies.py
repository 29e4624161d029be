"""``frequencies.txt``: a trip listed there is a template run every ``headway_secs`` from
``start_time`` while before ``end_time``; its stop times give the offsets from its first stop.

``exact_times=1`` trips leave exactly then; ``exact_times=0`` (frequency-based service) trips are
expanded the same way, as the nominal schedule of that headway — both give the same number of
departures per hour, which is what the analyses count.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from layers.gtfs_read import format_time, parse_ints, parse_times, texts
from layers.gtfs_report import FeedReport


def read_frequencies(table: pa.Table | None, trip_ids: pa.Array, report: FeedReport) -> dict[str, np.ndarray]:
    """The usable rows of ``frequencies.txt``: trip (index into ``trip_ids``), start_s, end_s,
    headway_s (int32 seconds; HSL has 71,760 s headways, so never 16-bit) and exact (bool)."""
    empty = {k: np.zeros(0, np.int32) for k in ("trip", "start_s", "end_s", "headway_s")}
    empty["exact"] = np.zeros(0, bool)
    if table is None or table.num_rows == 0:
        return empty
    trip = np.asarray(pc.fill_null(pc.index_in(table["trip_id"], value_set=trip_ids), -1)
                      .to_numpy(zero_copy_only=False), dtype=np.int32)
    start, bad_start = parse_times(table["start_time"])
    end, bad_end = parse_times(table["end_time"])
    headway, bad_headway = parse_ints(table["headway_secs"], -1)
    exact, _ = parse_ints(table["exact_times"], 0)
    lines = np.arange(table.num_rows) + 2
    ids = texts(table["trip_id"])
    rows = np.flatnonzero(trip < 0)
    report.add_rows("frequencies.txt", lines[rows], "trip_id", [f"trip '{ids[i]}' is not in trips.txt"
                    for i in rows[:5]], kind="unknown trip", action="the row is left out")
    bad = trip < 0
    for column, values, wrong in (("start_time", start, bad_start), ("end_time", end, bad_end)):
        rows = np.flatnonzero(~bad & (wrong | (values < 0)))
        raw = texts(table[column])
        report.add_rows("frequencies.txt", lines[rows], column, [f"'{raw[i]}' is not a time HH:MM:SS"
                        for i in rows[:5]], kind="bad time", action="the row is left out")
        bad |= wrong | (values < 0)
    rows = np.flatnonzero(~bad & (bad_headway | (headway <= 0)))
    raw = texts(table["headway_secs"])
    report.add_rows("frequencies.txt", lines[rows], "headway_secs", [f"'{raw[i]}' is not a positive number of "
                    "seconds" for i in rows[:5]], kind="bad headway", action="the row is left out")
    bad |= bad_headway | (headway <= 0)
    rows = np.flatnonzero(~bad & (end <= start))
    report.add_rows("frequencies.txt", lines[rows], "end_time", [f"end {format_time(end[i])} is not after start "
                    f"{format_time(start[i])}" for i in rows[:5]], kind="end before start",
                    action="the row is left out")
    bad |= end <= start
    keep = ~bad
    return {"trip": trip[keep], "start_s": start[keep].astype(np.int32), "end_s": end[keep].astype(np.int32),
            "headway_s": headway[keep].astype(np.int32), "exact": exact[keep] == 1}


def instances(freq: dict[str, np.ndarray], use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(template trip, start time in s) of every run of the frequency rows whose trip is in ``use``
    (a boolean mask over trips): starts at start_s + k * headway_s while before end_s."""
    keep = use[freq["trip"]] if len(freq["trip"]) else np.zeros(0, bool)
    trip, start, end, headway = (freq[k][keep].astype(np.int64) for k in ("trip", "start_s", "end_s", "headway_s"))
    n = np.maximum(0, -(-(end - start) // headway))  # ceil
    row = np.repeat(np.arange(len(n)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return trip[row].astype(np.int32), (start[row] + k * headway[row]).astype(np.int32)


def expand(row_start: np.ndarray, row_count: np.ndarray, first_time: np.ndarray, times: np.ndarray,
           inst_trip: np.ndarray, inst_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stop-time rows of every run: (row index into the template rows, time in s).
    ``row_start``/``row_count`` give each trip's rows (sorted by trip), ``first_time`` its first time."""
    counts = row_count[inst_trip].astype(np.int64)
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.repeat(row_start[inst_trip].astype(np.int64), counts) + (np.arange(total) - offsets)
    shift = np.repeat(inst_start.astype(np.int64) - first_time[inst_trip], counts)
    return rows, (times[rows] + shift).astype(np.int32)
