"""The window's attribute tables: Layer → Open attribute table (F6) and its toolbar button open
the table of the current layer in a dock at the bottom of the window; several can be open at
once (tabbed). A table closes when its layer leaves the project, follows a renamed layer, and
shows a layer's new data when an edit replaced its GeoDataFrame.

``install_attribute_tables(window)`` returns the :class:`AttributeTables` (``window.attribute_tables``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QMessageBox, QStyle, QWidget

from app.attribute_table import AttributeTable
from app.plain_text import as_rich_text
from layers.layer import Layer


class _TableDock(QDockWidget):
    closed = Signal(object)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.closed.emit(self)
        super().closeEvent(event)


class AttributeTables(QObject):
    """The window's attribute tables: :meth:`open` one per layer, as docks at the bottom."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.docks: list[_TableDock] = []
        icon = window.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView)
        self.action = QAction(icon, "Open attribute table", window)
        self.action.setShortcut(QKeySequence(Qt.Key.Key_F6))
        self.action.setToolTip("Open the attribute table of the current layer (F6)")
        self.action.triggered.connect(lambda: self.open())
        _layer_menu(window).addAction(self.action)
        toolbar = window.findChild(QWidget, "main_toolbar")
        if toolbar is not None:
            toolbar.addAction(self.action)
        window.projectShown.connect(lambda _project: self._layers_changed())
        if hasattr(window.panel, "layersChanged"):
            window.panel.layersChanged.connect(self._layers_changed)
        window.canvas.renderFinished.connect(self._check_data)  # an edit replaced a layer's data

    def tables(self) -> list[AttributeTable]:
        return [dock.widget() for dock in self.docks]

    def table(self, layer: Layer) -> AttributeTable | None:
        return next((t for t in self.tables() if t.layer is layer), None)

    def open(self, layer: Layer | None = None) -> AttributeTable | None:
        """Open (or bring forward) the attribute table of ``layer``, by default the Layers panel's
        current layer."""
        layer = layer if layer is not None else self._current_layer()
        if layer is None:
            self.window.statusBar().showMessage("Choose a layer in the Layers panel first", 5000)
            return None
        if layer.gdf is None:
            QMessageBox.information(self.window, "Open attribute table",
                                    as_rich_text(f"The layer '{layer.name}' could not be read: "
                                               f"{layer.error or 'its file is missing'}"))
            return None
        table = self.table(layer)
        if table is not None:
            dock = table.parentWidget()
        else:
            table = AttributeTable(self.window, layer)
            dock = _TableDock(self._title(layer), self.window)
            dock.setObjectName(f"attribute_table_{len(self.docks)}")
            dock.setWidget(table)
            dock.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dock.closed.connect(self._closed)
            if self.docks:
                self.window.tabifyDockWidget(self.docks[-1], dock)
            else:
                self.window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
                self.window.resizeDocks([dock], [max(self.window.height() * 2 // 5, 220)], Qt.Orientation.Vertical)
            self.docks.append(dock)
        dock.show()
        dock.raise_()
        return table

    def refresh(self, layer: Layer) -> None:
        """Show ``layer``'s new data in its open table (after its GeoDataFrame was replaced)."""
        table = self.table(layer)
        if table is not None:
            table.refresh()

    def close_all(self) -> None:
        for dock in list(self.docks):
            dock.close()

    def _title(self, layer: Layer) -> str:
        return f"{layer.name} — attribute table"

    def _current_layer(self) -> Layer | None:
        panel = self.window.panel
        if hasattr(panel, "current_layer"):
            return panel.current_layer()
        from app.layers_panel import LAYER_ROLE

        item = panel.currentItem()
        while item is not None and item.parent() is not None:
            item = item.parent()
        return item.data(0, LAYER_ROLE) if item is not None else None

    def _closed(self, dock: _TableDock) -> None:
        if dock in self.docks:
            self.docks.remove(dock)
            dock.widget().detach()

    def _layers_changed(self) -> None:
        """Close the tables of layers no longer in the project; follow renamed layers."""
        project = self.window.project
        layers = project.layers if project is not None else []
        for dock in list(self.docks):
            layer = dock.widget().layer
            if not any(lay is layer for lay in layers):
                dock.close()
            else:
                dock.setWindowTitle(self._title(layer))

    def _check_data(self) -> None:
        for table in self.tables():
            table.check_data()


def _layer_menu(window) -> QMenu:
    """The window's Layer menu (made, after View, if there is none yet)."""
    bar = window.menuBar()
    actions = bar.actions()
    for action in actions:
        if action.menu() is not None and action.text().replace("&", "") == "Layer":
            return action.menu()
    menu = QMenu("&Layer", window)
    after_view = next((actions[i + 1] for i, a in enumerate(actions[:-1]) if a.text().replace("&", "") == "View"),
                      None)
    if after_view is not None:
        bar.insertMenu(after_view, menu)
    else:
        bar.addMenu(menu)
    return menu


def install_attribute_tables(window) -> AttributeTables:
    """Add Layer → Open attribute table (F6) and its toolbar button to ``window``."""
    return AttributeTables(window)
