"""Station values as a time × station matrix, for the time slider and the time-series chart."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.sensor_join import normalise, station_column, station_keys
from layers.sensor_stats import resample

CLASSES = 5
RAMP = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")  # low (green) to high (red)


@dataclass(frozen=True)
class Series:
    """``values[t, s]``: the mean of ``variable`` in period ``times[t]`` at feature ``s`` of the
    stations layer (NaN: no reading). ``breaks``: the upper bounds of the colour classes, fixed
    over all times so that a colour means the same value at every moment."""

    variable: str
    unit: str
    period: str
    times: pd.DatetimeIndex
    values: np.ndarray
    breaks: np.ndarray

    def classes(self, t: int) -> np.ndarray:
        """Class 1..CLASSES of each station at time index ``t`` (0: no value)."""
        row = self.values[t]
        out = np.searchsorted(self.breaks, row, side="left") + 1
        return np.where(np.isnan(row), 0, np.minimum(out, len(self.breaks)))

    def labels(self) -> dict[str, str]:
        """Legend labels per class ("1" … and "0" for no value)."""
        out, low = {"0": "no value"}, np.nanmin(self.values) if np.isfinite(self.values).any() else 0.0
        for i, high in enumerate(self.breaks, start=1):
            out[str(i)] = f"{_fmt(low)} – {_fmt(high)} {self.unit}".rstrip()
            low = high
        return out


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def station_series(stations: pd.DataFrame, table: pd.DataFrame, variable: str, period: str = "daily", *,
                   timezone: str = "UTC", column: str = "") -> Series:
    """The matrix of ``variable`` resampled to ``period`` for every feature of ``stations``."""
    rows = table[table["variable"].astype(str) == variable]
    means = resample(rows, period, timezone=timezone)
    key = station_column(stations, rows if len(rows) else table, column)
    feature_keys = station_keys(stations, key).to_numpy()
    times = pd.DatetimeIndex(np.sort(means["start"].unique())) if len(means) else pd.DatetimeIndex([], tz=timezone)
    matrix = np.full((len(times), len(stations)), np.nan)
    if len(means):
        t_index = times.get_indexer(pd.DatetimeIndex(means["start"]))
        ids = normalise(pd.Series(means["station_id"].astype(str))).to_numpy()
        for s, k in enumerate(feature_keys):
            hit = ids == k
            matrix[t_index[hit], s] = means["value"].to_numpy()[hit]
    finite = matrix[np.isfinite(matrix)]
    breaks = np.unique(np.quantile(finite, np.linspace(0, 1, CLASSES + 1)[1:])) if len(finite) else np.array([0.0])
    unit = str(rows["unit"].iloc[0]) if len(rows) and "unit" in rows else ""
    return Series(variable, unit, period, times, matrix, breaks)
