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
import pyogrio

from layers.errors import CityDeskError

FORMATS = {".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}


@contextmanager
def atomic_path(target: str | Path, suffix: str | None = None):
    """Yields a temporary path in the target's folder; renames it to ``target`` on success."""
    target = Path(target)
    folder = target.parent
    if not folder.exists():
        raise CityDeskError("the folder does not exist", source=folder, fix="Create it or choose another folder")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=folder)
    os.close(fd)
    os.unlink(tmp)  # writers (GDAL) want to create the file themselves
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(target: str | Path, text: str) -> None:
    """Write a text file (JSON, HTML, project) atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, data) -> None:
    write_text(target, json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], target: str | Path) -> Path:
    """Write ``{name: layer}`` to ``target``: every layer into a GeoPackage, or a single layer to
    GeoJSON (in WGS84, as RFC 7946 asks) or CSV (geometry as WKT, plus lon/lat for points)."""
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
            sample = out[col].dropna()
            if len(sample) and not sample.map(lambda v: isinstance(v, str)).all():
                out[col] = out[col].map(lambda v: None if v is None else str(v))
    return out


def _write_gpkg(name: str, gdf: gpd.GeoDataFrame, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", append=path.exists(),
                                promote_to_multi=_mixed(gdf))


def _write_geojson(name: str, gdf: gpd.GeoDataFrame, path: Path) -> None:
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    pyogrio.write_dataframe(gdf, path, layer=name, driver="GeoJSON", COORDINATE_PRECISION=7)


def _write_csv(name: str, gdf: gpd.GeoDataFrame, path: Path) -> None:
    table = gdf.drop(columns=gdf.geometry.name)
    geom = gdf.geometry
    if geom.crs is not None and not geom.crs.equals("EPSG:4326"):
        geom = geom.to_crs("EPSG:4326")
    if len(geom) and (geom.geom_type == "Point").all():
        table = table.assign(longitude=geom.x.round(7), latitude=geom.y.round(7))
    else:
        table = table.assign(wkt=geom.to_wkt(rounding_precision=7))
    table.to_csv(path, index=False)


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
