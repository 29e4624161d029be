"""``coverage`` — straight-line coverage: the share of residents within D metres of a target layer.

Each building's point is its ``point_on_surface()``; its distance is the straight-line distance
in metres to the nearest target feature (0 inside a polygon target). Buildings are weighed by
their residents (a population column), or 1 each without one. With ``min_target_area_m2`` only
polygon targets at least that large count, as in the WHO green-space indicator ("a green space of
at least 0.5-1 ha within 300 m straight-line distance of home").
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from analysis import figures
from analysis.params import Param, Role
from analysis.partition_spec import PartitionSpec
from analysis.population import origins, population_weights
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.style import Style

CHUNK = 20_000


def coverage(buildings: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *, max_distance_m: float = 300.0,
             min_target_area_m2: float = 0.0, population_field: str = "",
             feedback: Feedback | None = None) -> AnalysisResult:
    """Straight-line coverage of ``buildings`` by ``targets`` (both in the same metric CRS).

    Returns layers ``buildings`` (input columns + ``dist_m`` in metres, NaN without geometry or
    without targets, and ``covered``) and ``targets`` (the targets that counted), and a summary
    with ``covered_share`` (population-weighted, 0-1), ``covered_share_buildings`` and
    ``residents_not_covered``.
    """
    fb = ensure(feedback)
    fb.check_cancelled()
    for role, gdf in (("buildings", buildings), ("targets", targets)):
        if gdf.crs is None or not gdf.crs.is_projected:
            raise CityDeskError("coverage needs layers in a metric CRS", source=role,
                                fix="Run it through citydesk run or the window, which reproject for you")
    if buildings.crs != targets.crs:
        raise CityDeskError(f"the targets are in {targets.crs.name}, the buildings in {buildings.crs.name}",
                            source="targets", fix="Reproject both to one metric CRS (run_analysis does)")
    weights, pop_col = population_weights(buildings, population_field)
    used = _repaired(targets[targets.geometry.notna() & ~targets.geometry.is_empty])
    if min_target_area_m2 > 0:
        area = used.geometry.area  # of the repaired shapes: a self-crossing park has its true area
        if not (area > 0).any():
            raise CityDeskError("a minimum target area needs polygon targets; the targets layer has none",
                                source="targets", fix="Set min_target_area_m2=0 or choose a polygon layer")
        used = used[area >= min_target_area_m2]
    fb.progress(0.05, "Indexing targets")
    points = origins(buildings)
    dist = np.full(len(buildings), np.nan)
    if len(used):
        tree = shapely.STRtree(used.geometry.to_numpy())
        has_point = ~shapely.is_missing(points)
        idx_all = np.flatnonzero(has_point)
        for start in range(0, len(idx_all), CHUNK):
            fb.check_cancelled()
            idx = idx_all[start:start + CHUNK]
            (src, _tgt), d = tree.query_nearest(points[idx], return_distance=True, all_matches=False)
            dist[idx[src]] = d
            fb.progress(0.05 + 0.9 * min(1.0, (start + CHUNK) / len(idx_all)), "Measuring distances")
    covered = np.nan_to_num(dist, nan=np.inf) <= max_distance_m
    out = buildings.copy()
    out["dist_m"] = dist
    out["covered"] = covered
    summary = summarize(out, used, len(targets), weights, pop_col, max_distance_m)
    params = {"max_distance_m": max_distance_m, "min_target_area_m2": min_target_area_m2,
              "population_field": population_field}
    fb.progress(1.0, "Coverage done")
    return AnalysisResult.make("coverage", {"buildings": out, "targets": used.copy()}, summary, params)


def summarize(out: gpd.GeoDataFrame, used: gpd.GeoDataFrame, targets_total: int, weights: np.ndarray,
              pop_col: str, max_distance_m: float) -> dict:
    """The summary of a result layer ``out`` (``dist_m``, ``covered``): the same figures whether
    the buildings were measured in one piece or in tiles (analysis.partition_coverage)."""
    dist = out["dist_m"].to_numpy(dtype=float)
    covered = out["covered"].to_numpy(dtype=bool)
    total = float(weights.sum())
    return {
        "covered_share": float(weights[covered].sum() / total) if total > 0 else 0.0,
        "covered_share_buildings": float(covered.mean()) if len(covered) else 0.0,
        "residents_not_covered": float(weights[~covered].sum()),
        "residents_total": total,
        "buildings_total": int(len(out)),
        "buildings_covered": int(covered.sum()),
        "buildings_without_geometry": int(shapely.is_missing(origins(out)).sum()),
        "targets_used": int(len(used)),
        "targets_total": int(targets_total),
        "population_field": pop_col,
        "median_dist_m": float(np.nanmedian(dist)) if np.isfinite(dist).any() else None,
        "max_distance_m": float(max_distance_m),
    }


def _repaired(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` with invalid geometries (self-crossing polygons) repaired by ``make_valid``."""
    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return gdf
    geoms = geoms.copy()
    geoms[invalid] = shapely.make_valid(geoms[invalid])
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)
    return out


def headline(summary) -> str:
    """'97.0 % of residents live within 300 m (straight line) of a target; 132 do not, median 151 m'."""
    who = "residents" if summary.get("population_field") else "buildings"
    text = f"{figures.share(summary['covered_share'])} of {who} live within "
    text += f"{summary['max_distance_m']:g} m (straight line) of a target" if "max_distance_m" in summary \
        else "reach of a target (straight line)"
    if who == "residents":
        text += f"; {figures.people(summary['residents_not_covered'])} do not"
    if summary.get("median_dist_m") is not None:
        text += f"; median distance {summary['median_dist_m']:.0f} m"
    return text


SPEC = Analysis(
    id="coverage",
    title="Coverage (straight-line distance)",
    description="Share of residents living within a straight-line distance of a target layer "
                "(e.g. a green space of at least 0.5 ha within 300 m).",
    roles=(
        Role("buildings", ("polygon", "point"),
             help="homes; residents from a population column, else 1 each"),
        Role("targets", ("point", "line", "polygon"), help="the features to be near, e.g. green spaces"),
    ),
    params=(
        Param("max_distance_m", "float", 300.0, "straight-line distance that counts as covered", "m",
              0, 100_000),
        Param("min_target_area_m2", "float", 0.0, "only polygon targets at least this large count "
              "(WHO: 5,000-10,000 m² green space)", "m²", 0, 1e9),
        Param("population_field", "str", "", "column with residents per building (empty: found "
              "automatically, else 1 per building)"),
    ),
    run=coverage,
    partition=PartitionSpec(demand="buildings", context=("targets",), adapter="analysis.partition_coverage",
                            halo_m=lambda p: float(p["max_distance_m"]), global_roles=("targets",)),
    key_figures=("covered_share", "residents_not_covered", "median_dist_m", "covered_share_buildings",
                 "targets_used", "residents_total"),
    headline=headline,
    sources=("WHO Regional Office for Europe (2016), Urban green spaces and health: green space of at least "
             "0.5-1 ha within 300 m straight-line distance",),
    result_styles={"buildings": Style(kind="categorized", field="covered", stroke="#7f7f7f", stroke_width=0.4,
                                      categories={"True": "#0072B2", "False": "#D55E00"},
                                      category_labels={"True": "covered", "False": "not covered"})},
)
