"""The CityDesk main window: the map in the middle, the Layers panel on the left, cursor
coordinates and the scale in the status bar. Opening a project or adding a layer runs in a
worker with progress and cancel; a problem the user can fix is shown in a message box."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from pyproj import CRS, Transformer
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolBar,
    QWidget,
)

import app
from app.analysis_actions import install_analyses
from app.editing import install_editing
from app.export_dialog import install_map_export
from app.layers_panel import LayersPanel
from app.map_canvas import MapCanvas
from app.map_toolbar import install_map_tools
from app.plain_text import as_rich_text, tell
from app.postgis_dialog import install_postgis
from app.project_actions import install_project_actions
from app.readings_dialog import install_readings
from app.render import CACHE
from app.scale_box import ScaleBox
from app.selection import Selection
from app.sensor_panel import install_sensor_panel
from app.start_page import install_file_drop, install_start_page
from app.table_docks import install_attribute_tables
from app.webmap_actions import install_webmap_actions
from app.workers import Task
from layers.errors import CityDeskError
from layers.feedback import SubFeedback
from layers.layer import Layer
from layers.project import Project, load_project
from layers.reader_notes import reader_notes

SAMPLE_PROJECT = Path(app.__file__).resolve().parents[1] / "sample_data" / "helsinki.citydesk"
LAYER_FILES = ("Layers (*.gpkg *.geojson *.json *.shp *.zip *.fgb *.parquet *.geoparquet *.csv *.osm.pbf "
               "*.osm *.xml);;All files (*)")


def _open_and_prepare(path: Path, feedback: Task) -> Project:
    """Load the project, then reproject and symbolize its layers into the render cache."""
    project = load_project(path, feedback=SubFeedback(feedback, 0.0, 0.7))
    _prepare(project.layers, project.crs, SubFeedback(feedback, 0.7, 1.0))
    return project


def _prepare(layers: list[Layer], crs: CRS, feedback) -> None:
    for i, layer in enumerate(layers):
        feedback.check_cancelled()
        feedback.progress(i / max(len(layers), 1), f"Preparing layer {layer.name}")
        CACHE.prepare(layer, crs)
    feedback.progress(1.0, "Ready")


def _read_and_prepare(path: Path, crs: CRS | None, feedback: Task) -> tuple[list[Layer], CRS]:
    from layers.crs import metric_crs
    from layers.readers import read_layers

    layers = read_layers(path, feedback=SubFeedback(feedback, 0.0, 0.6))
    layers = [lay for lay in layers if lay.gdf is not None]
    if not layers:
        raise CityDeskError("the file holds no layers to show", source=path, fix="Choose another file")
    if crs is None:
        crs = metric_crs(layers[0].gdf, name=layers[0].name)
    _prepare(layers, crs, SubFeedback(feedback, 0.6, 1.0))
    return layers, crs


class MainWindow(QMainWindow):
    """``open_project(path)`` opens a ``.citydesk`` file in a worker; ``show_project(project)``
    shows one already loaded. ``project`` is the project shown (None at start)."""

    projectShown = Signal(object)
    taskFinished = Signal()  # after an open / add-layer task ended (done, failed or cancelled)
    modifiedChanged = Signal(bool)  # on every mark_modified() call (autosave listens)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.project: Project | None = None
        self.warnings_shown: list[str] = []
        self._task: Task | None = None
        self._task_generation = 0
        self._on_done: Callable[[object], None] | None = None
        self._error_title = ""
        self._to_wgs84: Transformer | None = None
        self.modified = False
        self.selection = Selection(self)
        self.canvas = MapCanvas(self)
        self.canvas.set_selection(self.selection)  # selected features drawn in yellow on the map
        self.panel = LayersPanel(self)
        self._build_ui()
        self._connect()
        self.project_actions = install_project_actions(self)  # new / save / recent / unsaved prompt / autosave
        self.analyses = install_analyses(self)  # Analysis menu, dialogs, Results panel
        self.map_tools = install_map_tools(self)  # Map tools toolbar: zoom box, identify, select, measure
        self.attribute_tables = install_attribute_tables(self)  # Layer → Open attribute table (F6), docks
        self.readings = install_readings(self)  # File → Import readings… (fill-level sensors)
        self.webmap = install_webmap_actions(self)  # File → Export web map… / Export layers… (reports/)
        self.map_export = install_map_export(self)  # File → Export map… (meeting map with a preview)
        self.sensors = install_sensor_panel(self)  # View → Sensors time slider: dock with map colours and chart
        self.editing = install_editing(self)  # Edit menu and toolbar: scenario point editing (toolbar last)
        self.postgis = install_postgis(self)  # Layer → Add PostGIS layer…, Save result to database…
        self.setWindowTitle("CityDesk")

    # ------------------------------------------------------------------------------- build
    def _build_ui(self) -> None:
        install_start_page(self)  # the start page, then the map once a project is shown
        install_file_drop(self)  # files dropped on the window open or add layers
        dock = QDockWidget("Layers", self)
        dock.setObjectName("layers_dock")
        dock.setWidget(self.panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.resizeDocks([dock], [260], Qt.Orientation.Horizontal)

        self.open_action = QAction("&Open project…", self, shortcut=QKeySequence.StandardKey.Open)
        self.sample_action = QAction("Open &sample city", self)
        self.add_layer_action = QAction("&Add layer…", self, shortcut="Ctrl+L")
        self.quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        self.zoom_full_action = QAction("Zoom to &full extent", self, shortcut="Ctrl+0")
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.open_action, self.sample_action, self.add_layer_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.menuBar().addMenu("&View").addAction(self.zoom_full_action)
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        for action in (self.sample_action, self.open_action, self.add_layer_action, self.zoom_full_action):
            toolbar.addAction(action)
        self.addToolBar(toolbar)

        bar = self.statusBar()
        self.progress = QProgressBar(self, minimum=0, maximum=100, maximumWidth=180, visible=False)
        self.cancel_button = QPushButton("Cancel", self, visible=False)
        self.coords_label = QLabel("", self)
        self.scale_label = ScaleBox(self.canvas, self)  # shows the scale and takes a typed one
        self.scale_label.refused.connect(lambda message: self.statusBar().showMessage(message, 8000))
        for label in (self.coords_label, self.scale_label):
            label.setContentsMargins(8, 0, 8, 0)
        for widget in (self.progress, self.cancel_button, self.coords_label, self.scale_label):
            bar.addPermanentWidget(widget)

    def _connect(self) -> None:
        self.open_action.triggered.connect(self.choose_project)
        self.sample_action.triggered.connect(self.open_sample)
        self.add_layer_action.triggered.connect(self.choose_layer)
        self.quit_action.triggered.connect(self.close)
        self.zoom_full_action.triggered.connect(self.canvas.zoom_full)
        self.cancel_button.clicked.connect(self.cancel_task)
        self.panel.visibilityChanged.connect(self.canvas.refresh)
        self.panel.attach(self)  # reorder, rename, remove, opacity, style: mark modified and redraw
        self.canvas.cursorMoved.connect(self._show_cursor)
        self.canvas.extentChanged.connect(self._show_scale)
        self.canvas.renderFailed.connect(self._render_failed)

    # ------------------------------------------------------------------------------ actions
    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(self.project_actions.start_folder()),
                                              "CityDesk projects (*.citydesk);;All files (*)")
        if path:
            self.open_project(path)

    def choose_layer(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add layer", str(Path.cwd()), LAYER_FILES)
        if path:
            self.add_layer(path)

    def open_sample(self) -> None:
        if not SAMPLE_PROJECT.exists():
            QMessageBox.information(self, "Sample city not found",
                                    f"The sample city project is not there: {SAMPLE_PROJECT}. Build it with "
                                    "'make sample-city', or open a project with File → Open project…")
            return
        self.open_project(SAMPLE_PROJECT)

    def open_project(self, path: str | Path) -> None:
        """Load the project at ``path`` in a worker, then show it (``projectShown`` is emitted)."""
        path = Path(path)
        if not self.project_actions.unsaved_check(lambda: self.open_project(path)):
            return  # the user is asked about unsaved changes first
        self._run(lambda fb: _open_and_prepare(path, fb), f"Opening {path.name}…", self.show_project,
                  "Cannot open the project")

    def add_layer(self, path: str | Path) -> None:
        """Read every layer of the file (or PostGIS URL) at ``path`` and put them on top of the
        project's layers."""
        from layers.postgis_url import is_postgis_url, parse_url

        url = is_postgis_url(path)
        path = str(path).strip() if url else Path(path)  # Path() would fold the URL's '//'
        shown = str(parse_url(path)) if url else path.name  # never a password
        crs = self.project.crs if self.project else None
        self._run(lambda fb: _read_and_prepare(path, crs, fb), f"Reading {shown}…", self._layers_added,
                  "Cannot add the layer")

    def show_project(self, project: Project) -> None:
        """Show ``project``: its layers on the map at its saved view (else the full extent)."""
        self.project = project
        self._to_wgs84 = Transformer.from_crs(project.crs, "EPSG:4326", always_xy=True)
        self.mark_modified(False)
        self.panel.set_layers(project.layers, self._legend)
        self.canvas.set_layers(project.layers, project.crs, project.view)
        if project.warnings:
            self._show_warnings(project.warnings)
        self.projectShown.emit(project)

    def mark_modified(self, modified: bool = True) -> None:
        """The project has (or no longer has) changes that are not saved: shown as '*' in the title."""
        self.modified = modified
        title = self.project.title if self.project else "CityDesk"
        self.setWindowTitle(f"{'*' if modified else ''}{title} — CityDesk" if self.project else "CityDesk")
        self.modifiedChanged.emit(modified)

    def open_attribute_table(self, layer: Layer | None = None):
        """Open (or bring forward) the attribute table of ``layer`` (default: the current layer in
        the Layers panel); returns the :class:`app.attribute_table.AttributeTable` or None."""
        return self.attribute_tables.open(layer)

    def cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()

    # ------------------------------------------------------------------------------ helpers
    def _run(self, fn: Callable[[Task], object], message: str, on_done: Callable[[object], None],
             error_title: str) -> None:
        """Run ``fn`` in a worker; a task still running is cancelled and its result dropped."""
        if self._task is not None:
            self._task.cancel()
        self._task_generation += 1
        task = Task(fn, self._task_generation)
        self._task, self._on_done, self._error_title = task, on_done, error_title
        task.signals.progress.connect(self._task_progress)
        task.signals.finished.connect(self._task_finished)
        task.signals.failed.connect(self._task_failed)
        task.signals.cancelled.connect(self._task_cancelled)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.statusBar().showMessage(message)
        task.start()

    def _task_progress(self, generation: int, fraction: float, message: str) -> None:
        if generation == self._task_generation:
            self.progress.setValue(round(fraction * 100))
            if message:
                self.statusBar().showMessage(message)

    def _task_finished(self, generation: int, result: object) -> None:
        on_done = self._on_done
        if self._end_task(generation) and on_done is not None:
            on_done(result)

    def _task_failed(self, generation: int, message: str, user_error: bool) -> None:
        if self._end_task(generation):
            self._error(self._error_title, message, user_error)

    def _task_cancelled(self, generation: int) -> None:
        if self._end_task(generation):
            self.statusBar().showMessage("Cancelled", 5000)

    def _end_task(self, generation: int) -> bool:
        """True if the task of ``generation`` is the current one (its result is used)."""
        if generation != self._task_generation or self._task is None:
            return False
        self._task = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.statusBar().clearMessage()
        self.taskFinished.emit()
        return True

    def _error(self, title: str, message: str, user_error: bool) -> None:
        if not user_error:
            print(f"CityDesk: unexpected error: {message}", file=sys.stderr)
            message = f"Something went wrong that CityDesk did not expect: {message}"
        tell(self, title, message)

    def _layers_added(self, result: tuple[list[Layer], CRS]) -> None:
        layers, crs = result
        if self.project is None:
            self.show_project(Project(layers=list(layers), crs=crs, title="Untitled project"))
            return
        self.project.layers[0:0] = layers  # new layers go on top
        self.panel.set_layers(self.project.layers, self._legend)
        self.canvas.refresh()
        self.mark_modified()
        noted = [lay.name for lay in layers if reader_notes(lay.gdf.attrs)]
        more = f" — notes on {', '.join(noted)} from reading them: hover the layer" if noted else ""
        self.statusBar().showMessage(f"Added {', '.join(lay.name for lay in layers)}{more}", 15000 if noted else 5000)

    def _legend(self, layer: Layer) -> list[tuple[str, str]]:
        return CACHE.legend(layer, self.project.crs) if self.project else []

    def _show_warnings(self, warnings: list[str]) -> None:
        """Once per project, without blocking: in the status bar, all of them in its tooltip."""
        self.warnings_shown = list(warnings)
        first = warnings[0] if len(warnings) == 1 else f"{warnings[0]} (and {len(warnings) - 1} more)"
        self.statusBar().showMessage(f"Opened with warnings: {first}", 20000)
        self.statusBar().setToolTip(as_rich_text("\n".join(warnings)))  # layer names come from files

    def _render_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Drawing the map failed: {message}", 10000)

    def _show_cursor(self, x: float, y: float) -> None:
        if self.project is None:
            return
        crs = self.project.crs
        code = crs.to_epsg()
        name = f"EPSG:{code}" if code else crs.name
        if crs.is_geographic:
            text = f"{x:.5f}, {y:.5f} ({name})"
        else:
            text = f"E {x:,.1f}  N {y:,.1f} ({name})".replace(",", " ")
        if self._to_wgs84 is not None and not crs.is_geographic:
            lon, lat = self._to_wgs84.transform(x, y)
            text += f"   {abs(lat):.5f}°{'N' if lat >= 0 else 'S'} {abs(lon):.5f}°{'E' if lon >= 0 else 'W'}"
        self.coords_label.setText(text)

    def _show_scale(self, _extent=None) -> None:
        if self.project is not None:
            self.scale_label.setText(f"1:{self.canvas.scale_denominator():,.0f}".replace(",", " "))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.cancel_task()
        self.canvas.cancel_render()
        super().closeEvent(event)
