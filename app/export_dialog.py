"""File → Export map…: the meeting map dialog (title, subtitle, paper, orientation, resolution,
extent) with a preview of the page rendered in a worker; the export itself runs through the
window's task runner (progress bar and Cancel). The page is drawn by :mod:`reports.meeting_map`,
the same as ``citydesk map``."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.plain_text import tell
from app.workers import Task
from reports.meeting_map import PAPERS, MapOptions, compose_map, write_map

VIEW, ALL = "Current map view", "All visible layers"
PREVIEW_DPI = 40


class MapExportDialog(QDialog):
    """The choices and a preview. ``options()`` reads the widgets; the preview is re-rendered
    (in a worker, older renders dropped by generation) a moment after a choice changes."""

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.window = window
        project = window.project
        self.setWindowTitle("Export map")
        self.title_edit = QLineEdit(project.title, self)
        self.subtitle_edit = QLineEdit("", self)
        self.paper = QComboBox(self)
        self.paper.addItems(list(PAPERS))
        self.orientation = QComboBox(self)
        self.orientation.addItems(["Landscape", "Portrait"])
        self.dpi = QSpinBox(self, minimum=72, maximum=600, value=200, suffix=" dpi", singleStep=50)
        self.extent = QComboBox(self)
        self.extent.addItems([VIEW, ALL] + [f"Layer: {lay.name}" for lay in project.layers if lay.gdf is not None])
        form = QFormLayout()
        form.addRow("Title:", self.title_edit)
        form.addRow("Subtitle:", self.subtitle_edit)
        form.addRow("Paper:", self.paper)
        form.addRow("Orientation:", self.orientation)
        form.addRow("Resolution:", self.dpi)
        form.addRow("Extent:", self.extent)
        self.preview = QLabel("Rendering the preview…", self)
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(480, 360)
        self.preview.setStyleSheet("background: #e9e9e9; border: 1px solid #bbb;")
        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        side = QVBoxLayout()
        side.addLayout(form)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addLayout(side, 0)
        row.addWidget(self.preview, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.buttons)
        self._generation = 0
        self._task: Task | None = None
        self.preview_image: bytes | None = None
        self._timer = QTimer(self, singleShot=True, interval=300)
        self._timer.timeout.connect(self.render_preview)
        for signal in (self.title_edit.textChanged, self.subtitle_edit.textChanged, self.paper.currentIndexChanged,
                       self.orientation.currentIndexChanged, self.extent.currentIndexChanged):
            signal.connect(self._timer.start)
        self.render_preview()

    def options(self) -> MapOptions:
        project = self.window.project
        choice = self.extent.currentText()
        extent = None
        if choice == VIEW:
            extent = tuple(self.window.canvas.extent())
        elif choice.startswith("Layer: "):
            layer = project.layer(choice[len("Layer: "):])
            gdf = layer.gdf.to_crs(project.crs) if layer.gdf.crs is not None else layer.gdf
            extent = tuple(float(v) for v in gdf.total_bounds)
        return MapOptions(title=self.title_edit.text(), subtitle=self.subtitle_edit.text(),
                          paper=self.paper.currentText(), landscape=self.orientation.currentIndex() == 0,
                          dpi=self.dpi.value(), extent=extent, attribution=tuple(project.attribution))

    def render_preview(self) -> None:
        """Render the page at low resolution in a worker; a newer request drops an older one."""
        if self._task is not None:
            self._task.cancel()
        self._generation += 1
        layers, crs = list(self.window.project.layers), self.window.project.crs
        options = replace(self.options(), dpi=PREVIEW_DPI)

        def work(task):
            from matplotlib import rc_context

            from reports.meeting_map import RC

            with rc_context(RC):
                fig = compose_map(layers, crs, options, feedback=task)
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=PREVIEW_DPI)
            return buffer.getvalue()

        task = Task(work, self._generation)
        task.signals.finished.connect(self._preview_done)
        task.signals.failed.connect(self._preview_failed)
        self._task = task
        task.start()

    def _preview_done(self, generation: int, png: bytes) -> None:
        if generation != self._generation:
            return
        self._task = None
        self.preview_image = png
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        self.preview.setPixmap(pixmap.scaled(self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))

    def _preview_failed(self, generation: int, message: str, _user: bool) -> None:
        if generation == self._generation:
            self._task = None
            self.preview.setText(f"No preview: {message}")

    def export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export map", str(Path.home() / "meeting_map.pdf"),
                                              "PDF (*.pdf);;SVG (*.svg);;PNG image (*.png)")
        if not name:
            return
        path = Path(name)
        if path.suffix.lower() not in (".pdf", ".svg", ".png"):
            path = path.with_suffix(".pdf")
        layers, crs, options = list(self.window.project.layers), self.window.project.crs, self.options()
        self.accept()
        self.window._run(lambda task: write_map(layers, path, crs=crs, options=options, feedback=task),
                         f"Exporting the map to {path.name}", lambda out: self._exported(out), "Export map")

    def _exported(self, out) -> None:
        self.window.statusBar().showMessage(f"Map written to {out}", 10000)
        self.window.map_exported = out

    def done(self, result: int) -> None:
        if self._task is not None:
            self._task.cancel()
        super().done(result)


def install_map_export(window) -> QAction:
    """File → Export map… (Ctrl+P) on ``window``; returns the action."""
    action = QAction("Export &map…", window)
    action.setShortcut("Ctrl+P")
    action.setStatusTip("A print-ready map (PDF, SVG, PNG) with legend, scale bar and attribution")
    action.triggered.connect(lambda: open_map_export(window))
    menu = next(a.menu() for a in window.menuBar().actions()
                if a.menu() is not None and a.text().replace("&", "") == "File")
    quit_action = window.quit_action if window.quit_action in menu.actions() else None
    menu.insertAction(quit_action, action)
    window.map_exported = None
    return action


def open_map_export(window) -> MapExportDialog | None:
    project = window.project
    if project is None or not any(lay.visible and lay.gdf is not None for lay in project.layers):
        tell(window, "Export map", "There is no visible layer to put on a map: open a project or show a layer.")
        return None
    dialog = MapExportDialog(window)
    window.map_export_dialog = dialog
    dialog.show()
    return dialog
