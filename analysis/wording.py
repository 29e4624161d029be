"""The words of the results, for every place that shows them (Results panel, demo, reports,
slides): labels of summary keys, the figures in order, the one-line answer of an analysis
(``Analysis.headline``, else made from well-known figures) and the parameters as text. No Qt."""

from __future__ import annotations

import re
from collections.abc import Mapping

from analysis.figures import UNITS, format_value, thousands

# Labels of the figures the registered analyses report; others are made from the key.
LABELS = {
    "covered_share": "Residents covered",
    "covered_share_buildings": "Buildings covered (share)",
    "residents_not_covered": "Residents not covered",
    "residents_total": "Residents",
    "buildings_total": "Buildings",
    "buildings_covered": "Buildings covered",
    "buildings_without_geometry": "Buildings without geometry",
    "targets_used": "Targets that counted",
    "targets_total": "Targets in the layer",
    "population_field": "Residents from column",
    "median_dist_m": "Median distance to the nearest target",
    "population_total": "Population in the grid",
    "residents_unassigned": "Residents not assigned (cells without buildings)",
    "max_residents_per_building": "Most residents in one building",
    # fill-levels
    "bins_at_risk": "Bins at overflow risk",
    "bins_with_readings": "Bins with readings",
    "collections_overflow_share": "Collections at or above the overflow level",
    "mean_fill_pct": "Mean fill at collection (%)",
    "period_start": "First reading (UTC)",
    "period_end": "Last reading (UTC)",
    "key_column": "Bins matched on column",
    "readings_unmatched": "Readings not matched to a bin",
    "reading_bins_unmatched": "Bin ids not in the layer",
    # waste-coverage, waste-siting, scenario-compare
    "bins_overloaded": "Bins overloaded",
    "median_bin_m": "Median walk to the nearest bin",
    "buildings_unreachable": "Buildings with no street nearby",
    "residents_unreachable": "Residents with no street nearby",
    "buildings_without_route": "Buildings with no walking route to a bin",
    "residents_without_route": "Residents with no walking route to a bin",
    "bins_used": "Bins that counted",
    "bins_total": "Bins in the layer",
    "bins_unreachable": "Bins with no street nearby",
    "bins_without_capacity": "Bins without a capacity (default used)",
    "bins_serving_nobody": "Bins nearest to no home",
    "gaps": "Gaps (clusters not covered)",
    "largest_gap_residents": "Residents in the largest gap",
    "kind_field": "Bin kind from column",
    "capacity_field": "Capacity from column",
    "covered_share_before": "Residents covered before",
    "covered_share_after": "Residents covered after",
    "residents_added": "Residents newly covered",
    "buildings_added": "Buildings newly covered",
    "bins_proposed": "New bins proposed",
    "method_used": "Method used",
    "greedy_residents_added": "Greedy: residents newly covered",
    "greedy_gap_bound_fraction": "Greedy: at most this far from the optimum",
    "exact_residents_added": "Exact (HiGHS): residents newly covered",
    "exact_status": "Exact solver",
    "exact_time_s": "Exact solver time",
    "greedy_gap_fraction": "Greedy short of the optimum by",
    "candidates": "Candidate sites",
    "candidates_useful": "Candidate sites that cover someone new",
    "demand_buildings": "Buildings not covered (with residents)",
    "residents_gained": "Residents gaining coverage",
    "residents_lost": "Residents losing coverage",
    "buildings_gained": "Buildings gaining coverage",
    "buildings_lost": "Buildings losing coverage",
    "points_added": "Points added",
    "points_removed": "Points removed",
    "points_moved": "Points moved",
    "points_kept": "Points kept",
    "largest_load_increase": "Largest load increase (residents)",
    "largest_load_decrease": "Largest load decrease (residents)",
    "median_dist_before_m": "Median walk to the nearest point before",
    "median_dist_after_m": "Median walk to the nearest point after",
    "max_distance_used_m": "Distance that counts as covered",
    # report-hotspots
    "peak_density_km2": "Peak density (reports/km²)",
    "peak_near": "Peak near",
    "peak_top_category": "Most reported at the peak",
    "peak_reports_within_bandwidth": "Reports near the peak",
    "hotspots": "Hotspots",
    "reports_total": "Reports",
    "reports_used": "Reports on the map",
    "reports_without_coordinates": "Reports without coordinates",
    "reports_other_categories": "Other categories (left out)",
    "category_field": "Category from column",
    # district-summary
    "zones_used": "Zones",
    "zones": "Number of zones",
    "features_in_zones": "Features in the zones",
    "features_total": "Features in the layer",
    "features_outside": "Features outside all zones",
    "features_without_geometry": "Features without geometry",
    "zones_with_features": "Zones with features",
    "max_count": "Most features in one zone",
    "zone_with_most": "Zone with the most features",
    "residents_in_zones": "Residents in the zones",
    "rate_per_1000": "Features per 1,000 residents",
    # ptal, transit-frequency
    "service_date": "Timetable day",
    "shares_of": "Shares of",
    **{f"ptal_{b}_share": f"PTAL {b}" for b in ("0", "1a", "1b", "2", "3", "4", "5", "6a", "6b")},
    "mean_ai": "Mean accessibility index",
    "max_ai": "Highest accessibility index",
    "median_band": "Median PTAL band",
    "walk_distances": "Walk distances",
    "origins_off_network": "Origins off the streets (straight line)",
    "stops_off_network": "Stops off the streets (straight line)",
    "access_points": "Stops that counted",
    "routes_counted": "Routes that counted",
    "origins": "Points computed",
    "window": "Time window",
    "stops_served": "Stops served in the window",
    "stops_in_layer": "Stops in the layer",
    "routes_running": "Routes running that day",
    "trips_on_date": "Trips that day",
    "departures_in_window": "Departures in the window",
    "feed_problems": "Problems in the feed",
    **{f"departures_per_hour_{m}": f"{m.capitalize()} departures per hour (all stops)"
       for m in ("rail", "metro", "tram", "bus", "ferry", "aerial", "funicular", "other")},
}
# More labels, by analysis (kept apart from the block above, which others edit too).
LABELS.update({
    # coverage, waste-coverage
    "max_distance_m": "Distance that counts as covered",
    # population-from-grid
    "cells_total": "Grid cells",
    "cells_without_buildings": "Cells without buildings (residents lost)",
    "cells_fallback_all_buildings": "Cells given to all buildings (none residential)",
    "buildings_with_residents": "Buildings given residents",
    "buildings_residential": "Buildings that may hold homes",
    "levels_from_tag": "Buildings with levels from a levels tag",
    "levels_from_height": "Buildings with levels from the height",
    "levels_default": "Buildings with the default levels",
    # age-friendly
    "share_all_in_reach": "Residents reaching every destination",
    "share_all_rest_in_reach": "Residents reaching every destination with rests",
    "mean_score": "Mean score (0–100)",
    "mean_rest_score": "Mean score with rests (0–100)",
    "new_benches": "New benches proposed",
    "new_benches_residents_connected": "Residents the new benches connect",
    "rest_points": "Rest points (benches and stops)",
    "rest_points_stops": "Rest points at stops",
    "areas": "Areas summed up",
    "residents_outside_areas": "Residents outside the districts",
    "buildings_off_main_network": "Buildings off the main network",
    "residents_off_main_network": "Residents off the main network",
    "buildings_moved_off_small_pieces": "Buildings moved off small network pieces",
    "destinations_moved_off_small_pieces": "Destinations moved off small network pieces",
    "walk_speed_mps": "Walking speed",
    "rest_max_m": "Longest stretch without a rest",
    "network_nodes": "Network junctions",
    "network_edges": "Network street segments",
    "network_components": "Network pieces",
    "network_largest_share": "Network in the largest piece",
    "network_length_km": "Network length",
    "network_joined_endpoints": "Network: dangling ends joined",
    "network_crossings_noded": "Network: crossings joined",
    # isochrones
    "origins_total": "Origins",
    "origins_snapped": "Origins on the network",
    "origins_unreachable": "Origins too far from the streets",
    "origins_off_main_network": "Origins off the main network",
    "origins_moved_off_small_pieces": "Origins moved off small network pieces",
    "minutes": "Walking times (min)",
    "bands_m": "Walking distances (m)",
    # fill-levels
    "bins": "Bins",
    "readings": "Readings",
    "collections": "Collections",
    "overflow_pct": "Overflow level",
    # air-quality
    "stations": "Stations",
    "matched_stations": "Stations with readings",
    "pollutants": "Pollutants",
    "year": "Year assessed",
    "timezone": "Time zone",
    "station_column": "Stations matched on column",
    "readings_dropped": "Readings dropped",
    "readings_missing_in_gaps": "Readings missing in gaps",
    "coverage_rules": "Data coverage rules",
    "stations_exceeding_who2021": "Stations above WHO 2021 guidelines",
    "stations_exceeding_eu2030": "Stations above EU 2030 limit values",
    "stations_exceeding_eu2008": "Stations above 2008/50/EC limit values",
    **{f"{p}_max_mean": f"Highest {name} annual mean (µg/m³)"
       for p, name in (("no2", "NO2"), ("pm25", "PM2.5"), ("pm10", "PM10"))},
    # sensor-surface
    "value": "Interpolated value",
    "stations_used": "Stations used",
    "cells": "Surface cells",
    "cell_m": "Cell size",
    "area_of_interest": "Area of interest",
    "area_km2": "Area (km²)",
    "surface_min": "Surface lowest",
    "surface_max": "Surface highest",
    "surface_mean": "Surface mean",
    "loo_rmse": "Leave-one-out error (RMSE)",
    "loo_mae": "Leave-one-out error (mean absolute)",
    "loo_note": "How far to trust it",
})
#: Labels of summary keys that hold a name (a destination, a number of minutes): regular
#: expression -> label with ``{}`` for the groups (a destination's words from DESTINATION_WORDS).
PATTERNS = (
    (r"share_in_reach_(\w+)", "Residents reaching {}"),
    (r"share_rest_in_reach_(\w+)", "Residents reaching {} with rests"),
    (r"residents_in_reach_(\w+)", "Residents reaching {} (count)"),
    (r"residents_rest_in_reach_(\w+)", "Residents reaching {} with rests (count)"),
    (r"residents_out_of_reach_(\w+)", "Residents not reaching {}"),
    (r"median_(transit_stops|benches|toilets|pharmacies|groceries|green_spaces|healthcare)_m", "Median walk to {}"),
    (r"targets_unreachable_(\w+)", "{plural} away from the streets"),
    (r"targets_(transit_stops|benches|toilets|pharmacies|groceries|green_spaces|healthcare)",
     "{plural} in the layer"),
    (r"mean_area_km2_(\d+(?:\.\d+)?)min", "Mean area within {} min (km²)"),
    (r"covered_share_(\w+)", "Residents covered by {} bins"),
)
DESTINATION_WORDS = {"transit_stops": "a stop", "benches": "a bench", "toilets": "a toilet",
                     "pharmacies": "a pharmacy", "groceries": "a grocery", "green_spaces": "a green space",
                     "healthcare": "health care"}
