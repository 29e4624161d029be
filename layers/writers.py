"""Writing layers: GeoPackage (several layers), GeoJSON and CSV.

Every writer writes to a temporary file next to the target and renames it into place, so a
failed or cancelled write never leaves a half-written file (and never destroys the old one).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from layers.errors import CityDeskError
from layers.postgis_url import is_postgis_url

FORMATS = {".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}


@contextmanager
def atomic_path(target: str | Path, suffix: str | None = None):
    """Yields a temporary path in the target's folder; renames it to ``target`` on success."""
    target = Path(target)
    folder = target.parent
    if not folder.is_dir():
        raise CityDeskError("the folder does not exist", source=folder,
                            fix="Create it or choose another folder")
    if target.is_dir():
        raise CityDeskError("this is a folder, not a file name", source=target,
                            fix="Give a file name inside the folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=folder)
        os.close(fd)
        os.unlink(tmp)  # writers (GDAL) want to create the file themselves
    except OSError as exc:
        raise CityDeskError(f"cannot write in the folder ({exc.strerror or exc})", source=folder,
                            fix="Choose a folder you may write to") from exc
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise CityDeskError(f"cannot replace the file ({exc.strerror or exc})", source=target,
                                fix="Close it in other programs, or write to another file name") from exc
    finally:
        for leftover in (tmp, f"{tmp}-journal", f"{tmp}-wal", f"{tmp}-shm"):  # SQLite side files too
            if os.path.exists(leftover):
                os.unlink(leftover)


def write_text(target: str | Path, text: str) -> None:
    """Write a text file (JSON, HTML, project) atomically, UTF-8."""
    with atomic_path(target) as tmp:
        try:
            tmp.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CityDeskError(f"cannot write the file ({exc.strerror or exc})", source=target,
                                fix="Check that the disk has space and the folder is writable") from exc


def write_json(target: str | Path, data) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically (numpy numbers and dates are converted)."""
    write_text(target, json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], target: str | Path, *, replace: bool = False,
                 feedback=None) -> Path | str:
    """Write ``{name: layer}`` to ``target``: every layer into a GeoPackage, or a single layer to
    GeoJSON (in WGS84, as RFC 7946 asks) or CSV (geometry as WKT, plus lon/lat for points).
    A ``postgresql://…?table=SCHEMA.TABLE`` target writes PostGIS tables in one transaction
    (:func:`layers.postgis.write_postgis_layers`); an existing table is replaced only with
    ``replace=True``. Returns the path (or the URL)."""
    if isinstance(target, str) and is_postgis_url(target):
        from layers.postgis import write_postgis_layers

        write_postgis_layers(layers, target, replace=replace, feedback=feedback)
        return target
    target = Path(target)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise CityDeskError(f"cannot write '{target.suffix or target.name}' files", source=target,
                            fix="Use .gpkg (several layers), .geojson or .csv")
    if not layers:
        raise CityDeskError("there is nothing to write", source=target, fix="Choose at least one layer")
    if fmt != "GeoPackage" and len(layers) > 1:
        raise CityDeskError(f"{fmt} holds one layer, not {len(layers)}", source=target,
                            fix="Write to a .gpkg file, or choose one layer")
    for name, gdf in layers.items():
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise CityDeskError(f"the layer '{name}' has no geometry column", source=target,
                                fix="Write a GeoDataFrame (a table with geometries)")
    writer: Callable[[str, gpd.GeoDataFrame, Path], None] = {
        "GeoPackage": _write_gpkg, "GeoJSON": _write_geojson, "CSV": _write_csv}[fmt]
    try:
        with atomic_path(target) as tmp:
            for name, gdf in layers.items():
                writer(name, _clean(gdf), tmp)
    except CityDeskError:
        raise
    except Exception as exc:
        raise CityDeskError(f"could not write the file ({str(exc).splitlines()[0][:200]})", source=target,
                            fix="Check that the folder is writable and the disk has space") from exc
    return target


def _clean(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns GDAL can store: bools and nullable ints kept, objects of mixed types as text."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if out[col].dtype == object:
            out[col] = out[col].infer_objects()
        if out[col].dtype == object:
            sample = out[col].dropna()
            if len(sample) and not sample.map(lambda v: isinstance(v, str)).all():
                out[col] = out[col].map(lambda v: None if v is None or v != v else str(v))
    return out


def _write_gpkg(name: str, gdf: gpd.GeoDataFrame, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", append=path.exists(),
                                promote_to_multi=_mixed(gdf))


def _write_geojson(name: str, gdf: gpd.GeoDataFrame, path: Path) -> None:
    gdf = _to_wgs84(gdf, path)
    pyogrio.write_dataframe(gdf, path, layer=name, driver="GeoJSON", COORDINATE_PRECISION=7)


def _write_csv(name: str, gdf: gpd.GeoDataFrame, path: Path) -> None:
    geom = _to_wgs84(gdf, path).geometry
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    types = geom.geom_type.dropna()
    if len(types) and (types == "Point").all():
        present = geom.notna() & ~geom.is_empty
        table = table.assign(longitude=geom.x.where(present).round(7),
                             latitude=geom.y.where(present).round(7))
    else:
        table = table.assign(wkt=geom.to_wkt(rounding_precision=7))
    table.to_csv(path, index=False, encoding="utf-8-sig")  # with a BOM, so Excel reads ä and ö right


def _to_wgs84(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """``gdf`` in longitude/latitude; a layer without CRS only when its coordinates are already."""
    if gdf.crs is None:
        present = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
        if len(present):
            xmin, ymin, xmax, ymax = present.total_bounds
            if max(abs(xmin), abs(xmax)) > 180 or max(abs(ymin), abs(ymax)) > 90:
                raise CityDeskError("the layer has no CRS and its coordinates are not longitude/latitude",
                                    source=path, fix="Set the layer's CRS before writing it")
        return gdf.set_crs("EPSG:4326")
    if CRS.from_user_input(gdf.crs) != CRS.from_epsg(4326):
        return gdf.to_crs("EPSG:4326")
    return gdf


def _mixed(gdf: gpd.GeoDataFrame) -> bool:
    types = set(gdf.geometry.geom_type.dropna().unique())
    return len(types) > 1 and len({t.replace("Multi", "") for t in types}) == 1


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
