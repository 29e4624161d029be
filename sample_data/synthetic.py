"""SYNTHETIC sensor and citizen-report data for the CityDesk sample city (central Helsinki).

Nothing here was measured or reported by anyone: the numbers are drawn from simple models with a
fixed seed (``numpy.random.default_rng(2026)``, one generator per data set) so that the build is
reproducible. Every station, sensor and request says "synthetic" in its name or notice.

- Air quality: 6 stations, hourly NO2, PM2.5 and PM10 for 2025 (Helsinki local calendar year) in
  long format; times are UTC (the start of the hourly period). Daily and weekly traffic cycles,
  winter peaks (heating, inversions), the spring street-dust season for PM10 (March–April), traffic
  stations higher than urban-background ones, a few gaps and a few duplicate rows as real feeds have.
- Bin fill-level sensors on 20 OSM litter bins (``waste_basket``), May–June 2025: a reading every
  6 hours plus one row per collection (the level just before emptying); some bins overflow.
- Open311 GeoReport v2 service requests (150), with missing fields, empty coordinates and
  descriptions holding markup (untrusted text, for escaping tests).
"""

from __future__ import annotations

import gzip
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

SEED = 2026
HELSINKI = ZoneInfo("Europe/Helsinki")
WGS84 = "EPSG:4326"
UNIT = "µg/m³"
MARK = "SYNTHETIC sample data (CityDesk) — not a real measurement or report."

# --------------------------------------------------------------------------------------------------
# Air quality


#: station_id, name, kind, lon, lat — placed by hand in the extract (24.935–24.953 E, 60.164–60.179 N).
STATIONS = (
    ("SYN-AQ-01", "Synthetic station Kamppi", "traffic", 24.9372, 60.1688),
    ("SYN-AQ-02", "Synthetic station Mannerheimintie", "traffic", 24.9393, 60.1726),
    ("SYN-AQ-03", "Synthetic station Hakaniemi", "traffic", 24.9508, 60.1780),
    ("SYN-AQ-04", "Synthetic station Kaisaniemi park", "urban background", 24.9458, 60.1752),
    ("SYN-AQ-05", "Synthetic station Esplanadi", "urban background", 24.9478, 60.1676),
    ("SYN-AQ-06", "Synthetic station Kluuvi", "urban background", 24.9462, 60.1712),
)
VARIABLES = ("NO2", "PM10", "PM2.5")
#: Annual mean targets (µg/m³) per variable: (traffic low, high), (background low, high).
TARGET_MEANS = {
    "NO2": ((24.0, 30.0), (14.0, 18.0)),
    "PM2.5": ((6.5, 8.5), (5.0, 6.5)),
    "PM10": ((16.0, 20.0), (12.0, 14.0)),
}


def air_quality_stations() -> gpd.GeoDataFrame:
    """The synthetic stations as points (EPSG:4326)."""
    frame = pd.DataFrame(STATIONS, columns=["station_id", "name", "kind", "lon", "lat"])
    geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    return gpd.GeoDataFrame(frame.assign(synthetic=True), geometry=geometry, crs=WGS84)


