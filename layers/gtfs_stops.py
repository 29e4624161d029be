"""The stops of a GTFS feed as a point layer (the full timetable is read in ``layers/gtfs``).

:func:`read_gtfs_layer` is what the readers call for a GTFS zip: ``transit_stops`` (the stops
with the routes, modes and departures of the feed's busiest day) or ``transit_routes``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers.errors import CityDeskError

STOP_DTYPES = {"stop_id": "string", "stop_code": "string", "stop_name": "string", "zone_id": "string",
               "parent_station": "string", "location_type": "Int8", "wheelchair_boarding": "Int8",
               "platform_code": "string"}


def is_gtfs(path: Path) -> bool:
    """True for a zip holding GTFS text files (stops.txt, trips.txt, agency.txt or routes.txt)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names & {"stops.txt", "trips.txt", "stop_times.txt", "agency.txt", "routes.txt"})


def read_gtfs_stops(path: Path) -> gpd.GeoDataFrame:
    """The feed's stops (``stops.txt``) as points in EPSG:4326, with the GTFS columns kept."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = {Path(n).name: n for n in zf.namelist()}
            if "stops.txt" not in members:
                raise CityDeskError("this GTFS feed has no stops.txt", source=path,
                                    fix="Use a complete GTFS zip (the GTFS reference requires stops.txt)")
            with zf.open(members["stops.txt"]) as fh:
                stops = pd.read_csv(fh, dtype=STOP_DTYPES, encoding="utf-8-sig", skipinitialspace=True)
    except CityDeskError:
        raise
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CityDeskError(f"the stops.txt of this GTFS feed cannot be read ({first})", source=path,
                            fix="Check the feed against the GTFS reference, or download it again") from exc
    stops.columns = [str(c).strip() for c in stops.columns]
    missing = [c for c in ("stop_id", "stop_lat", "stop_lon") if c not in stops.columns]
    if missing:
        raise CityDeskError(f"stops.txt lacks the required column(s) {', '.join(missing)}", source=path,
                            fix="Check the feed against the GTFS reference")
    lon = pd.to_numeric(stops.pop("stop_lon"), errors="coerce")
    lat = pd.to_numeric(stops.pop("stop_lat"), errors="coerce")
    geometry = gpd.points_from_xy(lon, lat)
    geometry[(lon.isna() | lat.isna()).to_numpy()] = None
    gdf = gpd.GeoDataFrame(stops, geometry=geometry, crs="EPSG:4326")
    gdf.attrs["gtfs_path"] = str(Path(path).resolve())  # the timetable behind the stops (layers.gtfs.PATH_ATTR)
    return gdf


GTFS_LAYERS = ("transit_stops", "transit_routes")


def read_gtfs_layer(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """``transit_stops`` (default: every column of stops.txt plus ``routes``, ``modes``,
    ``departures`` and ``per_hour`` in the AM peak 08:15-09:15 and ``departures_day`` on the
    feed's busiest day) or ``transit_routes`` (lines). A timetable that cannot be read leaves the
    stops without those columns; its problems are in ``attrs["gtfs_report"]``."""
    from layers.gtfs import read_feed
    from layers.gtfs_layers import transit_routes, transit_stops

    if layer not in (None, *GTFS_LAYERS):
        raise CityDeskError(f"a GTFS feed has no layer '{layer}'", source=path,
                            fix=f"Layers of a GTFS feed: {', '.join(GTFS_LAYERS)}")
    if layer == "transit_routes":
        feed = read_feed(path)
        gdf = transit_routes(feed)
        gdf.attrs["gtfs_report"] = feed.report.lines()
        return gdf
    stops = read_gtfs_stops(path)
    try:
        feed = read_feed(path)
    except CityDeskError as exc:
        stops.attrs["gtfs_report"] = [exc.message]
        return stops
    extra = transit_stops(feed)
    if len(extra) == len(stops) and (extra["stop_id"].to_numpy() == stops["stop_id"].to_numpy(dtype=object)).all():
        for column in ("routes", "modes", "departures", "per_hour", "departures_day"):
            stops[column] = extra[column].to_numpy()
    stops.attrs.update(extra.attrs)
    stops.attrs["gtfs_report"] = feed.report.lines()
    return stops
