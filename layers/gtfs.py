"""A GTFS timetable read for one service date: stops, routes, trips and every departure of the day.

:func:`read_feed` reads a GTFS zip with pyarrow (only the columns it needs; ``stop_times.txt``
in blocks, keeping only the rows of trips that run on the date or the day before), expands
``frequencies.txt`` trips by headway, and keeps times as int32 seconds after the date's midnight
(times past 24:00:00 are valid; a trip of the day before that runs past midnight departs early on
the date). Problems are collected in ``feed.report`` (file, line, field) and the rest is used.

:func:`feed_for_layer` finds the feed of a stops layer read from a GTFS zip (its
``attrs["gtfs_path"]``): that is how an analysis gets a timetable through the ``gtfs`` role.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.gtfs_calendar import parse_date, read_calendar
from layers.gtfs_frequencies import expand, instances, read_frequencies
from layers.gtfs_read import FeedZip, format_time, parse_floats, parse_ints, parse_times, read_table, texts
from layers.gtfs_report import FeedReport

DAY_S = 86_400
STOP_TIME_COLUMNS = ("trip_id", "stop_id", "stop_sequence", "arrival_time", "departure_time", "pickup_type")
#: The attribute of a stops layer that names its GTFS zip (set by the GTFS reader).
PATH_ATTR = "gtfs_path"


def route_mode(route_type: int) -> str:
    """The mode of a GTFS ``route_type`` (basic and extended "HVT" types): bus, tram, metro, rail,
    ferry, aerial, funicular or other."""
    t = int(route_type)
    basic = {0: "tram", 1: "metro", 2: "rail", 3: "bus", 4: "ferry", 5: "tram", 6: "aerial", 7: "funicular",
             11: "bus", 12: "metro"}
    if t in basic:
        return basic[t]
    for low, high, mode in ((100, 199, "rail"), (200, 299, "bus"), (400, 404, "metro"), (405, 405, "metro"),
                            (406, 499, "rail"), (700, 799, "bus"), (800, 899, "bus"), (900, 999, "tram"),
                            (1000, 1099, "ferry"), (1200, 1299, "ferry"), (1300, 1399, "aerial"),
                            (1400, 1499, "funicular")):
        if low <= t <= high:
            return mode
    return "other"


@dataclass(frozen=True, eq=False)
class Feed:
    """A feed on one service ``date``. Rows of ``stops``/``routes``/``trips`` are addressed by
    position; ``trips["runs"]`` is how often a trip runs on the date (frequency trips: their number
    of runs). ``departures``: one row per departure on the date (not at a trip's last stop, not
    where pickup_type=1) with ``stop``, ``route``, ``trip`` (positions), ``direction`` (int8, -1
    when not given) and ``time_s`` (int32 seconds after midnight of the date)."""

    path: str
    date: date
    stops: pd.DataFrame
    routes: pd.DataFrame
    trips: pd.DataFrame
    departures: pd.DataFrame
    report: FeedReport
    counts: dict = field(default_factory=dict)
    #: the stop sequence of each trip that runs on the date or the day before: ``trip``, ``stop``
    #: (positions), sorted by trip and stop_sequence
    stop_times: pd.DataFrame | None = None

    def departures_between(self, start_s: int, end_s: int) -> pd.DataFrame:
        """The departures with start_s <= time_s < end_s."""
        t = self.departures["time_s"].to_numpy()
        return self.departures[(t >= start_s) & (t < end_s)]


_CACHE: dict = {}
_LOCK = threading.Lock()


def read_feed(path: str | Path, *, service_date: str | date | None = None,
              feedback: Feedback | None = None) -> Feed:
    """The feed at ``path`` on ``service_date`` (YYYY-MM-DD; None: the busiest day of the feed).
    The last two reads are kept, so an analysis run again on the same feed and date does not read it again."""
    path = Path(path)
    if not path.exists():
        raise CityDeskError("the GTFS feed does not exist", source=path,
                            fix="Check the path, or add the feed's zip to the project again")
    day = parse_date(service_date)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, day)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        ensure(feedback).progress(1.0, "GTFS feed read")
        return cached
    feed = _read(path, day, ensure(feedback))
    with _LOCK:
        while len(_CACHE) >= 2:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = feed
        _CACHE[key[:3] + (feed.date,)] = feed
    return feed


def feed_for_layer(gdf, *, service_date: str | date | None = None, role: str = "gtfs",
                   feedback: Feedback | None = None) -> Feed:
    """The feed of a stops layer read from a GTFS zip (``gdf.attrs["gtfs_path"]``)."""
    path = getattr(gdf, "attrs", {}).get(PATH_ATTR)
    if not path:
        raise CityDeskError(f"the '{role}' layer was not read from a GTFS feed, so it has no timetable",
                            source=role, fix="Add the feed's zip file to the project (its stops layer carries "
                            "the timetable) and choose that layer; on the command line give --layer gtfs=FEED.zip")
    return read_feed(path, service_date=service_date, feedback=feedback)


def _read(path: Path, day: date | None, fb: Feedback) -> Feed:
    report = FeedReport(str(path))
    with FeedZip(path) as z:
        fb.progress(0.0, "Reading GTFS stops, routes and trips")
        stops = _stops(z, report)
        routes = _routes(z, report)
        trips, trip_ids = _trips(z, routes, report)
        calendar = read_calendar(read_table(z, "calendar.txt", _CAL, report),
                                 read_table(z, "calendar_dates.txt", ("service_id", "date", "exception_type"), report),
                                 report)
        services = Counter(trips["service_id"].dropna().tolist())
        if day is None:
            day = calendar.busiest(services) or date.today()
            report.notes.append(f"service date {day.isoformat()} (the busiest day of the feed)")
        known = (trips["route"] >= 0).to_numpy() & ~trips["trip_id"].duplicated().to_numpy()
        today = trips["service_id"].isin(calendar.active(day, services)).to_numpy() & known
        before = trips["service_id"].isin(calendar.active(day - timedelta(days=1), services)).to_numpy() & known
        if not today.any():
            span = calendar.span()
            report.notes.append(f"no trip runs on {day.isoformat()}" + (
                f" (the feed runs from {span[0].isoformat()} to {span[1].isoformat()})" if span else ""))
        freq = read_frequencies(read_table(z, "frequencies.txt", _FREQ, report), trip_ids, report)
        fb.check_cancelled()
        st = _stop_times(z, trip_ids, today | before, stops, report, fb)
    fb.progress(0.85, "Expanding frequency-based trips")
    departures, counts = _departures(st, trips, freq, today, before)
    counts.update(stops=len(stops), routes=len(routes), trips=len(trips), stop_times_kept=len(st["trip"]))
    fb.progress(1.0, "GTFS feed read")
    sequence = pd.DataFrame({"trip": st["trip"], "stop": st["stop"]})
    return Feed(str(path), day, stops, routes, trips, departures, report, counts, sequence)


_CAL = ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "start_date", "end_date")
_FREQ = ("trip_id", "start_time", "end_time", "headway_secs", "exact_times")


def _stops(z: FeedZip, report: FeedReport) -> pd.DataFrame:
    table = read_table(z, "stops.txt", ("stop_id", "stop_code", "stop_name", "stop_lat", "stop_lon",
                                        "location_type", "parent_station"), report, required=True)
    if table is None:
        raise CityDeskError("this GTFS feed has no usable stops.txt", source=z.path,
                            fix="Use a complete GTFS zip (the GTFS reference requires stops.txt with stop_id)")
    lat, bad_lat = parse_floats(table["stop_lat"])
    lon, bad_lon = parse_floats(table["stop_lon"])
    for column, bad in (("stop_lat", bad_lat | (np.abs(lat) > 90)), ("stop_lon", bad_lon | (np.abs(lon) > 180))):
        rows = np.flatnonzero(bad)
        raw = texts(table[column])
        report.add_rows("stops.txt", rows + 2, column, [f"'{raw[i]}' is not a coordinate in degrees" for i in rows[:5]],
                        kind="bad coordinate", action="the stop has no position")
    location, _ = parse_ints(table["location_type"], 0)
    out = pd.DataFrame({"stop_id": texts(table["stop_id"]), "stop_code": texts(table["stop_code"]),
                        "stop_name": texts(table["stop_name"]), "location_type": location.astype(np.int8),
                        "parent_station": texts(table["parent_station"]),
                        "lon": np.where(bad_lon | (np.abs(lon) > 180), np.nan, lon),
                        "lat": np.where(bad_lat | (np.abs(lat) > 90), np.nan, lat)})
    return out


def _routes(z: FeedZip, report: FeedReport) -> pd.DataFrame:
    table = read_table(z, "routes.txt", ("route_id", "agency_id", "route_short_name", "route_long_name",
                                         "route_type", "route_color", "route_text_color"), report, required=True)
    if table is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("route_id", "route_short_name", "route_long_name",
                                                                  "route_color")}
                            | {"route_type": pd.Series(dtype=np.int32), "mode": pd.Series(dtype=object)})
    kinds, bad = parse_ints(table["route_type"], -1)
    rows = np.flatnonzero(bad | (kinds < 0))
    raw = texts(table["route_type"])
    report.add_rows("routes.txt", rows + 2, "route_type", [f"'{raw[i]}' is not a route type" for i in rows[:5]],
                    kind="bad route_type", action="the route's mode is 'other'")
    modes = {t: route_mode(t) for t in np.unique(kinds)}
    colors = [_color(c) for c in texts(table["route_color"])]
    return pd.DataFrame({"route_id": texts(table["route_id"]), "agency_id": texts(table["agency_id"]),
                         "route_short_name": texts(table["route_short_name"]),
                         "route_long_name": texts(table["route_long_name"]),
                         "route_type": kinds.astype(np.int32), "mode": [modes[t] for t in kinds],
                         "route_color": colors})


def _color(text) -> str | None:
    text = (text or "").strip().lstrip("#")
    return f"#{text.upper()}" if len(text) == 6 and all(c in "0123456789abcdefABCDEF" for c in text) else None


def _trips(z: FeedZip, routes: pd.DataFrame, report: FeedReport) -> tuple[pd.DataFrame, pa.Array]:
    table = read_table(z, "trips.txt", ("trip_id", "route_id", "service_id", "direction_id", "shape_id"), report,
                       required=True)
    if table is None:
        table = pa.table({c: pa.array([], pa.string()) for c in ("trip_id", "route_id", "service_id",
                                                                 "direction_id", "shape_id")})
    route_ids = pa.array(routes["route_id"].tolist(), pa.string())
    route = np.asarray(pc.fill_null(pc.index_in(table["route_id"], value_set=route_ids), -1)
                       .to_numpy(zero_copy_only=False), dtype=np.int32)
    rows = np.flatnonzero(route < 0)
    raw = texts(table["route_id"])
    report.add_rows("trips.txt", rows + 2, "route_id", [f"route '{raw[i]}' is not in routes.txt" for i in rows[:5]],
                    kind="unknown route", action="the trip is left out")
    direction, _ = parse_ints(table["direction_id"], -1)
    trip_ids = table["trip_id"].combine_chunks() if table.num_rows else pa.array([], pa.string())
    trips = pd.DataFrame({"trip_id": texts(trip_ids), "route": route, "service_id": texts(table["service_id"]),
                          "direction": np.where(np.isin(direction, (0, 1)), direction, -1).astype(np.int8),
                          "shape_id": texts(table["shape_id"])})
    duplicated = trips["trip_id"].duplicated().to_numpy()
    rows = np.flatnonzero(duplicated)
    report.add_rows("trips.txt", rows + 2, "trip_id", [f"trip '{trips['trip_id'].iat[i]}' is listed twice"
                    for i in rows[:5]], kind="duplicate trip", action="the first is used")
    return trips, trip_ids


def _stop_times(z: FeedZip, trip_ids: pa.Array, keep_trip: np.ndarray, stops: pd.DataFrame, report: FeedReport,
                fb: Feedback) -> dict[str, np.ndarray]:
    """The stop times of the trips in ``keep_trip``, sorted by trip and stop_sequence: trip, stop
    (positions), time_s (departure, else arrival; interpolated between known times), pickup."""
    parts: dict[str, list] = {k: [] for k in ("trip", "stop", "seq", "time", "pickup", "line")}
    header = z.columns("stop_times.txt", report, required=True)
    if header is not None:
        stop_ids = pa.array(stops["stop_id"].tolist(), pa.string())
        size = max(z.zf.getinfo(z.members["stop_times.txt"]).file_size, 1)
        done = 0
        for offset, batch in z.stream("stop_times.txt", header, STOP_TIME_COLUMNS):
            fb.check_cancelled()
            _batch(batch, offset, trip_ids, keep_trip, stop_ids, parts, report)
            done += batch.nbytes
            fb.progress(0.05 + 0.75 * min(1.0, done / size), "Reading GTFS stop times")
    cat = {k: (np.concatenate(v) if v else np.zeros(0, np.int32)) for k, v in parts.items()}
    order = np.lexsort((cat["seq"], cat["trip"]))
    st = {k: v[order] for k, v in cat.items()}
    return _fill_times(st, trip_ids, report)


def _batch(batch: pa.RecordBatch, offset: int, trip_ids: pa.Array, keep_trip: np.ndarray, stop_ids: pa.Array,
           parts: dict, report: FeedReport) -> None:
    names = batch.schema.names
    trip = np.asarray(pc.fill_null(pc.index_in(batch["trip_id"], value_set=trip_ids), -1)
                      .to_numpy(zero_copy_only=False), dtype=np.int32)
    unknown = np.flatnonzero(trip < 0)
    if len(unknown):
        raw = texts(batch["trip_id"].take(pa.array(unknown[:5])))
        report.add_rows("stop_times.txt", unknown + offset + 2, "trip_id",
                        [f"trip '{t}' is not in trips.txt" for t in raw], kind="unknown trip", action="row left out")
    rows = np.flatnonzero((trip >= 0) & keep_trip[np.maximum(trip, 0)])
    if len(rows) == 0:
        return
    sub = batch.take(pa.array(rows)) if len(rows) < batch.num_rows else batch
    stop = np.asarray(pc.fill_null(pc.index_in(sub["stop_id"], value_set=stop_ids), -1)
                      .to_numpy(zero_copy_only=False), dtype=np.int32)
    missing = np.flatnonzero(stop < 0)
    if len(missing):
        raw = texts(sub["stop_id"].take(pa.array(missing[:5])))
        report.add_rows("stop_times.txt", rows[missing] + offset + 2, "stop_id",
                        [f"stop '{s}' is not in stops.txt" for s in raw], kind="unknown stop", action="row left out")
    seq, bad_seq = parse_ints(sub["stop_sequence"], -1)
    bad_rows = np.flatnonzero(bad_seq | (seq < 0))
    report.add_rows("stop_times.txt", rows[bad_rows] + offset + 2, "stop_sequence",
                    ["not a whole number >= 0"] * min(len(bad_rows), 5), kind="bad stop_sequence",
                    action="row left out")
    time = np.full(len(rows), -1, np.int32)
    for column in ("departure_time", "arrival_time"):  # the arrival time only where no departure time
        todo = np.flatnonzero(time < 0)
        if column not in names or len(todo) == 0:
            continue
        part = sub[column] if len(todo) == len(time) else sub[column].take(pa.array(todo))
        values, bad = parse_times(part)
        bad_rows = np.flatnonzero(bad)
        if len(bad_rows):
            raw = texts(part.take(pa.array(bad_rows[:5])))
            report.add_rows("stop_times.txt", rows[todo[bad_rows]] + offset + 2, column,
                            [f"'{t}' is not a time HH:MM:SS" for t in raw], kind="bad time",
                            action="interpolated from the stops around it")
        time[todo] = values
    pickup = parse_ints(sub["pickup_type"], 0)[0].astype(np.int8) if "pickup_type" in names \
        else np.zeros(len(rows), np.int8)
    good = (stop >= 0) & (seq >= 0) & ~bad_seq
    for key, values in (("trip", trip[rows]), ("stop", stop), ("seq", seq.astype(np.int32)), ("time", time),
                        ("pickup", pickup), ("line", (rows + offset + 2).astype(np.int32))):
        parts[key].append(values[good])


def _fill_times(st: dict, trip_ids: pa.Array, report: FeedReport) -> dict[str, np.ndarray]:
    """Times missing between two known ones interpolated by position; trips whose first or last
    stop has no time left out (reported)."""
    trip, time = st["trip"], st["time"].astype(np.int64)
    n = len(trip)
    if n == 0:
        return st | {"first": np.zeros(0, bool), "last": np.zeros(0, bool)}
    first = np.r_[True, trip[1:] != trip[:-1]]
    last = np.r_[trip[1:] != trip[:-1], True]
    ends_missing = (first | last) & (time < 0)
    bad_trips, where = np.unique(trip[ends_missing], return_index=True)
    if len(bad_trips):
        ids = texts(trip_ids.take(pa.array(bad_trips[:5])))
        report.add_rows("stop_times.txt", st["line"][np.flatnonzero(ends_missing)[where]], "arrival_time",
                        [f"trip '{t}' has no time at its first or last stop" for t in ids],
                        kind="trip without end times", action="the trip is left out")
        keep = ~np.isin(trip, bad_trips)
        st = {k: v[keep] for k, v in st.items()}
        trip, time = st["trip"], st["time"].astype(np.int64)
        first, last = first[keep], last[keep]
    missing = time < 0
    if missing.any():
        pos = np.arange(len(time))
        time[missing] = np.round(np.interp(pos[missing], pos[~missing], time[~missing]))
    st["time"] = time.astype(np.int32)
    backwards = np.flatnonzero(~first[1:] & (np.diff(time) < 0)) if len(time) > 1 else np.zeros(0, int)
    if len(backwards):
        ids = texts(trip_ids.take(pa.array(trip[backwards[:5] + 1])))
        report.add_rows("stop_times.txt", st["line"][backwards + 1], "arrival_time",
                        [f"trip '{t}' goes back in time between two stops" for t in ids], kind="time goes back",
                        action="kept as given")
    st["first"], st["last"] = first, last
    return st


def _departures(st: dict, trips: pd.DataFrame, freq: dict, today: np.ndarray,
                before: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Every departure on the date: scheduled trips as given, frequency trips expanded, and the
    trips of the day before that run past midnight (times - 24 h)."""
    n_trips = len(trips)
    trip = st["trip"]
    row_start = np.searchsorted(trip, np.arange(n_trips), side="left")
    row_count = np.searchsorted(trip, np.arange(n_trips), side="right") - row_start
    first_time = np.full(n_trips, 0, np.int64)
    has_rows = row_count > 0
    first_time[has_rows] = st["time"][row_start[has_rows]]
    departs = ~st["last"] & (st["pickup"] != 1)
    templated = np.zeros(n_trips, bool)
    templated[freq["trip"]] = True
    rows_all, times_all, runs = [], [], {}
    for mask, shift, name in ((today, 0, "today"), (before, -DAY_S, "before")):
        scheduled = mask & ~templated & has_rows
        s_rows = np.flatnonzero(scheduled[trip]) if len(trip) else np.zeros(0, np.int64)
        inst_trip, inst_start = instances(freq, mask & has_rows)
        f_rows, f_times = expand(row_start, row_count, first_time, st["time"], inst_trip, inst_start)
        rows = np.concatenate([s_rows, f_rows])
        times = np.concatenate([st["time"][s_rows].astype(np.int64), f_times]) + shift
        keep = departs[rows] & (times >= 0)
        rows_all.append(rows[keep])
        times_all.append(times[keep])
        runs[name] = int(scheduled.sum()) + len(inst_trip)
        if name == "today":
            trips["runs"] = (scheduled.astype(np.int32) + np.bincount(inst_trip, minlength=n_trips)).astype(np.int32)
        runs[name + "_departures"] = int(keep.sum())
    rows = np.concatenate(rows_all)
    trip_of = trip[rows]
    departures = pd.DataFrame({"stop": st["stop"][rows], "route": trips["route"].to_numpy()[trip_of],
                               "trip": trip_of, "direction": trips["direction"].to_numpy()[trip_of],
                               "time_s": np.concatenate(times_all).astype(np.int32)})
    counts = {"trips_on_date": runs["today"], "trips_frequency_based": int((templated & today).sum()),
              "departures_from_day_before": runs["before_departures"],
              "departures": len(departures),
              "first_departure": format_time(departures["time_s"].min()) if len(departures) else None,
              "last_departure": format_time(departures["time_s"].max()) if len(departures) else None}
    return departures, counts
