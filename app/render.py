"""Draw city layers into a QImage: QtGui only (no widgets), safe to run in a worker thread.

Conventions:

- **Layer order.** ``layers`` is top-first, like the project and the Layers panel: ``layers[0]``
  is drawn last, on top of the others.
- **Extent.** ``(xmin, ymin, xmax, ymax)`` in the project CRS. It is widened about its centre to
  the aspect of the image (:func:`fit_extent`), so a map is never stretched.
- **Sizes.** ``width_px`` / ``height_px``, point sizes and stroke widths are logical pixels (96 dpi);
  the image has ``device_pixel_ratio`` times as many device pixels.
- **Colours.** :func:`layers.style.symbolize` gives one colour per feature: the fill of polygons
  and points, the line colour of lines (``style.stroke`` outlines polygons and points).

Each layer is reprojected to the project CRS once and kept in :data:`CACHE` with its STRtree and
colours; a render queries the tree, transforms the visible coordinates with numpy in one shot and
builds Qt paths from packed arrays (no Python work per vertex). Sub-pixel features become dots.
"""

from __future__ import annotations

import json
import struct
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from pyproj import CRS
from PySide6.QtCore import QByteArray, QDataStream, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen, QPolygonF

from layers.feedback import Cancelled
from layers.layer import Layer
from layers.style import Style, symbolize

Extent = tuple[float, float, float, float]
BACKGROUND = "#f2efe9"
LABEL_FONT_PX = 11
MAX_LABELS_PER_LAYER = 2000
LOD_FEATURES = 20_000  # more lines (or points) than this in view: drawn the fast way
_POINT, _LINE, _POLYGON = 0, 1, 2
# shapely type id (Point, LineString, LinearRing, Polygon, Multi..., GeometryCollection) -> kind
_KIND_LUT = np.array([_POINT, _LINE, _LINE, _POLYGON, _POINT, _LINE, _POLYGON, -1], dtype=np.int8)
_VERTEX = np.dtype([("t", ">i4"), ("x", ">f8"), ("y", ">f8")])  # QPainterPath's stream format


# ---------------------------------------------------------------------------- view maths (no Qt)

def fit_extent(extent: Extent, width_px: float, height_px: float) -> Extent:
    """``extent`` widened about its centre so that its aspect equals ``width_px / height_px``."""
    xmin, ymin, xmax, ymax = map(float, extent)
    w, h = max(xmax - xmin, 1e-12), max(ymax - ymin, 1e-12)
    res = max(w / max(width_px, 1), h / max(height_px, 1))  # map units per pixel
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    hw, hh = res * max(width_px, 1) / 2, res * max(height_px, 1) / 2
    return cx - hw, cy - hh, cx + hw, cy + hh


def screen_transform(extent: Extent, width_px: float, height_px: float) -> tuple[float, float, float]:
    """``(scale, tx, ty)`` with screen ``x = X * scale + tx`` and ``y = -Y * scale + ty`` (pixels,
    y down) for map coordinates ``X, Y`` shown in an image of ``width_px`` x ``height_px``."""
    xmin, _, xmax, ymax = fit_extent(extent, width_px, height_px)
    scale = max(width_px, 1) / (xmax - xmin)
    return scale, -xmin * scale, ymax * scale


def to_screen(xy: np.ndarray, extent: Extent, width_px: float, height_px: float) -> np.ndarray:
    """Map coordinates ``(n, 2)`` to screen pixels ``(n, 2)``, vectorised; the top left of the
    image is ``(0, 0)`` and ``y`` grows downwards."""
    scale, tx, ty = screen_transform(extent, width_px, height_px)
    out = np.empty((len(xy), 2), dtype=np.float64)
    out[:, 0] = xy[:, 0] * scale + tx
    out[:, 1] = ty - xy[:, 1] * scale
    return out


# --------------------------------------------------------------------- arrays -> Qt, vectorised

