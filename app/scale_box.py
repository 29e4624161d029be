"""The scale in the status bar, shown and settable: an editable combo box that follows the map
(``1:7 958``) and takes a scale typed (``1:5000``, ``5 000``, ``1:25,000``, ``1:10k``) or picked
from common ones. A scale it cannot read is refused with a message and the box shows the map's
scale again."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

PRESETS = (1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000)
MIN_SCALE, MAX_SCALE = 1.0, 1e9


def format_scale(denominator: float) -> str:
    """``1:7 958`` (thin groups with spaces, as in the rest of the status bar)."""
    return f"1:{denominator:,.0f}".replace(",", " ")


def parse_scale(text: str) -> float | None:
    """The denominator N of a scale written ``1:N``, ``1/N`` or ``N`` (spaces, commas, dots and
    apostrophes between thousands allowed, ``k`` for thousands); None if it is not one."""
    text = text.strip().lower().replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    match = re.fullmatch(r"(?:1[:/])?([0-9][0-9,.'’]*)(k?)", text)
    if not match:
        return None
    digits = match.group(1)
    if re.fullmatch(r"[0-9]{1,3}([,.'’][0-9]{3})+", digits):
        digits = re.sub(r"[,.'’]", "", digits)  # 25,000 / 25.000 / 25'000
    try:
        value = float(digits.replace(",", "."))
    except ValueError:
        return None
    value *= 1000 if match.group(2) else 1
    return value if MIN_SCALE <= value <= MAX_SCALE else None


class ScaleBox(QComboBox):
    """Follows ``canvas`` (``extentChanged``) and sets its scale (``canvas.set_scale``).
    ``text()`` / ``setText()`` read and write the shown scale. ``refused(str)`` carries the
    message for a scale that could not be read."""

    refused = Signal(str)

    def __init__(self, canvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMinimumContentsLength(10)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setToolTip("Map scale: type one (1:5000) and press Enter, or pick one")
        for value in PRESETS:
            self.addItem(format_scale(value), float(value))
        self.setCurrentIndex(-1)
        self.lineEdit().setAlignment(Qt.AlignmentFlag.AlignRight)
        self.lineEdit().returnPressed.connect(self._typed)
        self.activated.connect(self._picked)
        canvas.extentChanged.connect(self.follow)

    def text(self) -> str:
        return self.currentText()

    def setText(self, text: str) -> None:  # noqa: N802 (the QLabel name it replaces)
        if not self.lineEdit().hasFocus():
            self.setEditText(text)

    def follow(self, _extent=None) -> None:
        """Show the canvas's scale."""
        if self.canvas.layers:
            self.setText(format_scale(self.canvas.scale_denominator()))

    def set_scale(self, denominator: float) -> None:
        self.canvas.set_scale(denominator)
        self.canvas.setFocus()  # the box follows the map again
        self.setEditText(format_scale(self.canvas.scale_denominator()))

    def _typed(self) -> None:
        value = parse_scale(self.currentText())
        if value is None:
            self.refused.emit(f"'{self.currentText()}' is not a scale: type one like 1:5000")
            self.lineEdit().clearFocus()
            self.setEditText(format_scale(self.canvas.scale_denominator()))
            return
        self.set_scale(value)

    def _picked(self, index: int) -> None:
        value = self.itemData(index)
        if value:
            self.set_scale(float(value))
