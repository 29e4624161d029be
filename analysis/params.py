"""Declarations of an analysis's inputs: parameters and layer roles.

The window builds its dialog from these and the command line its options, so both accept and
check the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from layers.errors import CityDeskError

TYPES = ("float", "int", "bool", "str", "choice")


@dataclass(frozen=True)
class Param:
    """A parameter: ``name`` (with its unit in the name, e.g. ``max_distance_m``), type, default,
    unit, bounds and a help text."""

    name: str
    type: str
    default: object
    help: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown parameter type {self.type!r}")

    def parse(self, value: object) -> object:
        """``value`` (text from the command line or a project file, or a Python value) checked and
        converted; a bad value raises :class:`CityDeskError` naming the parameter and saying what
        is accepted."""
        if isinstance(value, str):
            value = value.strip()
        try:
            if self.type == "float":
                if isinstance(value, bool):
                    raise TypeError
                out = float(value)
                if not math.isfinite(out):
                    raise ValueError
            elif self.type == "int":
                out = _int(value)
            elif self.type == "bool":
                out = _bool(value)
            elif self.type == "choice":
                out = "" if value is None else str(value)
                if out not in self.choices:
                    raise CityDeskError(f"parameter {self.name}: {out!r} is not one of the choices",
                                        fix=f"Choose one of {', '.join(self.choices)}")
            else:
                out = "" if value is None else str(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CityDeskError(f"parameter {self.name}: {value!r} is not a valid {self.describe_type()}",
                                fix=f"Give {self.describe()}") from exc
        too_low = self.minimum is not None and out < self.minimum
        too_high = self.maximum is not None and out > self.maximum
        if self.type in ("float", "int") and (too_low or too_high):
            raise CityDeskError(f"parameter {self.name}: {_num(out)} is out of range",
                                fix=f"Give {self.describe()}")
        return out

    def describe_type(self) -> str:
        return {"float": "number", "int": "whole number", "bool": "yes/no value", "str": "text value",
                "choice": "choice"}[self.type]

    def describe(self) -> str:
        """E.g. 'a number in m between 0 and 5000'."""
        text = f"a {self.describe_type()}"
        if self.unit:
            text += f" in {self.unit}"
        if self.minimum is not None and self.maximum is not None:
            text += f" between {_num(self.minimum)} and {_num(self.maximum)}"
        elif self.minimum is not None:
            text += f" of at least {_num(self.minimum)}"
        elif self.maximum is not None:
            text += f" of at most {_num(self.maximum)}"
        if self.choices:
            text += f" ({', '.join(self.choices)})"
        return text


@dataclass(frozen=True)
class Role:
    """An input layer role: its name (a layer role such as ``buildings``), the geometry kinds it
    accepts ('point', 'line', 'polygon'), whether it is required, and a help text."""

    name: str
    geometry: tuple[str, ...] = ("point", "line", "polygon")
    required: bool = True
    help: str = ""
    # Which layer a picker starts on when no layer has the role's name: one of this layer role
    # (e.g. a scenario's baseline: "waste_bins"), or one whose data carry this attribute (e.g.
    # "gtfs_path": stops read from a GTFS feed, whose timetable the analysis reads).
    like: str = ""
    needs_attr: str = ""


def _num(x: float) -> str:
    """1000000000.0 -> '1,000,000,000'; 0.25 -> '0.25'."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.6g}"


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    number = float(value)  # "12", "12.0", 12.0
    if not number.is_integer():
        raise ValueError
    return int(number)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValueError(text)
