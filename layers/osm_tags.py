"""OpenStreetMap tags as GDAL's OSM driver gives them, and the rules that classify them.

GDAL puts a few tags of each layer in their own columns (points: ``name``, ``highway``, ...;
multipolygons: ``name``, ``amenity``, ``building``, ``shop``, ...) and all others in the text field
``other_tags``, written like a PostgreSQL HSTORE: ``"amenity"=>"bench","backrest"=>"yes"``, where a
``"`` or ``\\`` inside a key or value is escaped with a backslash. :func:`tag_table` merges both
into one frame with a column per wanted key, so the rules below never care where GDAL put a tag.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: One ``"key"=>"value"`` pair of GDAL's ``other_tags``; escaped quotes and backslashes allowed.
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

#: Every tag the OSM import looks at (a column of :func:`tag_table` each).
KEYS = (
    "name", "highway", "railway", "public_transport", "amenity", "shop", "healthcare", "building",
    "building:levels", "height", "addr:street", "addr:housenumber", "leisure", "landuse", "natural",
    "foot", "access", "bus", "trolleybus", "tram", "train", "light_rail", "subway", "ferry", "station",
    "shelter", "wheelchair", "bench", "backrest", "fee", "recycling_type", "bridge", "tunnel", "layer",
)

WALKABLE_HIGHWAYS = frozenset({
    "footway", "path", "pedestrian", "steps", "living_street", "residential", "service", "unclassified",
    "tertiary", "tertiary_link", "secondary", "secondary_link", "primary", "primary_link", "track",
    "cycleway", "crossing", "corridor", "bridleway",
})
#: Walkable only when ``foot=yes`` or ``foot=designated`` says so.
FOOT_ONLY_HIGHWAYS = frozenset({"trunk", "trunk_link"})
_FOOT_ALLOWED = ["yes", "designated", "permissive"]

BUILDING_USE = {
    "residential": (
        "apartments", "house", "residential", "detached", "semidetached_house", "terrace", "dormitory",
        "bungalow", "cabin", "farm", "houseboat", "static_caravan", "stilt_house", "allotment_house",
    ),
    "commercial": ("commercial", "hotel", "bank"),
    "retail": ("retail", "kiosk", "supermarket", "shop", "mall", "department_store", "marketplace"),
    "office": ("office",),
    "industrial": ("industrial", "warehouse", "factory", "manufacture", "hangar", "storage_tank"),
    "public": (
        "public", "civic", "government", "townhall", "train_station", "transportation", "hospital",
        "fire_station", "museum", "library", "courthouse", "sports_hall", "stadium", "police",
    ),
    "religious": (
        "religious", "church", "chapel", "cathedral", "mosque", "temple", "synagogue", "shrine",
        "monastery",
    ),
    "education": ("school", "university", "college", "kindergarten"),
}
_USE_OF = {value: use for use, values in BUILDING_USE.items() for value in values}

GREEN_SPACES = {
    "leisure": ("park", "garden", "nature_reserve", "common", "recreation_ground"),
    "landuse": ("grass", "forest", "meadow", "recreation_ground", "village_green"),
    "natural": ("wood", "scrub", "grassland"),
}
WASTE_KINDS = ("waste_basket", "recycling", "waste_disposal")
GROCERY_SHOPS = ("supermarket", "convenience", "greengrocer", "grocery", "deli", "butcher")
HEALTHCARE_AMENITIES = ("hospital", "clinic", "doctors", "dentist")

_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"
_HEIGHT = re.compile(rf"^\s*{_NUMBER}\s*(m|metres?|meters?|ft|feet|')?\s*$", re.IGNORECASE)
_LEVELS = re.compile(rf"^\s*{_NUMBER}\s*$")


def parse_other_tags(text: str | None) -> dict[str, str]:
    """The tags in one GDAL ``other_tags`` value, as a dict (empty for ``None``/NaN/``""``).

    ``'"amenity"=>"bench","note"=>"say \\"hi\\", a=>b"'`` gives
    ``{"amenity": "bench", "note": 'say "hi", a=>b'}``: commas and ``=>`` inside quotes are text,
    ``\\"`` and ``\\\\`` are unescaped.
    """
    if not isinstance(text, str) or not text:
        return {}
    return {_unescape(k): _unescape(v) for k, v in _PAIR.findall(text)}


def _unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text) if "\\" in text else text


def tag_table(frame: pd.DataFrame, keys: tuple[str, ...] = KEYS) -> pd.DataFrame:
    """One column per key in ``keys`` (object dtype, ``None`` when untagged), same index as ``frame``.

    Takes a tag from GDAL's own column when the layer has one, else from ``other_tags``, which is
    parsed once for the whole layer (vectorised with ``Series.str.extractall``).
    """
    table = pd.DataFrame(index=frame.index, columns=list(keys), dtype=object)
    if "other_tags" in frame.columns and frame["other_tags"].notna().any():
        pairs = frame["other_tags"].astype(object).str.extractall(_PAIR)
        pairs = pairs[pairs[0].isin(keys)]
        if len(pairs):
            values = pairs[1].where(~pairs[1].str.contains("\\", regex=False),
                                    pairs[1].str.replace(_ESCAPE, r"\1", regex=True))
            wide = pd.Series(values.to_numpy(), index=[pairs.index.get_level_values(0), pairs[0]])
            wide = wide[~wide.index.duplicated()].unstack()
            table.update(wide.reindex(index=frame.index).astype(object))
    for key in keys:
        if key in frame.columns and key != "other_tags":
            own = frame[key].astype(object)
            table[key] = own.where(own.notna(), table[key])
    return table.astype(object).where(table.notna(), None)


def is_in(column: pd.Series, values) -> np.ndarray:
    """Boolean array: the tag's value is one of ``values`` (untagged is False)."""
    return column.isin(list(values)).to_numpy()


