"""Map tools that edit the points of the layer being edited (see :mod:`app.editing`).

*Add point*: a click adds a point there. *Move point*: press on a point (within
:data:`HIT_PX` pixels), drag it, release to put it down; the point follows the cursor as an
overlay while dragging. *Delete point*: a click on a point deletes it; the point under the cursor
is ringed in red first. In every edit tool a drag that does not start on a point pans the map, Del
deletes the selected points of the edited layer and Esc leaves the tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QMouseEvent, QPainter, QPen, QPixmap, QPolygonF

from app.map_tools import MapTool

if TYPE_CHECKING:
    from app.editing import Editing, EditSession
    from app.map_canvas import MapCanvas

HIT_PX = 8.0  # how near (screen pixels) a press must be to a point to grab or delete it
DRAG_PX = 4.0  # a press that moves further than this is a drag (pans), not a click
DELETE_RED = "#d7191c"


class EditTool(MapTool):
    """Shared by the edit tools: click versus drag (a drag pans), Del and Esc."""

    name = "edit"

    def __init__(self, canvas: MapCanvas, controller: Editing):
        super().__init__(canvas)
        self.controller = controller
        self._press: QPointF | None = None  # where the left button went down
        self._last: QPointF | None = None
        self._panning = False

    @property
    def session(self) -> EditSession | None:
        return self.controller.session

    def tolerance(self) -> float:
        """:data:`HIT_PX` in map units at the current zoom."""
        return HIT_PX * self.canvas.resolution()

    def hit(self, x: float, y: float) -> int | None:
        """The row of the edited layer's point at map position ``x, y`` (None if none is near)."""
        return self.session.find_point(x, y, self.tolerance()) if self.session is not None else None

    def deactivate(self) -> None:
        super().deactivate()
        self._press = self._last = None
        self._panning = False
        self.controller.tool_deactivated(self)

    def key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape:
            self.controller.leave_tool()
            return True
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.controller.delete_selected()
            return True
        return False

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = self._last = event.position()
            self._panning = False

    def move(self, event: QMouseEvent, x: float, y: float) -> None:
        if self._press is None:
            return
        pos = event.position()
        if not self._panning and (pos - self._press).manhattanLength() > DRAG_PX:
            self._panning = True
        if self._panning:
            delta = pos - self._last
            self._last = pos
            self.canvas.pan_pixels(delta.x(), delta.y())

    def release(self, event: QMouseEvent, x: float, y: float) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        clicked = not self._panning
        self._press = self._last = None
        self._panning = False
        if clicked and self.session is not None:
            self.click(x, y)

    def click(self, x: float, y: float) -> None:
        """A left click (no drag) at map position ``x, y``."""

    def message(self, text: str) -> None:
        self.controller.window.statusBar().showMessage(text, 5000)


class AddPointTool(EditTool):
    """A click adds a point with empty attributes (typed in the attribute table while editing)."""

    name = "add_point"
    cursor = Qt.CursorShape.CrossCursor

    def click(self, x: float, y: float) -> None:
        row = self.session.add_point(x, y)
        self.message(f"Added point {row + 1} to '{self.session.layer.name}': type its attributes in the "
                     "attribute table (F6), double-click a cell")


class DeletePointTool(EditTool):
    """A click on a point deletes it; the point under the cursor is ringed in red."""

    name = "delete_point"
    cursor = Qt.CursorShape.PointingHandCursor

    def __init__(self, canvas: MapCanvas, controller: Editing):
        super().__init__(canvas, controller)
        self._hover: tuple[float, float] | None = None

    def deactivate(self) -> None:
        super().deactivate()
        self._hover = None

    def move(self, event: QMouseEvent, x: float, y: float) -> None:
        super().move(event, x, y)
        row = None if self._panning else self.hit(x, y)
        hover = self.session.map_xy(row) if row is not None else None
        if hover != self._hover:
            self._hover = hover
            self.canvas.update()

    def click(self, x: float, y: float) -> None:
        row = self.hit(x, y)
        if row is None:
            self.message(f"No point of '{self.session.layer.name}' there: click on a point to delete it")
            return
        self.session.delete_rows([row])
        self._hover = None
        self.message(f"Deleted a point of '{self.session.layer.name}'")

    def paint(self, painter: QPainter) -> None:
        if self._hover is None or self.session is None:
            return
        pos = self.canvas.to_widget(*self._hover)
        r = max(self.session.layer.style.size, 6.0) / 2 + 4
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(DELETE_RED), 2.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(pos, r, r)


