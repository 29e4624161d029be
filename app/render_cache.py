"""What the renderer keeps per layer between renders (no Qt): the geometries reprojected to the
project CRS, their STRtree, colours from :func:`layers.style.symbolize`, and flattened vertex
arrays, so a render gathers the visible features' vertices with numpy instead of asking shapely
for rings each time.

- :class:`FlatStore` holds the vertices of many geometries in one ``(m, 2)`` array, with a
  first-vertex flag per ring / line, and gathers any subset of features in a few numpy calls.
- Geometries simplified to the pixel size are kept per zoom level (a power-of-two bucket of the
  resolution), made lazily for the detailed features a render needs.
- Hit tests (:func:`features_near`, :func:`features_in_box`) for the identify and select tools.

The GUI thread must never wait long for the GIL while a worker prepares or draws a layer:

- Work is done in chunks of at most :data:`CHUNK` geometries (:func:`chunks`) or about
  :data:`CHUNK_VERTICES` vertices (:func:`feature_chunks`), so that no single call that holds the
  GIL (making shapely geometries, a Qt call, ``np.repeat``, copying bytes) runs long.
- Short calls are not enough: a thread that briefly releases and retakes the GIL thousands of times
  a second (PySide6 does it whenever a Qt object is deleted) retakes it before the waiting GUI
  thread wakes up, and CPython's switch request never fires (it waits for 5 ms without any
  switch), so the GUI thread starved for 100-250 ms while no call took more than a millisecond.
  Drawing loops therefore reuse their Qt objects (:func:`app.render.each_path`).
- As a safety net, workers call :func:`breathe` between chunks: a real pause every
  :data:`BREATHE_EVERY_S`, which hands the GIL to a waiting thread.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from app.workers import gc_paused
from layers.gil import breathe
from layers.layer import Layer
from layers.style import Style, symbolize

POINT, LINE, POLYGON = 0, 1, 2
# shapely type id (Point, LineString, LinearRing, Polygon, Multi..., GeometryCollection) -> kind
KIND_LUT = np.array([POINT, LINE, LINE, POLYGON, POINT, LINE, POLYGON, -1], dtype=np.int8)
SIMPLIFY_MIN_VERTICES = 12  # features with fewer vertices are never simplified (boxes, short lines)
SIMPLIFY_PX = 0.5  # simplification tolerance, in pixels of the zoom bucket
CHUNK = 20_000  # geometries per call in work that holds the GIL: the GUI thread gets a turn in between
CHUNK_VERTICES = 100_000  # vertices per step of a render (a few milliseconds of numpy or Qt work)
TREE_CHUNK = 50_000  # geometries per STRtree (a bigger layer gets several)


def chunks(n: int, size: int = CHUNK):
    """``(start, stop)`` of consecutive slices of ``range(n)`` of at most ``size``, with a
    :func:`breathe` before each."""
    for start in range(0, n, max(int(size), 1)):
        breathe()
        yield start, min(start + size, n)


# ---------------------------------------------------------------- cutting work into short steps

def ring_cuts(starts: np.ndarray, limit: int) -> np.ndarray:
    """Cut points (first 0, last ``len(starts)``) splitting vertices into runs of whole rings /
    lines of about ``limit`` vertices (a longer ring is a run of its own)."""
    first = np.flatnonzero(starts)
    if len(first) == 0 or first[0] != 0:
        first = np.r_[0, first]
    block = first // max(int(limit), 1)
    return np.r_[first[np.r_[True, block[1:] != block[:-1]]], len(starts)]


def batch_groups(cuts: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs ``(i, j)`` of the batches ``cuts[i]..cuts[j]`` holding about ``CHUNK_VERTICES``."""
    if len(cuts) < 2:
        return []
    group = cuts[:-1] // CHUNK_VERTICES
    first = np.r_[np.flatnonzero(np.r_[True, group[1:] != group[:-1]]), len(cuts) - 1]
    return list(zip(first[:-1].tolist(), first[1:].tolist(), strict=True))


