"""Reading city layers from files, chosen by extension and by sniffing the content.

Formats: GeoPackage (any layer), GeoJSON, Shapefile (also zipped), FlatGeobuf, GeoParquet (and
plain Parquet with coordinate columns), CSV (longitude/latitude or WKT columns), OpenStreetMap
``.osm.pbf`` / ``.osm`` (imported as city layers), GTFS zip (its stops) and Open311 GeoReport v2
``.json`` / ``.xml`` (citizen reports, role ``reports``; :mod:`layers.open311`).
"""

from __future__ import annotations

import math
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from layers.errors import CityDeskError
from layers.feedback import Feedback
from layers.layer import Layer, Source, guess_role
from layers.postgis_url import is_postgis_url
from layers.reader_notes import reader_notes
from layers.wkb import from_wkb_chunked

KIND_NAMES = {
    "gpkg": "GeoPackage", "geojson": "GeoJSON", "shapefile": "Shapefile", "flatgeobuf": "FlatGeobuf",
    "parquet": "GeoParquet", "csv": "CSV", "osm": "OpenStreetMap", "gtfs": "GTFS",
    "open311": "Open311 GeoReport v2", "postgis": "PostGIS",
}
_EXTENSIONS = {
    ".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".shp": "shapefile", ".fgb": "flatgeobuf",
    ".parquet": "parquet", ".geoparquet": "parquet", ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".pbf": "osm", ".osm": "osm", ".xml": "open311",
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
    notes: tuple[str, ...] = ()  # what the reader found: a feed's validation report, requests without coordinates

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "geometry_type": self.geometry_type,
                "count": self.count, "crs": self.crs, "bounds": list(self.bounds) if self.bounds else None,
                "columns": self.columns, "notes": list(self.notes)}


def split_spec(spec: str) -> tuple[str, str | None]:
    """``PATH[:LAYER]`` into path and layer name (a path that exists as given has no layer part;
    a ``postgresql://`` URL names its table itself)."""
    if is_postgis_url(spec):
        return spec.strip(), None
    if Path(spec).exists() or ":" not in spec:
        return spec, None
    path, _, layer = spec.rpartition(":")
    if len(path) == 1:  # a Windows drive letter, "C:file"
        return spec, None
    return path, layer or None


def sniff_kind(path: str | Path) -> str:
    """The format of ``path`` from its extension, checked against its first bytes
    (``"postgis"`` for a ``postgresql://`` URL)."""
    if is_postgis_url(path):
        return "postgis"
    path = Path(path)
    if not path.exists():
        raise CityDeskError("the file does not exist", source=path, fix="Check the path and the file name")
    if path.is_dir():
        if _parquet_parts(path):  # a GeoParquet dataset: partitions side by side, read as one layer
            return "parquet"
        raise CityDeskError("this is a folder, not a file", source=path,
                            fix="Choose a file inside it (a folder is read as a layer when it holds .parquet parts)")
    if path.stat().st_size == 0:
        raise CityDeskError("the file is empty (0 bytes)", source=path,
                            fix="Export or download the layer again")
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
        return _zip_kind(path)
    if name.endswith((".osm.pbf", ".pbf", ".osm")):
        if not _looks_like_osm(head):
            raise CityDeskError("this is not an OpenStreetMap file (no OSM PBF header and no <osm> XML)",
                                source=path, fix="The file may be damaged or only partly downloaded; "
                                                 "download the .osm.pbf extract again")
        return "osm"
    kind = _EXTENSIONS.get(path.suffix.lower())
    if path.suffix.lower() in (".json", ".xml"):  # Open311 GeoReport v2 answers (citizen reports)
        from layers.open311 import is_georeport

        if is_georeport(path):
            return "open311"
        if kind == "open311":
            raise CityDeskError("this XML file is not an Open311 GeoReport v2 answer (no <service_requests>)",
                                source=path, fix="Open GeoReport v2 requests (.xml or .json), OSM XML as .osm, "
                                                 "or map layers as GeoPackage or GeoJSON")
    if kind is None:
        known = ", ".join(sorted(set(_EXTENSIONS)))
        raise CityDeskError(f"the format of '{path.suffix or path.name}' files is not known", source=path,
                            fix=f"Use one of {known}, .zip (Shapefile or GTFS)")
    if kind in ("gpkg", "parquet", "flatgeobuf"):
        raise CityDeskError(f"the file is not a valid {KIND_NAMES[kind]} (its header is wrong)", source=path,
                            fix="The file may be damaged or only partly copied; export it again")
    if kind == "geojson" and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        raise CityDeskError("the file is not GeoJSON (it does not start with '{')", source=path,
                            fix="The file may be damaged or in another format; export it again as GeoJSON")
    return kind


