"""Running a registered analysis: check the inputs, bring them to one metric CRS, parse the
parameters, call the pure entry function. The window and the command line both come here, so
they give the same numbers."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd

from analysis.registry import Analysis, get
from analysis.result import AnalysisResult
from layers.crs import common_metric_crs, to_metric
from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.layer import Layer, geometry_kind


def parse_params(spec: Analysis, given: Mapping[str, object]) -> dict[str, object]:
    """Defaults overridden by ``given`` (text or values), each checked against its declaration."""
    params = spec.defaults()
    for name, value in given.items():
        params[name] = spec.param(name).parse(value)
    return params


def prepare_inputs(spec: Analysis, layers: Mapping[str, gpd.GeoDataFrame],
                   names: Mapping[str, str] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Check roles and geometry kinds; reproject every layer to one local metric CRS.
    ``names`` maps role -> a name for messages (the file or layer name)."""
    names = dict(names or {})
    layers = {role: gdf for role, gdf in layers.items() if gdf is not None}
    known = {r.name for r in spec.roles}
    for role in layers:
        if role not in known:
            raise CityDeskError(f"the analysis '{spec.id}' has no input role '{role}'",
                                fix=f"Roles: {', '.join(sorted(known))}")
    for role in spec.roles:
        if role.required and role.name not in layers:
            raise CityDeskError(f"the analysis '{spec.id}' needs a '{role.name}' layer ({role.help})",
                                fix=f"Give it with --layer {role.name}=PATH[:LAYER]")
    for role in spec.roles:
        gdf = layers.get(role.name)
        if gdf is None:
            continue
        label = names.get(role.name, role.name)
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise CityDeskError(f"the '{role.name}' layer has no geometries", source=label,
                                fix="Choose a map layer, not a table")
        if len(gdf) == 0 or (gdf.geometry.isna() | gdf.geometry.is_empty).all():
            raise CityDeskError(f"the '{role.name}' layer is empty", source=label,
                                fix="Choose a layer that holds features")
        kind = geometry_kind(gdf[gdf.geometry.notna()])
        allowed = set(role.geometry)
        if kind != "mixed" and kind not in allowed or kind == "mixed" and len(allowed) < 3:
            raise CityDeskError(f"the '{role.name}' layer has {kind} geometries, the analysis needs "
                                f"{' or '.join(role.geometry)}", source=label, fix="Choose another layer")
    crs = common_metric_crs({names.get(r, r): g for r, g in layers.items()})
    return {role: to_metric(gdf, crs, name=names.get(role, role)) for role, gdf in layers.items()}


def run_analysis(analysis_id: str, layers: Mapping[str, gpd.GeoDataFrame],
                 params: Mapping[str, object] | None = None, *, feedback: Feedback | None = None,
                 names: Mapping[str, str] | None = None) -> AnalysisResult:
    """Run the analysis ``analysis_id`` on ``layers`` (role -> GeoDataFrame in any CRS, or a
    :class:`~layers.layer.Layer`): parameters are parsed and checked, the layers checked and
    reprojected to one local metric CRS (:func:`layers.crs.common_metric_crs`)."""
    names = dict(names or {})
    unwrapped = {}
    for role, value in layers.items():
        if isinstance(value, Layer):
            names.setdefault(role, value.name)
            if value.gdf is None:
                raise CityDeskError(f"the '{role}' layer could not be read ({value.error or 'no data'})",
                                    source=value.name, fix="Repair or replace the layer's file")
            value = value.gdf
        unwrapped[role] = value
    layers = unwrapped
    spec = get(analysis_id)
    parsed = parse_params(spec, params or {})
    inputs = prepare_inputs(spec, layers, names)
    fb = ensure(feedback)
    fb.check_cancelled()
    result = spec.run(**inputs, **parsed, feedback=fb)
    fb.progress(1.0, "Done")
    return AnalysisResult.make(spec.id, dict(result.layers), dict(result.summary), dict(result.params),
                               {r: (names or {}).get(r, r) for r in layers}, dict(getattr(result, "charts", {})))
