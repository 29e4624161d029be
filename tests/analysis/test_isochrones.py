"""Walking isochrones: the engine's service areas on networks worked out by hand, the registered
``isochrones`` analysis, and the sample city (through ``run_analysis`` and the command line)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point

from analysis import get, run_analysis
from analysis.isochrones import parse_minutes, walking_isochrones
from analysis.network import build_network, isochrones, point_distances_within, snap_points
from layers.errors import CityDeskError
from layers.feedback import Cancelled
from layers.style import symbolize

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_672_000.0
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "helsinki.gpkg"


def streets(*lines, crs=CRS) -> gpd.GeoDataFrame:
    geoms = [LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    return gpd.GeoDataFrame({"highway": ["footway"] * len(lines)}, geometry=geoms, crs=crs)


def points(*xy, crs=CRS, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[Point(X0 + x, Y0 + y) for x, y in xy], crs=crs)


def local_bounds(geom) -> np.ndarray:
    return np.asarray(geom.bounds) - (X0, Y0, X0, Y0)


# --- the engine -----------------------------------------------------------------------------------

def test_one_street_cut_at_the_exact_reach():
    net = build_network(streets([(0, 0), (1000, 0)]))
    src = snap_points(net, points((300, 10)).geometry.to_numpy())
    out = isochrones(net, src, [210.0], buffer_m=25)  # 10 m snap leg, then 200 m each way: x 100..500
    assert out.columns.tolist() == ["source", "band_m", "area_m2", "geometry"] and out.crs == CRS
    np.testing.assert_allclose(local_bounds(out.geometry.iloc[0]), [75, -25, 525, 25], atol=1e-6)
    assert out["area_m2"].iloc[0] == pytest.approx(400 * 50 + np.pi * 25**2, rel=0.01)


def test_t_junction_splits_the_reach():
    net = build_network(streets([(0, 0), (200, 0)], [(100, 0), (100, 100)]))
    src = snap_points(net, points((0, 0)).geometry.to_numpy())
    area = isochrones(net, src, [150.0], buffer_m=5).geometry.iloc[0]
    inside = [(150, 0), (100, 45), (2, 0)]  # 150 m along the bar; 50 m up the stem
    outside = [(160, 0), (100, 60), (190, 0)]
    assert all(area.contains(Point(X0 + x, Y0 + y)) for x, y in inside)
    assert not any(area.contains(Point(X0 + x, Y0 + y)) for x, y in outside)


def test_bands_sorted_and_unreachable_sources_get_empty_areas():
    net = build_network(streets([(0, 0), (1000, 0)]))
    src = snap_points(net, points((500, 0), (500, 500), (500, 60)).geometry.to_numpy())
    out = isochrones(net, src, [300.0, 50.0], buffer_m=10)
    assert out["source"].tolist() == [0, 0, 1, 1, 2, 2] and out["band_m"].tolist() == [50, 300] * 3
    np.testing.assert_allclose(local_bounds(out.geometry.iloc[0]), [440, -10, 560, 10], atol=1e-6)
    assert out.geometry.iloc[2].is_empty and out.geometry.iloc[3].is_empty  # 500 m off the streets
    assert out.geometry.iloc[4].is_empty and out["area_m2"].iloc[4] == 0  # a 60 m leg is longer than 50 m
    np.testing.assert_allclose(local_bounds(out.geometry.iloc[5]), [250, -10, 750, 10], atol=1e-6)
    with pytest.raises(CityDeskError, match="bands"):
        isochrones(net, src, [0.0])


# --- the analysis ------------------------------------------------------------------------------------

@pytest.fixture
def small_city():
    lines = [[(0, 0), (600, 0)], [(300, 0), (300, 400)], [(0, 0), (0, 300)]]
    origins = points((310, 5), (10, 150), (900, 900), name=["library", None, "far away"])
    return streets(*lines), origins


def test_analysis_layers_and_summary(small_city):
    s, o = small_city
    result = run_analysis("isochrones", {"streets": s, "origins": o},
                          {"walk_speed_mps": 1.0, "minutes": "2, 1", "buffer_m": 10})
    iso = result.layers["isochrones"]
    assert iso.columns.tolist() == ["source", "label", "band", "from_minutes", "minutes", "band_m", "area_m2",
                                    "geometry"]
    assert iso["band"].tolist() == ["1–2 min", "1–2 min", "0–1 min", "0–1 min"]
    assert iso["from_minutes"].tolist() == [1, 1, 0, 0]
    assert iso["minutes"].tolist() == [2, 2, 1, 1]  # larger bands first: smaller ones draw on top
    assert iso["source"].tolist() == [0, 1, 0, 1] and iso["label"].tolist() == ["library", "2"] * 2
    assert iso["band_m"].tolist() == [120, 120, 60, 60]
    one = iso.geometry.iloc[2]  # the library, 1 minute = 60 m: 5 m leg, then 55 m: to x = 365, 255, and 45 m up
    assert one.contains(Point(X0 + 360, Y0)) and one.contains(Point(X0 + 260, Y0))
    assert one.contains(Point(X0 + 300, Y0 + 40)) and not one.contains(Point(X0 + 300, Y0 + 60))
    assert not one.contains(Point(X0 + 380, Y0)) and not one.contains(Point(X0 + 240, Y0))
    ring = iso.geometry.iloc[0]  # from 1 to 2 minutes: around the 1-minute area, not over it
    assert ring.intersection(one).area < 0.01 and not ring.contains(Point(X0 + 360, Y0))
    assert ring.contains(Point(X0 + 300, Y0 + 100)) and not ring.contains(Point(X0 + 300, Y0 + 140))
    assert iso["area_m2"].iloc[0] == pytest.approx(ring.union(one).area, rel=1e-6)
    assert iso["area_m2"].iloc[2] == pytest.approx(one.area)
    snapped = result.layers["origins_snapped"]
    assert snapped["snapped"].tolist() == [True, True, False] and snapped["name"].iloc[0] == "library"
    assert snapped.geometry.iloc[0].equals(Point(X0 + 310, Y0)) and snapped.geometry.iloc[2].equals(o.geometry[2])
    assert snapped["snap_m"].iloc[:2].tolist() == pytest.approx([5.0, 10.0]) and np.isnan(snapped["snap_m"][2])
    summary = result.summary
    assert (summary["origins_total"], summary["origins_snapped"], summary["origins_unreachable"]) == (3, 2, 1)
    assert summary["minutes"] == "1, 2" and summary["bands_m"] == "60, 120" and summary["network_components"] == 1
    assert summary["mean_area_km2_1min"] < summary["mean_area_km2_2min"]
    assert dict(result.params) == {"walk_speed_mps": 1.0, "minutes": "2, 1", "max_snap_m": 100.0, "min_piece_m": 500.0,
                                   "buffer_m": 10.0}


def test_registered_with_roles_params_and_styles():
    spec = get("isochrones")
    assert [(r.name, r.geometry, r.required) for r in spec.roles] == [("streets", ("line",), True),
                                                                      ("origins", ("point",), True)]
    assert spec.defaults() == {"walk_speed_mps": 0.8, "minutes": "5,10,15", "max_snap_m": 100.0, "min_piece_m": 500.0,
                               "buffer_m": 25.0}
    assert "Asher" in spec.sources[0]
    style = spec.result_styles["isochrones"]
    assert (style.kind, style.field) == ("categorized", "band")


@pytest.mark.parametrize("minutes,legend", [
    ("5,10,15", ["0–5 min", "5–10 min", "10–15 min"]),
    ("2,4,6,8,10,12", ["0–2 min", "2–4 min", "4–6 min", "6–8 min", "8–10 min", "10–12 min"]),
    ("2.5,5,7.5", ["0–2.5 min", "2.5–5 min", "5–7.5 min"]),
])
def test_legend_lists_the_bands_in_order(small_city, minutes, legend):
    s, o = small_city
    result = run_analysis("isochrones", {"streets": s, "origins": o}, {"walk_speed_mps": 0.8, "minutes": minutes})
    iso = result.layers["isochrones"]
    entries = symbolize(get("isochrones").result_styles["isochrones"], iso).legend
    assert [label.strip() for label, _ in entries] == legend
    assert len({colour for _, colour in entries}) == len(legend)
    assert iso["minutes"].is_monotonic_decreasing  # drawn in row order: the largest band first, the smallest on top


@pytest.mark.parametrize("text,expected", [("5,10,15", [5, 10, 15]), (" 15; 5 10 ", [5, 10, 15]),
                                           ("10,5,5", [5, 10]), ("2.5", [2.5])])
def test_minutes_parsed(text, expected):
    assert parse_minutes(text) == expected


@pytest.mark.parametrize("text,words", [("", "no walking times"), ("5,ten", "'ten' is not a number"),
                                        ("0", "not between 0 and 180"), ("-5", "not between"),
                                        ("500", "not between"), ("1,2,3,4,5,6,7,8,9", "too many")])
def test_bad_minutes(small_city, text, words):
    s, o = small_city
    with pytest.raises(CityDeskError, match=words) as err:
        run_analysis("isochrones", {"streets": s, "origins": o}, {"minutes": text})
    assert "5,10,15" in err.value.message  # the fix shows the form


def test_bad_layers(small_city):
    s, o = small_city
    with pytest.raises(CityDeskError, match="empty"):
        run_analysis("isochrones", {"streets": s.iloc[:0], "origins": o})
    with pytest.raises(CityDeskError, match="point geometries"):
        run_analysis("isochrones", {"streets": o, "origins": o})
    with pytest.raises(CityDeskError, match="metric CRS"):
        walking_isochrones(s.to_crs("EPSG:4326"), o.to_crs("EPSG:4326"))
    with pytest.raises(CityDeskError, match="walking speed"):
        walking_isochrones(s, o, walk_speed_mps=0.0)


class Recorder:
    def __init__(self, cancel_at: int = 10**9):
        self.cancel_at, self.checks, self.fractions = cancel_at, 0, []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.checks >= self.cancel_at:
            raise Cancelled()


def test_progress_only_goes_up_and_cancel_stops(small_city):
    s, o = small_city
    fb = Recorder()
    run_analysis("isochrones", {"streets": s, "origins": o}, {"minutes": "1,2,3"}, feedback=fb)
    assert fb.fractions[-1] == 1.0 and len(fb.fractions) > 10
    assert all(0 <= a <= b <= 1 for a, b in zip(fb.fractions, fb.fractions[1:], strict=False))
    for n in (1, fb.checks // 2, fb.checks - 1):
        cancelled = Recorder(cancel_at=n)
        with pytest.raises(Cancelled):
            run_analysis("isochrones", {"streets": s, "origins": o}, {"minutes": "1,2,3"}, feedback=cancelled)
        assert max(cancelled.fractions, default=0) < 1.0


# --- the sample city ------------------------------------------------------------------------------

pytestmark_sample = pytest.mark.skipif(not SAMPLE.exists(), reason="the sample city is not built")


@pytestmark_sample
def test_sample_city_pharmacies():
    s = gpd.read_file(SAMPLE, layer="streets")
    o = gpd.read_file(SAMPLE, layer="pharmacies")
    result = run_analysis("isochrones", {"streets": s, "origins": o}, {"minutes": "5,10"})
    iso = result.layers["isochrones"]
    assert len(iso) == 2 * len(o) and result.summary["origins_unreachable"] == 0
    for src in range(len(o)):
        small = iso[(iso["source"] == src) & (iso["minutes"] == 5)].geometry.iloc[0]
        large = iso[(iso["source"] == src) & (iso["minutes"] == 10)].geometry.iloc[0]
        whole = iso[(iso["source"] == src) & (iso["minutes"] == 10)]["area_m2"].iloc[0]
        assert small.intersection(large).area < 1.0 and whole == pytest.approx(small.union(large).area, rel=1e-6)
        assert large.area > 1.5 * small.area
    # every street point within 5 minutes (240 m at 0.8 m/s) of a pharmacy lies in its area
    net = build_network(s)
    sources = snap_points(net, o.geometry.to_numpy())
    along = shapely.line_interpolate_point(net.edge_geom, 0.5, normalized=True)
    on_streets = snap_points(net, along)
    within = point_distances_within(net, sources, on_streets, 240.0).tocoo()
    assert within.nnz > 50
    five = iso[iso["minutes"] == 5].set_index("source").geometry.buffer(0.01)
    assert shapely.contains(five.loc[within.row].to_numpy(), along[within.col]).all()


@pytestmark_sample
def test_command_line(tmp_path):
    exe = Path(sys.executable).with_name("citydesk")
    exe = str(exe) if exe.exists() else shutil.which("citydesk")
    if exe is None:
        pytest.skip("the citydesk command is not installed")
    out, summary = tmp_path / "iso.gpkg", tmp_path / "iso.json"
    done = subprocess.run([exe, "run", "isochrones", "--layer", f"streets={SAMPLE}:streets",
                           "--layer", f"origins={SAMPLE}:air_quality_stations_synthetic", "--param", "minutes=5,10",
                           "--out", str(out), "--summary", str(summary)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(summary.read_text())
    assert data["analysis"] == "isochrones" and data["summary"]["origins_total"] == 6
    layers = gpd.list_layers(out)
    assert set(layers["name"]) == {"isochrones", "origins_snapped"}
    assert len(gpd.read_file(out, layer="isochrones")) == 12