def _looks_like_osm(head: bytes) -> bool:
    """An OSM PBF starts with a 4-byte big-endian BlobHeader length and the blob type "OSMHeader";
    OSM XML starts with ``<?xml`` or ``<osm``."""
    if len(head) > 8 and 0 < int.from_bytes(head[:4], "big") < 65536 and b"OSMHeader" in head[4:32]:
        return True
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith((b"<?xml", b"<osm"))


def _zip_kind(path: Path) -> str:
    """'gtfs' or 'shapefile' for a zip, by the files it holds."""
    from layers.gtfs_stops import is_gtfs

    if is_gtfs(path):
        return "gtfs"
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise CityDeskError(f"the zip file cannot be opened ({_short(exc)})", source=path,
                            fix="The file may be damaged or only partly downloaded; copy it again") from exc
    if any(n.lower().endswith(".shp") for n in names):
        return "shapefile"
    listed = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") or "nothing"
    raise CityDeskError(f"the zip file holds neither a Shapefile (.shp) nor a GTFS feed (it holds: {listed})",
                        source=path, fix="Zip the .shp, .shx, .dbf and .prj files of a Shapefile, or choose "
                                         "the file inside the zip")


def read_layers(spec: str | Path, *, feedback: Feedback | None = None, crs=None) -> list[Layer]:
    """Every layer in a file (or the one named by ``PATH:LAYER``) as :class:`Layer` objects.
    Tables without geometry in a GeoPackage are left out. ``crs`` is assumed when the file has none."""
    if is_postgis_url(spec):  # a table, a query, or every geometry table of a database
        from layers.postgis import read_postgis_layers

        return read_postgis_layers(spec, feedback=feedback)
    path_text, layer_name = split_spec(str(spec))
    path = Path(path_text)
    kind = sniff_kind(path)
    if kind == "osm":
        frames = _import_osm(path, feedback)
        if layer_name is not None:
            frames = {layer_name: _pick(frames, layer_name, path)}
        return [Layer(name, gdf, Source(str(path), name), guess_role(name)) for name, gdf in frames.items()]
    if kind in ("gpkg", "shapefile") and layer_name is None:  # GeoPackages and zips of Shapefiles
        listed = _list_ogr(path, kind)
        names = [n for n, geom in listed if geom not in (None, "None")]
        if not names:
            tables = ", ".join(n for n, _ in listed)
            raise CityDeskError(f"the file holds only tables without geometry ({tables})", source=path,
                                fix="Choose a file with a map layer, or join the table to one")
        if kind == "gpkg" or len(listed) > 1:
            return [Layer(n, read_layer(path, n, crs=crs), Source(str(path), n), guess_role(n, _stem(path)))
                    for n in names]
    if kind == "gtfs" and layer_name is None:  # the stops (with the timetable's figures) and the routes
        return _gtfs_layers(path)
    gdf = read_layer(path, layer_name, crs=crs)
    name = layer_name or ("transit_stops" if kind == "gtfs" else _stem(path))
    role = "reports" if kind == "open311" else guess_role(name, _stem(path))
    return [Layer(name, gdf, Source(str(path), layer_name), role)]


def _gtfs_layers(path: Path) -> list[Layer]:
    out = [Layer("transit_stops", read_layer(path), Source(str(path), None), "transit_stops")]
    try:
        routes = read_layer(path, "transit_routes")
    except CityDeskError:  # a feed without usable trips: its stops only
        return out
    if len(routes):
        out.append(Layer("transit_routes", routes, Source(str(path), "transit_routes"), "other"))
    return out


def read_layer(path: str | Path, layer: str | None = None, *, crs=None) -> gpd.GeoDataFrame:
    """One layer of a file as a GeoDataFrame (the first layer when ``layer`` is None).
    ``crs`` is assumed when the file has none (e.g. a CSV of EPSG:3067 easting/northing).
    ``gdf.attrs["source_dir"]`` is the file's folder: files named in its columns are found there.
    A ``postgresql://…?table=SCHEMA.TABLE`` URL reads that table (``layer``, if given, names the table)."""
    if is_postgis_url(path):
        from layers.postgis import parse_url, read_postgis_layer

        src = parse_url(path)
        if layer is not None:
            schema, _, table = layer.rpartition(".")
            src = src.with_table(table, schema or "public")
        return read_postgis_layer(src)
    path = Path(path)
    gdf = _read_any(path, sniff_kind(path), layer, crs)
    gdf.attrs["source_dir"] = str(path.resolve().parent)
    return gdf


