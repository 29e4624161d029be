"""The one registry of analyses, read by the window (dialogs) and the command line (options).

Each analysis module defines ``SPEC = Analysis(...)``; adding an analysis is that module plus
one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from analysis.params import Param, Role
from analysis.partition_spec import PartitionSpec
from layers.errors import CityDeskError
from layers.style import Style

_MODULES = (
    "analysis.coverage",
    "analysis.dasymetric",
    "analysis.age_friendly",
    "analysis.isochrones",
    "analysis.fill_levels",
    "analysis.waste_coverage",
    "analysis.waste_siting",
    "analysis.scenario_compare",
    "analysis.air_quality",
    "analysis.sensor_surface",
    "analysis.hotspots",
    "analysis.district_summary",
    "analysis.transit_frequency",
    "analysis.ptal",
)


@dataclass(frozen=True)
class Analysis:
    """An analysis as the user sees it: id (``coverage``), title, what it answers, its input
    roles and parameters, and its pure entry function ``run(**layers, **params, feedback=...)``."""

    id: str
    title: str
    description: str
    roles: tuple[Role, ...]
    params: tuple[Param, ...]
    run: Callable
    sources: tuple[str, ...] = ()  # where the default thresholds come from
    result_styles: dict[str, Style] = field(default_factory=dict)  # default styles of result layers
    # How the results read (Results panel, demo, reports): the summary keys that answer the question,
    # shown first (the others under "More figures"), and the one-line answer made from a summary.
    key_figures: tuple[str, ...] = ()
    headline: Callable[[Mapping[str, object]], str] | None = None
    # How the analysis runs partitioned on a cluster (analysis.partition); None: it cannot be
    # partitioned exactly (a global budget, a global ranking...) and runs whole on one worker.
    partition: PartitionSpec | None = None
    partition_note: str = ""  # without a partition: why it runs whole on one worker (said to the user)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "(none)"
        raise CityDeskError(f"the analysis '{self.id}' has no parameter '{name}'", fix=f"Parameters: {known}")

    def defaults(self) -> dict[str, object]:
        return {p.name: p.default for p in self.params}

    def styles_for(self, summary: Mapping[str, object] | None = None) -> dict[str, Style]:
        """The declared styles of the result layers; graduated ones without a unit take the run's
        (``summary['unit']``, e.g. µg/m³ of a sensor surface) for their legend."""
        unit = (summary or {}).get("unit")
        if not isinstance(unit, str) or not unit:
            return dict(self.result_styles)
        return {name: replace(s, unit=unit) if s.kind == "graduated" and not s.unit else s
                for name, s in self.result_styles.items()}


def analyses() -> dict[str, Analysis]:
    """Every registered analysis by id, in registry order."""
    out = {}
    for module in _MODULES:
        spec = importlib.import_module(module).SPEC
        out[spec.id] = spec
    return out


def get(analysis_id: str) -> Analysis:
    found = analyses()
    if analysis_id not in found:
        raise CityDeskError(f"there is no analysis '{analysis_id}'",
                            fix=f"Analyses: {', '.join(found)} (see 'citydesk run --list')")
    return found[analysis_id]
