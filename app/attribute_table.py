"""Attribute tables: a dock per layer (several open at once, tabbed at the bottom of the window)
with a filter bar, sorting by a click on a column header, a selection kept in step with the map,
"Show selected only", "Zoom to selection" and "Export selection…".

The table reads the layer's columns through :class:`app.table_model.AttributeTableModel`; a filter
(:mod:`layers.expressions`), a sort and "selected only" just change the model's row order. For a
big layer (``ASYNC_ROWS`` rows or more) that order is computed in a worker with a busy bar, so
the window never waits on a million-row text sort. Selections go both ways through
``window.selection``: a change in the table selects the features on the map, a change from the map
selects the table's rows, as ranges of consecutive rows (never row by row).

The docks, the menu action and the toolbar button are in :mod:`app.table_docks`.
"""

from __future__ import annotations

import contextlib
import html

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.plain_text import as_rich_text
from app.table_model import AttributeTableModel, runs, view_order
from app.workers import Task
from layers.errors import CityDeskError
from layers.expressions import Expression, ExpressionError
from layers.layer import Layer
from layers.writers import write_layers

ASYNC_ROWS = 200_000  # tables with this many rows filter and sort in a worker
MAX_COLUMN_PX = 320
EXPORT_FILTERS = {"GeoPackage (*.gpkg)": ".gpkg", "GeoJSON (*.geojson)": ".geojson", "CSV (*.csv)": ".csv"}
_EXAMPLES = [  # (filter, note) shown in the filter bar's tooltip
    ('population > 50 and use == "residential"', ''),
    ('name contains "katu"', 'ignores case'),
    ('levels >= 3 or height > 10', ''),
    ('not covered', 'a true/false column'),
    ('kind in ("waste_basket", "recycling")', ''),
    ('residents is null', 'or: is not null'),
    ('dist_m between 100 and 300', 'both ends included'),
    ('residents / floor_area_m2 > 0.02', ''),
    ('name like "Mann%"', '% any text, _ one character'),
    ('`building:levels` >= 3', 'odd column names in backticks'),
]
FILTER_HELP = (
    "<p><b>Filter</b>: type a condition and press Enter; an empty filter shows every feature.</p>"
    "<table cellspacing='0' cellpadding='1'>"
    + "".join(f"<tr><td><code>{html.escape(text)}</code></td><td>&nbsp;&nbsp;<i>{html.escape(note)}</i></td></tr>"
              for text, note in _EXAMPLES)
    + "</table><p>Text goes in quotes (single or double); a column whose name has spaces or other characters "
    "goes in backticks. Operators: <code>= == != &lt;&gt; &lt; &lt;= &gt; &gt;= + - * / %</code>, "
    "<code>and or not ( )</code>. A feature whose value is empty (NULL) never matches a comparison.</p>"
)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}".replace(",", " ")


