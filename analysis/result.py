"""The result of an analysis: result layers, a summary of key figures and the parameters used."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd


@dataclass(frozen=True)
class AnalysisResult:
    """Frozen: the layers mapping, summary and parameters cannot be changed after the run."""

    analysis: str
    layers: MappingProxyType[str, gpd.GeoDataFrame]
    summary: MappingProxyType[str, Any]
    params: MappingProxyType[str, Any]
    inputs: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Small tables to draw as charts, name -> DataFrame (first column x, the others y; optional
    #: ``attrs`` title, x_label, y_label), e.g. the coverage curve of ``waste-siting``.
    charts: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def make(cls, analysis: str, layers: dict, summary: dict, params: dict, inputs: dict | None = None,
             charts: dict | None = None):
        return cls(analysis, MappingProxyType(dict(layers)), MappingProxyType(_plain(summary)),
                   MappingProxyType(_plain(params)), MappingProxyType(dict(inputs or {})),
                   MappingProxyType(dict(charts or {})))

    def summary_dict(self) -> dict:
        """Summary, parameters and inputs as plain JSON-ready data."""
        return {"analysis": self.analysis, "summary": dict(self.summary), "params": dict(self.params),
                "inputs": dict(self.inputs)}


def _plain(values: dict) -> dict:
    import numpy as np

    out = {}
    for key, value in values.items():
        if isinstance(value, np.generic):
            value = value.item()
        out[str(key)] = value
    return out
