"""Draw city layers into QImages: QtGui only (no widgets), safe to run in a worker thread.

Conventions:

- **Layer order.** ``layers`` is top-first, like the project and the Layers panel: ``layers[0]``
  is drawn last, on top of the others.
- **Extent.** ``(xmin, ymin, xmax, ymax)`` in the project CRS. It is widened about its centre to
  the aspect of the image (:func:`fit_extent`), so a map is never stretched.
- **Sizes.** ``width_px`` / ``height_px``, point sizes and stroke widths are logical pixels (96 dpi);
  the image has ``device_pixel_ratio`` times as many device pixels.
- **Colours.** :func:`layers.style.symbolize` gives one colour per feature: the fill of polygons
  and points, the colour of lines (``style.stroke`` outlines polygons and points).

A map is composed of one transparent image per layer (:func:`render_layer`), the labels
(:func:`app.labels.render_labels`) and the selected features (:func:`app.render_selection.render_selection`),
so the
canvas can keep the images of layers that did not change (:func:`compose`). :func:`render_layers`
does all of it in one call (the command line uses it; the canvas the same pieces).

Speed: each layer is reprojected and flattened once (:mod:`app.render_cache`); a render culls with
the STRtree, gathers and transforms the visible vertices with numpy, simplifies detailed features
to half a pixel, writes features smaller than a pixel straight into the image's memory, and fills
polygons in small batches of neighbouring features (Qt's antialiasing rasterizer is many times
faster on small paths than on one path spanning the map).

The GUI thread stays responsive while a worker renders: features are drawn in chunks of about
``CHUNK_VERTICES`` vertices (:func:`app.render_cache.feature_chunks`), every Qt call draws one small
batch, Qt objects are reused rather than made per batch (:func:`each_path`), and the worker gives
the GIL away between steps (:func:`app.render_cache.breathe`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import shapely
from pyproj import CRS
from PySide6.QtCore import QByteArray, QDataStream, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF

from app.render_cache import (
    LINE,
    POINT,
    POLYGON,
    Prepared,
    RenderCache,
    batch_groups,
    batches,
    breathe,
    chunks,
    feature_chunks,
    flatten,
    ring_cuts,
    style_key,
)
from layers.feedback import Cancelled
from layers.layer import Layer

__all__ = ["BACKGROUND", "CACHE", "Extent", "Prepared", "RenderCache", "compose", "fit_extent", "layer_key",
           "new_image", "path_from_arrays", "polygon_from_xy", "render_layer", "render_layers", "screen_transform",
           "style_key", "to_screen"]

Extent = tuple[float, float, float, float]
BACKGROUND = "#f2efe9"
LOD_FEATURES = 20_000  # more lines (or points) than this in view: drawn the fast way
STROKE_MIN_PX = 3.0  # polygons smaller than this on screen are filled without an outline
FILL_BATCH = 256  # vertices per filled path (whole features)
STROKE_BATCH = 8_192  # vertices per hairline path (whole rings / lines)
DOT_BATCH = 8_192  # points per drawPoints call
_VERTEX = np.dtype([("t", ">i4"), ("x", ">f8"), ("y", ">f8")])  # QPainterPath's stream format
CACHE = RenderCache()
Never = Callable[[], bool]


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

def _packed(xy: np.ndarray, starts: np.ndarray) -> np.ndarray:
    packed = np.empty(len(xy), dtype=_VERTEX)
    packed["t"] = np.where(starts, 0, 1)  # MoveToElement, LineToElement
    packed["x"], packed["y"] = xy[:, 0], xy[:, 1]
    return packed


def path_from_arrays(xy: np.ndarray, starts: np.ndarray, fill_rule=Qt.FillRule.WindingFill) -> QPainterPath:
    """A QPainterPath of all rings / lines in ``xy`` (pixels); ``starts`` marks each first vertex.

    Built by streaming packed big-endian arrays into ``QDataStream`` (the format of
    ``operator>>(QDataStream&, QPainterPath&)``), so the cost is numpy's, not Python's."""
    if len(xy) == 0:
        return QPainterPath()
    rule = 1 if fill_rule == Qt.FillRule.WindingFill else 0
    for _, path in each_path(xy, np.asarray(starts, dtype=bool), np.array([0, len(xy)]), lambda: False, rule):
        return QPainterPath(path)


def polygon_from_xy(xy: np.ndarray) -> QPolygonF:
    """A QPolygonF of the ``(n, 2)`` pixel coordinates, streamed like :func:`path_from_arrays`."""
    for _, polygon in each_polygon(xy, np.array([0, len(xy)]), lambda: False):
        return QPolygonF(polygon)


def each_path(xy: np.ndarray, starts: np.ndarray, cuts: np.ndarray, cancelled: Never, fill_rule: int = 1):
    """``(k, path)`` for each batch ``xy[cuts[k]:cuts[k + 1]]`` (pixels; each batch starts a ring),
    as a QPainterPath (``fill_rule`` 1 = winding). The path object is reused: draw it before
    taking the next.

    The batches of about ``CHUNK_VERTICES`` vertices are streamed into one ``QDataStream`` (one
    record per batch, in the format of ``operator>>(QDataStream&, QPainterPath&)``) and read one
    by one into the same path: no Qt object is made or deleted per batch (PySide6 releases the
    GIL for every deletion, which starves the GUI thread), and each Qt call stays short.
    ``cancelled`` is polled and the GIL given away (:func:`breathe`) every few batches."""
    item = _VERTEX.itemsize
    path = QPainterPath()
    for i, j in batch_groups(cuts):
        a, b = int(cuts[i]), int(cuts[j])
        starts_ab = starts[a:b].copy()
        starts_ab[cuts[i:j] - a] = True
        raw = _packed(xy[a:b], starts_ab).tobytes()
        local = cuts[i:j + 1] - a
        last = np.maximum.accumulate(np.where(starts_ab, np.arange(b - a), 0))[local[1:] - 1] - local[:-1]
        stream = QDataStream(QByteArray(b"".join(
            struct.pack(">i", e - s) + raw[s * item:e * item] + struct.pack(">ii", c, fill_rule)
            for s, e, c in zip(local[:-1].tolist(), local[1:].tolist(), last.tolist(), strict=True))))
        for k in range(i, j):
            if (k - i) % 64 == 0:
                if cancelled():
                    raise Cancelled()
                breathe()
            path.clear()
            stream >> path
            yield k, path


def each_polygon(xy: np.ndarray, cuts: np.ndarray, cancelled: Never):
    """``(k, polygon)`` for each batch ``xy[cuts[k]:cuts[k + 1]]`` as a QPolygonF, streamed and
    reused like the paths of :func:`each_path`."""
    polygon = QPolygonF()
    for i, j in batch_groups(cuts):
        a, b = int(cuts[i]), int(cuts[j])
        raw = np.ascontiguousarray(xy[a:b], dtype=">f8").tobytes()
        local = (cuts[i:j + 1] - a).tolist()
        stream = QDataStream(QByteArray(b"".join(struct.pack(">I", e - s) + raw[s * 16:e * 16]
                                                 for s, e in zip(local[:-1], local[1:], strict=True))))
        for k in range(i, j):
            if (k - i) % 64 == 0:
                if cancelled():
                    raise Cancelled()
                breathe()
            stream >> polygon
            yield k, polygon


# ------------------------------------------------------------------------------- images

def qcolor(text: str) -> QColor:
    """A style colour as a QColor: ``#rgb``, ``#rrggbb``, a name, or ``#rrggbbaa`` with the alpha
    last as in CSS and the style files (Qt alone would read ``#aarrggbb``)."""
    if isinstance(text, str) and len(text) == 9 and text.startswith("#"):
        colour = QColor(text[:7])
        colour.setAlpha(int(text[7:9], 16))
        return colour
    return QColor(text)


def new_image(width_px: int, height_px: int, dpr: float = 1.0, fill: str | None = None) -> QImage:
    """An image of ``width_px`` x ``height_px`` logical pixels, transparent unless ``fill``."""
    dpr = max(float(dpr), 0.1)
    image = QImage(max(round(width_px * dpr), 1), max(round(height_px * dpr), 1),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    image.fill(qcolor(fill) if fill else QColor(0, 0, 0, 0))
    return image


def compose(images: Sequence[tuple[QImage | None, float]], width_px: int, height_px: int, dpr: float = 1.0,
            background: str | None = BACKGROUND) -> QImage:
    """One image of ``images`` ``[(image, opacity)]`` drawn bottom-first on ``background``."""
    out = new_image(width_px, height_px, dpr, background)
    painter = QPainter(out)
    for image, opacity in images:
        if image is not None:
            painter.setOpacity(min(max(float(opacity), 0.0), 1.0))
            painter.drawImage(0, 0, image)
    painter.end()
    return out


def layer_key(layer: Layer, crs: CRS) -> tuple:
    """What a layer's image depends on besides the view: its data, its style (but not its
    opacity, applied when composing) and the project CRS."""
    style = layer.style.to_dict()
    style.pop("opacity", None)
    return id(layer), id(layer.gdf), str(sorted(style.items())), CRS.from_user_input(crs).srs


def render_layers(layers: Sequence[Layer], project_crs: CRS, extent: Extent, width_px: int, height_px: int,
                  device_pixel_ratio: float = 1.0, cancelled: Never = lambda: False, *,
                  background: str | None = BACKGROUND, cache: RenderCache | None = None,
                  selection: Mapping[Layer, np.ndarray] | None = None) -> QImage:
    """Draw the visible ``layers`` (top-first: ``layers[0]`` ends on top) seen in ``extent``
    (project CRS) into a new ``width_px`` x ``height_px`` image (logical pixels), then their
    labels, then the ``selection`` (``{layer: rows}``) highlighted.

    Layers without data (``gdf`` None: a missing file) or hidden are skipped. ``cancelled`` is
    polled between layers and drawing steps; when it returns True, :class:`Cancelled` is raised.
    """
    from app.labels import render_labels
    from app.render_selection import render_selection

    cache = cache or CACHE
    args = (project_crs, extent, width_px, height_px, device_pixel_ratio, cancelled, cache)
    shown = [layer for layer in reversed(list(layers)) if layer.visible and layer.gdf is not None]
    parts = [(render_layer(layer, *args), layer.style.opacity) for layer in shown]
    parts.append((render_labels(list(reversed(shown)), *args), 1.0))
    if selection:
        parts.append((render_selection(list(reversed(shown)), selection, *args), 1.0))
    return compose(parts, width_px, height_px, device_pixel_ratio, background)


# --------------------------------------------------------------------------------- layers

def render_layer(layer: Layer, project_crs: CRS, extent: Extent, width_px: int, height_px: int,
                 device_pixel_ratio: float = 1.0, cancelled: Never = lambda: False,
                 cache: RenderCache | None = None) -> QImage | None:
    """One layer (ignoring ``visible`` and ``style.opacity``) in a transparent image; None for a
    layer without data."""
    if layer.gdf is None:
        return None
    prepared = (cache or CACHE).prepare(layer, project_crs)
    if cancelled():
        raise Cancelled()
    image = new_image(width_px, height_px, device_pixel_ratio)
    if prepared is not None:
        _draw_layer(image, layer.style, prepared, fit_extent(extent, width_px, height_px),
                    max(int(width_px), 1), max(int(height_px), 1), cancelled)
    return image


def _draw_layer(image: QImage, style, prepared: Prepared, view: Extent, w: int, h: int, cancelled: Never) -> None:
    idx = prepared.tree.query(shapely.box(*view))  # culled with the spatial index
    if len(idx) == 0:
        return
    scale = screen_transform(view, w, h)[0]
    b = prepared.bounds[idx]
    size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) * scale
    kinds = prepared.kinds[idx]
    tiny = (size < 1.0) & (kinds != POINT)
    if tiny.any():  # smaller than a pixel: one pixel at the centre of the box, written with numpy
        dots = idx[tiny]
        centres = np.column_stack([(prepared.bounds[dots, 0] + prepared.bounds[dots, 2]) / 2,
                                   (prepared.bounds[dots, 1] + prepared.bounds[dots, 3]) / 2])
        alpha = np.where(prepared.kinds[dots] == POLYGON, min(max(style.fill_opacity, 0.0), 1.0), 1.0)
        _splat(image, to_screen(centres, view, w, h), prepared.palette, prepared.codes[dots], alpha)
    breathe()
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        polygons = (kinds == POLYGON) & ~tiny
        if polygons.any():
            _draw_polygons(painter, style, prepared, idx[polygons], size[polygons], view, w, h, cancelled)
        lines = (kinds == LINE) & ~tiny
        if lines.any():
            _draw_lines(painter, style, prepared, idx[lines], view, w, h, cancelled)
        points = idx[kinds == POINT]
        if len(points):
            xy, codes = [], []
            for a, b in chunks(len(points)):  # the points of multipoints too, without making geometries
                geoms = prepared.geoms[points[a:b]]
                xy.append(shapely.get_coordinates(geoms))
                codes.append(np.repeat(prepared.codes[points[a:b]], shapely.get_num_coordinates(geoms)))
            _draw_dots(painter, prepared.palette, np.concatenate(codes), to_screen(np.concatenate(xy), view, w, h),
                       style.size, style.stroke, style.stroke_width, cancelled)
    finally:
        painter.end()


def _screen_vertices(prepared: Prepared, sel: np.ndarray, view: Extent, w: int, h: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel vertices, ring starts and owner (position in ``sel``) of the features ``sel``, in the
    order of ``sel``: simplified to the pixel size; features reaching far outside the view are cut
    to the view plus a margin of one view size (zoomed-in coordinates stay small)."""
    xmin, ymin, xmax, ymax = view
    dx, dy = xmax - xmin, ymax - ymin
    box = np.array([xmin - dx, ymin - dy, xmax + dx, ymax + dy])
    b = prepared.bounds[sel]
    far = ((b[:, :2] < box[:2]) | (b[:, 2:] > box[2:])).any(axis=1)
    res = dx / max(w, 1)
    if not far.any():
        xy, starts, owner = prepared.vertices(sel, res)
    else:
        near = np.flatnonzero(~far)
        xy_a, st_a, own_a = prepared.vertices(sel[near], res)
        cut = shapely.clip_by_rect(prepared.geoms[sel[far]], *box)
        poly = prepared.kinds[sel[far]] == POLYGON
        cut[poly] = shapely.orient_polygons(cut[poly])
        xy_b, st_b, counts = flatten(cut)
        own_b = np.repeat(np.flatnonzero(far), counts)
        owner = np.concatenate([near[own_a], own_b])
        order = np.argsort(owner, kind="stable")
        xy, starts, owner = np.concatenate([xy_a, xy_b])[order], np.concatenate([st_a, st_b])[order], owner[order]
    return to_screen(xy, view, w, h), starts, owner


def _draw_polygons(painter: QPainter, style, prepared: Prepared, sel: np.ndarray, size: np.ndarray,
                   view: Extent, w: int, h: int, cancelled: Never) -> None:
    """Fill the polygons ``sel`` by colour, neighbours together, in batches of ``FILL_BATCH``
    vertices; then outline those at least ``STROKE_MIN_PX`` across. Done in chunks of features."""
    order = np.lexsort((prepared.rank[sel], prepared.codes[sel]))  # by colour, then neighbours together
    sel, size = sel[order], size[order]
    painter.setPen(Qt.PenStyle.NoPen)
    opacity = min(max(style.fill_opacity, 0.0), 1.0)
    brushes: dict[int, QBrush] = {}
    stroke_w = max(float(style.stroke_width), 0.0)
    outlined = size >= STROKE_MIN_PX if stroke_w > 0 else np.zeros(len(sel), dtype=bool)
    outlines, done = [], 0
    for a, b in feature_chunks(prepared, sel):
        if cancelled():
            raise Cancelled()
        xy, starts, owner = _screen_vertices(prepared, sel[a:b], view, w, h)
        if len(xy) == 0:
            continue
        codes = prepared.codes[sel[a:b]][owner]
        cuts = batches(owner, codes, FILL_BATCH, done)
        done += len(xy)
        batch_codes = codes[cuts[:-1]].tolist()
        for k, path in each_path(xy, starts, cuts, cancelled):
            code = batch_codes[k]
            if code not in brushes:
                colour = qcolor(prepared.palette[code])
                colour.setAlphaF(opacity * colour.alphaF())
                brushes[code] = QBrush(colour)
            painter.fillPath(path, brushes[code])
        keep = outlined[a:b][owner]
        if keep.any():
            outlines.append((xy[keep], starts[keep]))
        breathe()
    if outlines:  # on top of every fill
        xy, starts = np.concatenate([o[0] for o in outlines]), np.concatenate([o[1] for o in outlines])
        _stroke(painter, _pen(style.stroke, stroke_w), xy, starts, int(outlined.sum()), cancelled)


def _draw_lines(painter: QPainter, style, prepared: Prepared, sel: np.ndarray, view: Extent, w: int, h: int,
                cancelled: Never) -> None:
    sel = sel[np.argsort(prepared.codes[sel], kind="stable")]
    width = max(float(style.stroke_width), 0.5)
    pens: dict[int, QPen] = {}
    for a, b in feature_chunks(prepared, sel):
        xy, starts, owner = _screen_vertices(prepared, sel[a:b], view, w, h)
        if len(xy) == 0:
            continue
        codes = prepared.codes[sel[a:b]][owner]
        cuts = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1, len(codes)]
        for c, d in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            starts_cd = starts[c:d].copy()
            starts_cd[0] = True
            code = int(codes[c])
            if code not in pens:
                pens[code] = _pen(prepared.palette[code], width)
            _stroke(painter, pens[code], xy[c:d], starts_cd, len(sel), cancelled)


def _pen(colour: str, width: float, cap=Qt.PenCapStyle.RoundCap) -> QPen:
    pen = QPen(qcolor(colour), width)
    pen.setCapStyle(cap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _stroke(painter: QPainter, pen: QPen, xy: np.ndarray, starts: np.ndarray, features: int,
            cancelled: Never) -> None:
    """Stroke every line / ring of ``xy``. Hairlines (1 device pixel or less) go in paths of many
    rings (``STROKE_BATCH`` vertices); wider pens one polyline each, which Qt's raster engine
    strokes far faster than one big path."""
    if len(xy) == 0:
        return
    painter.setBrush(Qt.BrushStyle.NoBrush)
    dpr = painter.device().devicePixelRatioF()
    if features > LOD_FEATURES:  # dense view: hairlines, which Qt draws far faster
        pen = QPen(pen)
        pen.setWidthF(min(pen.widthF(), 1.0 / dpr))
    painter.setPen(pen)
    if pen.widthF() * dpr <= 1.0:
        for _, path in each_path(xy, starts, ring_cuts(starts, STROKE_BATCH), cancelled):
            painter.drawPath(path)
        return
    for _, polyline in each_polygon(xy, ring_cuts(starts, 1), cancelled):
        painter.drawPolyline(polyline)


def _draw_dots(painter: QPainter, palette: list[str], codes: np.ndarray, xy: np.ndarray, size: float,
               stroke: str | None, stroke_width: float, cancelled: Never = lambda: False) -> None:
    """Round dots of ``size`` px at ``xy``, filled with each feature's colour, outlined in ``stroke``.
    Dots under 3 px are squares and dense views are not antialiased (both many times faster).
    Drawn in batches of ``DOT_BATCH`` points."""
    if len(xy) == 0:
        return
    size = max(float(size), 1.0)
    cap = Qt.PenCapStyle.RoundCap if size >= 3 else Qt.PenCapStyle.SquareCap
    dense = len(xy) > LOD_FEATURES
    if dense:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    if stroke and stroke_width > 0:
        painter.setPen(_pen(stroke, size + 2 * stroke_width, cap))
        for _, dots in each_polygon(xy, np.r_[np.arange(0, len(xy), DOT_BATCH), len(xy)], cancelled):
            painter.drawPoints(dots)
    order = np.argsort(codes, kind="stable")
    xy, codes = xy[order], codes[order]
    cuts = batches(np.arange(len(xy)), codes, DOT_BATCH)
    batch_codes = codes[cuts[:-1]].tolist()
    for k, dots in each_polygon(xy, cuts, cancelled):
        if k == 0 or batch_codes[k] != batch_codes[k - 1]:
            painter.setPen(_pen(palette[batch_codes[k]], size, cap))
        painter.drawPoints(dots)
    if dense:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)


def _splat(image: QImage, xy: np.ndarray, palette: list[str], codes: np.ndarray, alpha: np.ndarray) -> None:
    """Write one (logical) pixel per point of ``xy`` straight into ``image``, source-over, in the
    colour ``palette[code]`` with ``alpha``: no painter, no Python work per point."""
    dpr = image.devicePixelRatio()
    step = max(int(round(dpr)), 1)
    px = np.floor(xy * dpr).astype(np.int64)
    width, height = image.width(), image.height()
    colours = [qcolor(c) for c in palette]
    argb = np.array([c.rgb() & 0xFFFFFF for c in colours], dtype=np.uint32)[codes]
    channels = np.stack([(argb >> s) & 0xFF for s in (16, 8, 0)], axis=1).astype(np.float32)  # r, g, b
    a = (np.clip(alpha, 0, 1) * np.array([c.alphaF() for c in colours])[codes]).astype(np.float32)
    pixels = np.frombuffer(image.bits(), dtype=np.uint32).reshape(height, image.bytesPerLine() // 4)
    for ox in range(step):
        for oy in range(step):
            breathe()
            x, y = px[:, 0] + ox, px[:, 1] + oy
            ok = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            xs, ys, src, sa = x[ok], y[ok], channels[ok], a[ok]
            dst = pixels[ys, xs]
            keep = 1.0 - sa
            da = ((dst >> 24) & 0xFF).astype(np.float32)
            out_a = np.round(sa * 255 + da * keep).astype(np.uint32)
            out = out_a << 24
            for k, s in enumerate((16, 8, 0)):
                d = ((dst >> s) & 0xFF).astype(np.float32)
                out |= np.round(src[:, k] * sa + d * keep).astype(np.uint32) << s
            pixels[ys, xs] = out
