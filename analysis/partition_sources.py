"""Where a partitioned run reads its layers, tile by tile (no Qt, no Dask).

A *source* gives the features of a layer whose bounding box meets a box, with their **row id**
(the position in the whole layer, or a GeoPackage FID): ``select(box) -> (gdf, ids)``, rows in
layer order. :class:`FrameSource` wraps a GeoDataFrame already in memory (the window, small
runs); :class:`FileSource` reads a GeoPackage layer by bounding box (pyogrio, the layer's spatial
index) or a folder of GeoParquet partitions one partition at a time, so a layer bigger than the
client's memory is only ever read piece by piece, on the workers.

:func:`hilbert_order` sorts points along a Hilbert curve: consecutive points are near each other,
so consecutive runs of it make compact tiles.
"""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from layers.errors import CityDeskError

Box = tuple[float, float, float, float]
#: Line ends closer than this are looked at together (twice the network's join tolerance, 0.5 m).
JOIN_M = 1.0
#: GeoParquet partitions a worker keeps decoded (a tile and its halo touch a few of each layer; a
#: later round's tile, as big, touches others: too few and they are decoded again and again).
PARTS_KEPT = 16


class FrameSource:
    """A layer held in memory; row ids are positions."""

    def __init__(self, gdf: gpd.GeoDataFrame):
        self.gdf = gdf
        self.crs = gdf.crs
        self._bounds = shapely.bounds(gdf.geometry.to_numpy())  # NaN for missing geometries

    def __len__(self) -> int:
        return len(self.gdf)

    def count(self) -> int:
        return len(self.gdf)

    def bounds(self) -> Box:
        b = self._bounds
        return (float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])),
                float(np.nanmax(b[:, 3])))

    def select(self, box: Box | None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        if box is None:
            return self.gdf, np.arange(len(self.gdf))
        b = self._bounds
        ids = np.flatnonzero((b[:, 0] <= box[2]) & (b[:, 2] >= box[0]) & (b[:, 1] <= box[3]) & (b[:, 3] >= box[1]))
        return self.gdf.iloc[ids], ids

    def rows(self, ids: np.ndarray) -> gpd.GeoDataFrame:
        return self.gdf.iloc[ids]

    def select_missing(self) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """The features without a geometry (or with an empty one), which no box selects."""
        geoms = self.gdf.geometry.to_numpy()
        ids = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        return self.gdf.iloc[ids], ids

    def select_lines(self, box: Box | None, join_m: float = JOIN_M) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """Like :meth:`select`, plus every line with an end in the same cluster of line ends (ends
        within ``join_m`` of each other, transitively) as an end of a selected line: the network
        builder moves the ends of a cluster to its first end (in layer order), which moves the
        whole first or last segment of a line; with every end of each such cluster present, the
        tile's lines end exactly where they do in the whole layer. Only the clusters of the
        selected lines' own ends are completed (the added lines lie outside the box, so where
        their far ends go does not matter)."""
        gdf, ids = self.select(box)
        if box is None or len(ids) == 0:
            return gdf, ids
        owner, labels = self._ends()
        if len(owner) == 0:
            return gdf, ids
        seed = np.isin(owner, ids)
        cluster = np.isin(labels, labels[seed])
        ids = np.union1d(ids, owner[cluster])
        return self.gdf.iloc[ids], ids

    def _ends(self):
        if not hasattr(self, "_end_index"):
            xy, owner = line_ends(self.gdf.geometry.to_numpy())
            self._end_index = (owner, end_labels(xy, JOIN_M))
        return self._end_index


def line_ends(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The start and end points (n, 2) of the line parts of ``geoms`` and the row of each."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    lines = np.isin(shapely.get_type_id(parts), (1, 2)) & ~shapely.is_empty(parts)
    parts, owner = parts[lines], owner[lines]
    if len(parts) == 0:
        return np.empty((0, 2)), np.empty(0, np.int64)
    coords = shapely.get_coordinates(parts)
    last = np.cumsum(shapely.get_num_coordinates(parts)) - 1
    first = np.r_[0, last[:-1] + 1]
    xy = np.concatenate([coords[first], coords[last]])
    return xy, np.concatenate([owner, owner]).astype(np.int64)


def end_labels(xy: np.ndarray, join_m: float) -> np.ndarray:
    """A cluster number per end: ends linked by chains of ends at most ``join_m`` apart share one
    (all pairs found at once, then connected components: no per-end Python loop)."""
    if len(xy) == 0:
        return np.empty(0, np.int64)
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(join_m, output_type="ndarray")
    n = len(xy)
    graph = sp.coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def end_cluster(xy: np.ndarray, seed: np.ndarray, join_m: float) -> np.ndarray:
    """The ends (indices into ``xy``) linked to the ``seed`` ends by chains of ends at most
    ``join_m`` apart."""
    labels = end_labels(xy, join_m)
    wanted = np.zeros(int(labels.max(initial=-1)) + 1, bool)
    wanted[labels[seed]] = True
    return np.flatnonzero(wanted[labels])


class FileSource:
    """A GeoPackage layer (read by bounding box through its spatial index; ids are FIDs) or a
    folder of ``*.parquet`` GeoParquet partitions (each read whole only when its extent meets
    the box; ids are partition number x 2**32 + row in the partition). Picklable: workers open
    the file themselves."""

    def __init__(self, path: str | Path, layer: str | None = None):
        self.path, self.layer = str(path), layer
        p = Path(path)
        if p.is_dir():
            self.parts = sorted(str(f) for f in p.glob("*.parquet"))
            if not self.parts:
                raise CityDeskError("the folder holds no .parquet partitions", source=str(p),
                                    fix="Give a GeoPackage or a folder of GeoParquet files")
            self.part_bounds = [_parquet_bbox(f) for f in self.parts]
            self.crs = _parquet_crs(self.parts[0])
        elif p.suffix.lower() == ".gpkg":
            self.parts = None
            info = pyogrio.read_info(self.path, layer=layer, force_total_bounds=True)  # exact, not the header's
            import pyproj

            self.crs = pyproj.CRS.from_user_input(info["crs"]) if info["crs"] else None
            self._extent = tuple(float(v) for v in info["total_bounds"])
        else:
            raise CityDeskError("partitioned reading needs a GeoPackage or a folder of GeoParquet files",
                                source=str(p), fix="Convert the layer with 'citydesk' or ogr2ogr")

    def count(self) -> int:
        """The number of features (from the file's metadata, nothing decoded)."""
        if self.parts is None:
            return int(pyogrio.read_info(self.path, layer=self.layer)["features"])
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.parts)

    def bounds(self) -> Box:
        if self.parts is None:
            return self._extent
        b = np.array(self.part_bounds)
        return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))

    def select(self, box: Box | None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        if self.parts is None:
            gdf = pyogrio.read_dataframe(self.path, layer=self.layer, bbox=box, fid_as_index=True)
            gdf = gdf.sort_index()
            ids = gdf.index.to_numpy(dtype=np.int64)
            return gdf.reset_index(drop=True), ids
        frames, ids = [], []
        for k, (part, pb) in enumerate(zip(self.parts, self.part_bounds, strict=True)):
            if box is not None and (pb[0] > box[2] or pb[2] < box[0] or pb[1] > box[3] or pb[3] < box[1]):
                continue
            gdf, b = _read_part_cached(part)
            rows = np.arange(len(gdf))
            if box is not None:
                rows = np.flatnonzero((b[:, 0] <= box[2]) & (b[:, 2] >= box[0]) & (b[:, 1] <= box[3])
                                      & (b[:, 3] >= box[1]))
            frames.append(gdf.iloc[rows])
            ids.append((np.int64(k) << 32) + rows)
        if not frames:
            empty = _read_part(self.parts[0]).iloc[:0]
            return empty, np.empty(0, np.int64)
        return gpd.GeoDataFrame(_concat(frames), crs=self.crs), np.concatenate(ids)


    def select_lines(self, box: Box | None, join_m: float = JOIN_M) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """:meth:`select`, completed like :meth:`FrameSource.select_lines` when the layer holds lines:
        the clusters of the selected lines' ends are read around those ends (small boxes, read
        again until every end of the clusters lies inside a box already read, so that every line
        with an end near it has been seen)."""
        gdf, ids = self.select(box)
        if box is None or len(ids) == 0:
            return gdf, ids
        pool, pool_ids, read = [gdf], [ids], [box]
        seed_ids = ids
        while True:
            frame = _concat(pool) if len(pool) > 1 else pool[0]
            all_ids = np.concatenate(pool_ids)
            all_ids, first = np.unique(all_ids, return_index=True)
            frame = frame.iloc[first]
            xy, owner = self._pool_ends(frame, all_ids)
            if len(xy) == 0:
                return gdf, ids
            # an end at least join_m inside the box has only seed lines' ends within join_m: a chain
            # from a line outside to a seed line reaches a seed end near the edge first (the rest is left out)
            near = np.flatnonzero(~_inside_any(xy, [box], join_m))
            seed = _member(seed_ids, all_ids)[owner[near]]
            cluster = near[end_cluster(xy[near], np.flatnonzero(seed), join_m)] if seed.any() else near[:0]
            outside = cluster[~_inside_any(xy[cluster], read, join_m)]
            if len(outside) == 0:
                break
            boxes = _end_boxes(xy[outside], 2.0 * join_m)
            more, more_ids = self.select_boxes(boxes)
            pool, pool_ids = [frame, more], [all_ids, more_ids]
            read += boxes
        keep = np.union1d(seed_ids, all_ids[owner[cluster]])
        rows = np.searchsorted(all_ids, keep)
        return frame.iloc[rows].reset_index(drop=True), keep

    def _pool_ends(self, frame: gpd.GeoDataFrame, all_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The line ends of ``frame`` (rows ``all_ids``, sorted) and the row of each: from each
        partition's table of line ends, computed once per worker, not per tile."""
        if self.parts is None:
            return line_ends(frame.geometry.to_numpy())
        xys, rows = [np.empty((0, 2))], [np.empty(0, np.int64)]
        part = all_ids >> 32
        for k in np.unique(part):
            xy, own = _part_ends(self.parts[int(k)])
            pos = np.full(len(own) and int(own.max()) + 1, -1, np.int64)  # partition row -> row in all_ids
            mine = np.flatnonzero(part == k)
            row = all_ids[mine] & 0xFFFFFFFF
            inside = row < len(pos)
            pos[row[inside]] = mine[inside]
            at = pos[own]
            hit = at >= 0
            xys.append(xy[hit])
            rows.append(at[hit])
        return np.concatenate(xys), np.concatenate(rows)

    def select_boxes(self, boxes: list[Box]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """The features meeting any of ``boxes`` (each once, in id order)."""
        if self.parts is None:
            got = [self.select(b) for b in boxes]
            frame = _concat([g for g, _ in got])
            ids = np.concatenate([i for _, i in got])
        else:
            frames, id_parts = [], []
            b = np.array(boxes, float)
            for k, (part, pb) in enumerate(zip(self.parts, self.part_bounds, strict=True)):
                if not ((b[:, 0] <= pb[2]) & (b[:, 2] >= pb[0]) & (b[:, 1] <= pb[3]) & (b[:, 3] >= pb[1])).any():
                    continue
                g, _fb = _read_part_cached(part)
                rows = np.unique(_part_tree(part).query(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]))[1])
                frames.append(g.iloc[rows])
                id_parts.append((np.int64(k) << 32) + rows)
            if not frames:
                return self.select((0.0, 0.0, -1.0, -1.0))
            frame, ids = _concat(frames), np.concatenate(id_parts)
        ids, first = np.unique(ids, return_index=True)
        return gpd.GeoDataFrame(frame.iloc[first].reset_index(drop=True), crs=self.crs), ids

    def select_missing(self) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """The features without a geometry (or with an empty one), which no box selects."""
        if self.parts is None:
            info = pyogrio.read_info(self.path, layer=self.layer)
            geom = info.get("geometry_name") or "geom"
            gdf = pyogrio.read_dataframe(self.path, layer=self.layer, fid_as_index=True,
                                         where=f'"{geom}" IS NULL OR ST_IsEmpty("{geom}")')
            gdf = gdf.sort_index()
            return gdf.reset_index(drop=True), gdf.index.to_numpy(dtype=np.int64)
        frames, ids = [], []
        for k, part in enumerate(self.parts):
            maybe = _missing_candidates(part)
            if maybe is not None and len(maybe) == 0:
                continue
            g = _read_part(part)
            geoms = g.geometry.to_numpy()
            rows = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            frames.append(g.iloc[rows])
            ids.append((np.int64(k) << 32) + rows)
        if not frames:
            return _read_part(self.parts[0]).iloc[:0], np.empty(0, np.int64)
        return gpd.GeoDataFrame(_concat(frames), crs=self.crs), np.concatenate(ids)


def lines_in_boxes(source, boxes: list[Box]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The union of ``source.select_lines(box)`` over ``boxes`` (each feature once, in id order)."""
    got = [source.select_lines(b) for b in boxes]
    ids = np.concatenate([i for _, i in got]) if got else np.empty(0, np.int64)
    if len(ids) == 0:
        return source.select((0.0, 0.0, -1.0, -1.0))
    frame = _concat([g for g, _ in got])
    ids, first = np.unique(ids, return_index=True)
    return gpd.GeoDataFrame(frame.iloc[first].reset_index(drop=True), crs=source.crs), ids


class BoxesReader:
    """Reads, on a worker, the lines of ``source`` within any of ``boxes`` (see :func:`lines_in_boxes`);
    the tile's own box is ignored. Picklable when ``source`` is."""

    def __init__(self, source, boxes: list[Box]):
        self.source, self.boxes = source, boxes

    def select_lines(self, _box: Box | None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        return lines_in_boxes(self.source, self.boxes)


def _inside_any(xy: np.ndarray, boxes: list[Box], by: float) -> np.ndarray:
    """Whether each point lies at least ``by`` inside one of ``boxes`` (the first, the tile's own
    box, holds most of them: only the others are tried against the many small boxes)."""
    x0, y0, x1, y1 = boxes[0]
    inside = (xy[:, 0] >= x0 + by) & (xy[:, 0] <= x1 - by) & (xy[:, 1] >= y0 + by) & (xy[:, 1] <= y1 - by)
    rest = np.flatnonzero(~inside)
    if len(rest) and len(boxes) > 1:
        b = np.array(boxes[1:], float) + (by, by, -by, -by)
        tree = shapely.STRtree(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]))
        hit = tree.query(shapely.points(xy[rest]), predicate="intersects")[0]
        inside[rest[np.unique(hit)]] = True
    return inside


def _member(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Per element of ``sorted_ids`` (sorted, unique): whether it is among ``values``."""
    pos = np.searchsorted(sorted_ids, values)
    ok = pos < len(sorted_ids)
    ok[ok] = sorted_ids[pos[ok]] == values[ok]
    out = np.zeros(len(sorted_ids), bool)
    out[pos[ok]] = True
    return out


def _end_boxes(xy: np.ndarray, by: float, cell_m: float = 250.0) -> list[Box]:
    """Boxes around the points ``xy``, one per occupied ``cell_m`` grid cell (few reads)."""
    cell = np.floor(xy / cell_m).astype(np.int64)
    _, group = np.unique(cell, axis=0, return_inverse=True)
    group = group.ravel()
    boxes = []
    for g in range(group.max() + 1):
        p = xy[group == g]
        lo, hi = p.min(axis=0), p.max(axis=0)
        boxes.append((float(lo[0] - by), float(lo[1] - by), float(hi[0] + by), float(hi[1] + by)))
    return boxes


@functools.lru_cache(maxsize=PARTS_KEPT)
def _read_part_cached(path: str) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """A GeoParquet partition and its features' bounds, decoded once per worker while it is among
    the last few used (consecutive tiles, in Hilbert order, read the same partitions; the memory
    stays bounded). The CRS is parsed once per process, not once per read."""
    import json

    import pyarrow.parquet as pq

    try:
        from geopandas.io.arrow import _arrow_to_geopandas
    except ImportError:  # pragma: no cover - another geopandas
        gdf = gpd.read_parquet(path)
    else:
        table = pq.read_table(path)
        geo = json.loads((table.schema.metadata or {}).get(b"geo", b"{}"))
        for meta in geo.get("columns", {}).values():
            if isinstance(meta.get("crs"), dict | str):
                meta["crs"] = _crs_of(json.dumps(meta["crs"], sort_keys=True))
        gdf = _arrow_to_geopandas(table, geo)
    return gdf, shapely.bounds(gdf.geometry.to_numpy())


@functools.lru_cache(maxsize=PARTS_KEPT)
def _part_tree(path: str) -> shapely.STRtree:
    """A tree of a partition's features (queried by their bounding boxes)."""
    return shapely.STRtree(_read_part(path).geometry.to_numpy())


@functools.lru_cache(maxsize=PARTS_KEPT)
def _part_ends(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The line ends of a partition and the row of each (see :func:`line_ends`)."""
    return line_ends(_read_part(path).geometry.to_numpy())


def _read_part(path: str) -> gpd.GeoDataFrame:
    return _read_part_cached(path)[0]


def _part_bounds(path: str) -> np.ndarray:
    return _read_part_cached(path)[1]


@functools.lru_cache(maxsize=16)
def _crs_of(text: str):
    import json

    import pyproj

    crs = json.loads(text)
    try:
        from geopandas.io.arrow import _remove_id_from_member_of_ensembles

        if isinstance(crs, dict):
            _remove_id_from_member_of_ensembles(crs)
    except ImportError:  # pragma: no cover
        pass
    return pyproj.CRS.from_user_input(crs)


def _missing_candidates(path: str) -> np.ndarray | None:
    """Rows of a partition that may lack a geometry (null, or WKB short enough to be empty), found
    without decoding the geometries; None when the encoding is not WKB (decode to know)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    geo = _parquet_geo(path)
    name = geo.get("primary_column", "geometry")
    if geo.get("columns", {}).get(name, {}).get("encoding", "WKB") != "WKB":
        return None
    col = pq.read_table(path, columns=[name]).column(name)
    short = pc.fill_null(pc.less_equal(pc.binary_length(col), 21), True)  # POINT EMPTY is 21 bytes
    return np.flatnonzero(short.to_numpy(zero_copy_only=False))


def _concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _parquet_geo(path: str) -> dict:
    import json

    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"geo", b"{}"))


def _parquet_meta(path: str) -> dict:
    geo = _parquet_geo(path)
    return geo.get("columns", {}).get(geo.get("primary_column", "geometry"), {})


def _parquet_bbox(path: str) -> Box:
    bbox = _parquet_meta(path).get("bbox")
    if bbox is None:
        return tuple(float(v) for v in gpd.read_parquet(path).total_bounds)
    return tuple(float(v) for v in bbox)


def _parquet_crs(path: str):
    import pyproj

    crs = _parquet_meta(path).get("crs")
    return pyproj.CRS.from_user_input(crs) if crs else None


def hilbert_order(xy: np.ndarray, bounds: Box | None = None, bits: int = 16) -> np.ndarray:
    """The order of the points ``xy`` (n, 2) along a Hilbert curve over ``bounds`` (default: the
    points' extent) on a 2**bits grid; NaN points last."""
    n = len(xy)
    ok = np.isfinite(xy).all(axis=1)
    if bounds is None:
        if not ok.any():
            return np.arange(n)
        lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
    else:
        lo, hi = np.array(bounds[:2], float), np.array(bounds[2:], float)
    side = (1 << bits) - 1
    span = np.maximum(hi - lo, 1e-9)
    g = np.clip(np.nan_to_num((xy - lo) / span * side), 0, side).astype(np.int64)
    x, y = g[:, 0].copy(), g[:, 1].copy()
    d = np.zeros(n, np.int64)
    s = 1 << (bits - 1)
    while s > 0:  # the classic xy -> d conversion, vectorised over the points
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        flip = ~ry
        swap_x = np.where(flip & rx, side - x, x)
        swap_y = np.where(flip & rx, side - y, y)
        x, y = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    d[~ok] = np.iinfo(np.int64).max
    return np.argsort(d, kind="stable")