def parse_height_m(values: pd.Series) -> pd.Series:
    """OSM ``height`` values as float metres: ``"12"``, ``"12 m"``, ``"12,5"``, ``"40 ft"``; else NaN."""
    parts = values.astype(object).where(values.notna(), "").astype(str).str.extract(_HEIGHT)
    number = pd.to_numeric(parts[0].str.replace(",", ".", regex=False), errors="coerce")
    feet = parts[1].str.lower().isin(["ft", "feet", "'"]).to_numpy()
    return pd.Series(np.where(feet, number * 0.3048, number), index=values.index, dtype=float)


def parse_levels(values: pd.Series) -> pd.Series:
    """OSM ``building:levels`` as float (``"3"``, ``"2.5"``, ``"2,5"``); NaN when untagged or unclear."""
    parts = values.astype(object).where(values.notna(), "").astype(str).str.extract(_LEVELS)[0]
    return pd.to_numeric(parts.str.replace(",", ".", regex=False), errors="coerce").astype(float)


def building_use(values: pd.Series) -> pd.Series:
    """The normalized use of a ``building=*`` value.

    residential, commercial, retail, office, industrial, public, religious, education, ``unknown``
    for ``building=yes`` (or untagged), ``other`` for anything else (roof, shed, garage, ...).
    """
    use = values.map(_USE_OF).astype(object)
    unknown = values.isna() | (values == "yes")
    return use.where(use.notna(), np.where(unknown, "unknown", "other")).astype(object)


def walkable_mask(tags: pd.DataFrame) -> np.ndarray:
    """Which ways a person may walk along.

    The walkable ``highway`` values (:data:`WALKABLE_HIGHWAYS`), trunk roads only with
    ``foot=yes/designated``; never ``foot=no``; never ``access=private/no`` unless
    ``foot=yes/designated/permissive`` allows it. Motorways, construction, proposed roads and the
    like are not in the list, so they are never walkable.
    """
    highway, foot, access = tags["highway"], tags["foot"], tags["access"]
    foot_ok = is_in(foot, _FOOT_ALLOWED)
    foot_only = is_in(highway, FOOT_ONLY_HIGHWAYS) & is_in(foot, ["yes", "designated"])
    walkable = is_in(highway, WALKABLE_HIGHWAYS) | foot_only
    closed = is_in(access, ["private", "no"]) & ~foot_ok
    return walkable & ~is_in(foot, ["no"]) & ~closed


#: Priority of a transit stop candidate when duplicates are dropped (lower wins).
STOP_PLATFORM, STOP_STATION, STOP_AREA_PLATFORM, STOP_POSITION = 0, 1, 2, 3


def stop_kind(tags: pd.DataFrame, *, from_points: bool) -> np.ndarray:
    """Priority class of each row as a transit stop (see ``STOP_*``), -1 when it is not one.

    Nodes: ``highway=bus_stop``, ``railway=tram_stop``, ``public_transport=platform`` are platforms,
    ``railway=station/halt`` and ``amenity=ferry_terminal`` stations, ``public_transport=stop_position``
    stop positions. Ways and areas count only as stations, ferry terminals and *named* platforms.
    """
    pt = tags["public_transport"]
    platform = is_in(tags["highway"], ["bus_stop"]) | is_in(tags["railway"], ["tram_stop"])
    platform |= is_in(pt, ["platform"])
    station = is_in(tags["railway"], ["station", "halt"]) | is_in(tags["amenity"], ["ferry_terminal"])
    if from_points:
        position = is_in(pt, ["stop_position"])
        return np.select([platform, station, position], [STOP_PLATFORM, STOP_STATION, STOP_POSITION], -1)
    named_platform = is_in(pt, ["platform"]) & tags["name"].notna().to_numpy()
    return np.select([station, named_platform], [STOP_STATION, STOP_AREA_PLATFORM], -1)


def stop_mode(tags: pd.DataFrame) -> np.ndarray:
    """The mode of each transit stop row: the first of ferry, subway, tram, bus, rail that its tags
    name (``railway=tram_stop``, ``highway=bus_stop``, ``tram=yes``, ``station=subway``, ...); bus when
    none does. A shared bus and tram stop is tram."""
    modes = ("ferry", "subway", "train", "light_rail", "tram", "bus")
    yes = {key: is_in(tags[key], ["yes"]) for key in modes}
    railway, station = tags["railway"], tags["station"]
    conditions = [
        is_in(tags["amenity"], ["ferry_terminal"]) | yes["ferry"],
        is_in(station, ["subway"]) | yes["subway"],
        is_in(railway, ["tram_stop"]) | yes["tram"] | is_in(station, ["tram"]),
        is_in(tags["highway"], ["bus_stop"]) | yes["bus"] | is_in(tags["trolleybus"], ["yes"]),
        is_in(railway, ["station", "halt", "stop", "platform"]) | yes["train"] | yes["light_rail"],
    ]
    return np.select(conditions, ["ferry", "subway", "tram", "bus", "rail"], "bus")
