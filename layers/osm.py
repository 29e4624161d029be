"""Import an OpenStreetMap extract (``.osm.pbf`` or ``.osm`` XML) as CityDesk city layers.

Read with GDAL's OSM driver (through pyogrio): its ``points`` (tagged nodes), ``lines`` (open ways)
and ``multipolygons`` (closed ways and multipolygon relations) layers. Conventions of every layer:

- EPSG:4326 (longitude, latitude), a fresh ``RangeIndex``, ``osm_id`` as a string: the node or way
  id; for areas the way id, or the relation id for multipolygon relations (as GDAL gives them).
- Lengths (``length_m``) and areas (``area_m2``) are metres and square metres, computed in the UTM
  zone of the data.
- Point layers are ``Point``: a POI mapped as an area becomes ``point_on_surface()``, one mapped as a
  way the middle point of the way; an area that holds a node of the same layer and name is dropped.
- Text columns are pandas ``str`` dtype, numbers float, a missing tag NaN. A layer with nothing in
  it is an empty frame with the same columns; ``frame.attrs["geometry_type"]`` names its type.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from layers import osm_tags as t
from layers.crs import metric_crs
from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.osm_tags import parse_other_tags

__all__ = ["LAYERS", "import_osm", "parse_other_tags", "split_at_junctions"]

WGS84 = "EPSG:4326"
#: A stop position or area platform this close to a stop of the same mode and name is that stop
#: (metres); stations are large, so their own stop positions may lie further away.
STOP_DEDUPE_M = 60.0
STATION_DEDUPE_M = 400.0

#: Layer name -> (columns besides geometry, geometry type).
LAYERS: dict[str, tuple[tuple[str, ...], str]] = {
    "buildings": (("osm_id", "name", "building", "levels", "height", "use", "address"), "MultiPolygon"),
    "streets": (("osm_id", "name", "highway", "bridge", "tunnel", "layer", "length_m"), "LineString"),
    "transit_stops": (("osm_id", "name", "mode", "shelter", "wheelchair", "bench"), "Point"),
    "waste_bins": (("osm_id", "name", "kind", "recycling_type"), "Point"),
    "benches": (("osm_id", "backrest"), "Point"),
    "toilets": (("osm_id", "name", "wheelchair", "fee"), "Point"),
    "pharmacies": (("osm_id", "name"), "Point"),
    "groceries": (("osm_id", "name", "shop"), "Point"),
    "green_spaces": (("osm_id", "name", "kind", "area_m2"), "MultiPolygon"),
    "healthcare": (("osm_id", "name", "kind"), "Point"),
}
_FLOAT_COLUMNS = {"levels", "height", "length_m", "area_m2", "layer"}
_FIX_READ = "Export an extract with osmium extract (or JOSM), or download one from an OSM extract provider"


def import_osm(path: str | Path, *, feedback: Feedback | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Read an OpenStreetMap extract into the city layers named in :data:`LAYERS`.

    - ``buildings``: ``building=*`` areas; ``levels`` from ``building:levels``, ``height`` in metres
      from ``height`` (NaN when untagged or unreadable), ``use`` normalized (see
      :func:`layers.osm_tags.building_use`), ``address`` as ``"<addr:street> <addr:housenumber>"``.
    - ``streets``: walkable ways (:func:`layers.osm_tags.walkable_mask`) split at every vertex shared
      with another walkable way, so they form a network; ``length_m`` in metres; ``bridge`` and
      ``tunnel`` as tagged (``yes``, ``viaduct``, ``building_passage``, ...; NaN when untagged) and
      ``layer`` as a number (NaN when untagged), so the network builder does not join a footbridge
      to the street it crosses (:func:`analysis.network.build_network`).
    - ``transit_stops``: bus/tram stops, platforms, stations, ferry terminals; ``mode`` is bus, tram,
      rail, subway or ferry. A stop position or mapped-as-area platform within ``STOP_DEDUPE_M``
      metres of a stop (``STATION_DEDUPE_M`` of a station) of the same mode and name, or where
      either is unnamed, is dropped; so are the repeats of a stop position.
    - ``waste_bins`` (``kind``: waste_basket, recycling, waste_disposal), ``benches``, ``toilets``,
      ``pharmacies``, ``groceries`` (``shop``), ``healthcare`` (``kind``): points.
    - ``green_spaces``: parks, gardens, grass, woods, ... areas with ``kind`` (the tag value) and
      ``area_m2`` in square metres (overlapping areas, e.g. grass inside a park, are both kept).

    Raises :class:`~layers.errors.CityDeskError` when the file is missing, not an OSM file, or holds
    no map data; :class:`~layers.feedback.Cancelled` when ``feedback`` cancels.
    """
    fb = ensure(feedback)
    path = Path(path)
    _check_file(path)
    fb.progress(0.0, "Reading OpenStreetMap file")
    raw = {}
    for i, name in enumerate(("points", "lines", "multipolygons")):
        fb.check_cancelled()
        raw[name] = _read(path, name)
        fb.progress(0.1 * (i + 1), f"Read {name}")
    if all(len(frame) == 0 for frame in raw.values()):
        raise CityDeskError("the OpenStreetMap file holds no map data (no tagged nodes, ways or areas)",
                            source=path, fix="Export an extract of an area that has map data")
    tags = {}
    for i, name in enumerate(raw):
        fb.check_cancelled()
        tags[name] = t.tag_table(raw[name])
        fb.progress(0.3 + 0.05 * (i + 1), f"Parsed tags of {name}")
    metric = _metric_crs(raw)
    pois = _poi_sources(raw, tags)
    builders = {
        "buildings": lambda: _buildings(raw["multipolygons"], tags["multipolygons"]),
        "streets": lambda: _streets(raw["lines"], tags["lines"], metric),
        "transit_stops": lambda: _transit_stops(pois, metric),
        "waste_bins": lambda: _waste_bins(pois),
        "benches": lambda: _pick(pois, t.is_in(pois.tags["amenity"], ["bench"]), backrest="backrest"),
        "toilets": lambda: _pick(pois, t.is_in(pois.tags["amenity"], ["toilets"]),
                                 name="name", wheelchair="wheelchair", fee="fee"),
        "pharmacies": lambda: _pick(pois, t.is_in(pois.tags["amenity"], ["pharmacy"])
                                    | t.is_in(pois.tags["healthcare"], ["pharmacy"]), name="name"),
        "groceries": lambda: _pick(pois, t.is_in(pois.tags["shop"], t.GROCERY_SHOPS),
                                   name="name", shop="shop"),
        "green_spaces": lambda: _green_spaces(raw["multipolygons"], tags["multipolygons"], metric),
        "healthcare": lambda: _healthcare(pois),
    }
    layers = {}
    for i, (name, build) in enumerate(builders.items()):
        fb.check_cancelled()
        layers[name] = _finish(build(), name)
        fb.progress(0.45 + 0.55 * (i + 1) / len(builders), f"Built {name}")
    return layers


