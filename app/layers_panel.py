"""The Layers panel: the project's layers top-first (as drawn: the first row is on top of the map),
each with a visibility checkbox and, under it, its legend (colour swatches and labels from
:func:`layers.style.symbolize`). A layer whose file could not be read is greyed, with the reason
as its tooltip."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QTreeWidget, QTreeWidgetItem, QWidget

from layers.layer import Layer
from layers.style import Style

SWATCH = 16
LAYER_ROLE = Qt.ItemDataRole.UserRole + 1
Legend = list[tuple[str, str]]


def swatch_icon(kind: str, colour: str, style: Style) -> QIcon:
    """A small legend symbol: a dot for points, a stroke for lines, a filled box for polygons."""
    pixmap = QPixmap(SWATCH, SWATCH)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = QColor(colour)
    if kind == "point":
        painter.setPen(QPen(QColor(style.stroke), max(style.stroke_width, 0.5)))
        painter.setBrush(QBrush(fill))
        d = min(max(style.size, 5.0), SWATCH - 3.0)
        painter.drawEllipse(QPointF(SWATCH / 2, SWATCH / 2), d / 2, d / 2)
    elif kind == "line":
        width = min(max(style.stroke_width, 1.5), 4.0)
        for colour_, w in ((QColor("#8a8a8a"), width + 1.5), (fill, width)):  # a casing shows light lines
            pen = QPen(colour_, w)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawLine(QPointF(3, SWATCH - 4), QPointF(SWATCH - 3, 4))
    else:
        fill.setAlphaF(min(max(style.fill_opacity, 0.15), 1.0))
        painter.setBrush(QBrush(fill))
        painter.setPen(QPen(QColor(style.stroke), max(style.stroke_width, 1.0)) if style.stroke_width > 0
                       else Qt.PenStyle.NoPen)
        painter.drawRect(QRectF(2.5, 2.5, SWATCH - 5, SWATCH - 5))
    painter.end()
    return QIcon(pixmap)


class LayersPanel(QTreeWidget):
    """Rows for ``layers`` (top-first). Ticking a box sets ``layer.visible`` and emits
    ``visibilityChanged(layer)``; the window re-renders the map on that signal.

    ``legend_of(layer)`` gives a layer's legend ``[(label, colour)]``; the window passes the
    render cache's, so the panel shows the colours the map draws without computing them again.
    """

    visibilityChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setIconSize(QSize(SWATCH, SWATCH))
        self.setUniformRowHeights(True)
        self.setMinimumWidth(200)
        self._layers: list[Layer] = []
        self._filling = False
        self.itemChanged.connect(self._on_item_changed)

    def set_layers(self, layers: list[Layer], legend_of: Callable[[Layer], Legend] | None = None) -> None:
        """Show ``layers`` (top-first) with their legends."""
        self._filling = True
        try:
            self.clear()
            self._layers = list(layers)
            for layer in self._layers:
                item = self._layer_item(layer, legend_of)
                self.addTopLevelItem(item)
                item.setExpanded(item.childCount() > 0)  # only works once the item is in the tree
        finally:
            self._filling = False

    def layer_item(self, name: str) -> QTreeWidgetItem:
        """The row of the layer called ``name``."""
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item.data(0, LAYER_ROLE).name == name:
                return item
        raise KeyError(name)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Tick or untick a layer's box, as a click would."""
        self.layer_item(name).setCheckState(0, Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)

    def _layer_item(self, layer: Layer, legend_of: Callable[[Layer], Legend] | None) -> QTreeWidgetItem:
        item = QTreeWidgetItem([layer.name])
        item.setData(0, LAYER_ROLE, layer)
        if layer.gdf is None:
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setForeground(0, QBrush(QColor("#9a9a9a")))
            item.setIcon(0, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            item.setText(0, f"{layer.name} (not found)")
            item.setToolTip(0, layer.error or "the layer could not be read")
            return item
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        item.setFlags(flags | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
        source = f"\n{layer.source}" if layer.source else ""
        item.setToolTip(0, f"{layer.name}: {len(layer)} features ({layer.geometry_kind}){source}")
        legend = legend_of(layer) if legend_of else [("", layer.style.fill)]
        kind = layer.geometry_kind
        if len(legend) == 1 and not legend[0][0]:
            item.setIcon(0, swatch_icon(kind, legend[0][1], layer.style))
        else:
            title = layer.style.field or ""
            for label, colour in legend:
                child = QTreeWidgetItem([label or title])
                child.setIcon(0, swatch_icon(kind, colour, layer.style))
                child.setFlags(Qt.ItemFlag.ItemIsEnabled)
                item.addChild(child)
        return item

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        layer = item.data(0, LAYER_ROLE)
        if self._filling or layer is None or not (item.flags() & Qt.ItemFlag.ItemIsUserCheckable):
            return
        visible = item.checkState(0) == Qt.CheckState.Checked
        if layer.visible != visible:
            layer.visible = visible
            self.visibilityChanged.emit(layer)