def path_from_arrays(xy: np.ndarray, starts: np.ndarray, fill_rule=Qt.FillRule.WindingFill) -> QPainterPath:
    """A QPainterPath of all rings / lines in ``xy`` (pixels); ``starts`` marks each first vertex.

    Built by streaming packed big-endian arrays into ``QDataStream`` (the format of
    ``operator>>(QDataStream&, QPainterPath&)``), so the cost is numpy's, not Python's."""
    n = len(xy)
    if n == 0:
        return QPainterPath()
    packed = np.empty(n, dtype=_VERTEX)
    packed["t"] = np.where(starts, 0, 1)  # MoveToElement, LineToElement
    packed["x"], packed["y"] = xy[:, 0], xy[:, 1]
    last_start = int(np.flatnonzero(starts)[-1]) if starts.any() else 0
    rule = 1 if fill_rule == Qt.FillRule.WindingFill else 0
    data = struct.pack(">i", n) + packed.tobytes() + struct.pack(">ii", last_start, rule)
    path = QPainterPath()
    QDataStream(QByteArray(data)) >> path
    return path


def polygon_from_xy(xy: np.ndarray) -> QPolygonF:
    """A QPolygonF of the ``(n, 2)`` pixel coordinates, streamed like :func:`path_from_arrays`."""
    data = struct.pack(">I", len(xy)) + np.ascontiguousarray(xy, dtype=">f8").tobytes()
    polygon = QPolygonF()
    QDataStream(QByteArray(data)) >> polygon
    return polygon


# -------------------------------------------------------------------------------- layer cache

@dataclass
class Prepared:
    """A layer reprojected to the project CRS, with what every render needs."""

    gdf: object  # the layer's GeoDataFrame this was built from (identity check)
    crs: CRS
    geoms: np.ndarray  # valid, non-empty geometries in the project CRS, polygons oriented
    rows: np.ndarray  # their positions in the layer's GeoDataFrame
    kinds: np.ndarray  # _POINT / _LINE / _POLYGON per geometry
    bounds: np.ndarray  # (n, 4)
    tree: shapely.STRtree
    style_key: str = ""
    palette: list[str] = field(default_factory=list)  # hex colours
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))  # palette index per geom
    legend: list[tuple[str, str]] = field(default_factory=list)
    anchors: np.ndarray | None = None  # label anchor per geometry, (n, 2)


def _style_key(style: Style) -> str:
    return json.dumps(style.to_dict(), sort_keys=True, default=str)


class RenderCache:
    """Reprojected geometries, spatial index and colours per layer (keyed by the layer object,
    its GeoDataFrame, the project CRS and the style). Thread-safe; entries die with their layer."""

    def __init__(self) -> None:
        self._entries: weakref.WeakKeyDictionary[Layer, Prepared] = weakref.WeakKeyDictionary()
        self._lock = threading.RLock()

    def prepare(self, layer: Layer, crs: CRS) -> Prepared | None:
        """The prepared layer (built now if missing or stale); None for a layer without data.

        An entry is never changed once made (a new style makes a new entry sharing the
        geometries), so a render that holds one always sees matching geometries and colours."""
        if layer.gdf is None or len(layer.gdf) == 0:
            return None
        crs = CRS.from_user_input(crs)
        key = _style_key(layer.style)
        entry = self._entries.get(layer)
        if entry is not None and entry.gdf is layer.gdf and entry.crs == crs and entry.style_key == key:
            return entry  # the common case, without waiting for the lock
        with self._lock:
            entry = self._entries.get(layer)
            if entry is None or entry.gdf is not layer.gdf or entry.crs != crs:
                entry = _reproject(layer, crs)
            if entry.style_key != key:
                symbology = symbolize(layer.style, layer.gdf)
                colours = np.asarray(symbology.colors, dtype=object)[entry.rows].astype(str)
                palette, codes = np.unique(colours, return_inverse=True)
                entry = replace(entry, style_key=key, palette=[str(c) for c in palette],
                                codes=codes.astype(np.intp), legend=list(symbology.legend), anchors=None)
            self._entries[layer] = entry
            return entry

    def legend(self, layer: Layer, crs: CRS) -> list[tuple[str, str]]:
        """The legend ``[(label, colour)]`` of the layer's style (empty for a layer without data):
        the cached one, else straight from ``symbolize`` (no reprojection, so cheap enough for the
        GUI thread)."""
        if layer.gdf is None or len(layer.gdf) == 0:
            return []
        entry = self._entries.get(layer)
        if entry is not None and entry.gdf is layer.gdf and entry.style_key == _style_key(layer.style):
            return list(entry.legend)
        return list(symbolize(layer.style, layer.gdf).legend)


