"""``citydesk render`` and ``citydesk screenshot``: the map and the window, drawn offscreen.

``render`` draws the full extent exactly as the canvas's *Zoom to full extent* shows it, with the
same :func:`app.render.render_layers`: a ``.citydesk`` project with its styles, or any layer file
with default styles. ``screenshot`` opens the main window with a project, waits until the map is
drawn and saves a grab of the whole window. Both write the PNG atomically.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from layers.errors import CityDeskError

DEFAULT_SIZE = (1600, 1000)
SCREENSHOT_TIMEOUT_S = 180.0


def parse_size(text: str) -> tuple[int, int]:
    """``1600x1000`` → ``(1600, 1000)``; ValueError for anything else (16..10000 px a side)."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*", text or "")
    if not match:
        raise ValueError(f"--size takes WIDTHxHEIGHT in pixels, like 1600x1000, not '{text}'")
    w, h = int(match.group(1)), int(match.group(2))
    if not (16 <= w <= 10000 and 16 <= h <= 10000):
        raise ValueError(f"--size {w}x{h} is out of range: each side from 16 to 10000 pixels")
    return w, h


def ensure_gui_platform() -> None:
    """Draw offscreen when there is no display (set before the Qt application exists)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _check_out(out: Path) -> Path:
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise CityDeskError(f"the output must be a .png file, not '{out.name}'", source=out,
                            fix="Give --out a name ending in .png")
    if not out.parent.exists():
        raise CityDeskError("the folder for the output does not exist", source=out,
                            fix="Create the folder first, or write elsewhere")
    return out


def _save_png(image, out: Path) -> None:
    """Save ``image`` (QImage) to ``out`` through a temporary file, so no half-written PNG is left."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.png")
    try:
        if not image.save(str(tmp), "PNG"):
            raise CityDeskError("the image could not be written", source=out,
                                fix="Check that the folder is writable and the disk is not full")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_for_render(path: Path, names: list[str] | None = None, feedback=None):
    """``(layers, crs)`` from a project (its styles, its CRS) or from any layer file (default
    styles, the local metric CRS of its first layer); with ``names``, only those layers are
    shown. Every shown layer is reprojected and prepared in the render cache (load time)."""
    from app.render import CACHE
    from layers.crs import metric_crs
    from layers.project import SUFFIX, load_project
    from layers.readers import read_layers

    path = Path(path)
    if not path.exists():
        raise CityDeskError("the file does not exist", source=path, fix="Check the path")
    if path.suffix.lower() == SUFFIX:
        project = load_project(path, feedback=feedback)
        layers, crs = list(project.layers), project.crs
    else:
        layers = [lay for lay in read_layers(path, feedback=feedback) if lay.gdf is not None]
        if not layers:
            raise CityDeskError("the file holds no layers to draw", source=path, fix="Choose another file")
        crs = metric_crs(layers[0].gdf, name=layers[0].name)
    if names:
        known = [lay.name for lay in layers]
        missing = [n for n in names if n not in known]
        if missing:
            raise CityDeskError(f"there is no layer {', '.join(repr(n) for n in missing)}", source=path,
                                fix=f"Layers: {', '.join(known)}")
        layers = [lay for lay in layers if lay.name in names]
        for lay in layers:
            lay.visible = True
    for lay in layers:
        if lay.visible and lay.gdf is not None:
            CACHE.prepare(lay, crs)
    return layers, crs


def full_extent(layers, crs, width: int, height: int):
    """What the canvas's *Zoom to full extent* shows in a ``width`` x ``height`` view."""
    from app.map_canvas import FULL_MARGIN, layers_extent
    from app.render import fit_extent

    box = layers_extent(layers, crs)
    if box is None:
        raise CityDeskError("none of the layers has data to draw", fix="Check the layer files (citydesk info)")
    xmin, ymin, xmax, ymax = box
    mx, my = max(xmax - xmin, 1.0) * FULL_MARGIN, max(ymax - ymin, 1.0) * FULL_MARGIN
    return fit_extent((xmin - mx, ymin - my, xmax + mx, ymax + my), width, height)


