"""The meeting map: legend fits the page, text never on the map frame, colours from symbolize,
fonts embedded in the PDF, the `citydesk map` command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import PathPatch
from shapely.geometry import box

from layers.errors import CityDeskError
from layers.layer import Layer
from layers.style import Style, symbolize
from reports.meeting_map import MapOptions, compose_map, write_map
from tests.reports.small_city import CRS, X0, Y0, make_project

needs_poppler = pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils is not installed")


def many_class_layers() -> list[Layer]:
    """40 categories and 12 graduated classes: more legend rows than an A4 page has room for."""
    n = 40
    geoms = [box(X0 + 30 * i, Y0, X0 + 30 * i + 20, Y0 + 20) for i in range(n)]
    cats = gpd.GeoDataFrame({"kind": [f"a rather long category name number {i}" for i in range(n)],
                             "value": np.arange(n, dtype=float)}, geometry=geoms, crs=CRS)
    return [Layer("Categories", cats, style=Style(kind="categorized", field="kind")),
            Layer("Values", cats.copy(), style=Style(kind="graduated", field="value", classes=12, unit="m",
                                                     scheme="equal_interval"))]


def _inside(inner, outer, tol=1.0) -> bool:
    return (inner.x0 >= outer.x0 - tol and inner.y0 >= outer.y0 - tol and inner.x1 <= outer.x1 + tol
            and inner.y1 <= outer.y1 + tol)


@pytest.mark.parametrize("landscape", [True, False])
def test_legend_with_many_classes_stays_on_an_a4_page(landscape):
    fig = compose_map(many_class_layers(), CRS, MapOptions(title="Many classes", paper="A4", landscape=landscape,
                                                           dpi=72, attribution=("Test",)))
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    map_ax = next(ax for ax in fig.axes if ax.get_gid() == "map-frame")
    panel = next(ax for ax in fig.axes if ax.get_gid() == "legend-panel")
    legend = panel.get_legend()
    assert legend is not None and len(legend.get_texts()) == 40 + 12 + 2  # every class and both headings
    box_ = legend.get_window_extent(renderer)
    assert _inside(box_, page) and _inside(box_, panel.get_window_extent(renderer))
    frame = map_ax.get_window_extent(renderer)
    assert not box_.overlaps(frame)
    for text in fig.texts:  # title, subtitle, attribution, date: on the page, off the map frame
        tb = text.get_window_extent(renderer)
        assert _inside(tb, page), text.get_text()
        assert not tb.overlaps(frame), text.get_text()


def test_colours_and_legend_come_from_symbolize():
    layers = many_class_layers()[1:]
    fig = compose_map(layers, CRS, MapOptions(title="Values", dpi=72))
    map_ax = next(ax for ax in fig.axes if ax.get_gid() == "map-frame")
    drawn = {to_hex(p.get_facecolor(), keep_alpha=False) for p in map_ax.patches if isinstance(p, PathPatch)}
    sym = symbolize(layers[0].style, layers[0].gdf)
    assert drawn == set(sym.colors)
    labels = [t.get_text() for t in next(ax for ax in fig.axes if ax.get_gid() == "legend-panel").get_legend()
              .get_texts()]
    assert [lab for lab, _ in sym.legend] == labels[1:]
    assert labels[1].endswith(" m")  # the unit is in the class labels


@needs_poppler
def test_pdf_is_vector_with_embedded_fonts(tmp_path: Path):
    out = write_map(many_class_layers(), tmp_path / "map.pdf", crs=CRS,
                    options=MapOptions(title="Council map", subtitle="Sub", attribution=("© OpenStreetMap",)))
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    rows = fonts.strip().splitlines()[2:]
    assert rows and all(" yes " in row for row in rows), fonts  # every font embedded
    assert "Type 3" not in fonts
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("Council map", "Legend", "© OpenStreetMap", "1 :"):
        assert expected in text


def test_svg_png_and_bad_suffix(tmp_path: Path):
    layers = many_class_layers()[:1]
    opts = MapOptions(title="x", dpi=50)
    assert b"<svg" in write_map(layers, tmp_path / "m.svg", crs=CRS, options=opts).read_bytes()[:400]
    assert write_map(layers, tmp_path / "m.png", crs=CRS, options=opts).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(CityDeskError, match=r"\.pdf, \.svg or \.png"):
        write_map(layers, tmp_path / "m.docx", crs=CRS, options=opts)
    assert not (tmp_path / "m.docx").exists()


def test_citydesk_map_command(tmp_path: Path, capsys):
    """`citydesk map`, in-process (the console script itself is smoke-tested by the demo test)."""
    from app.cli import main

    project = make_project(tmp_path)
    out = tmp_path / "map.png"
    assert main(["map", str(project), "--out", str(out), "--paper", "A3", "--landscape", "--title", "Parks",
                 "--extent-layer", "Parks", "--dpi", "60"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and "A3 landscape" in capsys.readouterr().out
    assert main(["map", str(project), "--out", str(tmp_path / "m.pdf"), "--extent-layer", "Nope"]) == 1
    assert "no layer 'Nope'" in capsys.readouterr().err
    assert not (tmp_path / "m.pdf").exists()
