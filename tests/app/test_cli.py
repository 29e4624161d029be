"""The command line, called as a user would: the console script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from app.cli import main
from layers.writers import write_layers

SCRIPT = Path(sys.executable).with_name("citydesk")


def citydesk(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = str(SCRIPT) if SCRIPT.exists() else shutil.which("citydesk")
    assert exe, "the citydesk console script is not installed (pip install -e .)"
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """Four buildings (10/20/30/40 residents) at 0, 100, 400, 1000 m east of a park's edge."""
    buildings = gpd.GeoDataFrame(
        {"residents": [10, 20, 30, 40]},
        geometry=[box(x, 0, x + 10, 10) for x in (0, 100, 400, 1000)], crs="EPSG:3067")
    park = gpd.GeoDataFrame({"name": ["park"]}, geometry=[box(-200, -100, -5, 110)], crs="EPSG:3067")
    path = tmp_path / "city.gpkg"
    write_layers({"buildings": buildings, "parks": park}, path)
    return path


def test_version_and_help():
    result = citydesk("--version")
    assert result.returncode == 0 and result.stdout.startswith("CityDesk ")
    result = citydesk("--help")
    assert result.returncode == 0
    for command in ("info", "run", "import-osm", "demo"):
        assert command in result.stdout


def test_info_text_and_json(city: Path):
    result = citydesk("info", str(city))
    assert result.returncode == 0, result.stderr
    assert "buildings" in result.stdout and "EPSG:3067" in result.stdout and "features: 4" in result.stdout
    data = json.loads(citydesk("info", str(city), "--json").stdout)
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["buildings"]["count"] == 4
    assert layers["parks"]["geometry_type"] == "Polygon"
    assert "residents" in layers["buildings"]["columns"]


def test_run_coverage_writes_result_and_summary(city: Path, tmp_path: Path):
    out, summary = tmp_path / "result.gpkg", tmp_path / "summary.json"
    result = citydesk("run", "coverage", "--layer", f"buildings={city}:buildings", "--layer",
                      f"targets={city}:parks", "--param", "max_distance_m=150", "--out", str(out),
                      "--summary", str(summary))
    assert result.returncode == 0, result.stderr
    data = json.loads(summary.read_text())
    # buildings' point_on_surface is at x+5: distances 10, 110, 410, 1010 m from the park edge at x=-5
    assert data["summary"]["covered_share"] == pytest.approx(0.3)
    assert data["summary"]["residents_not_covered"] == pytest.approx(70)
    assert data["params"]["max_distance_m"] == 150
    got = gpd.read_file(out, layer="buildings")
    assert got["dist_m"].tolist() == pytest.approx([10, 110, 410, 1010])
    assert "[" not in result.stdout  # piped: no progress bar


def test_run_list_comes_from_registry():
    result = citydesk("run", "--list")
    assert result.returncode == 0
    assert "coverage" in result.stdout and "max_distance_m" in result.stdout and "--layer buildings" in result.stdout


@pytest.mark.parametrize("args, code, words", [
    (["run"], 2, "name an analysis"),
    (["run", "nonsense", "--out", "x.gpkg"], 1, "no analysis 'nonsense'"),
    (["run", "coverage", "--layer", "buildings", "--out", "x.gpkg"], 2, "ROLE=PATH"),
    (["run", "coverage", "--param", "max_distance_m=far", "--out", "x.gpkg"], 1, "max_distance_m"),
    (["frobnicate"], 2, "invalid choice"),
    (["info", "does-not-exist.gpkg"], 1, "does not exist"),
])
def test_mistakes_give_clear_messages_not_tracebacks(args, code, words, tmp_path: Path):
    result = citydesk(*args, cwd=tmp_path)
    assert result.returncode == code
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_missing_role_and_bad_file(city: Path, tmp_path: Path):
    result = citydesk("run", "coverage", "--layer", f"buildings={city}:buildings", "--out", str(tmp_path / "r.gpkg"))
    assert result.returncode == 1 and "needs a 'targets' layer" in result.stderr
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"this is not a geopackage" * 10)
    result = citydesk("run", "coverage", "--layer", f"buildings={bad}", "--layer", f"targets={city}:parks",
                      "--out", str(tmp_path / "r.gpkg"))
    assert result.returncode == 1 and "bad.gpkg" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.gpkg").exists()


def test_no_display_points_to_demo():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    exe = str(SCRIPT) if SCRIPT.exists() else shutil.which("citydesk")
    result = subprocess.run([exe], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "no display" in result.stderr and "citydesk demo" in result.stderr


def test_main_in_process_returns_codes(city: Path, capsys):
    assert main(["info", str(city)]) == 0
    assert main(["info", str(city.with_name("missing.gpkg"))]) == 1
    assert "missing.gpkg" in capsys.readouterr().err


def test_import_osm_writes_city_layers(tmp_path: Path):
    pbf = Path(__file__).resolve().parents[2] / "sample_data" / "raw" / "Helsinki.osm.pbf"
    out = tmp_path / "city.gpkg"
    result = citydesk("import-osm", str(pbf), "--out", str(out))
    assert result.returncode == 0, result.stderr
    import pyogrio

    names = {str(n) for n, _ in pyogrio.list_layers(out)}
    assert {"buildings", "streets", "transit_stops", "waste_bins", "benches", "toilets", "pharmacies",
            "groceries", "green_spaces", "healthcare"} <= names
    assert "buildings: 4" in result.stdout  # ~480 buildings


def test_progress_bar_only_on_a_terminal():
    import io

    from app.progress import TerminalFeedback

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        fb = TerminalFeedback(stream, label="run")
        fb.progress(0.5, "halfway")
        fb.progress(0.2, "never goes back")
        fb.progress(1.0, "done")
        fb.close()
    assert "100%" in tty.getvalue() and "#" * 30 in tty.getvalue()
    assert pipe.getvalue() == ""
