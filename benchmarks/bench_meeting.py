"""Meeting pack benchmarks: an A3 300 dpi PDF meeting map of 100,000 building polygons (target
<= 10 s) and the wall time of `citydesk demo` (the whole pack for the sample city, target <= 90 s).

    .venv/bin/python -m benchmarks.bench_meeting [--buildings 100000] [--skip-demo]
"""

from __future__ import annotations

import argparse
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


def bench_map(n: int, out: Path) -> float:
    city = synthetic_city(n)
    layers = [Layer("Bus stops", city["transit_stops"], style=Style(fill="#0072B2", stroke="#ffffff", size=5)),
              Layer("Buildings", city["buildings"], style=Style(kind="graduated", field="residents", classes=5,
                                                                 unit="residents", stroke_width=0.3)),
              Layer("Streets", city["streets"], style=Style(stroke="#888888", stroke_width=0.6)),
              Layer("Parks", city["green_spaces"], style=Style(fill="#a1d99b", stroke_width=0))]
    options = MapOptions(title=f"{n:,} buildings", subtitle="Synthetic city", paper="A3", landscape=True, dpi=300,
                         attribution=("Synthetic data",))
    start = time.perf_counter()
    write_map(layers, out, crs=city["buildings"].crs, options=options)
    return time.perf_counter() - start


def bench_demo(out: Path) -> float:
    exe = Path(sys.executable).with_name("citydesk")
    start = time.perf_counter()
    subprocess.run([str(exe), "demo", "--out", str(out)], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=100_000)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "map.pdf"
        seconds = bench_map(args.buildings, pdf)
        print(f"meeting map A3 300 dpi PDF, {args.buildings:,} buildings: {seconds:.2f} s "
              f"({pdf.stat().st_size / 1e6:.1f} MB; target {MAP_TARGET_S:g} s, ratio {seconds / MAP_TARGET_S:.2f})")
        if not args.skip_demo:
            seconds = bench_demo(Path(tmp) / "demo")
            print(f"citydesk demo (whole meeting pack): {seconds:.1f} s (target {DEMO_TARGET_S:g} s, "
                  f"ratio {seconds / DEMO_TARGET_S:.2f})")


if __name__ == "__main__":
    main()
