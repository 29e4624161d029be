"""``sensor-surface`` — a surface interpolated between sensor stations by inverse distance
weighting (IDW), with its leave-one-out cross-validation error.

The value at a station is a column of the stations layer (``value_column``, e.g. ``no2_mean`` from
``air-quality``) or the mean of a variable's readings (``variable``, over ``year`` when given). A
cell's value is ``sum(w_i v_i) / sum(w_i)`` with ``w_i = 1 / d_i^power`` over the stations within
``max_distance_m`` of the cell centre (0: all); a cell with no station in reach has no value.

The area of interest: the union of the ``districts`` polygons when given, else the convex hull of
the stations buffered by ``margin_m``. Cells are ``cell_m`` metre squares; those whose centre lies
in the area are kept (layer ``surface``, column ``value``).

Leave-one-out cross-validation: each station's value is predicted from the other stations with
the same parameters; ``loo_rmse`` and ``loo_mae`` in the summary and ``loo_predicted`` /
``loo_error`` (predicted − observed) per station say how far to trust the surface between stations.
"""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.raster import cells_layer, grid_centres, grid_for, inside_mask, raster_style
from layers.sensor_join import load_for_layer, normalise, station_column, station_keys
from layers.style import Style

CHUNK = 20_000  # cells per block of the distance matrix
STATION_STYLE = Style(kind="graduated", field="loo_error", scheme="equal_interval", classes=5, ramp="RdYlBu_r",
                      size=11.0, stroke="#222222", stroke_width=1.0, label_field="name", unit="(LOO error)")


def idw(xy: np.ndarray, values: np.ndarray, targets: np.ndarray, *, power: float = 2.0,
        max_distance_m: float = 0.0, feedback: Feedback | None = None) -> np.ndarray:
    """IDW estimates at ``targets`` (n, 2) from stations at ``xy`` (s, 2) with ``values`` (s,);
    metres. A target on a station takes its value; NaN where no station is within ``max_distance_m``
    (0: no limit)."""
    fb = ensure(feedback)
    out = np.full(len(targets), np.nan)
    for start in range(0, len(targets), CHUNK):
        fb.check_cancelled()
        fb.progress(start / max(len(targets), 1), "Interpolating")
        block = targets[start:start + CHUNK]
        d = np.hypot(block[:, None, 0] - xy[None, :, 0], block[:, None, 1] - xy[None, :, 1])
        with np.errstate(divide="ignore"):
            w = 1.0 / d ** power
        if max_distance_m > 0:
            w[d > max_distance_m] = 0.0
        exact = d < 1e-9
        w[exact.any(axis=1)] = 0.0
        w[exact] = 1.0
        total = w.sum(axis=1)
        with np.errstate(invalid="ignore"):
            out[start:start + CHUNK] = np.where(total > 0, (w @ values) / np.where(total > 0, total, 1), np.nan)
    fb.progress(1.0, "Interpolated")
    return out


def leave_one_out(xy: np.ndarray, values: np.ndarray, *, power: float = 2.0, max_distance_m: float = 0.0
                  ) -> np.ndarray:
    """Each station's value predicted from the others (NaN when none is in reach)."""
    out = np.full(len(xy), np.nan)
    for i in range(len(xy)):
        others = np.arange(len(xy)) != i
        out[i] = idw(xy[others], values[others], xy[i:i + 1], power=power, max_distance_m=max_distance_m)[0]
    return out


