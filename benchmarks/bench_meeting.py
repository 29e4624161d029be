"""Meeting pack benchmarks: an A3 300 dpi PDF meeting map of 100,000 building polygons (target
<= 10 s) and the wall time of `citydesk demo` (the whole pack for the sample city, target <= 90 s).

    .venv/bin/python -m benchmarks.bench_meeting [--buildings 100000] [--skip-demo]

Prints wall and CPU seconds: on a loaded machine the wall time grows, the CPU time does not. The
map is timed twice: the first run in the process also pays one-off library imports (mapclassify
loads scipy.stats, about 3 s of CPU), the second is what a running window pays.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic_city import synthetic_city
from layers.layer import Layer
from layers.style import Style
from reports.meeting_map import MapOptions, write_map

MAP_TARGET_S, DEMO_TARGET_S = 10.0, 90.0


def bench_map(n: int, out: Path, city=None) -> tuple[float, float]:
    """(wall, CPU) seconds of writing the A3 300 dpi PDF of ``n`` synthetic buildings."""
    city = city or synthetic_city(n)
    layers = [Layer("Bus stops", city["transit_stops"], style=Style(fill="#0072B2", stroke="#ffffff", size=5)),
              Layer("Buildings", city["buildings"], style=Style(kind="graduated", field="residents", classes=5,
                                                                 unit="residents", stroke_width=0.3)),
              Layer("Streets", city["streets"], style=Style(stroke="#888888", stroke_width=0.6)),
              Layer("Parks", city["green_spaces"], style=Style(fill="#a1d99b", stroke_width=0))]
    options = MapOptions(title=f"{n:,} buildings", subtitle="Synthetic city", paper="A3", landscape=True, dpi=300,
                         attribution=("Synthetic data",))
    start, cpu = time.perf_counter(), time.process_time()
    write_map(layers, out, crs=city["buildings"].crs, options=options)
    return time.perf_counter() - start, time.process_time() - cpu


def bench_demo(out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `citydesk demo` in a fresh process."""
    exe = Path(sys.executable).with_name("citydesk")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(exe), "demo", "--out", str(out)], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=100_000)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "map.pdf"
        city = synthetic_city(args.buildings)
        for run in ("first run", "again"):
            wall, cpu = bench_map(args.buildings, pdf, city)
            print(f"meeting map A3 300 dpi PDF, {args.buildings:,} buildings ({run}): {wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU ({pdf.stat().st_size / 1e6:.1f} MB; target {MAP_TARGET_S:g} s, "
                  f"ratio {wall / MAP_TARGET_S:.2f})")
        if not args.skip_demo:
            wall, cpu = bench_demo(Path(tmp) / "demo")
            print(f"citydesk demo (whole meeting pack): {wall:.1f} s wall, {cpu:.1f} s CPU (target "
                  f"{DEMO_TARGET_S:g} s, ratio {wall / DEMO_TARGET_S:.2f})")

if __name__ == "__main__":
    main()
