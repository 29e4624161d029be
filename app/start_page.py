"""What the window shows before a project is open, and files dropped on the window.

:func:`install_start_page` puts a stack in the middle of the window: the start page ("Open sample
city", "Open project…", "Add layer…", recent projects) until a project is shown, then the map.
:func:`install_file_drop` lets the user drop files anywhere on the window: a ``.citydesk`` file
opens as the project (after asking when the open one has unsaved changes), every other file is
added as layers, one after the other.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

PROJECT_SUFFIX = ".citydesk"
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
STYLE = """
#start_page { background: #f4f2ee; }
#start_card { background: white; border: 1px solid #dcd8d0; border-radius: 10px; }
#start_title { font-size: 30px; font-weight: 600; color: #1f3b57; }
#start_subtitle { font-size: 14px; color: #555555; }
#start_sample { font-size: 16px; font-weight: 600; padding: 14px 22px; color: white; background: #0072B2;
                border: none; border-radius: 6px; }
#start_sample:hover { background: #005a8c; }
#start_page QPushButton[secondary="true"] { font-size: 13px; padding: 8px 16px; }
#start_recent_title { font-size: 13px; font-weight: 600; color: #333333; margin-top: 8px; }
#start_hint { color: #6b6b6b; }
"""


def recent_projects() -> list[str]:
    """The recent projects (newest first), from the settings the window's project actions keep."""
    from app.project_actions import recent_projects as recent

    return recent()


class StartPage(QWidget):
    """Big "Open sample city" button, "Open project…", "Add layer…" and the recent projects of
    ``window`` (the buttons trigger the window's own actions)."""

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setObjectName("start_page")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet(STYLE)
        card = QFrame(self, objectName="start_card")
        card.setMaximumWidth(620)
        title = QLabel("CityDesk", card, objectName="start_title")
        subtitle = QLabel("Maps and analyses for city planning. Start with the sample city, open a project, "
                          "or add a data layer.", card, objectName="start_subtitle", wordWrap=True)
        self.sample_button = QPushButton("Open sample city", card, objectName="start_sample")
        self.sample_button.setToolTip("Central Helsinki: buildings with residents, streets, stops, waste bins, "
                                      "green spaces and more")
        self.sample_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.open_button = QPushButton("Open project…", card)
        self.add_button = QPushButton("Add layer…", card)
        for button in (self.open_button, self.add_button):
            button.setProperty("secondary", True)
        self.recent_title = QLabel("Recent projects", card, objectName="start_recent_title")
        self.recent = QListWidget(card)
        self.recent.setMaximumHeight(170)
        hint = QLabel("Tip: drop GeoPackage, GeoJSON, Shapefile, CSV or OpenStreetMap files — or a .citydesk "
                      "project — anywhere on this window.", card, objectName="start_hint", wordWrap=True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(36, 32, 36, 28)
        inner.setSpacing(12)
        for widget in (title, subtitle):
            inner.addWidget(widget)
        inner.addSpacing(8)
        inner.addWidget(self.sample_button)
        inner.addLayout(buttons)
        inner.addWidget(self.recent_title)
        inner.addWidget(self.recent)
        inner.addWidget(hint)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

        self.sample_button.clicked.connect(lambda: window.sample_action.trigger())
        self.open_button.clicked.connect(lambda: window.open_action.trigger())
        self.add_button.clicked.connect(lambda: window.add_layer_action.trigger())
        self.recent.itemActivated.connect(self._open_recent)
        self.recent.itemClicked.connect(self._open_recent)
        self.refresh()

    def refresh(self) -> None:
        """List the recent projects again (the window updates the list when it opens one)."""
        self.recent.clear()
        for path in recent_projects()[:8]:
            file = Path(path)
            item = QListWidgetItem(f"{file.stem}  —  {file.parent}")
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            if not file.exists():
                item.setText(f"{file.stem}  —  not found: {file}")
                item.setForeground(QBrush(QColor("#9a9a9a")))
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)
        has_any = self.recent.count() > 0
        self.recent.setVisible(has_any)
        self.recent_title.setVisible(has_any)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.refresh()
        super().showEvent(event)

    def _open_recent(self, item: QListWidgetItem) -> None:
        path = item.data(PATH_ROLE)
        if path and Path(path).exists():
            self.window_.open_project(path)


