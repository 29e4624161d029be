"""A CityDesk layer style as QGIS reads it: QML (``renderer-v2``: single symbol, categories or
graduated ranges) and SLD 1.1, for the ``layer_styles`` table of an exported GeoPackage.

The classes and colours come from ``layers.style.symbolize`` on the layer itself, as in the
window: categories are keyed like ``category_keys``; a graduated class runs from the previous
class's upper bound to the largest value drawn in its colour. Sizes are screen pixels (QGIS unit
``Pixel``), as in CityDesk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from layers.layer import Layer, geometry_kind
from layers.style import NO_VALUE, Style, category_keys
from reports.symbology import symbology as symbolize


@dataclass(frozen=True)
class StyleClass:
    """One legend entry: its label and colour, and which features it holds (``value`` for a
    category, ``lower``/``upper`` for a graduated range; neither for the single symbol)."""

    label: str
    color: str
    value: str | None = None
    lower: float | None = None
    upper: float | None = None


def style_classes(layer: Layer) -> tuple[str, list[StyleClass]]:
    """The renderer kind (``single``, ``categorized``, ``graduated``) and its classes."""
    gdf, style = layer.gdf, layer.style
    symbology = symbolize(style, gdf)
    if style.kind == "single" or not style.field or style.field not in gdf.columns:
        return "single", [StyleClass(symbology.legend[0][0] or layer.name, symbology.legend[0][1])]
    values = gdf[style.field]
    if style.kind == "categorized":
        keys, missing = category_keys(values), bool(values.isna().any())
        classes = [StyleClass(label, colour, value=None if missing and i == len(keys) - 1 else key)
                   for i, (key, (label, colour)) in enumerate(zip(keys, symbology.legend, strict=True))]
        return "categorized", classes
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == 0:
        return "single", [StyleClass(layer.name, symbology.colors[0] if len(gdf) else style.fill)]
    table = pd.DataFrame({"v": numeric.to_numpy(dtype=float), "c": symbology.colors}).dropna()
    top, bottom = table.groupby("c")["v"].max(), table.groupby("c")["v"].min()
    shades = [colour for label, colour in symbology.legend if label != NO_VALUE]
    classes, lower = [], float(table["v"].min())
    bounds = list(style.breaks) if style.scheme == "manual" and style.breaks else None
    for i, (label, colour) in enumerate(symbology.legend):
        if label == NO_VALUE:
            continue  # missing values: not drawn by a range
        upper = bounds[i] if bounds else _upper(label, top.get(colour, lower), bottom, shades[i + 1:])
        if bounds and i == 0:
            lower = min(lower, upper)
        if bounds and i == len(bounds) - 1:
            upper = max(upper, float(table["v"].max()))
        classes.append(StyleClass(label, colour, lower=lower, upper=upper))
        lower = upper
    return "graduated", classes


def _upper(label: str, largest: float, bottom: pd.Series, later: list[str]) -> float:
    """A graduated class's upper bound: the bound in its legend label (as the window shows it)
    when that still holds the class's values and none of the next class's, else its largest value."""
    found = re.findall(r"-?[\d,]*\.?\d+", label.replace("\u2212", "-"))
    following = min((float(bottom[c]) for c in later if c in bottom.index), default=np.inf)
    if found:
        try:
            bound = float(found[-1].replace(",", ""))
        except ValueError:
            bound = None
        if bound is not None and largest <= bound < following:
            return bound
    return float(largest)


def _rgba(colour: str, alpha: float = 1.0) -> str:
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(colour)
    return f"{round(r * 255)},{round(g * 255)},{round(b * 255)},{round(a * alpha * 255)}"


def _options(values: dict[str, str]) -> str:
    rows = "".join(f'<Option name={quoteattr(k)} type="QString" value={quoteattr(str(v))}/>'
                   for k, v in values.items())
    return f'<Option type="Map">{rows}</Option>'


def _symbol(name: str, kind: str, colour: str, style: Style) -> str:
    width = f"{max(style.stroke_width, 0.0):g}"
    if kind == "point":
        cls, typ = "SimpleMarker", "marker"
        opts = {"name": "circle", "color": _rgba(colour), "outline_color": _rgba(style.stroke),
                "outline_style": "solid" if style.stroke_width > 0 else "no", "outline_width": width,
                "outline_width_unit": "Pixel", "size": f"{style.size:g}", "size_unit": "Pixel",
                "scale_method": "diameter", "joinstyle": "bevel", "angle": "0"}
    elif kind == "line":
        cls, typ = "SimpleLine", "line"
        opts = {"line_color": _rgba(colour), "line_style": "solid", "line_width": f"{max(style.stroke_width, 0.5):g}",
                "line_width_unit": "Pixel", "capstyle": "round", "joinstyle": "round"}
    else:
        cls, typ = "SimpleFill", "fill"
        opts = {"color": _rgba(colour, style.fill_opacity), "style": "solid", "outline_color": _rgba(style.stroke),
                "outline_style": "solid" if style.stroke_width > 0 else "no", "outline_width": width,
                "outline_width_unit": "Pixel", "joinstyle": "bevel"}
    return (f'<symbol name={quoteattr(name)} type="{typ}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{cls}" pass="0" locked="0" enabled="1">{_options(opts)}</layer></symbol>')


def _kind(layer: Layer) -> str:
    kind = geometry_kind(layer.gdf)
    return kind if kind in ("point", "line") else "polygon"


def to_qml(layer: Layer) -> str:
    """The layer's style as a QGIS QML document (what QGIS itself stores in ``styleQML``)."""
    style, kind = layer.style, _kind(layer)
    renderer, classes = style_classes(layer)
    symbols = "".join(_symbol(str(i), kind, c.color, style) for i, c in enumerate(classes))
    if renderer == "single":
        body = ('<renderer-v2 type="singleSymbol" forceraster="0" symbollevels="0" enableorderby="0">'
                f"<symbols>{symbols}</symbols></renderer-v2>")
    elif renderer == "categorized":
        rows = "".join(f'<category value={quoteattr(c.value if c.value is not None else "")} symbol="{i}" '
                       f'label={quoteattr(c.label)} render="true"/>' for i, c in enumerate(classes))
        body = (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(style.field)} forceraster="0" '
                f'symbollevels="0" enableorderby="0"><categories>{rows}</categories>'
                f"<symbols>{symbols}</symbols></renderer-v2>")
    else:
        rows = "".join(f'<range lower="{c.lower!r}" upper="{c.upper!r}" symbol="{i}" label={quoteattr(c.label)} '
                       f'render="true"/>' for i, c in enumerate(classes))
        body = (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(style.field)} graduatedMethod="GraduatedColor" '
                f'forceraster="0" symbollevels="0" enableorderby="0"><ranges>{rows}</ranges>'
                f"<symbols>{symbols}</symbols></renderer-v2>")
    labels = ""
    if style.label_field and style.label_field in layer.gdf.columns:
        labels = _labeling(style)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.22.0" styleCategories="Symbology|Labeling" labelsEnabled="{int(bool(labels))}">'
            f"{body}{labels}<layerOpacity>{style.opacity:g}</layerOpacity></qgis>\n")


