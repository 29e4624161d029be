"""The Layers panel: the project's layers top-first (as drawn: the first row is on top of the map),
each with a visibility checkbox and, under it, its legend (colour swatches and labels from
:func:`layers.style.symbolize`). A layer whose file could not be read is greyed, with the reason
as its tooltip.

Layers are reordered by dragging their rows (legend rows are neither dragged nor dropped on),
renamed in place (double-click or F2), removed with Delete, and a right click offers zoom to
layer, the attribute table, the style editor, rename, an opacity slider and remove. The panel
edits the list it was given in place (the project's list, which the map canvas shares) and emits
``layersChanged``; :meth:`LayersPanel.attach` connects that to the window (unsaved changes mark,
map refresh) and gives the panel the project, the canvas and the selection it needs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QDrag, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QSlider,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
    QWidgetAction,
)

from app.plain_text import as_rich_text
from app.symbols import SWATCH, swatch_icon
from layers.layer import Layer
from layers.reader_notes import reader_notes
from layers.style import Style

LAYER_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_LEGEND_ROWS = 40  # longer legends end with a "… N more" row
MAX_NOTES = 12  # a reader's notes shown in a layer's tooltip
Legend = list[tuple[str, str]]


class LayersPanel(QTreeWidget):
    """Rows for ``layers`` (top-first). Ticking a box sets ``layer.visible`` and emits
    ``visibilityChanged(layer)``; the window re-renders the map on that signal.

    ``legend_of(layer)`` gives a layer's legend ``[(label, colour)]``; the window passes the
    render cache's, so the panel shows the colours the map draws without computing them again.

    Signals: ``currentLayerChanged(object)`` (the layer of the current row, also when a legend
    row is current; None when there is none), ``layersChanged()`` after a layer was moved,
    renamed, removed, restyled or made more or less opaque, ``styleChanged(object)`` with the
    layer whose style changed.
    """

    visibilityChanged = Signal(object)
    currentLayerChanged = Signal(object)
    layersChanged = Signal()
    styleChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setIconSize(QSize(SWATCH, SWATCH))
        self.setUniformRowHeights(True)
        self.setMinimumWidth(200)
        self.setExpandsOnDoubleClick(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.DoubleClicked)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        self._layers: list[Layer] = []
        self._legend_of: Callable[[Layer], Legend] | None = None
        self._collapsed: weakref.WeakSet[Layer] = weakref.WeakSet()
        self._legends: weakref.WeakKeyDictionary[Layer, tuple[Style, Legend]] = weakref.WeakKeyDictionary()
        self._current: Layer | None = None
        self._filling = False
        self.window_ = None  # the main window, once attached
        self.style_dialog = None  # the open style editor, if any
        self.itemChanged.connect(self._on_item_changed)
        self.currentItemChanged.connect(self._on_current_changed)
        self.itemDoubleClicked.connect(self._on_double_click)
        self.itemCollapsed.connect(lambda item: self._remember_expanded(item, False))
        self.itemExpanded.connect(lambda item: self._remember_expanded(item, True))

    def attach(self, window) -> None:
        """Work on ``window``'s project: changes mark it modified and redraw its map; rename keeps
        the project's analysis settings pointing at the layer; remove forgets the selection."""
        self.window_ = window
        self.layersChanged.connect(lambda: window.mark_modified(True))
        self.layersChanged.connect(window.canvas.refresh)
        self.visibilityChanged.connect(lambda _layer: window.mark_modified(True))

    # ----------------------------------------------------------------------------- rows
    def set_layers(self, layers: list[Layer], legend_of: Callable[[Layer], Legend] | None = None) -> None:
        """Show ``layers`` (top-first) with their legends. The list itself is kept: moving or
        removing a layer here changes it in place."""
        self._layers = layers
        self._legend_of = legend_of
        self._legends.clear()
        self._rebuild()

    def _rebuild(self, select: Layer | None = None) -> None:
        """Make the rows again; the current row stays on ``select`` (default: the current layer)."""
        target = select if select is not None else self._current
        self._filling = True
        try:
            self.clear()
            for layer in self._layers:
                item = QTreeWidgetItem()
                self.addTopLevelItem(item)
                self._fill_item(item, layer)
                item.setExpanded(item.childCount() > 0 and layer not in self._collapsed)
            if target is not None and self._item_of(target) is not None:
                self.setCurrentItem(self._item_of(target))
        finally:
            self._filling = False
        self._on_current_changed(self.currentItem())

    def layer_item(self, name: str) -> QTreeWidgetItem:
        """The row of the layer called ``name``."""
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item.data(0, LAYER_ROLE).name == name:
                return item
        raise KeyError(name)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Tick or untick a layer's box, as a click would."""
        self.layer_item(name).setCheckState(0, Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)

    def current_layer(self) -> Layer | None:
        """The layer of the current row (its own row or one of its legend rows)."""
        return self._layer_of(self.currentItem())

    def refresh_layer(self, layer: Layer, legend: Legend | None = None) -> None:
        """Draw ``layer``'s row and legend again (after its style or data changed); ``legend``,
        when known, saves asking ``legend_of``."""
        self._legends.pop(layer, None)
        if legend is not None:
            self._legends[layer] = (layer.style, list(legend))
        item = self._item_of(layer)
        if item is None:
            return
        self._filling = True
        try:
            self._fill_item(item, layer)
            item.setExpanded(item.childCount() > 0 and layer not in self._collapsed)
        finally:
            self._filling = False

    def _fill_item(self, item: QTreeWidgetItem, layer: Layer) -> None:
        item.takeChildren()
        item.setData(0, LAYER_ROLE, layer)
        item.setText(0, layer.name)
        item.setForeground(0, QBrush())
        top_flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        if layer.gdf is None:
            item.setFlags(top_flags)
            item.setForeground(0, QBrush(QColor("#9a9a9a")))
            item.setIcon(0, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            item.setText(0, f"{layer.name} (not found)")
            item.setToolTip(0, as_rich_text(layer.error or "the layer could not be read"))  # names come from files
            return
        item.setFlags(top_flags | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable)
        item.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
        source = f"\n{layer.source}" if layer.source else ""
        opacity = f", {layer.style.opacity:.0%} opaque" if layer.style.opacity < 1 else ""
        tip = f"{layer.name}: {len(layer)} features ({layer.geometry_kind}){opacity}{source}"
        notes = reader_notes(layer.gdf.attrs)  # a GTFS feed's problems, requests without coordinates
        if notes:
            tip += "\n\nFound when reading:\n" + "\n".join(f"• {n}" for n in notes[:MAX_NOTES])
            if len(notes) > MAX_NOTES:
                tip += f"\n… and {len(notes) - MAX_NOTES} more (citydesk info lists them all)"
        item.setToolTip(0, as_rich_text(tip))  # the name comes from a file: never read as HTML
        legend = self._legend(layer)
        kind = layer.geometry_kind
        if len(legend) <= 1 and not (legend and legend[0][0]):
            colour = legend[0][1] if legend else layer.style.fill
            item.setIcon(0, swatch_icon(kind, colour, layer.style))
            return
        item.setIcon(0, QIcon())
        title = layer.style.field or ""
        for label, colour in legend[:MAX_LEGEND_ROWS]:
            child = QTreeWidgetItem([label or title])
            child.setIcon(0, swatch_icon(kind, colour, layer.style))
            child.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.addChild(child)
        if len(legend) > MAX_LEGEND_ROWS:
            more = QTreeWidgetItem([f"… {len(legend) - MAX_LEGEND_ROWS} more"])
            more.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.addChild(more)

    def _legend(self, layer: Layer) -> Legend:
        """The layer's legend, asked of ``legend_of`` once per style (moving a row, renaming or
        changing the opacity does not compute it again)."""
        known = self._legends.get(layer)
        if known is not None and known[0] == layer.style:
            return known[1]
        legend = self._legend_of(layer) if self._legend_of else [("", layer.style.fill)]
        self._legends[layer] = (layer.style, legend)
        return legend

    def _remember_expanded(self, item: QTreeWidgetItem, expanded: bool) -> None:
        layer = item.data(0, LAYER_ROLE)
        if self._filling or layer is None:
            return
        if expanded:
            self._collapsed.discard(layer)
        else:
            self._collapsed.add(layer)

    def _item_of(self, layer: Layer) -> QTreeWidgetItem | None:
        for i in range(self.topLevelItemCount()):
            if self.topLevelItem(i).data(0, LAYER_ROLE) is layer:
                return self.topLevelItem(i)
        return None

    @staticmethod
    def _layer_of(item: QTreeWidgetItem | None) -> Layer | None:
        while item is not None and item.parent() is not None:
            item = item.parent()
        return item.data(0, LAYER_ROLE) if item is not None else None

    # -------------------------------------------------------------------------- editing
    def move_layer(self, src: int, dst: int) -> None:
        """Move the layer at row ``src`` to row ``dst`` (rows are top-first, as in the project)."""
        n = len(self._layers)
        if not (0 <= src < n and 0 <= dst < n) or src == dst:
            return
        layer = self._layers.pop(src)
        self._layers.insert(dst, layer)
        self._rebuild(select=layer)
        self.layersChanged.emit()

    def rename_layer(self, layer: Layer, name: str) -> str | None:
        """Give ``layer`` a new name; the project's analysis settings follow. Returns why the name
        cannot be used (empty, or another layer has it), else None."""
        name = name.strip()
        if not name:
            return "A layer needs a name."
        if any(other is not layer and other.name == name for other in self._layers):
            return f"The project already has a layer called '{name}'. Layer names must be unique: " \
                   "analyses refer to layers by name."
        if name == layer.name:
            return None
        old, layer.name = layer.name, name
        project = getattr(self.window_, "project", None)
        for run in getattr(project, "analyses", []):
            run.layers = {role: (name if value == old else value) for role, value in run.layers.items()}
        self.refresh_layer(layer, self._legend(layer))
        self.layersChanged.emit()
        return None

    def remove_layer(self, layer: Layer, *, confirm: bool = True) -> bool:
        """Take ``layer`` out of the project (after asking, with ``confirm``); its file stays."""
        if not any(lay is layer for lay in self._layers):
            return False
        if confirm:
            answer = QMessageBox.question(
                self, "Remove layer",
                as_rich_text(f"Remove the layer '{layer.name}' from the project?\n\nIts data file is not deleted."),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return False
        row = next(i for i, lay in enumerate(self._layers) if lay is layer)
        del self._layers[row]
        selection = getattr(self.window_, "selection", None)
        if selection is not None:
            selection.forget(layer)
        following = self._layers[min(row, len(self._layers) - 1)] if self._layers else None
        self._rebuild(select=following if self._current is layer else None)
        self.layersChanged.emit()
        return True

    def set_style(self, layer: Layer, style: Style, legend: Legend | None = None) -> None:
        """Give ``layer`` a new style: its legend and the map follow. ``legend``: the new style's
        legend if already known (the style editor computed it in a worker)."""
        if style == layer.style:
            return
        layer.style = style
        self.refresh_layer(layer, legend)
        self.styleChanged.emit(layer)
        self.layersChanged.emit()

    def set_opacity(self, layer: Layer, opacity: float) -> None:
        """Make the whole layer ``opacity`` opaque (0 to 1)."""
        legend = self._legend(layer)  # the opacity does not change the legend
        self.set_style(layer, replace(layer.style, opacity=min(max(float(opacity), 0.0), 1.0)), legend)

    def zoom_to_layer(self, layer: Layer) -> None:
        """Show the whole layer on the map, with a small margin."""
        canvas = getattr(self.window_, "canvas", None)
        if canvas is not None:
            canvas.zoom_to_layer(layer)

    def open_style_dialog(self, layer: Layer):
        """Open the style editor for ``layer`` (not modal); Apply and OK restyle the layer."""
        from app.style_dialog import StyleDialog

        if self.style_dialog is not None:
            self.style_dialog.close()
        dialog = StyleDialog(layer, self.window() if self.window_ is not None else self)
        dialog.applied.connect(lambda style, layer=layer, d=dialog: self.set_style(layer, style, d.legend_for(style)))
        dialog.finished.connect(lambda _result, d=dialog: self._dialog_closed(d))
        self.style_dialog = dialog
        dialog.show()
        return dialog

    def _dialog_closed(self, dialog) -> None:
        if self.style_dialog is dialog:
            self.style_dialog = None
        dialog.deleteLater()

    # ------------------------------------------------------------------------ menus, keys
    def layer_menu(self, layer: Layer) -> QMenu:
        """The right-click menu of ``layer``."""
        menu = QMenu(self)
        has_data = layer.gdf is not None
        zoom = menu.addAction("Zoom to layer", lambda: self.zoom_to_layer(layer))
        zoom.setEnabled(has_data)
        if hasattr(self.window_, "open_attribute_table"):
            table = menu.addAction("Open attribute table", lambda: self.window_.open_attribute_table(layer))
            table.setEnabled(has_data)
        style = menu.addAction("Style…", lambda: self.open_style_dialog(layer))
        style.setEnabled(has_data)
        rename = menu.addAction("Rename", lambda: self.editItem(self._item_of(layer), 0))
        rename.setShortcut(QKeySequence(Qt.Key.Key_F2))
        rename.setEnabled(has_data)
        if has_data:
            menu.addSeparator()
            menu.addAction(self._opacity_action(menu, layer))
        menu.addSeparator()
        remove = menu.addAction("Remove layer…", lambda: self.remove_layer(layer))
        remove.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        return menu

    def _opacity_action(self, menu: QMenu, layer: Layer) -> QAction:
        box = QWidget(menu)
        row = QHBoxLayout(box)
        row.setContentsMargins(12, 4, 12, 4)
        slider = QSlider(Qt.Orientation.Horizontal, box, minimum=0, maximum=100, pageStep=10)
        slider.setObjectName("opacity_slider")
        slider.setValue(round(layer.style.opacity * 100))
        value = QLabel(f"{slider.value()} %", box, minimumWidth=40)
        slider.valueChanged.connect(lambda v: value.setText(f"{v} %"))
        slider.valueChanged.connect(lambda v: self.set_opacity(layer, v / 100))
        row.addWidget(QLabel("Opacity", box))
        row.addWidget(slider, 1)
        row.addWidget(value)
        action = QWidgetAction(menu)
        action.setDefaultWidget(box)
        return action

    def contextMenuEvent(self, event) -> None:  # noqa: N802 (Qt name)
        layer = self._layer_of(self.itemAt(event.pos()))
        if layer is not None:
            self.layer_menu(layer).exec(event.globalPos())

    def keyPressEvent(self, event) -> None:  # noqa: N802
        layer = self.current_layer()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and layer is not None \
                and self.state() != QAbstractItemView.State.EditingState:
            self.remove_layer(layer)
            return
        super().keyPressEvent(event)

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        layer = self._layer_of(item)
        if item.parent() is not None and layer is not None and layer.gdf is not None:
            self.open_style_dialog(layer)  # a legend row: edit the symbols (the layer row renames)

    # ----------------------------------------------------------------------- drag & drop
    def startDrag(self, supported_actions) -> None:  # noqa: N802
        item = self.currentItem()
        if item is None or item.parent() is not None:
            return  # legend rows stay with their layer
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        drag.setPixmap(item.icon(0).pixmap(SWATCH, SWATCH) if not item.icon(0).isNull() else QPixmap())
        drag.exec(Qt.DropAction.MoveAction)  # the drop moved the layer and rebuilt the rows

    def drop_row(self, pos: QPoint) -> int | None:
        """Where a layer dropped at ``pos`` (viewport pixels) goes: the row it is inserted before
        (0 to the number of layers), or None over a legend row."""
        item = self.itemAt(pos)
        if item is None:
            return self.topLevelItemCount()
        if item.parent() is not None:
            return None
        row = self.indexOfTopLevelItem(item)
        return row if pos.y() < self.visualItemRect(item).center().y() else row + 1

    def dropEvent(self, event) -> None:  # noqa: N802
        if event.source() is not self or not self.drop_current_at(event.position().toPoint()):
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()
        self.stopAutoScroll()
        self.setState(QAbstractItemView.State.NoState)

    def drop_current_at(self, pos: QPoint) -> bool:
        """Move the current layer (the one being dragged) to where ``pos`` (viewport pixels) is, as
        a drop there does. False if it cannot go there (over a legend row, or no current layer)."""
        dragged = self._layer_of(self.currentItem())
        before = self.drop_row(pos)
        if dragged is None or before is None:
            return False
        src = next(i for i, lay in enumerate(self._layers) if lay is dragged)
        self.move_layer(src, before if before <= src else before - 1)
        return True

    # -------------------------------------------------------------------------- signals
    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        layer = item.data(0, LAYER_ROLE)
        if self._filling or layer is None or not (item.flags() & Qt.ItemFlag.ItemIsUserCheckable):
            return
        if item.text(0) != layer.name:  # renamed in place
            problem = self.rename_layer(layer, item.text(0))
            if problem:
                self._filling = True
                item.setText(0, layer.name)
                self._filling = False
                QTimer.singleShot(0, lambda: QMessageBox.information(self, "Rename layer", as_rich_text(problem)))
            return
        visible = item.checkState(0) == Qt.CheckState.Checked
        if layer.visible != visible:
            layer.visible = visible
            self.visibilityChanged.emit(layer)

    def _on_current_changed(self, current: QTreeWidgetItem | None, _previous=None) -> None:
        if self._filling:
            return
        layer = self._layer_of(current)
        if layer is not self._current:
            self._current = layer
            self.currentLayerChanged.emit(layer)
