"""The Analysis menu and the runs it starts.

``install_analyses(window)`` adds the menu (every registered analysis, then the project's saved
settings) and returns the :class:`AnalysisActions` controller (``window.analyses``). A run goes
through the analysis's dialog (:mod:`app.analysis_dialog`), runs in a worker with the window's
progress bar and Cancel, adds its result layers on top of the project (not saved to a file until
the project is), remembers its settings in ``project.analyses`` and shows its key figures in the
Results panel (:mod:`app.analysis_panel`)."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMessageBox

import analysis.runner as runner
from analysis.registry import Analysis, analyses, get
from analysis.wording import headline
from app.analysis_dialog import RESULTS, AnalysisDialog, Request
from app.analysis_panel import ResultEntry, ResultsPanel
from app.render import CACHE
from app.result_store import entry_from_dict, entry_to_dict
from layers.errors import CityDeskError
from layers.feedback import SubFeedback
from layers.layer import ROLES, Layer
from layers.project import AnalysisRun
from layers.style import Style


def result_layers(spec: Analysis, request: Request, result) -> list[Layer]:
    """The result layers as project layers, named '<run title> — <result name>', styled by the
    analysis's declared style, else like the input layer of the same role, else by default."""
    out = []
    styles = spec.styles_for(result.summary)
    for name, gdf in result.layers.items():
        source_layer = request.layers.get(name)
        style = styles.get(name)
        if style is None and source_layer is not None:  # like its input, outlined: e.g. the targets that counted
            style = replace(source_layer.style, stroke_width=max(source_layer.style.stroke_width, 2.0))
        style = style or Style()
        role = source_layer.role if source_layer else name if name in ROLES else "other"
        out.append(Layer(f"{request.run.title} — {name}", gdf, None, role, style))
    return out


def compute(spec: Analysis, request: Request, crs, feedback) -> tuple[object, list[Layer]]:
    """Run in a worker: the analysis, then its result layers prepared for drawing."""
    inputs = {role: layer.gdf for role, layer in request.layers.items()}
    names = {role: layer.name for role, layer in request.layers.items()}
    if request.engine.distributed:  # issue 10: tiles on a Dask cluster (app.engine_choice)
        from app.engine_choice import run_with_choice

        result = run_with_choice(request.engine, spec.id, inputs, request.run.params,
                                 feedback=SubFeedback(feedback, 0.0, 0.9), names=names,
                                 notify=lambda text: feedback.progress(0.0, text))  # why it runs whole
    else:
        result = runner.run_analysis(spec.id, inputs, request.run.params, feedback=SubFeedback(feedback, 0.0, 0.9),
                                     names=names)
    layers = result_layers(spec, request, result)
    for i, layer in enumerate(layers):
        feedback.check_cancelled()
        feedback.progress(0.9 + 0.1 * i / len(layers), f"Preparing {layer.name}")
        CACHE.prepare(layer, crs)
    return result, layers


