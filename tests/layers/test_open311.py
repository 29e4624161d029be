"""Open311 GeoReport v2 reader: every field, JSON and XML alike, missing fields and coordinates
counted (rows kept), dates with time zones, untrusted text kept as written, unsafe XML refused,
and the files opening wherever a path is accepted (readers, ``citydesk info``, ``--layer``)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from layers.errors import CityDeskError
from layers.open311 import FIELDS, Open311Report, is_georeport, parse_datetimes, read_open311
from layers.readers import list_layers, read_layers, sniff_kind

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def _request(i: int, **changes) -> dict:
    record = {
        "service_request_id": f"R-{i}",
        "status": "open",
        "status_notes": "Forwarded.",
        "service_name": "Overflowing bin",
        "service_code": "bin_overflow",
        "description": "Bin full",
        "agency_responsible": "Street maintenance",
        "service_notice": "Typical response: 3 days",
        "requested_datetime": "2025-01-10T20:08:00+02:00",
        "updated_datetime": "2025-01-11T08:00:00Z",
        "expected_datetime": "2025-07-01T12:00:00+03:00",
        "address": "Mannerheimintie 1",
        "address_id": "A-1",
        "zipcode": "00100",
        "lat": 60.1699,
        "long": 24.9384,
        "media_url": "https://example.org/1.jpg",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not _DROP}


_DROP = object()

REQUESTS = [
    _request(1),
    _request(2, description=SCRIPT, status="closed", lat="60.1710", long="24.9410"),  # numbers as text
    _request(3, description=IMG, requested_datetime="2025-02-01T00:30:00+02:00"),  # Jan 31 in UTC
    _request(4, lat=None, long=None),  # null coordinates
    _request(5, lat="", long=""),  # empty coordinates
    _request(6, lat=_DROP, long=_DROP, zipcode=_DROP, media_url=_DROP),  # left out
    _request(7, lat=0, long=0),  # "null island": a default, not a place
    _request(8, lat=95.0, long=24.9),  # out of range
    _request(9, service_request_id=1009, zipcode="00120", extra_attribute="kept"),  # a number id, an extra field
]


def _xml(requests: list[dict]) -> str:
    root = ET.Element("service_requests")
    for record in requests:
        element = ET.SubElement(root, "request")
        for key, value in record.items():
            ET.SubElement(element, key).text = "" if value is None else str(value)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


@pytest.fixture
def json_file(tmp_path: Path) -> Path:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(REQUESTS, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def xml_file(tmp_path: Path) -> Path:
    path = tmp_path / "requests.xml"
    path.write_text(_xml(REQUESTS), encoding="utf-8")
    return path


def test_json_every_field_and_counts(json_file):
    gdf = read_open311(json_file)
    assert len(gdf) == len(REQUESTS)  # nothing dropped
    assert list(gdf.columns[:8]) == list(FIELDS[:8])
    for name in FIELDS:
        if name not in ("lat", "long"):
            assert name in gdf.columns
    assert "extra_attribute" in gdf.columns and gdf["extra_attribute"].iloc[8] == "kept"
    assert gdf["service_request_id"].iloc[8] == "1009" and gdf["zipcode"].iloc[0] == "00100"
    assert gdf.crs.to_epsg() == 4326
    first = gdf.geometry.iloc[0]
    assert (first.x, first.y) == (24.9384, 60.1699)
    assert gdf.geometry.iloc[1].x == pytest.approx(24.941)
    missing = gdf.geometry.isna().to_numpy()
    assert missing.tolist() == [False, False, False, True, True, True, True, True, False]
    report = Open311Report(**gdf.attrs["open311"])
    assert report.requests == 9 and report.with_coordinates == 4 and report.without_coordinates == 5
    assert report.missing_fields["zipcode"] == 1 and report.missing_fields["media_url"] == 1
    assert report.missing_fields["lat"] == 3  # null, empty, left out (0/0 and 95 are values, just unusable)
    assert report.extra_fields == ("extra_attribute",)
    assert any("5 without usable coordinates" in line for line in report.lines())


def test_dates_are_parsed_with_their_time_zone(json_file):
    gdf = read_open311(json_file)
    assert str(gdf["requested_datetime"].dtype) == "datetime64[ns, UTC]"
    assert gdf["requested_datetime"].iloc[0] == pd.Timestamp("2025-01-10T18:08:00Z")
    assert gdf["updated_datetime"].iloc[0] == pd.Timestamp("2025-01-11T08:00:00Z")
    assert gdf["expected_datetime"].iloc[0] == pd.Timestamp("2025-07-01T09:00:00Z")  # summer time, +03:00
    # 00:30 on 1 February in Helsinki is still January in UTC: the month is the local one
    assert gdf["requested_datetime"].iloc[2] == pd.Timestamp("2025-01-31T22:30:00Z")
    assert gdf["requested_month"].iloc[2] == "2025-02" and gdf["requested_month"].iloc[0] == "2025-01"
    assert gdf.attrs["open311"]["dates_without_time_zone"] == 0


def test_dates_without_time_zone_and_unreadable_are_counted():
    values = pd.Series(["2025-03-30T03:30:00", "2025-10-26T03:30:00", "2025-01-01T12:00:00Z", "not a date", None])
    parsed, naive, bad = parse_datetimes(values, naive_time_zone="Europe/Helsinki")
    assert naive == 2 and bad == 1
    # 03:30 on the spring-forward night does not exist in Helsinki: moved forward to 04:00 (+03:00)
    assert parsed.iloc[0] == pd.Timestamp("2025-03-30T01:00:00Z")
    # 03:30 on the fall-back night happens twice: the first (summer time, +03:00)
    assert parsed.iloc[1] == pd.Timestamp("2025-10-26T00:30:00Z")
    assert parsed.iloc[2] == pd.Timestamp("2025-01-01T12:00:00Z") and pd.isna(parsed.iloc[3])
    with pytest.raises(CityDeskError, match="time zone"):
        parse_datetimes(pd.Series(["2025-01-01T00:00"]), naive_time_zone="Mars/Olympus")


def test_xml_gives_the_same_layer_as_json(json_file, xml_file):
    a, b = read_open311(json_file), read_open311(xml_file)
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert a.geometry.equals(b.geometry)
    assert a.attrs["open311"]["without_coordinates"] == b.attrs["open311"]["without_coordinates"] == 5


def test_untrusted_descriptions_are_kept_exactly(json_file, xml_file):
    for path in (json_file, xml_file):
        gdf = read_open311(path)
        assert gdf["description"].iloc[1] == SCRIPT and gdf["description"].iloc[2] == IMG


def test_markup_inside_xml_elements_is_text(tmp_path):
    path = tmp_path / "nested.xml"
    path.write_text("<service_requests><request><service_request_id>1</service_request_id>"
                    "<description>before <b>bold</b> after &lt;script&gt;</description>"
                    "<lat>60.17</lat><long>24.94</long><media_url/></request></service_requests>")
    gdf = read_open311(path)
    assert gdf["description"].iloc[0] == "before bold after <script>"
    assert pd.isna(gdf["media_url"].iloc[0])


def test_entity_declarations_are_refused(tmp_path):
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              "<service_requests><request><description>&lol2;</description></request></service_requests>")
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
           "<service_requests><request><description>&x;</description></request></service_requests>")
    for name, text in (("laughs.xml", laughs), ("xxe.xml", xxe)):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(CityDeskError, match="declares entities") as err:
            read_open311(path)
        assert name in str(err.value) and "password" not in str(err.value)


def test_error_answers_and_broken_files_read_as_messages(tmp_path):
    errors = tmp_path / "error.json"
    errors.write_text('[{"code": 403, "description": "Invalid api_key"}]')
    with pytest.raises(CityDeskError, match="Invalid api_key"):
        read_open311(errors)
    xml_errors = tmp_path / "error.xml"
    xml_errors.write_text("<errors><error><code>404</code><description>No such service</description></error></errors>")
    with pytest.raises(CityDeskError, match="No such service"):
        read_open311(xml_errors)
    cut = tmp_path / "cut.json"
    cut.write_text('[{"service_request_id": "1", "description": "abc')
    with pytest.raises(CityDeskError, match="not valid JSON"):
        read_open311(cut)
    cut_xml = tmp_path / "cut.xml"
    cut_xml.write_text("<service_requests><request><service_request_id>1</service_request_id>")
    with pytest.raises(CityDeskError, match="not valid XML"):
        read_open311(cut_xml)


def test_an_empty_answer_is_an_empty_layer(tmp_path):
    path = tmp_path / "none.json"
    path.write_text("[]")
    gdf = read_open311(path)
    assert len(gdf) == 0 and "description" in gdf.columns and gdf.attrs["open311"]["requests"] == 0


def test_sniffing_opens_georeport_files_anywhere_as_reports(json_file, xml_file, tmp_path):
    assert sniff_kind(json_file) == sniff_kind(xml_file) == "open311"
    for path in (json_file, xml_file):
        [layer] = read_layers(path)
        assert layer.role == "reports" and layer.name == "requests" and len(layer) == 9
    [info] = list_layers(xml_file)
    assert info.kind == "Open311 GeoReport v2" and info.count == 9 and info.geometry_type == "Point"
    geojson = tmp_path / "parks.json"
    geojson.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                       '{"service_name": "x"}, "geometry": {"type": "Point", "coordinates": [24.9, 60.1]}}]}')
    assert not is_georeport(geojson) and sniff_kind(geojson) == "geojson"
    other = tmp_path / "other.xml"
    other.write_text("<?xml version='1.0'?><catalog><book/></catalog>")
    with pytest.raises(CityDeskError, match="not an Open311") as err:
        read_layers(other)
    assert "other.xml" in str(err.value)


def test_command_line_info_and_run_take_a_georeport_file(json_file, tmp_path, capsys):
    from app.cli import main

    assert main(["info", str(json_file)]) == 0
    out = capsys.readouterr().out
    assert "Open311 GeoReport v2" in out and "features: 9" in out
    assert "note:     9 requests, 5 without coordinates (kept, not on the map)" in out  # what the reader found
    result = tmp_path / "hot.gpkg"
    assert main(["run", "report-hotspots", "--layer", f"reports={json_file}", "--param", "bandwidth_m=200",
                 "--out", str(result)]) == 0
    out = capsys.readouterr().out
    assert "reports_without_coordinates: 5" in out and result.exists()


def test_extra_fields_named_like_the_readers_own_columns_are_renamed():
    from layers.open311 import requests_frame

    gdf = requests_frame([{"service_request_id": "1", "geometry": "POINT (0 0)", "requested_month": "x",
                           "lat": 60.17, "long": 24.94}])
    assert gdf["extra_geometry"].iloc[0] == "POINT (0 0)" and gdf["extra_requested_month"].iloc[0] == "x"
    assert gdf.geometry.iloc[0].x == 24.94 and gdf.attrs["open311"]["extra_fields"] == ("geometry", "requested_month")
