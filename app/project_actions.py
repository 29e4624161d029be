"""Projects in the window: New, Open recent, Save, Save as, and the unsaved-changes prompt.

``install_project_actions(window)`` adds the actions to the File menu and returns the
:class:`ProjectActions` controller (``window.project_actions``). Layers without a file of their
own (analysis results, edited copies) are saved into ``<project>_layers.gpkg`` next to the project
(:func:`layers.project.write_layers_file`, in a worker). Autosave and recovery after a crash are
:mod:`app.autosave` (``project_actions.autosave``), turned on by :meth:`ProjectActions.start_session`.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from pyproj import CRS
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QToolBar

import app
from app.autosave import Autosave, autosave_root, inside
from app.plain_text import tell
from layers.errors import CityDeskError
from layers.project import SUFFIX, Project, layers_to_keep, write_layers_file

RECENT_KEY = "recent_projects"
MAX_RECENT = 10
SAMPLE_PROJECT = Path(app.__file__).resolve().parents[1] / "sample_data" / "helsinki.citydesk"
PROJECT_FILES = "CityDesk projects (*.citydesk)"


def settings() -> QSettings:
    """CityDesk's settings (the start page reads the recent projects from the same place)."""
    return QSettings("CityDesk", "CityDesk")


def recent_projects() -> list[str]:
    """Paths of the recently opened or saved projects, newest first."""
    value = settings().value(RECENT_KEY, [])
    values = [value] if isinstance(value, str) else list(value or [])
    return [str(v) for v in values if v]


def remember_recent(path: str | Path) -> None:
    path = str(Path(path).resolve())
    settings().setValue(RECENT_KEY, ([path] + [p for p in recent_projects() if p != path])[:MAX_RECENT])


