"""The meeting map: a print-ready page (A4/A3, portrait/landscape) of the visible layers with a
title, subtitle, legend (the layer styles' classes and units), metric scale bar with the scale,
north arrow, data attribution and date. PDF (vector, TrueType fonts embedded), SVG or PNG.

Layout is computed in inches from the text it holds, so no text touches the map frame; the
legend takes more columns, then a smaller font, until it fits its panel (:func:`fit_legend`).
Drawn with matplotlib's object API (no pyplot), so it runs in worker threads.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyproj import CRS

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.layer import Layer
from layers.writers import atomic_path
from reports.map_draw import PX_TO_PT, bounds_of, draw_symbolized, prepared, symbolized

PAPERS = {"A4": (8.27, 11.69), "A3": (11.69, 16.54)}  # portrait width, height in inches
FORMATS = ("pdf", "svg", "png")
MARGIN_IN = 0.45
FONT = "DejaVu Sans"
#: One font for every text, embedded in PDFs as TrueType (Type 42), kept as text in SVGs.
RC = {"pdf.fonttype": 42, "svg.fonttype": "none", "font.family": FONT, "path.simplify": True,
      "pdf.compression": 3}  # zlib level 3: half the time of the default 6, a tenth larger


@dataclass(frozen=True)
class MapOptions:
    """What the page shows: texts, paper (``A4``/``A3``), orientation, resolution (dots per
    inch, for PNG and the map's raster parts) and the extent (xmin, ymin, xmax, ymax in the
    map CRS; None = all shown layers)."""

    title: str = "Map"
    subtitle: str = ""
    paper: str = "A4"
    landscape: bool = True
    dpi: int = 200
    extent: tuple[float, float, float, float] | None = None
    attribution: tuple[str, ...] = ()
    date: str = field(default_factory=lambda: dt.date.today().isoformat())

    def size_in(self) -> tuple[float, float]:
        if self.paper not in PAPERS:
            raise CityDeskError(f"the paper '{self.paper}' is not known", fix=f"Choose one of {', '.join(PAPERS)}")
        w, h = PAPERS[self.paper]
        return (h, w) if self.landscape else (w, h)


def _scale(options: MapOptions) -> float:
    """Text and symbols grow with the paper: A3 is A4 times sqrt(2)."""
    return 1.0 if options.paper == "A4" else math.sqrt(2)


def compose_map(layers: Sequence[Layer], crs: CRS | str, options: MapOptions, *,
                feedback: Feedback | None = None):
    """The page as a matplotlib Figure (with an Agg canvas). ``layers`` first = top, as in the
    layers panel; hidden, unreadable and empty layers are left out (and out of the legend)."""
    from matplotlib import rc_context

    with rc_context(RC):
        return _compose(layers, crs, options, ensure(feedback))


def _compose(layers, crs, options: MapOptions, fb):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    crs = CRS.from_user_input(crs)
    w, h = options.size_in()
    s = _scale(options)
    fig = Figure(figsize=(w, h), dpi=options.dpi)
    FigureCanvasAgg(fig)
    fb.progress(0.05, "Preparing the layers")
    shown = prepared(layers, crs)
    fb.check_cancelled()

    # header: title and subtitle, wrapped to the page width
    chars = int((w - 2 * MARGIN_IN) * 72 / (0.55 * 17 * s))
    title_lines = textwrap.wrap(options.title or "Map", chars) or [""]
    sub_lines = textwrap.wrap(options.subtitle, int(chars * 17 / 10.5)) if options.subtitle else []
    y = h - MARGIN_IN
    title_pt, sub_pt, small_pt = 17 * s, 10.5 * s, 7 * s
    for line in title_lines:
        fig.text(MARGIN_IN / w, y / h, line, fontsize=title_pt, weight="bold", va="top", color="#111111")
        y -= title_pt * 1.25 / 72
    for line in sub_lines:
        fig.text(MARGIN_IN / w, y / h, line, fontsize=sub_pt, va="top", color="#444444")
        y -= sub_pt * 1.3 / 72
    top = y - 0.12 * s

    # footer: attribution, then the map's making
    credits = "Data: " + "; ".join(options.attribution) if options.attribution else ""
    foot_chars = int((w - 2 * MARGIN_IN) * 72 / (0.55 * small_pt))
    foot = textwrap.wrap(credits, foot_chars) if credits else []
    foot.append(f"Map: CityDesk, {options.date}  ·  {crs.name}  ·  {options.paper} "
                f"{'landscape' if options.landscape else 'portrait'}")
    yb = MARGIN_IN
    for line in reversed(foot):
        fig.text(MARGIN_IN / w, yb / h, line, fontsize=small_pt, va="bottom", color="#333333")
        yb += small_pt * 1.35 / 72
    bottom = yb + 0.1 * s

    # map frame and legend panel: beside the map on landscape pages, below it on portrait ones
    inner_w = w - 2 * MARGIN_IN
    if options.landscape:
        panel_w = min(max(2.3 * s, 0.27 * inner_w), 4.2 * s)
        map_box = (MARGIN_IN, bottom, inner_w - panel_w - 0.2 * s, top - bottom)
        panel = (MARGIN_IN + map_box[2] + 0.2 * s, bottom, panel_w, top - bottom)
    else:
        panel_h = 0.24 * (top - bottom)
        map_box = (MARGIN_IN, bottom + panel_h + 0.15 * s, inner_w, top - bottom - panel_h - 0.15 * s)
        panel = (MARGIN_IN, bottom, inner_w, panel_h)
    ax = fig.add_axes(_frac(map_box, w, h))
    ax.set_gid("map-frame")
    legend_ax = fig.add_axes(_frac(panel, w, h))
    legend_ax.axis("off")
    legend_ax.set_gid("legend-panel")

    fb.progress(0.15, "Classifying the layers")
    drawn = symbolized(shown)
    entries = [(layer, kind, sym.legend) for layer, _, kind, sym in drawn]
    fb.check_cancelled()
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#444444")
        spine.set_linewidth(0.8)
    fb.progress(0.7, "Legend, scale bar and north arrow")
    legend = fit_legend(legend_ax, entries, s)
    if not options.landscape:  # the map takes the room the legend leaves below it
        used = legend.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi if legend else 0.0
        spare = panel[3] - used - 0.05 * s
        if spare > 0:
            panel = (panel[0], panel[1], panel[2], panel[3] - spare)
            map_box = (map_box[0], map_box[1] - spare, map_box[2], map_box[3] + spare)
            ax.set_position(_frac(map_box, w, h))
            legend_ax.set_position(_frac(panel, w, h))
    extent = options.extent or bounds_of([gdf for _, gdf in shown]) or (0.0, 0.0, 1000.0, 1000.0)
    set_extent(ax, extent, map_box)
    fb.progress(0.3, "Drawing the layers")
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    draw_symbolized(ax, drawn, scale=s, extent=(x0, y0, x1, y1), pixel=(x1 - x0) / (map_box[2] * options.dpi))
    fb.check_cancelled()
    scale_bar(ax, crs, map_box[2], s)
    north_arrow(ax, s)
    fb.progress(0.8, "Map composed")
    return fig


def write_map(layers: Sequence[Layer], out: str | Path, *, crs: CRS | str, options: MapOptions,
              feedback: Feedback | None = None) -> Path:
    """Compose the page and write it to ``out`` (.pdf, .svg or .png by its suffix) atomically."""
    from matplotlib import rc_context

    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise CityDeskError(f"a map cannot be written as '{out.suffix or out.name}'", source=out,
                            fix="Use a file name ending in .pdf, .svg or .png")
    fb = ensure(feedback)
    with rc_context(RC):
        fig = compose_map(layers, crs, options, feedback=fb)
        fb.progress(0.85, f"Writing {out.name}")
        fb.check_cancelled()
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=options.dpi, format=fmt, metadata=_metadata(fmt, options))
    fb.progress(1.0, f"Wrote {out.name}")
    return out


def project_map(project, out: str | Path, options: MapOptions, *, names: Sequence[str] | None = None,
                extent_layer: str | None = None, use_view: bool = False, feedback: Feedback | None = None) -> Path:
    """A meeting map of ``project``: its visible layers (or the layers ``names``, shown even if
    hidden), over the extent of ``extent_layer``, or the project's saved view when ``use_view``,
    else of everything shown. Attribution defaults to the project's."""
    from dataclasses import replace

    layers = list(project.layers)
    if names:
        picked = [project.layer(n) for n in names]  # raises a readable error for an unknown name
        layers = [Layer(lay.name, lay.gdf, lay.source, lay.role, lay.style, True) for lay in picked]
    if not options.attribution and project.attribution:
        options = replace(options, attribution=tuple(project.attribution))
    if extent_layer:
        layer = project.layer(extent_layer)
        if layer.gdf is None or not len(layer.gdf):
            raise CityDeskError(f"the layer '{extent_layer}' has no features to take the extent from",
                                source=project.path, fix="Choose another --extent-layer")
        gdf = layer.gdf.to_crs(project.crs) if layer.gdf.crs is not None else layer.gdf
        options = replace(options, extent=tuple(float(v) for v in gdf.total_bounds))
    elif use_view and project.view and options.extent is None:
        options = replace(options, extent=tuple(project.view))
    return write_map(layers, out, crs=project.crs, options=options, feedback=feedback)


