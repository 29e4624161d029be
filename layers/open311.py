"""Citizen reports from Open311 GeoReport v2 answers (``GET requests``), JSON or XML.

A service request has the fields of the GeoReport v2 spec (:data:`FIELDS`). Real exports leave
fields out, give null or empty coordinates and hold free text that may contain markup; the reader
tolerates all of it and counts it (:class:`Open311Report`, kept in ``gdf.attrs["open311"]``):

- Every request becomes one row, in file order. A request without usable coordinates (missing,
  empty, not a number, out of range, or 0/0 "null island") is KEPT with an empty geometry, so it
  still counts in tables by category, status and month; it is counted in ``without_coordinates``.
- Text fields stay text, exactly as written (never interpreted; the window shows them as plain
  text). Fields outside the spec are kept as text columns after the spec ones.
- ``requested_datetime``, ``updated_datetime`` and ``expected_datetime`` are parsed as ISO 8601
  with their time zone and stored in UTC (``datetime64[ns, UTC]``). A time without a zone is taken
  in ``naive_time_zone`` (UTC unless told; in the repeated hour of a daylight-saving change the
  first, summer-time one; in the skipped hour moved forward) and counted; an unreadable one is NaT
  and counted.
  ``requested_month`` (``"2025-01"``) is the month of the request in the local time the server
  wrote, so a report at 00:30 on 1 February in Helsinki counts in February.
- Geometry: points in WGS 84 (EPSG:4326), from ``long`` / ``lat``.

XML is parsed with expat directly and refuses any entity declaration and external entity (the
"billion laughs" and XXE attacks): GeoReport v2 answers have neither. No new dependency.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.parsers import expat

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.errors import CityDeskError

FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
          "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")
DATE_FIELDS = ("requested_datetime", "updated_datetime", "expected_datetime")
TEXT_FIELDS = tuple(f for f in FIELDS if f not in DATE_FIELDS + ("lat", "long"))
MONTH_FIELD = "requested_month"
WGS84 = "EPSG:4326"
SNIFF_BYTES = 16_384
_JSON_MARKS = (b'"service_request_id"', b'"service_code"', b'"requested_datetime"', b'"service_name"')
_XML_MARKS = (b"<service_requests", b"<service_request_id")
_ERROR_JSON = re.compile(rb'^\[\s*\{\s*"(?:code|description)"\s*:')  # [{"code": 403, "description": ...}]
_ERROR_XML = re.compile(rb"<errors>\s*<error>")
_ZONE = re.compile(r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$")
_MONTH_TEXT = r"\d{4}-\d{2}"
_RESERVED = ("geometry", MONTH_FIELD)  # column names the reader makes itself


@dataclass(frozen=True)
class Open311Report:
    """What reading a GeoReport v2 file found: counts, so that nothing is dropped silently."""

    requests: int = 0
    with_coordinates: int = 0
    without_coordinates: int = 0  # kept, with an empty geometry
    missing_fields: dict[str, int] = field(default_factory=dict)  # spec field -> requests without a value
    dates_without_time_zone: int = 0  # taken in naive_time_zone
    unreadable_dates: int = 0  # NaT
    extra_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The counts as sentences for a person."""
        out = [f"{self.requests} service requests, {self.with_coordinates} with coordinates"]
        if self.without_coordinates:
            out.append(f"{self.without_coordinates} without usable coordinates (kept, not on the map)")
        if self.dates_without_time_zone:
            out.append(f"{self.dates_without_time_zone} dates without a time zone")
        if self.unreadable_dates:
            out.append(f"{self.unreadable_dates} dates that could not be read")
        missing = ", ".join(f"{k} {v}" for k, v in self.missing_fields.items() if v)
        if missing:
            out.append(f"requests without: {missing}")
        return out