def _check_file(path: Path) -> None:
    """Raise a CityDeskError unless ``path`` is a file that GDAL's OSM driver opens."""
    if path.is_dir():
        raise CityDeskError("this is a folder, not an OpenStreetMap file", source=path, fix=_FIX_READ)
    if not path.is_file():
        raise CityDeskError("the file does not exist", source=path, fix="Check the path and the file name")
    try:
        driver = pyogrio.read_info(path, layer="points")["driver"]
    except (DataSourceError, DataLayerError):
        driver = None
    if driver != "OSM":
        raise CityDeskError("this is not an OpenStreetMap PBF/XML file", source=path, fix=_FIX_READ)


def _read(path: Path, layer: str) -> gpd.GeoDataFrame:
    """One layer of GDAL's OSM driver; clipped or invalid areas repaired, empty geometries dropped."""
    try:
        with warnings.catch_warnings():  # "Non closed ring detected" and the like, on clipped areas
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                frame = pyogrio.read_dataframe(path, layer=layer, on_invalid="fix")
            except (DataSourceError, DataLayerError) as error:
                if "CUSTOM_INDEXING" not in str(error):
                    raise
                # node ids not in increasing order (files saved by JOSM, hand-made): the slower index copes
                frame = pyogrio.read_dataframe(path, layer=layer, on_invalid="fix", USE_CUSTOM_INDEXING="NO")
    except (DataSourceError, DataLayerError) as error:
        raise CityDeskError(f"the OpenStreetMap file is damaged or cut short (GDAL: {error})",
                            source=path, fix="Download or export the extract again") from error
    frame = frame.set_crs(WGS84, allow_override=True)
    if layer == "multipolygons":
        if "osm_way_id" in frame.columns:
            relation = frame["osm_id"].astype(object)
            frame["osm_id"] = relation.where(relation.notna(), frame["osm_way_id"])
        frame = frame.set_geometry(_polygonal(frame.geometry.to_numpy()), crs=WGS84)
    keep = frame.geometry.notna().to_numpy() & ~shapely.is_empty(frame.geometry.to_numpy())
    return frame[keep].reset_index(drop=True)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Geometries repaired with ``make_valid``, reduced to their polygonal parts (MultiPolygon or None)."""
    geoms = geoms.copy()
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    if len(bad) == 0:
        return geoms
    parts, index = shapely.get_parts(shapely.make_valid(geoms[bad]), return_index=True)
    parts, sub = shapely.get_parts(parts, return_index=True)  # collections may nest multipolygons
    index = index[sub]
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    fixed = np.full(len(bad), None, dtype=object)
    if keep.any():
        shapely.multipolygons(parts[keep], indices=index[keep], out=fixed)
    geoms[bad] = fixed
    return geoms


def _metric_crs(raw: dict[str, gpd.GeoDataFrame]):
    """The UTM zone of the data (metres)."""
    bounds = np.array([frame.total_bounds for frame in raw.values() if len(frame)])
    box = shapely.box(*bounds[:, :2].min(axis=0), *bounds[:, 2:].max(axis=0))
    return metric_crs(gpd.GeoDataFrame(geometry=[box], crs=WGS84), name="OpenStreetMap extract")


def _finish(frame: gpd.GeoDataFrame | pd.DataFrame, name: str) -> gpd.GeoDataFrame:
    """The layer with exactly its columns and types, EPSG:4326, a fresh RangeIndex."""
    columns, geometry_type = LAYERS[name]
    data = {}
    for column in columns:
        values = frame[column].to_numpy() if column in frame.columns else np.full(len(frame), None)
        if column in _FLOAT_COLUMNS:
            data[column] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)
        else:
            data[column] = pd.Series(values, dtype="str")
    geometry = frame.geometry.to_numpy() if len(frame) else np.array([], dtype=object)
    out = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=WGS84), crs=WGS84)
    out.attrs["geometry_type"] = geometry_type
    return out


def _buildings(polys: gpd.GeoDataFrame, tags: pd.DataFrame) -> gpd.GeoDataFrame:
    keep = tags["building"].notna().to_numpy() & ~t.is_in(tags["building"], ["no"])
    tags, frame = tags[keep], polys[keep]
    street, number = tags["addr:street"], tags["addr:housenumber"]
    address = (street.astype(str) + " " + number.astype(str)).where(street.notna() & number.notna(), None)
    return frame.assign(
        name=tags["name"], building=tags["building"], levels=t.parse_levels(tags["building:levels"]),
        height=t.parse_height_m(tags["height"]), use=t.building_use(tags["building"]), address=address,
    )


def split_at_junctions(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split LineStrings at every interior vertex that also occurs in another line (or twice in one).

    Shared OSM nodes have identical coordinates, so a junction is a coordinate pair seen more than
    once over all lines. Returns ``(pieces, source)``: the new LineStrings and, for each, the index
    of the line it came from. Vectorised: one ``numpy.unique`` over all vertices.
    """
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    if len(coords) == 0:
        return np.array([], dtype=object), np.array([], dtype=int)
    _, inverse, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    first = np.r_[True, owner[1:] != owner[:-1]]
    last = np.r_[owner[1:] != owner[:-1], True]
    cut = (counts[inverse.ravel()] > 1) & ~first & ~last
    repeat = 1 + cut.astype(int)  # a cut vertex ends one piece and starts the next
    coords2, owner2 = np.repeat(coords, repeat, axis=0), np.repeat(owner, repeat)
    starts = np.repeat(first, repeat)
    second_copy = np.zeros(len(coords2), dtype=bool)
    second_copy[np.cumsum(repeat)[cut] - 1] = True
    piece = np.cumsum(starts | second_copy) - 1
    pieces = shapely.linestrings(coords2, indices=piece)
    source = owner2[np.r_[True, piece[1:] != piece[:-1]]]
    return pieces, source


