"""PostGIS in the window: Layer → "Add PostGIS layer…" (connect, pick geometry tables, optionally
only what is in the current map extent) and Layer → "Save result to database…" (a layer to a
table; replacing an existing table needs a confirmation and happens in one transaction).

Connecting, listing, reading and writing run in workers. When the server asks for a password
the window asks for it; it is kept in memory for this session only (never saved anywhere).
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from app.plain_text import as_rich_text, tell
from app.workers import Task
from layers.errors import CityDeskError
from layers.postgis import PasswordRequired, list_tables, parse_url, remember_password, tables_exist
from layers.postgis_connect import known_password, wants_password

PLACEHOLDER = "postgresql://user@host:5432/database"


def ask_password(parent, error: PasswordRequired | None, src, *, wrong: bool = False) -> bool:
    """Ask for the password of ``src``'s user (masked); remembered for this session. False if cancelled."""
    text = (("The password was not accepted. " if wrong or (error is not None and error.wrong) else "")
            + f"Password for {src.user or 'your user'} on {src.server}:")
    password, ok = QInputDialog.getText(parent, "PostgreSQL password", as_rich_text(text), QLineEdit.EchoMode.Password)
    if not ok or not password:
        return False
    remember_password(src, password)
    return True


def _guarded(fn):
    """Run ``fn()`` in a worker, returning a password request as a value (not as a failure)."""
    def run(_feedback):
        try:
            return fn()
        except PasswordRequired as exc:
            return exc
    return run


class AddPostgisDialog(QDialog):
    """Connect to a database, list its geometry tables, choose some."""

    def __init__(self, parent, url: str = "", *, extent_available: bool = False):
        super().__init__(parent)
        self.setWindowTitle("Add PostGIS layer")
        self.resize(640, 420)
        self.url = QLineEdit(url, placeholderText=PLACEHOLDER)
        self.connect_button = QPushButton("Connect")
        self.tables = QTreeWidget()
        self.tables.setHeaderLabels(["Table", "Geometry", "SRID", "Rows (about)"])
        self.tables.setRootIsDecorated(False)
        self.tables.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.tables.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tables.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tables.header().setStretchLastSection(False)
        self.in_extent = QCheckBox("Only features in the current map extent (for large tables)")
        self.in_extent.setEnabled(extent_available)
        self.status = QLabel("Passwords come from PGPASSWORD or ~/.pgpass; otherwise you are asked.")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Database:"))
        row.addWidget(self.url, 1)
        row.addWidget(self.connect_button)
        layout = QVBoxLayout(self)
        for item in (row, self.tables, self.in_extent, self.status, self.buttons):
            (layout.addLayout if isinstance(item, QHBoxLayout) else layout.addWidget)(item)
        self.connect_button.clicked.connect(self.list_tables)
        self.url.returnPressed.connect(self.list_tables)
        self.tables.itemSelectionChanged.connect(self._selection_changed)
        self.tables.itemDoubleClicked.connect(lambda *_: self.accept())
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._task: Task | None = None
        self.source = None

    def list_tables(self) -> None:
        """Connect (in a worker) and list the geometry tables of the database."""
        try:
            self.source = parse_url(self.url.text())
        except CityDeskError as exc:
            self.status.setText(exc.message)
            return
        src = self.source
        self.tables.clear()
        self.status.setText(f"Connecting to {src.server}…")
        self.connect_button.setEnabled(False)
        self._task = Task(_guarded(lambda: list_tables(src)))
        self._task.signals.finished.connect(self._listed)
        self._task.signals.failed.connect(self._failed)
        self._task.start()

    def _listed(self, _generation: int, result) -> None:
        self.connect_button.setEnabled(True)
        if isinstance(result, PasswordRequired):
            if ask_password(self, result, self.source):
                self.list_tables()
            else:
                self.status.setText(result.message)
            return
        for info in result:
            rows = f"{info.rows:,}".replace(",", " ") if info.rows >= 0 else "?"
            item = QTreeWidgetItem([info.qualified if info.schema != "public" else info.table,
                                    info.geometry_type, str(info.srid), rows])
            item.setData(0, Qt.ItemDataRole.UserRole, (info.schema, info.table))
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tables.addTopLevelItem(item)
        self.status.setText(f"{len(result)} table{'s' if len(result) != 1 else ''} with geometry in "
                            f"{self.source.server}" if result else "The database has no tables with geometry.")
        if result:
            self.tables.setCurrentItem(self.tables.topLevelItem(0))

    def _failed(self, _generation: int, message: str, _user_error: bool) -> None:
        self.connect_button.setEnabled(True)
        self.status.setText(message)

    def _selection_changed(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.tables.selectedItems()))

    def chosen(self) -> list:
        """The chosen tables as sources (:class:`layers.postgis_url.PgSource`)."""
        out = []
        for item in self.tables.selectedItems():
            schema, table = item.data(0, Qt.ItemDataRole.UserRole)
            out.append(self.source.with_table(table, schema))
        return out


