"""Point edits on a GeoDataFrame, without Qt: the pure half of scenario editing.

Every function returns a new GeoDataFrame and never changes the one it is given, so a renderer
still holding the old frame is never surprised, and a new frame object is also how the map's
render cache notices the change. Rows are addressed by position (``iloc``), as the selection does.

The inverse of each edit is an edit too (``delete_rows`` undoes ``add_point``, ``insert_rows``
undoes ``delete_rows``, ``set_geometry`` with the old geometry undoes a move), and an edit followed
by its inverse gives back the same rows in the same order with the same attributes and dtypes, as
long as the frame went through :func:`editable` first (integer and boolean columns become their
nullable pandas types there, so a new row of empty attributes never turns them into floats).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Point
from shapely.geometry.base import BaseGeometry

from layers.errors import CityDeskError

SCENARIO_SUFFIX = "scenario"
_SCENARIO_NAME = re.compile(r"\(scenario(?: \d+)?\)\s*$")


def is_scenario_name(name: str) -> bool:
    """True for a name :func:`scenario_name` makes: ``'Waste bins (scenario)'``, ``'… (scenario 2)'``."""
    return bool(_SCENARIO_NAME.search(name or ""))


def scenario_name(name: str, taken: Iterable[str] = ()) -> str:
    """The name of an editable copy of the layer ``name``, unlike every name in ``taken``."""
    taken = set(taken)
    candidate = f"{name} ({SCENARIO_SUFFIX})"
    number = 2
    while candidate in taken:
        candidate = f"{name} ({SCENARIO_SUFFIX} {number})"
        number += 1
    return candidate


def editable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` ready for editing: rows numbered 0..n-1 (the index), integer and boolean
    columns as nullable types (``Int64``, ``boolean``) so empty attributes of new points fit in.
    Same CRS, same columns in the same order, same values."""
    out = gdf.copy()
    out.index = pd.RangeIndex(len(out))
    return _nullable(out)


def _nullable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geometry = gdf.geometry.name
    changes = {}
    for col, dtype in gdf.dtypes.items():
        if col == geometry or isinstance(dtype, pd.api.extensions.ExtensionDtype):
            continue
        if np.issubdtype(dtype, np.integer):
            changes[col] = pd.Int64Dtype() if np.issubdtype(dtype, np.signedinteger) else pd.UInt64Dtype()
        elif np.issubdtype(dtype, np.bool_):
            changes[col] = pd.BooleanDtype()
    return gdf.astype(changes) if changes else gdf


def point_kind(gdf: gpd.GeoDataFrame) -> str:
    """``'Point'`` or ``'MultiPoint'``: what a new feature of this layer should be (the layer's
    geometries are multipoints only if every one of them is)."""
    types = gdf.geometry.geom_type.dropna()
    return "MultiPoint" if len(types) and (types == "MultiPoint").all() else "Point"


def add_point(gdf: gpd.GeoDataFrame, x: float, y: float) -> gpd.GeoDataFrame:
    """``gdf`` with one more row at the end: a point at ``x, y`` (in the frame's CRS) with empty
    attributes. Its index label is one more than the largest integer label (0 for an empty frame)."""
    gdf = _nullable(gdf)
    geom: BaseGeometry = Point(float(x), float(y))
    if point_kind(gdf) == "MultiPoint":
        geom = MultiPoint([geom])
    label = _next_label(gdf.index)
    row = gdf.iloc[:0].reindex([label])  # one row of nulls, every column keeping its dtype
    row[gdf.geometry.name] = gpd.GeoSeries([geom], index=[label], crs=gdf.crs)
    out = pd.concat([gdf, row])
    return _same_frame(out, gdf)


def _next_label(index: pd.Index):
    if len(index) == 0:
        return 0
    if pd.api.types.is_integer_dtype(index.dtype):
        return int(index.max()) + 1
    return len(index)


def delete_rows(gdf: gpd.GeoDataFrame, positions: Sequence[int]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Remove the rows at ``positions``; returns ``(remaining, removed)``. ``removed`` keeps the
    rows in their old order, with their index labels, so :func:`insert_rows` can put them back."""
    positions = _positions(positions, len(gdf))
    keep = np.ones(len(gdf), dtype=bool)
    keep[positions] = False
    return _tidy_index(gdf.iloc[np.flatnonzero(keep)]), gdf.iloc[positions]


def insert_rows(gdf: gpd.GeoDataFrame, positions: Sequence[int], rows: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Put ``rows`` back so that they end at ``positions`` (ascending positions in the result):
    the inverse of :func:`delete_rows`."""
    n = len(gdf) + len(rows)
    positions = _positions(positions, n)
    if len(positions) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(positions)} positions")
    from_rows = np.zeros(n, dtype=bool)
    from_rows[positions] = True
    take = np.empty(n, dtype=np.intp)
    take[~from_rows] = np.arange(len(gdf))
    take[from_rows] = len(gdf) + np.arange(len(rows))
    out = pd.concat([gdf, rows]).iloc[take]
    return _same_frame(out, gdf)