class ProjectActions(QObject):
    """New / Save / Save as / Open recent on the File menu, and the unsaved-changes prompt before
    closing, opening or creating another project. ``saved(path)`` after a save."""

    saved = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.prompt: QMessageBox | None = None  # the unsaved-changes question while it is asked
        self.autosave = Autosave(window)
        self._confirmed = False
        self._build_menu()
        window.installEventFilter(self)
        window.projectShown.connect(self._shown)

    def start_session(self, fallback: Callable[[], None] | None = None) -> bool:
        """Turn autosave on and offer to recover a crashed session's work (see :meth:`Autosave.start`)."""
        return self.autosave.start(fallback)

    def _build_menu(self) -> None:
        w = self.window
        self.new_action = QAction("&New project", w, shortcut=QKeySequence.StandardKey.New)
        self.save_action = QAction("&Save", w, shortcut=QKeySequence.StandardKey.Save)
        self.save_as_action = QAction("Save &as…", w, shortcut=QKeySequence.StandardKey.SaveAs)
        self.recent_menu = QMenu("Open &recent", w)
        self.new_action.triggered.connect(self.new_project)
        self.save_action.triggered.connect(lambda: self.save())
        self.save_as_action.triggered.connect(lambda: self.save_as())
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        for holder in w.open_action.associatedObjects():
            if isinstance(holder, QMenu):
                holder.insertAction(w.open_action, self.new_action)
                holder.insertMenu(w.sample_action, self.recent_menu)
                end = holder.insertSeparator(w.add_layer_action)
                holder.insertActions(end, [self.save_action, self.save_as_action])
                holder.insertSeparator(self.save_action)
            elif isinstance(holder, QToolBar):
                holder.insertAction(w.add_layer_action, self.save_action)
        self.fill_recent_menu()

    # ---------------------------------------------------------------------- unsaved changes
    def unsaved_check(self, then: Callable[[], None]) -> bool:
        """True when there is nothing unsaved: go on. Else False, and the user is asked (Save /
        Discard / Cancel, without blocking); ``then()`` runs after Save or Discard, not after Cancel."""
        w = self.window
        if self._confirmed or not w.modified or w.project is None:
            return True
        if self.prompt is not None:
            self.prompt.raise_()
            return False
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"The project “{w.project.title}” has changes that are not saved.",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, w)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText("Save them before going on? Discarded changes are lost.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _result: self._answered(box, then))
        self.prompt = box
        box.open()
        return False

    def _answered(self, box: QMessageBox, then: Callable[[], None]) -> None:
        clicked = box.clickedButton()
        button = box.standardButton(clicked) if clicked is not None else QMessageBox.StandardButton.Cancel
        self.prompt = None
        box.deleteLater()
        if button == QMessageBox.StandardButton.Save:
            self.save(then=then)
        elif button == QMessageBox.StandardButton.Discard:
            self._confirmed = True
            try:
                then()
            finally:
                self._confirmed = False

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt name)
        if watched is self.window and event.type() == QEvent.Type.Close:
            if self.unsaved_check(self.window.close):
                self.autosave.end()
                return False
            event.ignore()
            return True
        return False

    # ---------------------------------------------------------------------- new / open / save
    def new_project(self) -> None:
        """An empty project in the current project's CRS (after the unsaved-changes prompt)."""
        if not self.unsaved_check(self.new_project):
            return
        w = self.window
        crs = w.project.crs if w.project is not None else CRS.from_epsg(3857)
        w.show_project(Project(crs=crs, title="Untitled project"))
        w.statusBar().showMessage("New project: add layers with File → Add layer…", 10000)

    def start_folder(self) -> Path:
        """Where the Open and Save dialogs start: the project's folder, else the latest recent one's."""
        project = self.window.project
        if project is not None and project.path is not None and not _same_file(project.path, SAMPLE_PROJECT):
            return project.path.parent
        folders = [Path(p).parent for p in recent_projects() if not _same_file(p, SAMPLE_PROJECT)]
        return next((f for f in folders if f.is_dir()), Path.home())

    def open_recent(self, path: str | Path) -> None:
        if not Path(path).exists():
            tell(self.window, "Project not found", f"{path}: the project file does not exist. "
                 "It was moved or deleted; open it with File → Open project…")
            return
        self.window.open_project(path)

    def save(self, then: Callable[[], None] | None = None) -> bool:
        """Save to the project's file (Save as when it has none, or it is the sample city or
        read-only). Returns whether saving started; ``then()`` runs once it succeeded."""
        project = self.window.project
        if project is None:
            return False
        path = project.path
        if path is None or _same_file(path, SAMPLE_PROJECT) or not _writable(path):
            return self.save_as(then)
        return self.save_to(path, then)

    def save_as(self, then: Callable[[], None] | None = None) -> bool:
        project = self.window.project
        if project is None:
            return False
        if project.path is not None and not _same_file(project.path, SAMPLE_PROJECT):
            start = str(project.path)
        else:
            start = str(self.start_folder() / f"{project.title or 'project'}{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project as", start, PROJECT_FILES)
        return self.save_to(path, then) if path else False

    def save_to(self, path: str | Path, then: Callable[[], None] | None = None) -> bool:
        """Save the project to ``path``: layers without a file of their own first (in a worker,
        with progress), then the project file. ``then()`` runs once it succeeded."""
        w, project = self.window, self.window.project
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        if w._task is not None:
            QMessageBox.information(w, "CityDesk is busy", "Another task is running. Wait until it has finished, "
                                    "or cancel it in the status bar, then save again.")
            return False
        if w.project is not None and w.project.layers:
            project.view = tuple(float(v) for v in w.canvas.extent())
        try:
            to_write = layers_to_keep(project, path)
        except CityDeskError as exc:
            tell(w, "Cannot save the project", exc.message)
            return False
        if not to_write:
            return self._write_project(project, path, [], then)
        w._run(lambda fb: write_layers_file(project, path, feedback=fb), f"Saving {path.name}…",
               lambda sources: self._write_project(project, path, sources, then), "Cannot save the project")
        return True

    def _write_project(self, project: Project, path: Path, sources, then) -> bool:
        for layer, source in sources:
            layer.source = source
        if not project.title or project.title == "Untitled project":
            project.title = path.name[: -len(SUFFIX)]
        try:
            project.save(path)
        except CityDeskError as exc:
            tell(self.window, "Cannot save the project", exc.message)
            return False
        if self.window.project is project:
            self.window.mark_modified(False)
        remember_recent(path)
        self.window.statusBar().showMessage(f"Saved {path}", 8000)
        self.saved.emit(path)
        if then is not None:
            then()
        return True

    # ---------------------------------------------------------------------- recent projects
    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = recent_projects()
        for i, path in enumerate(paths):
            exists = Path(path).exists()
            name = Path(path).name.replace("&", "&&")
            action = menu.addAction(f"&{i + 1} {name}" if i < 9 else name)
            action.setToolTip(path)
            action.setStatusTip(path if exists else f"{path} (missing)")
            action.setData(path)
            action.setEnabled(exists)
            if not exists:
                action.setText(f"{action.text()} (missing)")
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not paths:
            menu.addAction("(no recent projects)").setEnabled(False)
            return
        menu.addSeparator()
        if any(not Path(p).exists() for p in paths):
            menu.addAction("Remove missing projects").triggered.connect(
                lambda: settings().setValue(RECENT_KEY, [p for p in recent_projects() if Path(p).exists()]))
        menu.addAction("Clear list").triggered.connect(lambda: settings().setValue(RECENT_KEY, []))

    def _shown(self, project: Project) -> None:
        if project.path is not None and not inside(project.path, autosave_root()):
            remember_recent(project.path)


def _alive(widget) -> bool:
    import shiboken6

    return shiboken6.isValid(widget)


def _same_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _writable(path: Path) -> bool:
    return os.access(path if path.exists() else path.parent, os.W_OK)


def install_project_actions(window) -> ProjectActions:
    """Add New / Save / Save as / Open recent to ``window``'s File menu; returns the controller."""
    return ProjectActions(window)


def install_excepthook(parent=None):
    """Unexpected exceptions (in slots and callbacks) are written to stderr with their traceback
    and shown in a dialog, instead of ending the application."""
    shown: list[QMessageBox] = []  # at most one box at a time (an error in a paint event repeats)

    def hook(kind, value, tb) -> None:
        traceback.print_exception(kind, value, tb, file=sys.stderr)
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        if QApplication.instance() is None or any(_alive(box) and box.isVisible() for box in shown):
            return
        shown.clear()
        box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                          f"Something went wrong that CityDesk did not expect: {kind.__name__}: {value}",
                          QMessageBox.StandardButton.Ok, parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText("The details were written to the terminal. CityDesk goes on; if something "
                               "looks wrong, save your project under a new name.")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        shown.append(box)
        box.show()  # not exec(): the error may come from inside a paint or a worker's signal

    sys.excepthook = hook
    return hook
