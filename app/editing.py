"""Editing points for scenarios: an editable copy of a point layer, add / move / delete with
undo and redo, save to a file.

``install_editing(window)`` adds the Edit menu and the Editing toolbar and returns the
:class:`Editing` controller (``window.editing``). One layer is edited at a time, in an
:class:`app.edit_session.EditSession` that owns a ``QUndoStack`` (the undo commands are there;
the map tools in :mod:`app.edit_tools`).

Starting to edit a layer makes a copy named "<name> (scenario)" on top of the project (same CRS,
columns, role and style, with a magenta outline, no source file) and edits that; the original's
data is never touched, it is only hidden (else deleted points would still show from under the
copy; its box in the Layers panel shows it again). A layer that already is a scenario copy is
edited directly.

Stopping with edits not yet saved to a file asks: *Save…* (to a GeoPackage / GeoJSON, then stop),
*Keep in project* (stop; the layer stays as edited and is saved with the project), *Discard* (go
back to the layer as it was at its last save to a file in this session or, never saved, when
editing started; a copy made by this session and never saved is removed again) or *Cancel*.
Opening another project ends the session without asking (the project's own unsaved-changes
prompt covers it: every edit marks the project modified).
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QMessageBox, QStyle, QToolBar

from app.edit_session import EditSession, is_scenario, scenario_copy
from app.edit_tools import AddPointTool, DeletePointTool, EditTool, MovePointTool, edit_icon
from app.layers_panel import LAYER_ROLE
from app.map_tools import PanTool
from app.plain_text import tell
from app.render import CACHE
from app.workers import Task
from layers import edits
from layers.layer import Layer, Source
from layers.writers import write_layers

SAVE_FILTERS = "GeoPackage (*.gpkg);;GeoJSON (*.geojson)"


def ask_unsaved(parent, name: str) -> str:
    """Ask what to do with unsaved edits: 'save', 'keep', 'discard' or 'cancel'."""
    box = QMessageBox(QMessageBox.Icon.Question, "Stop editing",
                      f"The edits of '{name}' are not saved to a file.", parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # the layer name is untrusted text
    box.setInformativeText("Save them to a file, keep them in the project (they are saved with the project), "
                           "or discard them?")
    buttons = {box.addButton("Save…", QMessageBox.ButtonRole.AcceptRole): "save",
               box.addButton("Keep in project", QMessageBox.ButtonRole.ActionRole): "keep",
               box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole): "discard",
               box.addButton(QMessageBox.StandardButton.Cancel): "cancel"}
    box.exec()
    return buttons.get(box.clickedButton(), "cancel")


# ---------------------------------------------------------------------------- the controller

class Editing(QObject):
    """The Edit menu, the Editing toolbar and the one edit session of the window."""

    sessionChanged = Signal(object)  # the EditSession started, or None when editing stopped
    layerChanged = Signal(object)  # a Layer whose rows (a new ``gdf``) or source changed by editing
    saved = Signal(object)  # the path the edited layer was written to
    saveFailed = Signal(str)  # why it could not be written (also shown in a message box)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session: EditSession | None = None
        self.group = QUndoGroup(self)
        self._saving: dict[int, tuple] = {}  # save task generation -> (session, path, frame, then stop)
        self._save_generation = 0
        canvas = window.canvas
        self.tools: dict[str, EditTool] = {"add": AddPointTool(canvas, self), "move": MovePointTool(canvas, self),
                                           "delete": DeletePointTool(canvas, self)}
        self._build_actions()
        self._update_actions()
        window.projectShown.connect(self._project_shown)
        if hasattr(window.panel, "layersChanged"):
            window.panel.layersChanged.connect(self._layers_changed)

    # ----------------------------------------------------------------------------- actions
    def _build_actions(self) -> None:
        w = self.window
        icons = w.style()
        self.start_action = QAction(edit_icon("start"), "&Edit a copy of this layer", w,
                                    triggered=lambda: self.start_editing())
        self.start_action.setToolTip("Edit a copy of this layer: a scenario copy of the point layer chosen in "
                                     "the Layers panel (a scenario layer is edited directly)")
        self.save_action = QAction(edit_icon("save"), "&Save edits…", w, triggered=lambda: self.save_edits(),
                                   toolTip="Save the edited layer to a GeoPackage or GeoJSON file")
        self.stop_action = QAction(edit_icon("stop"), "S&top editing", w, triggered=lambda: self.stop_editing())
        self.tool_actions: dict[str, QAction] = {}
        self.tool_group = QActionGroup(w)
        self.tool_group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for name, text, tip in (("add", "&Add point", "Click on the map to add a point"),
                                ("move", "&Move point", "Drag a point to move it"),
                                ("delete", "&Delete point", "Click a point to delete it (Del deletes the "
                                                            "selected points)")):
            action = QAction(edit_icon(name), text, w, checkable=True, toolTip=f"{tip}; Esc leaves the tool")
            action.triggered.connect(lambda checked, name=name: self.use_tool(name) if checked else self.leave_tool())
            self.tool_group.addAction(action)
            self.tool_actions[name] = action
        self.delete_selected_action = QAction("Delete selected points", w, triggered=self.delete_selected)
        self.delete_selected_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.delete_selected_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # on the map only
        w.canvas.addAction(self.delete_selected_action)
        self.undo_action = self.group.createUndoAction(w, "Undo")
        self.redo_action = self.group.createRedoAction(w, "Redo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.undo_action.setIcon(icons.standardIcon(QStyle.StandardPixmap.SP_ArrowBack))
        self.redo_action.setIcon(icons.standardIcon(QStyle.StandardPixmap.SP_ArrowForward))

        self.menu = menu = _edit_menu(w)
        for group in ((self.undo_action, self.redo_action), (self.start_action, self.save_action, self.stop_action),
                      (*self.tool_actions.values(), self.delete_selected_action)):
            if not menu.isEmpty():
                menu.addSeparator()
            menu.addActions(list(group))
        bar = QToolBar("Editing", w)
        bar.setObjectName("edit_toolbar")
        bar.setMovable(False)
        bar.addActions([self.start_action, self.save_action, self.stop_action])
        bar.addSeparator()
        bar.addActions(list(self.tool_actions.values()))
        for action in self.tool_actions.values():  # the tools with their names: what a click does matters
            bar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addSeparator()
        bar.addActions([self.undo_action, self.redo_action])
        w.addToolBar(bar)
        self.status_label = QLabel("", w, visible=False)  # what is being edited, in the status bar
        self.status_label.setContentsMargins(8, 0, 8, 0)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setStyleSheet("QLabel { color: #b0006d; }")
        w.statusBar().insertPermanentWidget(0, self.status_label)
        self.toolbar = bar

    def _update_actions(self) -> None:
        if self.session is not None and not shiboken6.isValid(self.session.stack):
            return  # the window is being destroyed
        editing = self.session is not None
        self.start_action.setEnabled(self.window.project is not None or editing)
        for action in (self.save_action, self.stop_action, self.delete_selected_action, *self.tool_actions.values()):
            action.setEnabled(editing)
        if editing:
            s = self.session
            steps = abs(s.stack.index() - s.stack.cleanIndex()) if s.stack.cleanIndex() >= 0 else 0
            note = "" if not s.dirty() else f" — {_count(steps, 'unsaved edit')}" if steps else " — unsaved edits"
            self.status_label.setText(f"Editing {s.layer.name}: {_count(len(s.layer), 'point')}{note}")
        self.status_label.setVisible(editing)

    # ---------------------------------------------------------------------- start and stop
    def current_layer(self) -> Layer | None:
        """The layer chosen in the Layers panel (None if none)."""
        return self.window.panel.current_layer()

    def start_editing(self, layer: Layer | None = None) -> Layer | None:
        """Edit ``layer`` (default: the panel's current layer): a scenario copy of it on top of the
        project, or the layer itself if it is a scenario copy. Returns the layer being edited, or
        None (after telling the user why) if it cannot be edited."""
        w = self.window
        if w.project is None:
            self._tell("Open a project first, then choose a point layer in the Layers panel.")
            return None
        layer = layer if layer is not None else self.current_layer()
        if layer is None:
            self._tell("Choose a point layer in the Layers panel first (bins, benches, stops…), "
                       "then Edit → Edit a copy of this layer.")
            return None
        if layer.gdf is None:
            self._tell(f"The layer '{layer.name}' could not be read, so it cannot be edited.\n\n{layer.error or ''}")
            return None
        kind = layer.geometry_kind
        if kind != "point" and not (kind == "none" and is_scenario(layer)):
            what = {"none": "no features", "mixed": "features of several kinds"}.get(kind, f"{kind} features")
            self._tell(f"The layer '{layer.name}' has {what}. Only point layers can be edited: "
                       "choose a layer of points (bins, benches, stops…).")
            return None
        if self.session is not None:
            if self.session.layer is layer:
                return layer
            if not self.stop_editing():
                return None
        original = None
        if not is_scenario(layer):
            original, layer = layer, scenario_copy(layer, [lay.name for lay in w.project.layers])
            original.visible = False  # else a deleted or moved point would still show from under the copy
            w.project.layers.insert(0, layer)  # the canvas shows the same list
            w.mark_modified()
        else:
            layer.gdf = edits.editable(layer.gdf)  # same values; integer columns nullable
        self.session = EditSession(self, layer, original)
        self.group.addStack(self.session.stack)
        self.group.setActiveStack(self.session.stack)
        self.session.stack.indexChanged.connect(lambda _i: self._update_actions())
        self.session.stack.cleanChanged.connect(lambda _c: self._update_actions())
        self._refresh_panel(layer)  # the copy's row, made current
        w.canvas.refresh()
        self._update_actions()
        w.statusBar().showMessage(f"Editing '{layer.name}': choose Add point, Move point or Delete point", 8000)
        self.sessionChanged.emit(self.session)
        return layer

    def stop_editing(self) -> bool:
        """Stop editing; with unsaved edits, ask first (see the module docstring). True if editing
        stopped now (after *Save…* it stops once the file is written)."""
        s = self.session
        if s is None:
            return True
        if s.dirty():
            answer = ask_unsaved(self.window, s.layer.name)
            if answer == "cancel":
                return False
            if answer == "save":
                self.save_edits(then_stop=True)
                return False
            if answer == "discard":
                self._discard(s)
        self._end_session()
        return True

    def _discard(self, s: EditSession) -> None:
        w = self.window
        if s.original is not None and s.layer.source is None:  # the copy goes, the original shows again
            w.project.layers[:] = [lay for lay in w.project.layers if lay is not s.layer]
            w.selection.forget(s.layer)
            s.original.visible = True
            self._refresh_panel(None)
            w.canvas.refresh()
        elif s.layer.gdf is not s.saved_gdf:
            s.apply(s.saved_gdf)

    def _project_shown(self, _project) -> None:
        self._end_session()  # another project: its layers replaced the edited one
        self._update_actions()

    def _end_session(self) -> None:
        s = self.session
        if s is None:
            return
        self.session = None
        if isinstance(self.window.canvas.tool, EditTool):
            self.leave_tool()
        self.group.removeStack(s.stack)
        s.deleteLater()
        self._update_actions()
        self.sessionChanged.emit(None)

    # ---------------------------------------------------------------------------- saving
    def save_edits(self, path: str | Path | None = None, *, then_stop: bool = False) -> None:
        """Write the edited layer to ``path`` (asked for if None: a GeoPackage or GeoJSON file) in a
        worker, then make that file the layer's source."""
        s = self.session
        if s is None:
            return
        if path is None:
            folder = self.window.project.path.parent if getattr(self.window.project, "path", None) else Path.cwd()
            stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in s.layer.name).strip("_") or "scenario"
            chosen, selected = QFileDialog.getSaveFileName(self.window, "Save edits", str(folder / f"{stem}.gpkg"),
                                                           SAVE_FILTERS)
            if not chosen:
                return
            path = Path(chosen)
            if path.suffix.lower() not in (".gpkg", ".geojson", ".json"):
                path = path.with_name(path.name + (".geojson" if "GeoJSON" in (selected or "") else ".gpkg"))
        path, gdf, name = Path(path), s.layer.gdf, s.layer.name

        def write(feedback):
            feedback.progress(0.1, f"Saving {name}…")
            write_layers({name: gdf}, path)  # atomic: a failed write leaves no half-written file
            return path

        # A task of its own (not the window's: that would cancel a running analysis); a point layer
        # is written in a moment, so no progress bar.
        self._save_generation += 1
        task = Task(write, self._save_generation)
        self._saving[self._save_generation] = (s, path, gdf, then_stop)
        task.signals.finished.connect(self._save_finished)  # bound methods: delivered on the GUI thread
        task.signals.failed.connect(self._save_failed)
        self.window.statusBar().showMessage(f"Saving {name} to {path.name}…")
        task.start()

    def _save_finished(self, generation: int, _result) -> None:
        s, path, gdf, then_stop = self._saving.pop(generation)
        s.layer.source = Source(str(path), s.layer.name if path.suffix.lower() == ".gpkg" else None)
        if self.session is s:
            s.saved_gdf = gdf
            if s.layer.gdf is gdf:
                s.stack.setClean()
        self.window.mark_modified()  # the project now points to the file
        self.layer_changed(s.layer)
        self.window.statusBar().showMessage(f"Saved {_count(len(gdf), 'point')} of '{s.layer.name}' to {path}",
                                            8000)
        self.saved.emit(path)
        if then_stop and self.session is s:
            self._end_session()

    def _save_failed(self, generation: int, message: str, user_error: bool) -> None:
        self._saving.pop(generation, None)
        self.window.statusBar().clearMessage()
        if not user_error:
            message = f"Something went wrong that CityDesk did not expect: {message}"
        self._tell(message, title="Cannot save the edits", warning=True)
        self.saveFailed.emit(message)

    # ------------------------------------------------------------------------------ tools
    def use_tool(self, name: str) -> None:
        """Make the add / move / delete tool the canvas's tool."""
        if self.session is None:
            self.tool_actions[name].setChecked(False)
            return
        self.tool_actions[name].setChecked(True)
        self.window.canvas.set_tool(self.tools[name])
        self.window.canvas.setFocus()

    def leave_tool(self) -> None:
        """Back to the window's pan tool (Esc in an edit tool)."""
        for action in self.tool_actions.values():
            action.setChecked(False)
        pan = getattr(self.window, "pan_action", None)
        if isinstance(pan, QAction) and pan.isEnabled():
            pan.trigger()
        if isinstance(self.window.canvas.tool, EditTool):
            self.window.canvas.set_tool(PanTool(self.window.canvas))

    def tool_deactivated(self, tool: EditTool) -> None:
        for name, t in self.tools.items():
            if t is tool:
                self.tool_actions[name].setChecked(False)

    def delete_selected(self) -> int:
        """Delete the selected features of the edited layer; returns how many."""
        s = self.session
        if s is None:
            return 0
        rows = self.window.selection.rows(s.layer)
        if not len(rows):
            self.window.statusBar().showMessage(f"No points of '{s.layer.name}' are selected", 5000)
            return 0
        return s.delete_rows(rows)

    # ---------------------------------------------------------------------------- showing
    def layer_changed(self, layer: Layer) -> None:
        """Show a layer whose data changed: the map, its row (count, legend) in the panel."""
        if hasattr(self.window.panel, "refresh_layer"):
            self.window.panel.refresh_layer(layer)
        else:
            self._refresh_panel(layer)
        self.window.canvas.refresh()
        self._update_actions()
        self.layerChanged.emit(layer)

    def _refresh_panel(self, current: Layer | None) -> None:
        """The panel's rows made again (a layer came or went); the current row on ``current``."""
        w = self.window
        panel, crs = w.panel, w.project.crs
        chosen = current or self.current_layer()
        panel.set_layers(w.project.layers, getattr(w, "_legend", None) or (lambda lay: CACHE.legend(lay, crs)))
        for i in range(panel.topLevelItemCount()):
            item = panel.topLevelItem(i)
            if item.data(0, LAYER_ROLE) is chosen:
                panel.setCurrentItem(item)

    def _layers_changed(self) -> None:
        """A layer was moved, renamed or removed in the panel: a removed edited layer ends editing."""
        s = self.session
        if s is not None and self.window.project is not None \
                and not any(lay is s.layer for lay in self.window.project.layers):
            self._end_session()
        self._update_actions()

    def _tell(self, text: str, title: str = "Editing", warning: bool = False) -> None:
        tell(self.window, title, text, warning=warning)  # names are untrusted text


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}".replace(",", " ")


def _edit_menu(window):
    """The window's Edit menu (made, right after File, if there is none yet)."""
    bar = window.menuBar()
    actions = bar.actions()
    for action in actions:
        if action.menu() is not None and action.text().replace("&", "") == "Edit":
            return action.menu()
    menu = QMenu("&Edit", window)
    after_file = next((actions[i + 1] for i, a in enumerate(actions[:-1]) if a.text().replace("&", "") == "File"),
                      None)
    if after_file is not None:
        bar.insertMenu(after_file, menu)
    else:
        bar.addMenu(menu)
    return menu


def install_editing(window) -> Editing:
    """Add the Edit menu and the Editing toolbar to ``window``; returns the controller."""
    return Editing(window)
