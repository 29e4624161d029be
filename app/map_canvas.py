"""The map canvas: shows the project's layers, pans, zooms; renders in a worker thread.

The canvas holds the project CRS and the view (a centre and a resolution in map units per
logical pixel; :meth:`MapCanvas.extent` is the box the widget shows, with the widget's aspect).
Every change of the view asks for a render; renders run on a ``QThreadPool`` as a
:class:`app.render_job.RenderJob`. Each request gets a new generation number and cancels the one
before it; a result of an older generation that still arrives is dropped. Until the new image
is there, the last image is drawn shifted and scaled to where it belongs, so panning is instant.

The map is composed of one image per layer, one of the labels and one of the selected features
(drawn in yellow on top). The canvas keeps these images: when one layer is shown, hidden,
restyled or changes its opacity, and the view did not move, only that layer is drawn again
(``render_counts`` counts the drawings per layer name); a new selection redraws only the overlay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pyproj import CRS, Geod, Transformer
from PySide6.QtCore import QPointF, QRectF, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QWidget

from app.map_tools import MapTool, PanTool
from app.render import BACKGROUND, CACHE, Extent, fit_extent, layer_key
from app.render_cache import positions
from app.render_job import Piece, Plan, RenderJob
from app.render_selection import selection_key
from app.workers import worker_pool
from layers.layer import Layer

ZOOM_STEP = 1.25  # per wheel notch (120 eighths of a degree)
FULL_MARGIN = 0.03  # share of the full extent added around it by zoom_full()
ZOOM_TO_MARGIN = 0.08  # share added around a layer or a selection zoomed to
MIN_VIEW_M = 150.0  # zooming to one point shows at least this many metres (a street block)
_GEOD = Geod(ellps="WGS84")
PLACEHOLDER = ("No project is open.\n\nFile → Open sample city shows central Helsinki;\n"
               "File → Open project… opens a .citydesk file.")


def layers_extent(layers: Sequence[Layer], crs: CRS) -> Extent | None:
    """The box around every layer with data (hidden ones too), in ``crs``; None if there is none.

    Uses each layer's bounds transformed with pyproj (densified edges), not a full reprojection."""
    boxes = []
    for layer in layers:
        gdf = layer.gdf
        if gdf is None or len(gdf) == 0:
            continue
        cached = CACHE.extent(layer, crs)  # a prepared layer's box, without a pass over its geometries
        if cached is not None:
            boxes.append(np.asarray(cached, dtype=float))
            continue
        b = np.asarray(gdf.total_bounds, dtype=float)
        if not np.isfinite(b).all():
            continue
        if gdf.crs is not None and not CRS.from_user_input(gdf.crs).equals(crs):
            to_crs = Transformer.from_crs(gdf.crs, crs, always_xy=True)
            b = np.asarray(to_crs.transform_bounds(*b, densify_pts=21))
        boxes.append(b)
    if not boxes:
        return None
    arr = np.array(boxes)
    return float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())