def _read_any(path: Path, kind: str, layer: str | None, crs) -> gpd.GeoDataFrame:
    if kind == "osm":
        return _pick(_import_osm(path, None), layer or "buildings", path)
    if kind == "gtfs":  # PATH (the stops) or PATH:transit_stops / PATH:transit_routes
        from layers.gtfs_stops import read_gtfs_layer

        return read_gtfs_layer(path, layer)
    if kind == "open311":
        from layers.open311 import read_open311

        return read_open311(path)
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


def list_layers(spec: str | Path) -> list[LayerInfo]:
    """What is in a file (or in its layer ``PATH:LAYER``): name, kind, geometry type, feature
    count, CRS, bounds and columns (also of a PostGIS table, or of every one in a database)."""
    if is_postgis_url(spec):
        from layers.postgis import postgis_infos

        return postgis_infos(spec)
    path_text, layer_name = split_spec(str(spec))
    path = Path(path_text)
    kind = sniff_kind(path)
    if kind not in ("gpkg", "geojson", "shapefile", "flatgeobuf"):
        name = "Parquet" if kind == "parquet" and not _is_geoparquet(path) else KIND_NAMES[kind]
        return [_info(layer.name, name, layer.gdf) for layer in read_layers(spec)]
    listed = _list_ogr(path, kind)
    if layer_name is not None:
        _check_layer(path, layer_name, [n for n, _ in listed])
        listed = [(n, g) for n, g in listed if n == layer_name]
    single = kind != "gpkg" and len(listed) == 1 and layer_name is None  # named as read_layers names it
    infos = []
    for name, _geom in listed:
        try:
            meta = pyogrio.read_info(_ogr_path(path, kind), layer=name, force_feature_count=True,
                                     force_total_bounds=True)
        except Exception as exc:
            raise CityDeskError(f"cannot read the layer '{name}' ({_short(exc)})", source=path,
                                fix="The file may be damaged; export it again") from exc
        bounds = meta.get("total_bounds")
        bounds = tuple(map(float, bounds)) if bounds is not None and all(map(math.isfinite, bounds)) else None
        infos.append(LayerInfo(_stem(path) if single else name, KIND_NAMES[kind],
                               meta.get("geometry_type") or "None",
                               int(meta.get("features", -1)), _crs_text(meta.get("crs")), bounds,
                               dict(zip(meta["fields"], map(str, meta["dtypes"]), strict=False))))
    return infos


def _info(name: str, kind: str, gdf: gpd.GeoDataFrame) -> LayerInfo:
    types = sorted(gdf.geometry.geom_type.dropna().unique()) if len(gdf) else []
    geom_type = types[0] if len(types) == 1 else ("/".join(types) if types else "None")
    present = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    bounds = tuple(map(float, present.total_bounds)) if len(present) else None
    columns = {str(c): str(t) for c, t in gdf.dtypes.items() if c != gdf.geometry.name}
    return LayerInfo(name, kind, geom_type, len(gdf), _crs_text(gdf.crs), bounds, columns, reader_notes(gdf.attrs))