#: Figures in the unit of the summary's ``unit`` (sensor-surface: the readings' unit).
IN_VALUE_UNIT = ("surface_min", "surface_max", "surface_mean", "loo_rmse", "loo_mae")


def label_of(key: str) -> str:
    """A summary key as a label: 'median_dist_m' -> 'Median distance to the nearest target' (known
    keys have hand-written labels, others are made from the key: 'walk_time_min' -> 'Walk time')."""
    if key in LABELS:
        return LABELS[key]
    for pattern, text in PATTERNS:
        found = re.fullmatch(pattern, key)
        if found:
            raw = found.group(1).replace("_", " ")
            words = [DESTINATION_WORDS.get(g, g.replace("_", " ")) for g in found.groups()]
            text = text.format(*words, plural=raw)
            return text[:1].upper() + text[1:]
    return param_label(key)


def param_label(key: str) -> str:
    """A parameter name without its unit: 'max_distance_m' -> 'Max distance'."""
    words = key.split("_")
    if len(words) > 1 and words[-1] in UNITS:
        words = words[:-1]
    text = " ".join("distance" if w == "dist" else w for w in words)
    return text[:1].upper() + text[1:]


def key_figures(summary: Mapping[str, object], keys=None) -> list[tuple[str, str]]:
    """``[(label, formatted value)]`` for the figures of a summary named by ``keys`` (in that
    order; all of them, in the summary's order, when None)."""
    out = []
    for key in (summary if keys is None else [k for k in keys if k in summary]):
        value = summary[key]
        if key == "population_field":
            value = value or "none (each building counts as 1)"
        unit = str(summary.get("unit") or "") if key in IN_VALUE_UNIT else ""
        out.append((label_of(key), format_value(key, value, unit)))
    return out


