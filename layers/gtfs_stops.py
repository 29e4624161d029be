"""The stops of a GTFS feed as a point layer (the full timetable is read in ``layers/gtfs``)."""

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
    return gpd.GeoDataFrame(stops, geometry=geometry, crs="EPSG:4326")
