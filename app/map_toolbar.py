"""The Map tools toolbar: Pan, Zoom box, Identify, Select, Measure distance, Measure area as
checkable actions in one group (Esc on the map goes back to Pan), plus View → Zoom to layer /
Zoom to selection. ``install_map_tools(window)`` builds it all and returns :class:`MapTools`."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QMenu, QToolBar

from app.identify import install_identify_dock
from app.map_tools import IdentifyTool, MapTool, PanTool, SelectTool, ZoomBoxTool
from app.measure import MeasureTool

ICON_PX = 20
INK = QColor("#33414e")


def _icon(draw) -> QIcon:
    pixmap = QPixmap(ICON_PX * 2, ICON_PX * 2)
    pixmap.setDevicePixelRatio(2.0)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(INK, 1.6)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    draw(p)
    p.end()
    return QIcon(pixmap)


def _pan(p: QPainter) -> None:
    c = ICON_PX / 2
    p.drawLine(QPointF(c, 3), QPointF(c, ICON_PX - 3))
    p.drawLine(QPointF(3, c), QPointF(ICON_PX - 3, c))
    for tip, a, b in (((c, 2), (c - 3, 5), (c + 3, 5)), ((c, ICON_PX - 2), (c - 3, ICON_PX - 5), (c + 3, ICON_PX - 5)),
                      ((2, c), (5, c - 3), (5, c + 3)), ((ICON_PX - 2, c), (ICON_PX - 5, c - 3), (ICON_PX - 5, c + 3))):
        p.drawPolyline(QPolygonF([QPointF(*a), QPointF(*tip), QPointF(*b)]))


def _zoom(p: QPainter) -> None:
    p.drawEllipse(QPointF(8, 8), 5.5, 5.5)
    p.setPen(QPen(INK, 2.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(12.2, 12.2), QPointF(17.5, 17.5))
    p.setPen(QPen(INK, 1.2, Qt.PenStyle.DashLine))
    p.drawRect(QRectF(5.5, 5.5, 5, 5))


def _identify(p: QPainter) -> None:
    p.setBrush(QColor("#1f78b4"))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(QPointF(10, 10), 8, 8)
    p.setPen(QPen(QColor("white"), 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(10, 9), QPointF(10, 14.5))
    p.drawPoint(QPointF(10, 5.8))


def _select(p: QPainter) -> None:
    p.setPen(QPen(INK, 1.2, Qt.PenStyle.DashLine))
    p.drawRect(QRectF(2.5, 2.5, 11, 9))
    arrow = QPolygonF([QPointF(9, 7), QPointF(9, 18.5), QPointF(11.8, 15.6), QPointF(14, 19.5), QPointF(15.8, 18.6),
                       QPointF(13.7, 14.8), QPointF(17.5, 14.5)])
    p.setPen(QPen(INK, 1.2))
    p.setBrush(QColor("#ffd400"))
    p.drawPolygon(arrow)


def _distance(p: QPainter) -> None:
    p.setBrush(QColor("#fdf3d0"))
    path = QPainterPath()
    path.addRect(QRectF(1.5, 7, 17, 6.5))
    p.drawPath(path)
    for i, x in enumerate(range(4, 18, 3)):
        p.drawLine(QPointF(x, 7), QPointF(x, 9.5 if i % 2 else 11))


def _area(p: QPainter) -> None:
    fill = QColor("#e3007d")
    fill.setAlphaF(0.2)
    p.setBrush(fill)
    p.setPen(QPen(QColor("#e3007d"), 1.6))
    p.drawPolygon(QPolygonF([QPointF(3, 15), QPointF(6, 4), QPointF(16, 3), QPointF(18, 13), QPointF(10, 17.5)]))


class MapTools(QObject):
    """The tools, their actions (``actions[name]``; ``window.pan_action`` too) and the identify dock."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        canvas = window.canvas
        self.identify_dock, self.identify_panel = install_identify_dock(window)
        pan = canvas.tool if isinstance(canvas.tool, PanTool) else PanTool(canvas)
        self.tools: dict[str, MapTool] = {
            "pan": pan,
            "zoom_box": ZoomBoxTool(canvas),
            "identify": IdentifyTool(canvas, self._show_hits),
            "select": SelectTool(canvas, window.selection, self.current_layer, self._tell),
            "measure_distance": MeasureTool(canvas, "distance", self._tell),
            "measure_area": MeasureTool(canvas, "area", self._tell),
        }
        specs = {
            "pan": ("Pan", _pan, "Drag to move the map (Esc on the map comes back here)"),
            "zoom_box": ("Zoom", _zoom, "Drag a box to zoom to it; click zooms in, right click out"),
            "identify": ("Identify", _identify, "Click a feature to see its attributes"),
            "select": ("Select", _select, "Select features of the current layer: click or drag a box; "
                                          "Shift adds, Ctrl toggles"),
            "measure_distance": ("Distance", _distance, "Measure a distance: click points, double-click ends"),
            "measure_area": ("Area", _area, "Measure an area: click corners, double-click ends"),
        }
        self.group = QActionGroup(window)
        self.group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.actions: dict[str, QAction] = {}
        for name, (text, draw, tip) in specs.items():
            action = QAction(_icon(draw), text, window, checkable=True)
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.setObjectName(f"tool_{name}")
            action.triggered.connect(lambda _checked=False, n=name: self.use(n))
            self.group.addAction(action)
            self.actions[name] = action
        self.actions["pan"].setChecked(True)
        window.pan_action = self.actions["pan"]
        window.map_tools = self

        bar = QToolBar("Map tools", window)
        bar.setObjectName("map_tools_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addActions(list(self.actions.values()))
        window.addToolBar(bar)
        self.toolbar = bar

        self.zoom_layer_action = QAction("Zoom to &layer", window, shortcut="Ctrl+Shift+L")
        self.zoom_layer_action.triggered.connect(self.zoom_to_layer)
        self.zoom_selection_action = QAction("Zoom to &selection", window, shortcut="Ctrl+J")
        self.zoom_selection_action.triggered.connect(self.zoom_to_selection)
        menu = self._view_menu()
        menu.addAction(self.zoom_layer_action)
        menu.addAction(self.zoom_selection_action)
        menu.addSeparator()
        menu.addActions(list(self.actions.values()))

        canvas.escapePressed.connect(self.actions["pan"].trigger)
        canvas.toolChanged.connect(self._tool_changed)
        if hasattr(window, "projectShown"):
            window.projectShown.connect(lambda _p: self.identify_panel.show_hits([], None))

    def _view_menu(self) -> QMenu:
        for action in self.window.menuBar().actions():
            if action.menu() is not None and action.text().replace("&", "") == "View":
                return action.menu()
        return self.window.menuBar().addMenu("&View")

    def use(self, name: str) -> None:
        """Make the tool ``name`` the canvas's tool."""
        self.actions[name].setChecked(True)
        self.window.canvas.set_tool(self.tools[name])
        self.window.canvas.setFocus()

    def _tool_changed(self, tool: MapTool) -> None:
        for name, t in self.tools.items():
            if t is tool:
                self.actions[name].setChecked(True)
                return
        checked = self.group.checkedAction()
        if checked is not None:
            checked.setChecked(False)  # another part of the window (editing) took the mouse

    def current_layer(self):
        """The layer chosen in the Layers panel (its row or one of its legend rows), or None."""
        return self.window.panel.current_layer()

    def zoom_to_layer(self) -> None:
        layer = self.current_layer()
        if layer is None or layer.gdf is None:
            self._tell("Choose a layer in the Layers panel to zoom to")
            return
        self.window.canvas.zoom_to_layer(layer)

    def zoom_to_selection(self) -> None:
        if not self.window.canvas.zoom_to_selection(self.window.selection):
            self._tell("Nothing is selected")

    def _show_hits(self, hits, where) -> None:
        self.identify_panel.show_hits(hits, where)
        self.identify_dock.show()
        self.identify_dock.raise_()
        n = sum(len(rows) for _, rows in hits)
        self._tell(f"Identify: {n} feature{'s' if n != 1 else ''} here" if n else "Identify: no feature here")

    def _tell(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 8000)


def install_map_tools(window) -> MapTools:
    """Add the map tools to ``window`` (a MainWindow: ``canvas``, ``panel``, ``selection``)."""
    return MapTools(window)