def set_geometry(gdf: gpd.GeoDataFrame, position: int, geom: BaseGeometry) -> gpd.GeoDataFrame:
    """``gdf`` with the geometry of the row at ``position`` replaced by ``geom`` (same CRS)."""
    position = int(_positions([position], len(gdf))[0])
    out = gdf.copy()
    column = out.columns.get_loc(out.geometry.name)
    out.iloc[position, column] = geom
    return out


def parse_value(gdf: gpd.GeoDataFrame, column: str, text: str):
    """The value typed for ``column``, in the column's type: a number for a numeric column (a
    decimal comma too), yes/no for a boolean one, the text as it is for others; empty text is no
    value. A value that does not fit raises a :class:`CityDeskError` that says what fits."""
    if column not in gdf.columns or column == gdf.geometry.name:
        raise CityDeskError(f"the layer has no attribute column '{column}'", fix="Choose a column of the table")
    text = str(text).strip()
    dtype = gdf[column].dtype
    if text == "":
        return pd.NA
    if pd.api.types.is_bool_dtype(dtype):
        value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower())
        if value is None:
            raise CityDeskError(f"'{text}' is not yes or no (column '{column}')",
                                fix="Type yes or no, or leave it empty")
        return value
    if pd.api.types.is_numeric_dtype(dtype):
        try:
            number = float(text.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
        except ValueError:
            raise CityDeskError(f"'{text}' is not a number (column '{column}')",
                                fix="Type a number such as 660 or 2.5, or leave it empty") from None
        if not np.isfinite(number):
            raise CityDeskError(f"'{text}' is not a finite number (column '{column}')", fix="Type a number")
        if pd.api.types.is_integer_dtype(dtype):
            if number != int(number):
                raise CityDeskError(f"'{text}' is not a whole number (column '{column}')", fix="Type a whole number")
            return int(number)
        return number
    if pd.api.types.is_datetime64_any_dtype(dtype):
        try:
            when = pd.Timestamp(text)
        except (ValueError, TypeError):
            when = None
        if when is None or when is pd.NaT:
            raise CityDeskError(f"'{text}' is not a date and time (column '{column}')",
                                fix="Type it as 2026-05-31 08:15, or leave it empty")
        tz = getattr(dtype, "tz", None)
        if tz is not None:
            when = when.tz_localize(tz) if when.tzinfo is None else when.tz_convert(tz)
        elif when.tzinfo is not None:
            when = when.tz_convert(None)
        return when
    return text


def set_value(gdf: gpd.GeoDataFrame, position: int, column: str, value) -> gpd.GeoDataFrame:
    """``gdf`` with the value of ``column`` in the row at ``position`` replaced by ``value``
    (from :func:`parse_value`; ``pd.NA`` empties it). A text column keeps its dtype; an integer
    column is nullable (see :func:`editable`)."""
    position = int(_positions([position], len(gdf))[0])
    out = _nullable(gdf.copy())
    if value is pd.NA and not isinstance(out[column].dtype, pd.api.extensions.ExtensionDtype):
        value = np.nan if pd.api.types.is_float_dtype(out[column].dtype) else None
    try:
        out.iloc[position, out.columns.get_loc(column)] = value
    except (TypeError, ValueError) as exc:  # e.g. a category the column does not have
        raise CityDeskError(f"'{value}' does not fit the column '{column}' ({out[column].dtype})",
                            fix="Type a value like the others in that column") from exc
    return out


def moved(geom: BaseGeometry, x: float, y: float, from_xy: tuple[float, float] | None = None) -> BaseGeometry:
    """``geom`` moved to ``x, y``: a point goes there; a multipoint is shifted by the step from
    ``from_xy`` (where it was grabbed) to ``x, y``, keeping its shape."""
    if isinstance(geom, Point) or from_xy is None:
        return Point(float(x), float(y))
    return shapely.transform(geom, lambda xy: xy + np.array([x - from_xy[0], y - from_xy[1]]))


def _positions(positions: Sequence[int], n: int) -> np.ndarray:
    arr = np.unique(np.asarray(positions, dtype=np.int64).ravel())
    if len(arr) and (arr[0] < 0 or arr[-1] >= n):
        raise IndexError(f"row position out of range 0..{n - 1}: {arr[0] if arr[0] < 0 else arr[-1]}")
    return arr


def _same_frame(out: pd.DataFrame, like: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``out`` as a GeoDataFrame with ``like``'s geometry column, CRS and column dtypes."""
    if not isinstance(out, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=like.geometry.name)
    if out.crs is None and like.crs is not None:
        out = out.set_crs(like.crs)
    dtypes = {c: t for c, t in like.dtypes.items() if c != like.geometry.name and out[c].dtype != t}
    if dtypes:
        out = out.astype(dtypes)
    return _tidy_index(out)


def _tidy_index(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Labels 0..n-1 in order as a RangeIndex, as :func:`editable` makes them (so an edit and its
    undo give back an equal frame, index type included)."""
    index = gdf.index
    if not isinstance(index, pd.RangeIndex) and pd.api.types.is_integer_dtype(index.dtype) \
            and np.array_equal(index.to_numpy(), np.arange(len(index))):
        gdf = gdf.copy(deep=False)
        gdf.index = pd.RangeIndex(len(index))
    return gdf
