"""Progress and cancel without Qt.

Long work takes a ``feedback`` object and calls ``feedback.progress(fraction, message)`` and
``feedback.check_cancelled()`` between chunks. The window passes one that emits Qt signals, the
command line one that draws a progress bar, tests one that cancels after N steps. It lives in
``layers`` because readers (the OSM import) report progress too; ``analysis`` re-exports it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class Cancelled(Exception):
    """Raised by ``check_cancelled()`` when the user asked to stop."""


@runtime_checkable
class Feedback(Protocol):
    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress, ``fraction`` in 0..1 (never decreasing)."""

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop."""


class NullFeedback:
    """Feedback that shows nothing and never cancels."""

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


class SubFeedback:
    """Maps progress of a sub-task onto the range ``start..end`` of a parent feedback."""

    def __init__(self, parent: Feedback, start: float, end: float):
        self.parent, self.start, self.end = parent, start, end

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        self.parent.progress(self.start + (self.end - self.start) * fraction, message)

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


def ensure(feedback: Feedback | None) -> Feedback:
    """The given feedback, or one that does nothing."""
    return feedback if feedback is not None else NullFeedback()
