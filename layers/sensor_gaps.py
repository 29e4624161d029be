"""Gaps in sensor readings: missing readings between a station's first and last one."""

from __future__ import annotations

import numpy as np
import pandas as pd

GAP_COLUMNS = ("station_id", "variable", "gaps", "missing", "longest", "longest_from")


def usual_step(table: pd.DataFrame) -> pd.Timedelta | None:
    """The usual interval between consecutive readings of a station and variable (the most
    common one), from the clean table sorted by station, variable and time."""
    t, same = _diffs(table)
    steps = t[same]
    steps = steps[steps > 0]
    if not len(steps):
        return None
    values, counts = np.unique(steps, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def find_gaps(table: pd.DataFrame, step: pd.Timedelta | None = None) -> tuple[pd.DataFrame, pd.Timedelta | None]:
    """Per station and variable with gaps: ``gaps`` (how many), ``missing`` (readings missing at
    the usual interval), ``longest`` (missing readings in the longest gap) and ``longest_from``
    (UTC time of the last reading before it); and the usual interval used."""
    step = step or usual_step(table)
    if step is None:
        return pd.DataFrame(columns=list(GAP_COLUMNS)), None
    t, same = _diffs(table)
    size = step.value
    missing = np.where(same, np.round(t / size) - 1, 0).astype(np.int64)
    gap = missing > 0
    if not gap.any():
        return pd.DataFrame(columns=list(GAP_COLUMNS)), step
    where = np.flatnonzero(gap)
    frame = pd.DataFrame({"station_id": take(table["station_id"], where),
                          "variable": take(table["variable"], where), "missing": missing[where],
                          "longest_from": table["time"].iloc[where - 1].to_numpy()})
    grouped = frame.groupby(["station_id", "variable"], observed=True, sort=True)
    out = grouped.agg(gaps=("missing", "size"), missing=("missing", "sum"), longest=("missing", "max"))
    longest = frame.loc[grouped["missing"].idxmax().to_numpy(), ["station_id", "variable", "longest_from"]]
    out = out.reset_index().merge(longest, on=["station_id", "variable"])
    out["longest_from"] = pd.to_datetime(out["longest_from"], utc=True)
    out["station_id"] = out["station_id"].astype(str)
    out["variable"] = out["variable"].astype(str)
    return out[list(GAP_COLUMNS)], step


def _diffs(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Time differences to the previous row (ns) and whether it is the same station and variable."""
    t = table["time"].astype("datetime64[ns, UTC]").array.asi8
    s = table["station_id"].cat.codes.to_numpy() if hasattr(table["station_id"], "cat") else \
        pd.factorize(table["station_id"])[0]
    v = table["variable"].cat.codes.to_numpy() if hasattr(table["variable"], "cat") else \
        pd.factorize(table["variable"])[0]
    diff = np.zeros(len(t), dtype=np.int64)
    diff[1:] = t[1:] - t[:-1]
    same = np.zeros(len(t), dtype=bool)
    same[1:] = (s[1:] == s[:-1]) & (v[1:] == v[:-1])
    return diff, same


def take(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``column`` at ``rows`` as plain values (a categorical is not expanded in full first)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = np.append(np.asarray(column.cat.categories, dtype=object), None)  # code -1: missing
        return values[column.cat.codes.to_numpy()[rows]]
    return column.to_numpy()[rows]
