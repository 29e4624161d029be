"""The one exception type CityDesk raises for problems a user can fix."""

from __future__ import annotations

from pathlib import Path


class CityDeskError(Exception):
    """A problem with the user's input, told so that a person can act on it.

    The message names the file (or source), the problem and the fix:
    ``"city.gpkg: the layer 'roads' does not exist. Layers in the file: buildings, streets."``
    The window shows it in a dialog; the command line prints it and exits 1.
    """

    def __init__(self, problem: str, *, source: str | Path | None = None, fix: str | None = None):
        self.problem = problem.rstrip(".")
        self.source = str(source) if source is not None else None
        self.fix = fix.rstrip(".") if fix else None
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.source}: {self.problem}." if self.source else f"{self.problem[:1].upper()}{self.problem[1:]}."
        if self.fix:
            text += f" {self.fix}."
        return text

    def __str__(self) -> str:
        return self.message
