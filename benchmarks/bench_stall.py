"""The window's event loop while an analysis runs: the longest stall of a 10 ms timer on the GUI
thread while a worker runs an analysis on the synthetic city, as the Analysis menu runs it
(``app.analysis_actions.compute`` in an ``app.workers.Task``: the analysis, then its result layers
prepared for drawing).

    python benchmarks/bench_stall.py [--buildings 100000] [--repeat 3]

Prints, per analysis, the median run time and the median (worst) stall over ``--repeat`` runs.
Target (desktop issue): the GUI thread is never blocked for more than 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_render import StallMeter, wait_until  # noqa: E402
from benchmarks.synthetic_city import synthetic_city, synthetic_destinations, synthetic_network  # noqa: E402


def cases(n: int, which: list[str] | None = None) -> list[tuple[str, dict, dict]]:
    """(analysis id, role -> GeoDataFrame, params) on a synthetic city of ``n`` buildings; the
    waste analyses at the sizes of bench_waste.py (at n = 100,000: coverage of 200,000 buildings
    by 20,000 bins, siting k = 20 for 100,000 buildings), PTAL on the 10,000 cells of bench_ptal.py."""
    from benchmarks.bench_waste import points_on_streets

    city, streets, dest = synthetic_city(n), synthetic_network(n), synthetic_destinations(n)
    buildings = city["buildings"]
    out = [
        ("coverage", lambda: ({"buildings": buildings, "targets": dest["transit_stops"]}, {"max_distance_m": 400.0})),
        ("age-friendly", lambda: ({"buildings": buildings, "streets": streets, **dest}, {"new_benches_k": 0})),
        ("isochrones", lambda: ({"streets": streets, "origins": dest["pharmacies"].head(20)}, {})),
        ("waste-coverage", lambda: _waste_coverage_case(2 * n, n // 5)),
        ("waste-siting", lambda: ({"buildings": buildings, "streets": streets,
                                   "waste_bins": points_on_streets(streets, n // 25, 2)}, {"k": 20})),
        ("ptal", _ptal_case),
    ]
    return [(name, *make()) for name, make in out if not which or name in which]


def _waste_coverage_case(n: int, bins: int) -> tuple[dict, dict]:
    from benchmarks.bench_waste import points_on_streets

    streets = synthetic_network(n)
    return {"buildings": synthetic_city(n)["buildings"], "streets": streets,
            "waste_bins": points_on_streets(streets, bins, 1)}, {}


def _ptal_case() -> tuple[dict, dict]:
    from benchmarks.bench_ptal import HSL, area, street_grid
    from layers.readers import read_layer

    return ({"gtfs": read_layer(HSL), "area": area(10_000.0), "streets": street_grid(10_000.0)},
            {"date": "2022-02-22", "grid_m": 100})


def run_once(app, analysis_id: str, layers: dict, params: dict) -> tuple[float, float]:
    """``(seconds, worst stall ms)`` of one run in a worker, as the window runs it."""
    from analysis.registry import get
    from app.analysis_actions import compute
    from app.analysis_dialog import Request
    from app.workers import Task
    from layers.layer import Layer
    from layers.project import AnalysisRun

    spec = get(analysis_id)
    request = Request(AnalysisRun(analysis_id, analysis_id, {r: r for r in layers}, params),
                      {role: Layer(role, gdf, None, role) for role, gdf in layers.items()})
    crs = next(iter(layers.values())).crs
    task = Task(lambda fb: compute(spec, request, crs, fb))
    out = {}
    task.signals.finished.connect(lambda _g, result: out.setdefault("result", result))
    task.signals.failed.connect(lambda _g, message, _known: out.setdefault("error", message))
    with StallMeter() as meter:
        start = time.perf_counter()
        task.start()
        wait_until(app, lambda: out)
        seconds = time.perf_counter() - start
    if "error" in out:
        raise SystemExit(f"{analysis_id} failed: {out['error']}")
    return seconds, meter.worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="these analyses only (coverage, age-friendly, isochrones, "
                                                  "waste-coverage, waste-siting, ptal)")
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"CPUs: {os.cpu_count()}; {args.buildings:,} buildings; {args.repeat} runs each; target stall < 100 ms")
    print(f"{'analysis':<14} {'run s':>7} {'stall ms':>9} {'worst':>6}")
    for analysis_id, layers, params in cases(args.buildings, args.only):
        runs = [run_once(app, analysis_id, layers, params) for _ in range(args.repeat)]
        print(f"{analysis_id:<14} {statistics.median(r[0] for r in runs):>7.2f} "
              f"{statistics.median(r[1] for r in runs):>9.0f} {max(r[1] for r in runs):>6.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
