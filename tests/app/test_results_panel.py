"""The Results panel reads an analysis's declared key figures and headline (Analysis.key_figures,
Analysis.headline): the answer first, the other figures folded away."""

import pandas as pd
from PySide6.QtCore import Qt

from analysis.age_friendly import SPEC
from analysis.registry import analyses
from analysis.wording import headline, key_figures, label_of, split_figures
from app.analysis_panel import ResultEntry, ResultsPanel

SUMMARY = {"share_all_in_reach": 0.025, "share_all_rest_in_reach": 0.019, "mean_score": 76.49, "mean_rest_score": 53.6,
           "residents_total": 4336.1, "share_in_reach_benches": 0.039, "median_benches_m": 199.5, "rest_max_m": 200.0,
           "new_benches": 5, "new_benches_residents_connected": 2231.4}


def test_declared_headline_and_key_figures():
    assert headline(SUMMARY, "age-friendly") == ("2.5 % of residents reach every destination (1.9 % with a rest "
                                                 "every 200 m); mean score 76 / 100")
    first, rest = split_figures(SUMMARY, "age-friendly")
    assert first == [k for k in SPEC.key_figures if k in SUMMARY]
    assert rest == ["share_in_reach_benches", "median_benches_m", "rest_max_m"]
    assert split_figures({"a": 1}, "no-such-analysis") == (["a"], [])  # undeclared: everything up front
    assert headline({"covered_share": 0.5}, "coverage").startswith("50.0 %")  # the generic line still works


def test_the_card_folds_the_other_figures_away(qtbot):
    chart = pd.DataFrame({"destination": ["Bench", "Toilet"], "share_in_reach": [0.04, 0.98],
                          "share_with_rests": [0.04, 0.58]})
    chart.attrs.update({"kind": "barh", "title": "Residents within reach"})
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 800)
    panel.show()
    card = panel.add_result(ResultEntry("Older residents", "age-friendly", SPEC.title, SUMMARY, {}, {},
                                        charts={"reach_by_destination": chart}))
    assert card.headline.text().startswith("2.5\u00a0% of residents reach every destination")
    qtbot.waitExposed(panel)
    assert card.figure_labels["Residents reaching every destination"].isVisibleTo(card)
    assert card.more_button.text() == "More figures (3)" and not card.more.isVisibleTo(card)
    qtbot.mouseClick(card.more_button, Qt.MouseButton.LeftButton)
    assert card.more.isVisibleTo(card) and card.figure_labels["Median walk to a bench"].isVisibleTo(card)
    assert card.charts[0].pixmap().width() > 0
    assert "Median walk to a bench: 200 m" in card.text()  # Copy keeps every figure


