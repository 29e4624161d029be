"""TfL's accessibility index (AI) and PTAL bands from walk distances and route frequencies.

For every origin and every route that calls at a service access point (SAP) within reach
(640 m bus, 960 m rail/metro/tram):

* walk time = distance / walk speed (80 m/min); SWT = 0.5 × 60 / frequency (per hour, the
  route's busier direction at that SAP, in the AM peak); reliability 2.0 min bus, 0.75 min rail;
* total access time TAT = walk + SWT + reliability; EDF = 30 / TAT;
* a route reached at several SAPs counts once, with its highest EDF (its nearest SAP when the
  frequency is the same);
* per mode AI = EDF_max + 0.5 × Σ other EDFs; the origin's AI is the sum over modes;
* bands: 0 (AI 0), 1a (≤ 2.5), 1b (≤ 5), 2 (≤ 10), 3 (≤ 15), 4 (≤ 20), 5 (≤ 25), 6a (≤ 40), 6b (> 40),
  on AI rounded to 2 decimals as TfL publishes it.

Source: TfL, Assessing transport connectivity in London (2015); PTAL methodology (2010).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BANDS = ("0", "1a", "1b", "2", "3", "4", "5", "6a", "6b")
TFL_LIMITS = (0.0, 2.5, 5.0, 10.0, 15.0, 20.0, 25.0, 40.0)
BUS_MODES = ("bus",)  # modes with the bus catchment and reliability; every other mode has the rail ones


@dataclass(frozen=True)
class Constants:
    """TfL's constants (the defaults) — each one a parameter of the ``ptal`` analysis."""

    walk_speed_mps: float = 80.0 / 60.0
    bus_max_walk_m: float = 640.0
    rail_max_walk_m: float = 960.0
    bus_reliability_min: float = 2.0
    rail_reliability_min: float = 0.75
    swt_factor: float = 0.5
    edf_constant_min: float = 30.0
    other_routes_weight: float = 0.5
    limits: tuple[float, ...] = TFL_LIMITS

    @property
    def reach_m(self) -> float:
        return max(self.bus_max_walk_m, self.rail_max_walk_m)


def accessibility(n_origins: int, pair_origin: np.ndarray, pair_sap: np.ndarray, pair_dist_m: np.ndarray,
                  sap_routes: pd.DataFrame, c: Constants = Constants()) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The AI of each of ``n_origins`` origins, and the AI per mode.

    ``pair_*``: origin, SAP (position) and walk distance in metres of every origin-SAP pair within
    reach; ``sap_routes``: one row per SAP and route with ``sap``, ``route``, ``mode`` and
    ``per_hour`` (> 0)."""
    routes = sap_routes.sort_values("sap", kind="stable")
    sap_of = routes["sap"].to_numpy(np.int64)
    n_saps = int(max(sap_of.max() + 1 if len(sap_of) else 0, pair_sap.max() + 1 if len(pair_sap) else 0))
    start = np.searchsorted(sap_of, np.arange(n_saps), side="left")
    count = np.searchsorted(sap_of, np.arange(n_saps), side="right") - start
    # every pair x every route at its SAP
    per_pair = count[pair_sap]
    total = int(per_pair.sum())
    offsets = np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    row = np.repeat(start[pair_sap], per_pair) + (np.arange(total) - offsets)
    origin = np.repeat(pair_origin.astype(np.int64), per_pair)
    dist = np.repeat(pair_dist_m.astype(float), per_pair)
    modes = routes["mode"].to_numpy(dtype=object)
    mode_names = sorted(set(modes))
    mode_code = pd.Categorical(modes, categories=mode_names).codes.astype(np.int64)[row]
    is_bus = np.isin(np.asarray(mode_names, dtype=object), BUS_MODES)[mode_code] if mode_names else np.zeros(0, bool)
    limit = np.where(is_bus, c.bus_max_walk_m, c.rail_max_walk_m)
    keep = dist <= limit
    origin, row, dist, mode_code, is_bus = origin[keep], row[keep], dist[keep], mode_code[keep], is_bus[keep]
    freq = routes["per_hour"].to_numpy(float)[row]
    walk_min = dist / (c.walk_speed_mps * 60.0)
    swt = c.swt_factor * 60.0 / freq
    tat = walk_min + swt + np.where(is_bus, c.bus_reliability_min, c.rail_reliability_min)
    edf = c.edf_constant_min / tat
    # one EDF per origin and route: the highest
    route = routes["route"].to_numpy(np.int64)[row]
    n_routes = int(route.max() + 1) if len(route) else 1
    key = origin * n_routes + route
    order = np.lexsort((-edf, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]] if len(order) else np.zeros(0, bool)
    best = order[first]
    origin, mode_code, edf = origin[best], mode_code[best], edf[best]
    # per origin and mode: max + weight * (sum - max)
    n_modes = max(len(mode_names), 1)
    key = origin * n_modes + mode_code
    size = n_origins * n_modes
    total_edf = np.bincount(key, weights=edf, minlength=size)
    max_edf = np.zeros(size)
    np.maximum.at(max_edf, key, edf)
    ai_mode = (max_edf + c.other_routes_weight * (total_edf - max_edf)).reshape(n_origins, n_modes)
    per_mode = {name: ai_mode[:, i] for i, name in enumerate(mode_names)}
    return ai_mode.sum(axis=1), per_mode


def bands(ai: np.ndarray, limits: tuple[float, ...] = TFL_LIMITS) -> np.ndarray:
    """The PTAL band of each AI (rounded to 2 decimals first): '0' for AI 0, then '1a' up to and
    including the second limit, ... '6b' above the last. NaN AI has no band (None)."""
    ai = np.asarray(ai, dtype=float)
    names = np.asarray(BANDS[:len(limits) + 1], dtype=object)
    idx = np.searchsorted(np.asarray(limits, float), np.round(np.nan_to_num(ai, nan=0.0), 2), side="left")
    out = names[np.clip(idx, 0, len(names) - 1)]
    out[np.isnan(ai)] = None
    return out


def parse_limits(text: str) -> tuple[float, ...]:
    """'0,2.5,5,10,15,20,25,40' -> the 8 band limits (increasing, first 0)."""
    from layers.errors import CityDeskError

    try:
        values = tuple(float(v) for v in str(text).replace(";", ",").split(",") if v.strip())
    except ValueError:
        values = ()
    if len(values) != len(BANDS) - 1 or values[0] != 0 or any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise CityDeskError(f"band_limits '{text}' is not 8 increasing numbers starting with 0",
                            fix="Give TfL's limits 0,2.5,5,10,15,20,25,40 or 8 of your own")
    return values
