"""The selected features, drawn in yellow in a transparent image laid over the map."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import shapely
from pyproj import CRS
from PySide6.QtGui import QBrush, QColor, QImage, QPainter

from app.render import (
    CACHE,
    FILL_BATCH,
    Extent,
    _draw_dots,
    _pen,
    _screen_vertices,
    _stroke,
    each_path,
    fit_extent,
    new_image,
    to_screen,
)
from app.render_cache import POINT, POLYGON, RenderCache, batches, feature_chunks, positions
from layers.feedback import Cancelled
from layers.layer import Layer

SELECTION = "#ffd400"  # selected features: yellow


def render_selection(layers: Sequence[Layer], selection: Mapping[Layer, np.ndarray], project_crs: CRS,
                     extent: Extent, width_px: int, height_px: int, device_pixel_ratio: float = 1.0,
                     cancelled: Callable[[], bool] = lambda: False, cache: RenderCache | None = None) -> QImage:
    """The selected rows (``selection``: ``{layer: rows}``) of the visible ``layers`` (top-first) in
    yellow, in a transparent image to lay over the map."""
    cache = cache or CACHE
    w, h = max(int(width_px), 1), max(int(height_px), 1)
    view = fit_extent(extent, w, h)
    image = new_image(w, h, device_pixel_ratio)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(SELECTION)
    colour.setAlphaF(0.45)
    fill = QBrush(colour)
    try:
        for layer in reversed(list(layers)):
            rows = selection.get(layer)
            if rows is None or not len(rows) or not layer.visible or layer.gdf is None:
                continue
            if cancelled():
                raise Cancelled()
            prepared = cache.prepare(layer, project_crs)
            if prepared is None:
                continue
            sel = positions(prepared, rows)
            b = prepared.bounds[sel]
            sel = sel[(b[:, 0] <= view[2]) & (b[:, 2] >= view[0]) & (b[:, 1] <= view[3]) & (b[:, 3] >= view[1])]
            kinds = prepared.kinds[sel]
            shapes = sel[kinds != POINT]
            if len(shapes):
                shapes = shapes[np.argsort(prepared.rank[shapes], kind="stable")]  # neighbours together: small paths
                outlines = []
                for a, b in feature_chunks(prepared, shapes):  # short steps: the GUI thread keeps running
                    xy, starts, owner = _screen_vertices(prepared, shapes[a:b], view, w, h)
                    polygon = (prepared.kinds[shapes[a:b]] == POLYGON)[owner]
                    if polygon.any():  # paths of whole features (a hole stays with its polygon)
                        own = owner[polygon]
                        cuts = batches(own, np.zeros(len(own), dtype=np.intp), FILL_BATCH)
                        for _, path in each_path(xy[polygon], starts[polygon], cuts, cancelled):
                            painter.fillPath(path, fill)
                    outlines.append((xy, starts))
                width = max(float(layer.style.stroke_width) + 2, 2.5)
                xy, starts = np.concatenate([o[0] for o in outlines]), np.concatenate([o[1] for o in outlines])
                _stroke(painter, _pen(SELECTION, width), xy, starts, len(shapes), cancelled)
                centres = to_screen(np.column_stack([(prepared.bounds[shapes, 0] + prepared.bounds[shapes, 2]) / 2,
                                                     (prepared.bounds[shapes, 1] + prepared.bounds[shapes, 3]) / 2]),
                                    view, w, h)
                _draw_dots(painter, [SELECTION], np.zeros(len(shapes), dtype=np.intp), centres, 3, None, 0, cancelled)
            points = sel[kinds == POINT]
            if len(points):
                xy = to_screen(shapely.get_coordinates(prepared.geoms[points]), view, w, h)
                size = max(float(layer.style.size), 4.0) + 4
                _draw_dots(painter, [SELECTION], np.zeros(len(xy), dtype=np.intp), xy, size, "#000000", 1.0, cancelled)
    finally:
        painter.end()
    return image


def selection_key(selection: Mapping[Layer, np.ndarray]) -> tuple:
    """What a selection image depends on (besides the view and the layers' keys)."""
    return tuple(sorted((id(layer), len(rows), hash(np.asarray(rows).tobytes())) for layer, rows in selection.items()))


