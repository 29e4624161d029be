"""Tests of the OpenStreetMap import (layers/osm.py, layers/osm_tags.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.errors import CityDeskError
from layers.feedback import Cancelled
from layers.osm import LAYERS, import_osm, split_at_junctions
from layers.osm_tags import parse_height_m, parse_levels, parse_other_tags, tag_table

ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "sample_data" / "raw" / "Helsinki.osm.pbf"


# ---------------------------------------------------------------- helpers

def interior_shared_vertices(lines) -> int:
    """How many interior vertices of ``lines`` also occur elsewhere (0 for a noded network)."""
    coords, owner = shapely.get_coordinates(np.asarray(lines), return_index=True)
    _, inverse, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    first = np.r_[True, owner[1:] != owner[:-1]]
    last = np.r_[owner[1:] != owner[:-1], True]
    return int(((counts[inverse.ravel()] > 1) & ~first & ~last).sum())


def osm_xml(nodes: dict[int, tuple[float, float, dict]], ways: dict[int, tuple[list[int], dict]]) -> str:
    """A small OSM XML document; nodes are ``id: (lon, lat, tags)``, ways ``id: (node ids, tags)``."""
    def tags(d):
        return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in d.items())
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="citydesk-test">']
    out += [f'<node id="{i}" lat="{lat}" lon="{lon}">{tags(t)}</node>' for i, (lon, lat, t) in nodes.items()]
    out += [f'<way id="{i}">{"".join(f"<nd ref={chr(34)}{n}{chr(34)}/>" for n in nds)}{tags(t)}</way>'
            for i, (nds, t) in ways.items()]
    return "\n".join(out + ["</osm>"])


class Recorder:
    """Feedback that records progress and cancels on the ``cancel_at``-th check (never if None)."""

    def __init__(self, cancel_at: int | None = None):
        self.cancel_at, self.checks, self.values = cancel_at, 0, []

    def progress(self, fraction, message=""):
        self.values.append(fraction)

    def check_cancelled(self):
        self.checks += 1
        if self.cancel_at is not None and self.checks >= self.cancel_at:
            raise Cancelled()


# ---------------------------------------------------------------- the hand-made town

PARK = (25.010, 60.002, 25.012, 60.003)  # lon/lat box


def _town() -> str:
    nodes = {
        # two footways crossing at node 5
        1: (25.000, 60.000, {}), 2: (25.000, 60.001, {}), 3: (24.999, 60.0005, {}), 4: (25.001, 60.0005, {}),
        5: (25.000, 60.0005, {}),
        # foot=no footway, motorway crossing the foot=yes service road at its node 31, private service road
        20: (25.003, 60.000, {}), 21: (25.003, 60.001, {}),
        30: (25.004, 60.000, {}), 31: (25.004, 60.0005, {}), 32: (25.004, 60.001, {}),
        40: (25.0035, 60.0005, {}), 41: (25.0045, 60.0005, {}),
        50: (25.006, 60.000, {}), 51: (25.006, 60.001, {}),
        6: (25.0002, 60.0002, {"amenity": "bench", "backrest": "yes"}),
        # pharmacy drawn as a building
        60: (25.007, 60.002, {}), 61: (25.0072, 60.002, {}),
        62: (25.0072, 60.0021, {}), 63: (25.007, 60.0021, {}),
        # park
        70: (PARK[0], PARK[1], {}), 71: (PARK[2], PARK[1], {}),
        72: (PARK[2], PARK[3], {}), 73: (PARK[0], PARK[3], {}),
        # apartment building
        80: (25.008, 60.004, {}), 81: (25.0082, 60.004, {}),
        82: (25.0082, 60.0041, {}), 83: (25.008, 60.0041, {}),
        # a bus stop with its stop position 10 m away (one stop)
        90: (25.002, 60.002, {"highway": "bus_stop", "name": "Testi", "shelter": "yes"}),
        91: (25.00218, 60.002, {"public_transport": "stop_position", "bus": "yes", "name": "Testi"}),
    }
    ways = {
        10: ([1, 5, 2], {"highway": "footway"}),
        11: ([3, 5, 4], {"highway": "footway", "name": "Poikkipolku"}),
        12: ([20, 21], {"highway": "footway", "foot": "no"}),
        13: ([40, 31, 41], {"highway": "motorway"}),
        14: ([50, 51], {"highway": "service", "access": "private"}),
        15: ([30, 31, 32], {"highway": "service", "access": "private", "foot": "yes"}),
        16: ([60, 61, 62, 63, 60], {"amenity": "pharmacy", "building": "retail", "name": "Apteekki"}),
        17: ([70, 71, 72, 73, 70], {"leisure": "park", "name": "Puisto"}),
        18: ([80, 81, 82, 83, 80], {"building": "apartments", "building:levels": "3", "height": "12 m",
                                    "addr:street": "Testikatu", "addr:housenumber": "5"}),
    }
    return osm_xml(nodes, ways)


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("osm") / "town.osm"
    path.write_text(_town(), encoding="utf-8")
    return import_osm(path)


def test_town_streets_are_split_and_filtered(town):
    streets = town["streets"]
    assert len(streets) == 5
    assert sorted(streets["highway"]) == ["footway"] * 4 + ["service"]
    assert sorted(streets["osm_id"]) == ["10", "10", "11", "11", "15"]
    assert interior_shared_vertices(streets.geometry) == 0
    # the four footway pieces all end at the shared node 5
    footways = streets.geometry[streets["highway"] == "footway"].to_numpy()
    ends = shapely.get_coordinates(shapely.boundary(footways))
    assert (np.all(np.isclose(ends, [25.0, 60.0005], rtol=0, atol=1e-9), axis=1)).sum() == 4
    # each footway piece is about 55.7 m long (0.0005 deg of latitude) or 55.8 m (0.001 deg lon at 60 N)
    assert streets["length_m"].between(50, 60).sum() == 4
    assert streets.loc[streets["highway"] == "service", "length_m"].iloc[0] == pytest.approx(111.6, rel=0.01)


def test_town_points_and_areas(town):
    assert set(town) == set(LAYERS)
    assert len(town["benches"]) == 1 and town["benches"]["backrest"].iloc[0] == "yes"
    pharmacy = town["pharmacies"]
    assert len(pharmacy) == 1 and pharmacy["name"].iloc[0] == "Apteekki"
    assert pharmacy.geometry.iloc[0].geom_type == "Point"
    assert shapely.box(25.007, 60.002, 25.0072, 60.0021).contains(pharmacy.geometry.iloc[0])
    stops = town["transit_stops"]
    assert len(stops) == 1
    assert stops.iloc[0][["name", "mode", "shelter"]].tolist() == ["Testi", "bus", "yes"]
    for name in ("waste_bins", "toilets", "groceries", "healthcare"):
        assert len(town[name]) == 0


def test_town_buildings(town):
    b = town["buildings"].set_index("osm_id")
    assert sorted(b.index) == ["16", "18"]
    assert b.loc["18", "levels"] == 3.0 and b.loc["18", "height"] == 12.0
    assert b.loc["18", "use"] == "residential" and b.loc["18", "address"] == "Testikatu 5"
    assert b.loc["16", "use"] == "retail" and math.isnan(b.loc["16", "levels"])
    assert pd.isna(b.loc["16", "address"])


def test_town_park_area(town):
    parks = town["green_spaces"]
    assert len(parks) == 1 and parks["kind"].iloc[0] == "park" and parks["name"].iloc[0] == "Puisto"
    # area of the lon/lat box on the GRS80 ellipsoid: meridian radius M and prime vertical radius N
    a, e2 = 6378137.0, 0.00669438002290
    lat = math.radians((PARK[1] + PARK[3]) / 2)
    w = 1 - e2 * math.sin(lat) ** 2
    m, n = a * (1 - e2) / w**1.5, a / math.sqrt(w)
    expected = math.radians(PARK[3] - PARK[1]) * m * math.radians(PARK[2] - PARK[0]) * n * math.cos(lat)
    assert parks["area_m2"].iloc[0] == pytest.approx(expected, rel=0.01)


def test_layers_have_schema_crs_and_index(town):
    for name, (columns, geometry_type) in LAYERS.items():
        layer = town[name]
        assert list(layer.columns) == [*columns, "geometry"], name
        assert layer.crs.to_epsg() == 4326, name
        assert isinstance(layer.index, pd.RangeIndex) and layer.index.start == 0, name
        assert layer.attrs["geometry_type"] == geometry_type
        assert set(layer.geometry.geom_type) <= {geometry_type}, name
        if len(layer):
            assert layer["osm_id"].map(type).eq(str).all(), name


def test_area_poi_holding_same_node_is_not_doubled(tmp_path):
    nodes = {1: (25.0, 60.0, {}), 2: (25.001, 60.0, {}), 3: (25.001, 60.001, {}), 4: (25.0, 60.001, {}),
             5: (25.0005, 60.0005, {"amenity": "toilets", "fee": "no"})}
    ways = {10: ([1, 2, 3, 4, 1], {"amenity": "toilets", "building": "yes"})}
    path = tmp_path / "osm_toilets.osm"
    path.write_text(osm_xml(nodes, ways), encoding="utf-8")
    toilets = import_osm(path)["toilets"]
    assert toilets["osm_id"].tolist() == ["5"] and toilets["fee"].tolist() == ["no"]


def test_split_at_junctions_keeps_a_loop_whole():
    loop = shapely.LineString([(0, 0), (1, 0), (1, 1), (0, 0)])
    tee = [shapely.LineString([(0, 0), (2, 0), (4, 0)]), shapely.LineString([(2, 0), (2, 2)])]
    pieces, source = split_at_junctions(np.array([loop]))
    assert len(pieces) == 1
    pieces, source = split_at_junctions(np.array(tee))
    assert len(pieces) == 3 and source.tolist() == [0, 0, 1]
    assert shapely.length(pieces).sum() == pytest.approx(6.0)


# ---------------------------------------------------------------- tags

@pytest.mark.parametrize("text, expected", [
    ('"amenity"=>"bench","backrest"=>"yes"', {"amenity": "bench", "backrest": "yes"}),
    (r'"note"=>"say \"hi\", a=>b","x"=>"1"', {"note": 'say "hi", a=>b', "x": "1"}),
    (r'"path"=>"C:\\dir\\","b"=>"2"', {"path": "C:\\dir\\", "b": "2"}),
    ('"addr:street"=>"Töölönkatu","empty"=>""', {"addr:street": "Töölönkatu", "empty": ""}),
    ('"inscription"=>"line 1\nline 2"', {"inscription": "line 1\nline 2"}),
    (r'"a\"b"=>"=>,\"=>\""', {'a"b': '=>,"=>"'}),
    ("", {}), (None, {}), (float("nan"), {}),
])
def test_parse_other_tags(text, expected):
    assert parse_other_tags(text) == expected


def test_tags_survive_gdal_escaping(tmp_path):
    """A value with quotes, commas, => and backslashes comes back from GDAL's other_tags intact."""
    tricky = 'say "hi", a=>b \\ end\\'
    xml_value = tricky.replace("&", "&amp;").replace('"', "&quot;").replace(">", "&gt;")
    path = tmp_path / "osm_tricky.osm"
    nodes = {1: (25.0, 60.0, {"amenity": "bench", "description": xml_value})}
    path.write_text(osm_xml(nodes, {}), encoding="utf-8")
    points = pyogrio.read_dataframe(path, layer="points")
    assert parse_other_tags(points["other_tags"].iloc[0]) == {"amenity": "bench", "description": tricky}
    table = tag_table(points, ("amenity", "description", "name"))
    assert table.iloc[0].tolist() == ["bench", tricky, None]  # tag_table keeps None for untagged


