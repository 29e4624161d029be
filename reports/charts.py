"""Small line charts of an analysis's chart tables (``AnalysisResult.charts``), drawn with
matplotlib's Agg backend (no Qt: the command line writes them as PNG, the Results panel shows the
same picture). Moved from ``app/result_charts.py``, which re-exports it.

A chart table is a DataFrame: the first column is x, every other column a line; its ``attrs`` may
hold ``title``, ``x_label`` and ``y_label``. Columns named like shares (``covered_share``) are
drawn as percentages on a 0-100 % axis.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from layers.writers import atomic_path

COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")


def _is_share(name: str) -> bool:
    return "share" in str(name).split("_")


def chart_figure(table: pd.DataFrame, *, width_in: float = 4.0, height_in: float = 2.5, dpi: float = 100.0,
                 font_pt: float = 8.5):
    """A matplotlib Figure (not attached to pyplot) of ``table``."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    x_col, y_cols = table.columns[0], list(table.columns[1:])
    share = all(_is_share(c) for c in y_cols)
    if table.attrs.get("kind") == "barh":
        return _bars(fig, ax, table, share, font_pt)
    for i, col in enumerate(y_cols):
        y = table[col].to_numpy(dtype=float) * (100.0 if share else 1.0)
        ax.plot(table[x_col].to_numpy(), y, marker="o", markersize=3.5, linewidth=1.6, color=COLORS[i % len(COLORS)],
                label=str(col).replace("_", " "))
    if share:
        ax.yaxis.set_major_formatter(PercentFormatter(100.0, decimals=0))
        top = max(100.0, float(table[y_cols].max().max()) * 100.0) if len(table) else 100.0
        ax.set_ylim(0, top)
    if pd.api.types.is_integer_dtype(table[x_col]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    elif not pd.api.types.is_numeric_dtype(table[x_col]):  # text such as months "2025-01": slanted, no overlap
        ax.tick_params(axis="x", labelrotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    ax.set_xlabel(table.attrs.get("x_label", str(x_col).replace("_", " ")), fontsize=font_pt)
    ax.set_ylabel(table.attrs.get("y_label", " ".join(str(c).replace("_", " ") for c in y_cols)), fontsize=font_pt)
    if table.attrs.get("title"):
        ax.set_title(table.attrs["title"], fontsize=font_pt + 1)
    ax.tick_params(labelsize=font_pt - 0.5)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    if len(y_cols) > 1:
        ax.legend(fontsize=font_pt - 1, frameon=False)
    fig.tight_layout(pad=0.6)
    return fig


def chart_png(table: pd.DataFrame, *, width_px: int = 400, height_px: int = 250, scale: float = 1.0) -> bytes:
    """The chart as PNG bytes, ``width_px`` x ``height_px`` logical pixels at ``scale`` (the
    screen's device pixel ratio)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    dpi = 100.0 * scale
    fig = chart_figure(table, width_in=width_px / 100.0, height_in=height_px / 100.0, dpi=dpi)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_charts(charts, out: Path) -> list[Path]:
    """Each chart next to ``out`` (the result GeoPackage) as ``<stem>_<name>.png`` and ``.csv``;
    the paths written."""
    written = []
    for name, table in charts.items():
        png = out.with_name(f"{out.stem}_{name}.png")
        csv = out.with_name(f"{out.stem}_{name}.csv")
        with atomic_path(png) as tmp:
            Path(tmp).write_bytes(chart_png(table, width_px=600, height_px=360, scale=1.5))
        with atomic_path(csv) as tmp:
            table.to_csv(tmp, index=False)
        written += [png, csv]
    return written


def _bars(fig, ax, table: pd.DataFrame, share: bool, font_pt: float):
    """Horizontal grouped bars (``attrs["kind"] == "barh"``): the first column names the bars, top
    to bottom, every other column is one bar of each group."""
    import numpy as np
    from matplotlib.ticker import PercentFormatter

    names, y_cols = table.columns[0], list(table.columns[1:])
    rows = np.arange(len(table))[::-1]
    height = 0.8 / max(len(y_cols), 1)
    for i, col in enumerate(y_cols):
        values = table[col].to_numpy(dtype=float) * (100.0 if share else 1.0)
        ax.barh(rows + (len(y_cols) - 1 - 2 * i) * height / 2, values, height=height, color=COLORS[i % len(COLORS)],
                label=str(col).replace("_", " "))
    ax.set_yticks(rows, [str(v) for v in table[names]])
    if share:
        ax.xaxis.set_major_formatter(PercentFormatter(100.0, decimals=0))
        ax.set_xlim(0, 100)
    ax.set_xlabel(table.attrs.get("x_label", ""), fontsize=font_pt)
    if table.attrs.get("title"):
        ax.set_title(table.attrs["title"], fontsize=font_pt + 1)
    ax.tick_params(labelsize=font_pt - 0.5)
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    bottom = 0.0
    if len(y_cols) > 1:  # under the plot, centred on the figure: never on the bars, never cut off
        fig.legend(*ax.get_legend_handles_labels(), fontsize=font_pt - 1, frameon=False, loc="lower center",
                   ncol=len(y_cols), borderaxespad=0.2, handlelength=1.2, columnspacing=1.0)
        bottom = 0.1
    fig.tight_layout(pad=0.6, rect=(0.0, bottom, 1.0, 1.0))
    return fig


def histogram_png(values, *, x_label: str, title: str = "", width_px: int = 700, height_px: int = 340,
                  scale: float = 1.5, bins: int = 20) -> bytes:
    """A histogram of ``values`` (NaN left out) as PNG bytes: the generic chart of a result
    layer's main distance or score column."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    dpi = 100.0 * scale
    fig = Figure(figsize=(width_px / 100.0, height_px / 100.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(values, bins=bins, color=COLORS[0], edgecolor="white", linewidth=0.6)
    ax.set_xlabel(x_label, fontsize=8.5)
    ax.set_ylabel("features", fontsize=8.5)
    if title:
        ax.set_title(title, fontsize=9.5)
    ax.tick_params(labelsize=8)
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout(pad=0.6)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