def _reproject(layer: Layer, crs: CRS) -> Prepared:
    gdf = layer.gdf
    series = gdf.geometry
    if series.crs is not None and not CRS.from_user_input(series.crs).equals(crs):
        series = series.to_crs(crs)
    geoms = np.asarray(series.values, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    rows = np.flatnonzero(keep)
    geoms = shapely.orient_polygons(geoms[rows])  # exterior and holes opposite: winding fill works
    kinds = _KIND_LUT[shapely.get_type_id(geoms)]
    drop = kinds < 0  # geometry collections: not drawn in this version
    if drop.any():
        rows, geoms, kinds = rows[~drop], geoms[~drop], kinds[~drop]
    return Prepared(gdf, crs, geoms, rows, kinds, shapely.bounds(geoms).reshape(-1, 4),
                    shapely.STRtree(geoms))


CACHE = RenderCache()


# ------------------------------------------------------------------------------------ render

def render_layers(layers: Sequence[Layer], project_crs: CRS, extent: Extent, width_px: int, height_px: int,
                  device_pixel_ratio: float = 1.0, cancelled: Callable[[], bool] = lambda: False,
                  *, background: str | None = BACKGROUND, cache: RenderCache | None = None) -> QImage:
    """Draw the visible ``layers`` (top-first: ``layers[0]`` ends on top) seen in ``extent``
    (project CRS) into a new ``width_px`` x ``height_px`` image (logical pixels).

    Layers without data (``gdf`` None: a missing file) or hidden are skipped. ``cancelled`` is
    polled between layers and drawing steps; when it returns True, :class:`Cancelled` is raised.
    """
    cache = cache or CACHE
    dpr = max(float(device_pixel_ratio), 0.1)
    w, h = max(int(width_px), 1), max(int(height_px), 1)
    image = QImage(max(round(w * dpr), 1), max(round(h * dpr), 1), QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    image.fill(QColor(background) if background else QColor(0, 0, 0, 0))
    view = fit_extent(extent, w, h)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        labels = []
        for layer in reversed(list(layers)):
            if cancelled():
                raise Cancelled()
            if not layer.visible or layer.gdf is None:
                continue
            prepared = cache.prepare(layer, project_crs)
            if prepared is None:
                continue
            idx = _draw_layer(painter, layer.style, prepared, view, w, h, cancelled)
            if layer.style.label_field and len(idx):
                labels.append((layer, prepared, idx))
        _draw_labels(painter, reversed(labels), view, w, h, cancelled)
    finally:
        painter.end()
    return image


def _draw_layer(painter: QPainter, style: Style, prepared: Prepared, view: Extent, w: int, h: int,
                cancelled: Callable[[], bool]) -> np.ndarray:
    idx = np.sort(prepared.tree.query(shapely.box(*view)))  # culled with the spatial index
    if len(idx) == 0:
        return idx
    scale, tx, ty = screen_transform(view, w, h)
    b = prepared.bounds[idx]
    tiny = ((b[:, 2] - b[:, 0]) * scale < 1.0) & ((b[:, 3] - b[:, 1]) * scale < 1.0)
    kinds = prepared.kinds[idx]
    painter.setOpacity(min(max(style.opacity, 0.0), 1.0))
    for kind in (_POLYGON, _LINE):
        sel = idx[(kinds == kind) & ~tiny]
        if len(sel):
            _draw_paths(painter, style, prepared, sel, kind, view, w, h, cancelled)
    dots = idx[(kinds != _POINT) & tiny]
    if len(dots):  # smaller than a pixel: a dot at the centre of the box
        centres = np.column_stack([(prepared.bounds[dots, 0] + prepared.bounds[dots, 2]) / 2,
                                   (prepared.bounds[dots, 1] + prepared.bounds[dots, 3]) / 2])
        _draw_dots(painter, prepared, dots, to_screen(centres, view, w, h), 1.5, None, 0.0)
    points = idx[kinds == _POINT]
    if len(points):
        parts, which = shapely.get_parts(prepared.geoms[points], return_index=True)
        xy = to_screen(shapely.get_coordinates(parts), view, w, h)
        _draw_dots(painter, prepared, points[which], xy, style.size, style.stroke, style.stroke_width)
    painter.setOpacity(1.0)
    return idx


def _draw_paths(painter: QPainter, style: Style, prepared: Prepared, sel: np.ndarray, kind: int,
                view: Extent, w: int, h: int, cancelled: Callable[[], bool]) -> None:
    geoms = _clipped(prepared.geoms[sel], prepared.bounds[sel], view, kind)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    if kind == _POLYGON:
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        feature_of_ring = part_of[ring_part]
    else:
        rings, feature_of_ring = parts, part_of
    coords, ring_of_vertex = shapely.get_coordinates(rings, return_index=True)
    if len(coords) == 0:
        return
    xy = to_screen(coords, view, w, h)
    starts = np.r_[True, ring_of_vertex[1:] != ring_of_vertex[:-1]]  # first vertex of each ring / line
    vertex_code = prepared.codes[sel][feature_of_ring][ring_of_vertex]
    order = np.argsort(vertex_code, kind="stable")  # vertices grouped by colour, rings kept whole
    codes_sorted = vertex_code[order]
    cuts = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1], True])
    stroke_w = max(float(style.stroke_width), 0.0)
    if kind == _POLYGON:
        painter.setPen(Qt.PenStyle.NoPen)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if cancelled():
                raise Cancelled()
            part = order[a:b]
            fill = QColor(prepared.palette[codes_sorted[a]])
            fill.setAlphaF(min(max(style.fill_opacity, 0.0), 1.0))
            painter.fillPath(path_from_arrays(xy[part], starts[part]), fill)
        if stroke_w > 0:
            _stroke(painter, _pen(style.stroke, stroke_w), xy, starts, cancelled)
        return
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        part = order[a:b]
        pen = _pen(prepared.palette[codes_sorted[a]], max(stroke_w, 0.5))
        _stroke(painter, pen, xy[part], starts[part], cancelled)