def air_quality_readings(seed: int = SEED, year: int = 2025) -> pd.DataFrame:
    """Hourly readings in long format: ``station_id``, ``time`` (UTC, start of the hour),
    ``variable`` (NO2, PM10, PM2.5), ``value`` (µg/m³, one decimal), ``unit``.

    Sorted by station, time and variable; a few gaps (missing rows) and 3 duplicate rows included.
    """
    rng = np.random.default_rng(seed)
    local = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="h", inclusive="left", tz=HELSINKI)
    n = len(local)
    hour = local.hour.to_numpy()
    weekend = local.day_of_week.to_numpy() >= 5
    doy = local.day_of_year.to_numpy()
    winter = 1.0 + 0.35 * np.cos(2 * np.pi * (doy - 20) / 365.0)
    dust = 1.0 + 1.6 * np.exp(-0.5 * ((doy - 100) / 14.0) ** 2)  # street dust after the snow melts
    rush = np.exp(-0.5 * ((hour - 8) / 1.5) ** 2) + 0.9 * np.exp(-0.5 * ((hour - 16.5) / 2.0) ** 2)
    traffic = np.where(weekend, 0.35 + 0.3 * np.exp(-0.5 * ((hour - 14) / 4.0) ** 2), 0.3 + rush)
    daytime = 0.5 + np.exp(-0.5 * ((hour - 13) / 4.0) ** 2)
    mixing = np.exp(_ar1(rng, n, 36.0, 0.45))  # common weather: dispersion, ~1.5 day memory
    regional = np.exp(_ar1(rng, n, 96.0, 0.55))  # long-range transport, ~4 day memory
    rows = []
    for station_id, _name, kind, _lon, _lat in STATIONS:
        is_traffic = kind == "traffic"
        local_noise = np.exp(_ar1(rng, n, 6.0, 0.25))
        road = (2.2 if is_traffic else 0.6) * traffic
        shapes = {
            "NO2": (1.0 + road) * winter * mixing * local_noise,
            "PM2.5": (1.0 + 0.12 * road) * (0.85 + 0.3 * winter) * regional * local_noise ** 0.5,
            "PM10": (1.0 + 0.35 * road * daytime * dust) * (0.85 + 0.3 * winter) * regional ** 0.7
            * local_noise,
        }
        down = _gaps(rng, n)
        for variable in VARIABLES:
            lo, hi = TARGET_MEANS[variable][0 if is_traffic else 1]
            shape = shapes[variable]
            value = shape / shape.mean() * rng.uniform(lo, hi)
            value = np.round(np.clip(value * rng.normal(1.0, 0.04, n) + rng.normal(0, 0.3, n), 0.0, None), 1)
            missing = down | (rng.random(n) < 0.002)
            rows.append(pd.DataFrame({"station_id": station_id, "time": local.tz_convert("UTC")[~missing],
                                      "variable": variable, "value": value[~missing]}))
    table = pd.concat(rows, ignore_index=True)
    dupes = table.iloc[np.sort(rng.choice(len(table), size=3, replace=False))]
    table = pd.concat([table, dupes], ignore_index=True)
    table = table.sort_values(["station_id", "time", "variable"], kind="stable", ignore_index=True)
    table["unit"] = UNIT
    return table.astype({"station_id": "string", "variable": "string", "unit": "string", "value": "float64"})


def _ar1(rng: np.random.Generator, n: int, memory_h: float, sigma: float) -> np.ndarray:
    """A stationary AR(1) series with e-folding time ``memory_h`` hours and std ``sigma``."""
    from scipy.signal import lfilter

    phi = np.exp(-1.0 / memory_h)
    shocks = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), n)
    shocks[0] = rng.normal(0.0, sigma)  # start in the stationary distribution
    return lfilter([1.0], [1.0, -phi], shocks)


def _gaps(rng: np.random.Generator, n: int) -> np.ndarray:
    """2–4 outages of 3–72 hours (instrument down, all variables)."""
    down = np.zeros(n, dtype=bool)
    for _ in range(int(rng.integers(2, 5))):
        start, length = int(rng.integers(0, n - 72)), int(rng.integers(3, 73))
        down[start:start + length] = True
    return down


