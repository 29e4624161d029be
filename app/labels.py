"""Map labels from a field (``style.label_field``), in their own transparent image.

Placement: points on their right, polygons (at least 24 px across) at a point inside them, lines
along their direction at the middle of the visible line, turned so they read left to right (a
line too curved under its label gets the label level at its middle). Bigger features first, top
layer first. A label overlapping one already placed is skipped, and a name already written close
by (the next segment of the same street, the stop on the other side) is not repeated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import shapely
from pyproj import CRS
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen

from app.render import CACHE, Extent, fit_extent, new_image, qcolor, screen_transform, to_screen
from app.render_cache import CHUNK, LINE, POINT, Prepared, RenderCache, breathe, chunks
from layers.feedback import Cancelled
from layers.layer import Layer

LABEL_FONT_PX = 11
MAX_LABELS_PER_LAYER = 2000
MAX_CHARS = 40
CELL = 48  # px, the grid that finds overlapping labels
REPEAT_PX = {POINT: 60.0, LINE: 260.0}  # the same text again no closer than this (polygons: no limit)


class _Placed:
    """Boxes of placed labels on a grid, and where each text was placed."""

    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.cells: dict[tuple[int, int], list[QRectF]] = {}
        self.texts: dict[str, list[tuple[float, float]]] = {}

    def fits(self, rects: list[QRectF]) -> bool:
        for r in rects:
            if r.left() < 0 or r.top() < 0 or r.right() > self.w or r.bottom() > self.h:
                return False
            for c in self._cells(r):
                if any(r.intersects(o) for o in self.cells.get(c, ())):
                    return False
        return True

    def near(self, text: str, x: float, y: float, distance: float) -> bool:
        return any((x - a) ** 2 + (y - b) ** 2 < distance ** 2 for a, b in self.texts.get(text, ()))

    def add(self, rects: list[QRectF], text: str, x: float, y: float) -> None:
        for r in rects:
            for c in self._cells(r):
                self.cells.setdefault(c, []).append(r)
        self.texts.setdefault(text, []).append((x, y))

    @staticmethod
    def _cells(r: QRectF):
        return [(i, j) for i in range(int(r.left()) // CELL, int(r.right()) // CELL + 1)
                for j in range(int(r.top()) // CELL, int(r.bottom()) // CELL + 1)]


def render_labels(layers: Sequence[Layer], project_crs: CRS, extent: Extent, width_px: int, height_px: int,
                  device_pixel_ratio: float = 1.0, cancelled: Callable[[], bool] = lambda: False,
                  cache: RenderCache | None = None) -> QImage | None:
    """The labels of the visible labelled ``layers`` (top-first); None if there are none."""
    labelled = [lay for lay in layers if lay.visible and lay.gdf is not None and lay.style.label_field
                and lay.style.label_field in lay.gdf.columns]
    if not labelled:
        return None
    cache = cache or CACHE
    w, h = max(int(width_px), 1), max(int(height_px), 1)
    view = fit_extent(extent, w, h)
    image = new_image(w, h, device_pixel_ratio)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    placed = _Placed(w, h)
    try:
        for layer in labelled:
            if cancelled():
                raise Cancelled()
            prepared = cache.prepare(layer, project_crs)
            if prepared is not None:
                _label_layer(painter, layer, prepared, view, w, h, placed, cancelled)
    finally:
        painter.end()
    return image


def _anchors(prepared: Prepared) -> np.ndarray:
    if prepared.anchors is None:  # in chunks: making the points holds the GIL
        prepared.anchors = np.concatenate([
            shapely.get_coordinates(shapely.point_on_surface(prepared.geoms[a:b])).reshape(-1, 2)
            for a, b in chunks(len(prepared.geoms))] or [np.empty((0, 2))])
    return prepared.anchors


def _texts(values) -> tuple[np.ndarray, np.ndarray]:
    """The label texts (cut to ``MAX_CHARS``) and whether each is worth writing (in chunks:
    making the strings holds the GIL)."""
    texts, oks = [np.empty(0, dtype=object)], [np.empty(0, dtype=bool)]
    for a, b in chunks(len(values)):
        part = values.iloc[a:b]
        text = part.astype(str)
        oks.append(part.notna().to_numpy() & (text.str.strip().str.len() > 0).to_numpy())
        texts.append(text.str.slice(0, MAX_CHARS).to_numpy(dtype=object))
    return np.concatenate(texts), np.concatenate(oks)


def _merged_lines(layer: Layer, prepared: Prepared):
    """The layer's lines with a label merged per text (a street noded at every junction becomes
    one line per stretch): ``(lines, texts, tree)``, kept with the prepared layer."""
    column = layer.style.label_field
    kept = prepared.geometry.labels.get(column)
    if kept is None:
        lines = np.flatnonzero(prepared.kinds == LINE)
        texts, ok = _texts(prepared.gdf[column].iloc[prepared.rows[lines]])
        lines, texts = lines[ok], texts[ok]
        names, group = np.unique(texts.astype(str), return_inverse=True)
        order = np.argsort(group, kind="stable")
        lines, group = lines[order], group[order]
        cuts = np.unique(np.r_[0, np.searchsorted(group, group[CHUNK::CHUNK]), len(lines)])  # whole names
        merged, of = [np.empty(0, dtype=object)], [np.empty(0, dtype=np.intp)]
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):  # in chunks: holds the GIL
            breathe()
            geoms = prepared.geoms[lines[a:b]]
            multi = shapely.multilinestrings(shapely.get_parts(geoms), indices=np.repeat(
                group[a:b] - group[a], shapely.get_num_geometries(geoms)))
            parts, which = shapely.get_parts(shapely.line_merge(multi), return_index=True)
            merged.append(parts)
            of.append(which + group[a])
        merged, of = np.concatenate(merged), np.concatenate(of)
        kept = (merged, names.astype(object)[of], shapely.STRtree(merged))
        prepared.geometry.labels[column] = kept
    return kept


def _label_layer(painter: QPainter, layer: Layer, prepared: Prepared, view: Extent, w: int, h: int,
                 placed: _Placed, cancelled: Callable[[], bool]) -> None:
    style = layer.style
    if style.label_field not in prepared.gdf.columns:
        return
    box = shapely.box(*view)
    scale = screen_transform(view, w, h)[0]
    idx = np.sort(prepared.tree.query(box))
    b = prepared.bounds[idx]
    big = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) * scale >= 24
    idx = idx[(prepared.kinds[idx] == POINT) | ((prepared.kinds[idx] != LINE) & big)]  # lines: merged below
    texts, ok = _texts(prepared.gdf[style.label_field].iloc[prepared.rows[idx]])
    geoms, kinds, anchors = prepared.geoms[idx], prepared.kinds[idx], _anchors(prepared)[idx]
    if (prepared.kinds == LINE).any():
        lines, line_texts, tree = _merged_lines(layer, prepared)
        near = np.sort(tree.query(box))
        geoms = np.concatenate([geoms, lines[near]])
        texts = np.concatenate([texts, line_texts[near]])
        ok = np.r_[ok, np.ones(len(near), dtype=bool)]
        kinds = np.r_[kinds, np.full(len(near), LINE, dtype=kinds.dtype)]
        anchors = np.concatenate([anchors, np.zeros((len(near), 2))])
    if len(geoms) == 0:
        return
    font = QFont("DejaVu Sans")
    font.setPixelSize(max(int(round(getattr(style, "label_size", LABEL_FONT_PX))), 4))
    metrics = QFontMetricsF(font)
    halo = QPen(QColor(255, 255, 255, 220), 3.0)
    halo.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    ink = qcolor(getattr(style, "label_color", "#222222"))
    b = shapely.bounds(geoms).reshape(-1, 4)
    size_px = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) * scale
    lines = kinds == LINE
    if lines.any():  # the visible length of a line is what counts
        size_px[lines] = shapely.length(shapely.clip_by_rect(geoms[lines], *view)) * scale
    ok &= (kinds == POINT) | (lines & (size_px >= 30)) | (size_px >= 24)
    chosen = np.flatnonzero(ok)[np.argsort(-size_px[ok], kind="stable")[:MAX_LABELS_PER_LAYER]]
    th = metrics.height()
    draw = _Drawer(painter, font, metrics, halo, ink)
    widths = np.array([metrics.horizontalAdvance(t) for t in texts[chosen]])
    on_line = lines[chosen]
    line_pos = iter(_line_positions(geoms[chosen[on_line]], widths[on_line] + 8, view, w, h))
    offset = style.size / 2 + 3
    anchors = to_screen(anchors[chosen], view, w, h)
    for n, k in enumerate(chosen):
        if n % 50 == 0:
            if cancelled():
                raise Cancelled()
            breathe()
        text, tw, kind = texts[k], widths[n], int(kinds[k])
        if kind == LINE:
            x, y, angle, length = next(line_pos)
            if length < tw + 8:
                continue
        else:
            x, y = anchors[n]
            angle = 0.0
            if kind == POINT:
                x += offset + tw / 2
        repeat = REPEAT_PX.get(kind)
        if repeat and placed.near(text, x, y, repeat):
            continue
        rects = _boxes(x, y, tw, th, angle)
        if not placed.fits(rects):
            continue
        placed.add(rects, text, x, y)
        draw(text, x, y, tw, angle)


class _Drawer:
    def __init__(self, painter: QPainter, font: QFont, metrics: QFontMetricsF, halo: QPen, ink: QColor):
        self.painter, self.font, self.metrics, self.halo, self.ink = painter, font, metrics, halo, ink

    def __call__(self, text: str, x: float, y: float, tw: float, angle: float) -> None:
        path = QPainterPath()
        path.addText(QPointF(-tw / 2, self.metrics.ascent() - self.metrics.height() / 2), self.font, text)
        p = self.painter
        p.save()
        p.translate(x, y)
        if angle:
            p.rotate(angle)
        p.strokePath(path, self.halo)
        p.fillPath(path, self.ink)
        p.restore()


def _boxes(x: float, y: float, tw: float, th: float, angle: float) -> list[QRectF]:
    """Boxes covering a label of ``tw`` x ``th`` px centred at ``x, y`` turned by ``angle``
    degrees: one box when level, a row of squares along the baseline when turned."""
    if abs(angle) < 1e-6:
        return [QRectF(x - tw / 2 - 2, y - th / 2 - 1, tw + 4, th + 2)]
    n = max(int(math.ceil(tw / th)), 1)
    ux, uy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    step = tw / n
    return [QRectF(x + ux * t - th / 2, y + uy * t - th / 2, th, th)
            for t in (-tw / 2 + step * (i + 0.5) for i in range(n))]


def _line_positions(geoms: np.ndarray, spans: np.ndarray, view: Extent, w: int, h: int
                    ) -> list[tuple[float, float, float, float]]:
    """Per line: ``(x, y, angle, length)`` in pixels: the middle of the longest visible piece of
    the line, the angle (degrees, -90..90, so text reads left to right) of the chord over
    ``spans`` pixels around it (0 when the line bends there) and the piece's length."""
    if len(geoms) == 0:
        return []
    scale = screen_transform(view, w, h)[0]
    parts, of = shapely.get_parts(shapely.clip_by_rect(geoms, *view), return_index=True)
    lengths = shapely.length(parts)
    piece = np.full(len(geoms), -1, dtype=np.int64)
    order = np.lexsort((lengths, of))  # by line, the longest piece last
    if len(order):
        last = np.r_[np.flatnonzero(of[order][1:] != of[order][:-1]), len(order) - 1]
        piece[of[order][last]] = order[last]
    has = piece >= 0
    pieces = parts[np.where(has, piece, 0)] if len(parts) else np.full(len(geoms), None)
    length_px = np.where(has, lengths[np.where(has, piece, 0)] if len(parts) else 0.0, 0.0) * scale
    half = np.clip(spans / 2 / np.maximum(length_px, 1e-9), 0, 0.5)
    points = [shapely.line_interpolate_point(pieces, f, normalized=True) for f in (0.5, 0.5 - half, 0.5 + half)]
    mid, a, b = (to_screen(shapely.get_coordinates(p).reshape(-1, 2), view, w, h) if has.all()
                 else _coords_or_zero(p, has, view, w, h) for p in points)
    out = []
    for i in range(len(geoms)):
        (x, y), (ax, ay), (bx, by) = mid[i], a[i], b[i]
        dx, dy = bx - ax, by - ay
        chord = math.hypot(dx, dy)
        bend = abs((x - ax) * dy - (y - ay) * dx) / chord if chord > 0 else 1e9
        angle = math.degrees(math.atan2(dy, dx)) if chord > 0 and bend < 2.5 else 0.0
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        out.append((float(x), float(y), angle, float(length_px[i]) if has[i] else 0.0))
    return out


def _coords_or_zero(points: np.ndarray, has: np.ndarray, view: Extent, w: int, h: int) -> np.ndarray:
    out = np.zeros((len(points), 2))
    if has.any():
        out[has] = to_screen(shapely.get_coordinates(points[has]).reshape(-1, 2), view, w, h)
    return out