def _clipped(geoms: np.ndarray, bounds: np.ndarray, view: Extent, kind: int) -> np.ndarray:
    """Geometries reaching far outside the view cut to the view plus a margin of one view size,
    so zoomed-in screen coordinates stay small for the rasterizer."""
    xmin, ymin, xmax, ymax = view
    dx, dy = xmax - xmin, ymax - ymin
    box = np.array([xmin - dx, ymin - dy, xmax + dx, ymax + dy])
    far = ((bounds[:, :2] < box[:2]) | (bounds[:, 2:] > box[2:])).any(axis=1)
    if not far.any():
        return geoms
    geoms = geoms.copy()
    cut = shapely.clip_by_rect(geoms[far], *box)
    geoms[far] = shapely.orient_polygons(cut) if kind == _POLYGON else cut
    return geoms


def _pen(colour: str, width: float, cap=Qt.PenCapStyle.RoundCap) -> QPen:
    pen = QPen(QColor(colour), width)
    pen.setCapStyle(cap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _stroke(painter: QPainter, pen: QPen, xy: np.ndarray, starts: np.ndarray,
            cancelled: Callable[[], bool]) -> None:
    """Stroke every line / ring of ``xy``. Hairlines (1 device pixel or less) go in one path;
    wider pens one polyline each, which Qt's raster engine strokes far faster than one big path."""
    painter.setBrush(Qt.BrushStyle.NoBrush)
    dpr = painter.device().devicePixelRatioF()
    if int(starts.sum()) > LOD_FEATURES:  # dense view: hairlines, which Qt draws far faster
        pen = QPen(pen)
        pen.setWidthF(min(pen.widthF(), 1.0 / dpr))
    painter.setPen(pen)
    if pen.widthF() * dpr <= 1.0:
        painter.drawPath(path_from_arrays(xy, starts))
        return
    cuts = np.r_[np.flatnonzero(starts), len(xy)]
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        if i % 500 == 0 and cancelled():
            raise Cancelled()
        painter.drawPolyline(polygon_from_xy(xy[a:b]))


def _draw_dots(painter: QPainter, prepared: Prepared, features: np.ndarray, xy: np.ndarray, size: float,
               stroke: str | None, stroke_width: float) -> None:
    """Round dots of ``size`` px at ``xy``, filled with each feature's colour, outlined in ``stroke``.
    Dots under 3 px are squares and dense views are not antialiased (both many times faster)."""
    codes = prepared.codes[features]
    size = max(float(size), 1.0)
    cap = Qt.PenCapStyle.RoundCap if size >= 3 else Qt.PenCapStyle.SquareCap
    dense = len(xy) > LOD_FEATURES
    if dense:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    if stroke and stroke_width > 0:
        painter.setPen(_pen(stroke, size + 2 * stroke_width, cap))
        painter.drawPoints(polygon_from_xy(xy))
    for code in np.unique(codes):
        painter.setPen(_pen(prepared.palette[code], size, cap))
        painter.drawPoints(polygon_from_xy(xy[codes == code]))
    if dense:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)


