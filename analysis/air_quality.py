"""``air-quality`` — NO2, PM2.5 and PM10 at sensor stations against the EU 2024/2881 limits (2030),
the WHO 2021 guidelines and the 2008/50/EC limits; noise against the WHO 2018 road-traffic guideline.

Readings are the clean table of :mod:`layers.sensors`, joined to the stations layer by a station
id column. For one calendar year (in ``timezone``) each station gets, per pollutant ``p``
(``no2``, ``pm25``, ``pm10``):

- ``p_mean`` — annual mean of the hourly values (µg/m³); ``p_coverage_pct`` — hours with a
  value / hours in the year (%); ``p_valid_days`` — days with a valid daily mean;
- ``p_days_over_X`` — valid days with a daily mean above X µg/m³ (each daily value of a standard);
  ``p_hours_over_200`` (NO2) — hours above 200 µg/m³;
- ``p_exceeds_S`` per standard S (``eu2030``, ``who2021``, ``eu2008``): True when the annual mean
  is above the limit or more days/hours than allowed are above it; False when neither; empty (too
  little data) when the annual mean does not have 90 % coverage and nothing is exceeded.

Then ``exceeds_S`` over the pollutants, ``status`` and ``status_level`` (0 too little data, 1 within
all, 2 above WHO 2021 only, 3 above EU 2030 limits, 4 above 2008/50/EC limits); and for noise
(``Lden``/``Lnight`` readings, or hourly ``LAeq``): ``noise_lden_db``, ``noise_lnight_db``,
``noise_exceeds_who2018``. The coverage rules are in :mod:`analysis.air_quality_limits`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis.air_quality_limits import (
    COVERAGE_RULES,
    DAY_COVERAGE,
    HOUR_COVERAGE,
    LIMITS,
    POLLUTANTS,
    PREFIX,
    SOURCES,
    STANDARDS,
    YEAR_COVERAGE,
    daily_limits,
    hourly_limits,
)
from analysis.air_quality_noise import noise_levels
from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.sensor_join import load_for_layer, normalise, station_column, station_keys
from layers.sensor_stats import period_hours, resample
from layers.style import Style

LEVELS = {0: "too little data", 1: "within all standards", 2: "above WHO 2021 guidelines only",
          3: "above EU 2030 limit values", 4: "above 2008/50/EC limit values"}
STATUS_STYLE = Style(kind="categorized", field="status_level", size=13.0, stroke="#222222", stroke_width=1.0,
                     categories={"0": "#bdbdbd", "1": "#4575b4", "2": "#fee090", "3": "#f46d43", "4": "#a50026"},
                     category_labels={str(k): v for k, v in LEVELS.items()}, label_field="name")


def choose_year(table: pd.DataFrame, timezone: str) -> int:
    """The calendar year (in ``timezone``) with the most readings."""
    years = table["time"].dt.tz_convert(timezone).dt.year
    return int(years.value_counts().idxmax())


def hourly(table: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Hourly values: the readings themselves when hourly, else hourly means with 75 % coverage."""
    out = resample(table, "hourly", timezone=timezone)
    out = out[out["coverage"] >= HOUR_COVERAGE - 1e-9]
    return out.rename(columns={"start": "time"})


