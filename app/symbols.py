"""Symbols drawn with Qt for the Layers panel and the style editor: legend swatches, a sample
of a single symbol, colour ramps and palettes as strips, and a colour button."""

from __future__ import annotations

import geopandas as gpd
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QColorDialog, QPushButton, QWidget
from shapely.geometry import LineString, Point, box

from layers.style import Style, symbolize

SWATCH = 16  # legend swatch size, pixels
BACKGROUND = "#f2efe9"  # the map's background
_SAMPLES = {kind: gpd.GeoDataFrame(geometry=[geom]) for kind, geom in
            (("point", Point(0, 0)), ("line", LineString([(0, 0), (1, 1)])), ("polygon", box(0, 0, 1, 1)))}


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


def ramp_pixmap(colours: list[str], width: int, height: int) -> QPixmap:
    """Colour blocks side by side (a ramp or a palette)."""
    pixmap = QPixmap(width, height)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    n = max(len(colours), 1)
    for i, colour in enumerate(colours):
        x0, x1 = round(i * width / n), round((i + 1) * width / n)
        painter.fillRect(x0, 0, x1 - x0, height, QColor(colour))
    painter.setPen(QColor("#7a7a7a"))
    painter.drawRect(0, 0, width - 1, height - 1)
    painter.end()
    return pixmap


def symbol_pixmap(kind: str, style: Style, width: int, height: int) -> QPixmap:
    """A single-symbol sample as the map draws it: a block, a winding line or a dot."""
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor(BACKGROUND))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setOpacity(style.opacity)
    colour = QColor(symbolize(style, _SAMPLES.get(kind, _SAMPLES["polygon"])).colors[0])
    outline = QPen(QColor(style.stroke), style.stroke_width) if style.stroke_width > 0 else QPen(Qt.PenStyle.NoPen)
    if kind == "line":
        pen = QPen(colour, max(style.stroke_width, 0.5))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        path = QPainterPath(QPointF(20, height * 0.7))
        path.cubicTo(QPointF(width * 0.35, height * 0.05), QPointF(width * 0.6, height * 1.0),
                     QPointF(width - 20, height * 0.3))
        painter.drawPath(path)
    elif kind == "point":
        painter.setPen(outline)
        painter.setBrush(colour)
        for i, x in enumerate((0.3, 0.5, 0.7)):
            painter.drawEllipse(QPointF(width * x, height * (0.4 + 0.2 * (i % 2))), style.size / 2, style.size / 2)
    else:
        colour.setAlphaF(style.fill_opacity)
        painter.setPen(outline)
        painter.setBrush(colour)
        painter.drawRect(QRectF(width * 0.2, height * 0.2, width * 0.6, height * 0.6))
    painter.end()
    return pixmap


def ramp_colours(name: str, n: int = 24) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[name] if name in colormaps else colormaps["viridis"]
    return [to_hex(cmap(0.1 + 0.8 * i / max(n - 1, 1))) for i in range(n)]


class ColorButton(QPushButton):
    """A button showing a colour; a click opens the colour chooser. Emits ``colorChanged(str)``."""

    colorChanged = Signal(str)

    def __init__(self, colour: str, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._title = title
        self.clicked.connect(self.choose)
        self.set_color(colour)

    def color(self) -> str:
        return self._colour

    def set_color(self, colour: str) -> None:
        self._colour = colour
        self.setIcon(QIcon(ramp_pixmap([colour], 28, 14)))
        self.setText(QColor(colour).name())

    def choose(self) -> None:
        chosen = QColorDialog.getColor(QColor(self._colour), self, self._title)
        if chosen.isValid() and chosen.name() != QColor(self._colour).name():
            self.set_color(chosen.name())
            self.colorChanged.emit(chosen.name())