def batches(owner: np.ndarray, codes: np.ndarray, limit: int, offset: int = 0) -> np.ndarray:
    """Cut points (vertex positions, first 0, last ``len(owner)``) splitting vertices into runs
    of one colour of whole features of about ``limit`` vertices (counted from ``offset``: the
    vertices of the chunks before)."""
    n = len(owner)
    first = np.r_[0, np.flatnonzero(owner[1:] != owner[:-1]) + 1]  # first vertex of each feature
    colour_change = np.r_[True, codes[first[1:]] != codes[first[:-1]]]
    block = (first + offset) // limit
    block_change = np.r_[True, block[1:] != block[:-1]]
    return np.r_[first[colour_change | block_change], n]


def feature_chunks(prepared: Prepared, sel: np.ndarray) -> list[tuple[int, int]]:
    """``(a, b)``: consecutive slices of ``sel`` (indexes into ``prepared.geoms``) of about
    ``CHUNK_VERTICES`` vertices (and at most ``CHUNK`` features), so that each step of a
    render on them is short."""
    if len(sel) == 0:
        return []
    weight = np.cumsum(prepared.base_store().counts[sel] + CHUNK_VERTICES // CHUNK)
    cuts = np.searchsorted(weight, np.arange(CHUNK_VERTICES, int(weight[-1]), CHUNK_VERTICES), side="right")
    cuts = np.unique(np.r_[0, cuts[(cuts > 0) & (cuts < len(sel))], len(sel)])
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))


class FlatStore:
    """Vertices of geometries ``0..n-1`` (indexes into :attr:`Prepared.geoms`) in packed arrays.

    Features are added in batches (:meth:`add`) and gathered in any order (:meth:`gather`).
    Thread-safe: renders of two generations may use one store at the same time."""

    def __init__(self, n: int):
        self.offsets = np.full(n, -1, dtype=np.int64)  # first vertex of each feature, -1: not added
        self.counts = np.zeros(n, dtype=np.int64)
        self.coords = np.empty((0, 2), dtype=np.float64)  # rows ``[0, size)`` used, the rest spare room
        self.starts = np.empty(0, dtype=bool)  # True at the first vertex of each ring / line
        self.size = 0
        self._lock = threading.Lock()

    def has(self, features: np.ndarray) -> np.ndarray:
        return self.offsets[features] >= 0

    def add(self, features: np.ndarray, geoms: np.ndarray) -> None:
        """Add ``geoms`` (polygons oriented) as the vertices of ``features``. The arrays grow by
        doubling, so adding a layer chunk by chunk costs no more than adding it at once; the rows a
        concurrent :meth:`gather` reads are never moved or written."""
        if len(features) == 0:
            return
        pieces = [flatten(geoms[a:b]) for a, b in chunks(len(geoms))]
        added = sum(len(p[0]) for p in pieces)
        counts = np.concatenate([p[2] for p in pieces])
        with self._lock:  # copies piece by piece with a breathe() between: a big layer is 100s of MB
            base, end = self.size, self.size + added
            if end > len(self.coords):
                room = end if base == 0 else max(end, 2 * len(self.coords))
                grown_xy, grown_st = np.empty((room, 2), dtype=np.float64), np.zeros(room, dtype=bool)
                for a, b in chunks(base, CHUNK_VERTICES * 10):
                    grown_xy[a:b], grown_st[a:b] = self.coords[a:b], self.starts[a:b]
                self.coords, self.starts = grown_xy, grown_st
            at = base
            for piece_xy, piece_starts, _ in pieces:
                breathe()
                self.coords[at:at + len(piece_xy)], self.starts[at:at + len(piece_xy)] = piece_xy, piece_starts
                at += len(piece_xy)
            self.size = end
            self.offsets[features] = base + np.r_[0, np.cumsum(counts)[:-1]]
            self.counts[features] = counts

    def gather(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xy, starts, owner)`` of ``features`` in their order: the vertices, the ring-start
        flags and, per vertex, the position in ``features`` of the feature it belongs to."""
        with self._lock:
            offsets, counts, coords, starts = self.offsets[features], self.counts[features], self.coords, self.starts
        total = int(counts.sum())
        if total == 0:
            return np.empty((0, 2)), np.empty(0, dtype=bool), np.empty(0, dtype=np.int64)
        ends = np.cumsum(counts)
        vertex = np.repeat(offsets - (ends - counts), counts) + np.arange(total)
        owner = np.repeat(np.arange(len(features)), counts)
        return coords[vertex], starts[vertex], owner


def flatten(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coords, starts, counts)``: every vertex of ``geoms`` (lines and polygons) in order, a
    flag on the first vertex of each ring / line, and the vertex count per geometry. Simple
    geometries (polygons without holes, single lines) need no ring objects at all."""
    coords = shapely.get_coordinates(geoms)
    counts = shapely.get_num_coordinates(geoms).astype(np.int64)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    starts = np.zeros(len(coords), dtype=bool)
    starts[first[counts > 0]] = True
    types = shapely.get_type_id(geoms)
    complex_ = np.flatnonzero(((types == 3) & (shapely.get_num_interior_rings(geoms) > 0))
                              | (types == 5) | (types == 6) | (types == 7))
    if len(complex_):
        parts, part_of = shapely.get_parts(geoms[complex_], return_index=True)
        poly = shapely.get_type_id(parts) == 3
        rings, ring_of = shapely.get_rings(parts[poly], return_index=True)
        pieces = np.concatenate([rings, parts[~poly]])
        owner = np.concatenate([part_of[poly][ring_of], part_of[~poly]])
        order = np.argsort(owner, kind="stable")  # rings back in their geometry's vertex order
        pieces, owner = pieces[order], owner[order]
        n = shapely.get_num_coordinates(pieces)
        before = np.cumsum(n) - n  # vertices of earlier pieces, all features
        group_first = np.r_[0, np.flatnonzero(owner[1:] != owner[:-1]) + 1]
        within = before - np.repeat(before[group_first], np.diff(np.r_[group_first, len(owner)]))
        starts[(first[complex_][owner] + within)[n > 0]] = True
    return coords, starts, counts