def is_georeport(path: str | Path) -> bool:
    """True if the file's first bytes look like a GeoReport v2 answer: a JSON array of requests
    (``[]`` counts: an answer with no requests) or XML with ``<service_requests>``, or an Open311
    error answer (read to say what the server said)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    text = _strip_bom(head).lstrip()
    if text.startswith(b"["):  # an error answer is read too, to tell what the server said
        return (text[1:].lstrip().startswith(b"]") or any(m in text for m in _JSON_MARKS)
                or _ERROR_JSON.match(text) is not None)
    if text.startswith(b"{"):  # a single request or a wrapped list; a GeoJSON object is not one
        return b'"FeatureCollection"' not in text and b'"Feature"' not in text and any(m in text for m in _JSON_MARKS)
    if text.startswith(b"<"):
        return any(m in text for m in _XML_MARKS) or _ERROR_XML.search(text) is not None
    return False


def read_open311(path: str | Path, *, naive_time_zone: str = "UTC") -> gpd.GeoDataFrame:
    """The service requests of a GeoReport v2 JSON or XML file as a point layer (EPSG:4326), one
    row per request; ``gdf.attrs["open311"]`` holds the :class:`Open311Report` counts as a dict."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CityDeskError(f"cannot be read ({exc.strerror or exc})", source=path,
                            fix="Check that the file exists and can be read") from exc
    text = _strip_bom(data).lstrip()
    records = parse_xml(data, source=path) if text.startswith(b"<") else parse_json(data, source=path)
    return requests_frame(records, naive_time_zone=naive_time_zone, source=path)


def parse_json(data: bytes | str, *, source: str | Path = "the file") -> list[dict]:
    """The requests of a GeoReport v2 JSON answer: a list of request objects (also accepted: one
    object, or ``{"service_requests": [...]}`` / ``{"requests": [...]}``). An error answer
    (``[{"code": 404, "description": ...}]``) raises :class:`CityDeskError` with its text."""
    if isinstance(data, bytes):
        data = _strip_bom(data).decode("utf-8", errors="replace")
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise CityDeskError(f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", source=source,
                            fix="The file may be cut off or damaged; download the requests again") from exc
    if isinstance(value, dict):
        for key in ("service_requests", "requests", "request"):
            if isinstance(value.get(key), list | dict):
                value = value[key]
                break
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CityDeskError("is not a GeoReport v2 answer (expected a list of service requests)", source=source,
                            fix="Download the requests with GET requests.json from the Open311 server")
    _raise_if_errors(value, source)
    return value


def parse_xml(data: bytes, *, source: str | Path = "the file") -> list[dict]:
    """The requests of a GeoReport v2 XML answer (``<service_requests><request><field>…``): each
    child of the root element is a request, each of its children a field (the text inside, nested
    elements included). An empty element is a null value. Entity declarations and external
    entities are refused."""
    records: list[dict] = []
    state = {"depth": 0, "root": None, "record": None, "field": None, "text": []}

    def start(name, _attrs):
        state["depth"] += 1
        depth = state["depth"]
        if depth == 1:
            state["root"] = name
        elif depth == 2:
            state["record"] = {}
        elif depth == 3:
            state["field"], state["text"] = name, []

    def end(name):
        depth = state["depth"]
        if depth == 3 and state["record"] is not None:
            value = "".join(state["text"]).strip()
            state["record"][state["field"]] = value if value else None
        elif depth == 2 and state["record"] is not None:
            records.append(state["record"])
            state["record"] = None
        state["depth"] -= 1

    def chars(text):
        if state["depth"] >= 3:
            state["text"].append(text)

    def refuse(*_args):
        raise _Refused

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise CityDeskError("the XML declares entities, which a GeoReport v2 answer never does; it was not read "
                            "(entities can expand to gigabytes or read local files)", source=source,
                            fix="Download the requests again from the Open311 server") from exc
    except expat.ExpatError as exc:
        raise CityDeskError(f"is not valid XML ({expat.errors.messages.get(exc.code, exc)} at line {exc.lineno})",
                            source=source, fix="The file may be cut off or damaged; download the requests again") \
            from exc
    if state["root"] == "errors":
        _raise_if_errors(records, source)
    if state["root"] not in ("service_requests", "requests", "request"):
        raise CityDeskError(f"is not a GeoReport v2 answer (its root element is <{state['root']}>, "
                            "expected <service_requests>)", source=source,
                            fix="Download the requests with GET requests.xml from the Open311 server")
    return records


class _Refused(Exception):
    pass


def _raise_if_errors(records: list[dict], source) -> None:
    """A GeoReport v2 error answer (a list of ``code`` + ``description``) as a readable error."""
    if records and all(set(r) <= {"code", "description"} and "code" in r for r in records):
        said = "; ".join(f"{r.get('code')}: {r.get('description') or ''}".strip() for r in records)
        raise CityDeskError(f"is an Open311 error answer, not requests ({said[:300]})", source=source,
                            fix="Ask the server again with a valid request (service code, dates, API key)")


