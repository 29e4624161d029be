"""Point edits on GeoDataFrames (layers/edits.py): each edit and its inverse give back the same
frame: rows, order, attributes, dtypes, index and CRS."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import MultiPoint, Point

from layers import edits
from layers.errors import CityDeskError


def frame() -> gpd.GeoDataFrame:
    """Three bins with attributes of every common kind."""
    return gpd.GeoDataFrame(
        {"count": [3, 1, 2], "litres": [120.0, 240.0, np.nan], "name": pd.Series(["Aleksi", "Bulevardi", None]),
         "emptied": [True, False, True], "note": pd.Series(["a", None, 5], dtype=object),
         "since": pd.to_datetime(["2020-01-01", "2021-06-01", "2022-03-15"]),
         "kind": pd.Categorical(["waste", "recycling", "waste"])},
        geometry=[Point(0, 0), Point(10, 0), Point(20, 5)], crs="EPSG:3067")


def test_editable_keeps_values_and_makes_integer_columns_nullable():
    gdf = frame()
    gdf.index = [7, 8, 9]
    out = edits.editable(gdf)
    assert isinstance(out.index, pd.RangeIndex) and list(out.columns) == list(gdf.columns)
    assert str(out["count"].dtype) == "Int64" and str(out["emptied"].dtype) == "boolean"
    assert out["count"].tolist() == [3, 1, 2] and out.crs == gdf.crs
    assert list(gdf.index) == [7, 8, 9] and gdf["count"].dtype == np.int64  # the original is untouched


def test_add_point_appends_a_row_of_nulls_keeping_dtypes():
    gdf = edits.editable(frame())
    out = edits.add_point(gdf, 30.5, 40.25)
    assert len(out) == 4 and len(gdf) == 3  # a new frame; the old one unchanged
    assert (out.geometry.iloc[3].x, out.geometry.iloc[3].y) == (30.5, 40.25)
    assert out.iloc[3].drop("geometry").isna().all()
    assert (out.dtypes == gdf.dtypes).all() and out.crs == gdf.crs and list(out.index) == [0, 1, 2, 3]
    assert_geodataframe_equal(out.iloc[:3], gdf, check_index_type=False)


def test_add_then_delete_gives_back_the_same_frame():
    gdf = edits.editable(frame())
    added = edits.add_point(gdf, 1, 2)
    remaining, removed = edits.delete_rows(added, [3])
    assert_geodataframe_equal(remaining, gdf, check_index_type=True)
    assert len(removed) == 1 and removed.geometry.iloc[0] == Point(1, 2)


def test_add_point_to_an_empty_layer_and_to_a_multipoint_layer():
    empty = edits.editable(frame().iloc[:0])
    out = edits.add_point(empty, 5, 6)
    assert len(out) == 1 and out.geometry.iloc[0] == Point(5, 6) and list(out.index) == [0]
    multi = gpd.GeoDataFrame({"a": [1]}, geometry=[MultiPoint([(0, 0), (1, 1)])], crs="EPSG:3067")
    out = edits.add_point(edits.editable(multi), 5, 6)
    assert out.geometry.iloc[1].geom_type == "MultiPoint"


def test_delete_then_insert_restores_order_and_attributes():
    gdf = edits.add_point(edits.add_point(edits.editable(frame()), 1, 1), 2, 2)  # five rows
    remaining, removed = edits.delete_rows(gdf, [4, 0, 2])
    assert remaining["name"].iloc[0] == "Bulevardi" and pd.isna(remaining["name"].iloc[1])
    assert remaining.geometry.tolist() == [Point(10, 0), Point(1, 1)]
    back = edits.insert_rows(remaining, [0, 2, 4], removed)
    assert_geodataframe_equal(back, gdf, check_index_type=True)


def test_set_geometry_moves_one_point_and_back():
    gdf = edits.editable(frame())
    old = gdf.geometry.iloc[1]
    out = edits.set_geometry(gdf, 1, Point(11, 12))
    assert out.geometry.iloc[1] == Point(11, 12) and gdf.geometry.iloc[1] == old
    assert_geodataframe_equal(edits.set_geometry(out, 1, old), gdf, check_index_type=True)


def test_moved_point_and_multipoint():
    assert edits.moved(Point(1, 1), 5, 6) == Point(5, 6)
    shifted = edits.moved(MultiPoint([(0, 0), (2, 0)]), 3, 4, from_xy=(1, 1))
    assert shifted.equals(MultiPoint([(2, 3), (4, 3)]))


def test_positions_out_of_range_are_refused():
    gdf = edits.editable(frame())
    with pytest.raises(IndexError):
        edits.delete_rows(gdf, [3])
    with pytest.raises(IndexError):
        edits.set_geometry(gdf, -1, Point(0, 0))


def test_scenario_names():
    assert edits.scenario_name("Waste bins") == "Waste bins (scenario)"
    assert edits.scenario_name("Waste bins", ["Waste bins (scenario)"]) == "Waste bins (scenario 2)"
    assert edits.is_scenario_name("Waste bins (scenario 2)") and edits.is_scenario_name("Bins (scenario)")
    assert not edits.is_scenario_name("Scenario planning areas")


def test_typed_values_take_the_column_type():
    gdf = edits.add_point(edits.editable(gpd.GeoDataFrame(
        {"kind": ["mixed"], "capacity_l": [240.0], "bins": [2], "emptied": [True]},
        geometry=[Point(0, 0)], crs="EPSG:3067")), 5, 5)
    typed = {"kind": "glass", "capacity_l": "3 000,5", "bins": "4", "emptied": "no"}
    for column, text in typed.items():
        gdf = edits.set_value(gdf, 1, column, edits.parse_value(gdf, column, text))
    assert gdf.iloc[1][["kind", "capacity_l", "bins", "emptied"]].tolist() == ["glass", 3000.5, 4, False]
    assert str(gdf["bins"].dtype) == "Int64" and gdf["capacity_l"].dtype == float
    for column in typed:  # empty text empties the cell, whatever the type
        gdf = edits.set_value(gdf, 0, column, edits.parse_value(gdf, column, " "))
    assert gdf.iloc[0][list(typed)].isna().all() and gdf.iloc[1]["kind"] == "glass"


def test_typed_dates_keep_the_column_time_zone():
    gdf = edits.editable(gpd.GeoDataFrame(
        {"emptied": pd.to_datetime(["2026-01-01 10:00"]).tz_localize("Europe/Helsinki")},
        geometry=[Point(0, 0)], crs="EPSG:3067"))
    gdf = edits.set_value(gdf, 0, "emptied", edits.parse_value(gdf, "emptied", "2026-05-31 08:15"))
    assert gdf["emptied"].iloc[0] == pd.Timestamp("2026-05-31 08:15", tz="Europe/Helsinki")
    with pytest.raises(CityDeskError, match="'tomorrow' is not a date and time"):
        edits.parse_value(gdf, "emptied", "tomorrow")
    kinds = gdf.assign(kind=pd.Categorical(["mixed"]))
    with pytest.raises(CityDeskError, match="does not fit the column 'kind'"):
        edits.set_value(kinds, 0, "kind", edits.parse_value(kinds, "kind", "glass"))


@pytest.mark.parametrize(("column", "text", "says"), [
    ("capacity_l", "lots", "'lots' is not a number (column 'capacity_l')"),
    ("capacity_l", "inf", "not a finite number"),
    ("bins", "2.5", "'2.5' is not a whole number"),
    ("emptied", "maybe", "'maybe' is not yes or no"),
    ("missing", "1", "no attribute column 'missing'"),
    ("geometry", "POINT (0 0)", "no attribute column 'geometry'"),
])
def test_typed_values_that_do_not_fit_are_refused(column, text, says):
    gdf = edits.editable(gpd.GeoDataFrame({"capacity_l": [240.0], "bins": [2], "emptied": [True]},
                                          geometry=[Point(0, 0)], crs="EPSG:3067"))
    with pytest.raises(CityDeskError, match=re.escape(says)):
        edits.parse_value(gdf, column, text)