class MapCanvas(QWidget):
    """A map of ``layers`` (top-first, as in the project) in ``crs``.

    Signals: ``extentChanged(object)`` with the new extent ``(xmin, ymin, xmax, ymax)``,
    ``cursorMoved(float, float)`` in the project CRS, ``renderFinished()`` when a current image
    arrived, ``renderFailed(str)``, ``toolChanged(tool)``, ``escapePressed()``.
    """

    extentChanged = Signal(object)
    cursorMoved = Signal(float, float)
    renderFinished = Signal()
    renderFailed = Signal(str)
    toolChanged = Signal(object)  # the new MapTool
    escapePressed = Signal()  # Esc that the tool did not use (the window goes back to panning)

    def __init__(self, parent: QWidget | None = None, *, thread_pool: QThreadPool | None = None):
        super().__init__(parent)
        self.layers: list[Layer] = []
        self.crs: CRS = CRS.from_epsg(3857)
        self._center = (0.0, 0.0)
        self._res = 1.0  # map units per logical pixel
        self._full: Extent | None = None
        self.generation = 0
        self._job: RenderJob | None = None  # the newest render, None once it has ended
        self.dropped = 0  # results of older generations that arrived late and were dropped
        self._image: QImage | None = None
        self._image_extent: Extent | None = None
        self._pieces: dict[object, Piece] = {}  # the last images of layers (by id), "labels", "selection"
        self.render_counts: Counter[str] = Counter()  # layer name -> how often its image was drawn
        self.selection = None  # an app.selection.Selection, see set_selection()
        self._middle_from: QPointF | None = None  # the middle button pans whatever the tool
        self.tool: MapTool = PanTool(self)
        self._pool = thread_pool or worker_pool()
        self._timer = QTimer(self, singleShot=True, interval=15)  # gathers wheel bursts into one render
        self._timer.timeout.connect(self._start_render)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 150)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    # ------------------------------------------------------------------------------ model
    def set_layers(self, layers: list[Layer], crs: CRS, extent: Extent | None = None) -> None:
        """Show ``layers`` (the list itself is kept, so later changes show on :meth:`refresh`)
        in ``crs``; the view goes to ``extent`` or the full extent of the layers."""
        self.layers, self.crs = layers, CRS.from_user_input(crs)
        self._full = None
        self._image = self._image_extent = None
        self._pieces = {}
        if extent is not None:
            self.zoom_to_extent(extent)
        else:
            self.zoom_full()

    def refresh(self, *_ignored) -> None:
        """Render again (after a layer was shown, hidden, added, restyled or got a new
        GeoDataFrame): only layers whose data, style or visibility changed are drawn again.
        (Arguments are ignored, so any signal can be connected to it.)"""
        self._full = None
        self._schedule()

    def invalidate(self, layer: Layer) -> None:
        """Draw ``layer`` again from scratch: for a GeoDataFrame changed in place (the same object)."""
        CACHE.invalidate(layer)
        for slot in (id(layer), "labels", "selection"):
            self._pieces.pop(slot, None)
        self.refresh()

    def set_selection(self, selection) -> None:
        """Draw the features selected in ``selection`` (an :class:`app.selection.Selection`)
        highlighted on top of the map, and again whenever it changes."""
        if self.selection is not None:
            self.selection.changed.disconnect(self._selection_changed)
        self.selection = selection
        if selection is not None:
            selection.changed.connect(self._selection_changed)
        self._schedule()

    def _selection_changed(self, _layer=None) -> None:
        self._schedule()

    # ------------------------------------------------------------------------------- view
    def extent(self) -> Extent:
        """What the widget shows: ``(xmin, ymin, xmax, ymax)`` in the project CRS."""
        cx, cy = self._center
        hw, hh = self._res * self._width() / 2, self._res * self._height() / 2
        return cx - hw, cy - hh, cx + hw, cy + hh

    def resolution(self) -> float:
        """Map units per logical pixel."""
        return self._res

    def full_extent(self) -> Extent | None:
        if self._full is None:
            self._full = layers_extent(self.layers, self.crs)
        return self._full

    def zoom_to_extent(self, bounds: Extent) -> None:
        """Show ``bounds`` (project CRS) as large as fits, centred."""
        xmin, ymin, xmax, ymax = fit_extent(bounds, self._width(), self._height())
        self._set_view(((xmin + xmax) / 2, (ymin + ymax) / 2), (xmax - xmin) / self._width())

    def zoom_to_layer(self, layer: Layer) -> None:
        """Show the whole of ``layer`` (hidden or not), with a margin."""
        box = layers_extent([layer], self.crs)
        if box is not None:
            self.zoom_to_extent(self._padded(box))

    def zoom_to_selection(self, selection=None, layers: Sequence[Layer] | None = None) -> bool:
        """Show every selected feature (of ``selection``, default the canvas's) of ``layers``
        (default the canvas's layers); False (the view stays) when nothing is selected."""
        selection = selection if selection is not None else self.selection
        boxes = []
        for layer in (layers if layers is not None else self.layers) if selection is not None else []:
            rows = selection.rows(layer)
            prepared = CACHE.geometry(layer, self.crs) if len(rows) else None
            if prepared is not None:
                b = prepared.bounds[positions(prepared, rows)]
                if len(b):
                    boxes.append((b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()))
        if not boxes:
            return False
        arr = np.array(boxes)
        self.zoom_to_extent(self._padded((arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())))
        return True

    def set_scale(self, denominator: float) -> None:
        """Zoom about the centre to the scale 1:``denominator`` (see :meth:`scale_denominator`)."""
        if not (denominator > 0) or not np.isfinite(denominator):
            return
        res = denominator * 0.0254 / max(self.physicalDpiX(), 1) / self._metres_per_unit()
        self._set_view(self._center, res)

    def _metres_per_unit(self) -> float:
        """Metres on the ground per map unit along x at the centre of the view."""
        if self.crs.is_geographic:
            cx, cy = self._center
            cy = max(min(cy, 89.9), -89.9)
            return max(_GEOD.line_length([cx - 0.5, cx + 0.5], [cy, cy]), 1e-9)
        axes = self.crs.axis_info
        return axes[0].unit_conversion_factor if axes and axes[0].unit_conversion_factor else 1.0

    def _padded(self, box: Extent) -> Extent:
        xmin, ymin, xmax, ymax = box
        least = MIN_VIEW_M / self._metres_per_unit()
        mx = max((xmax - xmin) * ZOOM_TO_MARGIN, (least - (xmax - xmin)) / 2, 0.0)
        my = max((ymax - ymin) * ZOOM_TO_MARGIN, (least - (ymax - ymin)) / 2, 0.0)
        return xmin - mx, ymin - my, xmax + mx, ymax + my

    def zoom_full(self) -> None:
        """Show every layer (with a small margin)."""
        full = self.full_extent()
        if full is None:
            self._set_view((0.0, 0.0), 1.0)
            return
        xmin, ymin, xmax, ymax = full
        mx = max(xmax - xmin, 1.0) * FULL_MARGIN
        my = max(ymax - ymin, 1.0) * FULL_MARGIN
        self.zoom_to_extent((xmin - mx, ymin - my, xmax + mx, ymax + my))

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom in by ``factor`` (> 1 zooms in) keeping the map point under ``anchor`` (widget
        pixels; default the centre) where it is."""
        anchor = anchor if anchor is not None else QPointF(self._width() / 2, self._height() / 2)
        wx, wy = self.to_map(anchor)
        res = self._res / factor
        cx = wx - (anchor.x() - self._width() / 2) * res
        cy = wy + (anchor.y() - self._height() / 2) * res
        self._set_view((cx, cy), res)

    def pan_pixels(self, dx: float, dy: float) -> None:
        """Move the map by ``dx, dy`` screen pixels (the map follows the mouse)."""
        cx, cy = self._center
        self._set_view((cx - dx * self._res, cy + dy * self._res), self._res)

    def to_map(self, pos: QPointF) -> tuple[float, float]:
        """Widget pixel position to project CRS coordinates."""
        xmin, _, _, ymax = self.extent()
        return xmin + pos.x() * self._res, ymax - pos.y() * self._res

    def to_widget(self, x: float, y: float) -> QPointF:
        """Project CRS coordinates to the widget pixel position."""
        xmin, _, _, ymax = self.extent()
        return QPointF((x - xmin) / self._res, (ymax - y) / self._res)

    def scale_denominator(self) -> float:
        """N of the scale 1:N on this screen: metres on the ground per metre on the screen,
        from the extent width (geodesic for a geographic CRS) and the widget's physical DPI."""
        xmin, ymin, xmax, ymax = self.extent()
        if self.crs.is_geographic:
            cy = max(min((ymin + ymax) / 2, 89.9), -89.9)
            ground_m = _GEOD.line_length([xmin, xmax], [cy, cy])
        else:
            ground_m = (xmax - xmin) * self._metres_per_unit()
        screen_m = self._width() / max(self.physicalDpiX(), 1) * 0.0254
        return ground_m / screen_m

    def _set_view(self, center: tuple[float, float], res: float) -> None:
        if not (res > 0) or res != res:
            return
        self._center, self._res = (float(center[0]), float(center[1])), float(res)
        self.extentChanged.emit(self.extent())
        self.update()
        self._schedule()

    def _width(self) -> int:
        return max(self.width(), 1)

    def _height(self) -> int:
        return max(self.height(), 1)

    # ----------------------------------------------------------------------------- render
    def _schedule(self) -> None:
        self._timer.start()

    def _start_render(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.generation += 1
        job = RenderJob(self.generation, self._plan())
        job.signals.done.connect(self._on_rendered)
        job.signals.failed.connect(self._on_failed)
        self._job = job
        job.start(self._pool)

    def _plan(self) -> Plan:
        """What the next render draws: the pieces whose kept image is stale or missing."""
        plan = Plan(self.crs, self.extent(), self._width(), self._height(), self.devicePixelRatioF())
        view = plan.view_key()
        shown = [lay for lay in self.layers if lay.visible and lay.gdf is not None]
        plan.shown_top_first = shown
        keys = {id(lay): layer_key(lay, self.crs) for lay in shown}
        for layer in reversed(shown):
            plan.layers.append(self._piece(id(layer), layer.name, (keys[id(layer)], view), layer.style.opacity,
                                           layer, layer.gdf))
        labelled = tuple(keys[id(lay)] for lay in shown if lay.style.label_field)
        plan.labels = self._piece("labels", "labels", (labelled, view))
        if self.selection is not None:
            plan.selected = {lay: self.selection.rows(lay) for lay in shown if self.selection.count(lay)}
        plan.selection = self._piece("selection", "selection",
                                     (selection_key(plan.selected), tuple(keys[id(lay)] for lay in plan.selected),
                                      view))
        return plan

    def _piece(self, slot, name: str, key: tuple, opacity: float = 1.0, layer: Layer | None = None,
               keep=None) -> Piece:
        kept = self._pieces.get(slot)
        if kept is not None and kept.key == key:
            return Piece(name, key, opacity, layer, kept.image, True, kept.keep)
        return Piece(name, key, opacity, layer, keep=keep)

    def _on_rendered(self, generation: int, image: QImage, extent: Extent, plan: Plan | None = None) -> None:
        if generation != self.generation:
            self.dropped += 1  # the user moved on; a newer render is coming
            return
        self._job = None
        self._image, self._image_extent = image, extent
        if plan is not None:
            self._keep(plan)
        self.update()
        self.renderFinished.emit()

    def _keep(self, plan: Plan) -> None:
        """Keep the pieces of the current view (images of other views are of no more use)."""
        view = plan.view_key()
        kept = {slot: p for slot, p in self._pieces.items() if p.key[-1] == view}
        for piece in plan.layers:
            slot = id(piece.layer)
            if kept.get(slot) is None or kept[slot].key != piece.key:
                self.render_counts[piece.name] += 1
            kept[slot] = piece
        kept["labels"] = plan.labels
        kept["selection"] = plan.selection
        self._pieces = kept

    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self.generation:
            self._job = None
            self.renderFailed.emit(message)

    def cancel_render(self) -> None:
        """Stop the pending and the running render (e.g. when the window closes)."""
        self._timer.stop()
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def is_rendering(self) -> bool:
        return self._job is not None or self._timer.isActive()

    def image(self) -> QImage | None:
        """The last finished render (device pixels), or None."""
        return self._image

    def image_extent(self) -> Extent | None:
        """The extent the last finished render shows."""
        return self._image_extent

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(BACKGROUND))
        if self._image is not None and self._image_extent is not None:
            xmin, ymin, xmax, ymax = fit_extent(self._image_extent, self._image.width(), self._image.height())
            vx0, _, _, vy1 = self.extent()
            target = QRectF((xmin - vx0) / self._res, (vy1 - ymax) / self._res,
                            (xmax - xmin) / self._res, (ymax - ymin) / self._res)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self._image)
        elif not self.layers:
            painter.setPen(QColor("#6b6b6b"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, PLACEHOLDER)
        self.tool.paint(painter)
        painter.end()

    # ------------------------------------------------------------------------------ input
    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.extentChanged.emit(self.extent())
        self._schedule()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_by(ZOOM_STEP ** notches, event.position())
        event.accept()

    def set_tool(self, tool: MapTool) -> None:
        """Make ``tool`` the one that handles the mouse (see :mod:`app.map_tools`)."""
        if tool is self.tool:
            return
        self.tool.deactivate()
        self.tool = tool
        tool.activate()
        self.update()
        self.toolChanged.emit(tool)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self._middle_from = event.position()
            return
        self.tool.press(event, *self.to_map(event.position()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._middle_from is not None:
            delta = pos - self._middle_from
            self._middle_from = pos
            self.pan_pixels(delta.x(), delta.y())
        else:
            self.tool.move(event, *self.to_map(pos))
        self.cursorMoved.emit(*self.to_map(pos))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self._middle_from = None
            return
        self.tool.release(event, *self.to_map(event.position()))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.tool.double_click(event, *self.to_map(event.position()))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if self.tool.key(event):
            return
        step_x, step_y = self._width() / 4, self._height() / 4
        moves = {Qt.Key.Key_Left: (step_x, 0), Qt.Key.Key_Right: (-step_x, 0),
                 Qt.Key.Key_Up: (0, step_y), Qt.Key.Key_Down: (0, -step_y)}
        if event.key() in moves:
            self.pan_pixels(*moves[event.key()])
        elif event.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif event.key() == Qt.Key.Key_Minus:
            self.zoom_by(1 / ZOOM_STEP)
        elif event.key() == Qt.Key.Key_Escape:
            self.escapePressed.emit()
        else:
            super().keyPressEvent(event)
