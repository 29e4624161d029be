"""The rows of a layer as a PostgreSQL ``COPY … FROM STDIN`` text payload, built a chunk at a time
with numpy and pandas rather than row by row.

Text format: one line per row, fields separated by tabs, ``\\N`` for NULL; in text fields a
backslash, tab, newline and carriage return are escaped. Geometry goes as hex EWKB (with the SRID):
shapely writes plain WKB (fast), and the SRID is put into each header with numpy. Each column is
turned into an *encoder*, ``encode(start, stop) -> array of str``, so that a chunk costs one
vectorised call per column and one ``join`` (in C) for the lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely

NULL = "\\N"
Encoder = Callable[[int, int], np.ndarray]
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SRID_FLAG = 0x20000000


def payload(fields: list[np.ndarray]) -> str:
    """The COPY text of a chunk: ``fields`` are the columns' encoded values (equal lengths)."""
    if not fields or not len(fields[0]):
        return ""
    return "\n".join(map("\t".join, zip(*fields, strict=True))) + "\n"


def row_ids(start: int, stop: int) -> np.ndarray:
    return np.arange(start + 1, stop + 1, dtype=np.int64).astype(str).astype(object)


def ewkb_hex(geoms: np.ndarray, srid: int) -> np.ndarray:
    """Hex EWKB with ``srid`` of each geometry (``\\N`` for a missing one), as an object array."""
    out = np.full(len(geoms), NULL, dtype=object)
    present = np.flatnonzero(pd.notna(geoms))
    if not len(present):
        return out
    parts = shapely.to_wkb(geoms[present], hex=False, byte_order=1, include_srid=False).tolist()
    n = len(parts)
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=n)
    src = np.frombuffer(b"".join(parts), dtype=np.uint8).copy()
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    src[starts + 4] |= _SRID_FLAG >> 24  # the high byte of the little-endian type word
    srid_bytes = np.frombuffer(np.array([srid], dtype="<u4").tobytes(), dtype=np.uint8)
    buf = np.insert(src, np.repeat(starts + 5, 4), np.tile(srid_bytes, n))  # the SRID after byte order + type
    new_starts = starts + 4 * np.arange(n, dtype=np.int64)
    text = buf.tobytes().hex()
    bounds = 2 * np.append(new_starts, len(buf))
    out[present] = [text[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]
    return out


def _masked(strings: np.ndarray, missing: np.ndarray) -> np.ndarray:
    out = strings.astype(object)
    out[missing] = NULL
    return out


def _vector(values: np.ndarray, missing: np.ndarray, fmt: Callable[[np.ndarray], np.ndarray]) -> Encoder:
    def encode(start: int, stop: int) -> np.ndarray:
        return _masked(fmt(values[start:stop]), missing[start:stop])
    return encode


def _floats(values: np.ndarray) -> np.ndarray:
    out = values.astype(str)
    inf = np.isinf(values)
    if inf.any():
        out = out.astype(object)
        out[inf] = np.where(values[inf] > 0, "Infinity", "-Infinity")
    return out


def _times(unit_suffix: str) -> Callable[[np.ndarray], np.ndarray]:
    def fmt(values: np.ndarray) -> np.ndarray:
        text = np.datetime_as_string(values.astype("datetime64[us]"), unit="us")
        return np.char.add(text, unit_suffix) if unit_suffix else text
    return fmt


def _python(values: list, missing: np.ndarray, fmt: Callable[[object], str]) -> Encoder:
    def encode(start: int, stop: int) -> np.ndarray:
        part = [NULL if m else fmt(v) for v, m in zip(values[start:stop], missing[start:stop].tolist(), strict=True)]
        return np.array(part, dtype=object)
    return encode


def _scalar(v) -> str:
    """A Python scalar of a typed object column in COPY text."""
    if isinstance(v, bool | np.bool_):
        return "t" if v else "f"
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float | np.floating):
        return _floats(np.array([v], dtype=float))[0]
    return str(v.item() if isinstance(v, np.generic) else v)


def _text(v) -> str:
    return str(v).translate(_ESCAPES)


def column_encoder(series: pd.Series) -> tuple[str, Encoder]:
    """(PostgreSQL type, encoder) of an attribute column."""
    dtype = series.dtype
    missing = series.isna().to_numpy(dtype=bool)
    name = str(dtype).lower()
    if pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=bool, na_value=False)
        return "boolean", _vector(values, missing, lambda v: np.where(v, "t", "f"))
    if pd.api.types.is_integer_dtype(dtype):
        size = getattr(dtype, "itemsize", 8)
        unsigned = "u" in name
        pg = "smallint" if size <= 2 and not unsigned else "integer" if size <= 4 and name != "uint32" else "bigint"
        if name == "uint64":
            pg = "numeric"
        values = series.to_numpy(dtype="uint64" if name == "uint64" else "int64", na_value=0)
        return pg, _vector(values, missing, lambda v: v.astype(str))
    if pd.api.types.is_float_dtype(dtype):
        pg = "real" if getattr(dtype, "itemsize", 8) == 4 else "double precision"
        values = series.to_numpy(dtype="float32" if pg == "real" else "float64", na_value=np.nan)
        return pg, _vector(values, missing, _floats)
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return "timestamptz", _vector(values, missing, _times("+00"))
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp", _vector(series.to_numpy(), missing, _times(""))
    if pd.api.types.is_object_dtype(dtype):
        values = series.tolist()
        present = [v for v, m in zip(values, missing.tolist(), strict=True) if not m]
        for pg, types in (("date", (dt.date,)), ("boolean", (bool, np.bool_)), ("bigint", (int, np.integer)),
                          ("double precision", (int, float, np.integer, np.floating))):
            if present and all(isinstance(v, types) and (pg != "date" or not isinstance(v, dt.datetime))
                               and (pg == "boolean" or not isinstance(v, bool | np.bool_)) for v in present):
                return pg, _python(values, missing, _scalar)
        if present and all(isinstance(v, dt.datetime) for v in present):
            aware = all(v.tzinfo is not None for v in present)
            return ("timestamptz" if aware else "timestamp"), _python(values, missing, _scalar)
        return "text", _python(values, missing, _text)
    return "text", _python(series.astype(object).tolist(), missing, _text)
