"""Noise levels per station for ``air-quality``: annual Lden and Lnight (dB) from Lden/Lnight
readings (energetic means) or from hourly LAeq (day 07–19 h, evening 19–23 h +5 dB, night
23–07 h +10 dB, local time), compared with the WHO 2018 road-traffic guideline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.air_quality_limits import NOISE_LIMITS


def _energy_mean(values: pd.Series) -> float:
    return float(10.0 * np.log10(np.mean(10.0 ** (values.to_numpy(dtype=float) / 10.0))))


def lden(day_db: float, evening_db: float, night_db: float) -> float:
    """Lden (dB) from the day (12 h), evening (4 h) and night (8 h) levels."""
    return float(10 * np.log10((12 * 10 ** (day_db / 10) + 4 * 10 ** ((evening_db + 5) / 10)
                                + 8 * 10 ** ((night_db + 10) / 10)) / 24))


def noise_levels(readings: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Per station (index: station_id): ``noise_lden_db``, ``noise_lnight_db`` and
    ``noise_exceeds_who2018`` (Lden above 53 dB or Lnight above 45 dB); empty without noise."""
    variable = readings["variable"].astype(str)
    rows = {}
    for name in ("Lden", "Lnight"):
        part = readings[variable.to_numpy() == name]
        if len(part):
            rows[f"noise_{name.lower()}_db"] = part.groupby("station_id", observed=True)["value"].agg(_energy_mean)
    laeq = readings[variable.to_numpy() == "LAeq"]
    if len(laeq):
        hour = laeq["time"].dt.tz_convert(timezone).dt.hour.to_numpy()
        band = np.where((hour >= 7) & (hour < 19), "day", np.where((hour >= 19) & (hour < 23), "evening", "night"))
        means = laeq.assign(band=band).groupby(["station_id", "band"], observed=True)["value"].agg(_energy_mean)
        table = means.unstack()
        if {"day", "evening", "night"} <= set(table.columns):
            computed = pd.Series([lden(d, e, n) for d, e, n in table[["day", "evening", "night"]].to_numpy()],
                                 index=table.index)
            rows.setdefault("noise_lden_db", computed)
            rows.setdefault("noise_lnight_db", table["night"])
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame(rows).round(1)
    over = pd.Series(False, index=out.index)
    for key, limit in NOISE_LIMITS.items():
        column = f"noise_{key}_db"
        if column in out:
            over |= out[column] > limit
    out["noise_exceeds_who2018"] = over
    return out