class ChunkedTree:
    """STRtrees over consecutive chunks of ``geoms`` (one tree for a small layer), so building
    the index of a million features never holds the GIL for long. Answers ``query`` and
    ``query_nearest`` for one geometry like :class:`shapely.STRtree` (indexes into ``geoms``)."""

    def __init__(self, geoms: np.ndarray, chunk: int = TREE_CHUNK):
        self.geometries = geoms
        self.trees = [(start, shapely.STRtree(geoms[start:stop])) for start, stop in chunks(max(len(geoms), 1), chunk)]

    def query(self, geometry, predicate=None, distance=None) -> np.ndarray:
        if len(self.trees) == 1:
            return self.trees[0][1].query(geometry, predicate=predicate, distance=distance)
        found = [tree.query(geometry, predicate=predicate, distance=distance) + start for start, tree in self.trees]
        return np.concatenate(found).astype(np.intp)

    def query_nearest(self, geometry, max_distance=None, return_distance=False, exclusive=False,
                      all_matches=True):
        if len(self.trees) == 1:
            return self.trees[0][1].query_nearest(geometry, max_distance=max_distance, return_distance=return_distance,
                                                  exclusive=exclusive, all_matches=all_matches)
        idx, dist = [], []
        for start, tree in self.trees:
            i, d = tree.query_nearest(geometry, max_distance=max_distance, return_distance=True,
                                      exclusive=exclusive, all_matches=all_matches)
            idx.append(i + start)
            dist.append(d)
        idx, dist = np.concatenate(idx).astype(np.intp), np.concatenate(dist)
        keep = np.flatnonzero(dist == dist.min()) if len(dist) else np.zeros(0, dtype=np.intp)
        keep = keep if all_matches else keep[:1]
        return (idx[keep], dist[keep]) if return_distance else idx[keep]


