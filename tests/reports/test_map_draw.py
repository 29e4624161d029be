"""The meeting map's vector drawing: compound paths with rings turned for the nonzero fill rule,
features off the page left out, features smaller than a printed dot drawn as dots, graduated
classes remembered by their values (not by the frame)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch

from layers.layer import Layer
from layers.style import Style, symbolize
from reports import symbology as cache
from reports.map_draw import draw_layers, polygon_path
from tests.reports.small_city import CRS, X0, Y0


def _signed_areas(path) -> list[float]:
    out = []
    for ring in path.to_polygons(closed_only=False):
        x, y = ring[:, 0], ring[:, 1]
        out.append(0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)))
    return out


def test_rings_are_turned_like_geos_orient_polygons():
    clockwise = shapely.Polygon([(0, 0), (0, 10), (10, 10), (10, 0)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
    two_holes = shapely.Polygon([(20, 0), (30, 0), (30, 10), (20, 10)],
                                [[(22, 2), (22, 4), (24, 4), (24, 2)], [(25, 5), (27, 5), (27, 7), (25, 7)]])
    multi = shapely.MultiPolygon([shapely.box(40, 0, 45, 5), shapely.Polygon([(50, 0), (50, 5), (55, 5)])])
    geoms = np.array([clockwise, two_holes, multi, shapely.Polygon(), shapely.Point(1, 1)], dtype=object)
    path = polygon_path(geoms)
    expected = shapely.get_coordinates(shapely.get_rings(shapely.orient_polygons(shapely.get_parts(geoms[:3]))))
    np.testing.assert_allclose(path.vertices, expected)
    areas = _signed_areas(path)
    assert [a > 0 for a in areas] == [True, False, True, False, False, True, True]  # exteriors CCW, holes CW
    # without holes the fast path gives the same rings
    solid = polygon_path(np.array([shapely.Polygon(clockwise.exterior.coords),
                                   shapely.Polygon(two_holes.exterior.coords)], dtype=object))
    assert all(a > 0 for a in _signed_areas(solid))


def _axes(extent):
    fig = Figure(figsize=(4, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    return ax


def test_off_page_left_out_and_tiny_features_drawn_as_dots():
    big = [shapely.box(X0 + 100 * i, Y0, X0 + 100 * i + 50, Y0 + 50) for i in range(3)]
    tiny = [shapely.box(X0 + 10, Y0 + 200, X0 + 10.3, Y0 + 200.3)]  # 0.3 m: less than the 1 m dot
    far = [shapely.box(X0 + 90_000, Y0, X0 + 90_050, Y0 + 50)]  # off the page
    gdf = gpd.GeoDataFrame({"v": [1.0, 2.0, 3.0, 4.0, 5.0]}, geometry=big + tiny + far, crs=CRS)
    layer = Layer("Houses", gdf, style=Style(fill="#ff0000", stroke_width=0))
    extent = (X0 - 10, Y0 - 10, X0 + 400, Y0 + 400)
    ax = _axes(extent)
    draw_layers(ax, [(layer, gdf)], extent=extent, pixel=1.0)
    patches = [p for p in ax.patches if isinstance(p, PathPatch)]
    vertices = np.concatenate([p.get_path().vertices for p in patches])
    assert vertices[:, 0].max() < X0 + 1000  # the far building is not in the file
    dots = [p for p in patches if len(p.get_path().vertices) == 5 and np.ptp(p.get_path().vertices[:, 0]) == 1.0]
    assert len(dots) == 1 and np.allclose(dots[0].get_path().vertices.mean(axis=0)[:2], (X0 + 10.15, Y0 + 200.15),
                                          atol=0.3)  # one printed dot where the tiny building is
    # without a dot size (e.g. SVG at any zoom) every feature keeps its shape
    ax = _axes(extent)
    draw_layers(ax, [(layer, gdf)])
    assert sum(len(p.get_path().vertices) for p in ax.patches) == 5 * 5


def test_detailed_lines_are_simplified_to_half_a_dot():
    x = np.linspace(0, 1000, 5001)
    wiggly = shapely.LineString(np.column_stack([X0 + x, Y0 + 0.01 * np.sin(x)]))  # 1 cm wiggles
    gdf = gpd.GeoDataFrame(geometry=[wiggly], crs=CRS)
    layer = Layer("Street", gdf, style=Style(stroke="#333333"))
    ax = _axes((X0, Y0 - 500, X0 + 1000, Y0 + 500))
    draw_layers(ax, [(layer, gdf)], pixel=2.0)
    assert len(ax.patches[0].get_path().vertices) < 10  # straight at 2 m a dot


def test_graduated_classes_are_remembered_by_value():
    cache._cache.clear()
    gdf = gpd.GeoDataFrame({"r": np.arange(60, dtype=float) ** 1.5}, geometry=[shapely.Point(i, 0) for i in range(60)],
                           crs=CRS)
    style = Style(kind="graduated", field="r", scheme="quantiles", classes=5)
    first = cache.symbology(style, gdf)
    expected = symbolize(style, gdf)
    assert list(first.colors) == list(expected.colors) and first.legend == expected.legend
    assert len(cache._cache) == 1
    cache.symbology(style, gdf.copy())  # the same values in another frame: no new classes computed
    assert len(cache._cache) == 1
    changed = gdf.assign(r=pd.Series(np.arange(60, dtype=float)))  # edited values: classified afresh
    assert cache.symbology(style, changed).legend == symbolize(style, changed).legend
    assert len(cache._cache) == 2
    first.colors[0] = "#000000"  # callers get their own colours
    assert cache.symbology(style, gdf).colors[0] != "#000000"