def pollutant_stats(hours: pd.DataFrame, *, timezone: str, hours_in_year: float) -> pd.DataFrame:
    """Per station (index: station_id) the ``p_…`` columns of one pollutant's hourly values."""
    pollutant = str(hours["variable"].iloc[0])
    p = PREFIX[pollutant]
    table = hours.rename(columns={"time": "time"}).assign(time=hours["time"].dt.tz_convert("UTC"))
    days = resample(table, "daily", timezone=timezone, step=pd.Timedelta(hours=1))
    days = days[days["coverage"] >= DAY_COVERAGE - 1e-9]
    grouped = hours.groupby("station_id", observed=True)
    out = pd.DataFrame({f"{p}_mean": grouped["value"].mean(),
                        f"{p}_coverage_pct": 100.0 * grouped["value"].size() / hours_in_year})
    day_groups = days.groupby("station_id", observed=True)
    out[f"{p}_valid_days"] = day_groups["value"].size()
    for limit in daily_limits(pollutant):
        out[f"{p}_days_over_{limit:g}"] = day_groups["value"].agg(lambda v, lim=limit: int((v > lim).sum()))
    for limit in hourly_limits(pollutant):
        out[f"{p}_hours_over_{limit:g}"] = grouped["value"].agg(lambda v, lim=limit: int((v > lim).sum()))
    out = out.fillna({c: 0 for c in out.columns if "_over_" in c or c.endswith("_valid_days")})
    for standard in STANDARDS:
        out[f"{p}_exceeds_{standard}"] = _exceeds(out, p, pollutant, standard)
    return out


def _exceeds(stats: pd.DataFrame, p: str, pollutant: str, standard: str) -> pd.Series:
    limits = [lim for lim in LIMITS if lim.standard == standard and lim.pollutant == pollutant]
    if not limits:
        return pd.Series(pd.NA, index=stats.index, dtype="boolean")
    sure = pd.Series(False, index=stats.index)
    annual_ok = stats[f"{p}_coverage_pct"] >= 100 * YEAR_COVERAGE - 1e-9
    for lim in limits:
        if lim.period == "year":
            sure |= annual_ok & (stats[f"{p}_mean"] > lim.value)
        else:
            column = f"{p}_{'days' if lim.period == 'day' else 'hours'}_over_{lim.value:g}"
            sure |= stats[column] > lim.allowed
    out = sure.astype("boolean")
    return out.mask(~sure & ~annual_ok, pd.NA)


def air_quality(sensors: gpd.GeoDataFrame, *, readings: pd.DataFrame, year: int = 0, timezone: str = "UTC",
                station_column_name: str = "", feedback: Feedback | None = None) -> AnalysisResult:
    """Annual statistics and exceedances per station (see the module docstring); ``year`` 0: the
    year with the most readings. ``readings``: the clean table of :mod:`layers.sensors`."""
    fb = ensure(feedback)
    if sensors is None or len(sensors) == 0:
        raise CityDeskError("the stations layer is empty", source="sensors", fix="Choose a layer of sensor stations")
    if not len(readings):
        raise CityDeskError("there are no readings", source="readings", fix="Check the readings file")
    column = station_column(sensors, readings, station_column_name)
    year = int(year) or choose_year(readings, timezone)
    start = pd.Timestamp(f"{year}-01-01").tz_localize(timezone)
    end = pd.Timestamp(f"{year + 1}-01-01").tz_localize(timezone)
    in_year = readings[(readings["time"] >= start) & (readings["time"] < end)].copy()
    if not len(in_year):
        raise CityDeskError(f"no readings in {year} ({timezone})", source="readings",
                            fix=f"Choose a year between {readings['time'].min():%Y} and {readings['time'].max():%Y}")
    chart = _monthly_chart(in_year, [p for p in POLLUTANTS if (in_year["variable"].astype(str) == p).any()], timezone)
    in_year["station_id"] = normalise(in_year["station_id"].astype(str)).to_numpy()
    hours_in_year = float(period_hours(np.array([np.datetime64(f"{year}-01-01", "ns")]), "yearly", timezone)[0])
    keys = station_keys(sensors, column)
    out = sensors.copy()
    summary: dict = {"year": year, "timezone": timezone, "station_column": column, "stations": len(sensors)}
    present = []
    variables = in_year["variable"].astype(str)
    for i, pollutant in enumerate(POLLUTANTS):
        fb.check_cancelled()
        fb.progress(0.1 + 0.7 * i / len(POLLUTANTS), f"{pollutant}: daily and annual means")
        rows = in_year[variables.to_numpy() == pollutant]
        if not len(rows):
            continue
        present.append(pollutant)
        stats = pollutant_stats(hourly(rows, timezone), timezone=timezone, hours_in_year=hours_in_year)
        for name in stats.columns:
            joined = keys.map(stats[name])
            out[name] = joined.astype("boolean") if "_exceeds_" in name else joined.astype(float).to_numpy()
        p = PREFIX[pollutant]
        summary[f"{p}_max_mean"] = round(float(np.nanmax(out[f"{p}_mean"])), 2) \
            if out[f"{p}_mean"].notna().any() else None
    if not present and not variables.str.match(r"L(Aeq|den|night)").any():
        raise CityDeskError(f"the readings hold none of {', '.join(POLLUTANTS)} or noise (LAeq, Lden, Lnight): they "
                            f"hold {', '.join(sorted(variables.unique()))}", source="readings",
                            fix="Check the variable names in the readings file")
    fb.progress(0.85, "Noise")
    noise = noise_levels(in_year, timezone)
    if len(noise):
        for name in noise.columns:
            out[name] = keys.map(noise[name]).to_numpy()
        out["noise_exceeds_who2018"] = keys.map(noise["noise_exceeds_who2018"]).astype("boolean")
    _status(out, present, summary)
    summary["matched_stations"] = int(keys.isin(set(in_year["station_id"])).sum())
    summary["pollutants"] = ", ".join(present)
    summary["coverage_rules"] = COVERAGE_RULES
    fb.progress(1.0, "Done")
    params = {"year": year, "timezone": timezone, "station_column": column}
    charts = {"annual_means": _annual_chart(out, present, column), "monthly_means": chart} if present else \
        {"monthly_means": chart}
    return AnalysisResult.make("air-quality", {"sensors": out}, summary, params, charts=charts)