# One summary per analysis, as the sample project's runs give them (shortened).
SUMMARIES = {
    "coverage": {"covered_share": 0.9697, "residents_not_covered": 131.6, "population_field": "residents",
                 "median_dist_m": 151.48, "max_distance_m": 300.0},
    "population-from-grid": {"residents_total": 4336.1, "residents_unassigned": 0.0, "buildings_total": 482,
                             "buildings_with_residents": 305, "max_residents_per_building": 350.2},
    "isochrones": {"origins_total": 6, "origins_unreachable": 0, "walk_speed_mps": 0.8, "minutes": "5, 10, 15",
                   "bands_m": "240, 480, 720", "mean_area_km2_5min": 0.0688, "mean_area_km2_10min": 0.268},
    "fill-levels": {"bins_at_risk": 10, "bins": 20, "collections_overflow_share": 0.4188, "mean_fill_pct": 70.8,
                    "overflow_pct": 80.0},
    "waste-coverage": {"covered_share": 0.0738, "residents_not_covered": 4015.9, "bins_overloaded": 21,
                       "bins_used": 52, "max_distance_m": 100.0},
    "waste-siting": {"covered_share_before": 0.0738, "covered_share_after": 0.4829, "residents_added": 1773.6,
                     "bins_proposed": 5, "max_distance_m": 100.0},
    "scenario-compare": {"covered_share_before": 0.0738, "covered_share_after": 0.4739, "residents_gained": 1734.6,
                         "residents_lost": 0.0, "points_added": 5, "points_removed": 3, "points_moved": 0,
                         "max_distance_used_m": 100.0},
    "air-quality": {"year": 2025, "stations": 6, "no2_max_mean": 29.62, "pm25_max_mean": 7.06, "pm10_max_mean": 19.1,
                    "stations_exceeding_who2021": 6, "stations_exceeding_eu2030": 3, "stations_exceeding_eu2008": 0},
    "sensor-surface": {"value": "NO2 mean", "surface_min": 14.64, "surface_max": 29.59, "stations_used": 6,
                       "loo_rmse": 8.62, "unit": "µg/m³"},
    "report-hotspots": {"peak_density_km2": 426.6, "peak_near": "Eteläesplanadi 24, Helsinki",
                        "peak_top_category": "Broken bench", "hotspots": 10, "reports_used": 145},
    "district-summary": {"zones_used": "hexagonal grid, 250 m", "features_in_zones": 145, "zones": 44,
                         "zones_with_features": 39, "max_count": 15, "rate_per_1000": 33.44, "features_outside": 0},
    "transit-frequency": {"departures_in_window": 13952, "service_date": "2022-02-22", "window": "08:15-09:15",
                          "stops_served": 1256, "stops_in_layer": 1388, "routes_running": 198},
    "ptal": {"median_band": "6b", "service_date": "2022-02-22", "shares_of": "residents", "ptal_1b_share": 0.01,
             "ptal_4_share": 0.089, "ptal_5_share": 0.123, "ptal_6a_share": 0.137, "ptal_6b_share": 0.631},
}
HEADLINES = {
    "coverage": "97.0 % of residents live within 300 m (straight line) of a target; 132 do not; median distance 151 m",
    "population-from-grid": "4 336 residents placed in 305 of 482 buildings; at most 350 in one building",
    "isochrones": "6 origins, walking 5, 10, 15 min at 0.8 m/s (240, 480, 720 m): on average 0.07, 0.27 km² reached",
    "fill-levels": "10 of 20 bins at overflow risk; 41.9 % of collections at or above 80 % full (mean 71 %)",
    "waste-coverage": "7.4 % of residents live within 100 m walk of a bin (4 016 do not); 21 of 52 bins overloaded",
    "waste-siting": "5 new bins would bring 1 774 more residents within 100 m walk of a bin: coverage 7.4 % → 48.3 %",
    "scenario-compare": "Coverage 7.4 % → 47.4 % within 100 m: 1 735 residents gain, none lose (points: 5 added, "
                        "3 removed)",
    "air-quality": "3 of 6 stations above the EU 2030 limit values, 6 above the WHO 2021 guidelines; highest NO2 "
                   "annual mean 29.6 µg/m³",
    "sensor-surface": "NO2 mean between 14.6 and 29.6 µg/m³ across 6 stations; leave-one-out error ±8.6 µg/m³",
    "report-hotspots": "10 hotspots in 145 reports; the densest near Eteläesplanadi 24, Helsinki: 427 reports/km², "
                       "mostly broken bench",
    "district-summary": "145 features in 39 of 44 zones (hexagonal grid, 250 m); at most 15 in one; 33.4 per 1,000 "
                        "residents",
    "transit-frequency": "13 952 departures from 1 256 of 1 388 stops, 08:15-09:15 on 2022-02-22; 198 routes running "
                         "that day",
    "ptal": "Median PTAL 6b; 98.0 % of residents at PTAL 4 or better, 1.0 % at 1b or worse (timetable of 2022-02-22)",
}


def test_every_analysis_declares_its_answer():
    for analysis_id, spec in analyses().items():
        assert spec.headline is not None and 3 <= len(spec.key_figures) <= 8, analysis_id
        summary = SUMMARY if analysis_id == "age-friendly" else SUMMARIES[analysis_id]
        expected = HEADLINES.get(analysis_id, headline(SUMMARY, "age-friendly"))
        assert headline(summary, analysis_id) == expected


def test_figures_read_as_words_and_units():
    assert label_of("share_in_reach_transit_stops") == "Residents reaching a stop"
    assert label_of("targets_toilets") == "Toilets in the layer"
    assert label_of("mean_area_km2_10min") == "Mean area within 10 min (km²)"
    figures = dict(key_figures({"surface_min": 14.64, "year": 2025, "unit": "µg/m³"}))
    assert figures == {"Surface lowest": "14.6 µg/m³", "Year assessed": "2025", "Unit": "µg/m³"}
    assert dict(key_figures({"surface_min": 14.64}))["Surface lowest"] == "14.6"  # not minutes


def test_long_values_wrap_and_numbers_do_not_break(qtbot):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 800)
    panel.show()
    note = "Leave-one-out: each station predicted from the others. Between stations the surface is a smooth guess."
    summary = {**SUMMARIES["sensor-surface"], "loo_note": note}
    card = panel.add_result(ResultEntry("NO2", "sensor-surface", "Sensor surface", summary, {}, {}))
    qtbot.waitExposed(panel)
    long = card.figure_labels["How far to trust it"]
    qtbot.waitUntil(lambda: long.isVisible() and card.width() > 200)
    assert long.wordWrap() and long.width() <= card.width()
    assert panel.horizontalScrollBar().maximum() == 0  # the card did not grow wider than the panel
    other = panel.add_result(ResultEntry("Bins", "waste-coverage", "Waste", SUMMARIES["waste-coverage"], {}, {}))
    assert "4\u00a0016" in other.headline.text()  # '4 016' never splits over two lines
