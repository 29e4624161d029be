"""Run a project's configured analyses (``Project.analyses``) on its layers. No Qt: the demo, the
report and the slides all run them through here, so they give the numbers the window gives."""

from __future__ import annotations

from collections.abc import Callable

from analysis.registry import get
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.project import AnalysisRun, Project


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
