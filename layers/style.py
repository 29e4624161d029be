"""Layer styles, shared by the map canvas, the meeting map and the web map.

A style says how a layer looks: one symbol, categories (a colour per unique value) or graduated
classes (mapclassify breaks over a numeric field, coloured by a colour-blind-safe ramp). The
function :func:`symbolize` turns a style and a layer into one colour per feature plus the legend
entries, so every renderer draws the same classes with the same colours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from dataclasses import field as dc_field

import numpy as np
import pandas as pd

KINDS = ("single", "categorized", "graduated")
SCHEMES = {
    "quantiles": "Quantiles",
    "natural_breaks": "FisherJenks",
    "equal_interval": "EqualInterval",
    "std_mean": "StdMean",
}
# Colour-blind-safe ramps (matplotlib names) and a qualitative palette (Okabe-Ito).
RAMPS = ("viridis", "cividis", "magma", "YlGnBu", "YlOrRd", "PuBu", "RdYlBu_r")
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
NO_DATA_COLOR = "#bdbdbd"


@dataclass(frozen=True)
class Style:
    """How a layer is drawn. Sizes are in screen pixels at 96 dpi (points for paper)."""

    kind: str = "single"
    fill: str = "#9ecae1"
    stroke: str = "#3182bd"
    stroke_width: float = 0.8
    size: float = 6.0  # point marker diameter
    opacity: float = 1.0  # 0..1, applied to the whole layer
    fill_opacity: float = 0.8  # 0..1, polygon fill only
    field: str | None = None  # categorized / graduated field
    scheme: str = "quantiles"
    classes: int = 5
    ramp: str = "viridis"
    categories: dict[str, str] = dc_field(default_factory=dict)  # value -> colour, optional
    label_field: str | None = None
    unit: str = ""  # shown in the legend, e.g. "m"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Style:
        """A style from its saved form; unknown keys are ignored, bad values fall back to defaults."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        style = cls(**kept)
        if style.kind not in KINDS:
            style = replace(style, kind="single")
        if style.scheme not in SCHEMES:
            style = replace(style, scheme="quantiles")
        return replace(style, opacity=float(min(max(style.opacity, 0.0), 1.0)),
                       categories={str(k): str(v) for k, v in dict(style.categories).items()})


@dataclass(frozen=True)
class Symbology:
    """What :func:`symbolize` returns: a fill colour per feature (hex) and the legend."""

    colors: np.ndarray  # object array of "#rrggbb", one per feature
    legend: list[tuple[str, str]]  # (label, colour)


def symbolize(style: Style, gdf: pd.DataFrame) -> Symbology:
    """Colours per feature and legend entries for ``style`` applied to ``gdf``.

    A missing field or a field without usable values falls back to the single symbol, so a
    style never stops a layer from drawing.
    """
    n = len(gdf)
    single = Symbology(np.full(n, style.fill, dtype=object), [("", style.fill)])
    if style.kind == "single" or not style.field or style.field not in gdf.columns:
        return single
    values = gdf[style.field]
    if style.kind == "categorized":
        return _categorized(style, values)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == 0:
        return single
    return _graduated(style, numeric)


def _categorized(style: Style, values: pd.Series) -> Symbology:
    keys = values.astype("string").fillna("(no value)")
    uniques = sorted(keys.unique(), key=str)
    colors = {}
    for i, key in enumerate(uniques):
        colors[key] = style.categories.get(key, PALETTE[i % len(PALETTE)])
    out = keys.map(colors).to_numpy(dtype=object)
    return Symbology(out, [(str(k), colors[k]) for k in uniques])


def _graduated(style: Style, numeric: pd.Series) -> Symbology:
    import mapclassify
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    valid = numeric.dropna().to_numpy(dtype=float)
    k = max(2, min(int(style.classes), len(np.unique(valid))))
    if len(np.unique(valid)) < 2:
        bins = np.array([valid.max()])
    else:
        classifier = getattr(mapclassify, SCHEMES[style.scheme])
        try:
            bins = classifier(valid, k=k).bins if style.scheme != "std_mean" else classifier(valid).bins
        except Exception:  # e.g. too few distinct values for Fisher-Jenks
            bins = mapclassify.EqualInterval(valid, k=k).bins
    bins = np.unique(np.asarray(bins, dtype=float))
    cmap = colormaps.get(style.ramp, colormaps["viridis"]) if style.ramp in colormaps else colormaps["viridis"]
    shades = [to_hex(cmap(x)) for x in (np.linspace(0.1, 0.9, len(bins)) if len(bins) > 1 else [0.5])]
    idx = np.searchsorted(bins, numeric.to_numpy(dtype=float), side="left")
    idx = np.clip(idx, 0, len(bins) - 1)
    out = np.array([shades[i] for i in idx], dtype=object)
    out[numeric.isna().to_numpy()] = NO_DATA_COLOR
    unit = f" {style.unit}" if style.unit else ""
    legend, lower = [], valid.min()
    for b, colour in zip(bins, shades, strict=True):
        legend.append((f"{_fmt(lower)} – {_fmt(b)}{unit}", colour))
        lower = b
    if numeric.isna().any():
        legend.append(("no value", NO_DATA_COLOR))
    return Symbology(out, legend)


def _fmt(x: float) -> str:
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")
