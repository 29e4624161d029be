"""The Sensors dock: a time slider that colours sensor stations by their value at a moment, and a
time-series chart (matplotlib in Qt) of the selected stations.

Readings are loaded and resampled in a worker. Moving the slider only picks a row of a
precomputed time × station matrix and swaps a small point layer ("Sensor values") on the map:
its colours use fixed classes over the whole period, so a colour means the same value at every
moment. The layer is temporary: it is removed when the dock closes or another project opens.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.workers import Task
from layers.layer import Layer
from layers.sensor_series import RAMP, Series, station_series
from layers.style import Style

PERIODS = ("hourly", "daily", "monthly", "yearly")
LAYER_NAME = "Sensor values (time slider)"
MAX_LINES = 8


def sensor_layers(layers: list[Layer]) -> list[Layer]:
    """Point layers with role ``sensors`` or a ``readings_file`` column."""
    return [lay for lay in layers if lay.gdf is not None and lay.geometry_kind == "point" and lay.name != LAYER_NAME
            and (lay.role == "sensors" or "readings_file" in lay.gdf.columns)]


def _load(layer: Layer, zone: str, task: Task):
    from layers.sensor_join import load_for_layer

    return load_for_layer(layer.gdf, timezone=zone, feedback=task)


class SensorPanel(QWidget):
    """The dock's contents; ``window`` is the MainWindow."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.readings = None  # SensorReadings of the chosen layer
        self.series: Series | None = None
        self.overlay: Layer | None = None
        self._generation = 0
        self._task: Task | None = None
        self.layer_box, self.variable_box, self.period_box = QComboBox(), QComboBox(), QComboBox()
        self.period_box.addItems(PERIODS)
        self.period_box.setCurrentText("daily")
        self.timezone_box = QComboBox(editable=True)
        self.timezone_box.addItems(["Europe/Helsinki", "UTC", "Europe/London", "Europe/Berlin"])
        self.load_button = QPushButton("Load readings")
        self.slider = QSlider(Qt.Orientation.Horizontal, enabled=False)
        self.time_label = QLabel("Load the readings of a sensor layer.")
        self.time_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.figure = Figure(figsize=(4, 2.6), dpi=90, layout="constrained")
        self.chart = FigureCanvasQTAgg(self.figure)
        self.chart.setMinimumHeight(200)
        self.axes = self.figure.add_subplot(1, 1, 1)
        self._cursor = None
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.layer_box, 1)
        row.addWidget(self.load_button)
        form.addRow("Stations", row)
        form.addRow("Variable", self.variable_box)
        form.addRow("Period", self.period_box)
        form.addRow("Time zone", self.timezone_box)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.slider)
        box.addWidget(self.time_label)
        box.addWidget(self.chart, 1)
        box.addWidget(self.status)
        self._connect()

    # ------------------------------------------------------------------------------ wiring
    def _connect(self) -> None:
        self.load_button.clicked.connect(self.load)
        self.layer_box.currentTextChanged.connect(lambda _t: self._forget())
        self.variable_box.currentTextChanged.connect(lambda _t: self.compute())
        self.period_box.currentTextChanged.connect(lambda _t: self.compute())
        self.slider.valueChanged.connect(self.show_time)
        self.window.selection.changed.connect(self._selection_changed)
        self.window.projectShown.connect(lambda _p: self.reset())

    def reset(self) -> None:
        """A new project: forget the readings, fill the layer list."""
        self.remove_overlay(refresh=False)
        self.readings, self.series = None, None
        self.layer_box.clear()
        project = self.window.project
        for layer in sensor_layers(project.layers if project else []):
            self.layer_box.addItem(layer.name)
        self.slider.setEnabled(False)
        self.time_label.setText("Load the readings of a sensor layer." if self.layer_box.count()
                                else "No sensor layer (role 'sensors' or a readings_file column) in the project.")

    def _forget(self) -> None:
        """Another stations layer: its readings must be loaded first."""
        self.readings, self.series = None, None
        self.slider.setEnabled(False)
        self.remove_overlay()
        self.draw_chart()

    def stations(self) -> Layer | None:
        project = self.window.project
        name = self.layer_box.currentText()
        return next((lay for lay in sensor_layers(project.layers) if lay.name == name), None) if project else None

    # ------------------------------------------------------------------------------ work
    def _start(self, fn, on_done, message: str) -> None:
        if self._task is not None:
            self._task.cancel()
        self._generation += 1
        task = Task(fn, self._generation)
        self._task = task
        task.signals.finished.connect(lambda g, result: self._finished(g, result, on_done))
        task.signals.failed.connect(self._failed)
        self.status.setText(message)
        task.start()

    def _finished(self, generation: int, result, on_done) -> None:
        if generation == self._generation:
            self._task = None
            on_done(result)

    def _failed(self, generation: int, message: str, _user: bool) -> None:
        if generation == self._generation:
            self._task = None
            self.status.setText(f"Cannot load the readings: {message}")

    def load(self) -> None:
        layer = self.stations()
        if layer is None:
            return
        zone = self.timezone_box.currentText().strip() or "UTC"
        self._start(lambda task: _load(layer, zone, task), self._loaded, f"Reading the readings of {layer.name}…")

    def _loaded(self, readings) -> None:
        self.readings = readings
        report = readings.report
        self.status.setText("; ".join(report.lines()[1:4]))
        self.variable_box.blockSignals(True)
        self.variable_box.clear()
        self.variable_box.addItems(report.variables)
        self.variable_box.blockSignals(False)
        self.compute()

    def compute(self) -> None:
        layer, readings = self.stations(), self.readings
        if layer is None or readings is None or not self.variable_box.currentText():
            return
        variable, period = self.variable_box.currentText(), self.period_box.currentText()
        zone = self.timezone_box.currentText().strip() or "UTC"
        gdf, table = layer.gdf, readings.table
        self._start(lambda _task: station_series(gdf, table, variable, period, timezone=zone), self._computed,
                    f"Resampling {variable} {period}…")

    def _computed(self, series: Series) -> None:
        self.series = series
        self.status.setText(f"{len(series.times):,} {series.period} periods, {series.values.shape[1]} stations; "
                            "select stations on the map to chart them")
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(series.times) - 1, 0))
        self.slider.setValue(min(self.slider.value(), max(len(series.times) - 1, 0)))
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(series.times) > 0)
        self.draw_chart()
        self.show_time(self.slider.value())

    # ------------------------------------------------------------------------------ view
    def show_time(self, index: int) -> None:
        """Colour the stations by their value in period ``index`` (cheap: a small layer swap)."""
        series, layer = self.series, self.stations()
        if series is None or layer is None or not len(series.times):
            return
        when = series.times[index]
        self.time_label.setText(f"{series.variable} {series.period} mean, {_when(when, series.period)}")
        values = series.values[index]
        gdf = layer.gdf[["geometry"]].copy()
        gdf["value"] = np.round(values, 1)
        gdf["class"] = series.classes(index)
        labels = series.labels()
        style = Style(kind="categorized", field="class", size=16.0, stroke="#222222", stroke_width=1.2,
                      categories={"0": "#bdbdbd", **{str(i + 1): RAMP[i] for i in range(len(series.breaks))}},
                      category_labels=labels, label_field="value", label_size=12.0)
        self._set_overlay(gdf, style)
        if self._cursor is not None:
            self._cursor.set_xdata([when, when])
            self.chart.draw_idle()

    def _set_overlay(self, gdf, style: Style) -> None:
        project = self.window.project
        if project is None:
            return
        if self.overlay is None or self.overlay not in project.layers:
            self.overlay = Layer(LAYER_NAME, gdf, role="other", style=style, transient=True)
            project.layers.insert(0, self.overlay)
            self.window.panel.set_layers(project.layers, self.window._legend)
        else:
            changed_legend = self.overlay.style.category_labels != style.category_labels
            self.overlay.gdf, self.overlay.style = gdf, style
            if changed_legend:
                self.window.panel.set_layers(project.layers, self.window._legend)
        self.window.canvas.refresh()

    def remove_overlay(self, refresh: bool = True) -> None:
        project = self.window.project
        if self.overlay is not None and project is not None and self.overlay in project.layers:
            project.layers.remove(self.overlay)
            self.window.panel.set_layers(project.layers, self.window._legend)
            if refresh:
                self.window.canvas.refresh()
        self.overlay = None

    def selected_columns(self) -> list[int]:
        """Feature positions of the stations to chart: the selected ones, else the first few."""
        layer = self.stations()
        if layer is None:
            return []
        rows = [int(r) for r in self.window.selection.rows(layer)]
        return rows[:MAX_LINES] if rows else list(range(min(MAX_LINES, len(layer.gdf))))

    def draw_chart(self) -> None:
        series, layer = self.series, self.stations()
        self.axes.clear()
        self._cursor = None
        if series is None or layer is None or not len(series.times):
            self.chart.draw_idle()
            return
        name_column = next((c for c in ("name", "station_id") if c in layer.gdf.columns), None)
        times = series.times.tz_localize(None)
        for s in self.selected_columns():
            label = str(layer.gdf[name_column].iloc[s]) if name_column else f"station {s + 1}"
            self.axes.plot(times, series.values[:, s], linewidth=1.2, label=label[:40])
        self.axes.set_ylabel(f"{series.variable} ({series.unit})" if series.unit else series.variable)
        self.axes.set_title(f"{series.variable}, {series.period} means", fontsize=9)
        self.axes.grid(True, alpha=0.3)
        self.axes.tick_params(labelsize=7)
        if self.axes.lines:
            self.axes.legend(fontsize=7, loc="upper right")
        when = times[self.slider.value()]
        self._cursor = self.axes.axvline(when, color="#444444", linewidth=1.0, linestyle="--")
        self.chart.draw_idle()

    def _selection_changed(self, layer) -> None:
        if layer is self.stations() and self.series is not None:
            self.draw_chart()


def _when(time, period: str) -> str:
    formats = {"hourly": "%Y-%m-%d %H:%M", "daily": "%a %Y-%m-%d", "monthly": "%B %Y", "yearly": "%Y"}
    return time.strftime(formats[period]) + (f" ({time.tzname()})" if period == "hourly" else "")


def install_sensor_panel(window) -> SensorPanel:
    """The Sensors dock (hidden until View → Sensors time slider) and its menu action."""
    panel = SensorPanel(window)
    dock = QDockWidget("Sensors", window)
    dock.setObjectName("sensors_dock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    action = QAction("&Sensors time slider", window, checkable=True)
    action.toggled.connect(dock.setVisible)
    dock.visibilityChanged.connect(action.setChecked)
    dock.visibilityChanged.connect(lambda shown: None if shown else panel.remove_overlay())
    view = next((a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "View"), None)
    (view or window.menuBar().addMenu("&View")).addAction(action)
    panel.dock, panel.action = dock, action
    return panel