def morton_rank(bounds: np.ndarray) -> np.ndarray:
    """A rank per box along a Z-order curve of the box centres: boxes close on the map get close
    ranks, so drawing features in rank order keeps each batch small on screen."""
    if len(bounds) == 0:
        return np.zeros(0, dtype=np.int64)
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2
    keys = np.zeros(len(bounds), dtype=np.uint64)
    for v, shift in ((cx, 0), (cy, 1)):
        lo, hi = np.nanmin(v), np.nanmax(v)
        q = np.nan_to_num((v - lo) / max(hi - lo, 1e-12) * 65535).astype(np.uint64)
        for bit in range(16):
            keys |= ((q >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + shift)
            breathe()
    rank = np.empty(len(bounds), dtype=np.int64)
    rank[np.argsort(keys, kind="stable")] = np.arange(len(bounds))
    return rank


@dataclass
class Geometry:
    """The style-independent part of a prepared layer, shared by its style variants; its flat
    stores fill lazily (under a lock)."""

    base: FlatStore | None = None
    simplified: dict[int, FlatStore] = field(default_factory=dict)
    labels: dict[str, object] = field(default_factory=dict)  # label field -> what app.labels keeps
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Prepared:
    """A layer reprojected to the project CRS, with what every render needs. ``geoms`` and
    ``rows`` keep the layer's row order (``rows`` is sorted)."""

    gdf: object  # the layer's GeoDataFrame this was built from (identity check)
    crs: CRS
    geoms: np.ndarray  # valid, non-empty geometries in the project CRS, polygons oriented
    rows: np.ndarray  # their positions in the layer's GeoDataFrame
    kinds: np.ndarray  # POINT / LINE / POLYGON per geometry
    bounds: np.ndarray  # (n, 4)
    tree: ChunkedTree  # query / query_nearest like a shapely STRtree
    rank: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # Z-order rank
    geometry: Geometry = field(default_factory=Geometry)
    style_key: str = ""
    palette: list[str] = field(default_factory=list)  # hex colours
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))  # palette index per geom
    legend: list[tuple[str, str]] = field(default_factory=list)
    anchors: np.ndarray | None = None  # label anchor per geometry, (n, 2)
    extent: tuple[float, float, float, float] | None = None  # the box around every geometry (None: no geometry)

    def base_store(self) -> FlatStore:
        """Every line and polygon flattened (made on first use)."""
        g = self.geometry
        with g.lock:
            if g.base is None:
                store = FlatStore(len(self.geoms))
                shapes = np.flatnonzero(self.kinds != POINT)
                store.add(shapes, self.geoms[shapes])
                g.base = store
            return g.base

    def vertices(self, features: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`FlatStore.gather` of ``features`` as drawn at ``resolution`` (map units per
        pixel): detailed features simplified to about half a pixel of their zoom bucket."""
        base = self.base_store()
        detailed = base.counts[features] >= SIMPLIFY_MIN_VERTICES
        if not detailed.any() or not (resolution > 0):
            return base.gather(features)
        bucket = math.floor(math.log2(resolution))
        g = self.geometry
        with g.lock:
            store = g.simplified.setdefault(bucket, FlatStore(len(self.geoms)))
        need = features[detailed]
        missing = need[~store.has(need)]
        for a, b in chunks(len(missing)):
            part = missing[a:b]
            simple = shapely.simplify(self.geoms[part], SIMPLIFY_PX * 2.0 ** bucket, preserve_topology=False)
            empty = shapely.is_empty(simple) | (shapely.get_num_coordinates(simple) == 0)
            simple[empty] = self.geoms[part[empty]]  # a sliver that vanished stays as it was
            poly = self.kinds[part] == POLYGON
            simple[poly] = shapely.orient_polygons(simple[poly])
            store.add(part, simple)
        xy_a, st_a, own_a = base.gather(features[~detailed])
        xy_b, st_b, own_b = store.gather(need)
        owner = np.concatenate([np.flatnonzero(~detailed)[own_a], np.flatnonzero(detailed)[own_b]])
        xy, starts = np.concatenate([xy_a, xy_b]), np.concatenate([st_a, st_b])
        order = np.argsort(owner, kind="stable")  # back in the order of ``features``
        return xy[order], starts[order], owner[order]


def style_key(style: Style) -> str:
    return json.dumps(style.to_dict(), sort_keys=True, default=str)


class RenderCache:
    """Prepared layers, keyed by the layer object, its GeoDataFrame, the project CRS and the
    style. Thread-safe; entries die with their layer. A layer is built under its own lock, so
    the GUI thread never waits for a worker building another layer."""

    def __init__(self) -> None:
        self._entries: weakref.WeakKeyDictionary[Layer, Prepared] = weakref.WeakKeyDictionary()
        self._building: weakref.WeakKeyDictionary[Layer, threading.RLock] = weakref.WeakKeyDictionary()
        self._epochs: weakref.WeakKeyDictionary[Layer, int] = weakref.WeakKeyDictionary()  # invalidations
        self._lock = threading.Lock()  # guards the dictionaries only: held for microseconds

    def prepare(self, layer: Layer, crs: CRS) -> Prepared | None:
        """The prepared layer (built now if missing or stale); None for a layer without data.

        An entry is never changed once made (a new style makes a new entry sharing the
        geometries), so a render that holds one always sees matching geometries and colours."""
        if layer.gdf is None or len(layer.gdf) == 0:
            return None
        crs = CRS.from_user_input(crs)
        key = style_key(layer.style)
        entry = self._entries.get(layer)
        if entry is not None and entry.gdf is layer.gdf and entry.crs == crs and entry.style_key == key:
            return entry  # the common case, without waiting for the lock
        with self._lock:
            building = self._building.setdefault(layer, threading.RLock())
        with building, gc_paused():
            with self._lock:
                entry, epoch = self._entries.get(layer), self._epochs.get(layer, 0)
            if entry is None or entry.gdf is not layer.gdf or entry.crs != crs:
                entry = _reproject(layer, crs)
            if entry.style_key != key:
                symbology = symbolize(layer.style, layer.gdf)
                codes, palette = colour_codes(np.asarray(symbology.colors, dtype=object), entry.rows)
                entry = replace(entry, style_key=key, palette=[str(c) for c in palette], codes=codes,
                                legend=list(symbology.legend))
            with self._lock:
                if self._epochs.get(layer, 0) == epoch:  # not invalidated while it was built
                    self._entries[layer] = entry
            return entry

    def geometry(self, layer: Layer, crs: CRS) -> Prepared | None:
        """The prepared layer for hit tests and extents: any entry whose geometries are current
        will do, whatever its style, so a click right after a restyle does not wait for the
        colours of a big layer on the GUI thread. Else as :meth:`prepare`."""
        entry = self._entries.get(layer)
        if entry is not None and entry.gdf is layer.gdf and entry.crs == CRS.from_user_input(crs):
            return entry
        return self.prepare(layer, crs)

    def extent(self, layer: Layer, crs: CRS) -> tuple[float, float, float, float] | None:
        """The box around ``layer``'s geometries in ``crs`` if the layer is prepared (cheap enough
        for the GUI thread, unlike ``gdf.total_bounds`` of a million features), else None."""
        entry = self._entries.get(layer)
        if entry is not None and entry.gdf is layer.gdf and entry.crs == CRS.from_user_input(crs):
            return entry.extent
        return None

    def invalidate(self, layer: Layer) -> None:
        """Forget ``layer`` (its GeoDataFrame was changed in place); an entry being built now is
        not kept either."""
        with self._lock:
            self._entries.pop(layer, None)
            self._epochs[layer] = self._epochs.get(layer, 0) + 1

    def legend(self, layer: Layer, crs: CRS) -> list[tuple[str, str]]:
        """The legend ``[(label, colour)]`` of the layer's style (empty for a layer without data):
        the cached one, else straight from ``symbolize`` (no reprojection, so cheap enough for the
        GUI thread)."""
        if layer.gdf is None or len(layer.gdf) == 0:
            return []
        entry = self._entries.get(layer)
        if entry is not None and entry.gdf is layer.gdf and entry.style_key == style_key(layer.style):
            return list(entry.legend)
        return list(symbolize(layer.style, layer.gdf).legend)


def colour_codes(colours: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, palette)`` of ``colours[rows]``: like ``pd.factorize(..., sort=True)`` (hashing is far
    faster than sorting strings), in chunks of rows, each factorized and mapped to the sorted palette."""
    if len(rows) <= 5 * CHUNK:
        codes, palette = pd.factorize(colours[rows], sort=True)
        return codes.astype(np.intp), np.asarray(palette, dtype=object)
    parts = [pd.factorize(colours[rows[a:b]]) for a, b in chunks(len(rows), 5 * CHUNK)]
    palette = np.array(sorted(set().union(*(set(uniques.tolist()) for _, uniques in parts))), dtype=object)
    codes = np.empty(len(rows), dtype=np.intp)
    start = 0
    for part_codes, uniques in parts:
        lut = np.searchsorted(palette, np.asarray(uniques, dtype=object))
        codes[start:start + len(part_codes)] = np.where(part_codes >= 0, lut[part_codes], -1)
        start += len(part_codes)
    return codes, palette


