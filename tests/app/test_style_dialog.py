"""The style editor: the form-to-style function, graduated and categorized styles set through the
dialog's widgets, the map and the legend following, and the style kept by a project round trip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QDialogButtonBox
from shapely.geometry import box

from app.style_dialog import StyleForm, preview_of, style_from_form
from layers.layer import Layer, Source
from layers.project import Project, load_project
from layers.style import Style, symbolize
from layers.writers import write_layers
from tests.app.qt_city import STREET_Y, open_and_wait, pixel, wait_render

# Twelve 80 m blocks in a row (x0 = 385000 + 100 i), residents in four clear groups.
RESIDENTS = [1.0, 2, 3, 20, 21, 22, 50, 51, 52, 100, 101, 102]
USES = ["home", "shop", "home", "school", "home", "shop", "home", "school", "home", "shop", "home", "park"]


def centre(i: int) -> tuple[float, float]:
    return 385040.0 + 100 * i, 6672040.0


@pytest.fixture
def blocks_project(tmp_path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"residents": RESIDENTS, "use": USES, "name": [f"B{i}" for i in range(12)]},
                           geometry=[box(385000 + 100 * i, 6672000, 385080 + 100 * i, 6672080) for i in range(12)],
                           crs=3067)
    gpkg = write_layers({"blocks": gdf}, tmp_path / "blocks.gpkg")
    style = Style(fill="#cccccc", stroke_width=0, fill_opacity=1.0)
    layer = Layer("blocks", None, Source(str(gpkg), "blocks"), style=style)
    project = Project(layers=[layer], crs=pyproj.CRS.from_epsg(3067), title="Blocks",
                      view=(384950.0, 6671700.0, 386250.0, 6672400.0))
    return project.save(tmp_path / "blocks.citydesk")


def apply_and_render(qtbot, window, dialog, button=QDialogButtonBox.StandardButton.Apply) -> None:
    with qtbot.waitSignal(window.canvas.renderFinished, timeout=20000):
        qtbot.mouseClick(dialog.buttons.button(button), Qt.MouseButton.LeftButton)
    wait_render(qtbot, window.canvas)


def preview_ready(qtbot, dialog, action) -> None:
    with qtbot.waitSignal(dialog.previewReady, timeout=20000):
        action()


# --------------------------------------------------------------------------- pure parts

@pytest.mark.parametrize("style", [
    Style(),
    Style(kind="categorized", field="use", categories={"home": "#ff0000"}, palette="paired", opacity=0.333),
    Style(kind="graduated", field="residents", scheme="std_mean", classes=12, ramp="YlOrRd", unit="residents",
          label_field="name", label_size=14.0, label_color="#ffffff", fill_opacity=0.85),
])
def test_an_untouched_form_gives_the_same_style(style):
    assert style_from_form(style, StyleForm.from_style(style)) == style


def test_form_to_graduated_style():
    base = Style(fill="#cccccc", stroke="#333333", kind="categorized", field="use", categories={"home": "#ff0000"},
                 category_labels={"home": "Homes"}, unit="x")
    form = replace(StyleForm.from_style(base), kind="graduated", graduated_field="residents",
                   scheme="natural_breaks", classes=4, ramp="YlOrRd", unit=" residents ", opacity_pct=70)
    style = style_from_form(base, form)
    assert style == replace(base, kind="graduated", field="residents", scheme="natural_breaks", classes=4,
                            ramp="YlOrRd", unit="residents", opacity=0.7, categories={}, category_labels={})


def test_category_colours_belong_to_their_field():
    base = Style(kind="categorized", field="use", categories={"home": "#ff0000"})
    same = style_from_form(base, replace(StyleForm.from_style(base), categories={"home": "#00ff00"}))
    assert same.categories == {"home": "#00ff00"}
    single = style_from_form(base, replace(StyleForm.from_style(base), kind="single"))
    assert single.kind == "single" and single.field == "use" and single.categories == {"home": "#ff0000"}


def test_preview_counts_features_per_legend_entry():
    frame = gpd.GeoDataFrame({"residents": RESIDENTS + [None], "use": USES + [None]},
                             geometry=[box(0, 0, 1, 1)] * 13, crs=3067)
    graduated = preview_of(Style(kind="graduated", field="residents", scheme="natural_breaks", classes=4), frame)
    assert graduated.counts == [3, 3, 3, 3, 1] and graduated.legend[-1][0] == "no value"
    categorized = preview_of(Style(kind="categorized", field="use"), frame)
    assert categorized.keys == ["home", "park", "school", "shop", "no value"]
    assert categorized.counts == [6, 1, 2, 3, 1]


# ---------------------------------------------------------------------------- the dialog

def test_graduated_natural_breaks_through_the_dialog(window, qtbot, blocks_project, tmp_path):
    open_and_wait(qtbot, window, blocks_project)
    layer = window.project.layer("blocks")
    dialog = window.panel.open_style_dialog(layer)
    qtbot.waitExposed(dialog)
    preview_ready(qtbot, dialog, lambda: dialog.kind.setCurrentIndex(dialog.kind.findData("graduated")))
    assert dialog.graduated_field.currentData() == "residents"  # the only numeric field
    assert dialog.graduated_field.findData("use") == -1  # text fields are not offered
    dialog.scheme.setCurrentIndex(dialog.scheme.findData("natural_breaks"))
    dialog.ramp.setCurrentIndex(dialog.ramp.findData("YlOrRd"))
    preview_ready(qtbot, dialog, lambda: dialog.classes.setValue(4))
    expected = replace(layer.style, kind="graduated", field="residents", scheme="natural_breaks", classes=4,
                       ramp="YlOrRd")
    legend = symbolize(expected, layer.gdf).legend
    shown = [(dialog.class_list.topLevelItem(i).text(0), dialog.class_list.topLevelItem(i).text(1))
             for i in range(dialog.class_list.topLevelItemCount())]
    assert shown == [(label, "3") for label, _ in legend]  # four classes of three blocks
    assert shown[0][0] == "1 – 3" and shown[-1][0] == "52 – 102"
    dialog.grab().save(str(tmp_path / "style_dialog_graduated.png"))

    apply_and_render(qtbot, window, dialog)
    assert layer.style == expected and window.modified
    colours = symbolize(expected, layer.gdf).colors
    assert len(set(colours)) == 4
    for i in (0, 4, 8, 11):
        assert pixel(window.canvas, *centre(i)) == colours[i]  # the map draws symbolize's colours
    item = window.panel.layer_item("blocks")
    assert [item.child(i).text(0) for i in range(item.childCount())] == [label for label, _ in legend]

    saved = window.project.save(tmp_path / "saved.citydesk")
    assert load_project(saved).layer("blocks").style == expected  # the style lives in the project file


def test_categorized_click_a_value_to_recolour_it(window, qtbot, blocks_project, monkeypatch):
    open_and_wait(qtbot, window, blocks_project)
    layer = window.project.layer("blocks")
    dialog = window.panel.open_style_dialog(layer)
    qtbot.waitExposed(dialog)
    preview_ready(qtbot, dialog, lambda: dialog.kind.setCurrentIndex(dialog.kind.findData("categorized")))
    if dialog.category_field.currentData() != "use":
        preview_ready(qtbot, dialog, lambda: dialog.category_field.setCurrentIndex(
            dialog.category_field.findData("use")))
    values = [dialog.category_list.topLevelItem(i).text(0) for i in range(dialog.category_list.topLevelItemCount())]
    assert values == ["home", "park", "school", "shop"]
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args, **kwargs: QColor("#ff00ff"))
    shop = dialog.category_list.topLevelItem(3)
    rect = dialog.category_list.visualItemRect(shop)
    preview_ready(qtbot, dialog, lambda: qtbot.mouseClick(dialog.category_list.viewport(), Qt.MouseButton.LeftButton,
                                                          pos=rect.center()))
    swatch = dialog.category_list.topLevelItem(3).icon(0).pixmap(16, 16).toImage().pixelColor(8, 8)
    assert swatch.name() == "#ff00ff"
    apply_and_render(qtbot, window, dialog, QDialogButtonBox.StandardButton.Ok)
    assert window.panel.style_dialog is None  # closed (and deleted)
    assert layer.style.kind == "categorized" and layer.style.categories == {"shop": "#ff00ff"}
    assert pixel(window.canvas, *centre(1)) == "#ff00ff"  # a shop
    home = dict(symbolize(layer.style, layer.gdf).legend)["home"].lower()
    assert pixel(window.canvas, *centre(0)) == home != "#ff00ff"


def test_line_colour_labels_and_cancel(window, qtbot, city_project, monkeypatch):
    open_and_wait(qtbot, window, city_project)
    streets = window.project.layer("streets")
    dialog = window.panel.open_style_dialog(streets)
    qtbot.waitExposed(dialog)
    assert not dialog.symbol_rows.isRowVisible(dialog.stroke)  # a line has one colour: its line colour
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args, **kwargs: QColor("#00ffff"))
    qtbot.mouseClick(dialog.main_colour, Qt.MouseButton.LeftButton)
    dialog.label_field.setCurrentIndex(dialog.label_field.findData("name"))
    dialog.label_size.setValue(14)
    apply_and_render(qtbot, window, dialog)
    assert (streets.style.stroke, streets.style.label_field, streets.style.label_size) == ("#00ffff", "name", 14.0)
    assert pixel(window.canvas, 385000, STREET_Y) == "#00ffff"
    before = streets.style
    dialog.stroke_width.setValue(9)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert streets.style is before  # Cancel keeps what was applied, nothing more


def test_a_big_layer_previews_in_a_worker(window, qtbot):
    rng = np.random.default_rng(1)
    n = 200_000
    gdf = gpd.GeoDataFrame({"v": rng.gamma(2.0, 50.0, n)}, geometry=gpd.points_from_xy(rng.random(n), rng.random(n)),
                           crs=3067)
    layer = Layer("big", gdf)
    window.show_project(Project(layers=[layer], crs=gdf.crs))
    dialog = window.panel.open_style_dialog(layer)
    dialog.kind.setCurrentIndex(dialog.kind.findData("graduated"))
    dialog._start_preview()  # as the debounce timer would, now
    assert dialog._task is not None  # the GUI thread only started the work
    qtbot.waitUntil(lambda: dialog.class_list.topLevelItemCount() == 5, timeout=30000)
    assert sum(int(dialog.class_list.topLevelItem(i).text(1).replace(",", "")) for i in range(5)) == n


def test_manual_breaks_through_the_dialog(window, qtbot, blocks_project, tmp_path):
    open_and_wait(qtbot, window, blocks_project)
    layer = window.project.layer("blocks")
    dialog = window.panel.open_style_dialog(layer)
    qtbot.waitExposed(dialog)
    preview_ready(qtbot, dialog, lambda: dialog.kind.setCurrentIndex(dialog.kind.findData("graduated")))
    dialog.scheme.setCurrentIndex(dialog.scheme.findData("manual"))
    assert dialog.breaks.isVisible() and not dialog.classes.isVisible()
    dialog.breaks.clear()
    preview_ready(qtbot, dialog, lambda: qtbot.keyClicks(dialog.breaks, "10, 50; 75 200"))
    shown = [(dialog.class_list.topLevelItem(i).text(0), dialog.class_list.topLevelItem(i).text(1))
             for i in range(dialog.class_list.topLevelItemCount())]
    # 1, 2, 3 | 20, 21, 22, 50 | 51, 52 | 100, 101, 102: every class listed, with its count
    assert shown == [("≤ 10", "3"), ("10 – 50", "4"), ("50 – 75", "2"), ("75 – 200", "3")]
    apply_and_render(qtbot, window, dialog)
    assert layer.style.scheme == "manual" and layer.style.breaks == (10.0, 50.0, 75.0, 200.0)
    saved = window.project.save(tmp_path / "manual.citydesk")
    assert load_project(saved).layer("blocks").style.breaks == (10.0, 50.0, 75.0, 200.0)