def render_file(path: Path, out: Path, *, size=DEFAULT_SIZE, names: list[str] | None = None,
                timings: Path | None = None) -> dict:
    """Draw ``path`` to ``out`` (PNG); returns and optionally writes the timings
    ``{"load_s", "render_s", "width", "height", "layers"}``."""
    out = _check_out(out)
    ensure_gui_platform()
    from PySide6.QtGui import QGuiApplication

    from app.render import render_layers

    app = QGuiApplication.instance() or QGuiApplication(["citydesk"])
    start = time.perf_counter()
    layers, crs = load_for_render(path, names)
    load_s = time.perf_counter() - start
    width, height = size
    extent = full_extent(layers, crs, width, height)
    start = time.perf_counter()
    image = render_layers(layers, crs, extent, width, height)
    render_s = time.perf_counter() - start
    _save_png(image, out)
    result = {"load_s": round(load_s, 4), "render_s": round(render_s, 4), "width": width, "height": height,
              "layers": [lay.name for lay in layers if lay.visible and lay.gdf is not None]}
    if timings:
        from layers.writers import write_json

        write_json(timings, result)
    app.processEvents()
    return result


def screenshot(project_path: Path, out: Path, *, size=DEFAULT_SIZE, run: str | None = None) -> Path:
    """Open the main window (offscreen if there is no display) at ``size`` with the project, wait
    until it is shown and its map drawn, and save a grab of the whole window to ``out``. With
    ``run``, the project's saved analysis of that title (or id) is run first, as its dialog would,
    and the grab shows its result layers and Results panel."""
    from layers.project import SUFFIX, load_project

    out = _check_out(out)
    project_path = Path(project_path)
    if not project_path.exists():
        raise CityDeskError("the project file does not exist", source=project_path, fix="Check the path")
    if project_path.suffix.lower() != SUFFIX:
        raise CityDeskError("this is not a CityDesk project", source=project_path,
                            fix="Give a .citydesk file (citydesk render draws any layer file)")
    project = load_project(project_path)  # a bad project fails here, before any window opens
    saved = None
    if run is not None:
        saved = next((r for r in project.analyses if run in (r.title, r.analysis)), None)
        if saved is None:
            titles = "; ".join(r.title or r.analysis for r in project.analyses) or "(none)"
            raise CityDeskError(f"the project has no saved analysis '{run}'", source=project_path,
                                fix=f"Saved analyses: {titles}")
    ensure_gui_platform()
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication(["citydesk"])
    window = MainWindow()
    window.resize(*size)
    window.show()
    window.show_project(project)
    if saved is not None:
        dialog = window.analyses.open_dialog(saved.analysis, saved)
        finished = []
        window.analyses.resultAdded.connect(finished.append)
        dialog.run_button.click()
        _wait(app, lambda: finished or window._task is None, SCREENSHOT_TIMEOUT_S)  # done, or it failed
        if not finished:
            raise CityDeskError(f"the analysis '{run}' did not finish", source=project_path,
                                fix="Run it in the window to see its message")
    deadline = time.monotonic() + SCREENSHOT_TIMEOUT_S
    loop = QEventLoop()
    timer = QTimer(interval=50)
    timer.timeout.connect(loop.quit)
    timer.start()
    settled = 0
    while time.monotonic() < deadline:  # the map drawn, and nothing else pending for a moment
        loop.exec()
        busy = window.canvas.is_rendering() or window.canvas.image() is None or getattr(window, "_task", None)
        settled = 0 if busy else settled + 1
        if settled >= 4:
            break
    else:
        raise CityDeskError(f"the map was not drawn within {SCREENSHOT_TIMEOUT_S:.0f} s", source=project_path,
                            fix="Try again; a very large project may need citydesk render instead")
    timer.stop()
    _save_png(window.grab().toImage(), out)
    window.mark_modified(False)
    window.close()
    window.deleteLater()
    app.processEvents()
    return out


def _wait(app, done, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