def write_readings(table: pd.DataFrame, stem: Path) -> Path:
    """``stem``.parquet (when pyarrow is installed) or ``stem``.csv.gz; returns the path written.

    Parquet keeps ``time`` as a UTC timestamp; the CSV writes ISO 8601 with ``Z``. Both are
    byte-for-byte reproducible (the gzip header carries no time stamp)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path = stem.with_name(stem.name + ".csv.gz")
        text = table.assign(time=table["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(index=False)
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as fh:
            fh.write(text.encode("utf-8"))
        _atomic_bytes(path, buffer.getvalue())
        return path
    path = stem.with_name(stem.name + ".parquet")
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False, compression="zstd")
    _atomic_bytes(path, buffer.getvalue())
    return path


# --------------------------------------------------------------------------------------------------
# Bin fill-level sensors


def bin_sensors(waste_bins: gpd.GeoDataFrame, seed: int = SEED, count: int = 20) -> gpd.GeoDataFrame:
    """``count`` of the ``waste_basket`` bins, chosen at random, with a synthetic sensor each:
    ``bin_id`` (the OSM id), ``sensor_id``, ``name``, ``kind``, ``collect_every_days``."""
    rng = np.random.default_rng(seed)
    baskets = waste_bins[waste_bins["kind"] == "waste_basket"].copy()
    baskets = baskets.assign(_order=pd.to_numeric(baskets["osm_id"], errors="coerce")).sort_values(
        ["_order", "osm_id"], kind="stable").drop(columns="_order")
    chosen = np.sort(rng.choice(len(baskets), size=min(count, len(baskets)), replace=False))
    picked = baskets.iloc[chosen].reset_index(drop=True)
    out = gpd.GeoDataFrame({
        "bin_id": picked["osm_id"].astype(str).to_numpy(),
        "sensor_id": [f"SYN-BIN-{i + 1:02d}" for i in range(len(picked))],
        "name": [f"Synthetic fill sensor {i + 1:02d}" for i in range(len(picked))],
        "kind": picked["kind"].to_numpy(),
        "collect_every_days": rng.choice([2, 3, 3, 4, 5], size=len(picked)).astype("int64"),
        "synthetic": True,
    }, geometry=picked.geometry.to_numpy(), crs=waste_bins.crs)
    return out


def bin_fill_readings(sensors: gpd.GeoDataFrame, seed: int = SEED, start: str = "2025-05-01",
                      end: str = "2025-07-01") -> pd.DataFrame:
    """Fill readings: ``bin_id``, ``time`` (ISO 8601 UTC with ``Z``), ``fill_pct`` (0–100, integer),
    ``event`` (``reading`` every 6 hours; ``collection``: the level just before the bin was emptied).

    Bins fill in the daytime, faster on warm weekends; they are emptied every
    ``collect_every_days`` days at 6–10 local time, a collection is sometimes missed, and a full bin
    stays at 100 % (overflowing) until it is emptied."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz=HELSINKI)
    n = len(hours)
    hour, weekend = hours.hour.to_numpy(), hours.day_of_week.to_numpy() >= 5
    day = (hours.normalize() - hours[0].normalize()).days.to_numpy()
    profile = np.where((hour >= 8) & (hour < 22), 1.0, 0.15)
    profile = profile / profile.mean() / 24.0  # one day of profile sums to about 1
    weather = rng.lognormal(0.0, 0.3, day.max() + 1)[day]  # sunny days: busier parks and streets
    rows = []
    for bin_id, every in zip(sensors["bin_id"], sensors["collect_every_days"], strict=True):
        per_day = rng.uniform(10.0, 32.0)
        rate = per_day * profile * weather * np.where(weekend, 1.4, 1.0) * rng.lognormal(0.0, 0.2, n)
        offset = int(rng.integers(0, every))
        collect_days = np.arange(offset, day.max() + 1, every)
        collect_days = collect_days[rng.random(len(collect_days)) > 0.06]  # a missed collection now and then
        collect_hour = rng.integers(6, 10, len(collect_days))
        collect_at = set(zip(collect_days.tolist(), collect_hour.tolist(), strict=True))
        level = rng.uniform(0.0, 40.0)
        for i in range(n):  # 1,464 hours per bin: a plain loop keeps the state machine readable
            if (int(day[i]), int(hour[i])) in collect_at:
                at = hours[i] + timedelta(minutes=int(rng.integers(0, 50)))
                rows.append((bin_id, at, level, "collection"))
                level = rng.uniform(0.0, 4.0)
            level = min(100.0, level + rate[i])
            if hour[i] % 6 == 5:
                rows.append((bin_id, hours[i] + timedelta(hours=1), level, "reading"))
    table = pd.DataFrame(rows, columns=["bin_id", "time", "fill_pct", "event"])
    noise = rng.normal(0.0, 1.5, len(table))
    table["fill_pct"] = np.clip(np.round(table["fill_pct"] + noise), 0, 100).astype("int64")
    table["time"] = pd.to_datetime(table["time"]).dt.tz_convert("UTC")
    table = table.sort_values(["bin_id", "time"], kind="stable", ignore_index=True)
    table["time"] = table["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return table


# --------------------------------------------------------------------------------------------------
# Open311 GeoReport v2 citizen reports

#: service_code -> (service_name, share of requests, descriptions, closing notes)
SERVICES = {
    "bin_overflow": ("Overflowing bin", 0.26, (
        "The litter bin is full and rubbish is spilling onto the pavement.",
        "Bin overflowing again, seagulls are pulling the bags apart.",
        "Roskis täynnä, roskia maassa.",
        "Overflowing bin next to the bus stop.",
    ), ("Bin emptied.", "Emptied; collection interval shortened.")),
    "broken_bench": ("Broken bench", 0.14, (
        "A slat of the bench is broken, sharp edges.",
        "The bench is loose from its base and tips over.",
        "Penkki rikki.",
    ), ("Bench repaired.", "Bench replaced.")),
    "unsafe_crossing": ("Unsafe crossing", 0.16, (
        "Cars do not stop at this crossing; the zebra markings have worn away.",
        "The green light is too short for older people to cross.",
        "Crossing is icy and the kerb ramp is blocked by snow.",
    ), ("Markings repainted.", "Signal timing checked and lengthened.")),
    "street_light": ("Street lighting fault", 0.2, (
        "Street light not working, the path is dark in the evening.",
        "The lamp flickers all night.",
        "Katuvalo ei toimi.",
    ), ("Lamp replaced.", "Cable fault repaired.")),
    "litter": ("Litter", 0.24, (
        "Broken glass on the pavement.",
        "Lots of litter in the park after the weekend.",
        "Cigarette butts everywhere around the entrance.",
    ), ("Area cleaned.", "Cleaned by the street maintenance contractor.")),
}
MARKUP = (
    "Bin full <script>alert(1)</script>",
    "<b>bold</b> complaint: the bench is broken",
    "Light out <img src=x onerror=alert(1)>",
    "Litter & glass \"everywhere\" — <i>again</i> <a href=\"javascript:alert(1)\">photo</a>",
    "<script>alert(1)</script>",
    "Crossing unsafe <b>bold</b> & dark",
)
AGENCY = "City of Helsinki Urban Environment Division (synthetic)"
NOTICE = "SYNTHETIC sample record (CityDesk), not a real request. Typical response time: 3 working days."
FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
          "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")
