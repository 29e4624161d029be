"""Untrusted text (layer and file names, attribute values, citizen reports) shown by Qt widgets
that guess whether a string is HTML (QMessageBox, QLabel, tooltips): always shown as typed."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QMessageBox, QWidget


def as_rich_text(text: str) -> str:
    """``text`` as Qt rich text that shows it literally, line breaks kept."""
    return "<qt>" + html.escape(str(text)).replace("\n", "<br>") + "</qt>"


def tell(parent: QWidget | None, title: str, text: str, *, warning: bool = True) -> None:
    """A message box whose text is shown as plain text, whatever it contains."""
    (QMessageBox.warning if warning else QMessageBox.information)(parent, title, as_rich_text(text))