def test_parse_height_and_levels():
    heights = parse_height_m(pd.Series(["12", "12 m", "12,5", "12.5m", "40 ft", "tall", None, "3;4"]))
    assert heights[:5].tolist() == pytest.approx([12, 12, 12.5, 12.5, 12.192])
    assert heights[5:].isna().all()
    levels = parse_levels(pd.Series(["3", "2.5", "2,5", "many", None]))
    assert levels[:3].tolist() == [3.0, 2.5, 2.5] and levels[3:].isna().all()


# ---------------------------------------------------------------- errors, cancel, progress

def test_missing_file(tmp_path):
    with pytest.raises(CityDeskError, match="nowhere.osm.pbf.*does not exist"):
        import_osm(tmp_path / "nowhere.osm.pbf")


@pytest.mark.parametrize("content", [b"", b"hello, this is just text\n"])
def test_not_an_osm_file(tmp_path, content):
    path = tmp_path / "x.osm.pbf"
    path.write_bytes(content)
    with pytest.raises(CityDeskError, match="x.osm.pbf.*not an OpenStreetMap PBF/XML file") as info:
        import_osm(path)
    assert "osmium extract" in str(info.value)


def test_damaged_or_folder(tmp_path):
    folder = tmp_path / "folder.osm.pbf"
    folder.mkdir()
    with pytest.raises(CityDeskError, match="folder.osm.pbf.*folder, not an OpenStreetMap file"):
        import_osm(folder)
    if HELSINKI.exists():
        cut = tmp_path / "cut.osm.pbf"
        cut.write_bytes(HELSINKI.read_bytes()[:300_000])
        with pytest.raises(CityDeskError, match="cut.osm.pbf.*damaged or cut short"):
            import_osm(cut)


