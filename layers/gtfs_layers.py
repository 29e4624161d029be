"""Map layers of a GTFS feed on a date: ``transit_stops`` (the routes and modes serving each stop,
departures in a time window and per hour) and ``transit_routes`` (one line per route from its
shapes, else from its stop sequence, with mode and colour). Both in EPSG:4326, carrying the feed's
path in ``attrs["gtfs_path"]``."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from layers.gtfs import PATH_ATTR, Feed
from layers.gtfs_read import FeedZip, format_time, parse_floats, parse_ints, texts

AM_PEAK = (8 * 3600 + 15 * 60, 9 * 3600 + 15 * 60)  # TfL's AM peak, 08:15-09:15
MODE_ORDER = ("rail", "metro", "tram", "bus", "ferry", "aerial", "funicular", "other")


def parse_clock(text: str) -> int:
    """'08:15' or '08:15:00' (hours past 24 allowed) as seconds after midnight."""
    from layers.errors import CityDeskError

    parts = str(text).strip().split(":")
    try:
        if len(parts) not in (2, 3) or any(not p.isdigit() for p in parts):
            raise ValueError
        h, m, s = (int(p) for p in (parts + ["0"])[:3])
        if m > 59 or s > 59:
            raise ValueError
    except ValueError:
        raise CityDeskError(f"'{text}' is not a time of day", fix="Give it as HH:MM, e.g. 08:15") from None
    return h * 3600 + m * 60 + s


def window_hours(start_s: int, end_s: int) -> float:
    from layers.errors import CityDeskError

    if end_s <= start_s:
        raise CityDeskError(f"the time window ends ({format_time(end_s)}) before it starts ({format_time(start_s)})",
                            fix="Give an end time after the start time (past midnight: 25:00 is 01:00 next day)")
    return (end_s - start_s) / 3600.0


def stop_route_frequency(feed: Feed, start_s: int, end_s: int) -> pd.DataFrame:
    """Per stop and route: departures in the window in the busier direction (``departures``) and
    as a frequency per hour (``per_hour``), with the route's ``mode``. TfL's per-route frequency."""
    hours = window_hours(start_s, end_s)
    dep = feed.departures_between(start_s, end_s)
    if len(dep) == 0:
        return pd.DataFrame({"stop": pd.Series(dtype=np.int32), "route": pd.Series(dtype=np.int32),
                             "departures": pd.Series(dtype=np.int64), "per_hour": pd.Series(dtype=float),
                             "mode": pd.Series(dtype=object)})
    by_dir = dep.groupby(["stop", "route", "direction"], sort=False).size()
    best = by_dir.groupby(level=["stop", "route"], sort=False).max().rename("departures").reset_index()
    best["per_hour"] = best["departures"] / hours
    best["mode"] = feed.routes["mode"].to_numpy()[best["route"].to_numpy()]
    return best


def transit_stops(feed: Feed, start_s: int = AM_PEAK[0], end_s: int = AM_PEAK[1]) -> gpd.GeoDataFrame:
    """The stops with ``routes`` (short names), ``modes``, ``departures`` in the window (all
    directions), ``per_hour`` (that per hour), ``departures_day`` (on the whole date)."""
    stops = feed.stops
    hours = window_hours(start_s, end_s)
    dep = feed.departures
    day = np.bincount(dep["stop"].to_numpy(), minlength=len(stops))
    win = feed.departures_between(start_s, end_s)
    in_window = np.bincount(win["stop"].to_numpy(), minlength=len(stops))
    pairs = dep[["stop", "route"]].drop_duplicates()
    names = feed.routes["route_short_name"].fillna(feed.routes["route_id"]).astype(str).to_numpy()
    pairs = pairs.assign(name=names[pairs["route"].to_numpy()], mode=feed.routes["mode"].to_numpy()[pairs["route"]])
    routes = pairs.groupby("stop")["name"].agg(lambda s: ", ".join(sorted(set(s), key=_natural)))
    modes = pairs.groupby("stop")["mode"].agg(lambda s: ", ".join(m for m in MODE_ORDER if m in set(s)))
    out = pd.DataFrame({"stop_id": stops["stop_id"], "stop_code": stops["stop_code"], "stop_name": stops["stop_name"],
                        "location_type": stops["location_type"], "parent_station": stops["parent_station"]})
    out["routes"] = routes.reindex(range(len(stops))).to_numpy()
    out["modes"] = modes.reindex(range(len(stops))).to_numpy()
    out["departures"] = in_window.astype(np.int32)
    out["per_hour"] = np.round(in_window / hours, 2)
    out["departures_day"] = day.astype(np.int32)
    gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(stops["lon"], stops["lat"]), crs="EPSG:4326")
    _attrs(gdf, feed, start_s, end_s)
    return gdf


def transit_routes(feed: Feed, start_s: int = AM_PEAK[0], end_s: int = AM_PEAK[1]) -> gpd.GeoDataFrame:
    """One line feature per route running on the date: the most used shape of each direction
    (``shapes.txt``), else the stop sequence of its longest trip in that direction. Columns
    ``route_id``, names, ``route_type``, ``mode``, ``route_color`` (#RRGGBB or empty), ``trips``
    on the date, ``per_hour`` (the busiest stop's departures per hour in the window, busier
    direction) and ``geometry_from`` ('shapes' or 'stops')."""
    trips = feed.trips
    running = trips[trips["runs"] > 0]
    routes = feed.routes
    freq = stop_route_frequency(feed, start_s, end_s).groupby("route")["per_hour"].max()
    lines = _route_lines(feed, running)
    rows = sorted(lines)
    out = routes.iloc[rows][["route_id", "route_short_name", "route_long_name", "route_type", "mode",
                             "route_color"]].reset_index(drop=True)
    out["trips"] = running.groupby("route")["runs"].sum().reindex(rows).fillna(0).astype(np.int32).to_numpy()
    out["per_hour"] = np.round(freq.reindex(rows).fillna(0.0).to_numpy(), 2)
    out["geometry_from"] = [lines[r][1] for r in rows]
    gdf = gpd.GeoDataFrame(out, geometry=[lines[r][0] for r in rows], crs="EPSG:4326")
    _attrs(gdf, feed, start_s, end_s)
    return gdf


def _route_lines(feed: Feed, running: pd.DataFrame) -> dict[int, tuple]:
    """route position -> (MultiLineString, 'shapes' | 'stops')."""
    main = (running.assign(shape_id=running["shape_id"].fillna(""))
            .groupby(["route", "direction", "shape_id"], dropna=False)["runs"].sum().reset_index()
            .sort_values("runs", ascending=False).drop_duplicates(["route", "direction"]))
    shapes = _read_shapes(feed, set(main["shape_id"]) - {""})
    by_route: dict[int, list] = {}
    source: dict[int, str] = {}
    need_stops = []
    for route, direction, shape_id in main[["route", "direction", "shape_id"]].itertuples(index=False):
        line = shapes.get(shape_id)
        if line is not None:
            by_route.setdefault(int(route), []).append(line)
            source.setdefault(int(route), "shapes")
        else:
            need_stops.append((int(route), int(direction)))
    if need_stops:
        for route, line in _stop_lines(feed, running, need_stops):
            by_route.setdefault(route, []).append(line)
            source[route] = "stops" if source.get(route) is None else source[route]
    return {r: (shapely.MultiLineString(parts), source[r]) for r, parts in by_route.items()}


def _stop_lines(feed: Feed, running: pd.DataFrame, wanted: list[tuple[int, int]]):
    """(route, LineString through the stops of the trip with the most stops) per (route, direction)."""
    wanted_set = set(wanted)
    xy = feed.stops[["lon", "lat"]].to_numpy()
    trip_pos = running.index.to_numpy()
    keys = list(zip(running["route"].to_numpy(), running["direction"].to_numpy(), strict=True))
    chosen: dict[tuple[int, int], int] = {}
    counts = np.bincount(feed.stop_times["trip"].to_numpy(), minlength=len(feed.trips))
    for pos, key in zip(trip_pos, keys, strict=True):
        key = (int(key[0]), int(key[1]))
        if key in wanted_set and (key not in chosen or counts[pos] > counts[chosen[key]]):
            chosen[key] = int(pos)
    seq = feed.stop_times
    trips_of = seq["trip"].to_numpy()
    for (route, _direction), trip in chosen.items():
        a, b = np.searchsorted(trips_of, [trip, trip + 1])
        pts = xy[seq["stop"].to_numpy()[a:b]]
        pts = pts[~np.isnan(pts).any(axis=1)]
        if len(pts) >= 2:
            yield route, shapely.LineString(pts)


def _read_shapes(feed: Feed, wanted: set[str]) -> dict[str, shapely.LineString]:
    """The wanted shapes of ``shapes.txt`` as lines (points in shape_pt_sequence order)."""
    if not wanted:
        return {}
    with FeedZip(feed.path) as z:
        header = z.columns("shapes.txt", feed.report)
        if header is None:
            return {}
        value_set = pa.array(sorted(wanted), pa.string())
        parts = {k: [] for k in ("shape", "seq", "lat", "lon")}
        for _, batch in z.stream("shapes.txt", header, ("shape_id", "shape_pt_sequence", "shape_pt_lat",
                                                        "shape_pt_lon")):
            idx = np.asarray(pc.fill_null(pc.index_in(batch["shape_id"], value_set=value_set), -1)
                             .to_numpy(zero_copy_only=False))
            keep = np.flatnonzero(idx >= 0)
            if not len(keep):
                continue
            sub = batch.take(pa.array(keep))
            parts["shape"].append(idx[keep])
            parts["seq"].append(parse_ints(sub["shape_pt_sequence"], -1)[0])
            parts["lat"].append(parse_floats(sub["shape_pt_lat"])[0])
            parts["lon"].append(parse_floats(sub["shape_pt_lon"])[0])
    if not parts["shape"]:
        return {}
    shape, seq, lat, lon = (np.concatenate(parts[k]) for k in ("shape", "seq", "lat", "lon"))
    good = ~np.isnan(lat) & ~np.isnan(lon)
    shape, seq, lat, lon = shape[good], seq[good], lat[good], lon[good]
    order = np.lexsort((seq, shape))
    shape, lat, lon = shape[order], lat[order], lon[order]
    bounds = np.flatnonzero(np.r_[True, shape[1:] != shape[:-1], True])
    ids = texts(value_set)
    out = {}
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b - a >= 2:
            out[str(ids[shape[a]])] = shapely.LineString(np.column_stack([lon[a:b], lat[a:b]]))
    return out


def _attrs(gdf: gpd.GeoDataFrame, feed: Feed, start_s: int, end_s: int) -> None:
    gdf.attrs[PATH_ATTR] = feed.path
    gdf.attrs["gtfs_date"] = feed.date.isoformat()
    gdf.attrs["gtfs_window"] = f"{format_time(start_s)[:5]}-{format_time(end_s)[:5]}"


def _natural(text: str):
    """'2' before '10', '6T' after '6'."""
    digits = "".join(c for c in text if c.isdigit())
    return (int(digits) if digits else 10**9, text)