def _labeling(style: Style) -> str:
    return ('<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(style.label_field)} fontSize="{style.label_size:g}" '
            f'fontSizeUnit="Pixel" textColor="{_rgba(style.label_color)}" '
            'isExpression="0" fontFamily="DejaVu Sans"><text-buffer bufferDraw="1" bufferSize="1" '
            'bufferSizeUnits="Pixel" bufferColor="255,255,255,255"/></text-style>'
            '<placement placement="0" dist="2" distUnits="Pixel"/></settings></labeling>')


def to_sld(layer: Layer, name: str) -> str:
    """The layer's style as SLD 1.1 (Symbology Encoding), one rule per class."""
    style, kind = layer.style, _kind(layer)
    renderer, classes = style_classes(layer)
    rules = []
    for c in classes:
        if renderer == "categorized":
            filt = (_filter(f"<ogc:PropertyIsNull>{_prop(style.field)}</ogc:PropertyIsNull>") if c.value is None else
                    _filter(f"<ogc:PropertyIsEqualTo>{_prop(style.field)}<ogc:Literal>{escape(c.value)}</ogc:Literal>"
                            "</ogc:PropertyIsEqualTo>"))
        elif renderer == "graduated":
            filt = _filter(f"<ogc:And><ogc:PropertyIsGreaterThanOrEqualTo>{_prop(style.field)}"
                           f"<ogc:Literal>{c.lower!r}</ogc:Literal></ogc:PropertyIsGreaterThanOrEqualTo>"
                           f"<ogc:PropertyIsLessThanOrEqualTo>{_prop(style.field)}<ogc:Literal>{c.upper!r}"
                           "</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo></ogc:And>")
        else:
            filt = ""
        rules.append(f"<se:Rule><se:Name>{escape(c.label)}</se:Name><se:Description><se:Title>{escape(c.label)}"
                     f"</se:Title></se:Description>{filt}{_symbolizer(kind, c.color, style)}</se:Rule>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" '
            'xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'version="1.1.0" xsi:schemaLocation="http://www.opengis.net/sld '
            'http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd">'
            f"<NamedLayer><se:Name>{escape(name)}</se:Name><UserStyle><se:Name>{escape(name)}</se:Name>"
            f"<se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle></NamedLayer>"
            "</StyledLayerDescriptor>\n")


def _prop(field: str) -> str:
    return f"<ogc:PropertyName>{escape(field)}</ogc:PropertyName>"


def _filter(body: str) -> str:
    return f"<ogc:Filter>{body}</ogc:Filter>"


def _svg(name: str, value) -> str:
    return f'<se:SvgParameter name="{name}">{escape(str(value))}</se:SvgParameter>'


def _symbolizer(kind: str, colour: str, style: Style) -> str:
    stroke = (f"<se:Stroke>{_svg('stroke', style.stroke)}{_svg('stroke-width', f'{style.stroke_width:g}')}</se:Stroke>"
              if style.stroke_width > 0 else "")
    if kind == "line":
        return (f"<se:LineSymbolizer><se:Stroke>{_svg('stroke', colour)}"
                f"{_svg('stroke-width', f'{max(style.stroke_width, 0.5):g}')}</se:Stroke></se:LineSymbolizer>")
    fill = f"<se:Fill>{_svg('fill', colour)}"
    if kind == "point":
        return (f"<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName>{fill}"
                f"</se:Fill>{stroke}</se:Mark><se:Size>{style.size:g}</se:Size></se:Graphic></se:PointSymbolizer>")
    return (f"<se:PolygonSymbolizer>{fill}{_svg('fill-opacity', f'{style.fill_opacity:g}')}</se:Fill>{stroke}"
            "</se:PolygonSymbolizer>")

