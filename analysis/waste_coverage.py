"""``waste-coverage`` — who lives too far from a waste bin, which bins are overloaded, where the gaps are.

Walking distances along the streets (:mod:`analysis.network`, conventions in
:mod:`analysis.waste_common`): per building ``bin_m`` to its nearest bin; ``covered`` when at most
``max_distance_m``. Every reachable building is assigned to its nearest bin, covered or not (its
residents carry their waste somewhere: to the nearest bin), which gives each bin its
``residents_served``. A bin is ``overloaded`` when its residents fill more than its capacity in one
collection interval: ``residents_served x litres_per_resident_per_collection > capacity_l``
(bins without a capacity get ``default_capacity_l``).

Bin kinds: ``kind_field`` names the column holding a bin's kind (found automatically among
``kind``, ``type``, ``waste_type``...); ``kinds`` keeps only the listed kinds (comma-separated,
case-insensitive, e.g. ``waste_disposal, recycling``). With ``per_kind`` every kind is also measured
on its own: ``bin_m_<kind>`` and ``covered_<kind>`` per building, ``covered_share_<kind>`` in the
summary, and each building is assigned to its nearest bin of every kind (a resident uses the
nearest residual-waste container and the nearest recycling point), so ``residents_served`` counts
within a kind. ``bin_m`` and ``covered`` always mean the nearest bin of any kept kind.

Defaults: 100 m (SanPiN 2.1.3684-21: container sites at most 100 m from dwellings; England's
Approved Document H6 asks for 30 m to the storage point); 30 litres per resident per collection, an
estimate for weekly collection (about 200 kg of mixed household waste per person a year at a bulk
density in the bin of about 130 kg/m3 is 30 L a week; set your own interval's figure); 240 litres
per bin without a capacity (the common two-wheeled container of EN 840).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis import figures
from analysis.network import snap_points
from analysis.params import Param, Role
from analysis.partition_spec import PartitionSpec
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from analysis.waste_common import (
    CAPACITY_FIELDS,
    KIND_FIELDS,
    add_bin_loads,
    check_layers,
    guess_field,
    kinds_of,
    median_or_none,
    nearest_bins,
    place_homes,
    served,
    slug,
    within,
)
from analysis.waste_gaps import gap_polygons
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.style import Style

#: At most this many kinds are measured one by one with ``per_kind``.
MAX_KINDS = 12


def waste_coverage(buildings: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, waste_bins: gpd.GeoDataFrame, *,
                   max_distance_m: float = 100.0, kind_field: str = "", kinds: str = "", per_kind: bool = False,
                   capacity_field: str = "", default_capacity_l: float = 240.0,
                   litres_per_resident_per_collection: float = 30.0, gap_cluster_m: float = 50.0,
                   max_snap_m: float = 100.0, population_field: str = "",
                   feedback: Feedback | None = None) -> AnalysisResult:
    """Walking coverage of ``buildings`` by ``waste_bins`` along ``streets`` (one metric CRS).

    Result layers: ``buildings`` (input columns + ``bin_m`` in metres, NaN when unreachable,
    ``covered``, ``nearest_bin`` = row position of the nearest bin in the input bin layer, -1 for
    none; with ``per_kind`` ``bin_m_<kind>`` and ``covered_<kind>``), ``waste_bins`` (the bins kept,
    + ``kind``, ``capacity_l``, ``residents_served``, ``buildings_served``, ``litres_per_resident``
    (capacity per served resident, NaN when none), ``load`` (share of the capacity filled per
    collection, 1 = full) and ``overloaded``) and ``gaps`` (see :mod:`analysis.waste_gaps`).
    Summary: ``covered_share`` (residents-weighted, 0-1), ``covered_share_buildings``,
    ``residents_not_covered``, ``bins_overloaded``, ``median_bin_m`` and counts.
    """
    fb = ensure(feedback)
    fb.check_cancelled()
    check_layers("waste-coverage", {"buildings": buildings, "streets": streets, "waste_bins": waste_bins})
    kind_col = guess_field(waste_bins, kind_field, KIND_FIELDS, "waste_bins", "bin kind")
    cap_col = guess_field(waste_bins, capacity_field, CAPACITY_FIELDS, "waste_bins", "capacity in litres")
    kind = kinds_of(waste_bins, kind_col)
    keep = _kept(kind, kinds, kind_col)
    bins = waste_bins[keep].copy()
    bin_rows = np.flatnonzero(keep)  # row positions in the input layer
    kind = kind[keep]

    homes = place_homes(buildings, streets, population_field=population_field, max_snap_m=max_snap_m,
                        feedback=SubFeedback(fb, 0.0, 0.35))
    fb.progress(0.35, "Snapping bins to the streets")
    bin_snap = snap_points(homes.network, bins.geometry.to_numpy(), max_snap_m=max_snap_m)
    dist, nearest = nearest_bins(homes, bin_snap, feedback=SubFeedback(fb, 0.35, 0.55))
    covered = within(dist, max_distance_m)
    out = buildings.copy()
    out["bin_m"] = dist
    out["covered"] = covered
    out["nearest_bin"] = np.where(nearest >= 0, bin_rows[np.maximum(nearest, 0)] if len(bin_rows) else -1, -1)

    summary_kinds: dict[str, float] = {}
    if per_kind and len(bins):
        residents, count = _per_kind(homes, bin_snap, kind, max_distance_m, out, summary_kinds,
                                     SubFeedback(fb, 0.55, 0.8))
    else:
        residents, count = served(nearest, homes.weights, len(bins))
    fb.check_cancelled()
    fb.progress(0.8, "Bin loads")
    defaulted = add_bin_loads(bins, kind, cap_col, default_capacity_l, residents, count,
                              litres_per_resident_per_collection, bin_snap.snap_m)

    fb.check_cancelled()
    fb.progress(0.85, "Gaps: clusters of buildings not covered")
    gaps = gap_polygons(buildings, ~covered, homes.weights, dist, cluster_m=gap_cluster_m, points=homes.points)
    unreachable = homes.snapped.edge < 0
    summary = {
        "covered_share": homes.share(covered),
        "covered_share_buildings": float(covered.mean()) if len(covered) else 0.0,
        "residents_not_covered": float(homes.weights[~covered].sum()),
        "bins_overloaded": int(bins["overloaded"].sum()),
        "median_bin_m": median_or_none(dist),
        **summary_kinds,
        "residents_total": homes.total,
        "buildings_total": int(len(buildings)),
        "buildings_covered": int(covered.sum()),
        "buildings_unreachable": int(unreachable.sum()),
        "residents_unreachable": float(homes.weights[unreachable].sum()),
        "buildings_without_route": int(np.isnan(dist).sum()),
        "residents_without_route": float(homes.weights[np.isnan(dist)].sum()),
        "bins_used": int(len(bins)),
        "bins_total": int(len(waste_bins)),
        "bins_unreachable": int((bin_snap.edge < 0).sum()),
        "bins_without_capacity": int(defaulted),
        "bins_serving_nobody": int((residents <= 0).sum()),
        "gaps": int(len(gaps)),
        "largest_gap_residents": float(gaps["residents"].iloc[0]) if len(gaps) else 0.0,
        "population_field": homes.population_field,
        "kind_field": kind_col,
        "capacity_field": cap_col,
        "max_distance_m": float(max_distance_m),
    }
    params = {"max_distance_m": max_distance_m, "kind_field": kind_field or kind_col or "none",  # the columns used
              "kinds": kinds or "all", "per_kind": per_kind,
              "capacity_field": capacity_field or cap_col or "none (default capacity)",
              "default_capacity_l": default_capacity_l,
              "litres_per_resident_per_collection": litres_per_resident_per_collection,
              "gap_cluster_m": gap_cluster_m, "max_snap_m": max_snap_m, "population_field": population_field}
    fb.progress(1.0, "Waste coverage done")
    return AnalysisResult.make("waste-coverage", {"buildings": out, "waste_bins": bins, "gaps": gaps}, summary,
                               params, charts={"walk_to_bin": walk_bands(dist, homes.weights, max_distance_m)})


def walk_bands(dist: np.ndarray, weights: np.ndarray, limit: float) -> pd.DataFrame:
    """Share of residents by walk to the nearest bin, in bands of half, one, two and four times
    the distance that counts (a chart table: 'no route' last)."""
    edges = [0.5 * limit, limit, 2 * limit, 4 * limit]
    names = [f"≤ {edges[0]:g} m"] + [f"{a:g}–{b:g} m" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    names += [f"> {edges[-1]:g} m", "no route"]
    band = np.where(np.isnan(dist), len(edges) + 1, np.searchsorted(edges, np.nan_to_num(dist), side="left"))
    total = float(weights.sum())
    shares = np.bincount(band, weights=weights, minlength=len(names)) / (total if total > 0 else 1.0)
    table = pd.DataFrame({"walk_to_nearest_bin": names, "share_of_residents": shares})
    table.attrs.update(kind="barh", title="Walk to the nearest bin", x_label="residents")
    return table


def headline(summary) -> str:
    """'7.4 % of residents live within 100 m walk of a bin (4 016 do not); 21 of 52 bins overloaded'."""
    reach = f"{summary['max_distance_m']:g} m walk" if "max_distance_m" in summary else "walking distance"
    text = (f"{figures.share(summary['covered_share'])} of residents live within {reach} of a bin "
            f"({figures.people(summary['residents_not_covered'])} do not)")
    return text + f"; {summary['bins_overloaded']} of {summary['bins_used']} bins overloaded"


def _kept(kind: np.ndarray, kinds: str, kind_col: str | None) -> np.ndarray:
    """Which bins to keep: all, or those whose kind is listed in ``kinds`` (comma-separated)."""
    wanted = {k.strip().lower() for k in kinds.split(",") if k.strip()}
    if not wanted:
        return np.ones(len(kind), dtype=bool)
    if kind_col is None:
        raise CityDeskError("the bins have no kind column to choose kinds by", source="waste_bins",
                            fix="Name the column with kind_field, or leave 'kinds' empty")
    lower = np.array([str(k).lower() for k in kind], dtype=object)
    keep = np.isin(lower, list(wanted))
    if not keep.any():
        found = ", ".join(sorted(set(map(str, kind)))[:20])
        raise CityDeskError(f"no bin has a kind among '{kinds}' (column '{kind_col}')", source="waste_bins",
                            fix=f"Kinds in the layer: {found}")
    return keep


def _per_kind(homes, bin_snap, kind, max_distance_m, out, summary, fb):
    """Nearest bin of every kind: columns ``bin_m_<kind>``/``covered_<kind>``, summary shares, and
    residents and buildings served per bin counted within its kind."""
    names = sorted(set(kind))
    if len(names) > MAX_KINDS:
        raise CityDeskError(f"the bins have {len(names)} kinds, too many to measure one by one",
                            source="waste_bins", fix=f"Keep at most {MAX_KINDS} kinds with 'kinds', or "
                                                     "turn per_kind off")
    residents = np.zeros(len(kind))
    count = np.zeros(len(kind), np.int64)
    for i, name in enumerate(names):
        fb.check_cancelled()
        rows = np.flatnonzero(kind == name)
        part = SubFeedback(fb, i / len(names), (i + 1) / len(names))
        d, nearest = nearest_bins(homes, bin_snap.take(rows), feedback=part)
        ok = within(d, max_distance_m)
        out[f"bin_m_{slug(name)}"] = d
        out[f"covered_{slug(name)}"] = ok
        summary[f"covered_share_{slug(name)}"] = homes.share(ok)
        r, c = served(nearest, homes.weights, len(rows))
        residents[rows], count[rows] = r, c
    return residents, count


SPEC = Analysis(
    id="waste-coverage",
    title="Waste bin coverage and load",
    description="Who lives farther than a walking distance from a waste bin, how many residents each bin serves "
                "and which bins are overloaded, and the clusters of homes not covered.",
    roles=(
        Role("buildings", ("polygon", "point"), help="homes; residents from a population column, else 1 each"),
        Role("streets", ("line",), help="streets and footpaths people walk along"),
        Role("waste_bins", ("point",), help="waste bins or container sites; optional kind and capacity (litres) "
                                            "columns"),
    ),
    params=(
        Param("max_distance_m", "float", 100.0, "walking distance to the nearest bin that counts as covered "
              "(SanPiN 2.1.3684-21: at most 100 m; England, Approved Document H6: 30 m)", "m", 0, 5_000),
        Param("kind_field", "str", "", "column with the bin kind (empty: 'kind', 'type', 'waste_type'... if "
              "present)"),
        Param("kinds", "str", "", "only these kinds count, comma-separated (empty: all bins)"),
        Param("per_kind", "bool", False, "also measure every kind on its own (a distance column per kind; a "
              "building is served by the nearest bin of each kind)"),
        Param("capacity_field", "str", "", "column with the bin capacity in litres (empty: 'capacity_l', "
              "'capacity', 'volume_l'... if present)"),
        Param("default_capacity_l", "float", 240.0, "capacity of a bin without one (240 L: the common "
              "two-wheeled container, EN 840)", "L", 1, 100_000),
        Param("litres_per_resident_per_collection", "float", 30.0, "waste one resident puts out between two "
              "collections (about 30 L a week of mixed household waste)", "L", 0, 10_000),
        Param("gap_cluster_m", "float", 50.0, "uncovered buildings at most this far apart form one gap", "m",
              1, 1_000),
        Param("max_snap_m", "float", 100.0, "buildings and bins farther than this from every street are "
              "unreachable", "m", 1, 1_000),
        Param("population_field", "str", "", "column with residents per building (empty: found automatically, "
              "else 1 per building)"),
    ),
    run=waste_coverage,
    partition=PartitionSpec(demand="buildings", context=("streets", "waste_bins"), adapter="analysis.partition_waste",
                            halo_m=lambda p: float(p["max_distance_m"]) + 2.0 * float(p["max_snap_m"]),
                            global_roles=("waste_bins",)),
    key_figures=("covered_share", "residents_not_covered", "median_bin_m", "bins_overloaded", "bins_used", "gaps",
                 "largest_gap_residents"),
    headline=headline,
    sources=("Russia, SanPiN 2.1.3684-21: container sites at least 20 m and at most 100 m from dwellings",
             "England, Building Regulations Approved Document H6: residents carry waste at most 30 m to storage",
             "Litter-bin users walk about 38-80 m to a bin (docs/methods.md, Waste)",
             "EN 840: mobile waste containers; 240 L two-wheeled bins are common"),
    result_styles={
        "buildings": Style(kind="categorized", field="covered", stroke="#7f7f7f", stroke_width=0.4,
                           categories={"True": "#009E73", "False": "#E69F00"},
                           category_labels={"True": "covered", "False": "not covered"}),
        "waste_bins": Style(kind="categorized", field="overloaded", stroke="#000000", stroke_width=0.8, size=9.0,
                            categories={"True": "#D55E00", "False": "#0072B2"},
                            category_labels={"True": "overloaded", "False": "within capacity"}),
        "gaps": Style(kind="single", fill="#D55E00", fill_opacity=0.12, stroke="#D55E00", stroke_width=1.6,
                      label_field="gap"),
    },
)
