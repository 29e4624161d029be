"""``waste-siting`` — where the next k waste bins should go: a Maximal Covering Location Problem.

Demand: the residents of buildings farther than ``max_distance_m`` (walking, as in
``waste-coverage``) from every existing bin. Candidates: the ``candidates`` layer, or points every
``candidate_spacing_m`` along the streets (the middle of each piece of an edge). A candidate covers
a building when the walk between them is at most ``max_distance_m``; the coverage matrix comes
from the engine's :func:`~analysis.network.point_distances_within` and only candidates that cover
some uncovered building with residents take part. Then :mod:`analysis.mclp` chooses k sites:

* ``greedy``: each new bin covers the most residents not yet covered (at least 1 - 1/e of the
  optimum; the summary gives a tighter a-posteriori bound, ``greedy_gap_bound_fraction``);
* ``exact``: the MILP with HiGHS (``scipy.optimize.milp``) under ``time_limit_s``; greedy runs too
  and ``greedy_gap_fraction`` is its shortfall against the exact answer (0 = greedy was optimal);
* ``auto``: exact when the coverage matrix holds at most ``EXACT_MAX_PAIRS`` (building, site) pairs,
  else greedy.

Results: ``proposed_bins`` ranked (each bin's ``residents_added`` counts what it adds to the bins
ranked before it: for an exact answer the chosen set ranked greedily among itself),
``buildings`` with ``state`` (covered before / newly covered / not covered) and the chart
``coverage_curve``: the residents-weighted covered share with the first 0, 1, ..., k bins.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis import figures, mclp
from analysis.network import Network, point_distances_within, snap_points
from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from analysis.waste_common import check_layers, nearest_bins, place_homes, within
from layers.feedback import Feedback, SubFeedback, ensure
from layers.style import Style

#: ``auto`` solves exactly when the coverage matrix holds at most this many (building, site) pairs.
EXACT_MAX_PAIRS = 50_000


def waste_siting(buildings: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, waste_bins: gpd.GeoDataFrame, *,
                 candidates: gpd.GeoDataFrame | None = None, k: int = 5, max_distance_m: float = 100.0,
                 candidate_spacing_m: float = 25.0, method: str = "auto", time_limit_s: float = 30.0,
                 max_snap_m: float = 100.0, population_field: str = "",
                 feedback: Feedback | None = None) -> AnalysisResult:
    """The ``k`` new bin sites that bring the most residents within ``max_distance_m`` metres of
    walking of a bin (all layers in one metric CRS). See the module docstring for the method and
    the results."""
    fb = ensure(feedback)
    fb.check_cancelled()
    check_layers("waste-siting", {"buildings": buildings, "streets": streets, "waste_bins": waste_bins,
                                  "candidates": candidates})
    homes = place_homes(buildings, streets, population_field=population_field, max_snap_m=max_snap_m,
                        feedback=SubFeedback(fb, 0.0, 0.25))
    network = homes.network
    bins = snap_points(network, waste_bins.geometry.to_numpy(), max_snap_m=max_snap_m)
    dist, _ = nearest_bins(homes, bins, feedback=SubFeedback(fb, 0.25, 0.35))
    before = within(dist, max_distance_m)
    demand = np.flatnonzero(~before & (homes.snapped.edge >= 0) & (homes.weights > 0))

    fb.progress(0.35, "Candidate sites")
    if candidates is not None:
        cand_geom = shapely.point_on_surface(candidates.geometry.to_numpy())
        cand_attrs = candidates.drop(columns=candidates.geometry.name).reset_index(drop=True)
    else:
        cand_geom = street_points(network, candidate_spacing_m)
        cand_attrs = pd.DataFrame(index=range(len(cand_geom)))
    cand = snap_points(network, cand_geom, max_snap_m=max_snap_m)
    matrix = point_distances_within(network, homes.snapped.take(demand), cand, max_distance_m,
                                    feedback=SubFeedback(fb, 0.35, 0.6))
    useful = np.flatnonzero(np.diff(matrix.tocsc().indptr) > 0)
    a = mclp.coverage_matrix(matrix[:, useful])
    w = homes.weights[demand]
    fb.check_cancelled()

    fb.progress(0.6, "Choosing sites (greedy)")
    g = mclp.greedy(a, w, k, feedback=SubFeedback(fb, 0.6, 0.7))
    run_exact = method == "exact" or (method == "auto" and a.nnz <= EXACT_MAX_PAIRS)
    ex = None
    chosen, gains, used = g.chosen, g.gains, "greedy"
    if run_exact and len(useful):
        fb.progress(0.7, "Choosing sites (exact, HiGHS)")
        ex = mclp.exact(a, w, k, time_limit_s=time_limit_s)
        fb.check_cancelled()
        if ex.value > g.value + 1e-9:
            chosen, gains = mclp.order_by_gain(a, w, ex.chosen)
            used = "exact"
        elif ex.optimal:
            used = "exact (greedy was optimal)"
    fb.progress(0.9, "Proposed bins")
    total = homes.total
    base = float(homes.weights[before].sum())
    cum = base + np.cumsum(gains)
    share_after = cum / total if total > 0 else np.zeros(len(cum))
    picked = useful[chosen]
    proposed = gpd.GeoDataFrame(cand_attrs.iloc[picked].reset_index(drop=True), geometry=cand_geom[picked],
                                crs=buildings.crs)
    proposed.insert(0, "rank", np.arange(1, len(picked) + 1, dtype=np.int64))
    proposed["residents_added"] = gains
    proposed["covered_share"] = share_after
    proposed["candidate"] = picked

    first = mclp.covered_by(a, chosen)
    newly = np.zeros(len(buildings), dtype=bool)
    new_rank = np.zeros(len(buildings), np.int64)
    newly[demand[first >= 0]] = True
    new_rank[demand[first >= 0]] = first[first >= 0] + 1
    out = buildings.copy()
    out["bin_m_before"] = dist
    out["covered_before"] = before
    out["covered_after"] = before | newly
    out["new_bin"] = new_rank
    out["state"] = np.where(before, "covered before", np.where(newly, "newly covered", "not covered"))

    after = float(homes.weights[before | newly].sum())
    curve = pd.DataFrame({"bins_added": np.arange(0, len(gains) + 1),
                          "covered_share": np.r_[base, cum] / total if total > 0 else 0.0})
    curve.attrs.update(title="Coverage against new bins", x_label="new bins (k)",
                       y_label="residents covered")
    summary = {
        "covered_share_before": base / total if total > 0 else 0.0,
        "covered_share_after": after / total if total > 0 else 0.0,
        "residents_added": after - base,
        "buildings_added": int(newly.sum()),
        "bins_proposed": int(len(picked)),
        "method_used": used,
        "greedy_residents_added": g.value,
        "greedy_gap_bound_fraction": _gap(g.value, g.upper_bound),
        "exact_residents_added": ex.value if ex else None,
        "exact_status": ex.status if ex else "not run",
        "exact_time_s": ex.seconds if ex else None,
        "greedy_gap_fraction": _gap(g.value, ex.value) if ex and ex.optimal else None,
        "candidates": int(len(cand_geom)),
        "candidates_useful": int(len(useful)),
        "demand_buildings": int(len(demand)),
        "coverage_pairs": int(a.nnz),
        "residents_total": total,
        "buildings_unreachable": int((homes.snapped.edge < 0).sum()),
        "population_field": homes.population_field,
        "max_distance_m": float(max_distance_m),
    }
    params = {"k": k, "max_distance_m": max_distance_m, "candidate_spacing_m": candidate_spacing_m,
              "method": method, "time_limit_s": time_limit_s, "max_snap_m": max_snap_m,
              "population_field": population_field}
    fb.progress(1.0, "Waste siting done")
    return AnalysisResult.make("waste-siting", {"proposed_bins": proposed, "buildings": out}, summary, params,
                               charts={"coverage_curve": curve})


def street_points(network: Network, spacing_m: float) -> np.ndarray:
    """Points along every network edge, one at the middle of each piece of about ``spacing_m``
    metres (an edge shorter than that gets its midpoint)."""
    n = np.maximum(1, np.round(network.edge_len_m / float(spacing_m))).astype(np.int64)
    edge = np.repeat(np.arange(len(n)), n)
    step = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return shapely.line_interpolate_point(network.edge_geom[edge], (step + 0.5) / n[edge], normalized=True)


def _gap(value: float, best: float) -> float:
    """The shortfall of ``value`` against ``best`` as a share of ``best`` (0 when both are 0)."""
    if not np.isfinite(best) or best <= 0:
        return 0.0
    return max(0.0, float((best - value) / best))


def headline(summary) -> str:
    """'5 new bins would bring 1 774 more residents within 100 m walk of a bin: coverage 7.4 % → 48.3 %'."""
    n = summary["bins_proposed"]
    reach = f" within {summary['max_distance_m']:g} m walk of a bin" if "max_distance_m" in summary else ""
    return (f"{n} new bin{'s' if n != 1 else ''} would bring {figures.people(summary['residents_added'])} more "
            f"residents{reach}: coverage {figures.share(summary['covered_share_before'])} → "
            f"{figures.share(summary['covered_share_after'])}")


SPEC = Analysis(
    id="waste-siting",
    partition_note=("new sites are chosen under one budget for the whole city (a greedy global choice), so a "
                    "tile cannot choose its own"),
    title="Waste bin siting (next k bins)",
    description="Where k new waste bins would bring the most residents within walking distance of a bin: a maximal "
                "covering location problem solved greedily or exactly (HiGHS), with the coverage curve against k.",
    roles=(
        Role("buildings", ("polygon", "point"), help="homes; residents from a population column, else 1 each"),
        Role("streets", ("line",), help="streets and footpaths people walk along"),
        Role("waste_bins", ("point",), help="the existing waste bins"),
        Role("candidates", ("point",), required=False,
             help="possible new sites (empty: points every candidate_spacing_m along the streets)"),
    ),
    params=(
        Param("k", "int", 5, "how many new bins", "", 1, 500),
        Param("max_distance_m", "float", 100.0, "walking distance to a bin that counts as covered "
              "(SanPiN 2.1.3684-21: at most 100 m)", "m", 1, 5_000),
        Param("candidate_spacing_m", "float", 25.0, "without a candidates layer: a candidate site every this "
              "many metres along the streets", "m", 5, 1_000),
        Param("method", "choice", "auto", "greedy (fast, at least 63 % of the optimum), exact (MILP, HiGHS) or "
              "auto (exact when the problem is small enough)", choices=("auto", "greedy", "exact")),
        Param("time_limit_s", "float", 30.0, "the exact solver stops after this long with its best answer", "s",
              1, 3_600),
        Param("max_snap_m", "float", 100.0, "buildings and sites farther than this from every street are "
              "unreachable", "m", 1, 1_000),
        Param("population_field", "str", "", "column with residents per building (empty: found automatically, "
              "else 1 per building)"),
    ),
    run=waste_siting,
    key_figures=("covered_share_before", "covered_share_after", "residents_added", "buildings_added", "bins_proposed",
                 "method_used", "greedy_gap_fraction"),
    headline=headline,
    sources=("Church, R. & ReVelle, C. (1974), The maximal covering location problem, Papers of the Regional "
             "Science Association 32",
             "Nemhauser, Wolsey & Fisher (1978): greedy reaches at least 1 - 1/e of a monotone submodular optimum",
             "Russia, SanPiN 2.1.3684-21: container sites at most 100 m from dwellings"),
    result_styles={
        "proposed_bins": Style(kind="single", fill="#CC79A7", stroke="#000000", stroke_width=1.0, size=11.0,
                               label_field="rank"),
        "buildings": Style(kind="categorized", field="state", stroke="#7f7f7f", stroke_width=0.4,
                           categories={"covered before": "#009E73", "newly covered": "#56B4E9",
                                       "not covered": "#E69F00"}),
    },
)
