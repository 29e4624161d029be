"""Raster result layers (interpolated surfaces, kernel densities) as grids of square cells.

A raster here is a small frozen :class:`Raster` (a 2-D float array, NaN = no data, on a regular
grid of square cells in a metric CRS) that is shown, saved and exported as a polygon layer: one
square polygon per cell with data, with the cell value in a column. Every existing part (styles
and graduated legends, the attribute table, identify, saving in the project's GeoPackage,
exports) therefore works on it unchanged.

Grid convention: ``values[i, j]`` is the cell whose south-west corner is
``(x0 + j * cell_m, y0 + i * cell_m)``; row 0 is the SOUTHERNMOST row (``y`` grows with ``i``),
so :func:`grid_centres` matches ``numpy.meshgrid`` of ascending x and y.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import CityDeskError
from layers.style import Style

#: Grids above this many cells are refused (the fix: a larger cell size).
MAX_CELLS = 2_000_000


@dataclass(frozen=True, eq=False)
class Raster:
    """A grid of cell values. Distances in metres (the CRS must be projected)."""

    values: np.ndarray  # 2-D float, NaN = no data, row 0 = south
    x0: float  # west edge
    y0: float  # south edge
    cell_m: float
    crs: object
    name: str = "value"  # the value column of the cell layer
    unit: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.values.shape
        return (self.x0, self.y0, self.x0 + cols * self.cell_m, self.y0 + rows * self.cell_m)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell centre coordinates, two 2-D arrays shaped like ``values``."""
        rows, cols = self.values.shape
        return grid_centres(self.x0, self.y0, self.cell_m, rows, cols)

    def to_cells(self, mask: np.ndarray | None = None) -> gpd.GeoDataFrame:
        """The raster as a polygon layer (see :func:`cells_layer`)."""
        return cells_layer(self.values, self.x0, self.y0, self.cell_m, self.crs, name=self.name, mask=mask)

    def style(self, **kwargs) -> Style:
        """A graduated style on the value column (see :func:`raster_style`)."""
        return raster_style(self.name, unit=self.unit, **kwargs)


def grid_for(bounds: tuple[float, float, float, float], cell_m: float, *, max_cells: int = MAX_CELLS
             ) -> tuple[float, float, int, int]:
    """``(x0, y0, rows, cols)`` of a grid of ``cell_m`` metre cells covering ``bounds``
    (minx, miny, maxx, maxy), snapped to multiples of the cell size. Raises CityDeskError when
    the grid would have more than ``max_cells`` cells."""
    if not cell_m > 0:
        raise CityDeskError(f"Cell size {cell_m} m: the cell size must be a positive number of metres.")
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise CityDeskError("The area for the grid is empty: give an area of interest with features in it.")
    x0 = np.floor(minx / cell_m) * cell_m
    y0 = np.floor(miny / cell_m) * cell_m
    cols = max(1, int(np.ceil((maxx - x0) / cell_m)))
    rows = max(1, int(np.ceil((maxy - y0) / cell_m)))
    if rows * cols > max_cells:
        raise CityDeskError(
            f"A {cell_m:g} m grid over this area has {rows * cols:,} cells (at most {max_cells:,}): "
            "choose a larger cell size or a smaller area of interest.")
    return float(x0), float(y0), rows, cols


def grid_centres(x0: float, y0: float, cell_m: float, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell centre coordinates ``(xs, ys)``, each shaped ``(rows, cols)``; row 0 is the south."""
    xs = x0 + (np.arange(cols) + 0.5) * cell_m
    ys = y0 + (np.arange(rows) + 0.5) * cell_m
    return np.meshgrid(xs, ys)


def inside_mask(xs: np.ndarray, ys: np.ndarray, area) -> np.ndarray:
    """True where the point ``(xs, ys)`` lies in the shapely geometry ``area`` (same shape as xs)."""
    if area is None or area.is_empty:
        return np.zeros(np.shape(xs), dtype=bool)
    shapely.prepare(area)
    return shapely.contains_xy(area, np.asarray(xs), np.asarray(ys))


def cells_layer(values: np.ndarray, x0: float, y0: float, cell_m: float, crs, *, name: str = "value",
                mask: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """A polygon GeoDataFrame with one square per cell that has a value (not NaN) and, when
    ``mask`` (bool, shaped like ``values``) is given, is True in it. Columns: ``row``, ``col``
    (grid position, row 0 = south), ``name`` (the float value) and ``geometry``."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise CityDeskError(f"A raster needs a 2-D grid of values, got {values.ndim} dimensions.")
    keep = ~np.isnan(values)
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    rows, cols = np.nonzero(keep)
    west = x0 + cols * cell_m
    south = y0 + rows * cell_m
    geometry = shapely.box(west, south, west + cell_m, south + cell_m)
    return gpd.GeoDataFrame({"row": rows.astype(np.int32), "col": cols.astype(np.int32),
                             name: values[rows, cols]}, geometry=geometry, crs=crs)


def from_cells(gdf: gpd.GeoDataFrame, *, name: str = "value", unit: str = "") -> Raster:
    """The :class:`Raster` back from a cell layer made by :func:`cells_layer` (for example after it
    was saved and loaded). Cells missing from the layer are NaN."""
    for column in ("row", "col", name):
        if column not in gdf.columns:
            raise CityDeskError(f"This layer is not a raster cell layer: it has no '{column}' column.")
    if len(gdf) == 0:
        raise CityDeskError("The raster cell layer is empty.")
    rows = gdf["row"].to_numpy(dtype=int)
    cols = gdf["col"].to_numpy(dtype=int)
    bounds = shapely.bounds(gdf.geometry.array)
    cell_m = float(np.median(bounds[:, 2] - bounds[:, 0]))
    x0 = float(np.median(bounds[:, 0] - cols * cell_m))
    y0 = float(np.median(bounds[:, 1] - rows * cell_m))
    values = np.full((rows.max() + 1, cols.max() + 1), np.nan)
    values[rows, cols] = gdf[name].to_numpy(dtype=float)
    return Raster(values, x0, y0, cell_m, gdf.crs, name=name, unit=unit)


def raster_style(name: str = "value", *, unit: str = "", ramp: str = "YlOrRd", classes: int = 7,
                 scheme: str = "equal_interval") -> Style:
    """A graduated style for a cell layer: no cell outlines (so ~100k cells draw fast and read as
    a continuous surface), mostly opaque fill."""
    return Style(kind="graduated", field=name, scheme=scheme, classes=classes, ramp=ramp, unit=unit,
                 stroke_width=0.0, fill_opacity=0.75, stroke="#00000000")
