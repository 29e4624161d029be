"""The layer model: a GeoDataFrame with a name, where it came from, what it is for and a style."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import geopandas as gpd

from layers.style import Style

ROLES = (
    "buildings", "streets", "transit_stops", "waste_bins", "benches", "toilets", "pharmacies",
    "groceries", "green_spaces", "healthcare", "sensors", "reports", "districts", "other",
)

# Words in a layer or file name that hint at its role.
_ROLE_WORDS = {
    "buildings": ("building", "rakennu", "house"),
    "streets": ("street", "road", "walk", "footway", "network", "katu"),
    "transit_stops": ("stop", "transit", "bus", "tram", "pysak"),
    "waste_bins": ("waste", "bin", "litter", "recycl", "roska"),
    "benches": ("bench", "seat", "penk"),
    "toilets": ("toilet", "wc"),
    "pharmacies": ("pharmac", "apteek"),
    "groceries": ("grocer", "supermarket", "shop", "kauppa"),
    "green_spaces": ("green", "park", "puisto"),
    "healthcare": ("health", "clinic", "hospital", "doctor"),
    "sensors": ("sensor", "station", "air_quality", "air-quality"),
    "reports": ("report", "open311", "request", "feedback"),
    "districts": ("district", "neighbourhood", "neighborhood", "ward", "area", "alue"),
}


@dataclass(frozen=True)
class Source:
    """Where a layer's data lives: a file path plus a layer inside it, or a database URI."""

    path: str
    layer: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.layer}" if self.layer else self.path


@dataclass(eq=False)
class Layer:
    """A city layer. ``gdf`` is None when the source could not be read (``error`` says why)."""

    name: str
    gdf: gpd.GeoDataFrame | None
    source: Source | None = None
    role: str = "other"
    style: Style = field(default_factory=Style)
    visible: bool = True
    error: str | None = None
    transient: bool = False  # shown for now only (e.g. the sensor time slider's values): never saved

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            self.role = "other"

    @property
    def geometry_kind(self) -> str:
        """'point', 'line', 'polygon', 'mixed' or 'none'."""
        return geometry_kind(self.gdf)

    def __len__(self) -> int:
        return 0 if self.gdf is None else len(self.gdf)


def geometry_kind(gdf: gpd.GeoDataFrame | None) -> str:
    if gdf is None or len(gdf) == 0 or "geometry" not in gdf:
        return "none"
    types = set(gdf.geometry.geom_type.dropna().unique())
    kinds = {("point" if "Point" in t else "line" if "Line" in t else "polygon" if "Polygon" in t
              else "mixed") for t in types}
    return kinds.pop() if len(kinds) == 1 else ("none" if not kinds else "mixed")


def guess_role(*names: str) -> str:
    """The role a layer most likely has, from its layer name and file name (``other`` if none)."""
    for name in names:
        if not name:
            continue
        plain = unicodedata.normalize("NFKD", name.lower()).encode("ascii", "ignore").decode()  # ä -> a
        text = re.sub(r"[^a-z0-9_-]", "", plain.replace(" ", "_"))
        text = re.sub(r"parking|pysakoi", "", text)  # car parks are neither green spaces nor transit stops
        if text in ROLES:
            return text
        for role, words in _ROLE_WORDS.items():
            if any(w in text for w in words):
                return role
    return "other"
