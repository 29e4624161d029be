"""Measuring on the map: distances and areas in metres, geodesic on the WGS84 ellipsoid when the
project CRS is geographic, else planar in the project CRS's units converted to metres (the
sample city's EPSG:3067 is metric); and :class:`MeasureTool`, which measures what is clicked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from pyproj import CRS, Geod
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QPolygonF

from app.map_tools import MapTool

if TYPE_CHECKING:
    from app.map_canvas import MapCanvas

_GEOD = Geod(ellps="WGS84")


def measure_length(points: Sequence[tuple[float, float]], crs) -> float:
    """Length in metres of the line through ``points`` (coordinates in ``crs``): geodesic on the
    WGS84 ellipsoid for a geographic CRS, else planar in the CRS's units converted to metres."""
    if len(points) < 2:
        return 0.0
    xy = np.asarray(points, dtype=float)
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        return float(_GEOD.line_length(xy[:, 0], xy[:, 1]))
    return float(np.hypot(*np.diff(xy, axis=0).T).sum() * _unit_m(crs))


def measure_area(points: Sequence[tuple[float, float]], crs) -> float:
    """Area in square metres of the polygon through ``points`` (closed automatically), geodesic
    or planar as :func:`measure_length`."""
    if len(points) < 3:
        return 0.0
    xy = np.asarray(points, dtype=float)
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        area, _ = _GEOD.polygon_area_perimeter(xy[:, 0], xy[:, 1])
        return abs(float(area))
    x, y = xy[:, 0] - xy[:, 0].mean(), xy[:, 1] - xy[:, 1].mean()
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2 * _unit_m(crs) ** 2


def _unit_m(crs: CRS) -> float:
    axes = crs.axis_info
    return axes[0].unit_conversion_factor if axes and axes[0].unit_conversion_factor else 1.0


def format_length(metres: float) -> str:
    """``850 m``, ``1.25 km``, ``12.5 km``."""
    if metres < 1000:
        return f"{metres:.1f} m" if metres < 100 else f"{metres:.0f} m"
    return f"{metres / 1000:.3g} km" if metres < 100_000 else f"{metres / 1000:,.0f} km".replace(",", " ")


def format_area(m2: float) -> str:
    """``450 m²``; ``12 500 m² (1.25 ha)``; ``3.2 km² (320 ha)`` above a square kilometre."""
    if m2 < 10_000:
        return f"{m2:,.1f} m²".replace(",", " ") if m2 < 100 else f"{m2:,.0f} m²".replace(",", " ")
    if m2 < 1_000_000:
        return f"{m2:,.0f} m² ({m2 / 10_000:.3g} ha)".replace(",", " ")
    return f"{m2 / 1e6:.3g} km² ({m2 / 10_000:,.0f} ha)".replace(",", " ")


class MeasureTool(MapTool):
    """Click points to measure; a double click (or a right click) ends. ``mode`` is ``distance``
    (total length of the line) or ``area`` (of the polygon). The figure is drawn next to the
    last point and given to ``tell(text)``; ``total`` holds the last figure (m or m²)."""

    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, canvas: MapCanvas, mode: str = "distance", tell: Callable[[str], None] | None = None):
        super().__init__(canvas)
        if mode not in ("distance", "area"):
            raise ValueError(f"unknown measure mode {mode!r}")
        self.mode, self.tell = mode, tell or (lambda _m: None)
        self.name = f"measure_{mode}"
        self.points: list[tuple[float, float]] = []
        self.hover: tuple[float, float] | None = None
        self.done = False
        self.total = 0.0

    def deactivate(self) -> None:
        super().deactivate()
        self.points, self.hover, self.done, self.total = [], None, False, 0.0

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.finish()
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if self.done:
            self.points, self.done = [], False
        self.points.append((x, y))
        self._measure()

    def move(self, event: QMouseEvent, x: float, y: float) -> None:
        if self.points and not self.done:
            self.hover = (x, y)
            self.canvas.update()

    def double_click(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.finish()

    def finish(self) -> None:
        self.done, self.hover = True, None
        self._measure()

    def key(self, event: QKeyEvent) -> bool:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.points:
            self.finish()
            return True
        return False

    def text(self, points: Sequence[tuple[float, float]] | None = None) -> str:
        points = self.points if points is None else points
        if self.mode == "distance":
            return f"Distance: {format_length(measure_length(points, self.canvas.crs))}"
        return f"Area: {format_area(measure_area(points, self.canvas.crs))}"

    def _measure(self) -> None:
        crs = self.canvas.crs
        self.total = measure_length(self.points, crs) if self.mode == "distance" else measure_area(self.points, crs)
        self.tell(self.text() + ("" if self.done else " — double-click to end"))
        self.canvas.update()

    def paint(self, painter: QPainter) -> None:
        points = list(self.points) + ([self.hover] if self.hover and not self.done else [])
        if not points:
            return
        screen = [self.canvas.to_widget(x, y) for x, y in points]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor("#e3007d")
        if self.mode == "area" and len(screen) >= 3:
            fill = QColor(colour)
            fill.setAlphaF(0.15)
            painter.setBrush(fill)
            painter.setPen(QPen(colour, 2))
            painter.drawPolygon(QPolygonF(screen))
        else:
            painter.setPen(QPen(colour, 2))
            painter.drawPolyline(QPolygonF(screen))
        painter.setBrush(QColor("#ffffff"))
        painter.setPen(QPen(colour, 1.5))
        for p in screen[:len(self.points)]:
            painter.drawEllipse(p, 3.5, 3.5)
        if len(points) >= 2:
            _paint_tag(painter, screen[-1], self.text(points))
        painter.restore()


def _paint_tag(painter: QPainter, at: QPointF, text: str) -> None:
    metrics = painter.fontMetrics()
    rect = QRectF(at.x() + 10, at.y() - metrics.height() - 10, metrics.horizontalAdvance(text) + 12,
                  metrics.height() + 6)
    painter.setPen(QPen(QColor("#555555"), 1))
    painter.setBrush(QColor(255, 255, 255, 235))
    painter.drawRoundedRect(rect, 3, 3)
    painter.setPen(QColor("#222222"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