class SaveToDatabaseDialog(QDialog):
    """Choose a layer, a database and a table name."""

    def __init__(self, parent, layers: list, current=None, url: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Save result to database")
        self.setMinimumWidth(560)
        self.layers = layers
        self.layer = QComboBox()
        for layer in layers:
            self.layer.addItem(layer.name)
        if current in layers:
            self.layer.setCurrentIndex(layers.index(current))
        self.url = QLineEdit(url, placeholderText=PLACEHOLDER)
        self.table = QLineEdit()
        self.table.setPlaceholderText("schema.table (default schema: public)")
        form = QFormLayout(self)
        form.addRow("Layer:", self.layer)
        form.addRow("Database:", self.url)
        form.addRow("Table:", self.table)
        note = QLabel("A new table gets a spatial index. An existing table is replaced only after you confirm, "
                      "in one transaction: if writing fails, the old table stays as it was.")
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        form.addRow(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.layer.currentIndexChanged.connect(self._default_table)
        self._default_table()

    def _default_table(self) -> None:
        if self.layers:
            name = re.sub(r"[^0-9a-z_]+", "_", self.layers[self.layer.currentIndex()].name.lower()).strip("_")
            self.table.setText(name or "result")

    def target(self):
        """(the layer, the table's source); raises CityDeskError for a bad URL."""
        src = parse_url(self.url.text())
        text = self.table.text().strip()
        schema, _, table = text.rpartition(".")
        if not table:
            raise CityDeskError("give a table name", fix="Write schema.table, or a name for the public schema")
        return self.layers[self.layer.currentIndex()], src.with_table(table, schema or "public")


class PostgisActions:
    """The two Layer-menu actions and what they do."""

    def __init__(self, window):
        from app.table_docks import _layer_menu

        self.window = window
        self.last_url = ""  # this session's last database (a URL never holds a password)
        self.add_action = QAction("Add &PostGIS layer…", window)
        self.save_action = QAction("Save result to &database…", window)
        menu = _layer_menu(window)
        menu.addSeparator()
        menu.addAction(self.add_action)
        menu.addAction(self.save_action)
        self.add_action.triggered.connect(lambda: self.add_layer())
        self.save_action.triggered.connect(lambda: self.save_layer())
        self.dialog: QDialog | None = None
        self._locked: list[list] = []  # groups (one per server and user) of layers waiting for a password
        window.projectShown.connect(self._project_shown)

    # ------------------------------------------------------- a saved project whose server wants a password
    def _project_shown(self, project) -> None:
        """Layers of the project that could not be read because their server wants a password:
        ask once per server and user (after the project is shown), then read them again."""

        groups: dict[tuple, list] = {}
        for layer in project.layers:
            if layer.gdf is None and layer.source is not None and wants_password(layer.error):
                try:
                    src = parse_url(layer.source.path)
                except CityDeskError:
                    continue
                groups.setdefault((src.host, src.port, src.user), []).append((layer, src))
        self._locked = list(groups.values())
        if self._locked:
            QTimer.singleShot(0, lambda: self._unlock_next(project))

    def _unlock_next(self, project, wrong: bool = False) -> None:
        w = self.window
        if not self._locked or w.project is not project:
            return
        group = self._locked[0]
        if not ask_password(w, None, group[0][1], wrong=wrong):
            self._locked.pop(0)  # cancelled: the layers stay unreadable (their error is kept)
            w.statusBar().showMessage(f"Not read without a password: {', '.join(lay.name for lay, _ in group)}",
                                      10000)
            self._unlock_next(project)
            return
        for _layer, src in group[1:]:  # one password for the server and user, whatever the database
            remember_password(src, known_password(group[0][1]))
        jobs = [(layer.source.path, layer.source.layer) for layer, _ in group]
        w._run(lambda fb: _read_again(jobs, fb), f"Reading {', '.join(lay.name for lay, _ in group)} from "
               f"{group[0][1].server}…", lambda result: self._unlocked(project, group, result),
               "Cannot read the PostGIS layer")

    def _unlocked(self, project, group, results) -> None:
        w = self.window
        if w.project is not project:
            return
        wrong, read = [], []
        for (layer, src), result in zip(group, results, strict=True):
            if isinstance(result, PasswordRequired):
                wrong.append((layer, src))
            elif isinstance(result, str):
                layer.error = result
            else:
                project.warnings[:] = [t for t in project.warnings if t != f"layer '{layer.name}': {layer.error}"]
                layer.gdf, layer.error = result, None
                read.append(layer)
                w.panel.refresh_layer(layer)
        self._locked.pop(0)
        if wrong:
            self._locked.insert(0, wrong)
        if read:
            w.canvas.refresh()
            w.statusBar().showMessage(f"Read {', '.join(lay.name for lay in read)}", 10000)
            if not project.warnings:
                w.statusBar().setToolTip("")
        self._unlock_next(project, wrong=bool(wrong))

    # ----------------------------------------------------------------------------- reading
    def add_layer(self) -> AddPostgisDialog:
        w = self.window
        dialog = AddPostgisDialog(w, self.last_url, extent_available=w.project is not None)
        dialog.accepted.connect(lambda: self._read(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _read(self, dialog: AddPostgisDialog) -> None:
        sources = dialog.chosen()
        if not sources:
            return
        self.last_url = dialog.source.database_url()
        w = self.window
        crs = w.project.crs if w.project else None
        bbox = w.canvas.extent() if dialog.in_extent.isChecked() and w.project is not None else None
        names = ", ".join(s.table for s in sources)
        w._run(lambda fb: _read_and_prepare(sources, bbox, crs, fb), f"Reading {names} from the database…",
               w._layers_added, "Cannot add the PostGIS layer")

    # ----------------------------------------------------------------------------- writing
    def save_layer(self, layer=None) -> SaveToDatabaseDialog | None:
        w = self.window
        layers = [lay for lay in (w.project.layers if w.project else []) if lay.gdf is not None]
        if not layers:
            tell(w, "Save result to database", "There is no layer to save: open a project or run an analysis first.")
            return None
        current = layer or w.panel.current_layer()
        dialog = SaveToDatabaseDialog(w, layers, current, self.last_url)
        dialog.accepted.connect(lambda: self._check_and_write(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _check_and_write(self, dialog: SaveToDatabaseDialog) -> None:
        try:
            layer, dst = dialog.target()
        except CityDeskError as exc:
            tell(self.window, "Save result to database", exc.message)
            return
        self.last_url = dst.database_url()
        self._check(layer, dst)

    def _check(self, layer, dst) -> None:
        """Which tables exist already (in a worker), then confirm and write."""
        gdf = layer.gdf
        self.window._run(_guarded(lambda: tables_exist({layer.name: gdf}, dst)), f"Connecting to {dst.server}…",
                         lambda result: self._confirm_and_write(layer, dst, result), "Cannot save to the database")

    def _confirm_and_write(self, layer, dst, existing) -> None:
        w = self.window
        if isinstance(existing, PasswordRequired):
            if ask_password(w, existing, dst):
                self._check(layer, dst)
            return
        if existing:
            answer = QMessageBox.question(
                w, "Replace the table?",
                as_rich_text(f"The table {dst.qualified} already exists in {dst.server}.\n\nReplace it with the "
                             f"layer '{layer.name}' ({len(layer.gdf):,} features)? The old table is kept if "
                             "writing fails."),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                w.statusBar().showMessage("Not saved: the table was left as it was", 5000)
                return
        self._write(layer, dst, replace=bool(existing))

    def _write(self, layer, dst, *, replace: bool) -> None:
        from layers.postgis import write_postgis_layers

        gdf = layer.gdf
        self.window._run(lambda fb: write_postgis_layers({layer.name: gdf}, dst, replace=replace, feedback=fb),
                         f"Writing {layer.name} to {dst.qualified}…", lambda tables: self._written(tables, layer),
                         "Cannot save to the database")

    def _written(self, tables: list[str], layer) -> None:
        self.window.statusBar().showMessage(f"Saved {layer.name} to {', '.join(tables)}", 10000)


def _read_again(jobs, feedback) -> list:
    """Each layer's table read again: a GeoDataFrame, a :class:`PasswordRequired`, or an error message."""
    from layers.feedback import SubFeedback
    from layers.postgis import read_postgis_layer

    out = []
    for i, (path, name) in enumerate(jobs):
        try:
            src = parse_url(path)
            if name is not None:  # as layers.readers.read_layer: the layer names the table
                schema, _, table = name.rpartition(".")
                src = src.with_table(table, schema or "public")
            part = SubFeedback(feedback, i / len(jobs), (i + 1) / len(jobs))
            out.append(read_postgis_layer(src, feedback=part))
        except PasswordRequired as exc:
            out.append(exc)
        except CityDeskError as exc:
            out.append(exc.message)
    return out


def _read_and_prepare(sources, bbox, crs, feedback):
    """Read the tables (only what meets ``bbox``, in the project's ``crs``) and prepare them for drawing."""
    from app.main_window import _prepare
    from layers.crs import metric_crs
    from layers.feedback import SubFeedback
    from layers.postgis import read_postgis_layers

    layers = []
    for i, src in enumerate(sources):
        part = SubFeedback(feedback, 0.6 * i / len(sources), 0.6 * (i + 1) / len(sources))
        layers += read_postgis_layers(src, bbox=bbox, bbox_crs=crs if bbox is not None else None, feedback=part)
    if crs is None:
        crs = metric_crs(layers[0].gdf, name=layers[0].name)
    _prepare(layers, crs, SubFeedback(feedback, 0.6, 1.0))
    return layers, crs


def install_postgis(window) -> PostgisActions:
    """Layer → Add PostGIS layer… and Save result to database…"""
    return PostgisActions(window)
