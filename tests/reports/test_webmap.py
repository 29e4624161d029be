"""The web map page without a browser: layers, colours and classes from the styles, escaping,
the size budget (simplification, what was dropped, the proposal over budget), the extent, the
command line."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from layers.errors import CityDeskError
from layers.layer import Layer
from layers.style import Style, symbolize
from reports.webmap import build_webmap, write_webmap
from reports.webmap_data import default_fields

CRS = "EPSG:3067"


def _buildings(n: int = 4) -> Layer:
    gdf = gpd.GeoDataFrame({"name": [f"House {i}" for i in range(n)], "residents": np.arange(n) * 10.0,
                            "osm_id": [str(i) for i in range(n)]},
                           geometry=[box(385000 + 50 * i, 6672000, 385040 + 50 * i, 6672040) for i in range(n)],
                           crs=CRS)
    return Layer("Buildings", gdf, style=Style(kind="graduated", field="residents", classes=3, ramp="YlOrRd",
                                               unit="residents"))


def _wiggly_streets(n: int = 200) -> Layer:
    """Long lines with many vertices 0.1 m off a straight line: simplification removes most."""
    lines = []
    for i in range(n):
        x = np.linspace(384000, 386000, 400)
        y = 6671000 + 10 * i + 0.1 * (np.arange(400) % 2)
        lines.append(LineString(np.column_stack([x, y])))
    return Layer("Streets", gpd.GeoDataFrame({"name": [f"Street {i}" for i in range(n)]}, geometry=lines, crs=CRS),
                 style=Style(stroke="#ff0000"))


def test_page_has_the_style_colours_legend_and_popup_fields():
    layer = _buildings()
    page, report = build_webmap([layer], title="Test city")
    symbology = symbolize(layer.style, layer.gdf)
    for label, colour in symbology.legend:  # the window's classes and colours
        assert label in page and colour in page
    assert "House 3" in page and "osm_id" not in page.split("citydesk.layer")[-1]  # not a default popup field
    assert report.layers[0].kept == 4 and report.layers[0].dropped == 0 and not report.over_budget
    assert "cdn.jsdelivr" not in page and "<script src=" not in page  # every asset inlined
    assert default_fields(layer) == ["residents", "name"]


def test_untrusted_text_cannot_break_out_of_the_page():
    evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    gdf = gpd.GeoDataFrame({"description": [evil]}, geometry=[Point(385000, 6672000)], crs=CRS)
    page, _ = build_webmap([Layer(f"Reports {evil}", gdf)], title=evil, attribution=[evil])
    assert evil not in page  # neither raw in a script nor as markup
    plain, _ = build_webmap([Layer("Reports", gdf.assign(description="text"))], title="t", attribution=["a"])
    assert page.count("</script") == plain.count("</script")  # no script closed early
    assert page.count("<script") == plain.count("<script")
    assert "&lt;/script&gt;" in page or "\\u003c/script>" in page


def test_budget_simplifies_and_reports_what_was_dropped(tmp_path):
    layers = [_wiggly_streets(), _buildings()]
    full = write_webmap(layers, tmp_path / "full.html", budget_mb=50)
    assert full.tolerance_m == 0 and full.layers[0].vertices_kept == full.layers[0].vertices == 80_000
    small = write_webmap(layers, tmp_path / "small.html", budget_mb=full.bytes / 1e6 - 0.5)
    streets = small.layers[0]
    assert small.tolerance_m > 0 and not small.over_budget
    assert streets.kept == 200 and streets.vertices_kept < streets.vertices / 10  # lines kept, vertices gone
    assert (tmp_path / "small.html").stat().st_size == small.bytes < full.bytes
    assert any("vertices dropped" in line for line in small.lines())
    over = write_webmap(layers, tmp_path / "over.html", budget_mb=1.0)  # less than Leaflet itself
    assert over.over_budget and "WARNING" in over.lines()[-1] and "map view" in over.suggestion


def test_extent_keeps_only_features_touching_it():
    page, report = build_webmap([_buildings()], extent=(385000, 6672000, 385060, 6672040))
    assert report.layers[0].kept == 2 and report.layers[0].outside == 2
    assert "House 1" in page and "House 3" not in page


def test_no_layer_with_features_is_an_error():
    empty = Layer("Empty", gpd.GeoDataFrame({"a": []}, geometry=[], crs=CRS))
    with pytest.raises(CityDeskError, match="no layer with features"):
        build_webmap([empty])
    with pytest.raises(CityDeskError, match="no layer 'Nope'"):
        build_webmap([_buildings()], layers=["Nope"])


def test_command_line_writes_the_page(tmp_path, capsys):
    """`citydesk webmap`, in-process (the console script itself is smoke-tested by the demo test)."""
    from app.cli import main
    from layers.writers import write_layers

    src = write_layers({"buildings": _buildings().gdf}, tmp_path / "city.gpkg")
    out = tmp_path / "map.html"
    assert main(["webmap", str(src), "--out", str(out), "--budget-mb", "5"]) == 0
    assert out.exists() and re.search(r"buildings: 4 of 4 features", capsys.readouterr().out)
    assert main(["webmap", str(src), "--out", str(tmp_path / "x.png")]) == 2
    assert "html" in capsys.readouterr().err