def sensor_surface(sensors: gpd.GeoDataFrame, *, values: pd.Series, districts: gpd.GeoDataFrame | None = None,
                   power: float = 2.0, max_distance_m: float = 0.0, cell_m: float = 25.0, margin_m: float = 300.0,
                   label: str = "value", feedback: Feedback | None = None) -> AnalysisResult:
    """The IDW surface and cross-validation (see the module docstring); ``values`` is one number per
    station (index aligned with ``sensors``; NaN: the station is left out)."""
    fb = ensure(feedback)
    if sensors is None or len(sensors) == 0:
        raise CityDeskError("the stations layer is empty", source="sensors", fix="Choose a layer of sensor stations")
    if sensors.crs is None or sensors.crs.is_geographic:
        raise CityDeskError("the stations are not in a metric CRS", source="sensors",
                            fix="Run the analysis through the registry (it reprojects) or reproject the layer")
    if power <= 0 or cell_m <= 0:
        raise CityDeskError("power and cell_m must be positive", fix="Give power > 0 and a cell size in metres > 0")
    points = sensors.geometry.representative_point()
    usable = values.notna().to_numpy() & ~points.is_empty.to_numpy()
    if usable.sum() < 2:
        raise CityDeskError(f"only {int(usable.sum())} station(s) have a value for '{label}': a surface needs at "
                            "least 2 (cross-validation at least 3)", source="sensors",
                            fix="Check the value column or variable, and the readings")
    xy = shapely.get_coordinates(points.to_numpy()[usable])
    vals = values.to_numpy(dtype=float)[usable]
    if districts is not None and len(districts):
        area = shapely.union_all(shapely.make_valid(districts.to_crs(sensors.crs).geometry.to_numpy()))
        area_from = "districts layer"
    else:
        area = shapely.convex_hull(shapely.multipoints(xy)).buffer(margin_m)
        area_from = f"stations' convex hull + {margin_m:g} m"
    x0, y0, rows, cols = grid_for(area.bounds, cell_m)
    xs, ys = grid_centres(x0, y0, cell_m, rows, cols)
    mask = inside_mask(xs, ys, area)
    fb.progress(0.05, f"{int(mask.sum()):,} cells")
    grid = np.full((rows, cols), np.nan)
    grid[mask] = idw(xy, vals, np.column_stack([xs[mask], ys[mask]]), power=power, max_distance_m=max_distance_m,
                     feedback=SubFeedback(fb, 0.05, 0.85))
    surface = cells_layer(grid, x0, y0, cell_m, sensors.crs, name="value", mask=mask)
    fb.check_cancelled()
    fb.progress(0.9, "Cross-validation")
    predicted = np.full(len(sensors), np.nan)
    if usable.sum() >= 3:
        predicted[usable] = leave_one_out(xy, vals, power=power, max_distance_m=max_distance_m)
    stations = sensors.copy()
    stations["observed"] = values.to_numpy(dtype=float)
    stations["loo_predicted"] = predicted
    stations["loo_error"] = predicted - stations["observed"].to_numpy()
    err = stations["loo_error"].dropna().to_numpy()
    summary = {"value": label, "stations_used": int(usable.sum()), "cells": len(surface), "cell_m": cell_m,
               "area_of_interest": area_from, "area_km2": round(area.area / 1e6, 3),
               "surface_min": _r(np.nanmin(grid)), "surface_max": _r(np.nanmax(grid)),
               "surface_mean": _r(np.nanmean(grid)),
               "loo_rmse": _r(np.sqrt(np.mean(err ** 2))) if len(err) else None,
               "loo_mae": _r(np.mean(np.abs(err))) if len(err) else None,
               "loo_note": "Leave-one-out: each station predicted from the others. Between stations the surface is "
                           "a smooth guess; expect errors of about the RMSE, more far from stations."}
    fb.progress(1.0, "Done")
    params = {"power": power, "max_distance_m": max_distance_m, "cell_m": cell_m, "margin_m": margin_m}
    return AnalysisResult.make("sensor-surface", {"surface": surface, "stations": stations}, summary, params)


def _r(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 3)


def station_values(sensors: gpd.GeoDataFrame, readings: pd.DataFrame, variable: str, *, year: int = 0,
                   timezone: str = "UTC", station_column_name: str = "") -> pd.Series:
    """Mean of ``variable``'s readings per station (in calendar ``year`` of ``timezone``, 0: all),
    aligned with ``sensors``."""
    from layers.sensors import canonical

    rows = readings[readings["variable"].astype(str) == canonical(variable)]
    if year:
        local_year = rows["time"].dt.tz_convert(timezone).dt.year
        rows = rows[local_year.to_numpy() == int(year)]
    if not len(rows):
        found = ", ".join(sorted(readings["variable"].astype(str).unique()))
        raise CityDeskError(f"no readings of '{variable}'{f' in {year}' if year else ''} (the readings hold {found})",
                            source="readings", fix="Choose one of the variables in the readings")
    column = station_column(sensors, readings, station_column_name)
    means = rows.groupby(normalise(rows["station_id"].astype(str)).to_numpy())["value"].mean()
    return pd.Series(station_keys(sensors, column).map(means).to_numpy(dtype=float), index=sensors.index)


