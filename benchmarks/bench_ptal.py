"""PTAL on a 100 m grid of 10,000 cells (10 km x 10 km over central Helsinki) with the HSL feed:
straight-line walk distances, and along a synthetic 100 m street grid covering the same area.

    python benchmarks/bench_ptal.py [--cells-side 100] [--repeat 3]

Target: at most 10 s on 2 cores. The feed is read once before timing (it is cached between runs,
as in the window); the first, uncached read is timed separately.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.runner import run_analysis  # noqa: E402
from layers.gtfs import read_feed  # noqa: E402
from layers.readers import read_layer  # noqa: E402

HSL = ROOT / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"
CENTRE = (386_000.0, 6_673_500.0)  # EPSG:3067, Helsinki centre


def area(side_m: float) -> gpd.GeoDataFrame:
    x0, y0 = CENTRE[0] - side_m / 2, CENTRE[1] - side_m / 2
    return gpd.GeoDataFrame(geometry=[shapely.box(x0, y0, x0 + side_m, y0 + side_m)], crs=3067)


def street_grid(side_m: float, block_m: float = 100.0) -> gpd.GeoDataFrame:
    """Streets every ``block_m`` (between the cell centres) over the area and 1 km around it."""
    lo = np.array(CENTRE) - side_m / 2 - 1000
    n = int((side_m + 2000) / block_m) + 1
    lines = [shapely.LineString([(lo[0] + i * block_m, lo[1]), (lo[0] + i * block_m, lo[1] + (n - 1) * block_m)])
             for i in range(n)]
    lines += [shapely.LineString([(lo[0], lo[1] + j * block_m), (lo[0] + (n - 1) * block_m, lo[1] + j * block_m)])
              for j in range(n)]
    return gpd.GeoDataFrame(geometry=lines, crs=3067)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells-side", type=int, default=100, help="cells per side (100: 10,000 cells)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    side = args.cells_side * 100.0
    start = time.perf_counter()
    read_feed(HSL, service_date="2022-02-22")
    print(f"HSL feed read (uncached): {time.perf_counter() - start:.2f} s")
    gtfs = read_layer(HSL)
    layers = {"gtfs": gtfs, "area": area(side)}
    streets = street_grid(side)
    for label, extra in (("straight line", {}), (f"network ({len(streets):,} streets)", {"streets": streets})):
        times, result = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = run_analysis("ptal", layers | extra, {"date": "2022-02-22", "grid_m": 100})
            times.append(time.perf_counter() - t)
        s = result.summary
        shares = ", ".join(f"{b} {s[f'ptal_{b}_share'] * 100:.0f}%" for b in ("0", "1a", "1b", "2", "3", "4", "5",
                                                                              "6a", "6b"))
        print(f"PTAL {label}: {s['origins']:,} cells, {s['access_points']:,} stops; median "
              f"{statistics.median(times):.2f} s (target <= 10 s); cells per band: {shares}")


if __name__ == "__main__":
    main()
