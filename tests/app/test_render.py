"""The renderer without widgets: the vectorised transform, colours at known places, layer order,
hidden / missing layers, reprojection, the cache and cancelling."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS
from shapely.geometry import Point, Polygon, box

from app.render import (
    BACKGROUND,
    CACHE,
    RenderCache,
    fit_extent,
    path_from_arrays,
    polygon_from_xy,
    render_layers,
    to_screen,
)
from layers.feedback import Cancelled
from layers.layer import Layer
from layers.style import Style
from tests.app.qt_city import BIN, BIN_BLUE, PARK, PARK_GREEN, STREET_RED, STREET_Y, ZONE_YELLOW, city_layers

PROJECT_CRS = CRS.from_epsg(3067)
EXTENT = (384700.0, 6671700.0, 385700.0, 6672700.0)  # 1000 m square
SIZE = 500  # px: 2 m per pixel


@pytest.fixture(autouse=True)
def _app(qapp):  # QImage text drawing wants a QGuiApplication
    return qapp


def colour_at(image, x: float, y: float, extent=EXTENT, size=SIZE) -> str:
    from PySide6.QtGui import QColor

    px, py = to_screen(np.array([[x, y]]), extent, size, size)[0]
    return QColor(image.pixel(int(px), int(py))).name()


def test_transform_maps_known_coordinates_to_pixels():
    xy = np.array([[0.0, 0.0], [100.0, 50.0], [50.0, 25.0], [25.0, 50.0]])
    out = to_screen(xy, (0.0, 0.0, 100.0, 50.0), 200, 100)
    np.testing.assert_allclose(out, [[0, 100], [200, 0], [100, 50], [50, 0]])
    # an extent of another aspect is widened about its centre, never stretched
    assert fit_extent((0, 0, 100, 100), 200, 100) == (-50.0, 0.0, 150.0, 100.0)
    np.testing.assert_allclose(to_screen(np.array([[0.0, 0.0]]), (0, 0, 100, 100), 200, 100), [[50, 100]])


def test_packed_arrays_become_qt_paths_and_polygons():
    xy = np.array([[0, 0], [10, 0], [10, 10], [0, 0], [20, 20], [30, 20], [30, 30], [20, 20]], dtype=float)
    starts = np.array([1, 0, 0, 0, 1, 0, 0, 0], dtype=bool)
    path = path_from_arrays(xy, starts)
    assert path.elementCount() == 8
    assert [path.elementAt(i).isMoveTo() for i in range(8)] == starts.tolist()
    assert (path.elementAt(5).x, path.elementAt(5).y) == (30.0, 20.0)
    polygon = polygon_from_xy(xy[:3])
    points = [(polygon.at(i).x(), polygon.at(i).y()) for i in range(polygon.size())]
    assert points == [(0, 0), (10, 0), (10, 10)]


def test_colours_are_drawn_where_the_features_are():
    image = render_layers(city_layers(), PROJECT_CRS, EXTENT, SIZE, SIZE)
    assert (image.width(), image.height()) == (SIZE, SIZE)
    assert colour_at(image, 385100, 6672100) == PARK_GREEN
    assert colour_at(image, 385500, 6672500) == ZONE_YELLOW
    assert colour_at(image, 385300, 6672300) == PARK_GREEN  # park is above zone: layers[0] on top
    assert colour_at(image, 385000, STREET_Y) == STREET_RED
    assert colour_at(image, *BIN) == BIN_BLUE
    assert colour_at(image, 384750, 6672650) == BACKGROUND


def test_hidden_and_missing_layers_are_not_drawn():
    layers = city_layers()
    layers[2].visible = False  # park
    layers.append(Layer("trees", None, error="the file does not exist"))
    image = render_layers(layers, PROJECT_CRS, EXTENT, SIZE, SIZE)
    assert colour_at(image, 385100, 6672100) == BACKGROUND
    assert colour_at(image, 385300, 6672300) == ZONE_YELLOW


def test_layer_in_another_crs_is_reprojected_once_and_cached():
    wgs84 = gpd.GeoDataFrame(geometry=[box(*PARK)], crs=3067).to_crs(4326)
    layer = Layer("park", wgs84, style=Style(fill="#00c800", fill_opacity=1, stroke_width=0))
    cache = RenderCache()
    image = render_layers([layer], PROJECT_CRS, EXTENT, SIZE, SIZE, cache=cache)
    assert colour_at(image, 385200, 6672200) == "#00c800"
    first = cache.prepare(layer, PROJECT_CRS)
    assert cache.prepare(layer, PROJECT_CRS) is first  # no second reprojection
    layer.style = replace(layer.style, fill="#123456")
    restyled = cache.prepare(layer, PROJECT_CRS)
    assert restyled is not first and restyled.tree is first.tree and restyled.palette == ["#123456"]


def test_categorized_colours_and_legend_come_from_symbolize():
    gdf = gpd.GeoDataFrame({"use": ["a", "b"]}, geometry=[box(385000, 6672000, 385200, 6672200),
                                                          box(385300, 6672000, 385500, 6672200)], crs=3067)
    style = Style(kind="categorized", field="use", categories={"a": "#aa0000", "b": "#0000aa"},
                  fill_opacity=1, stroke_width=0)
    layer = Layer("uses", gdf, style=style)
    image = render_layers([layer], PROJECT_CRS, EXTENT, SIZE, SIZE)
    assert colour_at(image, 385100, 6672100) == "#aa0000"
    assert colour_at(image, 385400, 6672100) == "#0000aa"
    assert CACHE.legend(layer, PROJECT_CRS) == [("a", "#aa0000"), ("b", "#0000aa")]


def test_polygon_holes_stay_empty_and_subpixel_features_are_dots():
    ring = [(385000, 6672000), (385600, 6672000), (385600, 6672600), (385000, 6672600)]
    hole = [(385200, 6672200), (385400, 6672200), (385400, 6672400), (385200, 6672400)]
    tiny = box(384800, 6671800, 384800.5, 6671800.5)  # 0.5 m: a quarter pixel
    gdf = gpd.GeoDataFrame(geometry=[Polygon(ring, [hole]), tiny], crs=3067)
    layer = Layer("holes", gdf, style=Style(fill="#ff00ff", fill_opacity=1, stroke_width=0))
    image = render_layers([layer], PROJECT_CRS, EXTENT, SIZE, SIZE)
    assert colour_at(image, 385100, 6672100) == "#ff00ff"
    assert colour_at(image, 385300, 6672300) == BACKGROUND
    assert colour_at(image, 384800.25, 6671800.25) != BACKGROUND


def test_features_outside_the_extent_are_culled_and_far_zoom_is_clipped():
    layers = city_layers()
    far = (385250.0, 6672250.0, 385251.0, 6672251.0)  # 1 m inside the park/zone overlap: huge zoom
    image = render_layers(layers, PROJECT_CRS, far, 200, 200)
    assert colour_at(image, 385250.5, 6672250.5, far, 200) == PARK_GREEN


def test_labels_are_drawn_and_do_not_overlap():
    def dark_columns(names: list[str]) -> list[int]:
        """x of every pixel column right of the first point that holds dark (text) pixels."""
        points = gpd.GeoDataFrame({"name": names}, crs=3067,
                                  geometry=[Point(385100 + 20 * i, 6672100) for i in range(len(names))])
        layer = Layer("stops", points, style=Style(fill="#0000ff", size=4, label_field="name"))
        image = render_layers([layer], PROJECT_CRS, EXTENT, SIZE, SIZE, background="#ffffff")
        x0, y0 = (int(v) for v in to_screen(np.array([[385100, 6672100]]), EXTENT, SIZE, SIZE)[0])
        return [x for x in range(x0 + 5, x0 + 120)
                if any(image.pixelColor(x, y).lightness() < 100 for y in range(y0 - 9, y0 + 9))]

    one = dark_columns(["Kamppi"])
    assert len(one) > 20, "the label text was not drawn"
    # the second label (10 px to the right) would overlap the first one: it is skipped
    assert max(dark_columns(["Kamppi", "Kamppi"])) == max(one)


def test_cancelled_render_raises():
    with pytest.raises(Cancelled):
        render_layers(city_layers(), PROJECT_CRS, EXTENT, SIZE, SIZE, cancelled=lambda: True)


def test_device_pixel_ratio_gives_a_sharper_image():
    image = render_layers(city_layers(), PROJECT_CRS, EXTENT, 100, 80, device_pixel_ratio=2.0)
    assert (image.width(), image.height(), image.devicePixelRatio()) == (200, 160, 2.0)


def test_flat_store_gathers_rings_of_any_geometry_in_any_order():
    import shapely
    from shapely.geometry import LineString, MultiLineString, MultiPolygon

    from app.render_cache import FlatStore

    ring = [(0, 0), (10, 0), (10, 10), (0, 10)]
    geoms = np.array([
        box(0, 0, 1, 1),
        Polygon(ring, [[(2, 2), (4, 2), (4, 4)], [(6, 6), (8, 6), (8, 8)]]),
        MultiPolygon([box(20, 20, 21, 21), Polygon(ring, [[(2, 2), (4, 2), (4, 4)]])]),
        LineString([(0, 0), (5, 5), (9, 1)]),
        MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3), (4, 4)]]),
    ], dtype=object)
    store = FlatStore(len(geoms))
    store.add(np.arange(len(geoms)), geoms)
    order = np.array([4, 1, 0, 3, 2])
    xy, starts, owner = store.gather(order)
    expected, pieces = [], []
    for i in order:
        parts = shapely.get_parts(geoms[i])
        for part in parts:
            rings = shapely.get_rings(part) if part.geom_type == "Polygon" else [part]
            pieces.extend(shapely.get_coordinates(r) for r in rings)
    expected = np.concatenate(pieces)
    np.testing.assert_array_equal(xy, expected)
    assert starts.sum() == len(pieces)
    np.testing.assert_array_equal(np.flatnonzero(starts), np.cumsum([0] + [len(p) for p in pieces[:-1]]))
    assert owner.tolist() == sorted(owner.tolist()) and set(owner.tolist()) == set(range(5))


def test_detailed_geometries_are_simplified_to_the_pixel_at_small_scales():
    import shapely

    angles = np.linspace(0, 2 * np.pi, 2001)[:-1]
    circle = Polygon(np.column_stack([385200 + 200 * np.cos(angles), 6672200 + 200 * np.sin(angles)]))
    gdf = gpd.GeoDataFrame(geometry=[circle, box(385000, 6671800, 385010, 6671810)], crs=3067)
    layer = Layer("circle", gdf, style=Style(fill="#ff00ff", fill_opacity=1, stroke_width=0))
    prepared = RenderCache().prepare(layer, PROJECT_CRS)
    fine_xy, _, _ = prepared.vertices(np.array([0, 1]), 1e-5)  # zoomed far in: every vertex
    coarse_xy, _, owner = prepared.vertices(np.array([0, 1]), 8.0)  # 8 m a pixel: about 4 m
    assert len(fine_xy) == 2000 + 1 + 5
    assert len(coarse_xy) < 200 and (owner == 1).sum() == 5  # the box is not simplified
    simplified = Polygon(coarse_xy[owner == 0])
    assert shapely.hausdorff_distance(simplified, circle) <= 4.0 + 1e-6
    image = render_layers([layer], PROJECT_CRS, (384000, 6671000, 386400, 6673400), 300, 300)  # 8 m / px
    assert colour_at(image, 385200, 6672200, (384000, 6671000, 386400, 6673400), 300) == "#ff00ff"


def test_render_layers_draws_the_selection_in_yellow_on_top():
    from app.render_selection import SELECTION

    layers = city_layers()
    park = layers[2]
    image = render_layers(layers, PROJECT_CRS, EXTENT, SIZE, SIZE, selection={park: np.array([0])})
    from PySide6.QtGui import QColor

    px, py = to_screen(np.array([[385100, 6672100]]), EXTENT, SIZE, SIZE)[0]
    got = QColor(image.pixel(int(px), int(py)))
    yellow, green = QColor(SELECTION), QColor(PARK_GREEN)
    for channel in ("red", "green", "blue"):  # the fill is a mix of the park's green and yellow
        lo, hi = sorted((getattr(yellow, channel)(), getattr(green, channel)()))
        assert lo - 2 <= getattr(got, channel)() <= hi + 2
    assert colour_at(image, 385400, 6672300) == SELECTION  # the outline, on the park's east edge
    assert colour_at(image, 385500, 6672500) == ZONE_YELLOW  # an unselected layer as it was


def test_street_labels_follow_the_line_direction():
    from shapely.geometry import LineString

    street = gpd.GeoDataFrame({"name": ["Mannerheimintie"]}, crs=3067,
                              geometry=[LineString([(384800, 6671800), (385600, 6672600)])])  # 45° up
    layer = Layer("streets", street, style=Style(fill="#dddddd", stroke="#dddddd", stroke_width=1,
                                                 label_field="name"))
    image = render_layers([layer], PROJECT_CRS, EXTENT, SIZE, SIZE, background="#ffffff")
    dark = np.array([(x, y) for x in range(SIZE) for y in range(SIZE) if image.pixelColor(x, y).lightness() < 90])
    assert len(dark) > 50, "the label was not drawn"
    centred = dark - dark.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    dx, dy = vectors[:, -1]  # the long axis of the text
    angle = np.degrees(np.arctan2(-dy, dx)) % 180  # screen y grows downwards
    assert angle == pytest.approx(45, abs=8)
    assert np.hypot(*(dark.mean(axis=0) - to_screen(np.array([[385200, 6672200]]), EXTENT, SIZE, SIZE)[0])) < 12


def test_noded_street_is_labelled_once_not_on_every_segment():
    from shapely.geometry import LineString

    xs = np.linspace(384750, 385650, 10)
    segments = [LineString([(a, 6672200), (b, 6672200)]) for a, b in zip(xs[:-1], xs[1:], strict=True)]
    street = gpd.GeoDataFrame({"name": ["Bulevardi"] * 9}, geometry=segments, crs=3067)
    layer = Layer("streets", street, style=Style(stroke="#dddddd", stroke_width=1, label_field="name"))
    image = render_layers([layer], PROJECT_CRS, EXTENT, SIZE, SIZE, background="#ffffff")
    columns = [x for x in range(SIZE) if any(image.pixelColor(x, y).lightness() < 90 for y in range(235, 265))]
    assert columns and max(columns) - min(columns) < 120  # one label of ~70 px, in the middle
    assert abs((max(columns) + min(columns)) / 2 - SIZE / 2) < 15


def test_chunked_tree_answers_like_one_strtree():
    import shapely

    from app.render_cache import ChunkedTree

    geoms = np.array([box(i * 10, 0, i * 10 + 5, 5) for i in range(7)] + [Point(33, 2)], dtype=object)
    whole, chunked = shapely.STRtree(geoms), ChunkedTree(geoms, chunk=3)
    assert len(chunked.trees) == 3
    probe = box(12, 1, 36, 3)
    assert sorted(chunked.query(probe)) == sorted(whole.query(probe))
    assert sorted(chunked.query(probe, predicate="intersects")) == sorted(whole.query(probe, predicate="intersects"))
    point = Point(34, 2.5)
    assert sorted(chunked.query(point, predicate="dwithin", distance=2)) == sorted(
        whole.query(point, predicate="dwithin", distance=2))
    for probe in (point, Point(37, 2), Point(71, 2), Point(-5, -5)):
        for kwargs in ({}, {"max_distance": 3}, {"all_matches": False}):
            assert sorted(chunked.query_nearest(probe, **kwargs).tolist()) == sorted(
                whole.query_nearest(probe, **kwargs).tolist())
    idx, dist = chunked.query_nearest(Point(7.5, 20), return_distance=True)  # two boxes at the same distance
    assert sorted(idx.tolist()) == [0, 1] and dist == pytest.approx([np.hypot(2.5, 15)] * 2)


def test_colours_with_alpha_last_as_in_style_files():
    from app.render import qcolor

    colour = qcolor("#ff000080")  # red, half transparent (CSS order; Qt alone reads #aarrggbb)
    assert (colour.red(), colour.green(), colour.blue(), colour.alpha()) == (255, 0, 0, 128)
    layer = Layer("zone", gpd.GeoDataFrame(geometry=[box(*PARK)], crs=3067),
                  style=Style(fill="#ff000080", fill_opacity=1, stroke_width=0))
    image = render_layers([layer], PROJECT_CRS, EXTENT, SIZE, SIZE, background="#ffffff")
    assert colour_at(image, 385100, 6672100) in ("#ff7f7f", "#ff8080")


def test_gc_paused_freezes_what_a_big_load_left_alive(monkeypatch):
    """After a worker made many objects (a loaded layer), they leave the collected generations,
    so later full collections do not walk them with the GIL held; small jobs freeze nothing."""
    import gc

    import shapely

    from app import workers

    monkeypatch.setattr(workers, "FREEZE_AFTER_OBJECTS", 5_000)
    gc.collect()
    before = gc.get_freeze_count()
    try:
        with workers.gc_paused():
            small = [shapely.Point(i, i) for i in range(100)]
        assert gc.get_freeze_count() == before
        with workers.gc_paused():
            kept = shapely.points(np.arange(20_000.0), np.arange(20_000.0))
        assert gc.get_freeze_count() >= before + 20_000
        assert gc.isenabled()
    finally:
        gc.unfreeze()
    assert len(small) == 100 and len(kept) == 20_000