TEXT_FIELDS = tuple(k for k in FIELDS if k not in ("lat", "long"))


def citizen_reports(layers: dict[str, gpd.GeoDataFrame], seed: int = SEED, count: int = 150,
                    start: str = "2025-01-06", end: str = "2025-06-28") -> list[dict]:
    """Open311 GeoReport v2 service requests (every field of the spec) near fitting features of the
    OSM layers (``waste_bins``, ``benches``, ``streets``, ``green_spaces``, EPSG:4326)."""
    rng = np.random.default_rng(seed)
    codes = list(SERVICES)
    shares = np.array([SERVICES[c][1] for c in codes])
    chosen = rng.choice(len(codes), size=count, p=shares / shares.sum())
    t0 = datetime.fromisoformat(start).replace(tzinfo=HELSINKI)
    days = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days
    # local day and minute of day, mostly daytime (people report on the way to work and in the evening)
    minute_of_day = np.clip(rng.normal(14 * 60, 4 * 60, count), 5 * 60, 23 * 60 + 59).astype(int)
    requested = np.sort(rng.integers(0, days, count) * 1440 + minute_of_day)
    anchors = _anchors(layers)
    streets = layers["streets"]
    named = streets[streets["name"].notna()]
    street_tree = shapely.STRtree(named.geometry.to_numpy())
    markup_rows = set(rng.choice(count, size=len(MARKUP), replace=False).tolist())
    no_coords = rng.choice(sorted(set(range(count)) - markup_rows), size=5, replace=False).tolist()
    sparse = rng.choice(count, size=8, replace=False).tolist()
    reports = []
    for i in range(count):
        code = codes[chosen[i]]
        name, _share, texts, notes = SERVICES[code]
        pool = anchors[code]
        point = pool[int(rng.integers(0, len(pool)))]
        lon = shapely.get_x(point) + rng.normal(0, 0.00012)
        lat = shapely.get_y(point) + rng.normal(0, 0.00006)
        street = named["name"].iloc[int(street_tree.nearest(shapely.Point(lon, lat)))]
        day, minute = divmod(int(requested[i]), 1440)
        when = (t0.replace(tzinfo=None) + timedelta(days=day, minutes=minute)).replace(tzinfo=HELSINKI)
        age_days = (datetime.fromisoformat(end).replace(tzinfo=HELSINKI) - when).days
        closed = rng.random() < (0.85 if age_days > 21 else 0.35)
        updated = when + timedelta(hours=float(rng.uniform(4, 240) if closed else rng.uniform(0, 48)))
        if i in markup_rows:
            description = MARKUP[sorted(markup_rows).index(i)]
        else:
            description = texts[int(rng.integers(0, len(texts)))]
        report = {
            "service_request_id": f"SYN-2025-{i + 1:04d}",
            "status": "closed" if closed else "open",
            "status_notes": notes[int(rng.integers(0, len(notes)))] if closed else (
                "Forwarded to the maintenance contractor." if rng.random() < 0.5 else None),
            "service_name": name,
            "service_code": code,
            "description": description,
            "agency_responsible": AGENCY,
            "service_notice": NOTICE,
            "requested_datetime": _iso(when),
            "updated_datetime": _iso(updated),
            "expected_datetime": _iso(when + timedelta(days=int(rng.integers(2, 15))))
            if rng.random() < 0.8 else None,
            "address": f"{street} {int(rng.integers(1, 60))}, Helsinki",
            "address_id": f"SYN-ADDR-{int(rng.integers(1000, 9999))}",
            "zipcode": _zipcode(lon, lat),
            "lat": round(float(lat), 6),
            "long": round(float(lon), 6),
            "media_url": f"https://example.org/citydesk/synthetic-media/SYN-2025-{i + 1:04d}.jpg"
            if rng.random() < 0.2 else None,
        }
        if i in no_coords:  # real exports: null or empty coordinates, address only
            empty = None if no_coords.index(i) < 3 else ""
            report["lat"] = report["long"] = empty
        if i in sparse:  # and fields left out altogether
            for key in rng.choice(["media_url", "address_id", "zipcode", "expected_datetime", "status_notes",
                                   "description", "address"], size=2, replace=False):
                report.pop(str(key), None)
        reports.append(report)
    return reports


