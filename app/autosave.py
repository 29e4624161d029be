"""Autosave and recovery after a crash.

Once :meth:`Autosave.start` is called (``app.gui.main`` does, through
``window.project_actions.start_session``): when the project has unsaved changes, a copy is written
every few minutes (QSettings ``autosave_minutes``, default 2; 0 turns the timer off) and a few
seconds after a change, into a folder of this session under the autosave folder
(``CITYDESK_AUTOSAVE_DIR``, else the app data folder's ``autosave``): ``project.citydesk``, the
layers without a file of their own in ``layers.gpkg``, and ``autosave.json`` (the original path,
title and time). The user's files are never touched. A clean save or close deletes the copy.

A session's folder is locked (``QLockFile``) while it runs: a folder whose lock is stale is the
work of a session that crashed, offered at start (Recover / Discard). A recovered project is
marked modified and keeps its original path, so Save writes to the original place.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from app.plain_text import tell
from app.workers import Task
from layers.layer import Source
from layers.project import Project
from layers.writers import write_json, write_layers

AUTOSAVE_ENV = "CITYDESK_AUTOSAVE_DIR"
AUTOSAVE_MINUTES_KEY = "autosave_minutes"


def autosave_root() -> Path:
    env = os.environ.get(AUTOSAVE_ENV)
    if env:
        return Path(env)
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "autosave"


def recoverable_sessions(root: Path | None = None) -> list[Path]:
    """Autosave folders left by sessions that did not end cleanly (their lock is stale), newest first."""
    root = autosave_root() if root is None else root
    found = []
    for folder in (root.iterdir() if root.is_dir() else []):
        if not (folder / "project.citydesk").is_file() or not (folder / "autosave.json").is_file():
            continue
        lock = QLockFile(str(folder / "session.lock"))
        lock.setStaleLockTime(0)  # a running session's lock is never taken for stale because of its age
        if lock.tryLock(0):
            lock.unlock()
            found.append(folder)
    return sorted(found, key=lambda f: (f / "autosave.json").stat().st_mtime, reverse=True)


def inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def _write(folder: Path, data: dict, frames: dict, meta: dict) -> Path:
    if frames:
        write_layers(frames, folder / "layers.gpkg")
    write_json(folder / "project.citydesk", data)
    write_json(folder / "autosave.json", meta)
    return folder


def _meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "autosave.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


class Autosave(QObject):
    """The autosave of one window. ``autosaved(folder)`` after each copy written; ``prompt`` is
    the recovery question while it is asked."""

    autosaved = Signal(object)
    DEBOUNCE_MS = 5000  # a copy this long after the last change

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.enabled = False
        self.prompt: QMessageBox | None = None
        self._session: tuple[Path, QLockFile] | None = None  # this session's folder and its lock
        self._recovered: tuple[Path, QLockFile] | None = None  # a crashed session's folder taken over
        self._task: Task | None = None
        self._closing: dict[Path, QLockFile] = {}  # discarded while a copy was written into it: locked until gone
        self._dirty = self._pending = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._debounce = QTimer(self, singleShot=True)
        self._debounce.timeout.connect(self.save_now)
        window.modifiedChanged.connect(self._modified_changed)

    def start(self, fallback: Callable[[], None] | None = None) -> bool:
        """Turn autosave on and offer to recover the work of a session that crashed; ``fallback()``
        runs when there is none or it is not recovered. Returns whether one was offered."""
        self.enabled = True
        try:
            minutes = float(QSettings("CityDesk", "CityDesk").value(AUTOSAVE_MINUTES_KEY, 2))
        except (TypeError, ValueError):
            minutes = 2.0
        if minutes > 0:
            self._timer.start(int(minutes * 60_000))
        found = recoverable_sessions()
        if not found:
            if fallback is not None:
                fallback()
            return False
        self.offer_recovery(found[0], fallback)
        return True

    def offer_recovery(self, folder: Path, fallback: Callable[[], None] | None = None) -> QMessageBox:
        """Ask (without blocking) whether to recover the copy in ``folder``. Discard deletes it;
        closing the question keeps it for the next start."""
        meta = _meta(folder)
        when = str(meta.get("saved_at") or "")[:16].replace("T", " ")
        box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved work?",
                          f"CityDesk did not close properly last time. The project “{meta.get('title') or '?'}” "
                          f"had changes that were not saved; a copy was autosaved at {when or 'an unknown time'}.",
                          QMessageBox.StandardButton.NoButton, self.window)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText("Recover them? Discard deletes the autosaved copy.")
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(recover)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(_result) -> None:
            self.prompt = None
            clicked = box.clickedButton()
            box.deleteLater()
            if clicked is recover:
                self.recover(folder)
                return
            if clicked is discard:
                shutil.rmtree(folder, ignore_errors=True)
            if fallback is not None:
                fallback()

        box.finished.connect(answered)
        self.prompt = box
        box.open()
        return box

    def recover(self, folder: Path) -> None:
        """Open the copy in ``folder`` (in a worker): marked modified, with its original path."""
        from app.main_window import _open_and_prepare

        lock = QLockFile(str(folder / "session.lock"))
        lock.setStaleLockTime(0)
        if not lock.tryLock(0):
            tell(self.window, "Cannot recover the project", f"{folder}: another CityDesk is using this copy.")
            return
        original = _meta(folder).get("original")
        self.window._run(lambda fb: _open_and_prepare(folder / "project.citydesk", fb), "Recovering…",
                         lambda project: self._recovered_shown(project, folder, lock, original),
                         "Cannot recover the project")

    def _recovered_shown(self, project: Project, folder: Path, lock: QLockFile, original) -> None:
        for layer in project.layers:
            if layer.source is not None and inside(layer.source.path, folder):
                layer.source = None  # kept in the copy: saving writes it next to the project again
        project.path = Path(original) if isinstance(original, str) and original else None
        self.window.show_project(project)
        self.window.mark_modified(True)
        self._recovered = (folder, lock)  # deleted once this session's own copy is written (or saved)
        self.save_now()
        self.window.statusBar().showMessage(f"Recovered “{project.title}”: save it to keep the changes", 15000)

    def save_now(self) -> bool:
        """Write the copy now (in a worker) if the project has unsaved changes."""
        w, project = self.window, self.window.project
        if not self.enabled or project is None or not w.modified:
            return False
        if self._task is not None:
            self._pending = True
            return False
        folder = self._folder()
        gpkg = folder / "layers.gpkg"
        frames, layers = {}, []
        for layer in (lay for lay in project.layers if not lay.transient):
            if layer.source is None and layer.gdf is not None:
                table = f"layer_{len(frames) + 1}"
                frames[table] = layer.gdf
                layer = replace(layer, source=Source(str(gpkg), table))  # a copy: the project is not changed
            layers.append(layer)
        data = replace(project, layers=layers).to_dict(folder.resolve())
        meta = {"original": str(project.path.resolve()) if project.path else None, "title": project.title,
                "saved_at": datetime.now().isoformat(timespec="seconds"), "pid": os.getpid()}
        task = Task(lambda fb: _write(folder, data, frames, meta))
        task.signals.finished.connect(lambda _g, _r: self._done(task, folder, True))
        task.signals.failed.connect(lambda _g, message, _u: self._done(task, folder, False, message))
        task.signals.cancelled.connect(lambda _g: self._done(task, folder, False))
        self._task, self._dirty, self._pending = task, False, False
        task.start()
        return True

    def discard(self, *, wait_for_writer: bool = True) -> None:
        """Delete this session's copy (after a clean save, or when the changes were discarded). A
        copy still being written is deleted when the writer is done, and stays locked until then
        (an unlocked folder would be offered for recovery by the next CityDesk to start)."""
        self._dirty = False
        self._debounce.stop()
        if self._session is not None:
            folder, lock = self._session
            self._session = None
            if wait_for_writer and self._task is not None:
                self._closing[folder] = lock
            else:
                shutil.rmtree(folder, ignore_errors=True)
                lock.unlock()
        self._drop_recovered()

    def end(self) -> None:
        """The window closes cleanly: autosave stops and its copy is deleted."""
        self._timer.stop()
        self.enabled = False
        self.discard(wait_for_writer=False)

    def _done(self, task: Task, folder: Path, ok: bool, message: str = "") -> None:
        if task is not self._task:
            return
        self._task = None
        if self._session is None or self._session[0] != folder:  # discarded while it was written
            shutil.rmtree(folder, ignore_errors=True)
            lock = self._closing.pop(folder, None)
            if lock is not None:
                lock.unlock()
            return
        if not ok:
            print(f"CityDesk: autosave failed: {message}", file=sys.stderr)
            self.window.statusBar().showMessage(f"Autosave failed: {message}", 10000)
        else:
            self._drop_recovered()
            self.autosaved.emit(folder)
        if self._pending and self._dirty:
            self._debounce.start(self.DEBOUNCE_MS)

    def _folder(self) -> Path:
        if self._session is None:
            root = autosave_root()
            stamp = f"{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
            folder, n = root / stamp, 1
            while folder.exists():
                folder, n = root / f"{stamp}-{n}", n + 1
            folder.mkdir(parents=True)
            lock = QLockFile(str(folder / "session.lock"))
            lock.setStaleLockTime(0)
            lock.tryLock(0)
            self._session = (folder, lock)
        return self._session[0]

    def _drop_recovered(self) -> None:
        if self._recovered is not None:
            folder, lock = self._recovered
            self._recovered = None
            lock.unlock()
            shutil.rmtree(folder, ignore_errors=True)

    def _modified_changed(self, modified: bool) -> None:
        if not modified:
            self.discard()
            return
        self._dirty = True
        if self.enabled:
            self._debounce.start(self.DEBOUNCE_MS)

    def _tick(self) -> None:
        if self._dirty:
            self.save_now()