class CentralStack(QStackedWidget):
    """A stack whose hidden pages keep its size too: the map canvas, hidden behind the start page,
    must know its size when a project's view is set, before it is shown."""

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        for i in range(self.count()):
            page = self.widget(i)
            if page is not self.currentWidget():
                page.setGeometry(self.contentsRect())


def install_start_page(window) -> StartPage:
    """Make the middle of ``window`` a stack of the start page and the map canvas; the map shows
    from the first ``projectShown`` on. Sets ``window.start_page`` and ``window.central_stack``."""
    stack = CentralStack(window)
    stack.setObjectName("central_stack")
    page = StartPage(window)
    stack.addWidget(page)
    stack.addWidget(window.canvas)
    window.setCentralWidget(stack)
    window.start_page, window.central_stack = page, stack
    window.projectShown.connect(lambda _project: stack.setCurrentWidget(window.canvas))
    return page


def show_start_page(window) -> None:
    """Show the start page again (e.g. after the project was closed)."""
    window.central_stack.setCurrentWidget(window.start_page)


# ------------------------------------------------------------------------------ dropped files

def local_files(mime) -> list[Path]:
    """The local files a drag carries (URLs of other kinds are left out)."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class FileDrop(QObject):
    """Event filter: files dragged onto the watched widgets are accepted and opened or added."""

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self._queue: list[tuple[str, Path]] = []
        self._waiting_for: Path | None = None  # a dropped project: the layers dropped with it wait for it
        window.taskFinished.connect(lambda: QTimer.singleShot(0, self._next))  # after the task's result is shown
        window.projectShown.connect(self._project_shown)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if local_files(event.mimeData()):
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                return True
            return False
        if kind == QEvent.Type.Drop:
            files = local_files(event.mimeData())
            if not files:
                return False
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            QTimer.singleShot(0, lambda: self.open_files(files))  # the drag source is not kept waiting
            return True
        return False

    def open_files(self, files: list[Path]) -> None:
        """Open the first ``.citydesk`` file among ``files`` as the project (the window asks first
        if the open one has unsaved changes), then add the others as layers, one after the other."""
        window = self.window_
        projects = [f for f in files if f.suffix.lower() == PROJECT_SUFFIX]
        jobs = [("project", projects[0])] if projects else []
        jobs += [("layer", f) for f in files if f.suffix.lower() != PROJECT_SUFFIX]
        if len(projects) > 1:
            window.statusBar().showMessage(f"Opening {projects[0].name}; drop one project at a time", 8000)
        busy = getattr(window, "_task", None) is not None
        if not busy:  # what is left of an earlier drop (its project was not opened) is forgotten
            self._queue, self._waiting_for = [], None
        self._queue += jobs
        if not busy:
            self._next()

    def _next(self) -> None:
        if not self._queue or self._waiting_for is not None or getattr(self.window_, "_task", None) is not None:
            return
        what, path = self._queue.pop(0)
        if what == "project":
            self._waiting_for = path
            self.window_.open_project(path)  # may first ask about unsaved changes
        else:
            self.window_.add_layer(path)

    def _project_shown(self, project) -> None:
        path = getattr(project, "path", None)
        if self._waiting_for is not None and path is not None and Path(path).resolve() == self._waiting_for.resolve():
            self._waiting_for = None
            QTimer.singleShot(0, self._next)


def install_file_drop(window) -> FileDrop:
    """Accept files dropped on ``window`` (and on its Layers panel, whose own drags reorder layers)."""
    drop = FileDrop(window)
    window.setAcceptDrops(True)
    window.installEventFilter(drop)
    panel = getattr(window, "panel", None)
    if panel is not None:
        panel.viewport().installEventFilter(drop)
    window.file_drop = drop
    return drop
