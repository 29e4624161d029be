"""Moved to :mod:`reports.charts` (Qt-free; the reports draw the same charts). Kept so existing
imports keep working."""

from reports.charts import COLORS, chart_figure, chart_png, write_charts

__all__ = ["COLORS", "chart_figure", "chart_png", "write_charts"]