def split_figures(summary: Mapping[str, object], analysis: str = "") -> tuple[list[str], list[str]]:
    """The summary keys in two groups: the analysis's key figures (``Analysis.key_figures``), then
    the rest. Without declared key figures every figure is a key figure."""
    spec = _spec(analysis)
    first = [k for k in (spec.key_figures if spec is not None else ()) if k in summary]
    if not first:
        return list(summary), []
    return first, [k for k in summary if k not in first]


def _spec(analysis: str):
    from analysis.registry import analyses

    return analyses().get(analysis) if analysis else None


def headline(summary: Mapping[str, object], analysis: str = "") -> str:
    """The one line that answers the question, e.g. '72.4 % of residents covered': the analysis's
    own ``Analysis.headline`` when it declares one, else made from well-known figures."""
    spec = _spec(analysis)
    if spec is not None and spec.headline is not None:
        try:
            return spec.headline(summary)
        except (KeyError, TypeError, ValueError):
            pass  # an entry saved by an older version: the generic line below
    if "covered_share_before" in summary and "covered_share_after" in summary:
        text = (f"Coverage {format_value('covered_share', summary['covered_share_before'])} → "
                f"{format_value('covered_share', summary['covered_share_after'])}")
        if "bins_proposed" in summary:
            n = summary["bins_proposed"]
            text += f" with {n} new bin{'s' if n != 1 else ''}"
        elif "residents_gained" in summary:
            gained = format_value("residents", summary["residents_gained"])
            lost = summary.get("residents_lost") or 0
            text += f" ({gained} residents gain, " + (f"{format_value('residents', lost)} lose)" if round(lost)
                                                       else "none lose)")
        return text
    if "covered_share" in summary:
        who = "residents" if summary.get("population_field") else "buildings"
        text = f"{format_value('covered_share', summary['covered_share'])} of {who} covered"
        if summary.get("population_field") and "residents_not_covered" in summary:
            text += f" ({format_value('residents', summary['residents_not_covered'])} not covered)"
        return text
    if "residents_total" in summary and "buildings_with_residents" in summary:
        return (f"{format_value('residents', summary['residents_total'])} residents in "
                f"{format_value('n', summary['buildings_with_residents'])} buildings")
    for key, value in summary.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{label_of(key)}: {format_value(key, value)}"
    return ""


def describe_params(params: Mapping[str, object], units: Mapping[str, str] | None = None) -> list[str]:
    """``['Max distance: 300 m', 'Population field: (automatic)']``."""
    units = units or {}
    out = []
    for key, value in params.items():
        shown = "(automatic)" if value == "" else format_value(key, value, units.get(key, ""))
        if isinstance(value, float) and value.is_integer() and units.get(key):
            shown = f"{thousands(round(value))} {units[key]}"
        out.append(f"{param_label(key)}: {shown}")
    return out


