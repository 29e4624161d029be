"""Straight-line coverage: CityDesk's ``coverage`` against a plain geopandas baseline
(``sjoin_nearest`` from building points to targets) on the same synthetic city, in one run.

    python benchmarks/bench_coverage.py [--sizes 10000 100000] [--repeat 5]

Prints the median wall time of each and the ratio baseline / CityDesk (above 1: CityDesk is faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.coverage import coverage  # noqa: E402
from benchmarks.synthetic_city import synthetic_city  # noqa: E402


def baseline(buildings: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, max_distance_m: float) -> float:
    points = gpd.GeoDataFrame(buildings[["residents"]], geometry=buildings.geometry.representative_point(),
                              crs=buildings.crs)
    joined = gpd.sjoin_nearest(points, targets[["geometry"]], distance_col="dist_m")
    joined = joined[~joined.index.duplicated()]
    covered = joined["dist_m"] <= max_distance_m
    return float(joined.loc[covered, "residents"].sum() / joined["residents"].sum())


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'buildings':>10} {'citydesk s':>11} {'baseline s':>11} {'ratio':>7}  share")
    for n in args.sizes:
        city = synthetic_city(n)
        b, t = city["buildings"], city["green_spaces"]
        ours_t, ours = median_time(lambda b=b, t=t: coverage(b, t, max_distance_m=300), args.repeat)
        base_t, base = median_time(lambda b=b, t=t: baseline(b, t, 300), args.repeat)
        assert np.isclose(ours.summary["covered_share"], base), "CityDesk and the baseline disagree"
        print(f"{n:>10} {ours_t:>11.3f} {base_t:>11.3f} {base_t / ours_t:>7.2f}  {base:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
