"""Styled layers drawn into a matplotlib axes, vectorised: one compound path per colour (in
chunks) instead of one patch per feature, so a PDF of 100,000 buildings stays small and fast.

Colours come from :func:`layers.style.symbolize`, the same as the window's canvas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from matplotlib.colors import to_rgba
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from pyproj import CRS

from layers.layer import Layer, geometry_kind
from layers.style import symbolize

PX_TO_PT = 72 / 96  # style sizes are screen pixels at 96 dpi; paper is in points
CHUNK = 20_000  # features per compound path


def prepared(layers: Sequence[Layer], crs: CRS) -> list[tuple[Layer, object]]:
    """The visible, readable, non-empty ``layers`` (top first) with their data in ``crs``."""
    out = []
    for layer in layers:
        if not layer.visible or layer.gdf is None or not len(layer.gdf):
            continue
        gdf = layer.gdf
        if gdf.crs is not None and not CRS(gdf.crs).equals(crs):
            gdf = gdf.to_crs(crs)
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
        if len(gdf):
            out.append((layer, gdf))
    return out


def bounds_of(frames) -> tuple[float, float, float, float] | None:
    boxes = np.array([gdf.total_bounds for gdf in frames]) if frames else None
    if boxes is None or not np.isfinite(boxes).all():
        return None
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())


def draw_layers(ax, shown: list[tuple[Layer, object]], *, scale: float = 1.0) -> list[tuple[Layer, str, list]]:
    """Draw ``shown`` (top first) into ``ax``, bottom layer first; returns each layer (top first)
    with its geometry kind and legend entries [(label, colour)]. ``scale`` multiplies line widths and marker sizes."""
    out = []
    for z, (layer, gdf) in enumerate(reversed(shown)):
        style = layer.style
        sym = symbolize(style, gdf)
        kind = geometry_kind(gdf)
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        colors = np.asarray(sym.colors, dtype=object)
        zorder = 1 + z
        if kind == "polygon":
            _polygons(ax, geoms, colors, style, zorder, scale)
        elif kind == "line":
            _lines(ax, geoms, colors, style, zorder, scale)
        else:
            _points(ax, geoms, colors, style, zorder, scale)
        out.append((layer, kind, sym.legend))
    return list(reversed(out))


def _groups(colors: np.ndarray):
    """(colour, row indices) per distinct colour, in chunks of at most CHUNK rows."""
    keys, inverse = np.unique(colors.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    splits = np.flatnonzero(np.diff(inverse[order])) + 1
    for key, rows in zip(keys, np.split(order, splits), strict=True):
        for start in range(0, len(rows), CHUNK):
            yield key, rows[start:start + CHUNK]


def polygon_path(geoms: np.ndarray) -> MplPath | None:
    """One compound path of every ring of the polygons in ``geoms`` (exteriors counter-clockwise,
    holes clockwise, so holes stay empty)."""
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
    if not len(geoms):
        return None
    rings = shapely.get_rings(shapely.orient_polygons(shapely.get_parts(geoms)))
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return None
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    starts = np.flatnonzero(np.diff(idx, prepend=-1))
    codes[starts] = MplPath.MOVETO
    ends = np.append(starts[1:] - 1, len(coords) - 1)
    codes[ends] = MplPath.CLOSEPOLY
    return MplPath(coords, codes)


def line_path(geoms: np.ndarray) -> MplPath | None:
    """One compound path of every line (polygon outlines included as their rings)."""
    types = shapely.get_type_id(geoms)
    polys = np.isin(types, (3, 6))
    if polys.any():
        geoms = np.concatenate([geoms[~polys], shapely.get_rings(shapely.get_parts(geoms[polys]))])
    parts = shapely.get_parts(geoms)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        return None
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    codes[np.flatnonzero(np.diff(idx, prepend=-1))] = MplPath.MOVETO
    return MplPath(coords, codes)


def _polygons(ax, geoms, colors, style, zorder, scale) -> None:
    alpha = style.opacity
    edge = to_rgba(style.stroke, alpha) if style.stroke_width > 0 else "none"
    width = style.stroke_width * PX_TO_PT * 0.6 * scale
    for colour, rows in _groups(colors):
        path = polygon_path(geoms[rows])
        if path is None:
            continue
        ax.add_patch(PathPatch(path, facecolor=to_rgba(colour, alpha * style.fill_opacity), edgecolor=edge,
                               linewidth=width, zorder=zorder, joinstyle="round"))


def _lines(ax, geoms, colors, style, zorder, scale) -> None:
    width = max(style.stroke_width, 0.5) * PX_TO_PT * scale
    for colour, rows in _groups(colors):
        path = line_path(geoms[rows])
        if path is None:
            continue
        ax.add_patch(PathPatch(path, facecolor="none", edgecolor=to_rgba(colour, style.opacity), linewidth=width,
                               zorder=zorder, capstyle="round", joinstyle="round"))


def _points(ax, geoms, colors, style, zorder, scale) -> None:
    pts = shapely.point_on_surface(geoms)  # multipoints: one marker each, where the canvas puts it
    ok = ~shapely.is_empty(pts)
    xy = shapely.get_coordinates(pts[ok])
    size = (max(style.size, 2.0) * PX_TO_PT * scale) ** 2
    ax.scatter(xy[:, 0], xy[:, 1], s=size, c=[to_rgba(c, style.opacity) for c in colors[ok]],
               edgecolors=to_rgba(style.stroke, style.opacity), linewidths=0.4 * scale, zorder=zorder + 50)