def _metadata(fmt: str, options: MapOptions) -> dict:
    if fmt == "pdf":
        return {"Title": options.title, "Creator": "CityDesk", "Subject": options.subtitle}
    if fmt == "svg":
        return {"Title": options.title, "Creator": "CityDesk"}
    return {"Title": options.title, "Software": "CityDesk"}


def _frac(box, w, h):
    x, y, bw, bh = box
    return (x / w, y / h, bw / w, bh / h)


def set_extent(ax, extent, box_in) -> None:
    """Show ``extent`` (plus a margin) at equal scale, widened to the frame's shape."""
    xmin, ymin, xmax, ymax = extent
    wd, ht = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
    pad = 0.03 * max(wd, ht)
    wd, ht = wd + 2 * pad, ht + 2 * pad
    frame = box_in[2] / box_in[3]
    if wd / ht < frame:
        wd = ht * frame
    else:
        ht = wd / frame
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    ax.set_xlim(cx - wd / 2, cx + wd / 2)
    ax.set_ylim(cy - ht / 2, cy + ht / 2)
    ax.set_aspect("equal", adjustable="box")


def legend_items(entries) -> list[tuple[str, str, str, object, bool]]:
    """(label, kind, colour, style, is_heading) rows of the legend, top layer first."""
    rows = []
    for layer, kind, legend in entries:
        style = layer.style
        if len(legend) <= 1:
            rows.append((layer.name, kind, legend[0][1] if legend else style.fill, style, False))
            continue
        rows.append((layer.name + (f" ({style.field})" if style.field else ""), kind, "", style, True))
        rows += [(label, kind, colour, style, False) for label, colour in legend]
    return rows


