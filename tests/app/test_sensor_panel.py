"""The Sensors dock on the sample city: load the synthetic air-quality readings, move the time
slider (station colours change on the map), chart the selected stations."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.main_window import SAMPLE_PROJECT
from app.sensor_panel import LAYER_NAME

pytestmark = pytest.mark.skipif(not SAMPLE_PROJECT.exists(), reason="the sample city is not built")


def _open_sample(window, qtbot):
    with qtbot.waitSignal(window.projectShown, timeout=30000):
        window.open_project(SAMPLE_PROJECT)


def test_time_slider_colours_stations_and_charts_selection(window, qtbot):
    _open_sample(window, qtbot)
    panel = window.sensors
    window.sensors.action.trigger()
    assert panel.dock.isVisible()
    assert panel.layer_box.count() >= 1
    panel.layer_box.setCurrentText("Air-quality stations (synthetic)")
    panel.timezone_box.setCurrentText("Europe/Helsinki")
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.series is not None or "Cannot" in panel.status.text(), timeout=30000)
    assert panel.series is not None, panel.status.text()
    assert panel.variable_box.count() == 3
    assert panel.series.values.shape[1] == 6 and len(panel.series.times) == 365
    overlay = window.project.layers[0]
    assert overlay.name == LAYER_NAME and overlay is panel.overlay
    first = overlay.gdf["value"].to_numpy().copy()
    panel.slider.setValue(40)  # what a drag ends with; the map layer follows
    assert "2025-02-10" in panel.time_label.text()
    second = panel.overlay.gdf["value"].to_numpy()
    assert not np.allclose(first, second, equal_nan=True)
    expected = panel.series.values[40]
    assert np.allclose(second, np.round(expected, 1), equal_nan=True)
    with qtbot.waitSignal(window.canvas.renderFinished, timeout=20000):
        window.canvas.refresh()
    stations = panel.stations()
    window.selection.select(stations, [0, 2])
    assert len(panel.axes.lines) == 3  # two stations and the time cursor
    if os.environ.get("CITYDESK_SCREENSHOTS"):
        window.resize(1500, 900)
        qtbot.wait(300)
        window.grab().save(os.path.join(os.environ["CITYDESK_SCREENSHOTS"], "sensor_panel.png"))
    panel.dock.close()
    qtbot.waitUntil(lambda: all(lay.name != LAYER_NAME for lay in window.project.layers), timeout=5000)


def test_bad_readings_file_is_reported_not_raised(window, qtbot, tmp_path):
    _open_sample(window, qtbot)
    panel = window.sensors
    panel.action.trigger()
    panel.layer_box.setCurrentText("Air-quality stations (synthetic)")
    stations = panel.stations()
    stations.gdf = stations.gdf.assign(readings_file=str(tmp_path / "missing.csv"))
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Cannot load" in panel.status.text(), timeout=10000)
    assert "does not exist" in panel.status.text()
    assert panel.series is None
