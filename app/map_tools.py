"""Map tools: what a mouse press, move and release on the canvas do.

The canvas hands its mouse events to its current tool (``canvas.set_tool(tool)``). A tool gets
the event and the map position under the cursor (project CRS) and may draw an overlay (a zoom
box, a measured line) with :meth:`MapTool.paint`, in widget pixels, after the map image.
The middle button always pans, whatever the tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter

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
