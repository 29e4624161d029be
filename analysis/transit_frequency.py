"""``transit-frequency`` — departures per hour per stop and per route in a time window, by mode,
from a GTFS timetable (the ``gtfs`` role: a stops layer read from a GTFS zip, see
:mod:`analysis.ptal`)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.gtfs import feed_for_layer
from layers.gtfs_layers import MODE_ORDER, parse_clock, transit_routes, transit_stops, window_hours
from layers.style import Style


def transit_frequency(gtfs: gpd.GeoDataFrame, *, date: str = "", start_time: str = "08:15", end_time: str = "09:15",
                      feedback: Feedback | None = None) -> AnalysisResult:
    """Layers ``stops`` (the layer's stops with ``routes``, ``modes``, ``departures`` in the window,
    ``per_hour`` and ``per_hour_<mode>``) and ``routes`` (lines with ``trips`` on the date and
    ``per_hour``: the busiest stop's departures per hour in the busier direction); the chart
    ``departures_by_hour`` (per mode, the whole service day); a summary by mode."""
    fb = ensure(feedback)
    if gtfs.crs is None or not gtfs.crs.is_projected:
        raise CityDeskError("transit-frequency needs layers in a metric CRS", source="gtfs",
                            fix="Run it through citydesk run or the window, which reproject for you")
    start_s, end_s = parse_clock(start_time), parse_clock(end_time)
    hours = window_hours(start_s, end_s)
    feed = feed_for_layer(gtfs, service_date=date or None, feedback=SubFeedback(fb, 0.0, 0.6))
    fb.progress(0.6, "Departures per stop")
    all_stops = transit_stops(feed, start_s, end_s)
    win = feed.departures_between(start_s, end_s)
    modes_of = feed.routes["mode"].to_numpy()
    by_mode = pd.crosstab(win["stop"], modes_of[win["route"].to_numpy()]) if len(win) else pd.DataFrame()
    if "stop_id" not in gtfs.columns:
        raise CityDeskError("the 'gtfs' layer has no stop_id column", source="gtfs",
                            fix="Choose the stops layer added from the GTFS zip")
    pos = pd.Index(feed.stops["stop_id"].astype(str)).drop_duplicates().get_indexer(gtfs["stop_id"].astype(str))
    rows = np.flatnonzero(pos >= 0)
    stops = gpd.GeoDataFrame(all_stops.drop(columns="geometry").iloc[pos[rows]].reset_index(drop=True),
                             geometry=gtfs.geometry.to_numpy()[rows], crs=gtfs.crs)
    for mode in [m for m in MODE_ORDER if m in by_mode.columns]:
        stops[f"per_hour_{mode}"] = np.round(by_mode[mode].reindex(pos[rows]).fillna(0).to_numpy() / hours, 2)
    fb.progress(0.75, "Route lines")
    fb.check_cancelled()
    routes = transit_routes(feed, start_s, end_s).to_crs(gtfs.crs)
    per_route = pd.Series(np.bincount(win["route"].to_numpy(), minlength=len(feed.routes)),
                          index=feed.routes["route_id"].to_numpy()).groupby(level=0).sum()
    routes["departures"] = per_route.reindex(routes["route_id"].to_numpy()).fillna(0).to_numpy(np.int32)
    chart = _by_hour(feed)
    summary = {"departures_in_window": int(len(win)), "service_date": feed.date.isoformat(),
               "window": f"{start_time}-{end_time}",
               "stops_served": int((stops["departures"] > 0).sum()), "stops_in_layer": int(len(gtfs)),
               "routes_running": int(len(routes)), "trips_on_date": int(feed.counts["trips_on_date"]),
               "feed_problems": int(feed.report.total)}
    for mode in MODE_ORDER:
        n = int((modes_of[win["route"].to_numpy()] == mode).sum()) if len(win) else 0
        if n:
            summary[f"departures_per_hour_{mode}"] = round(n / hours, 1)
    params = {"date": date, "start_time": start_time, "end_time": end_time}
    fb.progress(1.0, "Frequencies done")
    return AnalysisResult.make("transit-frequency", {"stops": stops, "routes": routes}, summary, params,
                               charts={"departures_by_hour": chart})


def _by_hour(feed) -> pd.DataFrame:
    """Departures in each hour of the service day, one column per mode."""
    dep = feed.departures
    hour = np.maximum(dep["time_s"].to_numpy() // 3600, 0)
    modes = feed.routes["mode"].to_numpy()[dep["route"].to_numpy()]
    table = pd.crosstab(hour, modes) if len(dep) else pd.DataFrame(index=pd.Index([], name="hour"))
    table = table.reindex(range(int(hour.max()) + 1 if len(hour) else 24), fill_value=0)
    table = table[[m for m in MODE_ORDER if m in table.columns]]
    out = pd.concat([pd.Series(table.index, name="hour"), table.reset_index(drop=True)], axis=1)
    out.columns = ["hour", *(f"{m}" for m in table.columns)]
    out.attrs.update(title=f"Departures per hour on {feed.date.isoformat()}", x_label="hour of the day",
                     y_label="departures")
    return out


def headline(summary) -> str:
    """'2 340 departures from 412 of 500 stops, 08:15-09:15 on 2025-03-12; 198 routes running that day'."""
    from analysis.figures import thousands

    text = (f"{thousands(summary['departures_in_window'])} departures from {thousands(summary['stops_served'])} of "
            f"{thousands(summary['stops_in_layer'])} stops, {summary['window']} on {summary['service_date']}")
    return text + f"; {thousands(summary['routes_running'])} routes running that day"


SPEC = Analysis(
    id="transit-frequency",
    partition_note="it counts departures per stop and route from the timetable; there is no area to cut",
    title="Transit frequency (GTFS)",
    description="Departures per hour at each stop and on each route in a time window, by mode, from a GTFS "
                "timetable.",
    roles=(Role("gtfs", ("point",), help="the stops layer added from a GTFS zip: its timetable is used",
                needs_attr="gtfs_path"),),
    params=(
        Param("date", "str", "", "service date YYYY-MM-DD (empty: the feed's busiest day)"),
        Param("start_time", "str", "08:15", "start of the time window HH:MM"),
        Param("end_time", "str", "09:15", "end of the time window HH:MM (past midnight: 25:00)"),
    ),
    run=transit_frequency,
    key_figures=("departures_in_window", "stops_served", "stops_in_layer", "routes_running", "window", "service_date",
                 "feed_problems"),
    headline=headline,
    result_styles={
        "stops": Style(kind="graduated", field="per_hour", scheme="natural_breaks", classes=5, ramp="YlOrRd",
                       stroke="#555555", stroke_width=0.5, size=6.0, unit="/h"),
        "routes": Style(kind="graduated", field="per_hour", scheme="natural_breaks", classes=5, ramp="YlGnBu",
                        stroke_width=2.0, unit="/h"),
    },
)