def _annual_chart(out: gpd.GeoDataFrame, present: list[str], column: str) -> pd.DataFrame:
    """Annual mean of each pollutant per station (the first 12 stations), with the EU 2030 annual
    limits in the axis label: bars to read against the limits."""
    table = pd.DataFrame({"station": out[column].astype(str).to_numpy()})  # the ids, as in the monthly chart
    for pollutant in present:
        table[pollutant] = out[f"{PREFIX[pollutant]}_mean"].to_numpy(dtype=float)
    limits = ", ".join(f"{lim.pollutant} {lim.value:g}" for p in present for lim in LIMITS
                       if lim.pollutant == p and lim.standard == "eu2030" and lim.period == "year")
    table = table.head(12)
    table.attrs.update(kind="barh", title="Annual means (µg/m³)", x_label=f"EU 2030 limits:\n{limits}")
    return table


def _status(out: gpd.GeoDataFrame, present: list[str], summary: dict) -> None:
    level = pd.Series(1, index=out.index)
    known = pd.Series(False, index=out.index)
    for rank, standard in ((2, "who2021"), (3, "eu2030"), (4, "eu2008")):
        columns = [f"{PREFIX[p]}_exceeds_{standard}" for p in present if f"{PREFIX[p]}_exceeds_{standard}" in out]
        flags = out[columns].astype("boolean") if columns else pd.DataFrame(index=out.index)
        any_true = flags.fillna(False).any(axis=1) if columns else pd.Series(False, index=out.index)
        all_known = flags.notna().all(axis=1) if columns else pd.Series(False, index=out.index)
        exceeded = any_true.astype("boolean").mask(~any_true & ~all_known, pd.NA)
        out[f"exceeds_{standard}"] = exceeded
        summary[f"stations_exceeding_{standard}"] = int(any_true.sum())
        level = level.where(~any_true, rank)
        known |= flags.notna().any(axis=1) if columns else known
    level = level.where(known | (level > 1), 0)
    out["status_level"] = level.astype(int)
    out["status"] = level.map(LEVELS)


