"""``population-from-grid`` — residents per building from a population grid (dasymetric mapping).

Each grid cell's population is spread over the residential floor area of the buildings in it:
a building's weight in a cell is the area of the part of its footprint inside the cell (m²) times
its number of levels. A building split across cells gets a share from each cell, by the area of
each part. Which buildings count as (potentially) residential:

- ``use`` (as the OSM import normalizes it) ``residential``, or ``unknown`` — in city centres most
  buildings are tagged only ``building=yes``, so an unknown use may hold homes;
- without a ``use`` value, the ``building`` tag: a residential value (``apartments``, ``house``,
  ``residential``, ``detached``, ``terrace``, ``dormitory``, ...) or ``yes`` / no tag;
- every other use (commercial, retail, office, industrial, public, religious, education, sheds,
  roofs, ...) gets no residents — unless a cell holds no potentially residential building at all,
  then the cell's population goes to all its buildings (so it is not lost);
- a layer with neither column: every building.

Levels: the ``levels`` column (``building:levels``) when above 0, else ``height`` / 3 m (at least
1), else ``default_levels``. The population of a cell without any building is not assigned: it is
reported as ``residents_unassigned`` in the summary and per cell in the ``grid`` result layer.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from analysis.figures import people, thousands
from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.style import Style

#: ``use`` values that may hold homes (``unknown``: ``building=yes``, the usual tag in city centres).
RESIDENTIAL_USES = frozenset({"residential", "unknown", "mixed"})
#: ``building=*`` values that are homes.
RESIDENTIAL_TAGS = frozenset({
    "apartments", "house", "residential", "detached", "semidetached_house", "semi_detached", "terrace",
    "terraced", "dormitory", "bungalow", "cabin", "farm", "houseboat", "static_caravan", "stilt_house",
    "allotment_house",
})
#: ``building=*`` values that say nothing about the use.
UNKNOWN_TAGS = frozenset({"yes", ""})
METRES_PER_LEVEL = 3.0
CHUNK = 50_000  # building-cell pairs per progress step


def distribute_population(buildings: gpd.GeoDataFrame, grid: gpd.GeoDataFrame, *,
                          population_field: str = "population", default_levels: float = 1.0,
                          residential_only: bool = True, feedback: Feedback | None = None) -> AnalysisResult:
    """Residents per building: each ``grid`` cell's population spread over the residential floor
    area (footprint area inside the cell in m² × levels) of the ``buildings`` in it.

    Both layers must be in the same metric CRS. ``population_field`` is the grid's column of
    residents per cell (missing or negative values count as 0). ``default_levels`` is used for a
    building with neither ``levels`` nor ``height``. With ``residential_only=False`` every building
    counts as residential.

    Returns layers ``buildings`` (input columns + ``residents`` (float, not rounded), ``levels_used``,
    ``floor_area_m2`` (whole footprint × levels) and ``residential`` (counted as potentially
    residential)) and ``grid`` (input columns + ``buildings_n``, ``residents_assigned``,
    ``residents_unassigned`` and ``fallback_all_buildings``). The summary holds ``population_total``,
    ``residents_total`` (= population_total − residents_unassigned) and ``residents_unassigned``.
    """
    fb = ensure(feedback)
    fb.check_cancelled()
    _check_inputs(buildings, grid, population_field)
    fb.progress(0.02, "Checking the layers")

    population = pd.to_numeric(grid[population_field], errors="coerce").to_numpy(dtype=float)
    population = np.clip(np.nan_to_num(population, nan=0.0), 0.0, None)
    levels, level_source = building_levels(buildings, default_levels=default_levels)
    eligible = residential_mask(buildings) if residential_only else np.ones(len(buildings), dtype=bool)

    b_geoms = _valid(buildings.geometry.to_numpy())
    g_geoms = _valid(grid.geometry.to_numpy())
    b_geoms[~shapely.is_missing(b_geoms) & (shapely.get_dimensions(b_geoms) < 2)] = None  # points, lines
    fb.check_cancelled()
    fb.progress(0.05, "Finding the buildings in each cell")
    cell_idx, bldg_idx = shapely.STRtree(b_geoms).query(g_geoms, predicate="intersects")
    shapely.prepare(g_geoms)
    area = np.empty(len(cell_idx))
    for start in range(0, len(cell_idx), CHUNK):
        fb.check_cancelled()
        stop = min(start + CHUNK, len(cell_idx))
        ci, bi = cell_idx[start:stop], bldg_idx[start:stop]
        inside = shapely.contains_properly(g_geoms[ci], b_geoms[bi])
        part = np.where(inside, shapely.area(b_geoms[bi]), 0.0)
        cut = ~inside
        part[cut] = shapely.area(shapely.intersection(b_geoms[bi[cut]], g_geoms[ci[cut]]))
        area[start:stop] = part
        fb.progress(0.05 + 0.85 * stop / len(cell_idx), "Measuring building footprints in the cells")
    fb.check_cancelled()

    keep = area > 0
    cell_idx, bldg_idx, area = cell_idx[keep], bldg_idx[keep], area[keep]
    n_cells = len(grid)
    weight = area * levels[bldg_idx]
    res_weight = np.where(eligible[bldg_idx], weight, 0.0)
    cell_res = np.bincount(cell_idx, res_weight, minlength=n_cells)
    cell_all = np.bincount(cell_idx, weight, minlength=n_cells)
    fallback = (cell_res <= 0) & (cell_all > 0)
    used = np.where(fallback[cell_idx], weight, res_weight)
    cell_used = np.where(fallback, cell_all, cell_res)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(cell_used[cell_idx] > 0, used / cell_used[cell_idx], 0.0)
    pair_residents = share * population[cell_idx]
    residents = np.bincount(bldg_idx, pair_residents, minlength=len(buildings))
    assigned_cell = np.bincount(cell_idx, pair_residents, minlength=n_cells)
    unassigned_cell = np.where(cell_used > 0, 0.0, population)

    out = buildings.copy()
    out["residents"] = residents
    out["levels_used"] = levels
    out["floor_area_m2"] = np.round(np.nan_to_num(shapely.area(b_geoms), nan=0.0) * levels, 1)
    out["residential"] = eligible
    cells = grid.copy()
    cells["buildings_n"] = np.bincount(cell_idx, minlength=n_cells).astype("int64")
    cells["residents_assigned"] = assigned_cell
    cells["residents_unassigned"] = unassigned_cell
    cells["fallback_all_buildings"] = fallback

    summary = {
        "population_total": float(population.sum()),
        "residents_total": float(residents.sum()),
        "residents_unassigned": float(unassigned_cell.sum()),
        "cells_total": int(n_cells),
        "cells_without_buildings": int(((cell_all <= 0) & (population > 0)).sum()),
        "cells_fallback_all_buildings": int((fallback & (population > 0)).sum()),
        "buildings_total": int(len(buildings)),
        "buildings_with_residents": int((residents > 0).sum()),
        "buildings_residential": int(eligible.sum()),
        "levels_from_tag": int((level_source == "levels").sum()),
        "levels_from_height": int((level_source == "height").sum()),
        "levels_default": int((level_source == "default").sum()),
        "max_residents_per_building": float(residents.max()) if len(residents) else 0.0,
    }
    params = {"population_field": population_field, "default_levels": default_levels,
              "residential_only": residential_only}
    fb.progress(1.0, "Residents per building done")
    return AnalysisResult.make("population-from-grid", {"buildings": out, "grid": cells}, summary, params)


def building_levels(buildings: pd.DataFrame, *, default_levels: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Levels per building and where each came from (``levels``, ``height`` or ``default``).

    ``levels`` when above 0; else ``height`` (metres) / 3 m, at least 1; else ``default_levels``.
    """
    n = len(buildings)
    tagged = _numeric(buildings, "levels", n)
    height = _numeric(buildings, "height", n)
    from_tag = np.isfinite(tagged) & (tagged > 0)
    from_height = ~from_tag & np.isfinite(height) & (height > 0)
    levels = np.full(n, float(default_levels))
    levels[from_height] = np.maximum(height[from_height] / METRES_PER_LEVEL, 1.0)
    levels[from_tag] = tagged[from_tag]
    source = np.where(from_tag, "levels", np.where(from_height, "height", "default"))
    return levels, source


