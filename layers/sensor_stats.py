"""Resampling and per-station statistics of clean sensor readings (see :mod:`layers.sensors`).

Periods are calendar periods in a time zone (``timezone``, default UTC): a day in Europe/Helsinki
runs from local midnight to local midnight, so it has 23 or 25 hours on daylight-saving days. A
period's ``coverage`` is the share of its readings that are there: readings / (period length /
the usual interval), e.g. 18 of 24 hourly readings is 0.75. Values in dB (noise) are averaged
energetically (10·log10 of the mean of 10^(L/10)); everything else arithmetically.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.errors import CityDeskError
from layers.sensor_gaps import take, usual_step

FREQS = {"hourly": "h", "daily": "D", "monthly": "M", "yearly": "Y"}
PERCENTILES = (50, 90, 98)


def is_decibel(unit: str) -> bool:
    return str(unit).strip().lower().startswith("db")


def period_codes(times: pd.Series, freq: str, timezone: str = "UTC") -> np.ndarray:
    """The start of each reading's period as ``datetime64`` wall time in ``timezone`` (hourly: the
    UTC hour as naive UTC, so the two hours with the same wall time when clocks go back stay apart)."""
    if freq not in FREQS:
        raise CityDeskError(f"'{freq}' is not a resampling period", fix=f"Use one of {', '.join(FREQS)}")
    if freq == "hourly":
        return times.dt.floor("h").dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ns]")
    wall = times.dt.tz_convert(timezone).dt.tz_localize(None).to_numpy()
    return wall.astype(f"datetime64[{FREQS[freq]}]").astype("datetime64[ns]")


def period_hours(starts: np.ndarray, freq: str, timezone: str = "UTC") -> np.ndarray:
    """Length in hours of each period starting at the wall times ``starts`` (DST days: 23 or 25)."""
    if freq == "hourly":
        return np.ones(len(starts))
    unit = FREQS[freq]
    ends = (starts.astype(f"datetime64[{unit}]") + np.timedelta64(1, unit)).astype("datetime64[ns]")
    uniq, inverse = np.unique(np.concatenate([starts, ends]), return_inverse=True)
    local = pd.DatetimeIndex(uniq).tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
    utc = local.asi8[inverse]
    return (utc[len(starts):] - utc[:len(starts)]) / 3.6e12


def resample(table: pd.DataFrame, freq: str = "daily", *, timezone: str = "UTC",
             step: pd.Timedelta | None = None) -> pd.DataFrame:
    """Mean per station, variable and period: columns ``station_id``, ``variable``, ``unit``,
    ``start`` (the period start, time-zone aware in ``timezone``), ``value`` (mean; energetic for
    dB), ``count`` (readings), ``expected`` (readings in a full period at the usual interval
    ``step``, found from the data when not given) and ``coverage`` (count / expected, 0–1)."""
    if not len(table):
        return pd.DataFrame(columns=["station_id", "variable", "unit", "start", "value", "count", "expected",
                                     "coverage"])
    step = step or usual_step(table) or pd.Timedelta(hours=1)
    periods = period_codes(table["time"], freq, timezone)
    s = _codes(table["station_id"])
    v = _codes(table["variable"])
    p_codes, p_uniques = pd.factorize(periods, sort=True)
    values = table["value"].to_numpy(dtype=float)
    db = _decibel_rows(table)
    if db.any():
        values = np.where(db, 10.0 ** (values / 10.0), values)
    n_v, n_p = int(v.max()) + 1, len(p_uniques)
    key = (s.astype(np.int64) * n_v + v) * n_p + p_codes
    uniq, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(uniq))
    counts = np.bincount(inverse, minlength=len(uniq))
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]  # the first row of each group
    mean = sums / counts
    group_db = db[first]
    mean = np.where(group_db, 10.0 * np.log10(np.where(group_db, mean, 1.0)), mean)
    starts = np.asarray(p_uniques)[uniq % n_p]
    expected = period_hours(starts, freq, timezone) * 3.6e12 / step.value
    if freq == "hourly":
        start = pd.DatetimeIndex(starts).tz_localize("UTC").tz_convert(timezone)
    else:
        start = pd.DatetimeIndex(starts).tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
    out = pd.DataFrame({"station_id": take(table["station_id"], first), "variable": take(table["variable"], first),
                        "unit": take(table["unit"], first) if "unit" in table else "",
                        "start": start, "value": mean, "count": counts, "expected": expected,
                        "coverage": np.minimum(counts / expected, 1.0)})
    return out


def station_stats(table: pd.DataFrame, *, percentiles: tuple[int, ...] = PERCENTILES,
                  start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                  step: pd.Timedelta | None = None) -> pd.DataFrame:
    """Per station and variable: ``readings``, ``mean`` (energetic for dB), ``min``, ``max``,
    ``p50``/``p90``/``p98`` (percentiles of the readings), ``first``/``last`` (UTC) and
    ``coverage_pct``: readings / readings expected at the usual interval between ``start`` and
    ``end`` (default: the first and last reading of the whole table), in %."""
    if start is not None or end is not None:
        keep = np.ones(len(table), dtype=bool)
        if start is not None:
            keep &= (table["time"] >= start).to_numpy()
        if end is not None:
            keep &= (table["time"] < end).to_numpy()
        table = table[keep]
    step = step or usual_step(table) or pd.Timedelta(hours=1)
    if not len(table):
        return pd.DataFrame()
    begin = start if start is not None else table["time"].min()
    finish = end if end is not None else table["time"].max() + step
    expected = (finish - begin) / step
    work = table.assign(_lin=np.where(_decibel_rows(table), 10.0 ** (table["value"] / 10.0), table["value"]))
    grouped = work.groupby(["station_id", "variable"], observed=True, sort=True)
    out = grouped.agg(unit=("unit", "first"), readings=("value", "size"), _lin=("_lin", "mean"),
                      min=("value", "min"), max=("value", "max"), first=("time", "min"), last=("time", "max"))
    quant = grouped["value"].quantile([p / 100 for p in percentiles]).unstack()
    for p, column in zip(percentiles, quant.columns, strict=True):
        out[f"p{p}"] = quant[column]
    db = out["unit"].map(is_decibel).to_numpy(dtype=bool)
    out["mean"] = np.where(db, 10 * np.log10(out["_lin"].clip(lower=1e-12)), out["_lin"])
    out["coverage_pct"] = np.minimum(100.0 * out["readings"] / expected, 100.0)
    out = out.drop(columns="_lin").reset_index()
    out["station_id"] = out["station_id"].astype(str)
    out["variable"] = out["variable"].astype(str)
    order = ["station_id", "variable", "unit", "readings", "mean", "min", "max",
             *[f"p{p}" for p in percentiles], "first", "last", "coverage_pct"]
    return out[order]


def _codes(column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy().astype(np.int64)
    return pd.factorize(column)[0].astype(np.int64)


def _decibel_rows(table: pd.DataFrame) -> np.ndarray:
    if "unit" not in table:
        return np.zeros(len(table), dtype=bool)
    unit = table["unit"]
    if isinstance(unit.dtype, pd.CategoricalDtype):
        flags = np.array([is_decibel(c) for c in unit.cat.categories] + [False])
        return flags[unit.cat.codes.to_numpy()]
    return unit.astype(str).map(is_decibel).to_numpy(dtype=bool)