def test_osm_file_without_data(tmp_path):
    path = tmp_path / "nothing.osm"
    path.write_text(osm_xml({}, {}), encoding="utf-8")
    with pytest.raises(CityDeskError, match="nothing.osm.*no map data"):
        import_osm(path)


@pytest.mark.parametrize("cancel_at", [1, 2, 5, 9, 16])
def test_cancel(tmp_path, cancel_at):
    path = tmp_path / "town.osm"
    path.write_text(_town(), encoding="utf-8")
    feedback = Recorder(cancel_at)
    with pytest.raises(Cancelled):
        import_osm(path, feedback=feedback)
    assert feedback.checks == cancel_at


def test_progress_only_goes_up(tmp_path):
    path = tmp_path / "town.osm"
    path.write_text(_town(), encoding="utf-8")
    feedback = Recorder()
    import_osm(path, feedback=feedback)
    assert feedback.values == sorted(feedback.values)
    assert feedback.values[0] == 0.0 and feedback.values[-1] == pytest.approx(1.0)
    assert feedback.checks >= 10


# ---------------------------------------------------------------- the Helsinki sample city

@pytest.fixture(scope="module")
def helsinki() -> dict:
    assert HELSINKI.exists(), f"{HELSINKI} is part of the repository"
    return import_osm(HELSINKI)


