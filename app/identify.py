"""The Identify dock: the attributes of the features the identify tool hit, as a tree of
layer → feature → field/value rows. Every value is plain text (an attribute can hold anything,
``<b>`` included, and is never read as HTML)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QDockWidget, QTreeWidget, QTreeWidgetItem, QWidget

MAX_FEATURES = 50  # per layer; more are counted, not listed
MAX_CHARS = 500


def _text(value: object) -> str:
    """An attribute value as plain text for a cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    text = str(value)
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "…"


def feature_title(layer, row: int) -> str:
    """How a feature is named in the tree: its label text, a name-like column, or its row."""
    gdf = layer.gdf
    for column in (layer.style.label_field, "name", "nimi", "title", "id"):
        if column and column in gdf.columns:
            value = gdf[column].iloc[row]
            if value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value).strip():
                return f"{_text(value)[:80]}  (#{row})"
    return f"Feature #{row}"


class IdentifyPanel(QTreeWidget):
    """Results of one identify click: :meth:`show_hits` replaces what is shown."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Feature / field", "Value"])
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setColumnWidth(0, 170)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._placeholder("Click on the map with the Identify tool")

    def _placeholder(self, text: str) -> None:
        self.clear()
        item = QTreeWidgetItem([text])
        item.setForeground(0, QBrush(QColor("#777777")))
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.addTopLevelItem(item)

    def show_hits(self, hits: list[tuple[object, np.ndarray]], where: tuple[float, float] | None = None) -> None:
        """``hits``: ``[(layer, rows)]`` from :func:`app.map_tools.hits_at` (top layer first)."""
        self.clear()
        if not hits:
            self._placeholder("No feature here" + (f" ({where[0]:,.1f}, {where[1]:,.1f})".replace(",", " ")
                                                   if where else ""))
            return
        bold = QFont(self.font())
        bold.setBold(True)
        first = None
        for layer, rows in hits:
            n = len(rows)
            top = QTreeWidgetItem([layer.name, f"{n} feature{'s' if n != 1 else ''}"])
            top.setFont(0, bold)
            self.addTopLevelItem(top)
            columns = [c for c in layer.gdf.columns if c != layer.gdf.geometry.name]
            for row in rows[:MAX_FEATURES]:
                feature = QTreeWidgetItem([feature_title(layer, int(row)), ""])
                top.addChild(feature)
                record = layer.gdf.iloc[int(row)]
                for column in columns:
                    feature.addChild(QTreeWidgetItem([str(column), _text(record[column])]))
                geom = record[layer.gdf.geometry.name]
                kind = getattr(geom, "geom_type", None) or "no geometry"
                feature.addChild(QTreeWidgetItem(["(geometry)", kind]))
                first = first or feature
            if n > MAX_FEATURES:
                more = QTreeWidgetItem([f"… and {n - MAX_FEATURES} more", ""])
                more.setForeground(0, QBrush(QColor("#777777")))
                top.addChild(more)
            top.setExpanded(True)
        if first is not None:
            first.setExpanded(True)
            self.setCurrentItem(first)

    def texts(self) -> list[str]:
        """Every cell's text (for tests and copy)."""
        out = []

        def walk(item: QTreeWidgetItem) -> None:
            out.extend(item.text(c) for c in range(self.columnCount()))
            for i in range(item.childCount()):
                walk(item.child(i))

        for i in range(self.topLevelItemCount()):
            walk(self.topLevelItem(i))
        return out


def install_identify_dock(window) -> tuple[QDockWidget, IdentifyPanel]:
    """An "Identify" dock on the right of ``window`` (hidden until the first identify)."""
    panel = IdentifyPanel(window)
    dock = QDockWidget("Identify", window)
    dock.setObjectName("identify_dock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    return dock, panel