def residential_mask(buildings: pd.DataFrame) -> np.ndarray:
    """True for buildings that may hold homes (see the module docstring)."""
    n = len(buildings)
    use = _text(buildings, "use", n)
    tag = _text(buildings, "building", n)
    if use is None and tag is None:
        return np.ones(n, dtype=bool)
    out = np.zeros(n, dtype=bool)
    has_use = np.zeros(n, dtype=bool) if use is None else use.notna().to_numpy()
    if use is not None:
        out[has_use] = use[has_use].isin(RESIDENTIAL_USES).to_numpy()
    if tag is not None:
        by_tag = (tag.isna() | tag.isin(RESIDENTIAL_TAGS | UNKNOWN_TAGS)).to_numpy()
        out[~has_use] = by_tag[~has_use]
    else:
        out[~has_use] = True
    return out


def _check_inputs(buildings: gpd.GeoDataFrame, grid: gpd.GeoDataFrame, population_field: str) -> None:
    for name, gdf in (("buildings", buildings), ("grid", grid)):
        if len(gdf) == 0 or gdf.geometry.isna().all() or gdf.geometry.is_empty.all():
            raise CityDeskError(f"the '{name}' layer is empty", source=name,
                                fix="Choose a layer that holds features")
        if gdf.crs is None or not CRS.from_user_input(gdf.crs).is_projected:
            raise CityDeskError("residents per building need layers in a metric CRS", source=name,
                                fix="Run it through citydesk run or the window, which reproject for you")
    if CRS.from_user_input(buildings.crs) != CRS.from_user_input(grid.crs):
        raise CityDeskError(f"the buildings ({buildings.crs.to_string()}) and the grid "
                            f"({grid.crs.to_string()}) are in different coordinate systems", source="grid",
                            fix="Reproject both to one metric CRS, or run it through citydesk run or the "
                                "window")
    if population_field not in grid.columns:
        columns = ", ".join(str(c) for c in grid.columns if c != grid.geometry.name) or "(none)"
        raise CityDeskError(f"the grid has no column '{population_field}'", source="grid",
                            fix=f"Choose the population column; columns: {columns}")
    polygonal = shapely.get_dimensions(grid.geometry.to_numpy()) == 2
    if not polygonal.any():
        raise CityDeskError("the grid has no polygon cells", source="grid", fix="Choose a polygon grid layer")
    if not (shapely.get_dimensions(buildings.geometry.to_numpy()) == 2).any():
        raise CityDeskError("the buildings layer has no footprints (polygons)", source="buildings",
                            fix="Choose a layer of building polygons")