# ------------------------------------------------------------------------------------ labels

def _label_anchors(prepared: Prepared) -> np.ndarray:
    if prepared.anchors is None:
        geoms = prepared.geoms
        anchors = shapely.point_on_surface(geoms)
        lines = prepared.kinds == _LINE
        if lines.any():
            anchors[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
        prepared.anchors = shapely.get_coordinates(anchors).reshape(-1, 2)
    return prepared.anchors


def _draw_labels(painter: QPainter, layer_labels, view: Extent, w: int, h: int,
                 cancelled: Callable[[], bool]) -> None:
    """Labels of every labelled layer, top layer first, bigger features first; a label that would
    overlap one already placed (or leave the image) is skipped. Points are labelled on their
    right, lines and polygons (at least 24 px across) at their middle."""
    font = QFont("DejaVu Sans")
    font.setPixelSize(LABEL_FONT_PX)
    metrics = QFontMetricsF(font)
    occupied: dict[tuple[int, int], list[QRectF]] = {}  # placed labels by 64 px grid cell
    halo = QPen(QColor(255, 255, 255, 220), 3.0)
    halo.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    ink = QColor("#222222")
    scale = screen_transform(view, w, h)[0]
    for layer, prepared, idx in layer_labels:
        column = layer.style.label_field
        if column not in layer.gdf.columns:
            continue
        values = layer.gdf[column].iloc[prepared.rows[idx]]
        b = prepared.bounds[idx]
        size_px = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) * scale
        is_point = prepared.kinds[idx] == _POINT
        ok = values.notna().to_numpy() & (values.astype(str).str.len() > 0).to_numpy()
        ok &= is_point | (size_px >= 24)
        chosen = np.flatnonzero(ok)[np.argsort(-size_px[ok], kind="stable")[:MAX_LABELS_PER_LAYER]]
        xy = to_screen(_label_anchors(prepared)[idx[chosen]], view, w, h)
        offset = layer.style.size / 2 + 3
        th, texts = metrics.height(), values.to_numpy(dtype=object)[chosen]
        for (x, y), value, point in zip(xy, texts, is_point[chosen], strict=True):
            if cancelled():
                raise Cancelled()
            text = str(value)[:40]
            tw = metrics.horizontalAdvance(text)
            left = x + offset if point else x - tw / 2
            rect = QRectF(left - 2, y - th / 2 - 1, tw + 4, th + 2)
            if rect.left() < 0 or rect.top() < 0 or rect.right() > w or rect.bottom() > h:
                continue
            cells = [(i, j) for i in range(int(rect.left()) // 64, int(rect.right()) // 64 + 1)
                     for j in range(int(rect.top()) // 64, int(rect.bottom()) // 64 + 1)]
            if any(rect.intersects(r) for c in cells for r in occupied.get(c, ())):
                continue
            for c in cells:
                occupied.setdefault(c, []).append(rect)
            path = QPainterPath()
            path.addText(QPointF(left, y + metrics.ascent() - th / 2), font, text)
            painter.strokePath(path, halo)
            painter.fillPath(path, ink)
