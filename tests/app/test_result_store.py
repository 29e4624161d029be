"""Results-panel entries as JSON data (app/result_store.py): what the project file keeps."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from app.analysis_panel import ResultEntry
from app.result_store import entry_from_dict, entry_to_dict


def test_entry_round_trips_through_json_with_its_chart():
    curve = pd.DataFrame({"k": [0, 1, 2], "covered_share": [0.5, 0.7, 0.8]})
    curve.attrs["title"] = "Coverage against new bins"
    entry = ResultEntry("Bins", "waste-siting", "Siting new bins",
                        {"covered_share_after": np.float64(0.8), "median_m": math.nan, "bins": np.int64(3)},
                        {"k": 2}, {"buildings": "Buildings"}, ["Bins — proposed_bins"], {"max_distance_m": "m"},
                        charts={"coverage_curve": curve})
    data = json.loads(json.dumps(entry_to_dict(entry), allow_nan=False))  # plain JSON, no NaN
    back = entry_from_dict(data)
    assert back.summary == {"covered_share_after": 0.8, "median_m": None, "bins": 3}
    assert (back.title, back.analysis, back.layers, back.units) == (entry.title, entry.analysis, entry.layers,
                                                                    entry.units)
    assert back.finished.replace(microsecond=0) == entry.finished.replace(microsecond=0)
    pd.testing.assert_frame_equal(back.charts["coverage_curve"], curve)
    assert back.charts["coverage_curve"].attrs["title"] == "Coverage against new bins"


def test_a_damaged_entry_is_refused_and_a_damaged_chart_left_out():
    with pytest.raises(ValueError):
        entry_from_dict({"title": "no analysis"})
    back = entry_from_dict({"analysis": "coverage", "summary": {}, "charts": {"bad": {"rows": 3}}})
    assert back.charts == {} and back.title == "coverage"
