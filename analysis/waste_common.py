"""What the waste analyses share: checking the inputs, guessing the bin columns, placing homes and
bins on the walking network and assigning each home to its nearest bin (no Qt).

Distances follow the engine (:mod:`analysis.network`): a building's origin is its
``point_on_surface()``; the walking distance to a bin is the origin's snap leg + the way along the
streets + the bin's snap leg, in metres. Buildings or bins farther than ``max_snap_m`` from every
street are unreachable: never covered, never dropped, counted in the summaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis.network import Network, Snapped, build_network, nearest_distance, snap_points
from analysis.population import origins, population_weights
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback

#: A distance equal to the maximum is within it (metres).
TOL_M = 1e-6
#: Column names that usually hold a bin's kind or its capacity in litres, tried in order.
KIND_FIELDS = ("kind", "bin_kind", "waste_kind", "waste_type", "type", "fraction", "recycling_type")
CAPACITY_FIELDS = ("capacity_l", "capacity", "volume_l", "volume", "litres", "liters", "size_l")


@dataclass(frozen=True, eq=False)
class Homes:
    """The buildings on the network: ``snapped`` (one per building, edge -1 when unreachable),
    ``weights`` (residents, 1 each without a population column) and the column they came from."""

    network: Network
    points: np.ndarray
    snapped: Snapped
    weights: np.ndarray
    population_field: str | None

    @property
    def total(self) -> float:
        return float(self.weights.sum())

    def share(self, mask: np.ndarray) -> float:
        """The residents-weighted share of ``mask`` (0 when nobody lives here)."""
        return float(self.weights[mask].sum() / self.total) if self.total > 0 else 0.0


def check_layers(analysis: str, layers: dict[str, gpd.GeoDataFrame | None]) -> None:
    """All given layers in one projected CRS and the streets not empty; else a readable error."""
    given = {role: gdf for role, gdf in layers.items() if gdf is not None}
    first = next(iter(given.values()))
    for role, gdf in given.items():
        if gdf.crs is None or not gdf.crs.is_projected:
            raise CityDeskError(f"the {analysis} analysis needs layers in a metric CRS", source=role,
                                fix="Run it through citydesk run or the window, which reproject for you")
        if gdf.crs != first.crs:
            raise CityDeskError(f"the {role} layer is in {gdf.crs.name}, the others in {first.crs.name}",
                                source=role, fix="Reproject all layers to one metric CRS (run_analysis does)")
    streets = given.get("streets")
    if streets is not None and (len(streets) == 0 or not (streets.geometry.notna() & ~streets.geometry.is_empty).any()):
        raise CityDeskError("the streets layer is empty", source="streets",
                            fix="Choose a layer of streets and footpaths (lines)")


def guess_field(gdf: gpd.GeoDataFrame, given: str, known: tuple[str, ...], role: str, what: str) -> str | None:
    """``given`` if it names a column of ``gdf`` (else an error), or the first of ``known`` found
    (case-insensitive), or None."""
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    if given:
        if given not in columns:
            raise CityDeskError(f"the {role} layer has no column '{given}' for the {what}", source=role,
                                fix=f"Columns: {', '.join(map(str, columns[:30])) or '(none)'}")
        return given
    lower = {str(c).lower(): c for c in columns}
    return next((str(lower[n]) for n in known if n in lower), None)


def kinds_of(bins: gpd.GeoDataFrame, field: str | None) -> np.ndarray:
    """Each bin's kind as text ('unknown' where missing or without a kind column)."""
    if field is None:
        return np.full(len(bins), "unknown", dtype=object)
    text = bins[field].astype("string").str.strip()
    return text.mask(text.isna() | (text == ""), "unknown").to_numpy(dtype=object)


def slug(text: str) -> str:
    """A kind as part of a column name: 'Waste basket' -> 'waste_basket'."""
    out = re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")
    return out or "unknown"


def add_bin_loads(bins: gpd.GeoDataFrame, kind: np.ndarray, cap_col: str | None, default_l: float,
                  residents: np.ndarray, count: np.ndarray, litres_per_resident: float,
                  snap_m: np.ndarray) -> int:
    """The bin table's columns: kind, capacity, residents and buildings served, litres per
    resident, load (residents x litres per collection / capacity) and overloaded (> 1), the snap
    distance. Returns how many bins took the default capacity."""
    cap, defaulted = capacities(bins, cap_col, default_l)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_resident = np.where(residents > 0, cap / residents, np.nan)
        load = residents * litres_per_resident / cap
    bins["kind"] = kind
    bins["capacity_l"] = cap
    bins["residents_served"] = residents
    bins["buildings_served"] = count
    bins["litres_per_resident"] = per_resident
    bins["load"] = load
    bins["overloaded"] = load > 1.0 + 1e-9
    bins["snap_m"] = snap_m
    return defaulted


def capacities(bins: gpd.GeoDataFrame, field: str | None, default_l: float) -> tuple[np.ndarray, int]:
    """Capacity in litres per bin from ``field`` (missing, non-numeric or not positive values get
    ``default_l``) and how many bins took the default."""
    if field is None:
        return np.full(len(bins), float(default_l)), len(bins)
    values = pd.to_numeric(bins[field], errors="coerce").to_numpy(dtype=float)
    missing = ~(np.isfinite(values) & (values > 0))
    return np.where(missing, float(default_l), values), int(missing.sum())


def place_homes(buildings: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, *, population_field: str,
                max_snap_m: float, feedback: Feedback) -> Homes:
    """Build the walking network and snap every building's origin to it."""
    weights, pop_col = population_weights(buildings, population_field)
    network = build_network(streets, feedback=SubFeedback(feedback, 0.0, 0.8))
    feedback.check_cancelled()
    feedback.progress(0.85, "Snapping buildings to the streets")
    points = origins(buildings)
    snapped = snap_points(network, points, max_snap_m=max_snap_m)
    feedback.progress(1.0, "Buildings on the network")
    return Homes(network, points, snapped, weights, pop_col)


def nearest_bins(homes: Homes, bins: Snapped, *, feedback: Feedback | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per building the walking distance to its nearest bin in metres (NaN when unreachable) and
    that bin's row in ``bins`` (-1 when none)."""
    if len(bins.edge) == 0 or not (bins.edge >= 0).any():
        return np.full(len(homes.snapped.edge), np.nan), np.full(len(homes.snapped.edge), -1, np.int64)
    return nearest_distance(homes.network, homes.snapped, bins, feedback=feedback)


def served(nearest: np.ndarray, weights: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Residents and buildings assigned to each of ``n_bins`` bins (``nearest``: bin row per
    building, -1 for none)."""
    has = nearest >= 0
    residents = np.bincount(nearest[has], weights=weights[has], minlength=n_bins).astype(float)
    buildings = np.bincount(nearest[has], minlength=n_bins).astype(np.int64)
    return residents, buildings


def within(dist: np.ndarray, max_m: float) -> np.ndarray:
    """True where a distance (NaN = unreachable) is at most ``max_m`` metres."""
    return np.nan_to_num(dist, nan=np.inf) <= max_m + TOL_M


def median_or_none(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else None
