"""Map tools: what a mouse press, move and release on the canvas do.

The canvas hands its mouse events to its current tool (``canvas.set_tool(tool)``). A tool gets
the event and the map position under the cursor (project CRS) and may draw an overlay (a zoom
box, a measured line) with :meth:`MapTool.paint`, in widget pixels, after the map image.
The middle button always pans, whatever the tool; Esc in the canvas goes back to panning
(:func:`app.map_toolbar.install_map_tools` wires that).

Tools here: :class:`PanTool`, :class:`ZoomBoxTool`, :class:`IdentifyTool`, :class:`SelectTool`;
:class:`app.measure.MeasureTool` measures distances and areas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen

if TYPE_CHECKING:
    from app.map_canvas import MapCanvas


class MapTool(QObject):
    """Base tool: does nothing. Subclasses override the handlers they need."""

    name = "tool"
    cursor = Qt.CursorShape.ArrowCursor

    def __init__(self, canvas: MapCanvas):
        super().__init__(canvas)
        self.canvas = canvas

    def activate(self) -> None:
        self.canvas.setCursor(self.cursor)

    def deactivate(self) -> None:
        self.canvas.unsetCursor()

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        pass

    def move(self, event: QMouseEvent, x: float, y: float) -> None:
        pass

    def release(self, event: QMouseEvent, x: float, y: float) -> None:
        pass

    def double_click(self, event: QMouseEvent, x: float, y: float) -> None:
        pass

    def key(self, event: QKeyEvent) -> bool:
        """Handle a key; return True if it was used (else the canvas pans/zooms with it)."""
        return False

    def paint(self, painter: QPainter) -> None:
        pass


class PanTool(MapTool):
    """Drag to move the map."""

    name = "pan"
    cursor = Qt.CursorShape.OpenHandCursor

    def __init__(self, canvas: MapCanvas):
        super().__init__(canvas)
        self._from: QPointF | None = None

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._from = event.position()
            self.canvas.setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent, x: float, y: float) -> None:
        if self._from is not None:
            pos = event.position()
            delta = pos - self._from
            self._from = pos
            self.canvas.pan_pixels(delta.x(), delta.y())

    def release(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._from is not None:
            self._from = None
            self.canvas.setCursor(self.cursor)


# ------------------------------------------------------------------------------ helpers

DRAG_PX = 4.0  # a press that moves further than this is a drag, not a click
HIT_PX = 4.0  # how near (screen pixels) a click must be to a feature to hit it
RUBBER = "#1f78b4"


def _drag_rect(a: QPointF, b: QPointF) -> QRectF:
    return QRectF(a, b).normalized()


def _paint_rubber_band(painter: QPainter, rect: QRectF) -> None:
    painter.save()
    fill = QColor(RUBBER)
    fill.setAlphaF(0.12)
    pen = QPen(QColor(RUBBER), 1.2, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.setBrush(fill)
    painter.drawRect(rect)
    painter.restore()


class _DragTool(MapTool):
    """A tool that tells a click from a rectangle drag (left button)."""

    def __init__(self, canvas: MapCanvas):
        super().__init__(canvas)
        self._from: QPointF | None = None
        self._to: QPointF | None = None

    def deactivate(self) -> None:
        super().deactivate()
        self._from = self._to = None

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._from = self._to = event.position()

    def move(self, event: QMouseEvent, x: float, y: float) -> None:
        if self._from is not None:
            self._to = event.position()
            self.canvas.update()

    def release(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._from is None:
            return
        start, end = self._from, event.position()
        self._from = self._to = None
        self.canvas.update()
        if (end - start).manhattanLength() > DRAG_PX:
            (x0, y0), (x1, y1) = self.canvas.to_map(start), self.canvas.to_map(end)
            self.dragged((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), event)
        else:
            self.clicked(x, y, event)

    def key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape and self._from is not None:
            self._from = self._to = None  # Esc during a drag drops the box
            self.canvas.update()
            return True
        return False

    def paint(self, painter: QPainter) -> None:
        if self._from is not None and self._to is not None and (self._to - self._from).manhattanLength() > DRAG_PX:
            _paint_rubber_band(painter, _drag_rect(self._from, self._to))

    def clicked(self, x: float, y: float, event: QMouseEvent) -> None:
        pass

    def dragged(self, box: tuple[float, float, float, float], event: QMouseEvent) -> None:
        pass


class ZoomBoxTool(_DragTool):
    """Drag a rectangle to show it; a click zooms in 2x there, a right click zooms out."""

    name = "zoom_box"
    cursor = Qt.CursorShape.CrossCursor

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        super().press(event, x, y)
        if event.button() == Qt.MouseButton.RightButton:
            self.canvas.zoom_by(0.5, event.position())

    def clicked(self, x: float, y: float, event: QMouseEvent) -> None:
        self.canvas.zoom_by(2.0, event.position())

    def dragged(self, box: tuple[float, float, float, float], event: QMouseEvent) -> None:
        self.canvas.zoom_to_extent(box)


def _visible_layers(canvas: MapCanvas) -> list:
    return [lay for lay in canvas.layers if lay.visible and lay.gdf is not None]


def hits_at(layers, crs, x: float, y: float, tolerance: float) -> list[tuple[object, np.ndarray]]:
    """``[(layer, rows)]``: the features of ``layers`` (in their order) within ``tolerance`` map
    units of ``x, y`` (project CRS), nearest first; layers without a hit are left out."""
    from app.render import CACHE
    from app.render_cache import features_near

    out = []
    for layer in layers:
        prepared = CACHE.geometry(layer, crs) if layer.gdf is not None else None
        if prepared is None:
            continue
        rows = features_near(prepared, x, y, tolerance)
        if len(rows):
            out.append((layer, rows))
    return out


class IdentifyTool(MapTool):
    """Click: the attributes of the features under the cursor (within :data:`HIT_PX`) in the
    visible layers go to ``show(hits, (x, y))`` (``hits`` as :func:`hits_at` gives them)."""

    name = "identify"
    cursor = Qt.CursorShape.WhatsThisCursor

    def __init__(self, canvas: MapCanvas, show: Callable[[list, tuple[float, float]], None]):
        super().__init__(canvas)
        self.show = show
        self._press: QPointF | None = None

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()

    def release(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        moved = (event.position() - self._press).manhattanLength() > DRAG_PX
        self._press = None
        if not moved:
            self.identify(x, y)

    def identify(self, x: float, y: float) -> list:
        hits = hits_at(_visible_layers(self.canvas), self.canvas.crs, x, y, HIT_PX * self.canvas.resolution())
        self.show(hits, (x, y))
        return hits


class SelectTool(_DragTool):
    """Select features of the current layer (``current_layer()``, the one chosen in the Layers
    panel): a click selects the feature under the cursor, a drag every feature touching the
    rectangle. Shift adds to the selection, Ctrl toggles; a plain click on nothing clears it.
    Without a current layer ``tell(message)`` says what to do."""

    name = "select"
    cursor = Qt.CursorShape.PointingHandCursor

    def __init__(self, canvas: MapCanvas, selection, current_layer: Callable[[], object],
                 tell: Callable[[str], None] | None = None):
        super().__init__(canvas)
        self.selection, self.current_layer, self.tell = selection, current_layer, tell or (lambda _m: None)

    @staticmethod
    def mode(event: QMouseEvent) -> str:
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.ControlModifier:
            return "toggle"
        return "add" if mods & Qt.KeyboardModifier.ShiftModifier else "replace"

    def _prepared(self):
        from app.render import CACHE

        layer = self.current_layer()
        if layer is None or layer.gdf is None:
            self.tell("Choose the layer to select from in the Layers panel")
            return None, None
        return layer, CACHE.geometry(layer, self.canvas.crs)

    def clicked(self, x: float, y: float, event: QMouseEvent) -> None:
        from app.render_cache import features_near

        layer, prepared = self._prepared()
        if layer is None:
            return
        rows = features_near(prepared, x, y, HIT_PX * self.canvas.resolution())[:1] if prepared else []
        self._select(layer, rows, self.mode(event))

    def dragged(self, box: tuple[float, float, float, float], event: QMouseEvent) -> None:
        from app.render_cache import features_in_box

        layer, prepared = self._prepared()
        if layer is None:
            return
        self._select(layer, features_in_box(prepared, box) if prepared else [], self.mode(event))

    def _select(self, layer, rows, mode: str) -> None:
        self.selection.select(layer, rows, mode)
        n = self.selection.count(layer)
        self.tell(f"{n} feature{'s' if n != 1 else ''} of '{layer.name}' selected")