def _valid(geoms: np.ndarray) -> np.ndarray:
    geoms = geoms.copy()
    bad = ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    geoms[shapely.is_empty(geoms)] = None
    return geoms


def _numeric(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in frame.columns:
        return np.full(n, np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _text(frame: pd.DataFrame, column: str, n: int) -> pd.Series | None:
    if column not in frame.columns:
        return None
    values = frame[column].astype(object)
    values = values.where(values.notna(), None)
    cleaned = [None if v is None else str(v).strip().lower() for v in values]
    return pd.Series(cleaned, index=range(n), dtype=object)


def headline(summary) -> str:
    """'4 336 residents placed in 305 of 482 buildings; at most 350 in one building'."""
    text = (f"{people(summary['residents_total'])} residents placed in "
            f"{thousands(summary['buildings_with_residents'])} of {thousands(summary['buildings_total'])} buildings")
    if round(summary.get("residents_unassigned") or 0):
        text += f" ({people(summary['residents_unassigned'])} not placed: grid cells without buildings)"
    return text + f"; at most {people(summary['max_residents_per_building'])} in one building"


SPEC = Analysis(
    id="population-from-grid",
    partition_note=("each grid cell's people are spread over the buildings in that cell, one pass over the "
                    "layers; it is not cut into tiles"),
    title="Residents per building from a population grid",
    description="Spreads each population-grid cell's residents over the residential floor area "
                "(footprint × levels) of the buildings in it, so that analyses can weigh buildings "
                "by residents.",
    roles=(
        Role("buildings", ("polygon",), help="building footprints; levels from 'levels' or 'height', "
             "use from 'use' or 'building'"),
        Role("grid", ("polygon",), help="population grid cells with a residents column"),
    ),
    params=(
        Param("population_field", "str", "population", "the grid's column of residents per cell"),
        Param("default_levels", "float", 1.0, "levels of a building with neither a levels nor a height value",
              "levels", 0.1, 200),
        Param("residential_only", "bool", True, "give residents only to buildings that may hold homes "
              "(residential or unknown use); off: to every building"),
    ),
    run=distribute_population,
    key_figures=("residents_total", "buildings_with_residents", "buildings_residential", "residents_unassigned",
                 "max_residents_per_building", "levels_default"),
    headline=headline,
    sources=("Dasymetric mapping with building floor area as the ancillary variable (e.g. Mennis 2003, "
             "The Professional Geographer 55(1))",
             "Levels from height: 3 m per storey"),
    result_styles={"buildings": Style(kind="graduated", field="residents", scheme="natural_breaks", classes=5,
                                      ramp="YlOrRd", unit="residents", stroke="#7f7f7f", stroke_width=0.4)},
)
