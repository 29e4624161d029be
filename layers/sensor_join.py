"""Sensor readings for a stations layer: the file named in the layer (its ``readings_file``
column) or given, and the layer column that holds the readings' station ids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.sensors import STATION_NAMES, SensorReadings, read_sensor_readings


def load_for_layer(stations: pd.DataFrame, readings_file: str = "", *, timezone: str | None = None,
                   feedback: Feedback | None = None) -> SensorReadings:
    """The readings of ``readings_file``, else of the files in the layer's ``readings_file`` column
    (relative to the layer's folder, ``stations.attrs['source_dir']``, else the current folder);
    several files are read and joined (their reports' counts added)."""
    if readings_file.strip():
        names = [readings_file.strip()]
    elif "readings_file" in stations.columns and stations["readings_file"].notna().any():
        names = sorted(set(stations["readings_file"].dropna().astype(str)))
    else:
        raise CityDeskError("no readings file given, and the stations layer has no 'readings_file' column",
                            source="sensors", fix="Give the readings file (readings_file=PATH): a CSV, Excel or "
                            "Parquet file of station, time, variable and value")
    base = [Path(stations.attrs["source_dir"])] if stations.attrs.get("source_dir") else []
    fb = ensure(feedback)
    parts = []
    for i, name in enumerate(names):
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = next((b / path for b in base if (b / path).exists()), path)
        parts.append(read_sensor_readings(path, timezone=timezone or None,
                                          feedback=SubFeedback(fb, i / len(names), (i + 1) / len(names))))
    if len(parts) == 1:
        return parts[0]
    from layers.sensors import clean_readings

    table = pd.concat([p.table.astype({"station_id": str, "variable": str, "unit": str}) for p in parts],
                      ignore_index=True)
    joined = clean_readings(table, source=", ".join(names))
    joined.report.dropped = {k: sum(p.report.dropped.get(k, 0) for p in parts) + v
                             for k, v in joined.report.dropped.items()}
    return joined


def normalise(values: pd.Series) -> pd.Series:
    """Ids compared as text: trimmed, case folded; 12.0 -> '12'."""
    numeric = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_bool_dtype(values) else None
    text = values.astype("string")
    if numeric is not None:
        whole = numeric.notna() & (numeric % 1 == 0)
        text = text.where(~whole, numeric.astype("Float64").round().astype("Int64").astype("string"))
    return text.str.strip().str.casefold()


def station_column(stations: pd.DataFrame, readings: pd.DataFrame, column: str = "") -> str:
    """``column`` if given (checked), else the layer column whose values match the most station ids
    of the readings."""
    if column:
        if column not in stations.columns:
            raise CityDeskError(f"the stations layer has no column '{column}'", source="sensors",
                                fix=f"Columns: {', '.join(c for c in stations.columns if c != 'geometry')}")
        return column
    ids = set(normalise(pd.Series(readings["station_id"].astype(str).unique())).dropna())
    order = sorted((c for c in stations.columns if c != "geometry"),
                   key=lambda c: STATION_NAMES.index(c) if c in STATION_NAMES else len(STATION_NAMES))
    best, best_n = None, 0
    for name in order:
        n = int(normalise(stations[name]).isin(ids).sum())
        if n > best_n:
            best, best_n = name, n
    if best is None:
        example = ", ".join(sorted(ids)[:3])
        raise CityDeskError(f"no column of the stations layer holds the readings' station ids (e.g. {example})",
                            source="sensors", fix="Give the column with station_column=NAME, or check the file")
    return best


def station_keys(stations: pd.DataFrame, column: str) -> pd.Series:
    """The normalised station id of each feature of the layer."""
    return normalise(stations[column])
