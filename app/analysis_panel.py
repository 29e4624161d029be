"""The Results panel: the key figures of each analysis run in the window, with the parameters and
input layers it used (so a figure can be traced), newest first, each copyable as plain text.

The formatting functions (:func:`key_figures`, :func:`headline`, :func:`entry_text`) are plain
Python: shares as percentages, residents as whole numbers, distances in metres."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from analysis.wording import describe_params, headline, key_figures, split_figures

#: Figures longer than this (characters) are shown under their name, wrapped.
LONG_VALUE = 20


@dataclass
class ResultEntry:
    """One run as the panel shows it. ``params`` are the values used, ``units`` their units,
    ``inputs`` role -> project layer name, ``layers`` the result layers added to the project."""

    title: str
    analysis: str
    analysis_title: str
    summary: Mapping[str, object]
    params: Mapping[str, object]
    inputs: Mapping[str, str]
    layers: list[str] = field(default_factory=list)
    units: Mapping[str, str] = field(default_factory=dict)
    finished: datetime = field(default_factory=datetime.now)
    charts: Mapping[str, object] = field(default_factory=dict)  # name -> DataFrame (AnalysisResult.charts)


def entry_text(entry: ResultEntry) -> str:
    """The entry as plain text, for the clipboard."""
    lines = [entry.title, f"{entry.analysis_title} ({entry.analysis}), {entry.finished:%Y-%m-%d %H:%M}"]
    if headline(entry.summary, entry.analysis):
        lines += ["", headline(entry.summary, entry.analysis)]
    lines += [""] + [f"{label}: {value}" for label, value in key_figures(entry.summary)]
    lines += ["", "Parameters:"] + [f"  {p}" for p in describe_params(entry.params, entry.units)]
    lines += ["Input layers:"] + [f"  {role}: {name}" for role, name in entry.inputs.items()]
    if entry.layers:
        lines += ["Result layers:"] + [f"  {name}" for name in entry.layers]
    for name, table in entry.charts.items():
        lines += ["", f"{table.attrs.get('title', name)}:", table.to_csv(sep="\t", index=False).rstrip()]
    return "\n".join(lines) + "\n"


def unbroken(text: str) -> str:
    """``text`` with the space after a number made non-breaking, so that a wrapped line never
    splits a number ('4 016') or a number from its unit ('151 m', '97.0 %')."""
    return re.sub(r"(?<=\d) (?=\S)", "\u00a0", text)


def _label(text: str, *, selectable: bool = False, wrap: bool = True) -> QLabel:
    label = QLabel(unbroken(text) if wrap else text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # layer names and titles come from files
    label.setWordWrap(wrap)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _chart_label(name: str, table, parent: QWidget) -> QLabel:
    """A chart table drawn once (matplotlib Agg, :mod:`app.result_charts`) into a label: small,
    sharp on high-density screens, its numbers are in the Copy text."""
    from PySide6.QtGui import QPixmap

    from app.result_charts import chart_png

    scale = parent.devicePixelRatioF() if parent is not None else 1.0
    pixmap = QPixmap()
    pixmap.loadFromData(chart_png(table, width_px=250, height_px=175, scale=scale), "PNG")
    pixmap.setDevicePixelRatio(scale)
    label = QLabel(parent)
    label.setObjectName(f"chart_{name}")
    label.setPixmap(pixmap)
    label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    label.setAccessibleName(str(table.attrs.get("title", name)))
    return label


class ResultCard(QFrame):
    """One run: title, headline, key figures, parameters, inputs, and Copy / Remove buttons."""

    removeRequested = Signal(object)

    def __init__(self, entry: ResultEntry, parent: QWidget | None = None):
        super().__init__(parent)
        self.entry = entry
        self.setObjectName("result_card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#result_card { background: palette(base); border: 1px solid palette(mid); "
                           "border-radius: 4px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(4)

        top = QHBoxLayout()
        title = _label(entry.title, selectable=True)
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        title.setFont(font)
        top.addWidget(title, 1)
        self.copy_button = QToolButton(self, text="Copy", toolTip="Copy the figures, parameters and inputs as text")
        self.remove_button = QToolButton(self, toolTip="Remove from the panel (the layers stay)")
        self.remove_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.remove_button.setAutoRaise(True)
        top.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        layout.addWidget(self._grey(f"{entry.analysis_title} · {entry.finished:%H:%M}"))

        text = headline(entry.summary, entry.analysis)
        if text:
            self.headline = _label(text, selectable=True)
            font = self.headline.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            font.setBold(True)
            self.headline.setFont(font)
            self.headline.setStyleSheet("color: #0b5394; margin: 4px 0;")
            layout.addWidget(self.headline)

        self.figure_labels: dict[str, QLabel] = {}
        first, rest = split_figures(entry.summary, entry.analysis)
        layout.addWidget(self._figures(first))
        self.more_button = self.more = None
        if rest:
            self.more_button = QToolButton(self, text=f"More figures ({len(rest)})", checkable=True)
            self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.more_button.setArrowType(Qt.ArrowType.RightArrow)
            self.more_button.setAutoRaise(True)
            self.more = self._figures(rest)
            self.more.setVisible(False)
            self.more_button.toggled.connect(self._show_more)
            layout.addWidget(self.more_button)
            layout.addWidget(self.more)
        self.charts: list[QLabel] = []
        for name, table in entry.charts.items():
            chart = _chart_label(name, table, self)
            layout.addWidget(chart)
            self.charts.append(chart)

        layout.addWidget(self._section("Parameters"))
        layout.addWidget(self._grey("\n".join(describe_params(entry.params, entry.units)) or "(none)"))
        layout.addWidget(self._section("Input layers"))
        layout.addWidget(self._grey("\n".join(f"{role}: {name}" for role, name in entry.inputs.items())))
        if entry.layers:
            layout.addWidget(self._section("Result layers"))
            layout.addWidget(self._grey("\n".join(entry.layers)))
        self.copy_button.clicked.connect(self.copy)
        self.remove_button.clicked.connect(lambda: self.removeRequested.emit(self))

    def _figures(self, keys: list[str]) -> QWidget:
        box = QWidget(self)
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        row = 0
        for label, value in key_figures(self.entry.summary, keys):
            name = _label(label)
            name.setStyleSheet("color: palette(dark);")
            long = len(value) > LONG_VALUE
            shown = _label(value, selectable=True, wrap=long)
            if long:  # a note or a list: under its name, across the card, wrapped
                shown.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                shown.setContentsMargins(8, 0, 0, 2)
                grid.addWidget(name, row, 0, 1, 2)
                grid.addWidget(shown, row + 1, 0, 1, 2)
                row += 2
            else:
                shown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(name, row, 0)
                grid.addWidget(shown, row, 1)
                row += 1
            self.figure_labels[label] = shown
        grid.setColumnStretch(0, 1)
        return box

    def _show_more(self, shown: bool) -> None:
        self.more.setVisible(shown)
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def text(self) -> str:
        return entry_text(self.entry)

    def copy(self) -> None:
        QApplication.clipboard().setText(self.text())

    def _grey(self, text: str) -> QLabel:
        label = _label(text, selectable=True)
        label.setStyleSheet("color: #666666;")
        return label

    def _section(self, text: str) -> QLabel:
        label = _label(text)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        label.setStyleSheet("margin-top: 6px;")
        return label


class ResultsPanel(QScrollArea):
    """The cards of the runs, newest on top; ``add_result(entry)`` adds one. ``changed`` after a
    card is added or removed (the project keeps the entries: app/result_store.py)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(280)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(self)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self._layout.setSpacing(8)
        self.placeholder = _label("Run an analysis from the Analysis menu: its key figures appear here.")
        self.placeholder.setStyleSheet("color: #666666;")
        self._layout.addWidget(self.placeholder)
        self._layout.addStretch(1)
        self.clear_button = QPushButton("Clear", body, visible=False)
        self.clear_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.clear_button.clicked.connect(self.clear)
        self._layout.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignRight)
        self.setWidget(body)
        self.cards: list[ResultCard] = []

    def add_result(self, entry: ResultEntry) -> ResultCard:
        card = ResultCard(entry, self.widget())
        card.removeRequested.connect(self.remove)
        self._layout.insertWidget(0, card)
        self.cards.insert(0, card)
        self._update()
        self.verticalScrollBar().setValue(0)
        self.changed.emit()
        return card

    def remove(self, card: ResultCard) -> None:
        if card in self.cards:
            self.cards.remove(card)
            card.deleteLater()
            self._update()
            self.changed.emit()

    def entries(self) -> list[ResultEntry]:
        """The entries shown, oldest first."""
        return [card.entry for card in reversed(self.cards)]

    def clear(self) -> None:
        for card in list(self.cards):
            self.remove(card)

    def text(self) -> str:
        """Every entry as plain text, newest first."""
        return "\n".join(card.text() for card in self.cards)

    def _update(self) -> None:
        self.placeholder.setVisible(not self.cards)
        self.clear_button.setVisible(bool(self.cards))
