"""Figures as people read them, for every place that shows a summary (Results panel, demo,
reports, slides): shares in per cent, residents as whole numbers, metres with their unit,
thousands separated by a thin space. No Qt."""

from __future__ import annotations

import math

UNITS = {"m": "m", "m2": "m²", "km": "km", "s": "s", "min": "min", "mps": "m/s", "ha": "ha"}
PEOPLE = ("residents", "population", "people", "inhabitants")
#: Keys whose last word looks like a unit but is not one ('surface_min' is the lowest value).
NOT_UNITS = ("surface_min",)


def format_value(key: str, value: object, unit: str = "") -> str:
    """A figure as a person reads it: shares in %, residents whole, metres with 'm', 1 234 567.
    The key says what it is: ``*share*`` / ``*_fraction`` a 0-1 share, a people word a count,
    a unit suffix (``_m``, ``_min``) the unit."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value or "—"
    if not isinstance(value, int | float):
        return str(value)
    if key == "year" or key.endswith("_year"):  # 2025, not '2 025'
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    suffix = key.rsplit("_", 1)[-1] if "_" in key and key not in NOT_UNITS else ""
    unit = unit or UNITS.get(suffix, "")
    if "share" in key.split("_") or key.endswith("_fraction"):
        return f"{value * 100:.1f} %"
    if any(word in key for word in PEOPLE) or isinstance(value, int):
        return thousands(round(value)) + (f" {unit}" if unit else "")
    if abs(value) >= 100:
        text = thousands(round(value))
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}" if unit else text


def share(value: object) -> str:
    """A 0-1 share in per cent: 0.1834 -> '18.3 %'."""
    return format_value("share", value)


def people(value: object) -> str:
    """A number of people, whole: 2140.4 -> '2 140'."""
    return format_value("residents", value)


def thousands(value: int) -> str:
    return f"{value:,}".replace(",", " ")
