"""Layer styles, shared by the map canvas, the meeting map and the web map.

A style says how a layer looks: one symbol, categories (a colour per unique value) or graduated
classes (mapclassify breaks over a numeric field, coloured by a colour-blind-safe ramp). The
function :func:`symbolize` turns a style and a layer into one colour per feature plus the legend
entries, so every renderer draws the same classes with the same colours.
"""

from __future__ import annotations

import re
import warnings
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
    "manual": "UserDefined",  # the class upper bounds are Style.breaks
}
# Colour-blind-safe ramps (matplotlib names) and a qualitative palette (Okabe-Ito).
RAMPS = ("viridis", "cividis", "magma", "YlGnBu", "YlOrRd", "PuBu", "RdYlBu_r")
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# matplotlib's "tab20": its ten strong colours, then their light partners (the light grey is left
# out: it looks like NO_DATA_COLOR).
_TAB20 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
          "#9edae5")
# tab20 after Okabe-Ito: first the colours unlike any of the eight, the four look-alikes of Okabe-Ito
# colours (blue, orange, green, pink) last.
_AFTER_OKABE_ITO = ("#d62728", "#9467bd", "#8c564b", "#bcbd22", "#17becf", "#7f7f7f", "#98df8a", "#ff9896",
                    "#c5b0d5", "#ffbb78", "#aec7e8", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#1f77b4",
                    "#ff7f0e", "#2ca02c", "#e377c2")
#: Qualitative palettes for categorized styles (``Style.palette``): category ``i`` gets colour
#: ``i`` of the palette, repeating only after its last colour.
PALETTES = {
    "okabe_ito": PALETTE + _AFTER_OKABE_ITO,  # colour-blind safe for the first 8 categories, 27 distinct
    "tableau": _TAB20,
    "set2": ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#1b9e77", "#d95f02",
             "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"),  # ColorBrewer Set2 + Dark2
    "paired": ("#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c", "#fdbf6f", "#ff7f00", "#cab2d6",
               "#6a3d9a", "#ffff99", "#b15928"),  # ColorBrewer Paired
}
PALETTE_TITLES = {"okabe_ito": "Okabe-Ito (colour-blind safe) + Tableau", "tableau": "Tableau 20",
                  "set2": "ColorBrewer Set2 + Dark2", "paired": "ColorBrewer Paired"}
NO_DATA_COLOR = "#bdbdbd"
NO_VALUE = "no value"
#: Natural breaks (Fisher-Jenks) is quadratic in the number of values: above this many it runs on
#: this many evenly spaced quantiles of the data, which keeps the breaks and takes a fraction of a second.
JENKS_SAMPLE = 500


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
    category_labels: dict[str, str] = dc_field(default_factory=dict)  # value -> legend label, optional
    label_field: str | None = None
    unit: str = ""  # shown in the legend, e.g. "m"
    palette: str = "okabe_ito"  # categorized: a key of PALETTES
    label_size: float = 11.0  # label text height, pixels
    label_color: str = "#222222"  # label text colour (drawn with a light halo)
    breaks: tuple[float, ...] = ()  # graduated, scheme "manual": upper bounds of the classes, rising

    def to_dict(self) -> dict:
        """The saved form. The fields added after the first version (``OPTIONAL``) are left out
        while they have their default, so project files that do not use them stay as they were."""
        data = asdict(self)
        for name, default in OPTIONAL.items():
            if data[name] == default:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: object) -> Style:
        """A style from its saved form. Unknown keys are ignored and a value of the wrong type or
        out of range falls back to that field's default: a style never fails to load, and nothing
        in it is ever evaluated."""
        if not isinstance(data, dict):
            return cls()
        default = cls()
        kept = {}
        for f in fields(cls):
            if f.name in data:
                value = _checked(f.name, data[f.name])
                if value is not None or f.name in ("field", "label_field"):
                    kept[f.name] = value
        style = replace(default, **kept)
        if style.kind not in KINDS:
            style = replace(style, kind="single")
        if style.scheme not in SCHEMES:
            style = replace(style, scheme="quantiles")
        return style


#: Fields written by :meth:`Style.to_dict` only when they differ from these defaults.
OPTIONAL = {"palette": "okabe_ito", "label_size": 11.0, "label_color": "#222222", "breaks": ()}

_NUMBERS = {"stroke_width": (0.0, 100.0), "size": (0.0, 500.0), "opacity": (0.0, 1.0),
            "fill_opacity": (0.0, 1.0), "classes": (2, 12), "label_size": (4.0, 72.0)}


