"""File → Import readings…: preview, column choice, matching, the import in a worker, the layer
it adds (styled by overflow risk), bad files shown as text in the dialog."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyproj
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from layers.layer import Layer, Source
from layers.project import Project
from layers.writers import write_layers
from tests.app.qt_city import open_and_wait

EDINBURGH = Path(__file__).resolve().parents[1] / "data" / "edinburgh_smart_bins_sample.xlsx"
READINGS = """Sensor export <b>bold</b>,,
Container,Collection time (Europe/Helsinki),Level
SEN-1,2025-05-01 06:00,40%
SEN-1,2025-05-03 06:00,90%
SEN-1,2025-05-04 06:00,85%
sen-2 ,2025-05-02 06:00,30%
SEN-9,2025-05-02 06:00,50%
"""


@pytest.fixture
def bins_project(tmp_path) -> Path:
    bins = gpd.GeoDataFrame({"code": ["SEN-1", "SEN-2", "SEN-3"], "kind": ["waste_basket"] * 3},
                            geometry=gpd.points_from_xy([385000, 385100, 385200], [6672000] * 3), crs="EPSG:3067")
    gpkg = write_layers({"bins": bins}, tmp_path / "city.gpkg")
    project = Project(layers=[Layer("Bins", None, Source(str(gpkg), "bins"), "waste_bins")],
                      crs=pyproj.CRS.from_user_input("EPSG:3067"), title="Bins")
    (tmp_path / "fill.csv").write_text(READINGS, encoding="utf-8")
    return project.save(tmp_path / "bins.citydesk")


def _dialog(qtbot, window, path):
    action = window.findChild(type(window.readings.action), "import_readings")
    assert action is not None and action.text() == "Import &readings…"
    window.readings.action.trigger()
    dialog = window.readings.dialog
    with qtbot.waitSignal(dialog.checkFinished, timeout=20000):
        dialog.set_path(path)
    return dialog


def test_import_readings_adds_a_risk_layer(qtbot, window, bins_project):
    open_and_wait(qtbot, window, bins_project)
    dialog = _dialog(qtbot, window, bins_project.parent / "fill.csv")
    assert dialog.header_label.text() == "Header found on row 2: 3 columns"
    assert dialog.model.rowCount() == 5 and dialog.model.item(0, 0).text() == "SEN-1"
    assert dialog.id_combo.currentText() == "Found automatically: Container"
    assert dialog.layer_combo.currentText() == "Bins"
    report = dialog.report.toPlainText()
    assert "2 of 3 bins have readings (key column 'code')" in report  # ' sen-2 ' matches 'SEN-2'
    assert "4 readings matched, 1 not matched" in report and "SEN-9" in report
    assert "Europe/Helsinki" in report
    assert dialog.import_button.isEnabled()
    with qtbot.waitSignal(window.readings.imported, timeout=20000) as done:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    layer = done.args[0]
    assert layer.name == "Fill levels — fill" and window.project.layers[0] is layer
    gdf = layer.gdf
    assert list(gdf["readings"]) == [3, 1, 0] and list(gdf["at_risk"]) == [True, False, False]
    assert gdf.loc[0, "overflow_risk_pct"] == pytest.approx(200 / 3)  # 90 and 85 of 40, 90, 85
    assert layer.style.field == "overflow_risk_pct" and window.modified
    assert "1 of 3 bins at overflow risk" in window.statusBar().currentMessage()


def test_choose_columns_and_a_bad_choice_is_told(qtbot, window, bins_project):
    open_and_wait(qtbot, window, bins_project)
    dialog = _dialog(qtbot, window, EDINBURGH)
    assert dialog.sheet_combo.currentText() == "Enevo ONe API v3" and dialog.sheet_combo.isEnabled()
    assert "Header found on row 3" in dialog.header_label.text()
    assert dialog.id_combo.currentText().endswith("Site name + Address")
    report = dialog.report.toPlainText()
    assert "145 rows read, 145 readings kept, 4 bins" in report
    assert "No column of the bin layer holds these bin ids" in report
    assert not dialog.import_button.isEnabled() and dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.checkFinished, timeout=20000):
        dialog.fill_combo.setCurrentIndex(dialog.fill_combo.findData("Site name"))
        dialog.fill_combo.activated.emit(dialog.fill_combo.currentIndex())
    assert "Cannot import" in dialog.report.toPlainText() and not dialog.import_button.isEnabled()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()


def test_sample_analysis_finds_the_readings_file(qtbot, window):
    from app.main_window import SAMPLE_PROJECT

    open_and_wait(qtbot, window, SAMPLE_PROJECT, timeout=60000)
    sensors = window.project.layer("Bin fill sensors (synthetic)")
    assert sensors.gdf.attrs["source_dir"] == str(SAMPLE_PROJECT.parent)
