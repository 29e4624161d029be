"""`citydesk demo` on the sample city, through the console script, and the same numbers as
`citydesk run` on the same layers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from analysis.registry import analyses
from layers.project import load_project
from tests.app.test_cli import citydesk

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "citydesk-demo"
    result = citydesk("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_demo_writes_results_summaries_and_maps(demo):
    out, stdout = demo
    for name in ("results.gpkg", "summary.json", "overview.png", "report.pdf", "report.html", "meeting_map.pdf",
                 "meeting_map.png", "slides.pptx", "webmap.html"):
        assert (out / name).stat().st_size > 1000, name
        assert str(out / name) in stdout  # it says what it wrote
    summary = json.loads((out / "summary.json").read_text())
    assert "OpenStreetMap" in " ".join(summary["attribution"])
    runs = {run["title"]: run for run in summary["runs"]}
    green = next(r for t, r in runs.items() if t.startswith("Green space"))
    assert green["params"]["max_distance_m"] == 300 and green["params"]["min_target_area_m2"] == 5000
    assert 0.5 < green["summary"]["covered_share"] <= 1.0
    assert green["summary"]["residents_total"] == pytest.approx(4336, rel=0.01)
    image = imread(out / "overview.png")
    assert image.shape[0] > 800 and image.shape[1] > 1000
    assert len(np.unique(image.reshape(-1, image.shape[-1])[::97], axis=0)) > 20  # a map, not a blank page


def test_demo_runs_every_registered_analysis(demo):
    out, _ = demo
    ran = {run["analysis"] for run in json.loads((out / "summary.json").read_text())["runs"]}
    assert ran == set(analyses())


def test_sample_project_opens_cleanly():
    project = load_project(SAMPLE / "helsinki.citydesk")
    assert project.warnings == []
    assert all(layer.gdf is not None and len(layer.gdf) for layer in project.layers)
    assert any("synthetic" in layer.name.lower() for layer in project.layers)


def test_window_and_command_line_doors_agree(demo, tmp_path: Path):
    """`citydesk run` on the sample GeoPackage gives the demo's numbers."""
    out, _ = demo
    demo_run = next(r for r in json.loads((out / "summary.json").read_text())["runs"]
                    if r["title"].startswith("Green space"))
    project = load_project(SAMPLE / "helsinki.citydesk")
    project_run = next(r for r in project.analyses if r.title == demo_run["title"])
    src = {role: project.layer(name).source for role, name in project_run.layers.items()}
    summary_path = tmp_path / "s.json"
    # the demo weighs buildings by residents computed by the population run; the file has them too
    args = ["run", "coverage", "--out", str(tmp_path / "r.gpkg"), "--summary", str(summary_path)]
    for role, source in src.items():
        args += ["--layer", f"{role}={source.path}:{source.layer}"]
    for name, value in project_run.params.items():
        args += ["--param", f"{name}={value}"]
    from app.cli import main

    assert main(args) == 0  # in-process: the demo fixture is the console script's smoke test
    assert json.loads(summary_path.read_text())["summary"] == demo_run["summary"]


def test_demo_report_figures_match_the_summaries(demo):
    """The meeting pack's HTML report carries the demo's own numbers (the same result objects)."""
    from reports.sentences import number

    out, _ = demo
    html = (out / "report.html").read_text(encoding="utf-8")
    green = next(r for r in json.loads((out / "summary.json").read_text())["runs"]
                 if r["title"].startswith("Green space"))
    assert f"{number(green['summary']['residents_not_covered'])} residents" in html
    assert "http://" not in html and "https://" not in html


def test_the_demo_log_uses_the_analyses_headlines():
    """The demo prints the same one-line answer as the Results panel (Analysis.headline)."""
    from analysis.wording import headline

    text = headline({"share_all_in_reach": 0.0253, "share_all_rest_in_reach": 0.0187, "mean_score": 74.99,
                     "rest_max_m": 200.0}, "age-friendly")
    assert text == ("2.5 % of residents reach every destination (1.9 % with a rest every 200 m); "
                    "mean score 75 / 100")