def test_helsinki_counts(helsinki):
    n = {name: len(layer) for name, layer in helsinki.items()}
    assert 470 <= n["buildings"] <= 500
    stops = helsinki["transit_stops"]["mode"].value_counts()
    assert 85 <= stops.get("bus", 0) + stops.get("tram", 0) - 36 <= 100  # 92 bus_stop nodes, ~40 tram stops
    assert 120 <= n["transit_stops"] <= 145
    kinds = helsinki["waste_bins"]["kind"].value_counts().to_dict()
    assert kinds == {"waste_basket": 36, "waste_disposal": 14, "recycling": 2}
    assert 155 <= n["benches"] <= 170
    assert 17 <= n["toilets"] <= 18
    assert 5 <= n["pharmacies"] <= 8
    assert n["groceries"] >= 6 and (helsinki["groceries"]["shop"] == "supermarket").sum() >= 6
    assert (helsinki["green_spaces"]["kind"] == "park").sum() >= 10
    assert n["healthcare"] >= 5


def test_helsinki_streets_form_a_network(helsinki):
    streets = helsinki["streets"]
    assert 60 <= streets["length_m"].sum() / 1000 <= 110
    assert interior_shared_vertices(streets.geometry) == 0
    excluded = ["motorway", "motorway_link", "trunk", "construction", "proposed", "trail"]
    assert not streets["highway"].isin(excluded).any()
    assert (streets.geometry.geom_type == "LineString").all()
    assert streets["length_m"].gt(0).all()


