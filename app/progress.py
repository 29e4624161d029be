"""A terminal progress bar as a ``feedback`` object (no Qt): drawn on a terminal, silent when
piped, and Ctrl-C becomes a clean cancel."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalFeedback:
    """Draws ``[#####.....]  50%  message`` on stderr when it is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, label: str = "", enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.fraction = 0.0
        self._last_draw = 0.0
        self._drawn = False

    def progress(self, fraction: float, message: str = "") -> None:
        self.fraction = max(self.fraction, min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if not self.enabled or (now - self._last_draw < 0.1 and self.fraction < 1.0):
            return
        self._last_draw = now
        width = 30
        done = int(round(self.fraction * width))
        text = f"{self.label} " if self.label else ""
        line = f"\r{text}[{'#' * done}{'.' * (width - done)}] {self.fraction * 100:3.0f}%  {message[:60]}"
        self.stream.write(line.ljust(100)[:120])
        self.stream.flush()
        self._drawn = True

    def check_cancelled(self) -> None:
        pass  # Ctrl-C raises KeyboardInterrupt, which the command line turns into a clean exit

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