def _crs_text(crs) -> str | None:
    """'EPSG:3067' where the CRS has an EPSG code, else its name."""
    if crs is None:
        return None
    try:
        crs = CRS.from_user_input(crs)
    except Exception:
        return str(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _import_osm(path: Path, feedback: Feedback | None) -> dict[str, gpd.GeoDataFrame]:
    """The city layers of an OSM extract; the last import is kept, so that a project with several
    layers from one extract reads it once."""
    from layers.osm import import_osm

    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if _OSM_CACHE.get("key") != key:
        _OSM_CACHE.clear()
        _OSM_CACHE.update(key=key, frames=import_osm(path, feedback=feedback))
    return {name: gdf.copy() for name, gdf in _OSM_CACHE["frames"].items()}


_OSM_CACHE: dict = {}


def _ogr_path(path: Path, kind: str) -> str:
    """The path GDAL opens: a zip of Shapefiles as ``/vsizip/`` of the folder inside holding them."""
    if kind == "shapefile" and path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
        folder = shps[0].rpartition("/")[0] if shps else ""
        return f"/vsizip/{path.resolve()}" + (f"/{folder}" if folder else "")
    return str(path)


def _list_ogr(path: Path, kind: str = "gpkg") -> list[tuple[str, str | None]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            listed = pyogrio.list_layers(_ogr_path(path, kind))
    except Exception as exc:
        raise CityDeskError(f"cannot be opened as {KIND_NAMES.get(kind, kind)} ({_short(exc)})", source=path,
                            fix=_SHX_FIX if ".shx" in str(exc) else "The file may be damaged or in another "
                            "format; export it again") from exc
    if len(listed) == 0:
        raise CityDeskError("the file holds no layers", source=path,
                            fix="Choose a file with at least one layer")
    return [(str(n), None if g is None else str(g)) for n, g in listed]


def _check_layer(path: Path, layer: str, names: list[str]) -> None:
    if layer not in names:
        raise CityDeskError(f"there is no layer '{layer}'", source=path,
                            fix=f"Layers in the file: {', '.join(names)}")


def _read_ogr(path: Path, kind: str, layer: str | None) -> gpd.GeoDataFrame:
    source = _ogr_path(path, kind)
    listed = _list_ogr(path, kind)
    if layer is not None:
        _check_layer(path, layer, [n for n, _ in listed])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="More than one layer found")
            # Attributes with pyogrio's own type handling (dates, JSON, nullable ints), geometry
            # as raw WKB decoded in chunks (layers/wkb.py): same frame, no long GIL hold.
            meta, table = pyogrio.read_arrow(source, layer=layer, columns=[], datetime_as_string=True)
            geometry_name = meta["geometry_name"] or "wkb_geometry"
            if geometry_name not in table.column_names:
                name = layer or listed[0][0]
                raise CityDeskError(f"the layer '{name}' is a table without geometry", source=path,
                                    fix="Choose a layer with points, lines or polygons, or join the table to one")
            attrs = pyogrio.read_dataframe(source, layer=layer, read_geometry=False, use_arrow=True)
            geometry = from_wkb_chunked(table[geometry_name], on_invalid="fix")
    except CityDeskError:
        raise
    except Exception as exc:
        raise CityDeskError(f"cannot be read as {KIND_NAMES[kind]} ({_short(exc)})", source=path,
                            fix=_SHX_FIX if ".shx" in str(exc) else "The file may be damaged or in another "
                            "format; open it in its source program and export it again") from exc
    if len(attrs.columns) == 0:  # pyogrio returns an empty frame for a layer without attributes
        attrs = pd.DataFrame(index=pd.RangeIndex(len(geometry)))
    if len(attrs) != len(geometry):
        raise CityDeskError(f"the layer changed while it was read ({len(attrs)} rows, {len(geometry)} geometries)",
                            source=path, fix="Open it again when the program writing it has finished")
    crs = CRS.from_user_input(meta["crs"]) if meta["crs"] else None
    array = gpd.array.GeometryArray(geometry, crs=crs)  # shapely's own output: no per-row validation needed
    return gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(array, index=attrs.index), crs=crs)


_SHX_FIX = "Copy the .shx file that belongs next to the .shp (a Shapefile needs .shp, .shx, .dbf and .prj)"


def _read_parquet(path: Path, crs) -> gpd.GeoDataFrame:
    if path.is_dir():  # the dataset's parts, in name order (other files in the folder are left alone)
        parts = [_read_parquet(p, crs) for p in _parquet_parts(path)]
        return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs) if len(parts) > 1 else parts[0]
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

    try:
        table = pd.read_parquet(path)
    except Exception as exc:
        raise CityDeskError(f"cannot be read as Parquet ({_short(exc)})", source=path,
                            fix="The file may be damaged; export it again") from exc
    return table_to_layer(table, source=path, crs=crs)


def _parquet_parts(folder: Path) -> list[Path]:
    """The ``.parquet`` files of a folder (a partitioned dataset), in name order."""
    return sorted(p for p in folder.glob("*.parquet") if p.is_file())


def _is_geoparquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    if path.is_dir():
        parts = _parquet_parts(path)
        path = parts[0] if parts else path
    try:
        return b"geo" in (pq.read_schema(path).metadata or {})
    except Exception:
        return False


def _pick(frames: dict, name: str, path: Path):
    if name not in frames:
        raise CityDeskError(f"there is no layer '{name}'", source=path,
                            fix=f"Layers from this file: {', '.join(frames)}")
    return frames[name]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".osm.pbf", ".geojson", ".parquet", ".gpkg", ".csv", ".shp", ".zip", ".fgb", ".json", ".xml"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _short(exc: Exception) -> str:
    """The first line of a library's message, without GDAL's hint about driver prefixes."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.split("; It might help to specify the correct driver")[0].rstrip(". ")
    if "failed: " in text and "sqlite" in text.lower():  # SQLite's SQL text says nothing to a user
        text = text.split("failed: ", 1)[1].split(";")[0]
    return text[:200]
