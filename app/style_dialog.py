"""The style editor of a layer: single symbol, categorized (a colour per value, click one to change
it), graduated (mapclassify classes of a numeric field coloured by a colour-blind-safe ramp) and
labels. Apply restyles the map at once; OK applies and closes.

The dialog is a view: :class:`StyleForm` is what its widgets hold, :func:`style_from_form` turns
that into the new :class:`~layers.style.Style` (pure, tested without Qt), and the previews (the
category list, the class breaks) come from :func:`layers.style.symbolize` run in a worker, so a
layer of a million features does not freeze the window.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import pandas as pd
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.symbols import BACKGROUND, ColorButton, ramp_colours, ramp_pixmap, swatch_icon, symbol_pixmap
from app.workers import Task
from layers.layer import Layer
from layers.style import KINDS, NO_VALUE, PALETTE_TITLES, PALETTES, RAMPS, SCHEMES, Style, category_keys, symbolize

KIND_TITLES = {"single": "Single symbol", "categorized": "Categorized", "graduated": "Graduated"}
SCHEME_TITLES = {"quantiles": "Quantiles (equal count)", "natural_breaks": "Natural breaks (Fisher-Jenks)",
                 "equal_interval": "Equal interval", "std_mean": "Standard deviation", "manual": "Manual breaks"}
MAX_LISTED = 200  # categories listed in the dialog
MANY_CATEGORIES = 30  # more than this: a hint that a categorized style will not read well
KEY_ROLE = Qt.ItemDataRole.UserRole + 2


# ------------------------------------------------------------------------------ pure parts

@dataclass(frozen=True)
class StyleForm:
    """What the dialog's widgets hold. Percentages are whole numbers 0 to 100."""

    kind: str = "single"
    fill: str = Style.fill
    stroke: str = Style.stroke
    stroke_width: float = Style.stroke_width
    size: float = Style.size
    opacity_pct: int = 100
    fill_opacity_pct: int = 80
    category_field: str | None = None
    palette: str = "okabe_ito"
    categories: dict[str, str] = field(default_factory=dict)  # category key -> colour (the user's picks)
    graduated_field: str | None = None
    scheme: str = "quantiles"
    classes: int = 5
    ramp: str = "viridis"
    unit: str = ""
    label_field: str | None = None
    label_size: float = 11.0
    label_color: str = "#222222"
    breaks: str = ""  # manual class bounds as typed: "20, 40, 60, 80, 100"

    @classmethod
    def from_style(cls, style: Style) -> StyleForm:
        return cls(style.kind, style.fill, style.stroke, style.stroke_width, style.size,
                   round(style.opacity * 100), round(style.fill_opacity * 100), style.field, style.palette,
                   dict(style.categories), style.field, style.scheme, style.classes, style.ramp, style.unit,
                   style.label_field, style.label_size, style.label_color,
                   ", ".join(f"{b:g}" for b in style.breaks))


def style_from_form(base: Style, form: StyleForm) -> Style:
    """The style the form describes, starting from the layer's ``base`` style. Category colours
    and labels and the unit belong to a field: they are kept only while the field stays."""
    kind = form.kind if form.kind in KINDS else "single"
    chosen = {"categorized": form.category_field, "graduated": form.graduated_field}.get(kind, base.field)
    same_field = chosen == base.field
    categories = dict(form.categories) if kind == "categorized" else dict(base.categories) if same_field else {}
    unit = form.unit.strip()[:20] if kind == "graduated" else base.unit if same_field else ""

    def fraction(pct: int, old: float) -> float:  # an untouched percentage keeps the exact old value
        return old if round(old * 100) == pct else min(max(pct, 0), 100) / 100

    return replace(base, kind=kind, fill=form.fill, stroke=form.stroke, stroke_width=float(form.stroke_width),
                   size=float(form.size), opacity=fraction(form.opacity_pct, base.opacity),
                   fill_opacity=fraction(form.fill_opacity_pct, base.fill_opacity), field=chosen or None,
                   categories=categories, category_labels=dict(base.category_labels) if same_field else {},
                   palette=form.palette if form.palette in PALETTES else base.palette, scheme=form.scheme,
                   classes=int(form.classes), ramp=form.ramp, unit=unit, label_field=form.label_field or None,
                   label_size=float(form.label_size), label_color=form.label_color,
                   breaks=parse_breaks(form.breaks) or (base.breaks if form.scheme == "manual" else ()))


