"""Styles: single, categorized and graduated symbols, and loading saved styles safely."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from layers.style import (
    NO_DATA_COLOR,
    PALETTE,
    PALETTES,
    SCHEMES,
    Style,
    category_keys,
    is_color,
    symbolize,
    symbology_key,
)


@pytest.fixture
def blocks() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    return pd.DataFrame(
        {
            "residents": rng.gamma(2.0, 40.0, 300).round(),
            "use": rng.choice(["housing", "office", "school"], 300),
        }
    )


def test_single(blocks):
    sym = symbolize(Style(fill="#123456"), blocks)
    assert len(sym.colors) == 300 and set(sym.colors) == {"#123456"}
    assert sym.legend == [("", "#123456")]


def test_categorized_palette(blocks):
    sym = symbolize(Style(kind="categorized", field="use"), blocks)
    assert sym.legend == [("housing", PALETTE[0]), ("office", PALETTE[1]), ("school", PALETTE[2])]
    colours = dict(sym.legend)
    assert all(c == colours[u] for c, u in zip(sym.colors, blocks["use"], strict=True))


def test_categorized_explicit_categories_and_missing_values():
    frame = pd.DataFrame({"use": ["school", None, "housing", "school"]})
    sym = symbolize(Style(kind="categorized", field="use", categories={"school": "#ff0000"}), frame)
    assert sym.colors.tolist() == ["#ff0000", NO_DATA_COLOR, PALETTE[0], "#ff0000"]
    assert sym.legend[-1] == ("no value", NO_DATA_COLOR)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("k", [3, 5, 7])
def test_graduated_schemes(blocks, scheme, k):
    frame = blocks.copy()
    frame.loc[[0, 10], "residents"] = np.nan
    sym = symbolize(Style(kind="graduated", field="residents", scheme=scheme, classes=k, unit="res."), frame)
    classes = [entry for entry in sym.legend if entry[0] != "no value"]
    if scheme == "std_mean":  # standard deviations around the mean: as many classes as the data spans
        assert 2 <= len(classes) <= 7
    else:
        assert len(classes) == k
    assert sym.legend[-1] == ("no value", NO_DATA_COLOR)
    assert sym.colors[0] == NO_DATA_COLOR and sym.colors[10] == NO_DATA_COLOR
    valid = frame["residents"].notna().to_numpy()
    assert NO_DATA_COLOR not in set(sym.colors[valid])
    assert set(sym.colors[valid]) <= {colour for _, colour in classes}
    assert classes[-1][0].endswith(f"{frame['residents'].max():,.0f} res.")
    # classes are ordered: a larger value never gets an earlier class
    order = {colour: i for i, (_, colour) in enumerate(classes)}
    ranks = pd.Series([order[c] for c in sym.colors[valid]], index=frame.index[valid])
    by_value = ranks.groupby(frame.loc[valid, "residents"]).max()
    assert by_value.is_monotonic_increasing


def test_graduated_natural_breaks_on_many_values_is_quick():
    import time

    frame = pd.DataFrame({"v": np.random.default_rng(0).gamma(2.0, 50.0, 50_000)})
    start = time.perf_counter()
    sym = symbolize(Style(kind="graduated", field="v", scheme="natural_breaks", classes=5), frame)
    assert time.perf_counter() - start < 10 and len(sym.legend) == 5


def test_graduated_equal_interval_bounds():
    frame = pd.DataFrame({"v": [0.0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]})
    sym = symbolize(Style(kind="graduated", field="v", scheme="equal_interval", classes=5), frame)
    assert [label for label, _ in sym.legend] == ["0 – 20", "20 – 40", "40 – 60", "60 – 80", "80 – 100"]
    assert sym.colors[1] == sym.colors[2] != sym.colors[3]  # 10 and 20 in the first class, 30 in the second


def test_graduated_all_nan_or_one_value():
    assert symbolize(Style(kind="graduated", field="v"), pd.DataFrame({"v": [np.nan, np.nan]})).legend == [
        ("", Style().fill)
    ]
    sym = symbolize(Style(kind="graduated", field="v"), pd.DataFrame({"v": [4.0, 4.0, np.nan]}))
    assert len(sym.legend) == 2 and sym.colors[2] == NO_DATA_COLOR


def test_missing_field_falls_back_to_single(blocks):
    for kind in ("categorized", "graduated"):
        sym = symbolize(Style(kind=kind, field="no_such_column", fill="#abcdef"), blocks)
        assert set(sym.colors) == {"#abcdef"}
    assert len(symbolize(Style(kind="graduated", field="use"), blocks).legend) == 1  # text field


def test_round_trip_and_unknown_keys():
    style = Style(kind="categorized", field="use", categories={"school": "#ff0000"}, stroke_width=1.5)
    assert Style.from_dict(style.to_dict()) == style
    assert Style.from_dict({**style.to_dict(), "shadow": True, "blend": "multiply"}) == style


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "heatmap"},
        {"scheme": "jenks2"},
        {"fill": "__import__('os').system('rm -rf /')"},
        {"stroke": 12},
        {"size": "big"},
        {"opacity": "1; drop table"},
        {"classes": True},
        {"classes": "5"},
        {"ramp": "exec"},
        {"categories": ["a"]},
        {"stroke_width": float("nan")},
        {"unit": ["m"]},
    ],
)
def test_bad_values_fall_back_to_defaults(bad):
    assert Style.from_dict(bad) == Style()


def test_values_are_clamped_and_garbage_inputs():
    style = Style.from_dict({"opacity": 3, "fill_opacity": -1, "classes": 50, "size": 8})
    assert (style.opacity, style.fill_opacity, style.classes, style.size) == (1.0, 0.0, 12, 8.0)
    assert Style.from_dict(None) == Style.from_dict([1, 2]) == Style.from_dict("single") == Style()
    assert Style.from_dict({"fill": "red", "stroke": "#abc"}).fill == "red"


# ------------------------------------------------------------------ lines, palettes, label options

def test_single_symbol_lines_are_drawn_in_the_stroke_colour():
    import geopandas as gpd
    from shapely.geometry import LineString, Point, box

    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)]), None], crs=3067)
    style = Style(fill="#111111", stroke="#222222")
    sym = symbolize(style, lines)
    assert sym.colors.tolist() == ["#222222", "#222222"] and sym.legend == [("", "#222222")]
    mixed = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)]), box(0, 0, 1, 1), Point(0, 0)], crs=3067)
    sym = symbolize(style, mixed)
    assert sym.colors.tolist() == ["#222222", "#111111", "#111111"] and sym.legend == [("", "#111111")]
    assert set(symbolize(style, pd.DataFrame({"v": [1, 2]})).colors) == {"#111111"}  # no geometry: the fill


def test_sample_city_streets_stay_grey():
    import json
    from pathlib import Path

    import geopandas as gpd

    sample = Path(__file__).resolve().parents[2] / "sample_data"
    entry = next(e for e in json.loads((sample / "helsinki.citydesk").read_text(encoding="utf-8"))["layers"]
                 if e["role"] == "streets")
    streets = gpd.read_file(sample / entry["source"]["path"], layer=entry["source"]["layer"], rows=50)
    assert set(symbolize(Style.from_dict(entry["style"]), streets).colors) == {"#969696"}


def test_many_categories_get_distinct_colours():
    frame = pd.DataFrame({"kind": [f"k{i:02d}" for i in range(27)] * 2})
    sym = symbolize(Style(kind="categorized", field="kind"), frame)
    colours = [colour for _, colour in sym.legend]
    assert len(colours) == 27 and len(set(colours)) == 27
    assert colours[:8] == list(PALETTE) and NO_DATA_COLOR not in colours
    # the ninth on is not a look-alike of one of the first eight (tab20's blue, orange, green, pink)
    assert not {"#1f77b4", "#ff7f0e", "#2ca02c", "#e377c2"} & set(colours[8:20])


@pytest.mark.parametrize("name", sorted(PALETTES))
def test_palette_choice(name):
    frame = pd.DataFrame({"kind": ["a", "b", "c", None]})
    sym = symbolize(Style(kind="categorized", field="kind", palette=name, categories={"b": "#ff0000"}), frame)
    assert sym.legend == [("a", PALETTES[name][0]), ("b", "#ff0000"), ("c", PALETTES[name][2]),
                          ("no value", NO_DATA_COLOR)]
    assert len(set(PALETTES[name])) == len(PALETTES[name]) and all(is_color(c) for c in PALETTES[name])


def test_category_keys_follow_the_legend_order():
    values = pd.Series([3, 1, None, 10, 1])
    keys = category_keys(values)
    assert keys == ["1.0", "3.0", "10.0", "no value"]  # numbers in numeric order
    sym = symbolize(Style(kind="categorized", field="v"), pd.DataFrame({"v": values}))
    assert [label for label, _ in sym.legend] == keys
    assert category_keys(pd.Series(["b", "a", "b"])) == ["a", "b"]


def test_new_fields_saved_only_when_used_and_checked_on_load():
    assert not {"palette", "label_size", "label_color"} & set(Style().to_dict())
    style = Style(palette="paired", label_size=14.0, label_color="#ffffff", label_field="name")
    assert Style.from_dict(style.to_dict()) == style
    assert {"palette", "label_size", "label_color"} <= set(style.to_dict())
    bad = Style.from_dict({"palette": "rainbow", "label_size": 500, "label_color": "url(x)"})
    assert (bad.palette, bad.label_size, bad.label_color) == ("okabe_ito", 72.0, "#222222")


def test_symbology_key_ignores_what_does_not_change_colours():
    style = Style(kind="categorized", field="use", categories={"a": "#ff0000"})
    same = replace(style, opacity=0.3, size=20.0, label_field="name", label_size=20.0, stroke_width=3.0)
    assert symbology_key(style) == symbology_key(same)
    for changed in (replace(style, palette="paired"), replace(style, categories={"a": "#00ff00"}),
                    replace(style, stroke="#000000"), replace(style, kind="graduated")):
        assert symbology_key(changed) != symbology_key(style)


def test_numeric_categories_are_in_numeric_order():
    import geopandas as gpd
    import pandas as pd
    import shapely

    from layers.style import NO_VALUE, category_keys

    values = pd.Series([10.0, 2.0, 1.0, None, 2.0])
    assert category_keys(values) == ["1.0", "2.0", "10.0", NO_VALUE]
    gdf = gpd.GeoDataFrame({"levels": values}, geometry=[shapely.Point(i, 0) for i in range(5)])
    legend = symbolize(Style(kind="categorized", field="levels"), gdf).legend
    assert [label for label, _ in legend] == ["1.0", "2.0", "10.0", NO_VALUE]
    assert category_keys(pd.Series(["b", "a", "B"])) == ["B", "a", "b"]  # text stays text


def test_text_categories_with_numbers_sort_by_the_numbers():
    from layers.style import category_keys

    values = pd.Series(["10–15 min", "0–5 min", "5–10 min", "Zone 10", "Zone 2", "Zone 2b"])
    assert category_keys(values) == ["Zone 2", "Zone 2b", "Zone 10", "0–5 min", "5–10 min", "10–15 min"]


def test_manual_breaks_keep_every_class_in_the_legend():
    from layers.style import NO_VALUE

    scores = pd.Series([35.0, 55.0, 58.0, None, 120.0])
    style = Style(kind="graduated", field="score", scheme="manual", breaks=(20.0, 40.0, 60.0, 80.0, 100.0),
                  ramp="cividis", unit="%")
    sym = symbolize(style, pd.DataFrame({"score": scores}))
    labels = [label for label, _ in sym.legend]
    assert labels == ["≤ 20 %", "20 – 40 %", "40 – 60 %", "60 – 80 %", "80 – 100 %", NO_VALUE]
    colour = dict(sym.legend)
    assert list(sym.colors) == [colour["20 – 40 %"], colour["40 – 60 %"], colour["40 – 60 %"], colour[NO_VALUE],
                                colour["80 – 100 %"]]  # above the last bound: the last class
    assert Style.from_dict(style.to_dict()) == style
    assert Style.from_dict({**style.to_dict(), "breaks": [3, 1]}).breaks == ()  # not rising: ignored
    assert "breaks" not in Style().to_dict()  # old project files stay as they were