def _streets(lines: gpd.GeoDataFrame, tags: pd.DataFrame, metric) -> gpd.GeoDataFrame:
    keep = t.walkable_mask(tags)
    lines, tags = lines[keep], tags[keep]
    pieces, source = split_at_junctions(lines.geometry.to_numpy())
    streets = gpd.GeoDataFrame({
        "osm_id": lines["osm_id"].to_numpy()[source],
        "name": tags["name"].to_numpy()[source],
        "highway": tags["highway"].to_numpy()[source],
        "bridge": tags["bridge"].to_numpy()[source],
        "tunnel": tags["tunnel"].to_numpy()[source],
        "layer": tags["layer"].to_numpy()[source],
    }, geometry=gpd.GeoSeries(pieces, crs=WGS84), crs=WGS84)
    streets["length_m"] = streets.to_crs(metric).length.to_numpy() if len(streets) else np.array([], float)
    return streets[streets["length_m"] > 0]


class _Pois:
    """Candidate POIs from all three GDAL layers, as points, with their tags and source geometry."""

    def __init__(self, frame: gpd.GeoDataFrame, tags: pd.DataFrame, area: np.ndarray, source: np.ndarray):
        self.frame, self.tags, self.area, self.source = frame, tags, area, source


def _poi_sources(raw, tags) -> _Pois:
    points = raw["points"].geometry.to_numpy()
    lines = shapely.line_interpolate_point(raw["lines"].geometry.to_numpy(), 0.5, normalized=True)
    polys = raw["multipolygons"].geometry.to_numpy()
    geometry = np.concatenate([points, lines, shapely.point_on_surface(polys)])
    frame = gpd.GeoDataFrame({"osm_id": pd.concat([raw[n]["osm_id"].astype(object) for n in raw]).to_numpy()},
                             geometry=gpd.GeoSeries(geometry, crs=WGS84), crs=WGS84)
    all_tags = pd.concat(list(tags.values()), ignore_index=True)
    area = np.concatenate([np.full(len(points) + len(lines), None, dtype=object), polys])
    source = np.repeat(["points", "lines", "multipolygons"], [len(points), len(lines), len(polys)])
    return _Pois(frame, all_tags, area, source)


