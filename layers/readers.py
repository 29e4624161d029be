"""Reading city layers from files, chosen by extension and by sniffing the content.

Formats: GeoPackage (any layer), GeoJSON, Shapefile (also zipped), FlatGeobuf, GeoParquet (and
plain Parquet with coordinate columns), CSV (longitude/latitude or WKT columns), OpenStreetMap
``.osm.pbf`` / ``.osm`` (imported as city layers) and GTFS zip (its stops).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from layers.errors import CityDeskError
from layers.feedback import Feedback
from layers.layer import Layer, Source, guess_role

KIND_NAMES = {
    "gpkg": "GeoPackage", "geojson": "GeoJSON", "shapefile": "Shapefile", "flatgeobuf": "FlatGeobuf",
    "parquet": "GeoParquet", "csv": "CSV", "osm": "OpenStreetMap", "gtfs": "GTFS",
}
_EXTENSIONS = {
    ".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".shp": "shapefile", ".fgb": "flatgeobuf",
    ".parquet": "parquet", ".geoparquet": "parquet", ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".pbf": "osm", ".osm": "osm",
}


@dataclass(frozen=True)
class LayerInfo:
    """What ``citydesk info`` tells about one layer of a file."""

    name: str
    kind: str
    geometry_type: str
    count: int
    crs: str | None
    bounds: tuple[float, float, float, float] | None
    columns: dict[str, str]

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "geometry_type": self.geometry_type,
                "count": self.count, "crs": self.crs, "bounds": list(self.bounds) if self.bounds else None,
                "columns": self.columns}


def split_spec(spec: str) -> tuple[str, str | None]:
    """``PATH[:LAYER]`` into path and layer name (a path that exists as given has no layer part)."""
    if Path(spec).exists() or ":" not in spec:
        return spec, None
    path, _, layer = spec.rpartition(":")
    if len(path) == 1:  # a Windows drive letter, "C:file"
        return spec, None
    return path, layer or None


def sniff_kind(path: str | Path) -> str:
    """The format of ``path`` from its extension, checked against its first bytes."""
    path = Path(path)
    if not path.exists():
        raise CityDeskError("the file does not exist", source=path, fix="Check the path and the file name")
    if path.is_dir():
        raise CityDeskError("this is a folder, not a file", source=path, fix="Choose a file inside it")
    if path.stat().st_size == 0:
        raise CityDeskError("the file is empty", source=path, fix="Export the layer again; the file holds no bytes")
    name = path.name.lower()
    with path.open("rb") as fh:
        head = fh.read(64)
    if head.startswith(b"SQLite format 3"):
        return "gpkg"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"fgb"):
        return "flatgeobuf"
    if head.startswith(b"PK"):
        from layers.gtfs_stops import is_gtfs

        return "gtfs" if is_gtfs(path) else "shapefile"
    if name.endswith((".osm.pbf", ".pbf", ".osm")):
        return "osm"
    kind = _EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(set(_EXTENSIONS)))
        raise CityDeskError(f"the format of '{path.suffix or path.name}' files is not known", source=path,
                            fix=f"Use one of {known}, .zip (Shapefile or GTFS)")
    if kind in ("gpkg", "parquet", "flatgeobuf"):
        raise CityDeskError(f"the file is not a valid {KIND_NAMES[kind]} (its header is wrong)", source=path,
                            fix="The file may be damaged or only partly copied; export it again")
    return kind


def read_layers(spec: str | Path, *, feedback: Feedback | None = None) -> list[Layer]:
    """Every layer in a file (or the one named by ``PATH:LAYER``) as :class:`Layer` objects."""
    path_text, layer_name = split_spec(str(spec))
    path = Path(path_text)
    kind = sniff_kind(path)
    if kind == "osm":
        from layers.osm import import_osm

        frames = import_osm(path, feedback=feedback)
        if layer_name is not None:
            frames = {layer_name: _pick(frames, layer_name, path)}
        return [Layer(name, gdf, Source(str(path), name), guess_role(name)) for name, gdf in frames.items()]
    if kind == "gpkg" and layer_name is None:
        names = [n for n, _ in _list_ogr(path)]
        return [Layer(n, read_layer(path, n), Source(str(path), n), guess_role(n, path.stem)) for n in names]
    gdf = read_layer(path, layer_name)
    name = layer_name or ("transit_stops" if kind == "gtfs" else _stem(path))
    return [Layer(name, gdf, Source(str(path), layer_name), guess_role(name, _stem(path)))]


def read_layer(path: str | Path, layer: str | None = None, *, crs=None) -> gpd.GeoDataFrame:
    """One layer of a file as a GeoDataFrame. ``crs`` is assumed when the file has none."""
    path = Path(path)
    kind = sniff_kind(path)
    if kind == "osm":
        from layers.osm import import_osm

        frames = import_osm(path)
        return _pick(frames, layer or "buildings", path)
    if kind == "gtfs":
        from layers.gtfs_stops import read_gtfs_stops

        return read_gtfs_stops(path)
    if kind == "csv":
        from layers.tables import read_csv_layer

        return read_csv_layer(path, crs=crs)
    if kind == "parquet":
        gdf = _read_parquet(path, crs)
    else:
        gdf = _read_ogr(path, kind, layer)
    if gdf.crs is None and crs is not None:
        gdf = gdf.set_crs(crs)
    if gdf.crs is None and len(gdf) and gdf.geometry.notna().any():
        raise CityDeskError(
            "the layer has no coordinate reference system (CRS)", source=path,
            fix="Add the missing .prj file next to the .shp, or save the layer with its CRS as a GeoPackage"
            if kind == "shapefile" else "Save the layer with its CRS, e.g. as a GeoPackage",
        )
    return gdf


def list_layers(path: str | Path) -> list[LayerInfo]:
    """What is in a file: name, kind, geometry type, feature count, CRS, bounds and columns."""
    path = Path(path)
    kind = sniff_kind(path)
    if kind in ("gpkg", "geojson", "shapefile", "flatgeobuf"):
        infos = []
        for name, _geom in _list_ogr(path, kind):
            try:
                meta = pyogrio.read_info(_ogr_path(path, kind), layer=name)
            except Exception as exc:
                raise CityDeskError(f"cannot read the layer '{name}' ({exc})", source=path,
                                    fix="The file may be damaged; export it again") from exc
            crs = meta.get("crs")
            bounds = meta.get("total_bounds")
            infos.append(LayerInfo(name, KIND_NAMES[kind], meta.get("geometry_type") or "None",
                                   int(meta.get("features", -1)), crs,
                                   tuple(map(float, bounds)) if bounds is not None else None,
                                   dict(zip(meta["fields"], map(str, meta["dtypes"]), strict=False))))
        return infos
    return [_info(layer.name, KIND_NAMES[kind], layer.gdf) for layer in read_layers(path)]


def _info(name: str, kind: str, gdf: gpd.GeoDataFrame) -> LayerInfo:
    types = sorted(gdf.geometry.geom_type.dropna().unique()) if len(gdf) else []
    geom_type = types[0] if len(types) == 1 else ("/".join(types) if types else "None")
    bounds = tuple(map(float, gdf.total_bounds)) if len(gdf) and gdf.geometry.notna().any() else None
    columns = {str(c): str(t) for c, t in gdf.dtypes.items() if c != gdf.geometry.name}
    return LayerInfo(name, kind, geom_type, len(gdf), gdf.crs.to_string() if gdf.crs else None, bounds, columns)


def _ogr_path(path: Path, kind: str) -> str:
    if kind == "shapefile" and path.suffix.lower() == ".zip":
        return f"/vsizip/{path.resolve()}"
    return str(path)


def _list_ogr(path: Path, kind: str = "gpkg") -> list[tuple[str, str]]:
    try:
        listed = pyogrio.list_layers(_ogr_path(path, kind))
    except Exception as exc:
        raise CityDeskError(f"cannot be opened as {KIND_NAMES.get(kind, kind)} ({_short(exc)})", source=path,
                            fix="The file may be damaged or in another format; export it again") from exc
    if len(listed) == 0:
        raise CityDeskError("the file holds no layers", source=path, fix="Choose a file with at least one layer")
    return [(str(n), str(g)) for n, g in listed]


def _read_ogr(path: Path, kind: str, layer: str | None) -> gpd.GeoDataFrame:
    source = _ogr_path(path, kind)
    if layer is not None:
        names = [n for n, _ in _list_ogr(path, kind)]
        if layer not in names:
            raise CityDeskError(f"there is no layer '{layer}'", source=path,
                                fix=f"Layers in the file: {', '.join(names)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return pyogrio.read_dataframe(source, layer=layer, on_invalid="fix", use_arrow=False)
    except Exception as exc:
        raise CityDeskError(f"cannot be read as {KIND_NAMES[kind]} ({_short(exc)})", source=path,
                            fix="The file may be damaged or in another format; open it in its source program "
                                "and export it again") from exc


def _read_parquet(path: Path, crs) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except ValueError as exc:
        if "geo" not in str(exc).lower():
            raise CityDeskError(f"cannot be read as GeoParquet ({_short(exc)})", source=path,
                                fix="Export it again as GeoParquet") from exc
    except Exception as exc:
        raise CityDeskError(f"cannot be read as Parquet ({_short(exc)})", source=path,
                            fix="The file may be damaged; export it again") from exc
    from layers.tables import table_to_layer

    return table_to_layer(pd.read_parquet(path), source=path, crs=crs)


def _pick(frames: dict, name: str, path: Path):
    if name not in frames:
        raise CityDeskError(f"there is no layer '{name}'", source=path,
                            fix=f"Layers from this file: {', '.join(frames)}")
    return frames[name]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".osm.pbf", ".geojson", ".parquet", ".gpkg", ".csv", ".shp", ".zip", ".fgb", ".json"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


