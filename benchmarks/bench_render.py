"""Map rendering speed: the synthetic city's buildings at full extent, 1600 x 1000, as the canvas
draws them; a pan from the cache; the GUI event loop's longest stall while a layer loads and
renders in the workers; and QGIS (where Debian's ``qgis`` and ``python3-qgis`` are installed)
rendering the same GeoPackage in a subprocess.

    python benchmarks/bench_render.py [--sizes 200000 1000000] [--repeat 5] [--save DIR] [--no-qgis]

Prints medians (wall clock; CPU time of the drawing thread in brackets, which other programs on
the machine do not inflate) and CityDesk time ÷ QGIS time (below 1: CityDesk is faster). The GUI
stall (the longest gap of a 10 ms timer on the GUI thread while a worker loads, then renders) is
the median over at least 5 loads, with the worst of them.
Targets on 2 cores: 200k buildings ≤ 0.5 s, 1M ≤ 2.5 s, pan ≤ 16 ms, event-loop stall < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_city import synthetic_city  # noqa: E402

WIDTH, HEIGHT = 1600, 1000
QGIS_PYTHON = "/usr/bin/python3"
FILL, STROKE, FILL_OPACITY, STROKE_PX = "#9ecae1", "#3182bd", 0.8, 0.8  # CityDesk's default style


def write_city(n: int, folder: Path) -> Path:
    """The buildings of a synthetic city of ``n`` buildings as a GeoPackage (made once, reused)."""
    from layers.writers import write_layers

    path = folder / f"city_{n}.gpkg"
    if not path.exists():
        write_layers({"buildings": synthetic_city(n)["buildings"]}, path)
    return path


def median_time(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall time, median thread CPU time, last value."""
    walls, cpus, value = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.thread_time()
        value = fn()
        cpus.append(time.thread_time() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(walls), statistics.median(cpus), value


class StallMeter:
    """A QTimer every 10 ms; ``worst`` is the longest gap between two ticks minus 10 ms (ms)."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.timer = QTimer(interval=10)
        self.timer.setTimerType(self.timer.timerType().PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.last, self.worst = None, 0.0

    def _tick(self):
        now = time.perf_counter()
        if self.last is not None:
            self.worst = max(self.worst, (now - self.last) * 1000 - 10)
        self.last = now

    def __enter__(self):
        self.last, self.worst = time.perf_counter(), 0.0
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.stop()


def wait_until(app, done, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        app.processEvents()
        time.sleep(0.001)


def load_and_show(app, path: Path) -> tuple[float, float, float, object]:
    """Load ``path`` in a worker (``read_layers`` + ``CACHE.prepare``, as the window does), then show
    it on a 1600 x 1000 canvas and zoom in and out: ``(load_s, stall_load_ms, stall_render_ms, canvas)``."""
    from app.map_canvas import MapCanvas
    from app.render import CACHE
    from app.workers import Task
    from layers.readers import read_layers

    def load(feedback):
        layers = read_layers(path)
        for lay in layers:
            CACHE.prepare(lay, lay.gdf.crs)
        return layers

    task = Task(load)
    result = {}
    task.signals.finished.connect(lambda _g, layers: result.setdefault("layers", layers))
    with StallMeter() as loading:
        start = time.perf_counter()
        task.start()
        wait_until(app, lambda: "layers" in result)
        load_s = time.perf_counter() - start
    layers = result["layers"]
    canvas = MapCanvas()
    canvas.resize(WIDTH, HEIGHT)
    canvas.show()
    with StallMeter() as rendering:
        canvas.set_layers(layers, layers[0].gdf.crs)
        wait_until(app, lambda: canvas.image() is not None and not canvas.is_rendering())
        for factor in (1.6, 1 / 1.6):  # zoom in and out again: two more renders
            canvas.zoom_by(factor)
            wait_until(app, lambda: not canvas.is_rendering())
    return load_s, loading.worst, rendering.worst, canvas


def bench_canvas(app, path: Path, repeat: int) -> dict:
    """Load in a worker and show on a 1600 x 1000 canvas, ``max(repeat, 5)`` times (stalls vary from
    run to run: medians and the worst), then time pans from the cache."""
    runs, canvas = [], None
    for _ in range(max(repeat, 5)):
        if canvas is not None:  # the layers of the last run go with it
            canvas.close()
            app.processEvents()
        *figures, canvas = load_and_show(app, path)
        runs.append(figures)
    out = {"load_s": statistics.median(r[0] for r in runs),
           "stall_load_ms": statistics.median(r[1] for r in runs), "stall_load_max_ms": max(r[1] for r in runs),
           "stall_render_ms": statistics.median(r[2] for r in runs), "stall_render_max_ms": max(r[2] for r in runs),
           "stall_runs": len(runs)}
    paints, fresh = [], []
    for i in range(max(repeat, 5)):
        canvas.pan_pixels(60 if i % 2 == 0 else -45, 30)
        start = time.perf_counter()
        canvas.repaint()  # the old image drawn shifted: what the user sees at once
        paints.append(time.perf_counter() - start)
        wait_until(app, lambda: not canvas.is_rendering())
        fresh.append(time.perf_counter() - start)
    out["pan_paint_ms"] = statistics.median(paints) * 1000
    out["pan_fresh_s"] = statistics.median(fresh)
    canvas.close()
    return out


QGIS_SCRIPT = textwrap.dedent("""
    import json, statistics, sys, time
    from qgis.core import (QgsApplication, QgsFillSymbol, QgsMapRendererParallelJob, QgsMapSettings,
                           QgsRectangle, QgsSingleSymbolRenderer, QgsVectorLayer)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
    path, width, height, repeat, out, margin = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \\
        sys.argv[5], float(sys.argv[6])
    app = QgsApplication([], False)
    app.initQgis()
    start = time.perf_counter()
    layer = QgsVectorLayer(f"{path}|layername=buildings", "buildings", "ogr")
    assert layer.isValid(), "QGIS could not open the layer"
    count = layer.featureCount()
    load = time.perf_counter() - start
    symbol = QgsFillSymbol.createSimple({"color": "%(fill)s", "outline_color": "%(stroke)s",
                                         "outline_width": "%(stroke_mm)s", "outline_width_unit": "MM"})
    symbol.setOpacity(1.0)
    symbol.symbolLayer(0).setFillColor(QColor(%(fill_rgba)s))
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    e = layer.extent()
    mx, my = max(e.width(), 1) * margin, max(e.height(), 1) * margin
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setOutputSize(QSize(width, height))
    settings.setOutputDpi(96)
    settings.setExtent(QgsRectangle(e.xMinimum() - mx, e.yMinimum() - my, e.xMaximum() + mx, e.yMaximum() + my))
    settings.setBackgroundColor(QColor("%(background)s"))
    times = []
    for _ in range(repeat):
        job = QgsMapRendererParallelJob(settings)
        t = time.perf_counter()
        job.start()
        job.waitForFinished()
        times.append(time.perf_counter() - t)
        image = job.renderedImage()
    if out != "-":
        image.save(out)
    print(json.dumps({"load_s": load, "render_s": statistics.median(times), "first_s": times[0],
                      "features": count, "version": __import__("qgis.core").core.Qgis.QGIS_VERSION}))
""")


def bench_qgis(path: Path, repeat: int, save: Path | None) -> dict | None:
    """QGIS rendering the same GeoPackage at full extent, or None (with the reason printed)."""
    from app.map_canvas import FULL_MARGIN
    from app.render import BACKGROUND

    if not Path(QGIS_PYTHON).exists():
        print("  QGIS: not available (no system Python)")
        return None
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True,
                           env=_qgis_env())
    if probe.returncode != 0:
        print("  QGIS: not available (apt-get install qgis python3-qgis to compare)")
        return None
    rgba = f"{int(FILL[1:3], 16)}, {int(FILL[3:5], 16)}, {int(FILL[5:7], 16)}, {round(FILL_OPACITY * 255)}"
    script = QGIS_SCRIPT % {"fill": FILL, "stroke": STROKE, "stroke_mm": STROKE_PX * 25.4 / 96,
                            "fill_rgba": rgba, "background": BACKGROUND}
    out = str(save / f"qgis_{path.stem}.png") if save else "-"
    run = subprocess.run([QGIS_PYTHON, "-c", script, str(path), str(WIDTH), str(HEIGHT), str(repeat), out,
                          str(FULL_MARGIN)], capture_output=True, text=True, env=_qgis_env(), timeout=1800)
    if run.returncode != 0:
        print(f"  QGIS: failed: {run.stderr.strip()[-400:]}")
        return None
    return json.loads(run.stdout.strip().splitlines()[-1])


def _qgis_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    return env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "citydesk-bench-render")
    parser.add_argument("--save", type=Path, help="save the rendered images here (ours and QGIS's)")
    parser.add_argument("--no-qgis", action="store_true", help="skip the QGIS comparison")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    import app.render as render_module
    from app.render import CACHE, render_layers
    from app.render_command import full_extent
    from layers.readers import read_layers
    from layers.style import Style

    app = QApplication.instance() or QApplication([])
    stroke_min = render_module.STROKE_MIN_PX
    print(f"CPUs: {os.cpu_count()}; image {WIDTH}x{HEIGHT}; medians of {args.repeat}")
    rows = []
    for n in args.sizes:
        path = write_city(n, args.workdir)
        print(f"\n{n:,} buildings ({path.name}, {path.stat().st_size / 1e6:.0f} MB)")
        start = time.perf_counter()
        layers = read_layers(path)
        read_s = time.perf_counter() - start
        for lay in layers:
            lay.style = Style(fill=FILL, stroke=STROKE, fill_opacity=FILL_OPACITY, stroke_width=STROKE_PX)
        crs = layers[0].gdf.crs
        start = time.perf_counter()
        for lay in layers:
            CACHE.prepare(lay, crs)
        prepare_s = time.perf_counter() - start
        extent = full_extent(layers, crs, WIDTH, HEIGHT)
        def draw(ls=layers, c=crs, e=extent):
            return render_layers(ls, c, e, WIDTH, HEIGHT)

        first_s, _, _ = median_time(draw, 1)
        wall, cpu, image = median_time(draw, args.repeat)
        if args.save:
            image.save(str(args.save / f"citydesk_{path.stem}.png"))
        print(f"  CityDesk load: read {read_s:.2f} s + prepare (index, flatten) {prepare_s:.2f} s")
        print(f"  CityDesk render: {wall:.3f} s [cpu {cpu:.3f} s]; first render {first_s:.3f} s")
        render_module.STROKE_MIN_PX = 0.0  # outline every polygon, however small, as QGIS does
        outlined, outlined_cpu, _ = median_time(draw, args.repeat)
        render_module.STROKE_MIN_PX = stroke_min
        print(f"  CityDesk render with an outline on every polygon (as QGIS draws): {outlined:.3f} s "
              f"[cpu {outlined_cpu:.3f} s]")
        canvas = bench_canvas(app, path, args.repeat)
        print(f"  canvas: pan shown from the cache in {canvas['pan_paint_ms']:.1f} ms, fresh image after "
              f"{canvas['pan_fresh_s']:.2f} s; load in a worker {canvas['load_s']:.2f} s")
        print(f"  GUI event loop, longest stall (median of {canvas['stall_runs']} runs, worst in brackets): "
              f"{canvas['stall_load_ms']:.0f} ms [{canvas['stall_load_max_ms']:.0f}] while loading, "
              f"{canvas['stall_render_ms']:.0f} ms [{canvas['stall_render_max_ms']:.0f}] while rendering")
        qgis = None if args.no_qgis else bench_qgis(path, args.repeat, args.save)
        ratio = wall / qgis["render_s"] if qgis else float("nan")
        if qgis:
            print(f"  QGIS {qgis['version']}: render {qgis['render_s']:.3f} s (first {qgis['first_s']:.3f} s), "
                  f"open {qgis['load_s']:.2f} s;  CityDesk ÷ QGIS = {ratio:.2f} "
                  f"(with outlines everywhere {outlined / qgis['render_s']:.2f})")
        rows.append((n, wall, cpu, canvas["pan_paint_ms"], max(canvas["stall_load_ms"], canvas["stall_render_ms"]),
                     qgis["render_s"] if qgis else None, ratio))
        for lay in layers:
            CACHE.invalidate(lay)
    print(f"\n{'buildings':>10} {'render s':>9} {'cpu s':>7} {'pan ms':>7} {'stall ms':>9} {'QGIS s':>7} "
          f"{'ours/QGIS':>9}")
    for n, wall, cpu, pan, stall, q, ratio in rows:
        qs = f"{q:>7.3f}" if q is not None else f"{'n/a':>7}"
        rs = f"{ratio:>9.2f}" if q is not None else f"{'n/a':>9}"
        print(f"{n:>10} {wall:>9.3f} {cpu:>7.3f} {pan:>7.1f} {stall:>9.0f} {qs} {rs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
