"""Layers in files read tile by tile (no Qt, no Dask): a GeoPackage layer by bounding box (pyogrio,
the layer's spatial index; ids are FIDs) or a folder of GeoParquet partitions, each read whole
only when its extent meets the box (ids are partition number x 2**32 + row in the partition). A
worker keeps its last few partitions decoded, with their features' bounds, a tree of them and a
table of their line ends, so neighbouring tiles do not decode them again. The selection rules are
those of :class:`analysis.partition_sources.FrameSource` (a layer in memory)."""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from analysis.partition_sources import (
    JOIN_M,
    Box,
    _concat,
    _end_boxes,
    _inside_any,
    _member,
    end_cluster,
    line_ends,
)
from layers.errors import CityDeskError

#: GeoParquet partitions a worker keeps decoded (a tile and its halo touch a few of each layer; a
#: later round's tile, as big, touches others: too few and they are decoded again and again).
PARTS_KEPT = 16


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
            extent = info["total_bounds"]  # None for a layer without located features
            self._extent = tuple(float(v) for v in extent) if extent is not None else (np.nan,) * 4
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
