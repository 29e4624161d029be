"""The waste analyses on the synthetic city: ``waste-coverage`` for 200,000 buildings and 20,000
bins (target <= 5 s), ``waste-siting`` greedy k = 20 among 5,000 candidates for 100,000 buildings
(target <= 10 s), and the exact MILP (HiGHS) on instances it can solve, with the greedy gap.

    python benchmarks/bench_waste.py [--repeat 3] [--coverage 200000 20000] [--siting 100000 5000 20]

Times are medians of ``--repeat`` runs of the whole analysis (network build included).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.waste_coverage import waste_coverage  # noqa: E402
from analysis.waste_siting import waste_siting  # noqa: E402
from benchmarks.synthetic_city import CRS, synthetic_city, synthetic_network  # noqa: E402


def points_on_streets(streets: gpd.GeoDataFrame, n: int, seed: int) -> gpd.GeoDataFrame:
    """``n`` points at random positions along random street lines, 3 m to one side."""
    rng = np.random.default_rng(seed)
    lines = streets.geometry.to_numpy()[rng.integers(0, len(streets), n)]
    pts = shapely.line_interpolate_point(lines, rng.uniform(0, 1, n), normalized=True)
    xy = shapely.get_coordinates(pts) + rng.uniform(-3, 3, (n, 2))
    return gpd.GeoDataFrame({"capacity_l": rng.choice([240.0, 660.0, 1100.0], n)}, geometry=shapely.points(xy),
                            crs=CRS)


def median_time(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--coverage", type=int, nargs=2, default=[200_000, 20_000], metavar=("BUILDINGS", "BINS"))
    parser.add_argument("--siting", type=int, nargs=3, default=[100_000, 5_000, 20],
                        metavar=("BUILDINGS", "CANDIDATES", "K"))
    args = parser.parse_args(argv)

    n, n_bins = args.coverage
    buildings, streets = synthetic_city(n)["buildings"], synthetic_network(n)
    bins = points_on_streets(streets, n_bins, 1)
    t, r = median_time(lambda: waste_coverage(buildings, streets, bins), args.repeat)
    s = r.summary
    print(f"waste-coverage  {n:>8,} buildings {n_bins:>7,} bins: {t:6.2f} s (target 5 s)  covered "
          f"{s['covered_share']:.1%}, {s['bins_overloaded']:,} overloaded, {s['gaps']:,} gaps")

    n, n_cand, k = args.siting
    buildings, streets = synthetic_city(n)["buildings"], synthetic_network(n)
    bins = points_on_streets(streets, n // 25, 2)
    cands = points_on_streets(streets, n_cand, 3)
    t, r = median_time(lambda: waste_siting(buildings, streets, bins, candidates=cands, k=k, method="greedy"),
                       args.repeat)
    s = r.summary
    print(f"waste-siting    {n:>8,} buildings {n_cand:>7,} candidates k={k}: {t:6.2f} s (target 10 s)  "
          f"{s['covered_share_before']:.1%} -> {s['covered_share_after']:.1%}, {s['demand_buildings']:,} "
          f"buildings not covered, greedy within {s['greedy_gap_bound_fraction']:.1%} of the optimum (bound)")

    print("exact MILP (HiGHS) against greedy, k = 10, default street candidates every 25 m:")
    print(f"  {'buildings':>9} {'candidates':>10} {'demand':>7} {'pairs':>8} {'greedy s':>9} {'exact s':>8} "
          f"{'status':>24} {'greedy gap':>10} {'bound gap':>9}")
    for n in (2_000, 5_000, 10_000):
        buildings, streets = synthetic_city(n)["buildings"], synthetic_network(n)
        bins = points_on_streets(streets, n // 100, 4)
        tg, g = median_time(lambda b=buildings, st=streets, bi=bins: waste_siting(b, st, bi, k=10, method="greedy"),
                            1)
        te, e = median_time(lambda b=buildings, st=streets, bi=bins: waste_siting(b, st, bi, k=10, method="exact",
                                                                                  time_limit_s=60), 1)
        s = e.summary
        gap = "-" if s["greedy_gap_fraction"] is None else f"{s['greedy_gap_fraction']:.2%}"
        print(f"  {n:>9,} {s['candidates_useful']:>10,} {s['demand_buildings']:>7,} {s['coverage_pairs']:>8,} "
              f"{tg:>9.2f} {s['exact_time_s']:>8.2f} {s['exact_status']:>24} {gap:>10} "
              f"{g.summary['greedy_gap_bound_fraction']:>9.1%}")
    sample = Path(__file__).resolve().parents[1] / "sample_data" / "helsinki.gpkg"
    if sample.exists():
        layers = [gpd.read_file(sample, layer=name) for name in ("buildings", "streets", "waste_bins")]
        print("the sample city (482 buildings, 52 bins), exact against greedy:")
        for k in (5, 10, 20):
            tg, g = median_time(lambda k=k: waste_siting(*layers, k=k, method="greedy"), 1)
            e = waste_siting(*layers, k=k, method="exact", time_limit_s=60).summary
            gap = "-" if e["greedy_gap_fraction"] is None else f"{e['greedy_gap_fraction']:.2%}"
            print(f"  k={k:<3} greedy {tg:.2f} s {g.summary['covered_share_after']:.1%}, exact "
                  f"{e['exact_time_s']:.2f} s {e['covered_share_after']:.1%} ({e['exact_status']}), "
                  f"greedy gap {gap}, bound gap {g.summary['greedy_gap_bound_fraction']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