def parse_breaks(text: str) -> tuple[float, ...] | None:
    """Typed class bounds ("20, 40; 60 80") as rising numbers, or None when they are not that."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        return None
    ok = 1 <= len(values) <= 12 and all(math.isfinite(v) for v in values)
    return values if ok and all(a < b for a, b in zip(values, values[1:], strict=False)) else None


@dataclass(frozen=True)
class Preview:
    """What the dialog lists for a style: legend entries with their feature counts and, for a
    categorized style, the category key of each entry."""

    style: Style
    legend: list[tuple[str, str]]
    counts: list[int]
    keys: list[str]


def preview_of(style: Style, gdf) -> Preview:
    """The legend of ``style`` on ``gdf`` (from :func:`symbolize`) with feature counts."""
    sym = symbolize(style, gdf)
    if style.kind == "categorized" and style.field in gdf.columns:
        keys = category_keys(gdf[style.field])
        per_key = gdf[style.field].astype("string").fillna(NO_VALUE).value_counts()
        return Preview(style, sym.legend, [int(per_key.get(k, 0)) for k in keys], keys)
    per_colour = pd.Series(sym.colors).value_counts()
    return Preview(style, sym.legend, [int(per_colour.get(c, 0)) for _, c in sym.legend], [])


# ------------------------------------------------------------------------------- widgets

def _spin(box, low, high, value):
    box.setRange(low, high)
    box.setValue(value)
    return box


class StyleDialog(QDialog):
    """Edit ``layer``'s style. ``applied(Style)`` on Apply and OK; ``previewReady()`` when the
    lists show the current settings (their symbolize ran in a worker)."""

    applied = Signal(object)
    previewReady = Signal()

    def __init__(self, layer: Layer, parent: QWidget | None = None):
        super().__init__(parent)
        self.layer, self.base = layer, layer.style
        self.geom_kind = layer.geometry_kind
        gdf = layer.gdf
        geometry_name = gdf.geometry.name if hasattr(gdf, "geometry") else None
        self.columns = [c for c in gdf.columns if isinstance(c, str) and c != geometry_name]
        self.numeric = [c for c in self.columns if pd.api.types.is_numeric_dtype(gdf[c])
                        and not pd.api.types.is_bool_dtype(gdf[c])]
        form = StyleForm.from_style(self.base)
        self._categories = dict(form.categories)
        self._generation = 0
        self._task: Task | None = None
        self.preview: Preview | None = None
        self.setWindowTitle(f"Style — {layer.name}")
        self.setMinimumSize(600, 640)
        self._build(form)
        self._timer = QTimer(self, singleShot=True, interval=60)
        self._timer.timeout.connect(self._start_preview)
        self._wire()
        self._kind_changed()

    # ---------------------------------------------------------------------------- build
    def _build(self, form: StyleForm) -> None:
        header = QLabel(f"{self.layer.name} · {len(self.layer):,} features ({self.geom_kind})", self)
        header.setTextFormat(Qt.TextFormat.PlainText)
        header.setStyleSheet("font-weight: 600;")
        self.kind = QComboBox(self)
        for kind in KINDS:
            self.kind.addItem(KIND_TITLES[kind], kind)
        self.kind.setCurrentIndex(max(self.kind.findData(form.kind), 0))
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._single_page(form))
        self.pages.addWidget(self._categorized_page(form))
        self.pages.addWidget(self._graduated_page(form))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Symbology:", self))
        top.addWidget(self.kind, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self._symbol_box(form), 1)
        bottom.addWidget(self._labels_box(form), 1)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.buttons)

    def _single_page(self, form: StyleForm) -> QWidget:
        page = QWidget(self)
        rows = QFormLayout(page)
        is_line = self.geom_kind == "line"
        self.main_colour = ColorButton(form.stroke if is_line else form.fill, "Colour", page)
        self.symbol_preview = QLabel(page, alignment=Qt.AlignmentFlag.AlignCenter)
        self.symbol_preview.setStyleSheet(f"background: {BACKGROUND}; border: 1px solid #c8c4bc;")
        self.symbol_preview.setFixedSize(220, 120)
        note = QLabel("Every feature gets this symbol. Choose Categorized or Graduated to colour the features "
                      "by a field.", page, wordWrap=True)
        note.setStyleSheet("color: #555555;")
        rows.addRow("Line colour" if is_line else "Fill colour", self.main_colour)
        rows.addRow("Preview", self.symbol_preview)
        rows.addRow(note)
        return page

    def _categorized_page(self, form: StyleForm) -> QWidget:
        page = QWidget(self)
        rows = QFormLayout(page)
        self.category_field = self._field_combo(self.columns, form.category_field, page)
        self.palette = QComboBox(page)
        self.palette.setIconSize(QPixmap(96, 12).size())
        for name, colours in PALETTES.items():
            self.palette.addItem(QIcon(ramp_pixmap(list(colours[:12]), 96, 12)), PALETTE_TITLES[name], name)
        self.palette.setCurrentIndex(max(self.palette.findData(form.palette), 0))
        self.category_list = self._preview_list(page, "Value")
        self.category_note = QLabel("Click a value to change its colour.", page)
        self.reset_colours = QPushButton("Reset colours", page)
        rows.addRow("Field", self.category_field)
        rows.addRow("Palette", self.palette)
        rows.addRow(self.category_list)
        note = QHBoxLayout()
        note.addWidget(self.category_note, 1)
        note.addWidget(self.reset_colours)
        rows.addRow(note)
        return page

    def _graduated_page(self, form: StyleForm) -> QWidget:
        page = QWidget(self)
        rows = QFormLayout(page)
        self.graduated_field = self._field_combo(self.numeric, form.graduated_field, page)
        self.scheme = QComboBox(page)
        for name in SCHEMES:
            self.scheme.addItem(SCHEME_TITLES.get(name, name), name)
        self.scheme.setCurrentIndex(max(self.scheme.findData(form.scheme), 0))
        self.classes = _spin(QSpinBox(page), 2, max(9, form.classes), form.classes)
        self.breaks = QLineEdit(form.breaks, page, placeholderText="upper bounds, e.g. 20, 40, 60, 80, 100")
        self.breaks.setToolTip("Class i holds the values above bound i-1 up to bound i; every class is in the legend")
        self.ramp = QComboBox(page)
        self.ramp.setIconSize(QPixmap(96, 12).size())
        for name in RAMPS + (() if form.ramp in RAMPS else (form.ramp,)):
            self.ramp.addItem(QIcon(ramp_pixmap(ramp_colours(name), 96, 12)), name, name)
        self.ramp.setCurrentIndex(max(self.ramp.findData(form.ramp), 0))
        self.ramp_preview = QLabel(page, minimumHeight=18)
        self.unit = QLineEdit(form.unit, page, placeholderText="shown in the legend, e.g. residents", maxLength=20)
        self.class_list = self._preview_list(page, "Class")
        rows.addRow("Field", self.graduated_field)
        rows.addRow("Method", self.scheme)
        rows.addRow("Classes", self.classes)
        rows.addRow("Breaks", self.breaks)
        self.graduated_rows = rows
        self._scheme_rows()
        rows.addRow("Colour ramp", self.ramp)
        rows.addRow("", self.ramp_preview)
        rows.addRow("Unit", self.unit)
        rows.addRow(self.class_list)
        if not self.numeric:
            rows.addRow(QLabel("This layer has no numeric field to classify.", page))
        return page

    def _symbol_box(self, form: StyleForm) -> QGroupBox:
        box = QGroupBox("Symbol", self)
        self.symbol_rows = rows = QFormLayout(box)
        self.stroke = ColorButton(form.stroke, "Outline colour", box)
        self.stroke_width = _spin(QDoubleSpinBox(box, singleStep=0.2, decimals=1, suffix=" px"), 0.0,
                                  max(20.0, form.stroke_width), form.stroke_width)
        self.size = _spin(QDoubleSpinBox(box, decimals=1, suffix=" px"), 1.0, max(60.0, form.size), form.size)
        self.fill_opacity = _spin(QSpinBox(box, suffix=" %"), 0, 100, form.fill_opacity_pct)
        self.opacity = _spin(QSpinBox(box, suffix=" %"), 0, 100, form.opacity_pct)
        line = self.geom_kind == "line"
        rows.addRow("Outline colour", self.stroke)
        rows.addRow("Line width" if line else "Outline width", self.stroke_width)
        rows.addRow("Point size", self.size)
        rows.addRow("Fill opacity", self.fill_opacity)
        rows.addRow("Layer opacity", self.opacity)
        rows.setRowVisible(self.stroke, not line)  # a line's colour is its symbol colour
        rows.setRowVisible(self.size, self.geom_kind in ("point", "mixed", "none"))
        rows.setRowVisible(self.fill_opacity, self.geom_kind in ("polygon", "mixed", "none"))
        return box

    def _labels_box(self, form: StyleForm) -> QGroupBox:
        box = QGroupBox("Labels", self)
        rows = QFormLayout(box)
        self.label_field = QComboBox(box)
        self.label_field.addItem("No labels", None)
        for column in self.columns:
            self.label_field.addItem(column, column)
        self.label_field.setCurrentIndex(max(self.label_field.findData(form.label_field), 0))
        self.label_size = _spin(QDoubleSpinBox(box, decimals=0, suffix=" px"), 4.0, 72.0, form.label_size)
        self.label_color = ColorButton(form.label_color, "Label colour", box)
        rows.addRow("Label with", self.label_field)
        rows.addRow("Text size", self.label_size)
        rows.addRow("Text colour", self.label_color)
        return box

    @staticmethod
    def _field_combo(columns: list[str], current: str | None, parent: QWidget) -> QComboBox:
        combo = QComboBox(parent)
        for column in columns:
            combo.addItem(column, column)
        combo.setCurrentIndex(max(combo.findData(current), 0))
        return combo

    @staticmethod
    def _preview_list(parent: QWidget, title: str) -> QTreeWidget:
        tree = QTreeWidget(parent)
        tree.setHeaderLabels([title, "Features"])
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.setColumnWidth(0, 320)
        tree.setMinimumHeight(160)
        return tree

    def _wire(self) -> None:
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.category_field.currentIndexChanged.connect(self._category_field_changed)
        self.reset_colours.clicked.connect(self._reset_colours)
        self.category_list.itemClicked.connect(self._recolour)
        for combo in (self.palette, self.graduated_field, self.scheme, self.ramp):
            combo.currentIndexChanged.connect(self._changed)
        self.classes.valueChanged.connect(self._changed)
        self.scheme.currentIndexChanged.connect(self._scheme_rows)
        self.breaks.textChanged.connect(self._changed)
        self.unit.textChanged.connect(self._changed)
        for button in (self.main_colour, self.stroke):
            button.colorChanged.connect(self._changed)
        self.stroke_width.valueChanged.connect(self._changed)
        self.size.valueChanged.connect(self._changed)
        self.fill_opacity.valueChanged.connect(self._changed)
        self.opacity.valueChanged.connect(self._changed)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)

    # ---------------------------------------------------------------------------- model
    def form(self) -> StyleForm:
        """The widgets' values."""
        line = self.geom_kind == "line"
        return StyleForm(
            self.kind.currentData(), self.base.fill if line else self.main_colour.color(),
            self.main_colour.color() if line else self.stroke.color(), self.stroke_width.value(),
            self.size.value(), self.opacity.value(), self.fill_opacity.value(), self.category_field.currentData(),
            self.palette.currentData(), dict(self._categories), self.graduated_field.currentData(),
            self.scheme.currentData(), self.classes.value(), self.ramp.currentData(), self.unit.text(),
            self.label_field.currentData(), self.label_size.value(), self.label_color.color(), self.breaks.text())

    def current_style(self) -> Style:
        """The style the dialog shows now."""
        return style_from_form(self.base, self.form())

    def legend_for(self, style: Style) -> list[tuple[str, str]] | None:
        """The legend of ``style`` if the preview has it (None otherwise: then it is computed)."""
        preview = self.preview
        return list(preview.legend) if preview is not None and preview.style == style and preview.legend else None

    def apply(self) -> None:
        self.applied.emit(self.current_style())

    def _ok(self) -> None:
        self.apply()
        self.accept()

    # ------------------------------------------------------------------------- reactions
    def _scheme_rows(self) -> None:
        manual = self.scheme.currentData() == "manual"
        self.graduated_rows.setRowVisible(self.breaks, manual)
        self.graduated_rows.setRowVisible(self.classes, not manual)

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.pages.setCurrentIndex(KINDS.index(kind))
        self._changed()

    def _category_field_changed(self) -> None:
        same = self.category_field.currentData() == self.base.field
        self._categories = dict(self.base.categories) if same else {}
        self._changed()

    def _reset_colours(self) -> None:
        self._categories = {}
        self._changed()

    def _recolour(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        key = item.data(0, KEY_ROLE)
        if key is None:
            return
        current = item.data(1, KEY_ROLE) or "#ffffff"
        chosen = QColorDialog.getColor(QColor(current), self, f"Colour of {key}"[:80])
        if chosen.isValid():
            self._categories[key] = chosen.name()
            item.setIcon(0, swatch_icon(self.geom_kind, chosen.name(), self.current_style()))
            self._changed()

    def _changed(self) -> None:
        self.symbol_preview.setPixmap(symbol_pixmap(self.geom_kind, self.current_style(), 220, 120))
        self._timer.start()

    def _start_preview(self) -> None:
        style = self.current_style()
        if style.kind == "single":
            self.preview = Preview(style, [], [], [])
            self.previewReady.emit()
            return
        if self._task is not None:
            self._task.cancel()
        self._generation += 1
        gdf = self.layer.gdf
        task = Task(lambda fb: preview_of(style, gdf), self._generation)
        task.signals.finished.connect(self._show_preview)
        task.signals.failed.connect(lambda _g, message, _user: self.category_note.setText(message))
        self._task = task
        task.start()

    def _show_preview(self, generation: int, preview: Preview) -> None:
        if generation != self._generation:
            return
        self._task = None
        self.preview = preview
        style = preview.style
        target = self.category_list if style.kind == "categorized" else self.class_list
        target.clear()
        entries = list(zip(preview.legend, preview.counts, strict=True))
        keys = preview.keys or [None] * len(entries)
        for ((label, colour), count), key in list(zip(entries, keys, strict=True))[:MAX_LISTED]:
            item = QTreeWidgetItem([label, f"{count:,}"])
            item.setIcon(0, swatch_icon(self.geom_kind, colour, style))
            item.setData(0, KEY_ROLE, key)
            item.setData(1, KEY_ROLE, colour)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            target.addTopLevelItem(item)
        if style.kind == "categorized":
            many = len(preview.keys) > MANY_CATEGORIES
            shown = f" (the first {MAX_LISTED} are listed)" if len(entries) > MAX_LISTED else ""
            self.category_note.setText(
                f"{len(preview.keys):,} values{shown}: a categorized map reads well with a few dozen at most. "
                "Click a value to change its colour." if many else "Click a value to change its colour.")
        else:
            colours = [c for (label, c) in preview.legend if label != NO_VALUE]
            self.ramp_preview.setPixmap(ramp_pixmap(colours, max(self.ramp.width(), 200), 14))
        self.previewReady.emit()

    def done(self, result: int) -> None:  # noqa: D102
        if self._task is not None:
            self._task.cancel()
        self._timer.stop()
        super().done(result)

