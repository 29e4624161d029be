"""The Results panel reads an analysis's declared key figures and headline (Analysis.key_figures,
Analysis.headline): the answer first, the other figures folded away."""

import pandas as pd
from PySide6.QtCore import Qt

from analysis.age_friendly import SPEC
from app.analysis_panel import ResultEntry, ResultsPanel, headline, split_figures

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
    assert card.headline.text().startswith("2.5 % of residents reach every destination")
    qtbot.waitExposed(panel)
    assert card.figure_labels["Share all in reach"].isVisibleTo(card)
    assert card.more_button.text() == "More figures (3)" and not card.more.isVisibleTo(card)
    qtbot.mouseClick(card.more_button, Qt.MouseButton.LeftButton)
    assert card.more.isVisibleTo(card) and card.figure_labels["Median benches"].isVisibleTo(card)
    assert card.charts[0].pixmap().width() > 0
    assert "Median benches: 200 m" in card.text()  # Copy keeps every figure
