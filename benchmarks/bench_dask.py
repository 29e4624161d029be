"""Region scale on Dask (issue 10): waste-coverage and age-friendly (new_benches_k=0) partitioned on a
local 2-worker cluster, on synthetic regions of 1M, 2M and 5M buildings written as GeoParquet
partitions to /tmp (read box by box by the workers, never whole on the client); time, peak
memory per worker (bounded as the region grows: a tile's memory depends on the tile size and the
halo, not the region), and the ratio to the single-process run where it fits.

    python benchmarks/bench_dask.py [--sizes 1000000 2000000 5000000] [--single-max 1000000]
                                    [--analyses waste-coverage age-friendly] [--tile-rows 50000]

Printed, not time-tested. The single-process run is a child process (its own peak memory).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.partition_sources import hilbert_order  # noqa: E402
from benchmarks.synthetic_city import CRS, synthetic_city, synthetic_destinations, synthetic_network  # noqa: E402

ROOT = Path("/tmp/citydesk_bench_dask")
PART_ROWS = 100_000
AGE_ROLES = ("transit_stops", "benches", "groceries")
PARAMS = {"waste-coverage": {}, "age-friendly": {"new_benches_k": 0}}
#: The summary figure printed for both runs (they must be equal).
ANSWER = {"waste-coverage": "covered_share", "age-friendly": "share_all_in_reach"}


def region(n: int) -> dict[str, gpd.GeoDataFrame]:
    city = synthetic_city(n)
    dests = synthetic_destinations(n)
    rng = np.random.default_rng(11)
    streets = synthetic_network(n)
    blocks = max(1, n // 4)
    ext = float(np.ceil(np.sqrt(blocks)) * 100.0)
    k = max(1, blocks // 2)
    bins = gpd.GeoDataFrame({"kind": rng.choice(["mixed", "bio", "glass"], k),
                             "capacity_l": rng.choice([240.0, 660.0, 3000.0], k)},
                            geometry=shapely.points(rng.uniform(0, ext, (k, 2)) + (385_000.0, 6_671_000.0)), crs=CRS)
    return {"buildings": city["buildings"], "streets": streets, "waste_bins": bins,
            **{r: dests[r] for r in AGE_ROLES}}


def write_parts(layers: dict[str, gpd.GeoDataFrame], folder: Path) -> dict[str, Path]:
    """Each layer as Hilbert-ordered GeoParquet partitions of PART_ROWS rows (compact in space)."""
    shutil.rmtree(folder, ignore_errors=True)
    out = {}
    for name, gdf in layers.items():
        xy = shapely.get_coordinates(shapely.centroid(gdf.geometry.to_numpy()))
        gdf = gdf.iloc[hilbert_order(xy)].reset_index(drop=True)
        (folder / name).mkdir(parents=True)
        for i in range(0, len(gdf), PART_ROWS):
            gdf.iloc[i:i + PART_ROWS].to_parquet(folder / name / f"part-{i // PART_ROWS:04d}.parquet")
        out[name] = folder / name
    return out


def roles_of(analysis: str) -> tuple[str, ...]:
    return ("buildings", "streets", "waste_bins") if analysis == "waste-coverage" else \
        ("buildings", "streets", *AGE_ROLES)


def peak_mb() -> float:
    return _vm_hwm_mb()


def _vm_hwm_mb() -> float:
    """This process's peak resident memory (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak() -> None:
    """Start this process's VmHWM afresh (Linux: write 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _worker_peak_mb() -> float:
    return _vm_hwm_mb()


def run_cluster(analysis: str, paths: dict[str, Path], tile_rows: int) -> dict:
    from analysis.dask_engine import DaskEngine
    from analysis.partition import run_with_engine
    from analysis.partition_files import FileSource

    sources = {r: FileSource(paths[r]) for r in roles_of(analysis)}
    _reset_peak()  # the client's peak of this run, not of making the region
    with DaskEngine(workers=2) as engine:
        t = time.perf_counter()
        result = run_with_engine(analysis, sources, PARAMS[analysis], engine, tile_rows=tile_rows)
        seconds = time.perf_counter() - t
        workers = engine.client.run(_worker_peak_mb)
    return {"seconds": seconds, "worker_peak_mb": sorted(workers.values()), "client_peak_mb": peak_mb(),
            ANSWER[analysis]: result.summary[ANSWER[analysis]]}


def run_single(analysis: str, paths: dict[str, Path]) -> dict:
    """In a child process: read the partitions whole, run_analysis, time and peak memory."""
    code = (  # noqa: UP031 (a script for the child process)
        "import json, sys, time, resource; sys.path.insert(0, %r)\n"
        "import geopandas as gpd, pandas as pd\n"
        "from pathlib import Path\n"
        "from analysis.runner import run_analysis\n"
        "paths = json.loads(%r)\n"
        "layers = {r: gpd.GeoDataFrame(pd.concat([gpd.read_parquet(f) for f in sorted(Path(p).glob('*.parquet'))],"
        " ignore_index=True)) for r, p in paths.items()}\n"
        "t = time.perf_counter()\n"
        "res = run_analysis(%r, layers, %r)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'answer': res.summary[%r],"
        " 'peak_mb': [int(x.split()[1]) / 1024 for x in open('/proc/self/status') if x.startswith('VmHWM')][0]}))\n"
    ) % (str(Path(__file__).resolve().parents[1]), json.dumps({r: str(paths[r]) for r in roles_of(analysis)}),
         analysis, PARAMS[analysis], ANSWER[analysis])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000, 5_000_000])
    ap.add_argument("--single-max", type=int, default=1_000_000, help="largest size also run in one process")
    ap.add_argument("--analyses", nargs="+", default=["waste-coverage", "age-friendly"])
    ap.add_argument("--tile-rows", type=int, default=50_000)
    args = ap.parse_args(argv)
    for n in args.sizes:
        t = time.perf_counter()
        layers = region(n)
        paths = write_parts(layers, ROOT / str(n))
        counts = {k: len(v) for k, v in layers.items()}
        del layers
        gc.collect()
        print(f"\n{n:,} buildings: {counts} written to {ROOT / str(n)} in {time.perf_counter() - t:.0f} s", flush=True)
        for analysis in args.analyses:
            got = run_cluster(analysis, paths, args.tile_rows)
            workers = ", ".join(f"{m:,.0f}" for m in got.pop("worker_peak_mb"))
            line = (f"  {analysis:15s} 2 workers: {got.pop('seconds'):7.1f} s, peak per worker {workers} MB, "
                    f"client {got.pop('client_peak_mb'):,.0f} MB, {got}")
            if n <= args.single_max:
                one = run_single(analysis, paths)
                line += (f"; one process {one['seconds']:.1f} s, {one['peak_mb']:,.0f} MB, "
                         f"{ANSWER[analysis]}: {one['answer']}")
            print(line, flush=True)
        shutil.rmtree(ROOT / str(n), ignore_errors=True)


if __name__ == "__main__":
    main()
