"""``fill-levels`` — per-bin statistics from fill-level sensor readings, and the overflow-risk map.

Readings are the clean table of :mod:`layers.readings` (``bin_id``, ``time`` in UTC, ``fill_pct``
0-100, optionally ``event`` and ``fill_after_pct``). They are joined to a bin layer by a key
column of the user's choice: exact match after trimming, collapsing white space and ignoring case
(no fuzzy matching); numbers such as ``12.0`` match ``"12"``.

Collections: rows with ``event == "collection"`` (the fill level just before the bin was
emptied). Without an event column, a collection is found where the level falls by at least
``collection_drop_pct`` points from one reading to the next: the reading before the fall is the
level at collection.

Per bin:

- ``mean_fill_pct`` — mean fill level at collection (%);
- ``overflow_risk_pct`` — share of collections at or above ``overflow_pct`` (80 % by default), in %;
- ``mean_days_between`` — mean time between consecutive collections, days;
- ``fill_rate_pct_day`` — how fast the bin fills: the rise from the level after one collection
  (``fill_after_pct``, else 0) to the level at the next, summed over the bin's collection
  intervals and divided by the days they span (a ratio of sums, so long intervals weigh more).
  A bin that sat full for a while fills faster than this: it is a lower bound;
- ``days_to_full`` — days for an emptied bin to fill: 100 / ``fill_rate_pct_day``;
- ``days_until_full`` — from the bin's last reading: (100 - level then) / ``fill_rate_pct_day``,
  where the level after a collection is ``fill_after_pct`` (else 0);
- ``readings``, ``collections``, ``first_time``, ``last_time`` (UTC), ``at_risk`` (the overflow
  share is at least ``at_risk_share``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis import figures
from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.style import Style

STATS = ("readings", "collections", "mean_fill_pct", "overflow_risk_pct", "mean_days_between",
         "fill_rate_pct_day", "days_to_full", "days_until_full", "first_time", "last_time", "at_risk")
RISK_STYLE = Style(kind="graduated", field="overflow_risk_pct", scheme="manual", breaks=(20.0, 40.0, 60.0, 80.0, 100.0),
                   classes=5, ramp="RdYlBu_r",
                   stroke="#222222", stroke_width=1.0, size=11.0, unit="% overflowing", label_field=None)
KEY_NAMES = ("bin_id", "sensor_id", "id", "osm_id", "name", "site_name")


# ------------------------------------------------------------------------------------ join
@dataclass
class JoinReport:
    """How readings matched a bin layer on ``key_column``."""

    key_column: str
    bins: int = 0
    bins_matched: int = 0
    reading_bins: int = 0  # distinct bin ids in the readings
    reading_bins_unmatched: int = 0
    readings_matched: int = 0
    readings_unmatched: int = 0
    duplicate_keys: int = 0  # key values shared by more than one bin
    unmatched_examples: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.bins_matched:,} of {self.bins:,} bins have readings (key column '{self.key_column}')",
               f"{self.readings_matched:,} readings matched, {self.readings_unmatched:,} not matched "
               f"({self.reading_bins_unmatched:,} of {self.reading_bins:,} bin ids in the readings are not "
               "in the layer)"]
        if self.unmatched_examples:
            out.append("not in the layer, e.g.: " + "; ".join(self.unmatched_examples))
        if self.duplicate_keys:
            out.append(f"{self.duplicate_keys:,} key values appear on more than one bin: each gets the same "
                       "statistics")
        return out


def normalise_keys(values: pd.Series) -> pd.Series:
    """Keys compared as text: trimmed, white space collapsed, case folded; 12.0 -> '12'."""
    numeric = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_bool_dtype(values) else None
    text = values.astype("string")
    if numeric is not None:
        whole = numeric.notna() & (numeric == np.floor(numeric.fillna(0))) & (numeric.abs() < 1e15)
        text = text.where(~whole, numeric.astype("Float64").round().astype("Int64").astype("string"))
    text = text.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()
    return text.replace({"": pd.NA})


def join_report(bins: pd.DataFrame, readings: pd.DataFrame, key_column: str) -> JoinReport:
    """Matched and unmatched bins and readings when ``bins[key_column]`` meets ``readings.bin_id``."""
    if key_column not in bins.columns:
        found = ", ".join(str(c) for c in bins.columns if c != "geometry")
        raise CityDeskError(f"the bin layer has no column '{key_column}' (columns: {found})",
                            fix="Choose the bin layer column that holds the readings' bin ids")
    keys = normalise_keys(bins[key_column])
    ids = normalise_keys(readings["bin_id"])
    layer_keys = set(keys.dropna())
    matched = ids.isin(layer_keys)
    reading_ids = ids.dropna().unique()
    missing = [str(readings["bin_id"].iloc[int(np.flatnonzero((ids == k).to_numpy(dtype=bool))[0])])
               for k in reading_ids if k not in layer_keys][:5]
    counts = keys.dropna().value_counts()
    return JoinReport(key_column, len(bins), int(keys.isin(set(ids.dropna())).sum()), len(reading_ids),
                      int(sum(k not in layer_keys for k in reading_ids)), int(matched.sum()), int((~matched).sum()),
                      int((counts > 1).sum()), missing)


def best_key_column(bins: pd.DataFrame, readings: pd.DataFrame) -> str | None:
    """The bin layer column matching the most readings (ties: bin_id, sensor_id, … first); None if none."""
    ids = set(normalise_keys(readings["bin_id"]).dropna())
    order = sorted((c for c in bins.columns if c != "geometry"),
                   key=lambda c: KEY_NAMES.index(c) if c in KEY_NAMES else len(KEY_NAMES))
    best, best_n = None, 0
    for col in order:
        if pd.api.types.is_float_dtype(bins[col]) and not (bins[col].dropna() % 1 == 0).all():
            continue
        n = int(normalise_keys(bins[col]).isin(ids).sum())
        if n > best_n:
            best, best_n = col, n
    return best


# ------------------------------------------------------------------------------------ statistics
def collections(readings: pd.DataFrame, *, collection_drop_pct: float = 30.0) -> pd.Series:
    """A boolean mask over ``readings`` (sorted by bin and time): True where a row is a collection."""
    if "event" in readings.columns and readings["event"].notna().any():
        return readings["event"].astype("string").str.lower().eq("collection").fillna(False).to_numpy()
    same_bin = readings["bin_id"].to_numpy()[1:] == readings["bin_id"].to_numpy()[:-1]
    fill = readings["fill_pct"].to_numpy(dtype=float)
    falls = np.append(same_bin & (fill[:-1] - fill[1:] >= collection_drop_pct), False)
    return falls


def bin_statistics(readings: pd.DataFrame, *, overflow_pct: float = 80.0, at_risk_share: float = 0.5,
                   collection_drop_pct: float = 30.0) -> pd.DataFrame:
    """Per-bin statistics (module docstring) indexed by ``bin_id``; vectorised over all bins."""
    data = readings.sort_values(["bin_id", "time"], kind="stable", ignore_index=True)
    is_collection = collections(data, collection_drop_pct=collection_drop_pct)
    by_bin = data.groupby("bin_id", sort=True)
    out = pd.DataFrame({"readings": by_bin.size(), "first_time": by_bin["time"].min(),
                        "last_time": by_bin["time"].max()})
    col = data[is_collection].copy()
    after = col["fill_after_pct"].fillna(0.0) if "fill_after_pct" in col else pd.Series(0.0, index=col.index)
    col["over"] = col["fill_pct"] >= overflow_pct
    same = col["bin_id"].eq(col["bin_id"].shift())
    gap_days = (col["time"] - col["time"].shift()).dt.total_seconds() / 86400.0
    col["gap_days"] = gap_days.where(same)
    col["rise"] = (col["fill_pct"] - after.shift()).clip(lower=0.0).where(same & (gap_days > 0))
    col["rate_days"] = col["gap_days"].where(col["rise"].notna())
    grouped = col.groupby("bin_id", sort=True)
    out["collections"] = grouped.size().reindex(out.index, fill_value=0).astype("int64")
    out["mean_fill_pct"] = grouped["fill_pct"].mean()
    out["overflow_risk_pct"] = grouped["over"].mean() * 100.0
    out["mean_days_between"] = grouped["gap_days"].mean()
    rise, days = grouped["rise"].sum(min_count=1), grouped["rate_days"].sum(min_count=1)
    out["fill_rate_pct_day"] = (rise / days).where(days > 0)
    rate = out["fill_rate_pct_day"].where(out["fill_rate_pct_day"] > 0)
    out["days_to_full"] = 100.0 / rate
    last = data.groupby("bin_id", sort=True).tail(1).set_index("bin_id")
    last_is_col = pd.Series(is_collection, index=data.index)[data.groupby("bin_id").tail(1).index].to_numpy()
    level_after = last["fill_after_pct"].fillna(0.0) if "fill_after_pct" in last else 0.0
    level = pd.Series(np.where(last_is_col, level_after, last["fill_pct"]), index=last.index)
    out["days_until_full"] = ((100.0 - level) / rate).clip(lower=0.0)
    out["at_risk"] = (out["overflow_risk_pct"] >= at_risk_share * 100.0).fillna(False).astype(bool)
    return out[list(STATS)]


# ------------------------------------------------------------------------------------ analysis
def fill_levels(waste_bins: gpd.GeoDataFrame, *, readings: pd.DataFrame, key_column: str = "",
                overflow_pct: float = 80.0, at_risk_share: float = 0.5, collection_drop_pct: float = 30.0,
                feedback: Feedback | None = None) -> AnalysisResult:
    """Statistics of ``readings`` joined to ``waste_bins`` on ``key_column`` (auto when empty).

    Returns the layer ``waste_bins`` (every bin, with the columns of :data:`STATS`; bins without
    readings have 0 readings and empty statistics) and a summary: ``bins``, ``bins_with_readings``,
    ``bins_at_risk``, ``readings``, ``collections``, ``collections_overflow_share`` (0-1),
    ``mean_fill_pct``, ``period_start`` / ``period_end`` (UTC, ISO 8601), and the join counts."""
    fb = ensure(feedback)
    fb.check_cancelled()
    missing = [c for c in ("bin_id", "time", "fill_pct") if c not in readings.columns]
    if missing:
        raise CityDeskError(f"the readings have no column {', '.join(missing)}",
                            fix="Import the readings first (File → Import readings…, or citydesk import-readings)")
    key = key_column or best_key_column(waste_bins, readings)
    if key is None:
        cols = ", ".join(str(c) for c in waste_bins.columns if c != "geometry")
        raise CityDeskError(f"no column of the bin layer holds the readings' bin ids (columns: {cols})",
                            source="waste_bins", fix="Choose the key column, or import the readings with the "
                            "bin id column that the bin layer uses")
    report = join_report(waste_bins, readings, key)
    fb.progress(0.2, "Computing per-bin statistics")
    keys = normalise_keys(waste_bins[key])
    table = readings.assign(bin_id=normalise_keys(readings["bin_id"]))
    table = table[table["bin_id"].isin(set(keys.dropna()))]
    stats = bin_statistics(table, overflow_pct=overflow_pct, at_risk_share=at_risk_share,
                           collection_drop_pct=collection_drop_pct)
    fb.check_cancelled()
    fb.progress(0.8, "Joining the statistics to the bins")
    joined = stats.reindex(keys.to_numpy())
    out = waste_bins.copy()
    for name in STATS:
        out[name] = joined[name].to_numpy()
    out["readings"] = out["readings"].fillna(0).astype("int64")
    out["collections"] = out["collections"].fillna(0).astype("int64")
    out["at_risk"] = out["at_risk"].astype("boolean").fillna(False).astype(bool)
    sorted_table = table.sort_values(["bin_id", "time"], kind="stable", ignore_index=True)
    col_rows = sorted_table[collections(sorted_table, collection_drop_pct=collection_drop_pct)]
    summary = {
        "bins_at_risk": int(out["at_risk"].sum()),  # first: the Results panel's headline
        "bins": int(len(out)), "bins_with_readings": int((out["readings"] > 0).sum()),
        "readings": int(len(table)), "collections": int(len(col_rows)),
        "collections_overflow_share": float((col_rows["fill_pct"] >= overflow_pct).mean()) if len(col_rows) else None,
        "mean_fill_pct": float(col_rows["fill_pct"].mean()) if len(col_rows) else None,
        "period_start": f"{table['time'].min():%Y-%m-%d %H:%M}" if len(table) else None,
        "period_end": f"{table['time'].max():%Y-%m-%d %H:%M}" if len(table) else None,
        "key_column": key, "readings_unmatched": report.readings_unmatched,
        "reading_bins_unmatched": report.reading_bins_unmatched,
        "overflow_pct": float(overflow_pct),
    }
    fb.progress(1.0, "Done")
    params = {"key_column": key, "overflow_pct": overflow_pct, "at_risk_share": at_risk_share,
              "collection_drop_pct": collection_drop_pct}
    return AnalysisResult.make("fill-levels", {"waste_bins": out}, summary, params)


def load_readings(waste_bins: gpd.GeoDataFrame, readings_file: str, timezone: str = "",
                  feedback: Feedback | None = None) -> pd.DataFrame:
    """The readings named by ``readings_file``, else by the layer's ``readings_file`` column (as the
    sample project stores them: a file name relative to the layer's file, whose folder the window
    keeps in ``waste_bins.attrs['source_dir']``; else relative to the current folder)."""
    from layers.readings import read_readings

    if readings_file.strip():
        names = [readings_file.strip()]
    elif "readings_file" in waste_bins.columns and waste_bins["readings_file"].notna().any():
        names = sorted(set(waste_bins["readings_file"].dropna().astype(str)))
    else:
        raise CityDeskError("no readings file given, and the bin layer has no 'readings_file' column",
                            source="waste_bins", fix="Give the readings file (readings_file=PATH), a CSV, Excel or "
                            "Parquet file of bin id, time and fill level")
    base = [Path(waste_bins.attrs["source_dir"])] if waste_bins.attrs.get("source_dir") else []
    tables = []
    for i, name in enumerate(names):
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = next((b / path for b in base if (b / path).exists()), path)
        part = SubFeedback(ensure(feedback), i / len(names), (i + 1) / len(names))
        tables.append(read_readings(path, timezone=timezone or None, feedback=part).table)
    return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


def _run(waste_bins: gpd.GeoDataFrame, *, readings_file: str = "", key_column: str = "", overflow_pct: float = 80.0,
         at_risk_share: float = 0.5, collection_drop_pct: float = 30.0, timezone: str = "",
         feedback: Feedback | None = None) -> AnalysisResult:
    """The registered entry: read the readings file, then :func:`fill_levels` (the one place with I/O:
    the registry has no table inputs, only layers)."""
    fb = ensure(feedback)
    readings = load_readings(waste_bins, readings_file, timezone, SubFeedback(fb, 0.0, 0.5))
    result = fill_levels(waste_bins, readings=readings, key_column=key_column, overflow_pct=overflow_pct,
                         at_risk_share=at_risk_share, collection_drop_pct=collection_drop_pct,
                         feedback=SubFeedback(fb, 0.5, 1.0))
    params = {**result.params, "readings_file": readings_file, "timezone": timezone}
    return AnalysisResult.make(result.analysis, dict(result.layers), dict(result.summary), params)


def headline(summary) -> str:
    """'10 of 20 bins at overflow risk; 41.9 % of collections at or above 80 % full (mean 71 %)'."""
    text = f"{summary['bins_at_risk']} of {summary['bins']} bins at overflow risk"
    if summary.get("collections_overflow_share") is not None:
        level = f"{summary['overflow_pct']:g} % full" if "overflow_pct" in summary else "the overflow level"
        text += f"; {figures.share(summary['collections_overflow_share'])} of collections at or above {level}"
        if summary.get("mean_fill_pct") is not None:
            text += f" (mean {summary['mean_fill_pct']:.0f} %)"
    return text


SPEC = Analysis(
    id="fill-levels",
    partition_note="it works on each bin's time series of readings, not on an area",
    title="Bin fill levels and overflow risk",
    description="Per-bin statistics from fill-level sensor readings: mean fill at collection, share of "
                "collections at or above the overflow threshold, days between collections and until full.",
    roles=(Role("waste_bins", ("point",), help="bins (or bin sensors) with a column holding the readings' bin ids"),),
    params=(
        Param("readings_file", "str", "", "A CSV, Excel or Parquet file of readings (bin id, time, fill %); empty: "
              "the file named in the bin layer's readings_file column"),
        Param("key_column", "str", "", "The bin layer column that holds the readings' bin ids; empty: the column "
              "that matches the most readings"),
        Param("overflow_pct", "float", 80.0, "A collection at or above this fill level counts as an overflow risk",
              unit="%", minimum=1.0, maximum=100.0),
        Param("at_risk_share", "float", 0.5, "A bin is at risk when at least this share of its collections was at "
              "or above the overflow level", minimum=0.0, maximum=1.0),
        Param("collection_drop_pct", "float", 30.0, "Without collection events, a fall of at least this many "
              "points between two readings is a collection", unit="%", minimum=1.0, maximum=100.0),
        Param("timezone", "str", "", "The time zone of readings without one (e.g. Europe/London); empty: the zone "
              "in the time column's name, else UTC"),
    ),
    run=_run,
    key_figures=("bins_at_risk", "bins", "collections_overflow_share", "mean_fill_pct", "collections", "period_start",
                 "period_end"),
    headline=headline,
    sources=("Overflow threshold 80 %: the usual trigger level of fill-level sensor services (e.g. Enevo, "
             "Sensoneo) for a collection",),
    result_styles={"waste_bins": RISK_STYLE},
)
