"""The demo job (no Qt): open the sample city, run every analysis configured in the sample
project, and write the meeting pack to a folder: report (PDF, HTML), meeting map (PDF, PNG), web
map, slides, results GeoPackage, summaries and one map per run."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from analysis.registry import analyses, get
from analysis.wording import headline
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.layer import Layer
from layers.project import load_project
from layers.style import Style
from layers.writers import write_json, write_layers
from reports.project_runs import run_project_analyses

__all__ = ["run_demo", "run_project_analyses", "sample_project_path"]


def sample_project_path() -> Path:
    """``sample_data/helsinki.citydesk`` of the source tree CityDesk runs from."""
    path = Path(__file__).resolve().parents[1] / "sample_data" / "helsinki.citydesk"
    if not path.exists():
        raise CityDeskError("the sample city is not here", source=path,
                            fix="Run CityDesk from a clone of its repository, or rebuild the sample city "
                                "with 'make sample-city'")
    return path


def run_demo(out_dir: Path, *, feedback: Feedback | None = None,
             log: Callable[[str], None] = lambda _: None) -> list[Path]:
    """The demo job on the sample city: the whole meeting pack (report PDF and HTML, meeting map
    PDF and PNG, web map HTML, slides, results GeoPackage with styles, summaries, one map per run);
    returns the files it wrote."""
    from reports.meeting_map import MapOptions, project_map
    from reports.report import build_report, write_report
    from reports.slides import write_slides
    from reports.static_map import render_static_map

    fb = ensure(feedback)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log(f"Opening the sample city: {sample_project_path()}")
    project = load_project(sample_project_path(), feedback=SubFeedback(fb, 0.0, 0.1))
    for warning in project.warnings:
        log(f"  warning: {warning}")
    runs = list(project.analyses)
    configured = {r.analysis for r in runs}
    for spec in analyses().values():
        if spec.id not in configured:
            log(f"  note: the sample project has no configured run of '{spec.id}'; it is not part of the demo")
    results = run_project_analyses(project, runs, feedback=SubFeedback(fb, 0.1, 0.5), log=log)

    written: list[Path] = []
    result_layers, summaries = [], []
    for i, (run, result) in enumerate(results):
        slug = _slug(run.title or run.analysis, i)
        styles = get(run.analysis).styles_for(result.summary)
        for name, gdf in result.layers.items():
            result_layers.append(Layer(f"{slug}__{name}", gdf, role="other", style=styles.get(name, Style())))
        summaries.append({"title": run.title, **result.summary_dict()})
        log(f"  {run.title or run.analysis}: " + headline(result.summary, run.analysis))
    fb.progress(0.5, "Writing the results GeoPackage")
    written.append(_write_results(result_layers, out_dir / "results.gpkg"))
    summary_path = out_dir / "summary.json"
    write_json(summary_path, {"project": project.title, "attribution": project.attribution, "runs": summaries})
    written.append(summary_path)

    fb.progress(0.55, "Drawing the meeting map")
    options = MapOptions(title=project.title, subtitle="City layers for the meeting", paper="A3", landscape=True,
                         dpi=150)
    for suffix in (".pdf", ".png"):
        written.append(project_map(project, out_dir / f"meeting_map{suffix}", options, use_view=True))
    written.append(render_static_map(project.layers, out_dir / "overview.png", crs=project.crs,
                                     title=project.title, subtitle="City layers of the sample city",
                                     attribution=project.attribution, extent=project.view))
    fb.progress(0.6, "Building the report")
    report = build_report(project, results=results, feedback=SubFeedback(fb, 0.6, 0.8), log=log)
    for i, (section, (run, _result)) in enumerate(zip(report.sections, results, strict=True)):
        if section.map_png:  # the report's map of each run, also as a file of its own
            path = out_dir / f"{_slug(run.title or run.analysis, i)}.png"
            path.write_bytes(section.map_png)
            written.append(path)
    fb.progress(0.8, "Writing the report")
    written += write_report(report, out_dir, ("pdf", "html"))
    written.append(write_slides(report, out_dir / "slides.pptx"))
    fb.progress(0.9, "Writing the web map")
    try:
        from reports.webmap import write_webmap
    except ImportError:
        log("  note: the web map export is not part of this version; no webmap.html")
    else:
        written.append(write_webmap(project, out_dir / "webmap.html").path)
    fb.progress(1.0, "Demo done")
    return written


def _write_results(layers: list[Layer], path: Path) -> Path:
    """The result layers with their styles (a ``layer_styles`` table QGIS reads) when the data
    export is there, else plain."""
    try:
        from reports.data_export import export_layers
    except ImportError:
        return write_layers({lay.name: lay.gdf for lay in layers}, path)
    export_layers(layers, path, styles=True)
    return path


def _slug(text: str, index: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]
    return f"{index + 1:02d}_{slug or 'analysis'}"
