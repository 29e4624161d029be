"""The interactive web map: one self-contained HTML file (Leaflet and every asset inlined by
``folium-offline``) that works with no network, e.g. on a laptop in a council chamber.

Layers are switchable, drawn with the colours and classes of their styles (``layers.style.symbolize``,
as in the window), with popups of chosen fields, a legend and the data attribution. No map tiles
are fetched unless asked (``tiles=True`` adds an OpenStreetMap background marked as needing a
network). Large layers are simplified and coordinates rounded to fit a size budget; the
:class:`WebMapReport` says what was dropped and, over the budget, proposes a smaller export.

    report = write_webmap(project, "map.html", budget_mb=10)
    print("\\n".join(report.lines()))
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import offlinefolium as folium
from branca.element import Element, MacroElement
from offlinefolium.map import Layer as FoliumLayer
from offlinefolium.template import Template
from pyproj import CRS

from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.layer import Layer
from layers.writers import write_text
from reports.webmap_data import LayerStats, WebLayer, prepare_layers
from reports.webmap_page import CSS, SCRIPT, legend_html, note_html, title_html

DEFAULT_BUDGET_MB = 10.0
#: A layer with more features than this is drawn on a canvas (fast) instead of as SVG paths.
CANVAS_FROM = 20_000
OSM_NOTE = ("The OpenStreetMap background needs an internet connection; without one the layers show on a plain "
            "background.")


@dataclass
class WebMapReport:
    """What :func:`write_webmap` wrote: sizes in bytes, the simplification tolerance (metres), per
    layer what was kept and dropped, and a proposal when the page is over the budget."""

    path: Path | None
    bytes: int
    budget_bytes: int
    tolerance_m: float
    layers: list[LayerStats] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # layers without geometry or data
    suggestion: str = ""

    @property
    def over_budget(self) -> bool:
        return self.bytes > self.budget_bytes

    def lines(self) -> list[str]:
        """The report in plain sentences, for the command line and the window."""
        out = [f"{_mb(self.bytes)} (budget {_mb(self.budget_bytes)}), {len(self.layers)} layers"]
        if self.tolerance_m > 0:
            out.append(f"lines and polygons simplified to {self.tolerance_m:g} m; coordinates rounded to ~0.1 m")
        else:
            out.append("coordinates rounded to ~0.1 m; nothing simplified")
        for s in self.layers:
            text = f"{s.name}: {s.kept:,} of {s.features:,} features"
            if s.vertices and s.vertices_kept < s.vertices:
                text += f", {s.vertices - s.vertices_kept:,} of {s.vertices:,} vertices dropped"
            if s.dropped:
                text += f", {s.dropped:,} features dropped (no geometry, or smaller than the tolerance)"
            if s.outside:
                text += f", {s.outside:,} outside the extent"
            out.append(f"{text} ({_mb(s.bytes)})")
        if self.skipped:
            out.append("left out (no geometry or no data): " + ", ".join(self.skipped))
        if self.over_budget:
            out.append(f"WARNING: the page is over the budget. {self.suggestion}")
        return out


def _mb(n: float) -> str:
    return f"{n / 1e3:,.0f} kB" if n < 100_000 else f"{n / 1e6:.2f} MB"


class _WebLayerElement(FoliumLayer):
    """One CityDesk layer in the folium map, drawn by the page script (``citydesk.layer``)."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = citydesk.layer({{ this._parent.get_name() }}, {{ this.data }}, {{ this.options }});
{% endmacro %}
""")

    def __init__(self, name: str, data: str, options: str, show: bool):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CityDeskLayer"
        self.data, self.options = data, options


class _PageScript(MacroElement):
    """Title, zoom buttons, legend, notes and attribution, after the layers."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function (map) {
  {% if this.title %}citydesk.box(map, 'topleft', 'cd-title', {{ this.title }});{% endif %}
  L.control.zoom({position: 'topleft'}).addTo(map);
  {% if this.legend %}citydesk.box(map, 'bottomright', 'cd-legend', {{ this.legend }});{% endif %}
  {% if this.note %}citydesk.box(map, 'bottomleft', 'cd-note', {{ this.note }});{% endif %}
  {% for text in this.attribution %}map.attributionControl.addAttribution({{ text }});{% endfor %}
  citydesk.legendToggle(map);
  {% if this.bounds %}map.fitBounds({{ this.bounds }}, {padding: [20, 20]});{% endif %}
})({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self, *, title: str, legend: str, note: str, attribution: list[str], bounds):
        super().__init__()
        self._name = "CityDeskPage"
        self.title, self.legend, self.note = _js(title), _js(legend), _js(note)
        self.attribution = [_js(html.escape(a)) for a in attribution]
        self.bounds = json.dumps(bounds) if bounds else ""


def _js(value) -> str:
    """A JSON value that is safe inside a <script> element ('' for empty text)."""
    if value in ("", None):
        return ""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace("\u2028", "\\u2028")


def resolve(source, names: list[str] | None = None, *, visible_only: bool = True) -> tuple[list[Layer], dict]:
    """The layers to export (top first) and page settings from ``source``: a Project, a list of
    Layers, one Layer, or a path (a ``.citydesk`` project or a layer file). ``names`` chooses layers
    by name (default: a project's visible layers — all of them without ``visible_only`` —, every
    layer of a file)."""
    from layers.project import Project, load_project

    meta = {"title": "", "attribution": [], "crs": None}
    if isinstance(source, str | Path):
        path = Path(source)
        if path.suffix == ".citydesk":
            source = load_project(path)
        else:
            from layers.readers import read_layers

            source = read_layers(path)
            meta["title"] = path.stem
    if isinstance(source, Project):
        meta.update(title=source.title, attribution=list(source.attribution), crs=source.crs)
        layers = list(source.layers)
        default = [lay for lay in layers if lay.visible or not visible_only]
    else:
        layers = [source] if isinstance(source, Layer) else list(source)
        default = layers
    if names:
        by_name = {lay.name: lay for lay in layers}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise CityDeskError(f"there is no layer {', '.join(repr(n) for n in unknown)}",
                                fix=f"Layers: {', '.join(by_name) or '(none)'}")
        chosen = [by_name[n] for n in names]
    else:
        chosen = default
    return chosen, meta


def build_webmap(source, *, layers: list[str] | None = None, fields: dict[str, list[str]] | None = None,
                 budget_mb: float = DEFAULT_BUDGET_MB, extent=None, extent_crs=None, tiles: bool = False,
                 title: str | None = None, subtitle: str | None = None, attribution: list[str] | None = None,
                 feedback: Feedback | None = None) -> tuple[str, WebMapReport]:
    """The page as HTML text and its :class:`WebMapReport` (``path`` None). See :func:`write_webmap`."""
    fb = ensure(feedback)
    chosen, meta = resolve(source, layers)
    usable = [lay for lay in chosen if lay.gdf is not None and lay.geometry_kind != "none"]
    skipped = [lay.name for lay in chosen if lay not in usable]
    if not usable:
        raise CityDeskError("there is no layer with features to put on the web map",
                            fix="Choose layers that have geometries (or switch layers on)")
    budget = int(budget_mb * 1e6)
    crs = meta["crs"] if isinstance(meta["crs"], CRS) else None
    web, tolerance = prepare_layers(usable, fields=fields, budget_bytes=budget, extent=extent,
                                    extent_crs=extent_crs or crs, crs=crs, feedback=SubFeedback(fb, 0.0, 0.8))
    fb.check_cancelled()
    fb.progress(0.8, "Composing the page")
    title = meta["title"] if title is None else title
    subtitle = subtitle if subtitle is not None else f"CityDesk web map · {date.today().isoformat()}"
    credits = list(meta["attribution"] if attribution is None else attribution)
    page = _compose(web, title=title, subtitle=subtitle, attribution=credits, tiles=tiles)
    fb.progress(0.95, "Page ready")
    report = WebMapReport(None, len(page.encode("utf-8")), budget, tolerance, [w.stats for w in web], skipped)
    if report.over_budget:
        report.suggestion = suggest_subset(web, report.bytes, budget)
    return page, report


def write_webmap(source, path: str | Path, *, layers: list[str] | None = None,
                 fields: dict[str, list[str]] | None = None, budget_mb: float = DEFAULT_BUDGET_MB,
                 extent=None, extent_crs=None, tiles: bool = False, title: str | None = None,
                 subtitle: str | None = None, attribution: list[str] | None = None,
                 feedback: Feedback | None = None) -> WebMapReport:
    """Write the web map of ``source`` (a Project, Layers, or a project / layer file path) to ``path``.

    ``layers``: layer names (default: the project's visible layers); ``fields``: popup columns per
    layer name (default: a few meaningful ones); ``budget_mb``: the page size to aim for, in MB
    (10⁶ bytes) — lines and polygons are simplified (tolerance in metres) to fit and the page is
    written even when it does not fit, with a warning and a proposal in the report; ``extent``:
    (xmin, ymin, xmax, ymax) in ``extent_crs`` (default: the project CRS) keeps only the features
    touching it; ``tiles``: add an OpenStreetMap background (needs a network to show).
    The file is written atomically."""
    fb = ensure(feedback)
    page, report = build_webmap(source, layers=layers, fields=fields, budget_mb=budget_mb, extent=extent,
                                extent_crs=extent_crs, tiles=tiles, title=title, subtitle=subtitle,
                                attribution=attribution, feedback=SubFeedback(fb, 0.0, 0.95))
    fb.check_cancelled()
    write_text(path, page)
    report.path = Path(path)
    fb.progress(1.0, "Web map written")
    return report


def suggest_subset(web: list[WebLayer], total: int, budget: int) -> str:
    """A smaller export that fits: which layers to leave out (largest first), or the map view."""
    over = total - budget
    dropped, saved = [], 0
    for w in sorted(web, key=lambda w: w.bytes, reverse=True):
        if saved >= over:
            break
        dropped.append(f"{w.layer.name} ({_mb(w.bytes)})")
        saved += w.bytes
    if saved >= over and len(dropped) < len(web):
        return (f"Leave out {', '.join(dropped)}, or export only the current map view (a smaller extent), "
                "or raise the budget.")
    return "Export only the current map view (a smaller extent), or raise the budget."


def _compose(web: list[WebLayer], *, title: str, subtitle: str, attribution: list[str], tiles: bool) -> str:
    shown = [w for w in web if w.layer.visible] or web
    boxes = [w.bounds for w in shown if w.bounds] or [w.bounds for w in web if w.bounds]
    bounds = None
    if boxes:
        west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
        east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
        bounds = [[south, west], [north, east]]
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2] if bounds else [0, 0]
    m = folium.Map(location=centre, zoom_start=14, tiles=None, control_scale=True, zoom_control=False,
                   max_zoom=22)
    root = m.get_root()
    root.title = html.escape(title or "CityDesk web map")
    root.header.add_child(Element(f"<style>{CSS}</style>"), name="citydesk_css")
    root.header.add_child(Element(f"<script>{SCRIPT}</script>"), name="citydesk_js")
    if tiles:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (needs internet)", overlay=False, show=True,
                         max_zoom=22, max_native_zoom=19).add_to(m)
        folium.FeatureGroup(name="Plain background", overlay=False, show=False).add_to(m)
    n = len(web)
    options = {}
    for i, w in enumerate(web):  # top layer first, as in the Layers panel; panes keep the drawing order
        pane = f"cd-layer-{i}"
        style = w.layer.style
        opts = {"pane": pane, "z": 400 + n - i, "canvas": w.stats.kept > CANVAS_FROM, "kind": w.kind,
                "colors": w.colors, "stroke": style.stroke, "weight": max(float(style.stroke_width), 0.0),
                "lineWeight": max(float(style.stroke_width), 1.0), "radius": max(float(style.size) / 2, 2.0),
                "opacity": float(style.opacity), "fillOpacity": float(style.fill_opacity),
                "fields": list(w.fields), "title": w.layer.name}
        options[pane] = opts
        data = '{"g":' + w.geometry_json + ',"p":' + w.popup_json + ',"c":' + json.dumps(w.color_index.tolist()) + "}"
        _WebLayerElement(html.escape(w.layer.name), data.replace("<", "\\u003c"), _js(opts),
                         show=w.layer.visible).add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    entries = [(f"cd-layer-{i}", w.layer.name, w.kind, w.legend, w.layer.visible) for i, w in enumerate(web)]
    legend = legend_html(entries, lambda pane: (options[pane]["stroke"], options[pane]["fillOpacity"]))
    _PageScript(title=title_html(title, subtitle) if title else "", legend=legend,
                note=note_html([OSM_NOTE]) if tiles else "", attribution=attribution, bounds=bounds).add_to(m)
    return root.render()
