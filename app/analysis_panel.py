"""The Results panel: the key figures of each analysis run in the window, with the parameters and
input layers it used (so a figure can be traced), newest first, each copyable as plain text.

The formatting functions (:func:`key_figures`, :func:`headline`, :func:`entry_text`) are plain
Python: shares as percentages, residents as whole numbers, distances in metres."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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
#: Figures longer than this (characters) are shown under their name, wrapped.
LONG_VALUE = 20


@dataclass
class ResultEntry:
    """One run as the panel shows it. ``params`` are the values used, ``units`` their units,
    ``inputs`` role -> project layer name, ``layers`` the result layers added to the project."""

    title: str
    analysis: str
    analysis_title: str
    summary: Mapping[str, object]
    params: Mapping[str, object]
    inputs: Mapping[str, str]
    layers: list[str] = field(default_factory=list)
    units: Mapping[str, str] = field(default_factory=dict)
    finished: datetime = field(default_factory=datetime.now)
    charts: Mapping[str, object] = field(default_factory=dict)  # name -> DataFrame (AnalysisResult.charts)


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


def entry_text(entry: ResultEntry) -> str:
    """The entry as plain text, for the clipboard."""
    lines = [entry.title, f"{entry.analysis_title} ({entry.analysis}), {entry.finished:%Y-%m-%d %H:%M}"]
    if headline(entry.summary, entry.analysis):
        lines += ["", headline(entry.summary, entry.analysis)]
    lines += [""] + [f"{label}: {value}" for label, value in key_figures(entry.summary)]
    lines += ["", "Parameters:"] + [f"  {p}" for p in describe_params(entry.params, entry.units)]
    lines += ["Input layers:"] + [f"  {role}: {name}" for role, name in entry.inputs.items()]
    if entry.layers:
        lines += ["Result layers:"] + [f"  {name}" for name in entry.layers]
    for name, table in entry.charts.items():
        lines += ["", f"{table.attrs.get('title', name)}:", table.to_csv(sep="\t", index=False).rstrip()]
    return "\n".join(lines) + "\n"


def unbroken(text: str) -> str:
    """``text`` with the space after a number made non-breaking, so that a wrapped line never
    splits a number ('4 016') or a number from its unit ('151 m', '97.0 %')."""
    return re.sub(r"(?<=\d) (?=\S)", "\u00a0", text)


def _label(text: str, *, selectable: bool = False, wrap: bool = True) -> QLabel:
    label = QLabel(unbroken(text) if wrap else text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # layer names and titles come from files
    label.setWordWrap(wrap)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _chart_label(name: str, table, parent: QWidget) -> QLabel:
    """A chart table drawn once (matplotlib Agg, :mod:`app.result_charts`) into a label: small,
    sharp on high-density screens, its numbers are in the Copy text."""
    from PySide6.QtGui import QPixmap

    from app.result_charts import chart_png

    scale = parent.devicePixelRatioF() if parent is not None else 1.0
    pixmap = QPixmap()
    pixmap.loadFromData(chart_png(table, width_px=250, height_px=175, scale=scale), "PNG")
    pixmap.setDevicePixelRatio(scale)
    label = QLabel(parent)
    label.setObjectName(f"chart_{name}")
    label.setPixmap(pixmap)
    label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    label.setAccessibleName(str(table.attrs.get("title", name)))
    return label


class ResultCard(QFrame):
    """One run: title, headline, key figures, parameters, inputs, and Copy / Remove buttons."""

    removeRequested = Signal(object)

    def __init__(self, entry: ResultEntry, parent: QWidget | None = None):
        super().__init__(parent)
        self.entry = entry
        self.setObjectName("result_card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#result_card { background: palette(base); border: 1px solid palette(mid); "
                           "border-radius: 4px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(4)

        top = QHBoxLayout()
        title = _label(entry.title, selectable=True)
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        title.setFont(font)
        top.addWidget(title, 1)
        self.copy_button = QToolButton(self, text="Copy", toolTip="Copy the figures, parameters and inputs as text")
        self.remove_button = QToolButton(self, toolTip="Remove from the panel (the layers stay)")
        self.remove_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.remove_button.setAutoRaise(True)
        top.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        layout.addWidget(self._grey(f"{entry.analysis_title} · {entry.finished:%H:%M}"))

        text = headline(entry.summary, entry.analysis)
        if text:
            self.headline = _label(text, selectable=True)
            font = self.headline.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            font.setBold(True)
            self.headline.setFont(font)
            self.headline.setStyleSheet("color: #0b5394; margin: 4px 0;")
            layout.addWidget(self.headline)

        self.figure_labels: dict[str, QLabel] = {}
        first, rest = split_figures(entry.summary, entry.analysis)
        layout.addWidget(self._figures(first))
        self.more_button = self.more = None
        if rest:
            self.more_button = QToolButton(self, text=f"More figures ({len(rest)})", checkable=True)
            self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.more_button.setArrowType(Qt.ArrowType.RightArrow)
            self.more_button.setAutoRaise(True)
            self.more = self._figures(rest)
            self.more.setVisible(False)
            self.more_button.toggled.connect(self._show_more)
            layout.addWidget(self.more_button)
            layout.addWidget(self.more)
        self.charts: list[QLabel] = []
        for name, table in entry.charts.items():
            chart = _chart_label(name, table, self)
            layout.addWidget(chart)
            self.charts.append(chart)

        layout.addWidget(self._section("Parameters"))
        layout.addWidget(self._grey("\n".join(describe_params(entry.params, entry.units)) or "(none)"))
        layout.addWidget(self._section("Input layers"))
        layout.addWidget(self._grey("\n".join(f"{role}: {name}" for role, name in entry.inputs.items())))
        if entry.layers:
            layout.addWidget(self._section("Result layers"))
            layout.addWidget(self._grey("\n".join(entry.layers)))
        self.copy_button.clicked.connect(self.copy)
        self.remove_button.clicked.connect(lambda: self.removeRequested.emit(self))

    def _figures(self, keys: list[str]) -> QWidget:
        box = QWidget(self)
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        row = 0
        for label, value in key_figures(self.entry.summary, keys):
            name = _label(label)
            name.setStyleSheet("color: palette(dark);")
            long = len(value) > LONG_VALUE
            shown = _label(value, selectable=True, wrap=long)
            if long:  # a note or a list: under its name, across the card, wrapped
                shown.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                shown.setContentsMargins(8, 0, 0, 2)
                grid.addWidget(name, row, 0, 1, 2)
                grid.addWidget(shown, row + 1, 0, 1, 2)
                row += 2
            else:
                shown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(name, row, 0)
                grid.addWidget(shown, row, 1)
                row += 1
            self.figure_labels[label] = shown
        grid.setColumnStretch(0, 1)
        return box

    def _show_more(self, shown: bool) -> None:
        self.more.setVisible(shown)
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def text(self) -> str:
        return entry_text(self.entry)

    def copy(self) -> None:
        QApplication.clipboard().setText(self.text())

    def _grey(self, text: str) -> QLabel:
        label = _label(text, selectable=True)
        label.setStyleSheet("color: #666666;")
        return label

    def _section(self, text: str) -> QLabel:
        label = _label(text)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        label.setStyleSheet("margin-top: 6px;")
        return label


class ResultsPanel(QScrollArea):
    """The cards of the runs, newest on top; ``add_result(entry)`` adds one. ``changed`` after a
    card is added or removed (the project keeps the entries: app/result_store.py)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(280)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(self)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self._layout.setSpacing(8)
        self.placeholder = _label("Run an analysis from the Analysis menu: its key figures appear here.")
        self.placeholder.setStyleSheet("color: #666666;")
        self._layout.addWidget(self.placeholder)
        self._layout.addStretch(1)
        self.clear_button = QPushButton("Clear", body, visible=False)
        self.clear_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.clear_button.clicked.connect(self.clear)
        self._layout.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignRight)
        self.setWidget(body)
        self.cards: list[ResultCard] = []

    def add_result(self, entry: ResultEntry) -> ResultCard:
        card = ResultCard(entry, self.widget())
        card.removeRequested.connect(self.remove)
        self._layout.insertWidget(0, card)
        self.cards.insert(0, card)
        self._update()
        self.verticalScrollBar().setValue(0)
        self.changed.emit()
        return card

    def remove(self, card: ResultCard) -> None:
        if card in self.cards:
            self.cards.remove(card)
            card.deleteLater()
            self._update()
            self.changed.emit()

    def entries(self) -> list[ResultEntry]:
        """The entries shown, oldest first."""
        return [card.entry for card in reversed(self.cards)]

    def clear(self) -> None:
        for card in list(self.cards):
            self.remove(card)

    def text(self) -> str:
        """Every entry as plain text, newest first."""
        return "\n".join(card.text() for card in self.cards)

    def _update(self) -> None:
        self.placeholder.setVisible(not self.cards)
        self.clear_button.setVisible(bool(self.cards))