def _run(sensors: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None = None, *, value_column: str = "",
         variable: str = "NO2", readings_file: str = "", station_column: str = "", year: int = 0,
         timezone: str = "", power: float = 2.0, max_distance_m: float = 0.0, cell_m: float = 25.0,
         margin_m: float = 300.0, feedback: Feedback | None = None) -> AnalysisResult:
    """The registered entry: the station values (a column, else the readings file), then
    :func:`sensor_surface`."""
    fb = ensure(feedback)
    unit = ""
    if value_column:
        if value_column not in sensors.columns:
            raise CityDeskError(f"the stations layer has no column '{value_column}'", source="sensors",
                                fix="Leave value_column empty to use the readings, or choose a numeric column")
        values = pd.to_numeric(sensors[value_column], errors="coerce")
        label = value_column
    else:
        zone = timezone or "UTC"
        loaded = load_for_layer(sensors, readings_file, timezone=zone, feedback=SubFeedback(fb, 0.0, 0.3))
        values = station_values(sensors, loaded.table, variable, year=year, timezone=zone,
                                station_column_name=station_column)
        label = f"{variable} mean{f' {year}' if year else ''}"
        unit = _unit(loaded.table, variable)
    result = sensor_surface(sensors, values=values, districts=districts, power=power, max_distance_m=max_distance_m,
                            cell_m=cell_m, margin_m=margin_m, label=label, feedback=SubFeedback(fb, 0.3, 1.0))
    params = {**result.params, "value_column": value_column, "variable": variable, "readings_file": readings_file,
              "year": year or "all years", "timezone": timezone}
    if not max_distance_m:  # 0 means no limit: say so rather than "0 m"
        params["max_distance_m"] = "no limit (every station counts)"
    summary = {**result.summary, "unit": unit} if unit else dict(result.summary)
    return AnalysisResult.make(result.analysis, dict(result.layers), summary, params)


def _unit(readings: pd.DataFrame, variable: str) -> str:
    """The unit of ``variable``'s readings (the most common one given), else ''."""
    from layers.sensors import canonical

    if "unit" not in readings.columns:
        return ""
    units = readings.loc[readings["variable"].astype(str) == canonical(variable), "unit"].astype(str).str.strip()
    units = units[(units != "") & (units != "(none)") & (units != "nan")]
    return str(units.value_counts().index[0]) if len(units) else ""


def headline(summary) -> str:
    """'NO2 mean between 14.6 and 29.6 µg/m³ across 6 stations; leave-one-out error ±8.6 µg/m³'."""
    unit = f" {summary['unit']}" if summary.get("unit") else ""
    text = (f"{summary['value']} between {summary['surface_min']:.3g} and {summary['surface_max']:.3g}{unit} across "
            f"{summary['stations_used']} stations")
    if summary.get("loo_rmse") is not None:
        text += f"; leave-one-out error ±{summary['loo_rmse']:.2g}{unit}"
    return text


SPEC = Analysis(
    id="sensor-surface",
    partition_note="every cell is interpolated from all the stations, and the leave-one-out errors need every station",
    title="Sensor surface (IDW interpolation)",
    description="A surface between sensor stations by inverse distance weighting, clipped to the area of "
                "interest, with leave-one-out cross-validation error (RMSE, MAE) so nobody over-trusts it.",
    roles=(Role("sensors", ("point",), help="sensor stations: a numeric column, or readings in a readings_file"),
           Role("districts", ("polygon",), required=False,
                help="area of interest; without it, the stations' convex hull plus the margin")),
    params=(
        Param("value_column", "str", "", "A numeric column of the stations layer to interpolate (e.g. no2_mean from "
              "air-quality); empty: the mean of the variable's readings"),
        Param("variable", "str", "NO2", "The variable of the readings to average (NO2, PM2.5, PM10, LAeq …)"),
        Param("readings_file", "str", "", "Readings file; empty: the layer's readings_file column"),
        Param("station_column", "str", "", "Stations layer column with the readings' station ids; empty: guessed"),
        Param("year", "int", 0, "Calendar year of the readings to average; 0: all", minimum=0, maximum=2200),
        Param("timezone", "str", "", "Time zone of the calendar year and of readings without one; empty: UTC"),
        Param("power", "float", 2.0, "IDW power: higher gives nearer stations more weight", minimum=0.5, maximum=6.0),
        Param("max_distance_m", "float", 0.0, "Only stations within this distance count; 0: all", unit="m",
              minimum=0.0, maximum=100_000.0),
        Param("cell_m", "float", 25.0, "Cell size of the surface", unit="m", minimum=1.0, maximum=10_000.0),
        Param("margin_m", "float", 300.0, "Without a districts layer: the area is the stations' convex hull plus "
              "this margin", unit="m", minimum=0.0, maximum=50_000.0),
    ),
    run=_run,
    key_figures=("value", "surface_min", "surface_max", "surface_mean", "stations_used", "loo_rmse", "loo_mae",
                 "loo_note"),
    headline=headline,
    sources=("Inverse distance weighting (Shepard 1968); leave-one-out cross-validation as in e.g. gstat / QGIS "
             "Processing 'IDW interpolation'.",),
    result_styles={"surface": replace(raster_style("value", ramp="YlOrRd", classes=7), fill_opacity=0.55),
                   "stations": STATION_STYLE},
)