def _pick(pois: _Pois, mask: np.ndarray, **columns: str) -> gpd.GeoDataFrame:
    """The POIs in ``mask`` with ``column=tag`` columns; an area holding a same-named node is dropped."""
    rows = np.flatnonzero(mask)
    names = pois.tags["name"].to_numpy()[rows].astype(object)
    area, is_node = pois.area[rows], pois.source[rows] == "points"
    drop = np.zeros(len(rows), dtype=bool)
    has_area = ~shapely.is_missing(area)
    if has_area.any() and is_node.any():
        nodes = np.flatnonzero(is_node)
        tree = shapely.STRtree(pois.frame.geometry.to_numpy()[rows][nodes])
        hit_area, hit_node = tree.query(area, predicate="contains")
        area_name, node_name = names[hit_area], names[nodes][hit_node]
        same = (pd.isna(area_name) & pd.isna(node_name)) | (area_name == node_name)
        drop[hit_area[same]] = True
    rows = rows[~drop]
    out = pois.frame.iloc[rows].copy()
    for column, key in columns.items():
        out[column] = pois.tags[key].to_numpy()[rows]
    return out


def _waste_bins(pois: _Pois) -> gpd.GeoDataFrame:
    return _pick(pois, t.is_in(pois.tags["amenity"], t.WASTE_KINDS), name="name", kind="amenity",
                 recycling_type="recycling_type")


