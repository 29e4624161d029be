"""Results-panel entries as plain JSON data, so the key figures of the runs are saved with the
project (``Project.results``) and come back when it is opened. No Qt here."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd

from app.analysis_panel import ResultEntry


def entry_to_dict(entry: ResultEntry) -> dict:
    """``entry`` as JSON-ready data: non-finite numbers become None, charts become
    ``{"columns": [...], "rows": [[...]], "attrs": {...}}``."""
    return {"title": entry.title, "analysis": entry.analysis, "analysis_title": entry.analysis_title,
            "summary": _plain(dict(entry.summary)), "params": _plain(dict(entry.params)),
            "inputs": {str(k): str(v) for k, v in entry.inputs.items()}, "layers": [str(n) for n in entry.layers],
            "units": {str(k): str(v) for k, v in entry.units.items()},
            "finished": entry.finished.isoformat(timespec="seconds"),
            "charts": {str(name): _table(table) for name, table in entry.charts.items()
                       if isinstance(table, pd.DataFrame)}}


def entry_from_dict(data: dict) -> ResultEntry:
    """The entry saved by :func:`entry_to_dict`; ValueError when ``data`` is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("analysis"), str) \
            or not isinstance(data.get("summary"), dict):
        raise ValueError("a result entry needs an 'analysis' name and a 'summary'")
    try:
        finished = datetime.fromisoformat(str(data.get("finished")))
    except ValueError:
        finished = datetime.now()
    charts = {}
    for name, table in dict(data.get("charts") or {}).items():
        try:
            frame = pd.DataFrame(table["rows"], columns=table["columns"])
            frame.attrs.update({str(k): str(v) for k, v in dict(table.get("attrs") or {}).items()})
            charts[str(name)] = frame
        except (KeyError, TypeError, ValueError):
            continue  # a damaged chart is left out; the figures still show
    return ResultEntry(str(data.get("title") or data["analysis"]), data["analysis"],
                       str(data.get("analysis_title") or data["analysis"]), _plain(data["summary"]),
                       _plain(dict(data.get("params") or {})),
                       {str(k): str(v) for k, v in dict(data.get("inputs") or {}).items()},
                       [str(n) for n in list(data.get("layers") or [])],
                       {str(k): str(v) for k, v in dict(data.get("units") or {}).items()}, finished, charts)


def _plain(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if hasattr(value, "item") and not isinstance(value, str | bytes):
            value = value.item()  # numpy scalars
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        elif not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)
        out[str(key)] = value
    return out


def _table(table: pd.DataFrame) -> dict:
    rows = [[_plain({"v": v})["v"] for v in row] for row in table.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in table.columns], "rows": rows,
            "attrs": {str(k): str(v) for k, v in table.attrs.items()}}
