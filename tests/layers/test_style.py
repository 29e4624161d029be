"""Styles: single, categorized and graduated symbols, and loading saved styles safely."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.style import NO_DATA_COLOR, PALETTE, SCHEMES, Style, symbolize


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
