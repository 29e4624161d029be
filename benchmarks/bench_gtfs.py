"""Reading a big GTFS feed: the HSL sample feed's trips repeated until stop_times.txt has about
5 million rows (written once to /tmp), read by :func:`layers.gtfs.read_feed` for one service day.

    python benchmarks/bench_gtfs.py [--rows 5000000] [--no-frequencies]

The read runs in a fresh subprocess, which prints its wall time and its peak memory (ru_maxrss).
Target: at most 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HSL = ROOT / "sample_data" / "raw" / "hsl_gtfs_cropped.zip"


def make_feed(rows: int, frequencies: bool) -> Path:
    """The HSL feed with its trips copied (ids '<id>~k') until stop_times has ``rows`` rows."""
    path = Path(f"/tmp/citydesk_gtfs_{rows}{'' if frequencies else '_nofreq'}.zip")
    if path.exists():
        return path
    with zipfile.ZipFile(HSL) as src:
        tables = {n: pd.read_csv(src.open(n), dtype=str, keep_default_na=False) for n in src.namelist()}
    st, trips, freq = tables["stop_times.txt"], tables["trips.txt"], tables["frequencies.txt"]
    copies = -(-rows // len(st))
    tmp = path.with_suffix(".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for name, table in tables.items():
            if name in ("stop_times.txt", "trips.txt", "frequencies.txt"):
                continue
            out.writestr(name, table.to_csv(index=False))
        for name, table in (("trips.txt", trips), ("frequencies.txt", freq if frequencies else freq.iloc[:0]),
                            ("stop_times.txt", st)):
            with out.open(name, "w") as fh:
                text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
                for k in range(copies):
                    copy = table.assign(trip_id=table["trip_id"] + f"~{k}")
                    if name == "stop_times.txt" and k == copies - 1:
                        copy = copy.iloc[: rows - k * len(st)]
                    copy.to_csv(text, index=False, header=k == 0)
                text.flush()
                text.detach()
    tmp.rename(path)
    return path


def child(path: str) -> None:
    from layers.gtfs import read_feed

    start = time.perf_counter()
    feed = read_feed(path, service_date="2022-02-22")
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"read_feed: {wall:.2f} s, peak memory (ru_maxrss) {peak_mb:,.0f} MB; stop_times kept "
          f"{feed.counts['stop_times_kept']:,}, trips on the date {feed.counts['trips_on_date']:,}, "
          f"departures {feed.counts['departures']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--no-frequencies", action="store_true", help="copies without frequencies.txt rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    start = time.perf_counter()
    path = make_feed(args.rows, not args.no_frequencies)
    print(f"feed {path} ({path.stat().st_size / 1e6:,.0f} MB zipped), made in {time.perf_counter() - start:.1f} s")
    subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
