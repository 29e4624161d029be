"""A static map (PNG, PDF or SVG) of styled layers, drawn with matplotlib.

The map uses the same :func:`layers.style.symbolize` colours and classes as the window, and
carries a title, a legend built from the layer styles, a metric scale bar, a north arrow, the
data attribution and the date.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pyproj import CRS

from layers.layer import Layer
from layers.style import symbolize
from layers.writers import atomic_path

PX_TO_PT = 72 / 96


def render_static_map(layers: Sequence[Layer], out: str | Path, *, crs: CRS | str, title: str,
                      subtitle: str = "", attribution: Sequence[str] = (),
                      extent: tuple[float, float, float, float] | None = None,
                      size_in: tuple[float, float] = (11.0, 8.5), dpi: int = 150) -> Path:
    """Draw ``layers`` (first = top, as in the layers panel; hidden and unreadable ones skipped)
    in ``crs`` (a metric CRS) and write the map to ``out`` (.png, .pdf or .svg) atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    crs = CRS.from_user_input(crs)
    shown = [lay for lay in layers if lay.visible and lay.gdf is not None and len(lay.gdf)]
    fig = plt.figure(figsize=size_in, dpi=dpi)
    ax = fig.add_axes((0.03, 0.09, 0.68, 0.80))
    legend_ax = fig.add_axes((0.73, 0.09, 0.25, 0.80))
    legend_ax.axis("off")
    handles: list = []
    bounds = []
    for layer in reversed(shown):  # bottom layer first
        gdf = layer.gdf.to_crs(crs) if layer.gdf.crs is not None and not CRS(layer.gdf.crs).equals(crs) else layer.gdf
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
        if gdf.empty:
            continue
        style = layer.style
        sym = symbolize(style, gdf)
        kind = layer.geometry_kind
        alpha = style.opacity
        if kind == "polygon":
            gdf.plot(ax=ax, color=list(sym.colors), alpha=alpha * style.fill_opacity, linewidth=0)
            gdf.boundary.plot(ax=ax, color=style.stroke, linewidth=style.stroke_width * PX_TO_PT, alpha=alpha)
        elif kind == "line":
            gdf.plot(ax=ax, color=list(sym.colors), linewidth=max(style.stroke_width, 0.5) * PX_TO_PT * 1.5,
                     alpha=alpha)
        else:
            gdf.plot(ax=ax, color=list(sym.colors), markersize=(style.size * PX_TO_PT) ** 2, edgecolor=style.stroke,
                     linewidth=0.5, alpha=alpha, zorder=3)
        bounds.append(gdf.total_bounds)
        handles.append((layer.name, kind, sym.legend, style))
    if extent is None and bounds:
        b = np.array(bounds)
        extent = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    if extent is not None:
        _set_extent(ax, extent, fig)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_color("#555555")
    fig.text(0.03, 0.955, title, fontsize=16, weight="bold", va="center")
    if subtitle:
        fig.text(0.03, 0.915, subtitle, fontsize=10.5, color="#444444", va="center")
    _legend(legend_ax, list(reversed(handles)), Patch, Line2D)
    _scale_bar(ax, crs)
    _north_arrow(ax)
    credits = textwrap.fill("Data: " + "; ".join(attribution), width=int(size_in[0] * 17)) if attribution else ""
    fig.text(0.03, 0.055, credits, fontsize=7, color="#333333", va="top")
    fig.text(0.98, 0.025, f"Map: CityDesk, {dt.date.today().isoformat()}  ·  {crs.name}", fontsize=7,
             color="#333333", va="center", ha="right")
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format=out.suffix.lstrip(".").lower() or "png")
    plt.close(fig)
    return out


def _set_extent(ax, extent, fig) -> None:
    """Show ``extent`` (plus a margin) at equal scale, widened to the frame's shape."""
    xmin, ymin, xmax, ymax = extent
    w, h = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
    pad = 0.03 * max(w, h)
    w, h = w + 2 * pad, h + 2 * pad
    box = ax.get_position(original=True)
    frame = (box.width * fig.get_figwidth()) / (box.height * fig.get_figheight())
    if w / h < frame:
        w = h * frame
    else:
        h = w / frame
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")


def _legend(ax, handles, Patch, Line2D) -> None:
    items, labels = [], []
    rows = sum(1 + (len(leg) if len(leg) > 1 else 0) for _, _, leg, _ in handles)
    fontsize = 8 if rows <= 30 else 6.5
    for name, kind, legend, style in handles:
        def swatch(colour, kind=kind, style=style):
            if kind == "line":
                return Line2D([0], [0], color=colour, linewidth=2)
            if kind == "point":
                return Line2D([0], [0], marker="o", linestyle="", markerfacecolor=colour,
                              markeredgecolor=style.stroke, markersize=max(style.size * PX_TO_PT, 4))
            return Patch(facecolor=colour, edgecolor=style.stroke, alpha=style.fill_opacity)

        if len(legend) <= 1:
            items.append(swatch(legend[0][1] if legend else style.fill))
            labels.append(name)
            continue
        items.append(Patch(visible=False))
        labels.append(name + (f" ({style.field})" if style.field else ""))
        for label, colour in legend:
            items.append(swatch(colour))
            labels.append(f"   {label}")
    if items:
        ncol = 1 if rows <= 34 else 2
        leg = ax.legend(items, labels, loc="upper left", frameon=False, fontsize=fontsize, ncol=ncol,
                        title="Legend", title_fontsize=10, alignment="left", handlelength=1.6)
        leg._legend_box.align = "left"


def _scale_bar(ax, crs: CRS) -> None:
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    factor = 1.0
    if crs.is_projected and crs.axis_info:
        factor = crs.axis_info[0].unit_conversion_factor or 1.0
    width_m = (xmax - xmin) * factor
    target = width_m / 5
    nice = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * nice <= target:
            nice *= step
            break
    length = nice / factor
    x0 = xmin + 0.04 * (xmax - xmin)
    y0 = ymin + 0.04 * (ymax - ymin)
    ax.plot([x0, x0 + length / 2], [y0, y0], color="black", linewidth=4, solid_capstyle="butt", zorder=10)
    ax.plot([x0 + length / 2, x0 + length], [y0, y0], color="white", linewidth=4, solid_capstyle="butt", zorder=10)
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=0.6, zorder=11)
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice:g} m"
    ax.text(x0 + length / 2, y0 + 0.015 * (ymax - ymin), label, ha="center", va="bottom", fontsize=8, zorder=11,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})


def _north_arrow(ax) -> None:
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="center",
                fontsize=11, weight="bold",
                arrowprops={"facecolor": "black", "width": 3, "headwidth": 9, "headlength": 9})
