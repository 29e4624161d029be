"""A static map (PNG, PDF or SVG) of styled layers: kept for its callers, now drawn by the
meeting map (:mod:`reports.meeting_map`), which uses the same :func:`layers.style.symbolize`
colours and classes as the window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pyproj import CRS

from layers.layer import Layer
from reports.meeting_map import MapOptions, write_map


def render_static_map(layers: Sequence[Layer], out: str | Path, *, crs: CRS | str, title: str,
                      subtitle: str = "", attribution: Sequence[str] = (),
                      extent: tuple[float, float, float, float] | None = None,
                      size_in: tuple[float, float] = (11.0, 8.5), dpi: int = 150) -> Path:
    """Draw ``layers`` (first = top; hidden and unreadable ones skipped) in ``crs`` on an A4
    page (landscape when ``size_in`` is wider than tall) and write it to ``out`` atomically."""
    options = MapOptions(title=title, subtitle=subtitle, attribution=tuple(attribution), extent=extent,
                         paper="A4", landscape=size_in[0] >= size_in[1], dpi=dpi)
    return write_map(layers, out, crs=crs, options=options)
