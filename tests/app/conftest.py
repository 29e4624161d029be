"""Fixtures for the desktop app tests: Qt offscreen (set before any QApplication exists), the
test city project and the main window driven by qtbot."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.app.qt_city import add_homes, make_project  # noqa: E402


@pytest.fixture
def city_project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def homes_project(city_project: Path) -> Path:
    """The test city plus a 'homes' layer (role buildings) with residents (``qt_city.add_homes``)."""
    return add_homes(city_project)


@pytest.fixture(autouse=True)
def _wait_for_workers():
    """No render or load worker outlives its test."""
    yield
    from PySide6.QtCore import QThreadPool

    from app.workers import worker_pool

    worker_pool().waitForDone(10000)
    QThreadPool.globalInstance().waitForDone(10000)


@pytest.fixture
def window(qtbot):
    from app.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch):
    """Recent projects, settings and autosaves of this test go to its own folder."""
    from PySide6.QtCore import QSettings, QStandardPaths

    monkeypatch.setenv("CITYDESK_AUTOSAVE_DIR", str(tmp_path / "autosave"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    yield tmp_path
    default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, default)


@pytest.fixture
def messages(monkeypatch):
    """Message boxes recorded as (kind, title, text) instead of shown."""
    from PySide6.QtWidgets import QMessageBox

    shown = []

    def record(kind):
        def show(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return QMessageBox.StandardButton.Ok

        return show

    for kind in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, record(kind))
    return shown
