"""The demo job (no Qt): open the sample city, run every registered analysis as configured in
the sample project, and write the result layers, the summaries and maps to a folder."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from analysis.registry import analyses, get
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.layer import Layer
from layers.project import AnalysisRun, Project, load_project
from layers.writers import write_json, write_layers


def sample_project_path() -> Path:
    """``sample_data/helsinki.citydesk`` of the source tree CityDesk runs from."""
    path = Path(__file__).resolve().parents[1] / "sample_data" / "helsinki.citydesk"
    if not path.exists():
        raise CityDeskError("the sample city is not here", source=path,
                            fix="Run CityDesk from a clone of its repository, or rebuild the sample city "
                                "with 'make sample-city'")
    return path


def run_project_analyses(project: Project, runs: list[AnalysisRun], *, feedback: Feedback | None = None,
                         log: Callable[[str], None] = lambda _: None) -> list[tuple[AnalysisRun, object]]:
    """Run each configured analysis on the project's layers; returns (run, result) pairs."""
    fb = ensure(feedback)
    out = []
    for i, run in enumerate(runs):
        spec = get(run.analysis)
        inputs, names = {}, {}
        for role, layer_name in run.layers.items():
            layer = project.layer(layer_name)
            if layer.gdf is None:
                raise CityDeskError(f"the layer '{layer_name}' could not be read: {layer.error}", source=project.path,
                                    fix="Repair the layer's source in the project")
            inputs[role] = layer.gdf
            names[role] = layer.name
        log(f"Running {run.title or spec.title} ...")
        sub = SubFeedback(fb, i / len(runs), (i + 1) / len(runs))
        out.append((run, run_analysis(spec.id, inputs, run.params, feedback=sub, names=names)))
    return out


def run_demo(out_dir: Path, *, feedback: Feedback | None = None,
             log: Callable[[str], None] = lambda _: None) -> list[Path]:
    """The demo job on the sample city; returns the files it wrote."""
    from reports.static_map import render_static_map

    fb = ensure(feedback)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log(f"Opening the sample city: {sample_project_path()}")
    project = load_project(sample_project_path(), feedback=SubFeedback(fb, 0.0, 0.2))
    for warning in project.warnings:
        log(f"  warning: {warning}")
    runs = list(project.analyses)
    configured = {r.analysis for r in runs}
    for spec in analyses().values():
        if spec.id not in configured:
            log(f"  note: the sample project has no configured run of '{spec.id}'; it is not part of the demo")
    results = run_project_analyses(project, runs, feedback=SubFeedback(fb, 0.2, 0.8), log=log)

    written: list[Path] = []
    result_layers, summaries = {}, []
    for i, (run, result) in enumerate(results):
        slug = _slug(run.title or run.analysis, i)
        for name, gdf in result.layers.items():
            result_layers[f"{slug}__{name}"] = gdf
        summaries.append({"title": run.title, **result.summary_dict()})
        log(f"  {run.title or run.analysis}: " + _headline(result.summary))
    gpkg = write_layers(result_layers, out_dir / "results.gpkg")
    written.append(gpkg)
    summary_path = out_dir / "summary.json"
    write_json(summary_path, {"project": project.title, "attribution": project.attribution, "runs": summaries})
    written.append(summary_path)

    fb.progress(0.85, "Drawing the overview map")
    overview = render_static_map(project.layers, out_dir / "overview.png", crs=project.crs,
                                 title=project.title, subtitle="City layers of the sample city",
                                 attribution=project.attribution, extent=project.view)
    written.append(overview)
    for i, (run, result) in enumerate(results):
        spec = get(run.analysis)
        main_layer = next(iter(result.layers))
        style = spec.result_styles.get(main_layer)
        if style is None:
            continue
        label = f"{main_layer.replace('_', ' ').capitalize()} (result)"
        layers = [Layer(label, result.layers[main_layer], role="other", style=style)]
        for role, layer_name in run.layers.items():
            if role != main_layer:  # inputs shown for context (as the analysis used them), even if hidden
                context = project.layer(layer_name)
                gdf = result.layers.get(role, context.gdf)
                layers.append(Layer(context.name, gdf, context.source, context.role, context.style))
        path = render_static_map(layers, out_dir / f"{_slug(run.title or run.analysis, i)}.png", crs=project.crs,
                                 title=run.title or spec.title, subtitle=_headline(result.summary),
                                 attribution=project.attribution, extent=project.view)
        written.append(path)
    fb.progress(1.0, "Demo done")
    return written


def _headline(summary) -> str:
    if "covered_share" in summary:
        return (f"{summary['covered_share'] * 100:.1f} % of residents covered "
                f"({summary['residents_not_covered']:,.0f} residents not covered)")
    if "share_all_in_reach" in summary:  # age-friendly
        return (f"{summary['share_all_in_reach'] * 100:.1f} % of residents reach every destination "
                f"({summary.get('share_all_rest_in_reach', 0.0) * 100:.1f} % with rests every "
                f"{summary.get('rest_max_m', 200):,.0f} m); mean score {summary.get('mean_score', 0.0):.0f} / 100")
    shown = [(k, v) for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)][:3]
    return ", ".join(_figure(k, v) for k, v in shown)


def _figure(key: str, value: float) -> str:
    """One figure as the results panel shows it: shares in %, large numbers whole."""
    label = key.replace("_", " ")
    if "share" in key.split("_") or key.endswith("_fraction"):
        return f"{label}: {value * 100:.1f} %"
    return f"{label}: {value:,.0f}" if abs(value) >= 10 else f"{label}: {value:.3g}"


def _slug(text: str, index: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]
    return f"{index + 1:02d}_{slug or 'analysis'}"
