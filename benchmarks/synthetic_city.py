"""A scalable synthetic city for benchmarks: a street grid, buildings in its blocks, parks and
point facilities, in EPSG:3067 (metres). Deterministic for a given size and seed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
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


USES = ("residential", "office", "retail", "industrial", "public")
STREETS = ("Mannerheimintie", "Aleksanterinkatu", "Bulevardi", "Esplanadi", "Fredrikinkatu", "Hämeentie",
           "Lönnrotinkatu", "Runeberginkatu", "Siltasaarenkatu", "Tehtaankatu")


def synthetic_attributes(n: int, *, seed: int = 7) -> gpd.GeoDataFrame:
    """``n`` building points with eleven attribute columns of mixed types, for the attribute
    table benchmark: ids, addresses (about ``n`` distinct texts), a use (5 values), residents
    (10 % null), levels, height, floor area, a true/false column, a year-built date, a district
    (20 values) and a distance in metres. Deterministic for a given ``n`` and seed."""
    rng = np.random.default_rng(seed)
    street = np.asarray(STREETS, dtype=object)[rng.integers(0, len(STREETS), n)]
    number = rng.integers(1, max(n // len(STREETS), 2) + 1, n).astype(str)
    levels = rng.integers(1, 9, n)
    residents = rng.gamma(2.0, 20.0, n).round()
    residents[rng.random(n) < 0.1] = np.nan
    x0, y0 = ORIGIN
    side = max(np.sqrt(n) * 40.0, 100.0)
    table = {
        "id": np.arange(1, n + 1, dtype=np.int64),
        "address": pd.array(street + " " + number, dtype="str"),
        "use": pd.array(np.asarray(USES, dtype=object)[rng.integers(0, len(USES), n)], dtype="str"),
        "residents": residents,
        "levels": levels,
        "height": (levels * 3.2 + rng.uniform(0, 2, n)).round(1),
        "floor_area_m2": rng.uniform(80, 4000, n).round(1),
        "covered": rng.random(n) < 0.7,
        "built": pd.to_datetime(rng.integers(1850, 2024, n).astype(str), format="%Y"),
        "district": pd.array([f"District {d:02d}" for d in rng.integers(1, 21, n)], dtype="str"),
        "dist_m": rng.uniform(0, 800, n).round(1),
    }
    geometry = shapely.points(x0 + rng.uniform(0, side, n), y0 + rng.uniform(0, side, n))
    return gpd.GeoDataFrame(table, geometry=geometry, crs=CRS)


def synthetic_network(n_buildings: int, *, block_m: float = 100.0, jitter_m: float = 4.0,
                      seed: int = 7) -> gpd.GeoDataFrame:
    """The street grid of :func:`synthetic_city` as a walking network split like an OSM import:
    every street cut at the block corners and near the middle of each block side, plus a
    footpath through every block (between its buildings) with a node near the block centre.
    The middle nodes are moved at random by up to ``jitter_m`` (no two routes of exactly equal
    length, as in a real city). About 4 nodes and 6 edges per block: 100,000 buildings (25,000
    blocks) give ~100,000 nodes. Deterministic for a given size and seed."""
    rng = np.random.default_rng(seed + 2)
    blocks = max(1, int(np.ceil(n_buildings / 4)))
    side = int(np.ceil(np.sqrt(blocks)))
    half = block_m / 2
    line, step = np.meshgrid(np.arange(side + 1) * block_m, np.arange(side) * block_m, indexing="ij")
    line, step = line.ravel(), step.ravel()  # street at ``line``, block side from ``step`` to ``step + block_m``
    mid_v = step + half + rng.uniform(-jitter_m, jitter_m, len(step))  # along the streets x = line
    mid_h = step + half + rng.uniform(-jitter_m, jitter_m, len(step))  # along the streets y = line
    v_mid, h_mid = np.c_[line, mid_v], np.c_[mid_h, line]
    starts = [np.c_[line, step], v_mid, np.c_[step, line], h_mid]
    ends = [v_mid, np.c_[line, step + block_m], h_mid, np.c_[step + block_m, line]]
    # footpath of block (column c, row r): bottom side middle -> centre -> top side middle;
    # h_mid of street row r, block column c is at index r * side + c
    c, r = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    c, r = c.ravel(), r.ravel()
    centre = np.c_[c * block_m + half, r * block_m + half] + rng.uniform(-jitter_m, jitter_m, (len(c), 2))
    starts += [h_mid[r * side + c], centre]
    ends += [centre, h_mid[(r + 1) * side + c]]
    a = np.concatenate(starts) + ORIGIN
    b = np.concatenate(ends) + ORIGIN
    kind = np.r_[np.full(4 * len(step), "residential"), np.full(2 * len(c), "footway")]
    return gpd.GeoDataFrame({"highway": kind}, geometry=shapely.linestrings(np.stack([a, b], axis=1)), crs=CRS)


#: Destination layers of :func:`synthetic_destinations`: name -> blocks per feature.
DESTINATIONS = {"transit_stops": 4, "benches": 2, "toilets": 60, "pharmacies": 40, "groceries": 12,
                "healthcare": 100}


def synthetic_destinations(n_buildings: int, *, seed: int = 7, block_m: float = 100.0) -> dict[str, gpd.GeoDataFrame]:
    """Six point layers (:data:`DESTINATIONS`) scattered at random over the city of
    :func:`synthetic_city`, their densities per block set by the table."""
    rng = np.random.default_rng(seed + 1)
    blocks = max(1, int(np.ceil(n_buildings / 4)))
    ext = int(np.ceil(np.sqrt(blocks))) * block_m
    x0, y0 = ORIGIN
    out = {}
    for name, per in DESTINATIONS.items():
        k = max(1, blocks // per)
        out[name] = gpd.GeoDataFrame(geometry=shapely.points(rng.uniform(0, ext, (k, 2)) + (x0, y0)), crs=CRS)
    return out
