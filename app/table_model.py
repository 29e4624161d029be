"""The attribute table's model: one layer's columns as arrays, shown through a row order.

Nothing is copied per cell or per repaint. Each column keeps the array pandas already holds
(numpy for numbers and booleans, pandas' Arrow strings for text) plus a null mask; ``data()``
formats only the cells the view asks for (the visible ones). ``order`` maps a view row to a
layer row (a position into ``layer.gdf``, like :class:`app.selection.Selection`): a filter, a
sort and "show selected only" each only change that one int64 array, which
:func:`view_order` computes with numpy (it is pure, so a worker can run it).

"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QItemSelection, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from app.plain_text import as_rich_text
from layers.errors import CityDeskError
from layers.expressions import column_kind
from layers.layer import Layer

NULL_TEXT = "NULL"
NULL_BRUSH = QBrush(QColor("#9a9a9a"))
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
MAX_CELL_CHARS = 300  # longer text is cut in the cell (the tooltip has all of it)
_DISPLAY, _FOREGROUND, _ALIGN, _TOOLTIP, _FONT = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole,
                                                  Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ToolTipRole,
                                                  Qt.ItemDataRole.FontRole)
_EDIT = Qt.ItemDataRole.EditRole
_ROLES = {_DISPLAY, _FOREGROUND, _ALIGN, _TOOLTIP, _FONT, _EDIT}


def _italic() -> QFont:
    global _ITALIC
    if _ITALIC is None:
        _ITALIC = QFont()
        _ITALIC.setItalic(True)
    return _ITALIC


_ITALIC: QFont | None = None


@dataclass
class TableColumn:
    """One attribute column: ``values[row]`` is the cell (no copy of pandas' array), ``nulls``
    marks empty cells. ``kind`` is the filter's kind (number, text, bool, time) or 'int'."""

    name: str
    label: Any  # the column label in the GeoDataFrame
    kind: str
    values: Any
    nulls: np.ndarray
    series: pd.Series = field(repr=False)
    _key: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, label: Any, series: pd.Series) -> TableColumn:
        kind = column_kind(series)
        nulls = series.isna().to_numpy()
        dtype = series.dtype
        if kind == "number" and pd.api.types.is_integer_dtype(dtype):
            kind = "int"
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            values = series.to_numpy()  # numpy: a view, no copy
        else:
            values = series.array  # Arrow strings, masked numbers, datetimes, objects: indexable as is
        return cls(str(label), label, kind, values, nulls, series)

    def text(self, row: int) -> str:
        """The cell of layer row ``row`` as shown: ``NULL``, a number, true/false or the text."""
        if self.nulls[row]:
            return NULL_TEXT
        value = self.values[row]
        if self.kind == "number":
            value = float(value)
            if value.is_integer() and abs(value) < 1e15:
                return str(int(value))
            if 1 <= abs(value) < 1e15:  # three decimals are enough to read; sort and filter use full values
                return f"{value:.3f}".rstrip("0").rstrip(".")
            return f"{value:.4g}"
        if self.kind == "int":
            return str(int(value))
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "time":
            stamp = pd.Timestamp(value)
            return stamp.date().isoformat() if stamp == stamp.normalize() and stamp.tzinfo is None \
                else stamp.isoformat(sep=" ")
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_CELL_CHARS:
            text = text[:MAX_CELL_CHARS] + "…"
        return text.replace("\r\n", " ⏎ ").replace("\n", " ⏎ ")

    def sort_key(self) -> np.ndarray:
        """A float per row whose order is the column's order (NaN for nulls). Text sorts without
        regard to case. Made once (text can take ~0.5 s for a million distinct values)."""
        if self._key is None:
            if self.kind in ("number", "int", "bool"):
                key = self.series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            elif self.kind == "time":
                key = np.asarray(pd.to_datetime(self.series).array.asi8, dtype=np.float64)
            else:
                text = self.series if isinstance(self.series.dtype, pd.StringDtype) else self.series.astype("str")
                codes, _ = pd.factorize(text.str.lower(), sort=True)
                key = codes.astype(np.float64)
            key[self.nulls] = np.nan
            self._key = key
        return self._key


def table_columns(gdf: pd.DataFrame) -> list[TableColumn]:
    """The attribute columns of ``gdf`` (geometry columns are left out)."""
    out = []
    for i, label in enumerate(gdf.columns):
        series = gdf.iloc[:, i]
        if column_kind(series) == "geometry":
            continue
        out.append(TableColumn.of(label, series))
    return out


def view_order(n: int, mask: np.ndarray | None = None, selected: np.ndarray | None = None,
               key: np.ndarray | None = None, ascending: bool = True) -> np.ndarray:
    """The layer rows the table shows, in order: rows where ``mask`` holds (all when None), only
    the ``selected`` rows (sorted positions) when given, sorted by ``key`` (nulls last, ties in
    layer order) when given."""
    rows = np.arange(n, dtype=np.int64) if mask is None else np.flatnonzero(mask).astype(np.int64)
    if selected is not None:
        rows = rows[np.isin(rows, selected, assume_unique=True)]
    if key is not None:
        k = key[rows]
        rows = rows[np.argsort(k if ascending else -k, kind="stable")]
    return rows


def runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` (inclusive) of the runs of consecutive values in sorted ``rows``."""
    if len(rows) == 0:
        return rows, rows
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([rows[:1], rows[breaks + 1]])
    ends = np.concatenate([rows[breaks], rows[-1:]])
    return starts, ends


class AttributeTableModel(QAbstractTableModel):
    """Table of ``layer``'s attributes, rows in :attr:`order` (view row → layer row). Read-only,
    but while the layer is being edited (``editor()`` gives its :class:`app.edit_session.EditSession`)
    a double-clicked cell takes a typed value, as an undoable edit. ``editFailed(message)``: typed
    text that does not fit the column (nothing changed)."""

    editFailed = Signal(str)

    def __init__(self, layer: Layer, parent=None, editor=None):
        super().__init__(parent)
        self.layer = layer
        self.editor = editor  # a callable: the edit session in progress, or None
        self.gdf = layer.gdf
        self.columns: list[TableColumn] = table_columns(layer.gdf) if layer.gdf is not None else []
        self.order = np.arange(len(layer), dtype=np.int64)
        self._inverse: np.ndarray | None = None

    # ------------------------------------------------------------------------------ rows
    @property
    def total(self) -> int:
        """Rows of the layer (shown or not)."""
        return 0 if self.gdf is None else len(self.gdf)

    def reload(self) -> None:
        """Take the layer's (new) data: all rows, unsorted."""
        self.beginResetModel()
        self.gdf = self.layer.gdf
        self.columns = table_columns(self.gdf) if self.gdf is not None else []
        self.order = np.arange(self.total, dtype=np.int64)
        self._inverse = None
        self.endResetModel()

    def set_order(self, order: np.ndarray) -> None:
        """Show these layer rows, in this order."""
        self.beginResetModel()
        self.order = np.asarray(order, dtype=np.int64)
        self._inverse = None
        self.endResetModel()

    def layer_rows(self, view_rows: np.ndarray) -> np.ndarray:
        """Layer rows of view rows."""
        return self.order[np.asarray(view_rows, dtype=np.int64)]

    def view_rows(self, layer_rows: np.ndarray) -> np.ndarray:
        """Sorted view rows of the layer rows that are shown (the others are dropped)."""
        if self._inverse is None:
            inverse = np.full(self.total, -1, dtype=np.int64)
            inverse[self.order] = np.arange(len(self.order), dtype=np.int64)
            self._inverse = inverse
        rows = np.asarray(layer_rows, dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < self.total)]
        pos = self._inverse[rows]
        return np.sort(pos[pos >= 0])

    def row_selection(self, starts: np.ndarray, ends: np.ndarray) -> QItemSelection:
        """Whole view rows ``starts[i]..ends[i]`` (inclusive) as a selection, one range per run
        (made with ``createIndex``, and spanning all columns so that the Rows flag, whose expansion
        is quadratic in the number of ranges, is not needed)."""
        selection = QItemSelection()
        if not self.columns:
            return selection
        make, last = self.createIndex, len(self.columns) - 1
        for start, end in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), strict=True):
            selection.select(make(start, 0), make(end, last))
        return selection

    def column_index(self, name: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.name == name)

    def cell(self, view_row: int, column: int) -> str:
        """The text shown at view row / column."""
        return self.columns[column].text(int(self.order[view_row]))

    # ------------------------------------------------------------------------ Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        if role not in _ROLES:
            return None
        column = self.columns[index.column()]
        row = int(self.order[index.row()])
        if role == _DISPLAY:
            return column.text(row)
        if role == _EDIT:
            return self.edit_text(index.row(), index.column())
        if role == _ALIGN:
            return RIGHT if column.kind in ("number", "int") else LEFT
        null = bool(column.nulls[row])
        if role == _FOREGROUND:
            return NULL_BRUSH if null else None
        if role == _FONT:
            if not null:
                return None
            return _italic()
        if role == _TOOLTIP and column.kind == "text" and not null:
            value = column.values[row]
            text = value if isinstance(value, str) else str(value)
            return as_rich_text(text[:4000]) if len(text) > 40 or "\n" in text else None
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self.columns):
                return None
            column = self.columns[section]
            if role == _DISPLAY:
                return column.name
            if role == _TOOLTIP:
                kind = {"int": "whole number"}.get(column.kind, column.kind)
                return as_rich_text(f"{column.name} ({kind})")
            return None
        if role == _DISPLAY and 0 <= section < len(self.order):
            return str(int(self.order[section]) + 1)  # the feature's number in the layer, from 1
        if role == _ALIGN:
            return RIGHT
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return flags | Qt.ItemFlag.ItemIsEditable if self.session() is not None else flags

    # ------------------------------------------------------------------------------ editing
    def session(self):
        """The edit session of this table's layer, or None when it is not being edited."""
        session = self.editor() if self.editor is not None else None
        return session if session is not None and session.layer is self.layer else None

    def edit_text(self, view_row: int, column: int) -> str:
        """The value as typed to edit it: the number in full (no thousands separators), the text."""
        col = self.columns[column]
        row = int(self.order[view_row])
        if col.nulls[row]:
            return ""
        value = col.values[row]
        if isinstance(value, float | np.floating):
            return repr(float(value)).removesuffix(".0")
        return str(value)

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = _EDIT) -> bool:  # noqa: N802
        session = self.session()
        if session is None or role != _EDIT or not index.isValid():
            return False
        label = self.columns[index.column()].label
        try:
            session.set_value(int(self.order[index.row()]), label, "" if value is None else str(value))
        except CityDeskError as exc:
            self.editFailed.emit(str(exc))
            return False
        self.gdf = self.layer.gdf  # the table shows the new value at once (no reset, the view stays)
        self.columns[index.column()] = TableColumn.of(label, self.gdf[label])
        self.dataChanged.emit(index, index)
        return True
