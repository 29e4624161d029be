"""Styled layers drawn into a matplotlib axes, vectorised: one compound path per colour (in
chunks) instead of one patch per feature, so a PDF of 100,000 buildings stays small and fast.

Colours come from :func:`layers.style.symbolize` (through :mod:`reports.symbology`, which remembers
graduated classes), the same as the window's canvas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from pyproj import CRS

from layers.layer import Layer, geometry_kind
from reports.symbology import symbology

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


def draw_layers(ax, shown: list[tuple[Layer, object]], *, scale: float = 1.0, extent=None,
                pixel: float = 0.0) -> list[tuple[Layer, str, list]]:
    """Draw ``shown`` (top first) into ``ax``, bottom layer first; returns each layer (top first)
    with its geometry kind and legend entries [(label, colour)]. ``scale`` multiplies line widths
    and marker sizes; ``extent`` and ``pixel`` (map units per output dot), see :func:`draw_symbolized`."""
    drawn = symbolized(shown)
    draw_symbolized(ax, drawn, scale=scale, extent=extent, pixel=pixel)
    return [(layer, kind, sym.legend) for layer, _, kind, sym in drawn]


def symbolized(shown: list[tuple[Layer, object]]) -> list[tuple[Layer, object, str, object]]:
    """(layer, gdf, geometry kind, Symbology) of each of ``shown`` (top first): the legend can be
    laid out before anything is drawn."""
    return [(layer, gdf, geometry_kind(gdf), symbology(layer.style, gdf)) for layer, gdf in shown]


def draw_symbolized(ax, drawn, *, scale: float = 1.0, extent=None, pixel: float = 0.0) -> None:
    """Draw :func:`symbolized` layers (top first) into ``ax``, bottom layer first. Features wholly
    outside ``extent`` (xmin, ymin, xmax, ymax; None = all) are left out; with ``pixel`` > 0 (map
    units per output dot), polygons and lines smaller than a dot are drawn as one dot at their
    centre and detailed ones are simplified to half a dot, as the window's canvas does: the
    page looks the same and the file holds no invisible detail."""
    for z, (layer, gdf, kind, sym) in enumerate(reversed(drawn)):
        style = layer.style
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        colors = np.asarray(sym.colors, dtype=object)
        if extent is not None:
            keep = _inside(geoms, extent)
            geoms, colors = geoms[keep], colors[keep]
        zorder = 1 + z
        if kind == "point" or not len(geoms):
            _points(ax, geoms, colors, style, zorder, scale)
            continue
        if pixel > 0:
            geoms, colors = _dots(ax, geoms, colors, style, zorder, pixel, kind == "polygon")
            geoms = _simplified(geoms, pixel)
        if kind == "polygon":
            _polygons(ax, geoms, colors, style, zorder, scale)
        else:
            _lines(ax, geoms, colors, style, zorder, scale)


def _inside(geoms: np.ndarray, extent) -> np.ndarray:
    """Which of ``geoms`` touch ``extent`` (by their boxes)."""
    b = shapely.bounds(geoms)
    xmin, ymin, xmax, ymax = extent
    return (b[:, 2] >= xmin) & (b[:, 0] <= xmax) & (b[:, 3] >= ymin) & (b[:, 1] <= ymax)


def _dots(ax, geoms, colors, style, zorder, pixel: float, polygon: bool):
    """Draw the features smaller than ``pixel`` as one square dot each (in their colour, at the
    centre of their box); returns the others."""
    b = shapely.bounds(geoms)
    tiny = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) < pixel
    if not tiny.any():
        return geoms, colors
    centres = np.column_stack([(b[tiny, 0] + b[tiny, 2]) / 2, (b[tiny, 1] + b[tiny, 3]) / 2])
    alpha = style.opacity * (style.fill_opacity if polygon else 1.0)
    for colour, rows in _groups(colors[tiny]):
        _add(ax, PathPatch(square_path(centres[rows], pixel), facecolor=to_rgba(colour, alpha), edgecolor="none",
                           linewidth=0, zorder=zorder))
    return geoms[~tiny], colors[~tiny]


def square_path(xy: np.ndarray, side: float) -> MplPath:
    """One compound path of a square of ``side`` around each point of ``xy``."""
    h = side / 2
    corners = np.array([(-h, -h), (h, -h), (h, h), (-h, h), (-h, -h)])
    verts = (xy[:, None, :] + corners[None, :, :]).reshape(-1, 2)
    codes = np.tile(np.array([MplPath.MOVETO] + [MplPath.LINETO] * 3 + [MplPath.CLOSEPOLY], dtype=np.uint8), len(xy))
    return MplPath(verts, codes)


def _simplified(geoms: np.ndarray, pixel: float) -> np.ndarray:
    """Detailed features (more than 32 vertices) simplified to half a dot; simple ones as they are."""
    many = shapely.get_num_coordinates(geoms) > 32
    if many.any():
        geoms = geoms.copy()
        geoms[many] = shapely.simplify(geoms[many], pixel / 2, preserve_topology=True)
    return geoms


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
    holes clockwise, so holes stay empty and overlapping polygons stay filled under the nonzero
    rule); rings are turned with numpy, not one GEOS call per polygon."""
    types = shapely.get_type_id(geoms)
    geoms = geoms[np.isin(types, (3, 6))]
    if not len(geoms):
        return None
    if (types == 6).any():
        geoms = shapely.get_parts(geoms)
    if shapely.get_num_interior_rings(geoms).any():
        rings, owner = shapely.get_rings(geoms, return_index=True)
        coords, idx = shapely.get_coordinates(rings, return_index=True)
    else:  # no holes (most buildings): a polygon's vertices are its one ring's
        coords, idx = shapely.get_coordinates(geoms, return_index=True)
        owner = np.arange(len(geoms))
    if not len(coords):
        return None
    starts = np.flatnonzero(np.diff(idx, prepend=-1))
    ends = np.append(starts[1:] - 1, len(coords) - 1)
    ring = idx[starts]  # the ring of each run of vertices (empty rings have none)
    exterior = np.diff(owner, prepend=-1) != 0  # each polygon's first ring
    x, y = coords[:, 0] - coords[starts[0], 0], coords[:, 1] - coords[starts[0], 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y  # shoelace terms; each ring is closed, so the
    cross[ends] = 0.0  # term from a ring's last (= first) vertex to the next ring's first is dropped
    ccw = np.add.reduceat(cross, starts) > 0
    flip = ccw != exterior[ring]
    if flip.any():
        i = np.arange(len(coords))
        reverse = flip[np.repeat(np.arange(len(starts)), ends - starts + 1)]
        first, last = np.repeat(starts, ends - starts + 1), np.repeat(ends, ends - starts + 1)
        coords = coords[np.where(reverse, first + last - i, i)]
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    codes[starts] = MplPath.MOVETO
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


def _add(ax, patch: PathPatch) -> None:
    """Add without ``ax.add_patch``: that walks every Bezier segment of the path to update the
    data limits (seconds for 100,000 polygons), and the page sets its extent itself."""
    ax.add_artist(patch)


def _polygons(ax, geoms, colors, style, zorder, scale) -> None:
    alpha = style.opacity
    edge = to_rgba(style.stroke, alpha) if style.stroke_width > 0 else "none"
    width = style.stroke_width * PX_TO_PT * 0.6 * scale
    for colour, rows in _groups(colors):
        path = polygon_path(geoms[rows])
        if path is None:
            continue
        _add(ax, PathPatch(path, facecolor=to_rgba(colour, alpha * style.fill_opacity), edgecolor=edge,
                           linewidth=width, zorder=zorder, joinstyle="round"))


def _lines(ax, geoms, colors, style, zorder, scale) -> None:
    width = max(style.stroke_width, 0.5) * PX_TO_PT * scale
    for colour, rows in _groups(colors):
        path = line_path(geoms[rows])
        if path is None:
            continue
        _add(ax, PathPatch(path, facecolor="none", edgecolor=to_rgba(colour, style.opacity), linewidth=width,
                           zorder=zorder, capstyle="round", joinstyle="round"))


def _points(ax, geoms, colors, style, zorder, scale) -> None:
    """One marker line per colour (a PDF draws one marker object many times; a scatter of
    per-point colours writes every marker with its own graphics state)."""
    if not len(geoms):
        return
    pts = shapely.point_on_surface(geoms)  # multipoints: one marker each, where the canvas puts it
    ok = ~shapely.is_empty(pts)
    xy = shapely.get_coordinates(pts[ok])
    colors = colors[ok]
    edge = to_rgba(style.stroke, style.opacity)
    for colour, rows in _groups(colors):
        ax.add_artist(Line2D(xy[rows, 0], xy[rows, 1], linestyle="none", marker="o",
                             markersize=max(style.size, 2.0) * PX_TO_PT * scale,
                             markerfacecolor=to_rgba(colour, style.opacity), markeredgecolor=edge,
                             markeredgewidth=0.4 * scale, zorder=zorder + 50))
