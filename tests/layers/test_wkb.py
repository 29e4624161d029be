"""Chunked WKB decoding (layers/wkb.py) gives what one shapely.from_wkb call gives, and the
GeoPackage reader built on it keeps geometry and attribute rows together."""

import threading

import geopandas as gpd
import numpy as np
import pyarrow as pa
import shapely

from layers.readers import read_layer
from layers.wkb import from_wkb_chunked


def _geoms(n):
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1000, (n, 2))
    geoms = shapely.buffer(shapely.points(xy), rng.uniform(1, 5, n), quad_segs=2).astype(object)
    geoms[::7] = None
    return geoms


def test_chunks_match_one_call_across_arrow_chunks():
    geoms = _geoms(1234)
    wkb = shapely.to_wkb(geoms)
    column = pa.chunked_array([pa.array(list(wkb[:500]), pa.binary()), pa.array(list(wkb[500:]), pa.binary())])
    out = from_wkb_chunked(column, chunk=97)  # chunk edges inside both arrow chunks
    assert len(out) == len(geoms)
    assert np.array_equal(shapely.is_missing(out), shapely.is_missing(geoms))
    assert shapely.equals_exact(out[~shapely.is_missing(out)], geoms[~shapely.is_missing(geoms)]).all()


def test_invalid_wkb_is_fixed_not_fatal():
    good = shapely.to_wkb(shapely.Point(1, 2))
    out = from_wkb_chunked(pa.array([good, b"\x01\x02", None], pa.binary()), on_invalid="fix")
    assert out[0] == shapely.Point(1, 2) and out[1] is None and out[2] is None


def test_reader_keeps_rows_together_in_a_worker_thread(tmp_path):
    geoms = _geoms(45_000)  # more than two decoding chunks
    gdf = gpd.GeoDataFrame({"ident": np.arange(len(geoms)), "name": [f"b{i}" for i in range(len(geoms))]},
                           geometry=geoms, crs=3067)
    path = tmp_path / "many.gpkg"
    gdf.to_file(path, layer="buildings")
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("gdf", read_layer(path)))  # breathes between chunks
    worker.start()
    worker.join()
    back = result["gdf"]
    assert back.crs.to_epsg() == 3067 and list(back.columns) == ["ident", "name", "geometry"]
    assert (back["ident"].to_numpy() == np.arange(len(geoms))).all()
    present = ~shapely.is_missing(geoms)
    assert shapely.equals_exact(back.geometry.to_numpy()[present], geoms[present], tolerance=1e-9).all()
    assert back.geometry.isna().sum() == (~present).sum()