class AttributeTable(QWidget):
    """The attribute table of ``layer`` in ``window``. Signals: ``rowsChanged()`` once the rows
    shown changed (filter, sort, selected only, new data), ``exported(path)`` after an export was
    written, ``exportFailed(message)``."""

    rowsChanged = Signal()
    exported = Signal(str)
    exportFailed = Signal(str)

    def __init__(self, window, layer: Layer, parent: QWidget | None = None):
        super().__init__(parent)
        self.window_, self.layer = window, layer
        self.model = AttributeTableModel(layer, self, editor=lambda: getattr(getattr(window, "editing", None),
                                                                             "session", None))
        self.expression: Expression | None = None  # the filter applied
        self.sorting: tuple[str, bool] | None = None  # (column name, ascending)
        self.selected_only = False
        self._mask: np.ndarray | None = None  # the applied filter's result, once known
        self._shown: tuple[Expression | None, np.ndarray | None] = (None, None)  # filter and mask on screen
        self._generation = 0
        self._task: Task | None = None
        self._export_task: Task | None = None
        self._syncing = False
        self._build()
        self._connect()
        self._fit_columns()
        self._select_from_map()
        self._show_count()

    # ------------------------------------------------------------------------------ build
    def _build(self) -> None:
        self.filter_edit = QLineEdit(self, placeholderText="Filter, e.g. residents > 50 and use == \"residential\" "
                                                           "— Enter applies", clearButtonEnabled=True)
        self.filter_edit.setToolTip(FILTER_HELP)
        self.apply_button = QPushButton("Apply", self)
        self.selected_only_button = QToolButton(self, text="Show selected only", checkable=True)
        self.zoom_button = QToolButton(self, text="Zoom to selection")
        self.export_button = QToolButton(self, text="Export selection…")
        self.clear_button = QToolButton(self, text="Clear selection")
        self.zoom_button.setToolTip("Zoom the map to the selected features")
        self.export_button.setToolTip("Write the selected features to a GeoPackage, GeoJSON or CSV file")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.filter_edit, 1)
        for widget in (self.apply_button, self.selected_only_button, self.zoom_button, self.clear_button,
                       self.export_button):
            bar.addWidget(widget)
        self.error_box = QFrame(self, visible=False, objectName="filter_error")
        self.error_box.setStyleSheet("#filter_error { background: #fdecea; border: 1px solid #f5c2c0; "
                                     "border-radius: 3px; } QLabel { color: #a50e0e; }")
        self.error_label = QLabel(self.error_box, wordWrap=True)  # the problem and the fix
        self.error_where = QLabel(self.error_box)  # the filter with a caret under the problem
        self.error_where.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.error_where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for label in (self.error_label, self.error_where):
            label.setTextFormat(Qt.TextFormat.PlainText)  # the message quotes what was typed
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout(self.error_box)
        box.setContentsMargins(6, 3, 6, 3)
        box.setSpacing(0)
        box.addWidget(self.error_label)
        box.addWidget(self.error_where)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        self.view.setCornerButtonEnabled(False)
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # uniform rows: a million cost nothing
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setResizeContentsPrecision(500)  # rows looked at to fit a column
        self.count_label = QLabel(self)
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.busy = QProgressBar(self, minimum=0, maximum=0, maximumWidth=120, maximumHeight=14, visible=False,
                                 textVisible=False)
        status = QHBoxLayout()
        status.setContentsMargins(2, 0, 2, 0)
        status.addWidget(self.count_label, 1)
        status.addWidget(self.busy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 2)
        layout.setSpacing(3)
        layout.addLayout(bar)
        layout.addWidget(self.error_box)
        layout.addWidget(self.view, 1)
        layout.addLayout(status)

    def _connect(self) -> None:
        self.model.editFailed.connect(self._show_message)  # a typed value that does not fit its column
        self.model.dataChanged.connect(lambda *_: self._hide_error())
        self.filter_edit.returnPressed.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(self._filter_text_changed)
        self.apply_button.clicked.connect(lambda: self.apply_filter())
        self.selected_only_button.toggled.connect(self.set_selected_only)
        self.zoom_button.clicked.connect(self.zoom_to_selection)
        self.export_button.clicked.connect(lambda: self.export_selection())
        self.clear_button.clicked.connect(lambda: self.window_.selection.clear(self.layer))
        self.view.horizontalHeader().sortIndicatorChanged.connect(self._header_sort)
        self.view.selectionModel().selectionChanged.connect(self._table_selection_changed)
        self.window_.selection.changed.connect(self._map_selection_changed)

    def detach(self) -> None:
        """Stop following the window (the table is closing)."""
        self._generation += 1
        for task in (self._task, self._export_task):
            if task is not None:
                task.cancel()
        with contextlib.suppress(RuntimeError, TypeError):
            self.window_.selection.changed.disconnect(self._map_selection_changed)

    # --------------------------------------------------------------------------- filtering
    def apply_filter(self, text: str | None = None) -> bool:
        """Show the features where the filter ``text`` (default: the filter bar's) holds; an empty
        one shows all. A bad filter leaves the table as it was and shows why; returns False."""
        if text is not None:
            self.filter_edit.setText(text)
        text = self.filter_edit.text().strip()
        expression = None
        if text:
            try:
                expression = Expression(text)
                expression.check(self.model.gdf)  # unknown columns and types, without the rows
            except ExpressionError as exc:
                self._show_error(exc)
                return False
        self._hide_error()
        self.expression, self._mask = expression, None
        self._update()
        return True

    def _filter_text_changed(self, text: str) -> None:
        if not text and self.expression is not None:  # the clear button: show everything again
            self.apply_filter()

    @property
    def error(self) -> str:
        """The message shown under the filter bar ('' when none)."""
        if not self.error_box.isVisibleTo(self):
            return ""
        return "\n".join(t for t in (self.error_label.text(), self.error_where.text()) if t)

    def _show_message(self, message: str) -> None:
        problem, _, where = message.partition("\n")
        self.error_label.setText(problem)
        self.error_where.setText(where)
        self.error_where.setVisible(bool(where))
        self.error_box.setVisible(True)

    def _show_error(self, exc: ExpressionError) -> None:
        self._show_message(exc.message)
        if exc.position is not None:
            self.filter_edit.setCursorPosition(exc.position + len(self.filter_edit.text())
                                               - len(self.filter_edit.text().lstrip()))
        self.filter_edit.setFocus()

    def _hide_error(self) -> None:
        self.error_label.clear()
        self.error_where.clear()
        self.error_box.setVisible(False)

    # ----------------------------------------------------------------------------- sorting
    def sort(self, column: str | int | None, ascending: bool = True) -> None:
        """Sort by a column (name or index), nulls last; None goes back to the layer's order."""
        header = self.view.horizontalHeader()
        if column is None:
            self.sorting = None
            index = -1
        else:
            index = column if isinstance(column, int) else self.model.column_index(column)
            self.sorting = (self.model.columns[index].name, ascending)
        header.blockSignals(True)
        header.setSortIndicator(index, Qt.SortOrder.AscendingOrder if ascending else Qt.SortOrder.DescendingOrder)
        header.blockSignals(False)
        header.viewport().update()
        self._update()

    def _header_sort(self, section: int, order: Qt.SortOrder) -> None:
        if 0 <= section < len(self.model.columns):
            self.sorting = (self.model.columns[section].name, order == Qt.SortOrder.AscendingOrder)
            self._update()

    def set_selected_only(self, on: bool) -> None:
        """Show only the selected features (and follow the selection), or all again."""
        self.selected_only = bool(on)
        if self.selected_only_button.isChecked() != self.selected_only:
            self.selected_only_button.setChecked(self.selected_only)  # comes back here, then updates
            return
        self._update()

    # ------------------------------------------------------------------------- row order
    def _update(self) -> None:
        """Compute the rows to show from the filter, the sort and "selected only": here for a
        small table, in a worker for a big one (a newer request drops an older result)."""
        self._generation += 1
        generation = self._generation
        if self._task is not None:
            self._task.cancel()
            self._task = None
        gdf, n, expression, mask = self.model.gdf, self.model.total, self.expression, self._mask
        column = ascending = None
        if self.sorting is not None:
            names = [c.name for c in self.model.columns]
            if self.sorting[0] in names:
                column, ascending = self.model.columns[names.index(self.sorting[0])], self.sorting[1]
        selected = self.window_.selection.rows(self.layer) if self.selected_only else None

        def job(feedback=None):
            m = mask if mask is not None or expression is None else expression.mask(gdf)
            if feedback is not None:
                feedback.check_cancelled()
            key = column.sort_key() if column is not None else None
            if feedback is not None:
                feedback.check_cancelled()
            return m, view_order(n, m, selected, key, bool(ascending))

        if n < ASYNC_ROWS:
            try:
                result = job()
            except CityDeskError as exc:
                self._failed(generation, exc.message, True)
                return
            except Exception as exc:  # shown as a message, never as a traceback
                self._failed(generation, f"{type(exc).__name__}: {exc}", False)
                return
            self._done(generation, result)
            return
        task = Task(job, generation)
        task.signals.finished.connect(self._done)
        task.signals.failed.connect(self._failed)
        task.signals.cancelled.connect(self._cancelled)
        self._task = task
        self.busy.setVisible(True)
        self.count_label.setText("Working…")
        task.start()

    def _done(self, generation: int, result) -> None:
        if generation != self._generation:
            return
        self._task = None
        self.busy.setVisible(False)
        self._mask, order = result
        self._shown = (self.expression, self._mask)
        self.view.scrollToTop()  # a reset while scrolled far down costs Qt seconds for a million rows
        self.model.set_order(order)
        self._select_from_map()
        self._show_count()
        self.rowsChanged.emit()

    def _failed(self, generation: int, message: str, user_error: bool) -> None:
        if generation != self._generation:
            return
        self._task = None
        self.busy.setVisible(False)
        self.expression, self._mask = self._shown  # the rows shown are still those of the last filter
        self._show_message(message if user_error else f"Something went wrong that CityDesk did not expect: "
                                                      f"{message}")
        self._show_count()

    def _cancelled(self, generation: int) -> None:
        if generation == self._generation:
            self._task = None
            self.busy.setVisible(False)
            self._show_count()

    def refresh(self) -> None:
        """Show the layer's current data (after its GeoDataFrame was replaced, e.g. by an edit):
        the filter and the sort are kept when they still apply."""
        self.view.scrollToTop()
        self.model.reload()
        self._fit_columns()
        self._mask = None
        names = [c.name for c in self.model.columns]
        if self.sorting is not None and self.sorting[0] not in names:
            self.sorting = None
        header = self.view.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(names.index(self.sorting[0]) if self.sorting else -1,
                                header.sortIndicatorOrder())
        header.blockSignals(False)
        if self.expression is not None:
            try:
                self.expression.check(self.model.gdf)
            except ExpressionError as exc:
                self.expression = None
                self._show_error(exc)
        self._update()

    def check_data(self) -> None:
        """Refresh if the layer's data is not the one shown."""
        if self.layer.gdf is not self.model.gdf:
            self.refresh()

    # --------------------------------------------------------------------------- selection
    def selected_view_rows(self) -> np.ndarray:
        """View rows selected in the table, sorted (from the selection's ranges, not per row)."""
        parts = [np.arange(r.top(), r.bottom() + 1, dtype=np.int64) for r in self.view.selectionModel().selection()]
        if not parts:
            return np.empty(0, dtype=np.int64)
        rows = np.sort(np.concatenate(parts))  # ranges are few; sorting beats np.unique's hashing
        return rows[np.concatenate(([True], np.diff(rows) != 0))]

    def _table_selection_changed(self, *_args) -> None:
        if self._syncing:
            return
        rows = self.model.layer_rows(self.selected_view_rows())
        self._syncing = True
        try:
            self.window_.selection.select(self.layer, rows)
        finally:
            self._syncing = False

    def _map_selection_changed(self, layer: Layer) -> None:
        if layer is not self.layer:
            return
        if not self._syncing:
            if self.selected_only:
                self._update()
            else:
                self._select_from_map(scroll=True)
        self._show_count()

    def _select_from_map(self, scroll: bool = False) -> None:
        """Select the table rows of the window's selection of this layer, one range per run of
        consecutive rows."""
        view_rows = self.model.view_rows(self.window_.selection.rows(self.layer))
        starts, ends = runs(view_rows)
        selection = self.model.row_selection(starts, ends)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self._syncing = True
        try:
            if len(view_rows):
                self.view.selectionModel().select(selection, flags)
            else:
                self.view.selectionModel().clearSelection()
        finally:
            self._syncing = False
        if scroll and len(view_rows):
            self.view.scrollTo(self.model.index(int(view_rows[0]), 0))

    def _show_count(self) -> None:
        shown, total = self.model.rowCount(), self.model.total
        selected = self.window_.selection.count(self.layer)
        text = f"{shown:,} of {_plural(total, 'feature')}".replace(",", " ")
        if selected:
            text += "  ·  " + f"{selected:,} selected".replace(",", " ")
        if self.expression is not None:
            text += f"  ·  filter: {self.expression.text}"
        self.count_label.setText(text)
        self.zoom_button.setEnabled(bool(selected))
        self.export_button.setEnabled(bool(selected))
        self.clear_button.setEnabled(bool(selected))

    # ------------------------------------------------------------------------------ actions
    def zoom_to_selection(self) -> bool:
        """Zoom the map to the selected features (with a margin); False if there is nothing to show."""
        if not self.window_.selection.count(self.layer):
            self.window_.statusBar().showMessage("Select features first", 5000)
            return False
        if not self.window_.canvas.zoom_to_selection(self.window_.selection, [self.layer]):
            self.window_.statusBar().showMessage("The selected features have no geometry", 5000)
            return False
        return True

    def export_selection(self, path: str | None = None) -> bool:
        """Write the selected features to a file chosen in a dialog (or ``path``), in a worker;
        ``exported(path)`` follows. False if nothing was started."""
        rows = self.window_.selection.rows(self.layer).copy()
        if not len(rows):
            QMessageBox.information(self, "Export selection", "Select features to export first.")
            return False
        if path is None:
            name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.layer.name).strip("_") or "layer"
            path, chosen = QFileDialog.getSaveFileName(self, "Export selection", f"{name}_selection.gpkg",
                                                       ";;".join(EXPORT_FILTERS))
            if not path:
                return False
            if not any(path.lower().endswith(s) for s in (".gpkg", ".geojson", ".json", ".csv")):
                path += EXPORT_FILTERS.get(chosen, ".gpkg")
        gdf, name = self.layer.gdf, self.layer.name  # the selection's rows are positions in layer.gdf
        task = Task(lambda _fb: str(write_layers({name: gdf.iloc[rows]}, path)))
        task.signals.finished.connect(self._exported)
        task.signals.failed.connect(self._export_failed)
        self._export_task = task
        self.busy.setVisible(True)
        self.window_.statusBar().showMessage(f"Exporting {_plural(len(rows), 'feature')}…")
        task.start()
        return True

    def _exported(self, _generation: int, path: str) -> None:
        self._export_task = None
        self.busy.setVisible(self._task is not None)
        self.window_.statusBar().showMessage(f"Exported the selection to {path}", 8000)
        self.exported.emit(path)

    def _export_failed(self, _generation: int, message: str, user_error: bool) -> None:
        self._export_task = None
        self.busy.setVisible(self._task is not None)
        self.window_.statusBar().clearMessage()
        text = message if user_error else f"Something went wrong that CityDesk did not expect: {message}"
        QMessageBox.warning(self, "Cannot export the selection", as_rich_text(text))
        self.exportFailed.emit(text)

    def _fit_columns(self) -> None:
        self.view.resizeColumnsToContents()
        header = self.view.horizontalHeader()
        for i in range(self.model.columnCount()):
            if header.sectionSize(i) > MAX_COLUMN_PX:
                header.resizeSection(i, MAX_COLUMN_PX)
