"""Reading and writing 200,000 building polygons through PostGIS, compared with a GeoPackage.

    python benchmarks/bench_postgis.py [--buildings 200000] [--url postgresql://USER@HOST:PORT/DB]

Without --url a throw-away PostgreSQL + PostGIS server is started on a loopback port (as the
tests do: tests/postgis/pg_server.py; needs the Debian packages postgresql and
postgresql-postgis) and stopped at the end. Prints seconds for each step and the PostGIS /
GeoPackage ratios (above 1: PostGIS is slower).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=200_000)
    parser.add_argument("--url", help="an existing database (default: start a throw-away server)")
    args = parser.parse_args()

    from benchmarks.synthetic_city import synthetic_city
    from layers.readers import read_layer
    from layers.writers import write_layers

    buildings = synthetic_city(args.buildings)["buildings"]
    print(f"{len(buildings):,} building polygons, columns: {', '.join(buildings.columns[:-1])}")
    server = None
    url = args.url
    if url is None:
        from tests.postgis.pg_server import PgServer, find_bin

        bindir = find_bin()
        if bindir is None:
            print("No PostgreSQL with PostGIS here: apt-get install postgresql postgresql-postgis, or give --url")
            return 1
        server = PgServer(bindir)
        server.start()
        url = server.url()
        print(f"test server started in {server.started_s:.1f} s")
    table_url = f"{url}?table=public.bench_buildings"
    try:
        with tempfile.TemporaryDirectory() as folder:
            gpkg = Path(folder) / "bench.gpkg"
            _, gpkg_write = _timed(lambda: write_layers({"buildings": buildings}, gpkg))
            back, gpkg_read = _timed(lambda: read_layer(gpkg, "buildings"))
            assert len(back) == len(buildings)
        _, pg_write = _timed(lambda: write_layers({"buildings": buildings}, table_url, replace=True))
        back, pg_read = _timed(lambda: read_layer(table_url))
        assert len(back) == len(buildings)
        from layers.postgis import read_postgis_layer

        xmin, ymin, xmax, ymax = buildings.total_bounds
        box = (xmin, ymin, xmin + (xmax - xmin) / 10, ymin + (ymax - ymin) / 10)
        part, pg_bbox = _timed(lambda: read_postgis_layer(table_url, bbox=box))
    finally:
        if server is not None:
            server.stop()
    print(f"{'':24}{'write s':>10}{'read s':>10}")
    print(f"{'GeoPackage':24}{gpkg_write:10.2f}{gpkg_read:10.2f}")
    print(f"{'PostGIS':24}{pg_write:10.2f}{pg_read:10.2f}")
    print(f"ratio PostGIS / GeoPackage: write {pg_write / gpkg_write:.2f}x, read {pg_read / gpkg_read:.2f}x")
    print(f"PostGIS read of 1/100 of the area (map extent filter): {len(part):,} features in {pg_bbox:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