def test_helsinki_tag_table_matches_row_by_row_parsing():
    assert HELSINKI.exists(), f"{HELSINKI} is part of the repository"
    for layer in ("points", "lines"):
        frame = pyogrio.read_dataframe(HELSINKI, layer=layer)
        keys = ("name", "highway", "amenity", "shelter", "wheelchair", "addr:street", "foot", "access")
        table = tag_table(frame, keys)
        for i, row in frame.iterrows():
            tags = parse_other_tags(row["other_tags"])
            tags.update({k: row[k] for k in keys if k in frame.columns and not pd.isna(row[k])})
            got = {k: v for k, v in table.loc[i].items() if v is not None}
            assert got == {k: tags[k] for k in keys if k in tags}


def test_helsinki_layers(helsinki):
    for name, layer in helsinki.items():
        assert layer.crs.to_epsg() == 4326, name
        assert not layer.geometry.is_empty.any() and layer.geometry.is_valid.all(), name
        assert isinstance(layer.index, pd.RangeIndex), name
    assert helsinki["green_spaces"]["area_m2"].gt(0).all()
    buildings = helsinki["buildings"]
    assert buildings["levels"].notna().sum() >= 150 and buildings["height"].notna().sum() >= 10
    assert (buildings["use"] == "unknown").sum() > len(buildings) / 2  # most are building=yes


def test_bridges_tunnels_and_layers_are_kept_and_not_noded(tmp_path):
    from analysis.network import build_network

    nodes = {1: (25.000, 60.000, {}), 2: (25.002, 60.000, {}),  # the street, west to east
             3: (25.001, 59.9995, {}), 4: (25.001, 60.0005, {}),  # a footbridge over it, south to north
             5: (25.0015, 59.9995, {}), 6: (25.0015, 60.0005, {}),  # an underpass, south to north
             7: (25.0005, 59.9995, {}), 8: (25.0005, 60.0005, {})}  # a zebra crossing at street level
    ways = {1: ([1, 2], {"highway": "residential", "name": "Katu"}),
            2: ([3, 4], {"highway": "footway", "bridge": "yes", "layer": "1"}),
            3: ([5, 6], {"highway": "footway", "tunnel": "yes", "layer": "-1"}),
            4: ([7, 8], {"highway": "footway"})}
    path = tmp_path / "levels.osm"
    path.write_text(osm_xml(nodes, ways), encoding="utf-8")
    streets = import_osm(path)["streets"]
    by_id = streets.set_index("osm_id")
    assert by_id.loc["2", "bridge"] == "yes" and by_id.loc["3", "tunnel"] == "yes"
    assert by_id.loc["2", "layer"] == 1.0 and by_id.loc["3", "layer"] == -1.0 and np.isnan(by_id.loc["1", "layer"])
    assert pd.isna(by_id.loc["1", "bridge"]) and pd.isna(by_id.loc["4", "tunnel"])
    net = build_network(streets.to_crs("EPSG:3067"))
    # only the crossing at street level becomes a junction
    assert net.report["crossings_noded"] == 1 and net.report["crossings_on_different_levels"] == 2
    assert net.report["components"] == 3
