"""Sensor readings import and resampling: a year of hourly readings for 500 stations (4.4 million
rows, one variable) written as Parquet and as CSV, imported with :func:`read_sensor_readings`
(duplicates, gaps, DST) and resampled daily and monthly in Europe/Helsinki (target <= 10 s).

    python benchmarks/bench_sensors.py [--stations 500] [--repeat 1] [--csv]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layers.sensor_stats import resample, station_stats  # noqa: E402
from layers.sensors import read_sensor_readings  # noqa: E402

TARGET_S = 10.0


def synthetic_readings(stations: int, seed: int = 1) -> pd.DataFrame:
    """Hourly NO2 for 2025 (UTC), ``stations`` stations, long format, 0.5 % of rows missing."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2025-01-01", "2026-01-01", freq="h", inclusive="left", tz="UTC")
    ids = np.repeat([f"ST{i:04d}" for i in range(stations)], len(hours))
    times = np.tile(hours.tz_localize(None).to_numpy(), stations)
    value = np.round(rng.gamma(4.0, 5.0, len(ids)), 1)
    keep = rng.random(len(ids)) > 0.005
    return pd.DataFrame({"station_id": ids[keep], "time": pd.DatetimeIndex(times[keep]).tz_localize("UTC"),
                         "variable": "NO2", "value": value[keep], "unit": "µg/m³"})


def run(path: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    readings = read_sensor_readings(path)
    daily = resample(readings.table, "daily", timezone="Europe/Helsinki")
    resample(readings.table, "monthly", timezone="Europe/Helsinki")
    return time.perf_counter() - start, len(readings.table), len(daily)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--csv", action="store_true", help="also time the same readings as a CSV file")
    args = parser.parse_args(argv)
    table = synthetic_readings(args.stations)
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / "readings.parquet"]
        table.to_parquet(paths[0], index=False)
        if args.csv:
            paths.append(Path(folder) / "readings.csv")
            table.assign(time=table["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(paths[1], index=False)
        for path in paths:
            times = []
            for _ in range(args.repeat):
                seconds, rows, days = run(path)
                times.append(seconds)
            median = statistics.median(times)
            ok &= median <= TARGET_S
            print(f"{path.suffix[1:]:8s} {rows:,} readings, {days:,} station-days: import + daily + monthly "
                  f"{median:.2f} s (target <= {TARGET_S:g} s, ratio {median / TARGET_S:.2f})")
        start = time.perf_counter()
        station_stats(read_sensor_readings(paths[0]).table)
        print(f"station statistics (import included) {time.perf_counter() - start:.2f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
