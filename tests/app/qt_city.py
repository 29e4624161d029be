"""Helpers for the desktop app tests: a tiny hand-made city project in EPSG:3067 whose colours
can be looked for at known places, and waits for the window and the canvas."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyproj
from shapely.geometry import LineString, Point, box

from layers.layer import Layer, Source
from layers.project import Project
from layers.style import Style
from layers.writers import write_layers

CRS = "EPSG:3067"
# Where things are (metres, EPSG:3067) and how they look.
PARK = (385000.0, 6672000.0, 385400.0, 6672400.0)
ZONE = (385200.0, 6672200.0, 385600.0, 6672600.0)  # under the park, overlapping its north-east corner
STREET_Y = 6671800.0
BIN = (385500.0, 6672100.0)
PARK_GREEN, ZONE_YELLOW, STREET_RED, BIN_BLUE = "#00c800", "#ffff00", "#ff0000", "#0000ff"
STYLES = {
    "bins": Style(fill=BIN_BLUE, stroke="#ffffff", size=14, stroke_width=1),
    "streets": Style(fill=STREET_RED, stroke=STREET_RED, stroke_width=5),  # a line is drawn in its stroke
    "park": Style(fill=PARK_GREEN, stroke_width=0, fill_opacity=1.0, label_field="name"),
    "zone": Style(fill=ZONE_YELLOW, stroke_width=0, fill_opacity=1.0),
}


def city_frames() -> dict[str, gpd.GeoDataFrame]:
    """The test city's layers, top-first."""
    return {
        "bins": gpd.GeoDataFrame({"kind": ["waste"]}, geometry=[Point(*BIN)], crs=CRS),
        "streets": gpd.GeoDataFrame({"name": ["Mannerheimintie"]},
                                    geometry=[LineString([(384800, STREET_Y), (385600, STREET_Y)])], crs=CRS),
        "park": gpd.GeoDataFrame({"name": ["Esplanadi"]}, geometry=[box(*PARK)], crs=CRS),
        "zone": gpd.GeoDataFrame({"name": ["Zone A"]}, geometry=[box(*ZONE)], crs=CRS),
    }


def city_layers() -> list[Layer]:
    return [Layer(name, gdf, None, style=STYLES[name]) for name, gdf in city_frames().items()]


def make_project(folder: Path, *, missing: bool = False) -> Path:
    """Write the test city to ``folder/city.gpkg`` and ``folder/city.citydesk``; with ``missing``,
    the project also lists a layer whose file does not exist."""
    gpkg = write_layers(city_frames(), folder / "city.gpkg")
    layers = [Layer(name, None, Source(str(gpkg), name), style=STYLES[name]) for name in city_frames()]
    if missing:
        layers.insert(1, Layer("trees", None, Source(str(folder / "trees.gpkg"), "trees")))
    project = Project(layers=layers, crs=pyproj.CRS.from_user_input(CRS), title="Test city",
                      view=(384700.0, 6671700.0, 385700.0, 6672700.0))
    return project.save(folder / "city.citydesk")


def open_and_wait(qtbot, window, path: Path, timeout: int = 20000) -> None:
    """Open ``path`` in ``window`` and wait until its map is drawn."""
    with qtbot.waitSignal(window.projectShown, timeout=timeout):
        window.open_project(path)
    wait_render(qtbot, window.canvas, timeout)


def wait_render(qtbot, canvas, timeout: int = 20000) -> None:
    """Wait (on ``renderFinished``) until the canvas has no render pending and shows a current image."""
    while canvas.is_rendering() or canvas.image() is None:
        with qtbot.waitSignal(canvas.renderFinished, timeout=timeout):
            pass


def pixel(canvas, x: float, y: float) -> str:
    """The colour (``#rrggbb``) the canvas's current image has at map point ``x, y``."""
    from PySide6.QtGui import QColor

    image = canvas.image()
    pos = canvas.to_widget(x, y)
    dpr = image.devicePixelRatio()
    return QColor(image.pixel(int(pos.x() * dpr), int(pos.y() * dpr))).name()


# Four homes east of the park, 20 m x 20 m, their centres 110, 260, 360 and 1010 m from its edge.
HOME_RESIDENTS = [10, 20, 30, 40]
HOME_X = [PARK[2] + d for d in (110, 260, 360, 1010)]


def add_homes(project_path: Path) -> Path:
    """The test city's project plus a 'homes' layer (role buildings) with residents."""
    import geopandas as gpd
    from shapely.geometry import box

    from layers.layer import Layer, Source
    from layers.project import load_project
    from layers.style import Style
    from layers.writers import write_layers

    homes = gpd.GeoDataFrame({"residents": HOME_RESIDENTS},
                             geometry=[box(x, 6672190, x + 20, 6672210) for x in HOME_X], crs=CRS)
    gpkg = write_layers({"homes": homes}, project_path.parent / "homes.gpkg")
    project = load_project(project_path)
    project.layers.insert(0, Layer("homes", homes, Source(str(gpkg), "homes"), "buildings", Style(fill="#888888")))
    project.save(project_path)
    return project_path