def _healthcare(pois: _Pois) -> gpd.GeoDataFrame:
    amenity, care = pois.tags["amenity"], pois.tags["healthcare"]
    by_amenity = t.is_in(amenity, t.HEALTHCARE_AMENITIES)
    by_care = care.notna().to_numpy() & ~t.is_in(care, ["pharmacy", "no"])
    out = _pick(pois, by_amenity | by_care, name="name")
    rows = out.index.to_numpy()  # _pick keeps the row numbers of pois.frame
    out["kind"] = np.where(by_amenity[rows], amenity.to_numpy()[rows], care.to_numpy()[rows])
    return out


def _transit_stops(pois: _Pois, metric) -> gpd.GeoDataFrame:
    kind = np.full(len(pois.source), -1)
    node = pois.source == "points"
    kind[node] = t.stop_kind(pois.tags[node], from_points=True)
    kind[~node] = t.stop_kind(pois.tags[~node], from_points=False)
    out = _pick(pois, kind >= 0, name="name", shelter="shelter", wheelchair="wheelchair", bench="bench")
    rows = out.index.to_numpy()
    mode, prio = t.stop_mode(pois.tags.iloc[rows]), kind[rows]
    names = out["name"].to_numpy()
    xy = out.geometry.to_crs(metric).to_numpy() if len(out) else out.geometry.to_numpy()
    i, j = shapely.STRtree(xy).query(xy, predicate="dwithin", distance=STATION_DEDUPE_M)
    limit_m = np.where(prio[j] == t.STOP_STATION, STATION_DEDUPE_M, STOP_DEDUPE_M)
    near = (shapely.distance(xy[i], xy[j]) <= limit_m) & (i != j) & (mode[i] == mode[j])
    name_ok = pd.isna(names[i]) | pd.isna(names[j]) | (names[i] == names[j])
    beaten = (prio[j] < prio[i]) | ((prio[j] == prio[i]) & (prio[i] >= t.STOP_AREA_PLATFORM) & (j < i))
    drop = np.zeros(len(out), dtype=bool)
    drop[i[near & name_ok & beaten & (prio[i] >= t.STOP_AREA_PLATFORM)]] = True
    return out.assign(mode=mode)[~drop]


def _green_spaces(polys: gpd.GeoDataFrame, tags: pd.DataFrame, metric) -> gpd.GeoDataFrame:
    kind = pd.Series(None, index=tags.index, dtype=object)
    for key in ("natural", "landuse", "leisure"):  # the last wins: leisure=park over landuse=grass
        kind = kind.where(~t.is_in(tags[key], t.GREEN_SPACES[key]), tags[key])
    keep = kind.notna().to_numpy()
    out = polys[keep].assign(name=tags["name"][keep], kind=kind[keep])
    out["area_m2"] = out.to_crs(metric).area.to_numpy() if len(out) else np.array([], float)
    return out[out["area_m2"] > 0]
