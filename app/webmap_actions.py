"""File → Export web map… and File → Export layers…: a dialog to choose the layers (and, for the
web map, the popup fields, the size budget, the extent and an optional OpenStreetMap
background), then the export runs in a worker with progress and cancel. Nothing is opened
automatically: the status bar and a message say what was written and, for the web map, what
was simplified or dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.plain_text import tell
from layers.layer import Layer
from reports.webmap import DEFAULT_BUDGET_MB
from reports.webmap_data import default_fields


@dataclass
class ExportRequest:
    """What the dialog asks for: layers (top first), the output path and the web map options."""

    layers: list[Layer]
    path: Path
    fields: dict[str, list[str]] = field(default_factory=dict)
    budget_mb: float = DEFAULT_BUDGET_MB
    extent: tuple[float, float, float, float] | None = None
    tiles: bool = False


class ExportDialog(QDialog):
    """Choose layers and a file; with ``web`` also popup fields, budget, extent and background.
    Views are thin: ``request()`` reads the widgets, the controller runs the export."""

    def __init__(self, layers: list[Layer], *, web: bool, default_path: Path, extent=None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.web, self._extent = web, extent
        self._layers = [lay for lay in layers if lay.gdf is not None]
        self._fields: dict[str, list[str]] = {lay.name: default_fields(lay) for lay in self._layers}
        self.setWindowTitle("Export web map" if web else "Export layers")
        self.layer_list = QListWidget(self)
        for lay in self._layers:
            item = QListWidgetItem(lay.name)  # plain text: a list item never reads HTML
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if lay.visible or not web else Qt.CheckState.Unchecked)
            self.layer_list.addItem(item)
        self.path_edit = QLineEdit(str(default_path), self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Layers:", self.layer_list)
        if web:
            self.field_list = QListWidget(self)
            self.field_label = QLabel("Popup fields:", self)
            self.field_label.setTextFormat(Qt.TextFormat.PlainText)
            self.field_label.setWordWrap(True)
            self.field_label.setMaximumWidth(170)
            form.addRow(self.field_label, self.field_list)
            self.budget = QDoubleSpinBox(self, minimum=1.6, maximum=500.0, value=DEFAULT_BUDGET_MB, suffix=" MB",
                                         decimals=1, singleStep=1.0)
            self.budget.setToolTip("Large layers are simplified to fit; over the budget the export warns and says "
                                   "what to leave out")
            form.addRow("Size budget:", self.budget)
            self.view_only = QCheckBox("Only the features in the current map view", self)
            self.view_only.setEnabled(extent is not None)
            form.addRow("", self.view_only)
            self.tiles = QCheckBox("OpenStreetMap background (shown only with an internet connection)", self)
            form.addRow("", self.tiles)
            self.layer_list.currentRowChanged.connect(self._show_fields)
            self.field_list.itemChanged.connect(self._field_changed)
            self.layer_list.setCurrentRow(0)
        form.addRow("File:", row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(520, 560 if web else 380)

    def _show_fields(self, row: int) -> None:
        self.field_list.blockSignals(True)
        self.field_list.clear()
        if 0 <= row < len(self._layers):
            layer = self._layers[row]
            self.field_label.setText(f"Popup fields of {layer.name}:")
            chosen = self._fields[layer.name]
            for column in (c for c in layer.gdf.columns if c != layer.gdf.geometry.name):
                item = QListWidgetItem(str(column))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if column in chosen else Qt.CheckState.Unchecked)
                self.field_list.addItem(item)
        self.field_list.blockSignals(False)

    def _field_changed(self, _item) -> None:
        row = self.layer_list.currentRow()
        if 0 <= row < len(self._layers):
            layer = self._layers[row]
            checked = {self.field_list.item(i).text() for i in range(self.field_list.count())
                       if self.field_list.item(i).checkState() == Qt.CheckState.Checked}
            self._fields[layer.name] = [c for c in layer.gdf.columns if c in checked]

    def _browse(self) -> None:
        pattern = ("Web pages (*.html)" if self.web
                   else "GeoPackage with styles (*.gpkg);;GeoJSON (*.geojson);;CSV (*.csv)")
        path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.path_edit.text(), pattern)
        if path:
            self.path_edit.setText(path)

    def request(self) -> ExportRequest | None:
        """The export asked for, or None (with a message) when no layer or no file is chosen."""
        chosen = [lay for i, lay in enumerate(self._layers)
                  if self.layer_list.item(i).checkState() == Qt.CheckState.Checked]
        text = self.path_edit.text().strip()
        if not chosen or not text:
            tell(self, self.windowTitle(), "Choose at least one layer and a file to write.")
            return None
        path = Path(text).expanduser()
        if self.web and path.suffix.lower() not in (".html", ".htm"):
            path = path.with_name(path.name + ".html")
        if not self.web:
            return ExportRequest(chosen, path)
        extent = self._extent if self.view_only.isChecked() else None
        return ExportRequest(chosen, path, {lay.name: self._fields[lay.name] for lay in chosen},
                             self.budget.value(), extent, self.tiles.isChecked())


def run_webmap(request: ExportRequest, project, feedback):
    """The worker's job: the web map of the request (returns the WebMapReport)."""
    from reports.webmap import write_webmap

    return write_webmap(request.layers, request.path, fields=request.fields, budget_mb=request.budget_mb,
                        extent=request.extent, extent_crs=project.crs, tiles=request.tiles, title=project.title,
                        attribution=list(project.attribution), feedback=feedback)


