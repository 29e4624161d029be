"""Start the desktop window: ``main(argv)`` creates the QApplication, opens the main window and a
project (the one named in ``argv``, else the sample city if it is there) and runs the event loop.
Whether a display exists is checked by the command line (``app.cli``) before it calls this."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication

from app import __version__
from app.main_window import SAMPLE_PROJECT, MainWindow
from app.project_actions import install_excepthook

WINDOW_SIZE = (1400, 900)


def fonts_ok() -> bool:
    """True when a DejaVu-like font family is installed (without one every glyph is a box)."""
    families = QFontDatabase.families()
    return any(name in family for family in families for name in ("DejaVu", "Liberation", "Noto", "Arial"))


def main(argv: list[str] | None = None) -> int:
    """Open the CityDesk window. ``argv``: the arguments after the program name; the first one
    that is not an option is a project to open. Returns the event loop's exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    qt_app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "citydesk"])
    qt_app.setApplicationName("CityDesk")
    qt_app.setApplicationDisplayName("CityDesk")
    qt_app.setApplicationVersion(__version__)
    qt_app.setOrganizationName("CityDesk")
    if not fonts_ok():
        print("citydesk: warning: no DejaVu-like font is installed, so text may show as boxes. "
              "Install one, e.g. 'apt-get install fonts-dejavu-core'.", file=sys.stderr)
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    install_excepthook(window)  # an unexpected error shows a dialog (and a traceback on stderr), the app goes on
    paths = [a for a in args if not a.startswith("-")]
    project = Path(paths[0]) if paths else (SAMPLE_PROJECT if SAMPLE_PROJECT.exists() else None)

    def open_first() -> None:
        if project is not None:
            window.open_project(project)
        else:
            window.statusBar().showMessage("Open a project with File → Open project…, or add a layer", 15000)

    window.project_actions.start_session(open_first)  # autosave on; first offers to recover a crashed session's work
    code = qt_app.exec()
    from app.workers import worker_pool

    worker_pool().clear()  # jobs not started yet; running ones see their windows gone and stop
    worker_pool().waitForDone(5000)
    return code


if __name__ == "__main__":
    sys.exit(main())