def to_crs(geoms: np.ndarray, source, target) -> np.ndarray:
    """``geoms`` (x, y; missing ones stay None) moved from ``source`` to ``target`` like
    ``GeoSeries.to_crs`` (``always_xy``), in chunks: making new geometries holds the GIL."""
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def move(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = np.empty(len(geoms), dtype=object)
    for a, b in chunks(len(geoms)):
        out[a:b] = shapely.transform(geoms[a:b], move)
    return out


def _reproject(layer: Layer, crs: CRS) -> Prepared:
    gdf = layer.gdf
    series = gdf.geometry
    geoms = np.asarray(series.values, dtype=object)
    if series.crs is not None and not CRS.from_user_input(series.crs).equals(crs):
        geoms = to_crs(geoms, series.crs, crs)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    rows = np.flatnonzero(keep)
    geoms = geoms[rows]
    kinds = KIND_LUT[shapely.get_type_id(geoms)]
    drop = kinds < 0  # geometry collections: not drawn in this version
    if drop.any():
        rows, geoms, kinds = rows[~drop], geoms[~drop], kinds[~drop]
    polygons = np.flatnonzero(kinds == POLYGON)
    for a, b in chunks(len(polygons)):  # exterior and holes opposite: winding fill works
        part = polygons[a:b]
        geoms[part] = shapely.orient_polygons(geoms[part])
    bounds = shapely.bounds(geoms).reshape(-1, 4)
    prepared = Prepared(gdf, crs, geoms, rows, kinds, bounds, ChunkedTree(geoms), morton_rank(bounds))
    if len(bounds) and np.isfinite(bounds).any():
        prepared.extent = (*map(float, np.nanmin(bounds[:, :2], axis=0)), *map(float, np.nanmax(bounds[:, 2:], axis=0)))
    prepared.base_store()  # flattened now, in the loading worker, not at the first render
    return prepared


# ------------------------------------------------------------------------------- hit tests

def features_near(prepared: Prepared, x: float, y: float, tolerance: float) -> np.ndarray:
    """Row positions (into the layer's GeoDataFrame) of the features within ``tolerance`` (map
    units) of ``x, y``, nearest first (a polygon holding the point is at distance 0)."""
    point = shapely.Point(x, y)
    idx = prepared.tree.query(point, predicate="dwithin", distance=tolerance)
    if len(idx) == 0:
        return np.empty(0, dtype=np.int64)
    dist = shapely.distance(prepared.geoms[idx], point)
    idx = idx[np.lexsort((idx, dist))]
    return prepared.rows[idx]


def features_in_box(prepared: Prepared, box: tuple[float, float, float, float]) -> np.ndarray:
    """Row positions of the features intersecting ``box`` ``(xmin, ymin, xmax, ymax)``, sorted."""
    idx = prepared.tree.query(shapely.box(*box), predicate="intersects")
    return np.sort(prepared.rows[idx])


def positions(prepared: Prepared, rows: np.ndarray) -> np.ndarray:
    """Indexes into ``prepared.geoms`` of the layer rows ``rows`` (rows without a geometry are left out)."""
    rows = np.asarray(rows, dtype=np.int64)
    k = np.searchsorted(prepared.rows, rows)
    ok = k < len(prepared.rows)
    k = k[ok]
    return k[prepared.rows[k] == rows[ok]]