def _checked(name: str, value: object) -> object:
    """``value`` if it is a good value for the field ``name`` (numbers clamped to range), else None."""
    if name in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            return None
        low, high = _NUMBERS[name]
        value = min(max(value, low), high)
        return int(value) if name == "classes" else float(value)
    if name == "breaks":
        return _breaks(value)
    if name in ("fill", "stroke", "label_color"):
        return value if is_color(value) else None
    if name == "palette":
        return value if isinstance(value, str) and value in PALETTES else None
    if name == "categories":
        if not isinstance(value, dict):
            return None
        return {str(k): v for k, v in value.items() if is_color(v)}
    if name == "category_labels":
        if not isinstance(value, dict):
            return None
        return {str(k): v[:80] for k, v in value.items() if isinstance(v, str)}
    if name in ("field", "label_field"):
        return value if isinstance(value, str) and value else None
    if name == "unit":
        return value[:20] if isinstance(value, str) else None
    if name == "ramp":
        return value if isinstance(value, str) and (value in RAMPS or _is_colormap(value)) else None
    return value if isinstance(value, str) else None  # kind, scheme: checked against their lists


#: The style fields :func:`symbolize` reads: two styles equal in these give the same colours and
#: legend (the opacity, sizes and label options do not change them).
SYMBOLOGY_FIELDS = ("kind", "fill", "stroke", "field", "scheme", "classes", "ramp", "categories",
                    "category_labels", "unit", "palette")


def symbology_key(style: Style) -> str:
    """A text key of the fields :func:`symbolize` reads, for caching its result."""
    import json

    return json.dumps({name: getattr(style, name) for name in SYMBOLOGY_FIELDS}, sort_keys=True, default=str)


def is_color(value: object) -> bool:
    """True for a colour CityDesk can draw: ``#rgb``, ``#rrggbb``, ``#rrggbbaa`` or a named colour."""
    if not isinstance(value, str) or len(value) > 30:
        return False
    if re.fullmatch(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})", value):
        return True
    from matplotlib.colors import is_color_like

    return value.isalpha() and is_color_like(value)


def _is_colormap(name: str) -> bool:
    from matplotlib import colormaps

    return name in colormaps


@dataclass(frozen=True)
class Symbology:
    """What :func:`symbolize` returns: a fill colour per feature (hex) and the legend."""

    colors: np.ndarray  # object array of "#rrggbb", one per feature
    legend: list[tuple[str, str]]  # (label, colour)


def symbolize(style: Style, gdf: pd.DataFrame) -> Symbology:
    """Colours per feature and legend entries for ``style`` applied to ``gdf``.

    The colour is what fills a polygon or a point and what draws a line. The single symbol
    colours polygons and points with ``style.fill`` and lines with ``style.stroke`` (the colour
    the style editor calls the line colour). A missing field or a field without usable values
    falls back to the single symbol, so a style never stops a layer from drawing.
    """
    if style.kind == "single" or not style.field or style.field not in gdf.columns:
        return _single(style, gdf)
    values = gdf[style.field]
    if style.kind == "categorized":
        return _categorized(style, values)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == 0:
        return _single(style, gdf)
    return _graduated(style, numeric)


_LINE_TYPES = (1, 2, 5)  # shapely type ids of LineString, LinearRing, MultiLineString


def _single(style: Style, gdf: pd.DataFrame) -> Symbology:
    lines = _line_mask(gdf)
    both = np.array([style.fill, style.stroke], dtype=object)  # taken by index: np.full(object) is 5x slower
    if lines is None or not lines.any():
        return Symbology(both[np.zeros(len(gdf), dtype=np.intp)], [("", style.fill)])
    return Symbology(both[lines.astype(np.intp)], [("", style.stroke if lines.all() else style.fill)])


def _line_mask(gdf: pd.DataFrame) -> np.ndarray | None:
    """True for each line feature (missing geometries count as lines when all others are lines);
    None when ``gdf`` has no geometry column."""
    import shapely

    try:
        geoms = gdf.geometry.array if hasattr(gdf, "geometry") else None
        ids = shapely.get_type_id(np.asarray(geoms, dtype=object)) if geoms is not None else None
    except (AttributeError, TypeError, ValueError):
        return None
    if ids is None or len(ids) == 0:
        return None
    lines = np.isin(ids, _LINE_TYPES)
    missing = ids < 0
    if missing.any() and lines[~missing].all():
        lines = lines | missing
    return lines


def category_keys(values: pd.Series) -> list[str]:
    """The categories of ``values`` in legend order: the distinct values as text, sorted; a missing
    value is the category ``NO_VALUE`` (listed last, only if there is one). ``Style.categories``
    and ``Style.category_labels`` are keyed by these."""
    keys = values.astype("string")
    return _sorted_keys(values, keys) + ([NO_VALUE] if keys.isna().any() else [])


def _sorted_keys(values: pd.Series, keys: pd.Series) -> list[str]:
    """The distinct non-missing ``keys`` (``values`` as text) in order: by number for a numeric
    column (2 before 10), else as text with the numbers in it compared as numbers ("Zone 2"
    before "Zone 10", "5–10 min" before "10–15 min")."""
    present = values.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        order = pd.DataFrame({"k": keys[present], "v": values[present]}).drop_duplicates("k").sort_values("v")
        return [str(k) for k in order["k"]]
    return sorted(keys[present].unique(), key=_natural)


