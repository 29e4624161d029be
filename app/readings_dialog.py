"""File → Import readings…: fill-level sensor readings into the project as a map of overflow risk.

The dialog previews the file (the header row it found, the first rows), lets the user choose the
bin id, time and fill columns and the time zone, then the bin layer and its key column, and shows
what the import would read, drop and match. Reading the file and matching run in workers; the
import itself runs in the window's task (progress bar, Cancel) and adds a point layer of the bins
with their statistics (:func:`analysis.fill_levels.fill_levels`), styled by overflow risk.
``install_readings(window)`` adds the menu action and returns the controller."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from analysis.fill_levels import RISK_STYLE, best_key_column, fill_levels, join_report
from app.workers import Task
from layers.errors import CityDeskError
from layers.feedback import SubFeedback
from layers.layer import Layer
from layers.readings import Readings, preview, read_readings, write_readings

FILES = "Readings (*.csv *.xlsx *.xlsm *.parquet *.txt *.tsv);;All files (*)"
AUTO = "Found automatically"
ZONES = ("UTC", "Europe/London", "Europe/Helsinki", "Europe/Berlin", "Europe/Paris", "Europe/Stockholm",
         "America/New_York")


@dataclass
class ImportRequest:
    """What the dialog asks for: the file and its options, the bin layer and key column, and the
    readings already read with those options (None: read them again)."""

    path: Path
    options: dict
    layer: Layer | None
    key_column: str
    readings: Readings | None = None


class ReadingsDialog(QDialog):
    """``checkFinished`` after each background check (read + match) ended, with or without a problem."""

    checkFinished = Signal()
    previewFinished = Signal()

    def __init__(self, layers: list[Layer], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import fill-level readings")
        self.layers = [lay for lay in layers if lay.gdf is not None and lay.geometry_kind == "point"]
        self.request: ImportRequest | None = None
        self._generation = 0
        self._tasks: list[Task] = []
        self._readings: tuple[tuple, Readings] | None = None  # (path, options) it was read with, readings
        self._chosen_key: str | None = None
        self._loaded = ""  # the path previewed
        self._check_timer = QTimer(self, singleShot=True, interval=250)
        self._check_timer.timeout.connect(self.check)
        self._build()
        self._connect()
        self.resize(820, 760)

    # ------------------------------------------------------------------------------ build
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.path_edit = QLineEdit(self, placeholderText="A CSV, Excel or Parquet file of bin id, time and fill level")
        self.browse_button = QPushButton("Browse…", self)
        row.addWidget(QLabel("File:", self))
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        layout.addLayout(row)
        box = QGroupBox("Preview", self)
        inner = QVBoxLayout(box)
        self.sheet_combo = QComboBox(self)
        self.sheet_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.header_label = QLabel("Choose a file to see its first rows.", self, textFormat=Qt.TextFormat.PlainText)
        top = QHBoxLayout()
        top.addWidget(QLabel("Sheet:", self))
        top.addWidget(self.sheet_combo)
        top.addWidget(self.header_label, 1)
        inner.addLayout(top)
        self.model = QStandardItemModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setMinimumHeight(170)
        self.table.verticalHeader().setDefaultSectionSize(20)
        inner.addWidget(self.table)
        layout.addWidget(box, 1)

        columns = QGroupBox("Columns", self)
        form = QFormLayout(columns)
        self.id_combo, self.time_combo, self.fill_combo = QComboBox(self), QComboBox(self), QComboBox(self)
        self.zone_combo = QComboBox(self, editable=True)
        self.zone_combo.addItem("From the time column's name, else UTC", "")
        for zone in ZONES:
            self.zone_combo.addItem(zone, zone)
        form.addRow("Bin id:", self.id_combo)
        form.addRow("Time:", self.time_combo)
        form.addRow("Fill level:", self.fill_combo)
        form.addRow("Time zone of times without one:", self.zone_combo)
        layout.addWidget(columns)

        join = QGroupBox("Join to a bin layer", self)
        jform = QFormLayout(join)
        self.layer_combo, self.key_combo = QComboBox(self), QComboBox(self)
        for lay in self.layers:
            self.layer_combo.addItem(lay.name, lay)
        default = next((i for i, lay in enumerate(self.layers) if lay.role in ("waste_bins", "sensors")
                        and "readings_file" in lay.gdf.columns), 0)
        self.layer_combo.setCurrentIndex(default)
        jform.addRow("Bin layer:", self.layer_combo)
        jform.addRow("Key column (matches the bin id):", self.key_combo)
        layout.addWidget(join)

        self.report = QPlainTextEdit(self, readOnly=True)
        self.report.setMaximumHeight(190)
        self.report.setPlaceholderText("What the import reads, drops and matches appears here.")
        layout.addWidget(self.report)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, parent=self)
        self.save_button = self.buttons.addButton("Save clean table…", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setDefault(True)
        layout.addWidget(self.buttons)
        self._fill_keys()
        self._set_ready(False)

    def _connect(self) -> None:
        self.browse_button.clicked.connect(self.browse)
        self.path_edit.editingFinished.connect(lambda: self.set_path(self.path_edit.text()))
        self.sheet_combo.activated.connect(lambda _i: self.load_preview())
        for combo in (self.id_combo, self.time_combo, self.fill_combo, self.key_combo):
            combo.activated.connect(lambda _i: self._check_timer.start())
        self.zone_combo.currentTextChanged.connect(lambda _t: self._check_timer.start())
        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.save_button.clicked.connect(self.save_clean)

    # ------------------------------------------------------------------------------ actions
    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Readings file", str(Path.cwd()), FILES)
        if path:
            self.set_path(path)

    def set_path(self, path: str | Path) -> None:
        path = str(path).strip()
        if not path or path == self._loaded:  # editingFinished also fires when the field loses focus
            return
        self._loaded = path
        self.path_edit.setText(path)
        self.sheet_combo.clear()
        self.load_preview()

    def load_preview(self) -> None:
        path, sheet = Path(self.path_edit.text().strip()), self.sheet_combo.currentText() or None
        self._readings = None
        self._set_ready(False)
        self.header_label.setText(f"Reading {path.name}…")
        self._start(lambda fb: preview(path, sheet=sheet), self._show_preview)

    def options(self) -> dict:
        """The options for :func:`layers.readings.read_readings` as the dialog holds them."""
        text = self.zone_combo.currentText().strip()
        index = self.zone_combo.findText(text)
        zone = self.zone_combo.itemData(index) if index >= 0 else text
        return {"sheet": self.sheet_combo.currentText() or None, "id_column": self.id_combo.currentData(),
                "time_column": self.time_combo.currentData(), "fill_column": self.fill_combo.currentData(),
                "timezone": zone or None}

    def check(self) -> None:
        """Read with the chosen options (unless already read) and match, in a worker."""
        path = Path(self.path_edit.text().strip())
        if not self.path_edit.text().strip() or self.time_combo.count() == 0:
            return
        opts, layer, key = self.options(), self.layer_combo.currentData(), self.key_combo.currentData()
        cached = self._readings[1] if self._readings and self._readings[0] == (path, tuple(opts.items())) else None
        self._set_ready(False)
        self.report.setPlainText("Checking…")

        def work(fb):
            readings = cached or read_readings(path, **opts, feedback=fb)
            bins = layer.gdf if layer is not None else None
            chosen = key or (best_key_column(bins, readings.table) if bins is not None else None)
            joined = join_report(bins, readings.table, chosen) if bins is not None and chosen else None
            return (path, tuple(opts.items())), readings, chosen, joined

        self._start(work, self._show_check)

    def accept(self) -> None:
        if self._readings is None or self.layer_combo.currentData() is None:
            self.report.appendPlainText("\nChoose a file and a bin layer, and wait for the check, then import.")
            return
        key = self.key_combo.currentData() or self._chosen_key
        self.request = ImportRequest(Path(self.path_edit.text().strip()), self.options(),
                                     self.layer_combo.currentData(), key, self._readings[1])
        super().accept()

    def done(self, result: int) -> None:
        """Closing drops the background work: its results would come to deleted widgets."""
        self._generation += 1
        for task in self._tasks:
            task.cancel()
        self._check_timer.stop()
        super().done(result)

    def save_clean(self) -> None:
        if self._readings is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the clean readings",
                                              str(Path(self.path_edit.text()).with_suffix(".clean.csv")),
                                              "CSV (*.csv);;Parquet (*.parquet)")
        if path:
            table = self._readings[1].table
            self._start(lambda fb: write_readings(table, path),
                        lambda out: self.report.appendPlainText(f"\nSaved {out}"))

    # ------------------------------------------------------------------------------ results
    def _start(self, fn, on_done) -> None:
        for task in self._tasks:
            task.cancel()
        self._generation += 1
        task = Task(fn, self._generation)
        task.signals.finished.connect(lambda g, result: g == self._generation and on_done(result))
        task.signals.failed.connect(lambda g, message, _user: g == self._generation and self._failed(message))
        task.signals.finished.connect(lambda *_: self._tasks.remove(task) if task in self._tasks else None)
        self._tasks.append(task)
        task.start()

    def _failed(self, message: str) -> None:
        self.report.setPlainText(f"Cannot import: {message}")
        self.header_label.setText("The file could not be read with these settings.")
        self._set_ready(False)
        self.checkFinished.emit()
        self.previewFinished.emit()

    def _show_preview(self, p) -> None:
        self.sheet_combo.blockSignals(True)
        if self.sheet_combo.count() == 0 and p.sheets:
            self.sheet_combo.addItems(p.sheets)
            self.sheet_combo.setCurrentText(p.sheet or p.sheets[0])
        self.sheet_combo.setEnabled(bool(p.sheets))
        self.sheet_combo.blockSignals(False)
        self.header_label.setText(f"Header found on row {p.header_row}: {len(p.columns)} columns")
        self.model.clear()
        self.model.setHorizontalHeaderLabels(p.columns)
        for values in p.rows.itertuples(index=False):
            items = [QStandardItem("" if v is None or v != v else str(v)) for v in values]  # NA != NA
            for item in items:
                item.setEditable(False)
            self.model.appendRow(items)
        self.table.resizeColumnsToContents()
        for col in range(self.model.columnCount()):
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), 220))
        guess = p.guess
        ids = " + ".join(guess.ids) if guess.ids else "none found"
        for combo, auto in ((self.id_combo, ids), (self.time_combo, guess.time or "none found"),
                            (self.fill_combo, guess.fill or "none found")):
            combo.clear()
            combo.addItem(f"{AUTO}: {auto}", None)
            for name in p.columns:
                combo.addItem(name, name)
        if len(guess.ids) > 1:
            self.id_combo.insertItem(1, " + ".join(guess.ids), "+".join(guess.ids))
        self.previewFinished.emit()
        self.check()

    def _show_check(self, out) -> None:
        key_opts, readings, chosen, joined = out
        self._readings = (key_opts, readings)
        self._chosen_key = chosen
        if chosen and self.key_combo.currentData() is None:
            self.key_combo.setItemText(0, f"{AUTO}: {chosen}")
        lines = readings.report.lines()
        if joined is not None:
            lines = joined.lines() + [""] + lines
        elif self.layer_combo.currentData() is not None:
            lines = ["No column of the bin layer holds these bin ids: choose the key column, or another layer.",
                     ""] + lines
        self.report.setPlainText("\n".join(lines))
        self._set_ready(joined is not None and joined.readings_matched > 0, saved=True)
        self.checkFinished.emit()

    def _layer_changed(self, _index: int) -> None:
        self._fill_keys()
        self._check_timer.start()

    def _fill_keys(self) -> None:
        self.key_combo.clear()
        self.key_combo.addItem(AUTO, None)
        layer = self.layer_combo.currentData()
        if layer is not None:
            for name in layer.gdf.columns:
                if name != layer.gdf.geometry.name:
                    self.key_combo.addItem(str(name), str(name))

    def _set_ready(self, ready: bool, saved: bool = False) -> None:
        self.import_button.setEnabled(ready)
        self.save_button.setEnabled(saved)


# ------------------------------------------------------------------------------------ controller
def compute(request: ImportRequest, crs, feedback) -> tuple[Layer, dict, dict]:
    """In a worker: the readings (read again if needed), the statistics, the layer prepared for drawing."""
    from app.render import CACHE

    readings = request.readings or read_readings(request.path, **request.options,
                                                 feedback=SubFeedback(feedback, 0.0, 0.6))
    feedback.check_cancelled()
    result = fill_levels(request.layer.gdf, readings=readings.table, key_column=request.key_column,
                         feedback=SubFeedback(feedback, 0.6, 0.9))
    layer = Layer(f"Fill levels — {request.path.stem}", result.layers["waste_bins"], None, "waste_bins", RISK_STYLE)
    CACHE.prepare(layer, crs)
    feedback.progress(1.0, "Done")
    return layer, dict(result.summary), dict(result.params)


class ReadingsActions(QObject):
    """File → Import readings… and the imports it starts. ``imported(layer)`` once the layer is in the project."""

    imported = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.dialog: ReadingsDialog | None = None
        self.action = QAction("Import &readings…", window)
        self.action.setObjectName("import_readings")
        self.action.setStatusTip("Import fill-level sensor readings and map each bin's overflow risk")
        self.action.triggered.connect(lambda: self.open_dialog())
        menu = _file_menu(window)
        actions = menu.actions()
        after = actions.index(window.add_layer_action) + 1 if window.add_layer_action in actions else len(actions)
        menu.insertAction(actions[after] if after < len(actions) else None, self.action)

    def open_dialog(self, path: str | Path | None = None) -> ReadingsDialog:
        layers = self.window.project.layers if self.window.project else []
        dialog = ReadingsDialog(layers, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.run(dialog.request))
        self.dialog = dialog
        dialog.open()
        if path:
            dialog.set_path(path)
        return dialog

    def run(self, request: ImportRequest | None) -> None:
        window, project = self.window, self.window.project
        if request is None or project is None:
            return
        window._run(lambda fb: compute(request, project.crs, fb), f"Importing {request.path.name}…",
                    lambda out: self._finished(project, request, *out), "Cannot import the readings")

    def _finished(self, project, request: ImportRequest, layer: Layer, summary: dict, params: dict) -> None:
        if self.window.project is not project:
            return
        from app.analysis_dialog import RESULTS
        from app.analysis_panel import ResultEntry

        taken = {lay.name for lay in project.layers}
        name, n = layer.name, 2
        while layer.name in taken:
            layer.name, n = f"{name} ({n})", n + 1
        RESULTS.add(layer)
        self.window._layers_added(([layer], project.crs))
        entry = ResultEntry(layer.name, "fill-levels", "Bin fill levels and overflow risk", summary, params,
                            {"waste_bins": request.layer.name, "readings": request.path.name}, [layer.name],
                            {"overflow_pct": "%"})
        self.window.analyses.show_results().add_result(entry)
        self.window.statusBar().showMessage(f"{layer.name}: {summary['bins_at_risk']} of {summary['bins']} bins "
                                            "at overflow risk", 15000)
        self.imported.emit(layer)


def _file_menu(window):
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == "File":
            return action.menu()
    raise CityDeskError("the window has no File menu")


def install_readings(window) -> ReadingsActions:
    """Add File → Import readings… to ``window``; returns the controller (``window.readings``)."""
    return ReadingsActions(window)
