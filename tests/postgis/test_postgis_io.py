"""Reading and writing PostGIS tables against a real server (the ``pg`` fixture)."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, box

from layers.errors import CityDeskError
from layers.feedback import Cancelled
from layers.postgis import PasswordRequired, list_tables, read_postgis_layer, remember_password, write_postgis_layers
from layers.readers import list_layers, read_layer, read_layers
from layers.writers import write_layers
from tests.postgis.pg_server import PASSWORD

SHAPES = {
    "Point": [Point(385000, 6672000), Point(385100, 6672100), Point(385200, 6672050)],
    "LineString": [LineString([(0, 0), (10, 5)]), LineString([(1, 1), (2, 2), (3, 1)]), LineString([(5, 5), (6, 9)])],
    "Polygon": [box(0, 0, 10, 10), Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 1)]]),
                box(20, 20, 25, 30)],
    "MultiPoint": [MultiPoint([(0, 0), (1, 1)]), MultiPoint([(5, 5)]), MultiPoint([(2, 3), (4, 5), (6, 7)])],
    "MultiLineString": [MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
                        MultiLineString([[(5, 5), (6, 6)]]), MultiLineString([[(0, 9), (9, 0)]])],
    "MultiPolygon": [MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)]), MultiPolygon([box(5, 5, 6, 6)]),
                     MultiPolygon([box(0, 0, 9, 9)])],
}


def _attributes() -> dict:
    """One column of every attribute type, each with a null where the type allows one."""
    return {
        "count": np.array([1, 2, 3], dtype="int64"),
        "small": np.array([1, -2, 3], dtype="int32"),
        "maybe": pd.array([7, None, 9], dtype="Int64"),
        "share": [0.5, np.nan, 1.25],
        "name": ["Kallio", None, "Töölö ä \"quoted\" \t tab"],
        "ok": [True, False, True],
        "maybe_ok": pd.array([True, None, False], dtype="boolean"),
        "day": [dt.date(2024, 5, 1), None, dt.date(1999, 12, 31)],
        "seen": pd.to_datetime(["2024-05-01 10:30:00", None, "2024-05-02 00:00:01"]),
        "seen_utc": pd.to_datetime(["2024-05-01 10:30:00", None, "2024-05-02 00:00:01"]).tz_localize("UTC"),
    }


@pytest.mark.parametrize("kind", list(SHAPES))
def test_round_trip_of_every_geometry_type_and_attribute_type(pg, kind):
    gdf = gpd.GeoDataFrame(_attributes(), geometry=SHAPES[kind], crs="EPSG:3067")
    table = f"rt_{kind.lower()}"
    written = write_layers({table: gdf}, pg.url(f"public.{table}"))
    assert written == pg.url(f"public.{table}")
    got = read_layer(pg.url(table))
    assert got.crs.to_epsg() == 3067
    assert list(got.columns[:-1]) == list(gdf.columns[:-1])
    assert shapely.equals_exact(got.geometry.values, gdf.geometry.values, tolerance=0).all()
    assert set(got.geometry.geom_type) == {kind}
    assert got["count"].dtype == "int64" and got["count"].tolist() == [1, 2, 3]
    assert got["small"].dtype == "int32" and got["small"].tolist() == [1, -2, 3]
    assert str(got["maybe"].dtype) == "Int64" and got["maybe"].isna().tolist() == [False, True, False]
    assert got["share"].iloc[0] == 0.5 and np.isnan(got["share"].iloc[1])
    assert got["name"].iloc[2] == "Töölö ä \"quoted\" \t tab" and pd.isna(got["name"].iloc[1])
    assert got["ok"].dtype == bool and got["ok"].tolist() == [True, False, True]
    assert str(got["maybe_ok"].dtype) == "boolean" and pd.isna(got["maybe_ok"].iloc[1])
    assert got["day"].tolist() == [dt.date(2024, 5, 1), None, dt.date(1999, 12, 31)]
    assert got["seen"].iloc[0] == pd.Timestamp("2024-05-01 10:30:00") and pd.isna(got["seen"].iloc[1])
    assert str(got["seen_utc"].dt.tz) == "UTC" and got["seen_utc"].iloc[2] == gdf["seen_utc"].iloc[2]
    with pg.connect() as conn:
        gtype, srid = conn.execute("SELECT type, srid FROM geometry_columns WHERE f_table_name = %s",
                                   (table,)).fetchone()
        indexes = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", (table,))]
        types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = %s", (table,)).fetchall())
    assert gtype == kind.upper() and srid == 3067
    assert any("USING gist (geom)" in i for i in indexes) and any("(fid)" in i for i in indexes)
    assert types["day"] == "date" and types["seen_utc"] == "timestamp with time zone" and types["small"] == "integer"


def test_single_and_multi_parts_become_multi_and_nulls_stay_null(pg):
    gdf = gpd.GeoDataFrame({"n": [1, 2, 3]}, geometry=[box(0, 0, 1, 1), MultiPolygon([box(2, 2, 3, 3)]), None],
                           crs="EPSG:3067")
    write_layers({"mixed": gdf}, pg.url("mixed"))
    got = read_layer(pg.url("mixed"))
    assert got.geometry.geom_type.tolist()[:2] == ["MultiPolygon", "MultiPolygon"] and got.geometry.iloc[2] is None
    assert got.geometry.iloc[0].equals(box(0, 0, 1, 1))


def test_existing_table_needs_replace_and_replace_swaps_it(pg):
    url = pg.url("public.swap")
    old = gpd.GeoDataFrame({"v": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs="EPSG:3067")
    write_layers({"swap": old}, url)
    with pytest.raises(CityDeskError, match="already exists.*--replace"):
        write_layers({"swap": old.iloc[:1]}, url)
    assert len(read_layer(url)) == 2
    new = gpd.GeoDataFrame({"w": ["a"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    write_layers({"swap": new}, url, replace=True)
    got = read_layer(url)
    assert list(got.columns) == ["w", "geometry"] and got.crs.to_epsg() == 4326
    assert not [t for t in list_tables_named(pg) if t.startswith("citydesk_tmp")]


def list_tables_named(pg) -> list[str]:
    with pg.connect() as conn:
        return [r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relkind = 'r'")]


class _CancelAfter:
    def __init__(self, calls: int):
        self.calls = calls

    def progress(self, fraction, message=""):
        self.calls -= 1

    def check_cancelled(self):
        if self.calls <= 0:
            raise Cancelled()


def test_a_write_that_fails_midway_keeps_the_old_table(pg):
    url = pg.url("keep")
    old = gpd.GeoDataFrame({"v": [1, 2, 3]}, geometry=[Point(i, i) for i in range(3)], crs="EPSG:3067")
    write_layers({"keep": old}, url)
    big = gpd.GeoDataFrame({"v": np.arange(50_000)}, geometry=shapely.points(np.arange(50_000), 0), crs="EPSG:3067")
    with pytest.raises(Cancelled):  # cancelled after the first 20,000 rows went into the new table
        write_postgis_layers({"keep": big}, url, replace=True, feedback=_CancelAfter(2))
    got = read_layer(url)
    assert got["v"].tolist() == [1, 2, 3]
    assert not [t for t in list_tables_named(pg) if t.startswith("citydesk_tmp")]
    failing = big.assign(v=pd.Series(_ints_then_text(), dtype=object))
    with pytest.raises(CityDeskError, match="writing the table failed"):  # a failing row late in the data
        write_layers({"keep": failing}, url, replace=True)
    assert read_layer(url)["v"].tolist() == [1, 2, 3]


def _ints_then_text() -> list:
    """Whole numbers (a bigint column) with one, late, too large for bigint: COPY fails on that row."""
    values: list = list(range(50_000))
    values[40_000] = 2**70
    return values


def test_injection_name_is_just_a_name(pg):
    keep = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(0, 0)], crs="EPSG:3067")
    write_layers({"y": keep}, pg.url("y"))
    evil = 'x"; DROP TABLE y; --'
    with pytest.raises(CityDeskError, match="there is no table"):
        read_layer(pg.url(evil))
    write_layers({"evil": keep}, pg.url(f"public.{evil}"))  # a table with that odd name, nothing else
    assert read_layer(pg.url(evil))["v"].tolist() == [1]
    assert read_layer(pg.url("y"))["v"].tolist() == [1]
    assert evil in list_tables_named(pg) and "y" in list_tables_named(pg)


def test_missing_and_wrong_password_give_clear_messages(pg, no_password, monkeypatch, tmp_path):
    points = gpd.GeoDataFrame({"v": [1, 2, 3]}, geometry=SHAPES["Point"], crs="EPSG:3067")
    write_layers({"pw_points": points}, pg.url("pw_points"), replace=True)
    url = pg.url("public.pw_points", user="pw_user")
    with pg.connect() as conn:
        conn.execute("REVOKE SELECT ON pw_points FROM pw_user")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with pytest.raises(CityDeskError, match="user pw_user may not read the table 'public.pw_points'"):
        read_layer(url)
    monkeypatch.delenv("PGPASSWORD")
    with pg.connect() as conn:
        conn.execute("GRANT SELECT ON pw_points TO pw_user")
    with pytest.raises(PasswordRequired) as err:
        read_layer(url)
    assert "asks for a password for user pw_user" in err.value.message and "PGPASSWORD" in err.value.message
    assert not err.value.wrong
    monkeypatch.setenv("PGPASSWORD", "wrong")
    with pytest.raises(PasswordRequired) as err:
        read_layer(url)
    assert err.value.wrong and "refused the password" in err.value.message and "wrong" not in err.value.message
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert len(read_layer(url)) == 3
    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg.port}:citydesk:pw_user:{PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert len(read_layer(url)) == 3
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    remember_password(read_postgis_url(url), PASSWORD)  # as typed in the window: memory only
    assert len(read_layer(url)) == 3


def read_postgis_url(url):
    from layers.postgis import parse_url

    return parse_url(url)


def test_clear_messages_for_what_goes_wrong(pg, grid):
    with pytest.raises(CityDeskError, match="cannot connect to the PostgreSQL server at 127.0.0.1:1 "
                                            r"\(connection refused\)"):
        read_layer("postgresql://citydesk@127.0.0.1:1/citydesk?table=x")
    with pytest.raises(CityDeskError, match="has no PostGIS extension.*CREATE EXTENSION postgis"):
        read_layer(pg.url("x", dbname="plain"))
    with pytest.raises(CityDeskError, match="there is no database 'nowhere'"):
        read_layer(pg.url("x", dbname="nowhere"))
    with pytest.raises(CityDeskError, match="there is no table 'public.nothing'.*Tables with geometry: .*grid"):
        read_layer(pg.url("nothing"))
    with pg.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS plain_table (a int)")
    with pytest.raises(CityDeskError, match="'public.plain_table' has no geometry column"):
        read_layer(pg.url("plain_table"))
    with pytest.raises(CityDeskError, match="holds a password") as err:
        read_layer(f"postgresql://citydesk:{PASSWORD}@127.0.0.1:{pg.port}/citydesk?table=x")
    assert PASSWORD not in err.value.message


@pytest.fixture
def grid(pg):
    """A hundred points 100 m apart along a line, in table ``grid``."""
    pts = gpd.GeoDataFrame({"i": range(100)}, geometry=shapely.points(np.arange(100) * 100.0 + 385000, 6672000),
                           crs="EPSG:3067")
    write_layers({"grid": pts}, pg.url("grid"), replace=True)
    return pts


def test_bbox_reads_only_features_in_the_extent(pg, grid):
    got = read_postgis_layer(pg.url("grid"), bbox=(385000, 6671000, 385950, 6673000))
    assert got["i"].tolist() == list(range(10))
    lonlat = gpd.GeoSeries([box(385000, 6671000, 385950, 6673000)], crs=3067).to_crs(4326).total_bounds
    assert read_postgis_layer(pg.url("grid"), bbox=tuple(lonlat), bbox_crs="EPSG:4326")["i"].tolist()[:10] == \
        list(range(10))


def test_sql_query_source_and_database_listing(pg, grid):
    gdf = read_layer(pg.url() + "?sql=SELECT i * 2 AS twice, ST_Buffer(geom, 1) AS g FROM grid WHERE i < 3")
    assert gdf["twice"].tolist() == [0, 2, 4] and gdf.crs.to_epsg() == 3067
    assert set(gdf.geometry.geom_type) == {"Polygon"}
    with pytest.raises(CityDeskError, match="the query failed"):
        read_layer(pg.url() + "?sql=SELECT * FROM grid; DROP TABLE grid")
    with pg.connect() as conn:
        conn.execute("CREATE SEQUENCE IF NOT EXISTS counter")
    with pytest.raises(CityDeskError, match="read-only transaction"):  # a query that would write is refused
        read_layer(pg.url() + "?sql=SELECT nextval('counter') AS n, geom FROM grid")
    assert len(read_layer(pg.url("grid"))) == 100
    names = {t.table for t in list_tables(read_postgis_url(pg.url()))}
    assert "grid" in names
    infos = {i.name: i for i in list_layers(pg.url())}
    assert infos["grid"].count == 100 and infos["grid"].crs == "EPSG:3067" and infos["grid"].kind == "PostGIS"
    assert infos["grid"].bounds == (385000.0, 6672000.0, 394900.0, 6672000.0)
    layers = read_layers(pg.url("grid"))
    assert [lay.name for lay in layers] == ["grid"] and layers[0].source.path == pg.url("public.grid")


def test_copy_escapes_text_and_keeps_special_floats(pg):
    """The bulk COPY text: backslashes, tabs, newlines and \\N-lookalikes stay text; ±inf stay floats."""
    text = ["back\\slash \\N", "line\nbreak\r\ttab", None, "\\"]
    gdf = gpd.GeoDataFrame({"t": text, "x": [np.inf, -np.inf, np.nan, 1 / 3]},
                           geometry=[Point(i, i) for i in range(3)] + [None], crs="EPSG:3067")
    write_layers({"esc": gdf}, pg.url("public.copy_escapes"))
    got = read_layer(pg.url("copy_escapes"))
    assert got["t"].tolist()[:2] == text[:2] and pd.isna(got["t"][2]) and got["t"][3] == "\\"
    assert got["x"].tolist()[:2] == [np.inf, -np.inf] and pd.isna(got["x"][2]) and got["x"][3] == 1 / 3
    assert got.geometry.isna().tolist() == [False, False, False, True]