def _anchors(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, np.ndarray]:
    """Candidate locations (points, EPSG:4326) per service code."""
    streets = layers["streets"]
    crossings = streets[streets["highway"].isin(["crossing", "footway", "primary", "secondary"])]
    street_points = shapely.line_interpolate_point(streets.geometry.to_numpy(), 0.5, normalized=True)
    crossing_points = shapely.line_interpolate_point(crossings.geometry.to_numpy(), 0.5, normalized=True)
    green = shapely.point_on_surface(layers["green_spaces"].geometry.to_numpy())
    bins = layers["waste_bins"].geometry.to_numpy()
    return {
        "bin_overflow": bins,
        "broken_bench": layers["benches"].geometry.to_numpy(),
        "unsafe_crossing": crossing_points if len(crossing_points) else street_points,
        "street_light": street_points,
        "litter": np.concatenate([street_points[::4], green, bins]),
    }


def _iso(when: datetime) -> str:
    """ISO 8601 with the Helsinki offset of that day (+02:00 in winter, +03:00 in summer)."""
    return when.astimezone(HELSINKI).replace(second=0, microsecond=0).isoformat()


def _zipcode(lon: float, lat: float) -> str:
    if lat > 60.1755 and lon > 24.946:
        return "00530"
    if lon > 24.950:
        return "00170"
    if lat < 60.1665:
        return "00130" if lon > 24.942 else "00120"
    return "00100"


def reports_xml(reports: list[dict]) -> str:
    """The requests as a GeoReport v2 XML answer (``<service_requests><request>…``): a missing field
    is left out, a null one is an empty element; text is XML-escaped."""
    root = ET.Element("service_requests")
    for report in reports:
        element = ET.SubElement(root, "request")
        for key in FIELDS:
            if key in report:
                value = report[key]
                ET.SubElement(element, key).text = "" if value is None else str(value)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def reports_layer(reports: list[dict]) -> gpd.GeoDataFrame:
    """Requests with coordinates as points (EPSG:4326); every field but ``lat``/``long`` as text."""
    rows = []
    for report in reports:
        lat, lon = _number(report.get("lat")), _number(report.get("long"))
        if lat is None or lon is None:
            continue
        rows.append({**{k: report.get(k) for k in TEXT_FIELDS}, "lon": lon, "lat": lat})
    frame = pd.DataFrame(rows, columns=[*TEXT_FIELDS, "lon", "lat"])
    geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    return gpd.GeoDataFrame(frame.astype(object).where(frame.notna(), None), geometry=geometry, crs=WGS84)


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def write_reports(reports: list[dict], folder: Path, stem: str) -> tuple[Path, Path]:
    """``stem``.json (a JSON array, as GeoReport v2 servers answer) and ``stem``.xml."""
    json_path, xml_path = folder / f"{stem}.json", folder / f"{stem}.xml"
    _atomic_bytes(json_path, (json.dumps(reports, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    _atomic_bytes(xml_path, reports_xml(reports).encode("utf-8"))
    return json_path, xml_path


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
