"""PostGIS through the real doors: the ``citydesk`` command in a subprocess, a writer process
killed in the middle of a replace, and a project file that keeps a PostGIS source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from layers.project import Project, load_project
from layers.readers import read_layer, read_layers
from layers.writers import write_layers

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("citydesk")

KILLED_WRITER = """
import sys, time
import geopandas as gpd, numpy as np, shapely
from layers.postgis import write_postgis_layers

class Stall:  # stops for good once rows are in the new table: the parent kills the process then
    def progress(self, fraction, message=""):
        if "rows" in message:
            print("WRITING", flush=True)
            time.sleep(300)
    def check_cancelled(self):
        pass

gdf = gpd.GeoDataFrame({"v": np.arange(60_000)}, geometry=shapely.points(np.arange(60_000), 0), crs=3067)
write_postgis_layers({"t": gdf}, sys.argv[1], replace=True, feedback=Stall())
"""


def citydesk(*args: str) -> subprocess.CompletedProcess:
    exe = str(SCRIPT) if SCRIPT.exists() else "citydesk"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PGPASSWORD": ""})


def test_a_killed_writer_leaves_the_old_table_intact(pg):
    url = pg.url("killed")
    write_layers({"killed": gpd.GeoDataFrame({"v": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs=3067)}, url)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, url], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "WRITING", proc.stderr.read()
        with pg.connect() as conn:  # the writer's transaction is open, with its new table filling
            busy = conn.execute("SELECT query FROM pg_stat_activity WHERE application_name = 'CityDesk' "
                                "AND backend_xid IS NOT NULL").fetchall()
            assert len(busy) == 1 and busy[0][0].startswith("COPY")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    with pg.connect() as conn:
        deadline = time.monotonic() + 30  # the server notices the dead client and rolls back
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'CityDesk'"
                           ).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        leftovers = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'citydesk_tmp%'").fetchall()
    assert leftovers == []
    assert read_layer(url)["v"].tolist() == [1, 2]


def test_citydesk_run_reads_and_writes_postgis(pg, tmp_path, capsys):
    buildings = gpd.GeoDataFrame({"residents": [10, 20, 30, 40]},
                                 geometry=[box(x, 0, x + 10, 10) for x in (0, 100, 400, 1000)], crs="EPSG:3067")
    park = gpd.GeoDataFrame({"name": ["park"]}, geometry=[box(-200, -100, -5, 110)], crs="EPSG:3067")
    write_layers({"b": buildings}, pg.url("cli_buildings"))
    write_layers({"p": park}, tmp_path / "parks.gpkg")
    args = ["run", "coverage", "--layer", f"buildings={pg.url('cli_buildings')}", "--layer",
            f"targets={tmp_path / 'parks.gpkg'}", "--param", "max_distance_m=150",
            "--out", pg.url("public.coverage_result"), "--summary", str(tmp_path / "s.json")]
    result = citydesk(*args)
    assert result.returncode == 0, result.stderr
    # two result layers: one table each, TABLE_LAYER, written in one transaction
    assert f"wrote {pg.url('public.coverage_result_buildings')} (4 rows)" in result.stdout
    got = read_layer(pg.url("coverage_result_buildings"))
    assert got["dist_m"].tolist() == pytest.approx([10, 110, 410, 1010])
    assert json.loads((tmp_path / "s.json").read_text())["summary"]["covered_share"] == pytest.approx(0.3)
    from app.cli import main  # the rest in-process (the same code as the console script), faster

    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--replace" in err and "Traceback" not in err
    assert main([*args, "--replace"]) == 0
    assert main(["info", pg.url("coverage_result_buildings")]) == 0
    out = capsys.readouterr().out
    assert "kind:     PostGIS" in out and "features: 4" in out and "EPSG:3067" in out
    assert main(["info", pg.url("nothing_here")]) == 1
    assert "there is no table 'public.nothing_here'" in capsys.readouterr().err
    assert main(["info", "postgresql://citydesk:topsecret@127.0.0.1:1/x?table=y"]) == 1
    err = capsys.readouterr().err
    assert "holds a password" in err and "topsecret" not in err


def test_a_project_keeps_the_url_and_reads_it_back(pg, tmp_path):
    write_layers({"p": gpd.GeoDataFrame({"v": [5]}, geometry=[Point(3, 4)], crs=3067)}, pg.url("in_project"))
    layers = read_layers(pg.url("in_project"))
    project = Project(layers=layers, title="db")
    path = tmp_path / "sub" / "db.citydesk"
    path.parent.mkdir()
    project.save(path)
    saved = json.loads(path.read_text())
    assert saved["layers"][0]["source"]["path"] == pg.url("public.in_project")
    again = load_project(path)
    assert again.warnings == []
    assert again.layers[0].source.path == pg.url("public.in_project") and again.layers[0].gdf["v"].tolist() == [5]