class MovePointTool(EditTool):
    """Press on a point, drag, release: one undoable move. The point follows the cursor."""

    name = "move_point"
    cursor = Qt.CursorShape.ArrowCursor

    def __init__(self, canvas: MapCanvas, controller: Editing):
        super().__init__(canvas, controller)
        self._row: int | None = None
        self._anchor: tuple[float, float] = (0.0, 0.0)  # the grabbed point (map CRS)
        self._grab: tuple[float, float] = (0.0, 0.0)  # the cursor when it was grabbed
        self._to: tuple[float, float] = (0.0, 0.0)  # the cursor now
        self._grab_px = QPointF()

    def deactivate(self) -> None:
        super().deactivate()
        self._row = None

    def press(self, event: QMouseEvent, x: float, y: float) -> None:
        row = self.hit(x, y) if event.button() == Qt.MouseButton.LeftButton else None
        anchor = self.session.map_xy(row) if row is not None else None
        if anchor is None:
            super().press(event, x, y)  # not on a point: a drag pans
            return
        self._row, self._anchor, self._grab, self._to = row, anchor, (x, y), (x, y)
        self._grab_px = event.position()
        self.canvas.setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent, x: float, y: float) -> None:
        if self._row is not None:
            self._to = (x, y)
            self.canvas.update()
            return
        super().move(event, x, y)
        if self._press is None:  # hovering: show that a point can be grabbed
            over = self.hit(x, y) is not None
            self.canvas.setCursor(Qt.CursorShape.OpenHandCursor if over else self.cursor)

    def release(self, event: QMouseEvent, x: float, y: float) -> None:
        if self._row is None:
            super().release(event, x, y)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row, self._row = self._row, None
        self.canvas.setCursor(Qt.CursorShape.OpenHandCursor)
        self.canvas.update()
        if (event.position() - self._grab_px).manhattanLength() < 1 or self.session is None:
            return  # a click on a point moves nothing
        tx, ty = self._target(x, y)
        self.session.move_point(row, tx, ty, grabbed=self._anchor)
        self.message(f"Moved a point of '{self.session.layer.name}'")

    def _target(self, x: float, y: float) -> tuple[float, float]:
        """Where the grabbed point goes: it keeps its offset from the cursor."""
        return self._anchor[0] + x - self._grab[0], self._anchor[1] + y - self._grab[1]

    def paint(self, painter: QPainter) -> None:
        if self._row is None or self.session is None:
            return
        style = self.session.layer.style
        start = self.canvas.to_widget(*self._anchor)
        end = self.canvas.to_widget(*self._target(*self._to))
        r = max(style.size, 8.0) / 2
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        dashed = QPen(QColor("#333333"), 1.2, Qt.PenStyle.DashLine)
        painter.setPen(dashed)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawLine(start, end)
        painter.drawEllipse(start, r + 2, r + 2)
        painter.setPen(QPen(QColor(style.stroke), max(style.stroke_width, 1.5)))
        painter.setBrush(QColor(self.session.colour(self._row)))
        painter.drawEllipse(end, r, r)


def edit_icon(kind: str) -> QIcon:
    """A small toolbar icon: 'start' (pencil), 'save', 'stop', 'add', 'move' or 'delete' (a point
    with a plus, arrows or a cross)."""
    size, dpr = 20, 2.0
    pixmap = QPixmap(int(size * dpr), int(size * dpr))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    ink = QColor("#3c3c3c")
    if kind in ("add", "move", "delete"):
        p.setPen(QPen(QColor("#ffffff"), 1.2))
        p.setBrush(QColor("#2b7bba"))
        p.drawEllipse(QPointF(8, 12), 4.5, 4.5)
    if kind == "add":
        p.setPen(QPen(QColor("#1a9641"), 2.4))
        p.drawLine(QPointF(15, 2.5), QPointF(15, 9.5))
        p.drawLine(QPointF(11.5, 6), QPointF(18.5, 6))
    elif kind == "move":
        p.setPen(QPen(ink, 1.4))
        p.drawLine(QPointF(10, 10), QPointF(17, 3))
        p.drawLine(QPointF(17, 3), QPointF(12.5, 3.2))
        p.drawLine(QPointF(17, 3), QPointF(16.8, 7.5))
    elif kind == "delete":
        p.setPen(QPen(QColor(DELETE_RED), 2.4))
        p.drawLine(QPointF(12, 2.5), QPointF(18, 8.5))
        p.drawLine(QPointF(18, 2.5), QPointF(12, 8.5))
    elif kind == "start":  # a pencil
        p.setPen(QPen(ink, 1.0))
        p.setBrush(QColor("#f2b134"))
        p.drawPolygon(QPolygonF([QPointF(14, 2.5), QPointF(17.5, 6), QPointF(7, 16.5), QPointF(3.5, 13)]))
        p.setBrush(ink)
        p.drawPolygon(QPolygonF([QPointF(3.5, 13), QPointF(7, 16.5), QPointF(2.5, 17.5)]))
    elif kind == "save":  # a diskette
        p.setPen(QPen(ink, 1.2))
        p.setBrush(QColor("#5b8fc7"))
        p.drawRoundedRect(QRectF(3, 3, 14, 14), 1.5, 1.5)
        p.setBrush(QColor("#ffffff"))
        p.drawRect(QRectF(6, 3, 8, 5))
        p.drawRect(QRectF(5.5, 11, 9, 6))
    elif kind == "stop":  # a pencil crossed out
        p.setPen(QPen(ink, 2.0))
        p.drawLine(QPointF(5, 15), QPointF(15, 5))
        p.setPen(QPen(QColor(DELETE_RED), 2.0))
        p.drawEllipse(QPointF(10, 10), 7, 7)
        p.drawLine(QPointF(5, 5), QPointF(15, 15))
    p.end()
    return QIcon(pixmap)