def run_export(request: ExportRequest, feedback) -> list[Path]:
    from reports.data_export import export_layers

    return export_layers(request.layers, request.path, feedback=feedback)


class WebMapActions(QObject):
    """The two File menu actions and the exports they start; ``exported(result)`` when one ends
    (a WebMapReport or the list of files written)."""

    exported = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.dialog: ExportDialog | None = None
        self.webmap_action = QAction("Export &web map…", window)
        self.webmap_action.setObjectName("export_webmap")
        self.webmap_action.setStatusTip("Write an interactive map that works offline (one HTML file)")
        self.layers_action = QAction("Export &layers…", window)
        self.layers_action.setObjectName("export_layers")
        self.layers_action.setStatusTip("Write layers to a GeoPackage with their styles (QGIS), GeoJSON or CSV")
        self.webmap_action.triggered.connect(lambda: self.open_dialog(web=True))
        self.layers_action.triggered.connect(lambda: self.open_dialog(web=False))
        menu = next(a.menu() for a in window.menuBar().actions()
                    if a.menu() is not None and a.text().replace("&", "") == "File")
        quit_action = window.quit_action if window.quit_action in menu.actions() else None
        for action in (self.webmap_action, self.layers_action):
            menu.insertAction(quit_action, action)
        menu.insertSeparator(quit_action)
        self._enable()
        window.projectShown.connect(lambda _project: self._enable())

    def _enable(self) -> None:
        for action in (self.webmap_action, self.layers_action):
            action.setEnabled(self.window.project is not None)

    def open_dialog(self, *, web: bool) -> ExportDialog | None:
        project = self.window.project
        if project is None:
            return None
        folder = project.path.parent if project.path else Path.cwd()
        stem = project.path.stem if project.path else "citydesk"
        default = folder / (f"{stem}-map.html" if web else f"{stem}-layers.gpkg")
        dialog = ExportDialog(project.layers, web=web, default_path=default, extent=self.window.canvas.extent(),
                              parent=self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.run(dialog.request(), web=web))
        self.dialog = dialog
        dialog.open()
        return dialog

    def run(self, request: ExportRequest | None, *, web: bool) -> None:
        project = self.window.project
        if request is None or project is None:
            return
        if web:
            job = lambda fb: run_webmap(request, project, fb)  # noqa: E731
        else:
            job = lambda fb: run_export(request, fb)  # noqa: E731
        self.window._run(job, f"Exporting {request.path.name}…", self._finished,
                         "Cannot export the web map" if web else "Cannot export the layers")

    def _finished(self, result) -> None:
        if isinstance(result, list):
            names = ", ".join(p.name for p in result)
            self.window.statusBar().showMessage(f"Exported {names}", 10000)
        else:
            self.window.statusBar().showMessage(f"Web map written: {result.path}", 10000)
            if result.over_budget:
                tell(self.window, "Web map over the size budget", "\n".join(result.lines()))
        self.exported.emit(result)


def install_webmap_actions(window) -> WebMapActions:
    """Add File → Export web map… and File → Export layers… to ``window`` (``window.webmap``)."""
    return WebMapActions(window)