def _natural(text: str) -> tuple:
    parts = re.split(r"(\d+(?:\.\d+)?)", str(text))
    return tuple((1, float(p), "") if i % 2 else (0, 0.0, p) for i, p in enumerate(parts) if p), str(text)


def _categorized(style: Style, values: pd.Series) -> Symbology:
    missing = values.isna().to_numpy()
    keys = values.astype("string").fillna(NO_VALUE)
    uniques = _sorted_keys(values, keys)
    palette = PALETTES.get(style.palette, PALETTES["okabe_ito"])
    colors = {key: style.categories.get(key, palette[i % len(palette)]) for i, key in enumerate(uniques)}
    colors[NO_VALUE] = style.categories.get(NO_VALUE, NO_DATA_COLOR)
    out = keys.map(colors).to_numpy(dtype=object)
    legend = [(style.category_labels.get(k, str(k)), colors[k]) for k in uniques]
    if missing.any():
        legend.append((NO_VALUE, colors[NO_VALUE]))
    return Symbology(out, legend)


def _breaks(value: object) -> tuple[float, ...] | None:
    """Manual class bounds: finite numbers, distinct and rising (at most 12), else None."""
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 12:
        return None
    if any(isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) for v in value):
        return None
    out = tuple(float(v) for v in value)
    return out if all(a < b for a, b in zip(out, out[1:], strict=False)) else None


def _graduated(style: Style, numeric: pd.Series) -> Symbology:
    from matplotlib import colormaps

    if style.scheme == "manual" and style.breaks:
        return _manual(style, numeric, colormaps)
    import mapclassify
    from matplotlib.colors import to_hex

    valid = numeric.dropna().to_numpy(dtype=float)
    k = max(2, min(int(style.classes), len(np.unique(valid))))
    if len(np.unique(valid)) < 2:
        bins = np.array([valid.max()])
    else:
        classifier = getattr(mapclassify, SCHEMES[style.scheme])
        sample = valid
        if style.scheme == "natural_breaks" and len(valid) > JENKS_SAMPLE:
            sample = np.quantile(valid, np.linspace(0.0, 1.0, JENKS_SAMPLE))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bins = classifier(sample, k=k).bins if style.scheme != "std_mean" else classifier(sample).bins
        except Exception:  # e.g. too few distinct values for Fisher-Jenks
            bins = mapclassify.EqualInterval(valid, k=k).bins
    bins = np.asarray(bins, dtype=float)
    bins = np.unique(np.append(bins[(bins >= valid.min()) & (bins < valid.max())], valid.max()))
    cmap = colormaps[style.ramp] if style.ramp in colormaps else colormaps["viridis"]
    shades = [to_hex(cmap(x)) for x in (np.linspace(0.1, 0.9, len(bins)) if len(bins) > 1 else [0.5])]
    idx = np.searchsorted(bins, numeric.to_numpy(dtype=float), side="left")
    idx = np.clip(idx, 0, len(bins) - 1)
    out = np.asarray(shades, dtype=object)[idx]
    out[numeric.isna().to_numpy()] = NO_DATA_COLOR
    unit = f" {style.unit}" if style.unit else ""
    legend, lower = [], valid.min()
    for b, colour in zip(bins, shades, strict=True):
        legend.append((f"{_fmt(lower)} – {_fmt(b)}{unit}", colour))
        lower = b
    if numeric.isna().any():
        legend.append((NO_VALUE, NO_DATA_COLOR))
    return Symbology(out, legend)


def _manual(style: Style, numeric: pd.Series, colormaps) -> Symbology:
    """Classes with fixed bounds (a standard's bands, a score's fifths): every class is in the
    legend, present or not, so maps made from different data read alike. Class i holds values
    above bound i-1 up to bound i; values below the first bound fall in the first class and values
    above the last in the last."""
    from matplotlib.colors import to_hex

    bins = np.asarray(style.breaks, dtype=float)
    cmap = colormaps[style.ramp] if style.ramp in colormaps else colormaps["viridis"]
    shades = [to_hex(cmap(x)) for x in (np.linspace(0.1, 0.9, len(bins)) if len(bins) > 1 else [0.5])]
    idx = np.clip(np.searchsorted(bins, numeric.to_numpy(dtype=float), side="left"), 0, len(bins) - 1)
    out = np.asarray(shades, dtype=object)[idx]
    out[numeric.isna().to_numpy()] = NO_DATA_COLOR
    unit = f" {style.unit}" if style.unit else ""
    legend = [(f"≤ {_fmt(bins[0])}{unit}", shades[0])]
    legend += [(f"{_fmt(a)} – {_fmt(b)}{unit}", c) for a, b, c in zip(bins[:-1], bins[1:], shades[1:], strict=True)]
    if numeric.isna().any():
        legend.append((NO_VALUE, NO_DATA_COLOR))
    return Symbology(out, legend)


def _fmt(x: float) -> str:
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")