class AnalysisActions(QObject):
    """The Analysis menu (every registered analysis, then the project's saved settings) and the
    runs it starts. ``resultAdded(entry)`` after a run's layers are in the project."""

    resultAdded = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.dialog: AnalysisDialog | None = None
        self.dock: QDockWidget | None = None
        self.panel: ResultsPanel | None = None
        self.menu = window.menuBar().addMenu("&Analysis")
        self.menu.aboutToShow.connect(self.fill_menu)
        window.projectShown.connect(self.fill_menu)
        window.projectShown.connect(self._restore_results)
        self._restoring = False
        self.fill_menu()

    def fill_menu(self, *_args) -> None:
        self.menu.clear()
        project = self.window.project
        registered = analyses()
        for spec in registered.values():
            action = self.menu.addAction(f"{spec.title.replace('&', '&&')}…")
            action.setObjectName(f"analysis_{spec.id}")
            action.setStatusTip(spec.description)
            action.setEnabled(project is not None)
            action.triggered.connect(lambda _=False, i=spec.id: self.open_dialog(i))
        if project is not None and project.analyses:
            self.menu.addSection("Saved in the project")
            for run in project.analyses:
                action = self.menu.addAction(f"{(run.title or run.analysis).replace('&', '&&')}…")
                action.setEnabled(run.analysis in registered)
                action.triggered.connect(lambda _=False, r=run: self.open_dialog(r.analysis, r))
        self.menu.addSeparator()
        self.menu.addAction("Results panel").triggered.connect(self.show_results)

    def open_dialog(self, analysis_id: str, preset: AnalysisRun | None = None) -> AnalysisDialog | None:
        """Open (without blocking) the dialog of an analysis, prefilled from ``preset`` if given."""
        project = self.window.project
        if project is None:
            QMessageBox.information(self.window, "No project", "Open a project or add layers first.")
            return None
        spec = get(analysis_id)
        saved = [run for run in project.analyses if run.analysis == spec.id]
        dialog = AnalysisDialog(spec, project.layers, saved, preset, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.run(dialog.request))
        self.dialog = dialog
        dialog.open()
        return dialog

    def run(self, request: Request) -> bool:
        """Start ``request`` in a worker; False (and a message) when another task is running."""
        window, project = self.window, self.window.project
        if project is None or request is None:
            return False
        if window._task is not None:
            QMessageBox.information(window, "CityDesk is busy", "Another task is running. Wait until it has "
                                    "finished, or cancel it in the status bar, then run the analysis again.")
            return False
        spec = get(request.run.analysis)
        request.run.title = self._title_for(project, spec, request.run)
        window._run(lambda fb: compute(spec, request, project.crs, fb), f"Running {request.run.title}…",
                    lambda out: self._finished(project, spec, request, *out), f"{spec.title} could not run")
        return True

    def show_results(self) -> ResultsPanel:
        """The Results dock, created on first use, shown and raised."""
        if self.dock is None:
            self.panel = ResultsPanel()
            self.dock = QDockWidget("Results", self.window)
            self.dock.setObjectName("results_dock")
            self.dock.setWidget(self.panel)
            self.panel.changed.connect(self._results_changed)
            self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
            self.window.resizeDocks([self.dock], [320], Qt.Orientation.Horizontal)
        self.dock.show()
        self.dock.raise_()
        return self.panel

    def _restore_results(self, project) -> None:
        """Show the entries saved with ``project`` (the panel of another project is emptied)."""
        if project is None or (self.panel is None and not project.results):
            return
        entries = []
        for data in project.results:
            try:
                entries.append(entry_from_dict(data))
            except ValueError:
                continue  # load_project already kept only well-formed entries
        self._restoring = True
        try:
            panel = self.show_results() if entries else self.panel
            panel.clear()
            for entry in entries:
                panel.add_result(entry)
        finally:
            self._restoring = False

    def _results_changed(self) -> None:
        project = self.window.project
        if self._restoring or project is None or self.panel is None:
            return
        saved = [entry_to_dict(entry) for entry in self.panel.entries()]
        if saved != project.results:
            project.results = saved
            self.window.mark_modified()

    def _finished(self, project, spec: Analysis, request: Request, result, layers: list[Layer]) -> None:
        if self.window.project is not project:
            return  # another project was opened meanwhile
        taken = {lay.name for lay in project.layers}
        for layer in layers:
            layer.name = _unique(layer.name, taken)
            taken.add(layer.name)
            RESULTS.add(layer)
        self.window._layers_added((layers, project.crs))
        self._remember(project, spec, request.run)
        self.window.mark_modified()
        entry = ResultEntry(request.run.title, spec.id, spec.title, dict(result.summary), dict(result.params),
                            dict(result.inputs), [lay.name for lay in layers],
                            {p.name: p.unit for p in spec.params if p.unit},
                            charts=dict(getattr(result, "charts", {})))
        self.show_results().add_result(entry)
        self.window.statusBar().showMessage(f"{request.run.title}: {headline(result.summary, spec.id)}", 15000)
        self.resultAdded.emit(entry)

    @staticmethod
    def _same(spec: Analysis, a: AnalysisRun, b: AnalysisRun) -> bool:
        try:
            return a.layers == b.layers and runner.parse_params(spec, a.params) == runner.parse_params(spec, b.params)
        except CityDeskError:
            return False

    def _title_for(self, project, spec: Analysis, run: AnalysisRun) -> str:
        """The run's title, made unique among saved settings that differ from it."""
        others = {r.title for r in project.analyses if not (r.analysis == run.analysis and self._same(spec, r, run))}
        return _unique(run.title, others)

    def _remember(self, project, spec: Analysis, run: AnalysisRun) -> None:
        """Keep the settings in ``project.analyses`` (once: the same settings are not added again)."""
        if not any(r.analysis == run.analysis and self._same(spec, r, run) for r in project.analyses):
            project.analyses.append(run)


def _unique(name: str, taken) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name} ({n})", n + 1
    return out


def install_analyses(window) -> AnalysisActions:
    """Add the Analysis menu to ``window``; returns the controller (keep it as ``window.analyses``)."""
    return AnalysisActions(window)