def requests_frame(records: list[dict], *, naive_time_zone: str = "UTC",
                   source: str | Path = "requests") -> gpd.GeoDataFrame:
    """Request dicts (as :func:`parse_json` / :func:`parse_xml` give them) as a point layer in
    WGS 84: the spec fields first (text, dates in UTC), then ``requested_month``, then any fields
    outside the spec as text. See the module docstring for what is kept and counted."""
    n = len(records)
    extra = sorted({k for r in records for k in r} - set(FIELDS), key=str)
    columns: dict[str, object] = {}
    missing: dict[str, int] = {}
    for name in [*FIELDS, *extra]:
        raw = [_text(r.get(name)) for r in records]
        values = pd.Series(raw, dtype="str", index=pd.RangeIndex(n)).str.strip().replace("", None)
        if name in FIELDS:
            missing[name] = int(values.isna().sum())
        column = str(name)
        while column in _RESERVED or (column != name and column in columns):  # e.g. a field named "geometry"
            column = f"extra_{column}"
        columns[column] = values
    lon = pd.to_numeric(columns.pop("long"), errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(columns.pop("lat"), errors="coerce").to_numpy(dtype=float)
    good = (np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
            & ~((lon == 0) & (lat == 0)))
    naive = bad = 0
    month = pd.Series(None, index=pd.RangeIndex(n), dtype="str")
    for name in DATE_FIELDS:
        parsed, n_naive, n_bad = parse_datetimes(columns[name], naive_time_zone=naive_time_zone, source=source)
        if name == "requested_datetime":
            month = local_month(columns[name]).where(parsed.notna().to_numpy(), None)
        columns[name] = parsed
        naive, bad = naive + n_naive, bad + n_bad
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    frame.insert(frame.columns.get_loc("expected_datetime") + 1, MONTH_FIELD, month)
    points = gpd.points_from_xy(np.where(good, lon, 0.0), np.where(good, lat, 0.0))
    geometry = np.where(good, np.asarray(points, dtype=object), None)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(list(geometry), index=frame.index, crs=WGS84), crs=WGS84)
    report = Open311Report(n, int(good.sum()), int(n - good.sum()), missing, naive, bad, tuple(map(str, extra)))
    gdf.attrs["open311"] = report.to_dict()
    return gdf


def parse_datetimes(values: pd.Series, *, naive_time_zone: str = "UTC",
                    source: str | Path = "requests") -> tuple[pd.Series, int, int]:
    """ISO 8601 texts with a time zone (``2025-01-10T20:08:00+02:00``, ``…Z``) as UTC datetimes;
    texts without one are taken in ``naive_time_zone``. Returns (datetimes, how many had no time
    zone, how many could not be read). Already parsed datetimes are converted to UTC."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC"), 0, 0
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _localize(values, naive_time_zone, source).dt.tz_convert("UTC"), int(values.notna().sum()), 0
    text = values.astype("str").str.strip()
    present = text.notna() & (text != "")
    zoned = present & text.str.contains(_ZONE, na=False)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if zoned.any():
        out[zoned] = pd.to_datetime(text[zoned], utc=True, format="ISO8601", errors="coerce").dt.as_unit("ns")
    naive = present & ~zoned
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        out[naive] = _localize(local, naive_time_zone, source).dt.tz_convert("UTC").dt.as_unit("ns")
    bad = int((present & out.isna()).sum())
    return out, int((naive & out.notna()).sum()), bad


def _localize(values: pd.Series, zone: str, source) -> pd.Series:
    try:
        # the repeated hour when clocks go back: the first (summer-time) one; the skipped hour: moved forward
        return values.dt.tz_localize(zone, ambiguous=np.ones(len(values), dtype=bool), nonexistent="shift_forward")
    except Exception as exc:  # an unknown zone name
        raise CityDeskError(f"the time zone {zone!r} is not known", source=source,
                            fix="Give an IANA time zone name such as Europe/Helsinki or UTC") from exc


def local_month(values: pd.Series) -> pd.Series:
    """``"YYYY-MM"`` of each time as the server wrote it (its local time: the text's own date),
    or of a parsed datetime in its own time zone; missing where there is no time."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m").astype("str")
    text = values.astype("str").str.strip().str.slice(0, 7)
    return text.where(text.str.fullmatch(_MONTH_TEXT, na=False), None)


def _text(value: object) -> str | None:
    """A field value as text: None stays None, numbers as written, nested values as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data