def fit_legend(ax, entries, s: float = 1.0):
    """Draw the legend in ``ax`` (the panel) with the largest font and fewest columns that fit;
    returns the matplotlib Legend (None when nothing is shown)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = legend_items(entries)
    if not rows:
        return None
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    panel = ax.get_window_extent(renderer)
    legend = None
    for font in (8.5, 7.5, 6.5, 5.5, 4.5, 4.0):
        tried = set()
        ncol = 1
        while ncol <= 6 and ncol not in tried:
            tried.add(ncol)
            width_chars = max(8, int(panel.width / ncol / (font * s * 0.6 * fig.dpi / 72)) - 4)
            handles, labels = [], []
            for label, kind, colour, style, heading in rows:
                text = textwrap.shorten(label, 80, placeholder="…")
                text = "\n".join(textwrap.wrap(text, width_chars)) or " "
                if heading:
                    handles.append(Patch(visible=False))
                    labels.append(text)
                else:
                    handles.append(_swatch(kind, colour, style, s, Line2D, Patch))
                    labels.append(text)
            if legend is not None:
                legend.remove()
            legend = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(0, 1), frameon=False,
                               fontsize=font * s, ncol=ncol, title="Legend", title_fontsize=9.5 * s,
                               alignment="left", handlelength=1.8, borderaxespad=0.0, columnspacing=1.2)
            _bold_headings(legend, rows)  # before measuring: bold text is wider
            box = legend.get_window_extent(renderer)
            if box.height <= panel.height + 0.5 and box.width <= panel.width + 0.5:
                return legend
            if box.width > panel.width + 0.5:
                break  # more columns are only wider: a smaller font
            ncol = max(ncol + 1, math.ceil(ncol * box.height / panel.height))  # the columns its height needs
    return legend  # the smallest try: still drawn, and tests check it fits


def _bold_headings(legend, rows) -> None:
    for text, row in zip(legend.get_texts(), rows, strict=False):
        if row[4]:
            text.set_fontweight("bold")


def _swatch(kind, colour, style, s, Line2D, Patch):
    if kind == "line":
        return Line2D([0], [0], color=colour, linewidth=max(style.stroke_width, 0.8) * PX_TO_PT * 2 * s)
    if kind == "point":
        return Line2D([0], [0], marker="o", linestyle="", markerfacecolor=colour, markeredgecolor=style.stroke,
                      markersize=min(max(style.size * PX_TO_PT, 4), 9) * s, markeredgewidth=0.5)
    return Patch(facecolor=colour, edgecolor=style.stroke, alpha=max(style.fill_opacity, 0.3), linewidth=0.5)


def scale_bar(ax, crs: CRS, frame_w_in: float, s: float = 1.0) -> float:
    """A two-tone metric bar of a round length (about a fifth of the frame) with the map's
    scale (1 : N on the chosen paper); returns N."""
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    factor = 1.0
    if crs.is_projected and crs.axis_info:
        factor = crs.axis_info[0].unit_conversion_factor or 1.0
    width_m = (xmax - xmin) * factor
    denominator = width_m / (frame_w_in * 0.0254)
    target = width_m / 5
    nice = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * nice <= target:
            nice *= step
            break
    length = nice / factor
    x0 = xmin + 0.04 * (xmax - xmin)
    y0 = ymin + 0.045 * (ymax - ymin)
    ax.fill_between([x0 - 0.015 * (xmax - xmin), x0 + length + 0.02 * (xmax - xmin)],
                    y0 - 0.025 * (ymax - ymin), y0 + 0.06 * (ymax - ymin), color="white", alpha=0.8, zorder=99,
                    linewidth=0)
    ax.plot([x0, x0 + length / 2], [y0, y0], color="black", linewidth=4 * s, solid_capstyle="butt", zorder=100)
    ax.plot([x0 + length / 2, x0 + length], [y0, y0], color="white", linewidth=4 * s, solid_capstyle="butt",
            zorder=100)
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=0.6, zorder=101)
    ax.plot([x0, x0 + length, x0 + length], [y0, y0, y0], color="black", linewidth=0.6, zorder=101)
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice:g} m"
    rounded = float(f"{denominator:.2g}")
    ax.text(x0 + length / 2, y0 + 0.012 * (ymax - ymin), f"{label}   (1 : {rounded:,.0f})", ha="center",
            va="bottom", fontsize=7.5 * s, zorder=101)
    return denominator


def north_arrow(ax, s: float = 1.0) -> None:
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="center",
                fontsize=11 * s, weight="bold", zorder=101,
                bbox={"boxstyle": "circle,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3 * s, "headwidth": 9 * s,
                            "headlength": 9 * s})
