"""One editing session of one point layer: its ``QUndoStack`` and the undo commands.

Every command replaces ``layer.gdf`` by a new frame made by :mod:`layers.edits` (rows by position;
a new frame object is also what tells the render cache to prepare the layer again), then asks the
controller (:class:`app.editing.Editing`) to show it: selection cleared, map and Layers panel
refreshed, the project marked modified. Undo gives back the same rows in the same order with the
same attributes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from weakref import WeakSet

import shapely
from pyproj import CRS, Transformer
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.render import CACHE
from layers import edits
from layers.layer import Layer

if TYPE_CHECKING:
    from app.editing import Editing

SCENARIO_OUTLINE = "#d01c8b"  # magenta: no class colour of CityDesk's palettes and ramps
_COPIES: WeakSet[Layer] = WeakSet()  # scenario copies made in this run


def is_scenario(layer: Layer) -> bool:
    """A scenario copy (made in this run, or named like one): edited directly, not copied again."""
    return layer in _COPIES or edits.is_scenario_name(layer.name)


def scenario_copy(layer: Layer, taken_names) -> Layer:
    """An editable copy of ``layer``: same data, CRS, columns, role and style (outlined in magenta,
    points at least 7 px), no source file. The original is not changed."""
    style = replace(layer.style, stroke=SCENARIO_OUTLINE, stroke_width=max(layer.style.stroke_width, 1.5),
                    size=max(layer.style.size, 7.0))  # big enough to grab and to see on a projector
    copy = Layer(edits.scenario_name(layer.name, taken_names), edits.editable(layer.gdf), None,
                 role=layer.role, style=style, visible=True)
    _COPIES.add(copy)
    return copy


# ---------------------------------------------------------------------------- undo commands

class _EditCommand(QUndoCommand):
    def __init__(self, session: EditSession, text: str):
        super().__init__(text)
        self.session = session

    @property
    def gdf(self):
        return self.session.layer.gdf


class AddPointCommand(_EditCommand):
    """A new point at ``x, y`` (layer CRS) with empty attributes, as the last row."""

    def __init__(self, session: EditSession, x: float, y: float):
        super().__init__(session, "add point")
        self.x, self.y, self.row = x, y, -1

    def redo(self) -> None:
        self.row = len(self.gdf)
        self.session.apply(edits.add_point(self.gdf, self.x, self.y))

    def undo(self) -> None:
        self.session.apply(edits.delete_rows(self.gdf, [self.row])[0])


class MovePointCommand(_EditCommand):
    """The geometry of the row at ``row`` becomes ``geom`` (layer CRS)."""

    def __init__(self, session: EditSession, row: int, geom):
        super().__init__(session, "move point")
        self.row, self.new, self.old = row, geom, session.layer.gdf.geometry.iloc[row]

    def redo(self) -> None:
        self.session.apply(edits.set_geometry(self.gdf, self.row, self.new))

    def undo(self) -> None:
        self.session.apply(edits.set_geometry(self.gdf, self.row, self.old))


class DeleteRowsCommand(_EditCommand):
    """The rows at ``rows`` removed; undo puts the same rows back where they were."""

    def __init__(self, session: EditSession, rows):
        super().__init__(session, "delete point" if len(rows) == 1 else f"delete {len(rows)} points")
        self.rows, self.removed = sorted(int(r) for r in rows), None

    def redo(self) -> None:
        remaining, self.removed = edits.delete_rows(self.gdf, self.rows)
        self.session.apply(remaining)

    def undo(self) -> None:
        self.session.apply(edits.insert_rows(self.gdf, self.rows, self.removed))


class SetValueCommand(_EditCommand):
    """The value of ``column`` in the row at ``row`` becomes ``value`` (already in the column's type)."""

    def __init__(self, session: EditSession, row: int, column: str, value):
        super().__init__(session, f"edit {column}")
        self.row, self.column, self.new = row, column, value
        self.old = session.layer.gdf[column].iloc[row]

    def redo(self) -> None:
        self.session.apply(edits.set_value(self.gdf, self.row, self.column, self.new), rows_moved=False)

    def undo(self) -> None:
        self.session.apply(edits.set_value(self.gdf, self.row, self.column, self.old), rows_moved=False)


# ------------------------------------------------------------------------------- the session

class EditSession(QObject):
    """Edits of one layer: its undo stack, the project-to-layer CRS transform, hit tests.
    Positions ``x, y`` are in the project CRS (as the map tools get them)."""

    changed = Signal()

    def __init__(self, controller: Editing, layer: Layer, original: Layer | None = None):
        super().__init__(controller)
        self.controller, self.window = controller, controller.window
        self.layer = layer
        self.original = original  # the layer copied for this session (None: a scenario layer edited again)
        self.stack = QUndoStack(self)
        self.saved_gdf = layer.gdf  # the frame as it is in its file (or at the start): what Discard restores
        crs = self.window.project.crs
        layer_crs = layer.gdf.crs
        self._to_layer = (Transformer.from_crs(crs, layer_crs, always_xy=True)
                          if layer_crs is not None and not CRS.from_user_input(layer_crs).equals(crs) else None)

    def dirty(self) -> bool:
        """True if there are edits not saved to a file."""
        return not self.stack.isClean()

    def to_layer_crs(self, x: float, y: float) -> tuple[float, float]:
        return self._to_layer.transform(x, y) if self._to_layer is not None else (float(x), float(y))

    def add_point(self, x: float, y: float) -> int:
        """Add a point at map position ``x, y``; returns its row."""
        self.stack.push(AddPointCommand(self, *self.to_layer_crs(x, y)))
        return len(self.layer.gdf) - 1

    def move_point(self, row: int, x: float, y: float, grabbed: tuple[float, float] | None = None) -> None:
        """Move the point of ``row`` to map position ``x, y`` (a multipoint moves by the step from
        ``grabbed`` to ``x, y``)."""
        geom = self.layer.gdf.geometry.iloc[row]
        start = self.to_layer_crs(*grabbed) if grabbed is not None else None
        self.stack.push(MovePointCommand(self, row, edits.moved(geom, *self.to_layer_crs(x, y), from_xy=start)))

    def delete_rows(self, rows) -> int:
        """Delete the rows at ``rows`` (positions); returns how many."""
        rows = sorted({int(r) for r in rows})
        if rows:
            self.stack.push(DeleteRowsCommand(self, rows))
        return len(rows)

    def set_value(self, row: int, column: str, text: str) -> None:
        """Set an attribute of the feature of ``row`` from typed ``text`` (see
        :func:`layers.edits.parse_value`); text that does not fit the column raises a
        :class:`CityDeskError` and changes nothing."""
        value = edits.parse_value(self.layer.gdf, column, text)
        self.stack.push(SetValueCommand(self, int(row), column, value))

    def find_point(self, x: float, y: float, tolerance: float) -> int | None:
        """The row of the feature nearest to map position ``x, y`` within ``tolerance`` map units."""
        prepared = CACHE.geometry(self.layer, self.window.project.crs)
        if prepared is None:
            return None
        hits = prepared.tree.query_nearest(shapely.Point(x, y), max_distance=tolerance, all_matches=False)
        return int(prepared.rows[hits[0]]) if len(hits) else None

    def map_xy(self, row: int) -> tuple[float, float] | None:
        """Where the feature of ``row`` is on the map (its first point, project CRS); None if it is
        not drawn (no geometry)."""
        prepared, k = self._prepared(row)
        if k is None:
            return None
        x, y = shapely.get_coordinates(prepared.geoms[k])[0]
        return float(x), float(y)

    def colour(self, row: int) -> str:
        """The colour the map draws the feature of ``row`` with."""
        prepared, k = self._prepared(row)
        return prepared.palette[prepared.codes[k]] if k is not None else self.layer.style.fill

    def _prepared(self, row: int):
        """The layer as the map draws it, and where ``row`` is in it (None if it is not drawn)."""
        prepared = CACHE.prepare(self.layer, self.window.project.crs)
        if prepared is None:
            return None, None
        k = int(prepared.rows.searchsorted(row))
        return prepared, (k if k < len(prepared.rows) and prepared.rows[k] == row else None)

    def apply(self, gdf, *, rows_moved: bool = True) -> None:
        """Make ``gdf`` the layer's data and show it (called by the undo commands)."""
        self.layer.gdf = gdf
        if rows_moved:
            self.window.selection.clear(self.layer)  # the old positions mean nothing
        self.controller.layer_changed(self.layer)
        self.window.mark_modified()
        self.changed.emit()
