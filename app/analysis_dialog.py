"""The dialog of an analysis, generated from its declaration in :mod:`analysis.registry`: a
layer picker per input role (only layers of the role's geometry kinds), a widget per parameter
(units as suffixes, bounds as limits, help as tooltip and a grey line), checked with
``Param.parse``. The project's saved settings (``project.analyses``) prefill it. Running it is
:mod:`app.analysis_actions`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from weakref import WeakSet

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.wording import param_label
from app.engine_choice import EngineChoice, engine_box
from layers.errors import CityDeskError
from layers.layer import ROLES, Layer
from layers.project import AnalysisRun

NONE_TEXT = "(none)"
NEW_SETTINGS = "New settings (defaults)"
_FACILITIES = tuple(r for r in ROLES if r not in ("buildings", "streets", "districts", "other"))
RESULTS: WeakSet[Layer] = WeakSet()  # result layers made in this run: not preselected as inputs


@dataclass
class Request:
    """What the dialog asks to run: the settings (as saved in the project) and the chosen layers."""

    run: AnalysisRun
    layers: dict[str, Layer]
    engine: EngineChoice = field(default_factory=EngineChoice)  # where it runs (app.engine_choice)


def accepts(role: Role, layer: Layer) -> bool:
    """Whether ``layer`` can be offered for ``role`` (empty layers are offered: running explains)."""
    if layer.gdf is None:
        return False
    kind = layer.geometry_kind
    return kind == "none" or kind in role.geometry or kind == "mixed" and len(set(role.geometry)) >= 3


def default_layer(role: Role, candidates: list[Layer], taken: list[Layer]) -> Layer | None:
    """The layer a picker starts on: one whose role is the role's name (an input, not a result of
    this session), else one named like the role ('Population grid' for ``grid``), else a facility
    layer (stops, bins, green spaces...) not taken by another role, else the first free one."""
    usable = [lay for lay in candidates if len(lay) > 0]
    free = [lay for lay in usable if lay not in taken]
    if role.needs_attr:  # only a layer that carries what the analysis reads will do
        usable = [lay for lay in usable if role.needs_attr in lay.gdf.attrs] or usable
    tests = (lambda lay: lay.role == role.name and lay not in RESULTS,
             lambda lay: bool(role.like) and lay.role == role.like and lay in free and lay not in RESULTS,
             lambda lay: lay.role == role.name,
             lambda lay: role.name.rstrip("s") in lay.name.lower(),
             lambda lay: lay.role in _FACILITIES and lay in free and lay not in RESULTS,
             lambda lay: lay in free)
    for test in tests:
        found = next((lay for lay in usable if test(lay)), None)
        if found is not None:
            return found
    return None


class AnalysisDialog(QDialog):
    """The dialog of ``spec`` over ``layers`` (the project's, top-first). ``saved`` are the
    project's saved settings of this analysis; ``preset`` one of them to start from. After Run,
    ``request`` holds the checked :class:`Request`."""

    def __init__(self, spec: Analysis, layers: list[Layer], saved: list[AnalysisRun] = (),
                 preset: AnalysisRun | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.spec, self.layers, self.saved = spec, list(layers), list(saved)
        self.request: Request | None = None
        self.setWindowTitle(spec.title)
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        about = _label(spec.description)
        about.setToolTip("\n".join(spec.sources))
        layout.addWidget(about)
        if spec.sources:
            layout.addWidget(_grey("Source: " + "; ".join(spec.sources)))

        form = QFormLayout()
        self.saved_combo = QComboBox(self)
        self.saved_combo.addItem(NEW_SETTINGS)
        for run in self.saved:
            self.saved_combo.addItem(run.title or spec.title)
        self.saved_combo.setEnabled(bool(self.saved))
        self.saved_combo.setToolTip("Settings saved in the project: choose one to fill in the dialog")
        form.addRow("Use saved settings:", self.saved_combo)
        self.title_edit = QLineEdit(spec.title, self)
        self.title_edit.setToolTip("Names the result layers and the entry in the Results panel")
        form.addRow("Name:", self.title_edit)
        layout.addLayout(form)

        inputs = QGroupBox("Input layers", self)
        self.pickers: dict[str, QComboBox] = {}
        role_form = QFormLayout(inputs)
        role_form.setVerticalSpacing(3)
        taken: list[Layer] = []
        for role in spec.roles:
            combo = self._picker(role, taken)
            self.pickers[role.name] = combo
            kinds = " or ".join(role.geometry)
            help_text = f"{role.help} ({kinds} layer{'' if role.required else ', optional'})".strip()
            _add_row(role_form, f"{param_label(role.name)}:", combo, help_text)
        body = QWidget(self)  # inputs and parameters scroll when an analysis has many of them
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addWidget(inputs)

        params = QGroupBox("Parameters", self)
        self.editors: dict[str, QWidget] = {}
        param_form = QFormLayout(params)
        param_form.setVerticalSpacing(3)
        for param in spec.params:
            editor = _editor(param, self)
            self.editors[param.name] = editor
            _add_row(param_form, f"{param_label(param.name)}:", editor, param.help)
        if spec.params:
            body_layout.addWidget(params)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        scroll.setMinimumHeight(min(body.sizeHint().height() + 4, 420))  # room for the engine note on small screens
        layout.addWidget(scroll, 1)

        self.engine_box = engine_box(self, self._whole_reason)  # issue 10: this computer, or tiles on Dask
        layout.addWidget(self.engine_box)

        self.message = _label("")
        self.message.setStyleSheet("color: #b00020;")
        self.message.setVisible(False)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, parent=self)
        self.run_button = self.buttons.addButton("Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.run_button.setDefault(True)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.saved_combo.currentIndexChanged.connect(self._saved_chosen)
        if preset is not None and preset in self.saved:
            self.saved_combo.setCurrentIndex(self.saved.index(preset) + 1)
        missing = [role for role in spec.roles if role.required and self.pickers[role.name].count() == 0]
        if missing:
            self._show_message(f"No layer of the project can be the {missing[0].name} layer: add a layer of "
                               f"{' or '.join(missing[0].geometry)} features first.")
            self.run_button.setEnabled(False)
        width = 560  # tall enough for the wrapped help lines (a dialog's size hint ignores them)
        self.resize(width, self.layout().totalHeightForWidth(width))

    # ------------------------------------------------------------------------------ values
    def apply_run(self, run: AnalysisRun) -> None:
        """Fill the dialog from saved settings (layers by name, parameters by value)."""
        self.title_edit.setText(run.title or self.spec.title)
        for role, name in run.layers.items():
            combo = self.pickers.get(role)
            if combo is None:
                continue
            index = next((i for i in range(combo.count())
                          if combo.itemData(i) is not None and combo.itemData(i).name == name), -1)
            if index >= 0:
                combo.setCurrentIndex(index)
        for name, value in {**self.spec.defaults(), **run.params}.items():
            if name in self.editors:
                try:
                    _set_value(self.editors[name], self.spec.param(name).parse(value))
                except CityDeskError as exc:
                    self._show_message(f"Saved settings: {exc.message}")

    def _whole_reason(self) -> str | None:
        """Why this analysis, with the settings as they stand, would run whole on a cluster."""
        from analysis.partition import partition_reason

        try:
            return partition_reason(self.spec, {**self.spec.defaults(), **self.values()})
        except (CityDeskError, TypeError, ValueError):
            return None

    def values(self) -> dict[str, object]:
        """The parameter values as the widgets hold them."""
        return {name: _value(editor) for name, editor in self.editors.items()}

    def checked(self) -> Request:
        """The dialog's settings checked with each parameter's ``parse``; raises CityDeskError."""
        chosen: dict[str, Layer] = {}
        for role in self.spec.roles:
            layer = self.pickers[role.name].currentData()
            if layer is None and role.required:
                raise CityDeskError(f"choose a layer for '{role.name}' ({role.help})")
            if layer is not None:
                chosen[role.name] = layer
        params = {name: self.spec.param(name).parse(value) for name, value in self.values().items()}
        title = self.title_edit.text().strip() or self.spec.title
        run = AnalysisRun(self.spec.id, title, {role: lay.name for role, lay in chosen.items()}, params)
        engine = self.engine_box.choice()
        if engine.kind == "cluster" and not engine.scheduler:
            raise CityDeskError("give the cluster's scheduler address, e.g. tcp://HOST:8786")
        return Request(run, chosen, engine)

    def accept(self) -> None:
        try:
            self.request = self.checked()
        except CityDeskError as exc:
            self._show_message(exc.message)
            return
        super().accept()

    # ------------------------------------------------------------------------------ helpers
    def _picker(self, role: Role, taken: list[Layer]) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(f"role_{role.name}")
        if not role.required:
            combo.addItem(NONE_TEXT, None)
        candidates = [lay for lay in self.layers if accepts(role, lay)]
        for layer in candidates:
            text = layer.name if len(layer) else f"{layer.name} (no features)"
            combo.addItem(text, layer)
            combo.setItemData(combo.count() - 1, f"{len(layer):,} {layer.geometry_kind} features".replace(",", " "),
                              Qt.ItemDataRole.ToolTipRole)
        if role.required:
            default = default_layer(role, candidates, taken)
        else:  # an optional input is filled in only by a layer of exactly that role
            default = next((lay for lay in candidates if lay.role == role.name and len(lay) and lay not in RESULTS),
                           None)
        if default is not None:
            combo.setCurrentIndex(combo.findData(default))
            taken.append(default)
        return combo

    def _saved_chosen(self, index: int) -> None:
        self.message.setVisible(False)
        if index > 0:
            self.apply_run(self.saved[index - 1])
        else:
            self.title_edit.setText(self.spec.title)
            for name, value in self.spec.defaults().items():
                _set_value(self.editors[name], value)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(True)


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


def _grey(text: str) -> QLabel:
    label = _label(text)
    label.setStyleSheet("color: #666666;")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    return label


def _add_row(form: QFormLayout, label: str, widget: QWidget, help_text: str) -> None:
    """A form row, with the help text as tooltip and in a grey line under the widget."""
    widget.setToolTip(help_text)
    form.addRow(label, widget)
    form.labelForField(widget).setToolTip(help_text)
    if help_text:
        grey = _grey(help_text)
        grey.setContentsMargins(0, 0, 0, 8)
        grey.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        form.setWidget(form.rowCount(), QFormLayout.ItemRole.FieldRole, grey)


def _editor(param: Param, parent: QWidget) -> QWidget:
    """The widget of a parameter, holding its default."""
    if param.type in ("float", "int"):
        editor = QDoubleSpinBox(parent) if param.type == "float" else QSpinBox(parent)
        limit = 1e15 if param.type == "float" else 2**31 - 1
        low = -limit if param.minimum is None else max(param.minimum, -limit)
        high = limit if param.maximum is None else min(param.maximum, limit)
        if param.type == "float":
            editor.setDecimals(_decimals(param.default, high))
            editor.setRange(low, high)
        else:
            editor.setRange(int(math.ceil(low)), int(math.floor(high)))
        editor.setSingleStep(_step(param.default, param.type))
        editor.setGroupSeparatorShown(True)
        if param.unit:
            editor.setSuffix(f" {param.unit}")
        editor.setMinimumWidth(140)
    elif param.type == "bool":
        editor = QCheckBox(parent)
    elif param.type == "choice":
        editor = QComboBox(parent)
        editor.addItems(list(param.choices))
    else:
        editor = QLineEdit(parent)
        if param.name.endswith("_field"):
            editor.setPlaceholderText("(automatic)")
    editor.setObjectName(f"param_{param.name}")
    _set_value(editor, param.default)
    return editor


def _decimals(default: object, high: float) -> int:
    decimals = 0 if high > 10_000 else 1 if high > 100 else 2
    if isinstance(default, int | float) and not isinstance(default, bool):
        text = f"{float(default):.6f}".rstrip("0")
        decimals = max(decimals, len(text.split(".")[1]))
    return decimals


def _step(default: object, kind: str) -> float:
    if isinstance(default, int | float) and not isinstance(default, bool) and default:
        step = 10 ** (math.floor(math.log10(abs(default))) - 1)
        return max(int(step), 1) if kind == "int" else step
    return 1


def _set_value(editor: QWidget, value: object) -> None:
    if isinstance(editor, QDoubleSpinBox | QSpinBox):
        editor.setValue(value if value is not None else 0)
    elif isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QComboBox):
        editor.setCurrentIndex(max(editor.findText(str(value)), 0))
    elif isinstance(editor, QLineEdit):
        editor.setText("" if value is None else str(value))


def _value(editor: QWidget) -> object:
    if isinstance(editor, QDoubleSpinBox | QSpinBox):
        return editor.value()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QComboBox):
        return editor.currentText()
    return editor.text()
