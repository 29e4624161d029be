"""Residents per building, as the analyses weigh them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import CityDeskError

POPULATION_FIELDS = ("residents", "population", "pop", "inhabitants", "asukkaat", "asukasluku")


def population_weights(buildings: gpd.GeoDataFrame, field: str = "") -> tuple[np.ndarray, str | None]:
    """Residents per building from ``field`` (or the first of the usual names found); every
    building weighs 1 when there is no such column. Missing or negative values count as 0."""
    columns = [c for c in buildings.columns if c != buildings.geometry.name]
    if field:
        if field not in columns:
            raise CityDeskError(f"the buildings layer has no column '{field}'", source="buildings",
                                fix=f"Columns: {', '.join(map(str, columns[:30])) or '(none)'}")
        chosen = field
    else:
        lower = {str(c).lower(): c for c in columns}
        chosen = next((lower[n] for n in POPULATION_FIELDS if n in lower), None)
    if chosen is None:
        return np.ones(len(buildings)), None
    values = buildings[chosen]
    numeric = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_bool_dtype(values) else None
    if numeric is None or (numeric.isna().all() and values.notna().any()):
        if not field:  # a column that only looks like a population column: weigh every building 1
            return np.ones(len(buildings)), None
        raise CityDeskError(f"the column '{field}' holds no numbers of residents", source="buildings",
                            fix="Choose a column with the number of residents per building")
    return np.clip(numeric.fillna(0.0).to_numpy(dtype=float), 0.0, None), str(chosen)


def origins(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Each building's origin point: ``point_on_surface()`` of its (repaired) geometry, None for
    a building without geometry."""
    geoms = buildings.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    out = shapely.point_on_surface(geoms)
    out[shapely.is_missing(geoms) | shapely.is_empty(geoms)] = None
    return out
