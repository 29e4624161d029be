"""A small hand-made project for the report tests: eight buildings with residents, two parks,
two districts (one with an untrusted name) and one configured coverage run (straight-line,
fast). Distances are easy to check: buildings at x = 0..700 m, parks at x = 0 and 100."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyproj
from shapely.geometry import box

from layers.layer import Layer, Source
from layers.project import AnalysisRun, Project
from layers.style import Style
from layers.writers import write_layers

CRS = "EPSG:3067"
X0, Y0 = 385000.0, 6672000.0
EVIL = "<script>alert('x')</script> Kamppi"


def frames() -> dict[str, gpd.GeoDataFrame]:
    xs = [X0 + 100 * i for i in range(8)]
    buildings = gpd.GeoDataFrame({"name": [f"B{i}" for i in range(8)], "residents": [10.0, 20, 30, 40, 50, 60, 70, 80]},
                                 geometry=[box(x, Y0, x + 20, Y0 + 20) for x in xs], crs=CRS)
    parks = gpd.GeoDataFrame({"name": ["Park A", "Park B"]},
                             geometry=[box(X0, Y0 + 100, X0 + 80, Y0 + 180),
                                       box(X0 + 100, Y0 + 100, X0 + 180, Y0 + 180)], crs=CRS)
    districts = gpd.GeoDataFrame({"name": [EVIL, "Kruununhaka"]},
                                 geometry=[box(X0 - 50, Y0 - 50, X0 + 350, Y0 + 300),
                                           box(X0 + 350, Y0 - 50, X0 + 800, Y0 + 300)], crs=CRS)
    return {"buildings": buildings, "parks": parks, "districts": districts}


def make_project(folder: Path) -> Path:
    gpkg = write_layers(frames(), folder / "small.gpkg")
    layers = [Layer("Parks", None, Source(str(gpkg), "parks"), "green_spaces", Style(fill="#009E73")),
              Layer("Buildings", None, Source(str(gpkg), "buildings"), "buildings",
                    Style(kind="graduated", field="residents", classes=4, unit="residents")),
              Layer("Districts", None, Source(str(gpkg), "districts"), "districts",
                    Style(fill="#ffffff", fill_opacity=0.0, stroke="#555555"))]
    runs = [AnalysisRun("coverage", "Park within 250 m", {"buildings": "Buildings", "targets": "Parks"},
                        {"max_distance_m": 250.0})]
    project = Project(layers=layers, crs=pyproj.CRS.from_user_input(CRS), title="Small city", analyses=runs,
                      attribution=["© OpenStreetMap contributors (ODbL 1.0)", "Test data <b>bold</b>"])
    return project.save(folder / "small.citydesk")