def _monthly_chart(in_year: pd.DataFrame, present: list[str], timezone: str) -> pd.DataFrame:
    """Monthly mean of the first pollutant present, one column per station (at most 8)."""
    if not present:
        return pd.DataFrame({"month": []})
    rows = in_year[in_year["variable"].astype(str) == present[0]]
    months = resample(rows, "monthly", timezone=timezone)
    table = months.pivot_table(index=months["start"].dt.month, columns="station_id", values="value", observed=True)
    table = table.iloc[:, :8].reset_index().rename(columns={"start": "month"})
    table.columns = [str(c) for c in table.columns]
    table.attrs.update(title=f"{present[0]} monthly mean", x_label="month", y_label="µg/m³")
    return table


def _run(sensors: gpd.GeoDataFrame, *, readings_file: str = "", station_column: str = "", year: int = 0,
         timezone: str = "", feedback: Feedback | None = None) -> AnalysisResult:
    """The registered entry: read the readings file, then :func:`air_quality`."""
    fb = ensure(feedback)
    zone = timezone or _layer_zone(sensors) or "UTC"
    loaded = load_for_layer(sensors, readings_file, timezone=zone, feedback=SubFeedback(fb, 0.0, 0.4))
    result = air_quality(sensors, readings=loaded.table, year=year, timezone=zone, station_column_name=station_column,
                         feedback=SubFeedback(fb, 0.4, 1.0))
    summary = {**result.summary, "readings": loaded.report.readings, "readings_dropped": sum(
        loaded.report.dropped.values()), "readings_missing_in_gaps": loaded.report.missing}
    params = {**result.params, "readings_file": readings_file, "timezone": timezone}
    return AnalysisResult.make(result.analysis, dict(result.layers), summary, params, charts=dict(result.charts))


def _layer_zone(sensors: gpd.GeoDataFrame) -> str | None:
    if "timezone" in sensors.columns and sensors["timezone"].notna().any():
        return str(sensors["timezone"].dropna().iloc[0])
    return None


def headline(summary) -> str:
    """'3 of 6 stations above the EU 2030 limit values, 6 above the WHO 2021 guidelines; highest NO2
    annual mean 29.6 µg/m³' (the first pollutant measured; the others are key figures)."""
    n = summary["stations"]
    text = (f"{summary['stations_exceeding_eu2030']} of {n} stations above the EU 2030 limit values, "
            f"{summary['stations_exceeding_who2021']} above the WHO 2021 guidelines")
    if summary.get("stations_exceeding_eu2008"):
        text += f", {summary['stations_exceeding_eu2008']} above 2008/50/EC"
    means = [f"{name} annual mean {summary[f'{p}_max_mean']:.3g} µg/m³" for name, p in PREFIX.items()
             if summary.get(f"{p}_max_mean") is not None]
    return text + (f"; highest {means[0]}" if means else "")


SPEC = Analysis(
    id="air-quality",
    partition_note="it works on each station's time series of readings, not on an area",
    title="Air quality and noise against limits",
    description="Annual means, days over the daily limits and exceedances per station for NO2, PM2.5 and PM10 "
                "(EU 2024/2881, WHO 2021, 2008/50/EC), and noise against the WHO road-traffic guideline.",
    roles=(Role("sensors", ("point",), help="sensor stations with a column holding the readings' station ids"),),
    params=(
        Param("readings_file", "str", "", "A CSV, Excel or Parquet file of readings (station, time, variable, "
              "value); empty: the file named in the stations layer's readings_file column"),
        Param("station_column", "str", "", "The stations layer column holding the readings' station ids; empty: "
              "the column that matches the most"),
        Param("year", "int", 0, "The calendar year to assess; 0: the year with the most readings",
              minimum=0, maximum=2200),
        Param("timezone", "str", "", "Time zone of the calendar days and year, and of readings written without "
              "one (e.g. Europe/Helsinki); empty: the layer's timezone column, else UTC"),
    ),
    run=_run,
    key_figures=("stations_exceeding_eu2030", "stations_exceeding_who2021", "stations_exceeding_eu2008",
                 "no2_max_mean", "pm25_max_mean", "pm10_max_mean", "stations", "year"),
    headline=headline,
    sources=(COVERAGE_RULES, *SOURCES),
    result_styles={"sensors": STATUS_STYLE},
)
