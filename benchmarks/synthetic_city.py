"""A scalable synthetic city for benchmarks: a street grid, buildings in its blocks, parks and
point facilities, in EPSG:3067 (metres). Deterministic for a given size and seed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

CRS = "EPSG:3067"
ORIGIN = (385_000.0, 6_671_000.0)  # central Helsinki in ETRS-TM35FIN


def synthetic_city(n_buildings: int, *, seed: int = 7, block_m: float = 100.0) -> dict[str, gpd.GeoDataFrame]:
    """About ``n_buildings`` buildings (4 per block) with residents, a street grid around the
    blocks, one park per 25 blocks and one bus stop per 4 blocks."""
    rng = np.random.default_rng(seed)
    blocks = max(1, int(np.ceil(n_buildings / 4)))
    side = int(np.ceil(np.sqrt(blocks)))
    x0, y0 = ORIGIN
    bx, by = np.meshgrid(np.arange(side), np.arange(side))
    bx, by = bx.ravel()[:blocks], by.ravel()[:blocks]
    # four buildings per block, 30 x 30 m with jitter
    offsets = np.array([(10, 10), (55, 10), (10, 55), (55, 55)], dtype=float)
    cx = (x0 + bx[:, None] * block_m + offsets[None, :, 0]).ravel()[:n_buildings]
    cy = (y0 + by[:, None] * block_m + offsets[None, :, 1]).ravel()[:n_buildings]
    cx = cx + rng.uniform(0, 5, len(cx))
    cy = cy + rng.uniform(0, 5, len(cy))
    buildings = gpd.GeoDataFrame({"residents": rng.integers(0, 120, len(cx)).astype(float),
                                  "levels": rng.integers(1, 8, len(cx)).astype(float)},
                                 geometry=shapely.box(cx, cy, cx + 30, cy + 30), crs=CRS)
    lines = np.arange(side + 1) * block_m
    ext = side * block_m
    streets = [shapely.LineString([(x0 + v, y0), (x0 + v, y0 + ext)]) for v in lines]
    streets += [shapely.LineString([(x0, y0 + v), (x0 + ext, y0 + v)]) for v in lines]
    park_idx = np.arange(0, blocks, 25)
    parks = shapely.box(x0 + bx[park_idx] * block_m + 5, y0 + by[park_idx] * block_m + 5,
                        x0 + bx[park_idx] * block_m + 95, y0 + by[park_idx] * block_m + 95)
    stop_idx = np.arange(0, blocks, 4)
    stops = shapely.points(x0 + bx[stop_idx] * block_m, y0 + by[stop_idx] * block_m)
    return {
        "buildings": buildings,
        "streets": gpd.GeoDataFrame(geometry=streets, crs=CRS),
        "green_spaces": gpd.GeoDataFrame({"area_m2": shapely.area(parks)}, geometry=parks, crs=CRS),
        "transit_stops": gpd.GeoDataFrame(geometry=stops, crs=CRS),
    }
