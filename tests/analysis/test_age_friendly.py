"""``age-friendly`` on tiny street networks whose distances are worked out by hand, and on the
sample city (through ``run_analysis`` and the command line)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from analysis import analyses, get, run_analysis
from analysis.age_friendly import age_friendly
from layers.errors import CityDeskError
from layers.feedback import Cancelled

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_672_000.0
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "helsinki.gpkg"


def points(*xy, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[Point(X0 + x, Y0 + y) for x, y in xy], crs=CRS)


def streets(*lines) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(lines))]},
                            geometry=[LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines], crs=CRS)


@pytest.fixture
def street() -> gpd.GeoDataFrame:
    """One straight street, 1200 m long, along y = 0."""
    return streets([(0, 0), (1200, 0)])


@pytest.fixture
def home() -> gpd.GeoDataFrame:
    """A home 10 m beside the street's start: snap leg 10 m."""
    return points((0, 10), residents=[30])


def run(buildings, street_layer, **kw):
    kw.setdefault("new_benches_k", 0)
    return age_friendly(buildings, street_layer, **kw)


# --- distances, minutes, the rest-aware walk -----------------------------------------------------

def test_pharmacy_via_a_bench_at_150_m(home, street):
    bench, pharmacy = points((150, 0)), points((300, 0))
    result = run(home, street, benches=bench, pharmacies=pharmacy, rest_max_m=200)
    row = result.layers["buildings"].iloc[0]
    assert row["snap_m"] == pytest.approx(10.0)
    assert row["pharmacies_m"] == pytest.approx(310.0)  # 10 m snap leg + 300 m along the street
    assert row["benches_m"] == pytest.approx(160.0)
    assert row["pharmacies_min"] == pytest.approx(310.0 / 0.8 / 60)  # the older profile, 0.8 m/s
    assert row["pharmacies_ok"] and not row["benches_ok"]  # a bench within 100 m by default: 160 m is not
    assert row["pharmacies_rest_ok"]  # stretches: 160 m home -> bench, 150 m bench -> pharmacy
    assert row["pharmacies_rest_m"] == pytest.approx(310.0)
    assert row["age_friendly_score"] == pytest.approx(50.0)  # one of the two roles in reach
    s = result.summary
    assert s["share_in_reach_pharmacies"] == 1.0 and s["share_rest_in_reach_pharmacies"] == 1.0
    assert s["share_in_reach_benches"] == 0.0 and s["residents_out_of_reach_benches"] == 30.0
    assert s["rest_points"] == 1 and s["walk_speed_mps"] == 0.8 and s["profile"] == "older"


def test_stretch_longer_than_the_rest_limit(home, street):
    bench, pharmacy = points((150, 0)), points((300, 0))
    row = run(home, street, benches=bench, pharmacies=pharmacy, rest_max_m=100).layers["buildings"].iloc[0]
    assert row["pharmacies_ok"] and not row["pharmacies_rest_ok"]  # 160 m and 150 m stretches > 100 m
    assert np.isnan(row["pharmacies_rest_m"])
    assert row["pharmacies_m"] == pytest.approx(310.0)  # the plain distance does not change


def test_without_the_bench_no_rest_aware_access(home, street):
    result = run(home, street, pharmacies=points((300, 0)), rest_max_m=200)
    row = result.layers["buildings"].iloc[0]
    assert row["pharmacies_ok"] and not row["pharmacies_rest_ok"]  # 310 m in one stretch
    assert result.summary["share_rest_in_reach_pharmacies"] == 0.0
    assert result.summary["residents_rest_in_reach_pharmacies"] == 0.0
    assert result.summary["residents_in_reach_pharmacies"] == 30.0


def test_rest_aware_walk_must_also_fit_the_maximum(home, street):
    # via the bench the walk is 10 + 150 + 2 x 40 (to the bench 40 m off the street and back) + 150 = 390 m
    bench, pharmacy = points((150, 40)), points((300, 0))
    row = run(home, street, benches=bench, pharmacies=pharmacy, rest_max_m=200,
              max_pharmacies_m=400).layers["buildings"].iloc[0]
    assert row["pharmacies_rest_m"] == pytest.approx(390.0) and row["pharmacies_rest_ok"]
    row = run(home, street, benches=bench, pharmacies=pharmacy, rest_max_m=200,
              max_pharmacies_m=380).layers["buildings"].iloc[0]
    assert row["pharmacies_ok"] and not row["pharmacies_rest_ok"]


def test_stops_with_a_shelter_are_rests(home, street):
    pharmacy = points((300, 0))
    open_stop = points((150, 0), shelter=["no"], bench=[None])
    sheltered = points((150, 0), shelter=["yes"], bench=[None])
    seated = points((150, 0), shelter=[None], bench=["yes"])
    for stops, expected in ((open_stop, False), (sheltered, True), (seated, True)):
        result = run(home, street, transit_stops=stops, pharmacies=pharmacy, rest_max_m=200)
        assert bool(result.layers["buildings"]["pharmacies_rest_ok"].iloc[0]) is expected
        assert result.summary["rest_points_stops"] == int(expected)


@pytest.mark.parametrize("profile,speed,expected_speed", [("older", 0, 0.8), ("adult", 0, 1.3), ("adult", 1.0, 1.0)])
def test_profiles_and_speed(home, street, profile, speed, expected_speed):
    result = run(home, street, pharmacies=points((300, 0)), profile=profile, walk_speed_mps=speed)
    assert result.layers["buildings"]["pharmacies_min"].iloc[0] == pytest.approx(310.0 / expected_speed / 60)
    assert result.summary["walk_speed_mps"] == expected_speed


def test_green_space_is_reached_at_its_edge(home, street):
    park = gpd.GeoDataFrame({"name": ["park"]}, geometry=[box(X0 + 400, Y0 + 20, X0 + 500, Y0 + 120)], crs=CRS)
    result = run(home, street, green_spaces=park)
    # nearest edge point (400, 20): 10 m snap leg + 400 m along the street + 20 m to the park's corner
    assert result.layers["buildings"]["green_spaces_m"].iloc[0] == pytest.approx(430.0)
    assert not result.layers["buildings"]["green_spaces_ok"].iloc[0]  # the default maximum is 300 m
    small = run(home, street, green_spaces=park, min_green_space_m2=20_000)  # the park has 10,000 m²
    assert np.isnan(small.layers["buildings"]["green_spaces_m"].iloc[0])
    assert small.summary["targets_green_spaces"] == 0


# --- residents, score, unreachable buildings -------------------------------------------------------

def test_population_weighting_and_unreachable_buildings(street):
    # a: beside the start; b: 910 m from the pharmacy; c: 500 m from any street (unreachable)
    homes = points((0, 10), (1200, 10), (300, 500), residents=[30, 10, 5])
    result = run(homes, street, pharmacies=points((300, 0)), groceries=points((1100, 0)))
    out = result.layers["buildings"]
    assert out["pharmacies_m"].iloc[:2].tolist() == pytest.approx([310.0, 910.0])
    assert out["groceries_m"].iloc[:2].tolist() == pytest.approx([1110.0, 110.0])
    assert out["pharmacies_m"].isna().iloc[2] and np.isnan(out["snap_m"].iloc[2])
    assert out["age_friendly_score"].tolist() == [50.0, 50.0, 0.0]
    s = result.summary
    assert s["residents_total"] == 45.0 and s["population_field"] == "residents"
    assert s["share_in_reach_pharmacies"] == pytest.approx(30 / 45)
    assert s["residents_out_of_reach_pharmacies"] == 15.0
    assert s["share_in_reach_groceries"] == pytest.approx(10 / 45)
    assert s["share_all_in_reach"] == 0.0
    assert s["mean_score"] == pytest.approx((30 * 50 + 10 * 50) / 45)
    assert s["buildings_unreachable"] == 1 and s["residents_unreachable"] == 5.0
    assert s["targets_pharmacies"] == 1 and s["targets_unreachable_pharmacies"] == 0


def test_a_home_on_a_disconnected_path_is_reported():
    # the main street and, 5 m from the second home, a 20 m courtyard path that joins nothing
    layer = streets([(0, 0), (1200, 0)], [(500, 50), (520, 50)])
    homes = points((0, 10), (510, 55), residents=[3, 7])
    result = run(homes, layer, pharmacies=points((300, 0)), min_piece_m=0)  # snap to the nearest piece
    out = result.layers["buildings"]
    assert out["snap_m"].tolist() == pytest.approx([10.0, 5.0])
    assert np.isnan(out["pharmacies_m"].iloc[1])  # nothing on its piece of network
    s = result.summary
    assert s["buildings_off_main_network"] == 1 and s["residents_off_main_network"] == 7.0
    assert s["buildings_unreachable"] == 0 and s["residents_out_of_reach_pharmacies"] == 7.0


def test_small_pieces_are_passed_over_when_snapping():
    # the 20 m courtyard path is 5 m from the second home, the main street 55 m: by default the
    # home starts from the main street (55 m leg + 210 m along it to the pharmacy at x = 300);
    # the third home has no larger piece within the snap distance and stays on its own 20 m path
    layer = streets([(0, 0), (1200, 0)], [(500, 50), (520, 50)], [(900, 300), (920, 300)])
    homes = points((0, 10), (510, 55), (910, 305), residents=[3, 7, 2])
    result = run(homes, layer, pharmacies=points((300, 0), (515, 50)), transit_stops=points((10, 0)))
    out = result.layers["buildings"]
    assert out["snap_m"].tolist() == pytest.approx([10.0, 55.0, 5.0])
    # both moved to the main street: 55 m leg, 5 m along it, the pharmacy's 50 m leg
    assert out["pharmacies_m"].iloc[1] == pytest.approx(55.0 + 5.0 + 50.0)
    assert np.isnan(out["pharmacies_m"].iloc[2])
    s = result.summary
    assert s["buildings_moved_off_small_pieces"] == 1
    # the pharmacy at (515, 50) lies on the courtyard path: it is moved to the main street too
    assert s["destinations_moved_off_small_pieces"] == 1
    assert s["buildings_off_main_network"] == 1 and s["residents_off_main_network"] == 2.0
    assert out["pharmacies_m"].iloc[0] == pytest.approx(10.0 + 300.0 + 0.0)
    # a piece with enough street counts as a network of its own: nothing moves
    kept = run(homes, layer, pharmacies=points((300, 0)), min_piece_m=15).summary
    assert kept["buildings_moved_off_small_pieces"] == 0 and kept["buildings_off_main_network"] == 2


def test_without_a_population_column_each_building_counts_one(street):
    homes = points((0, 10), (1200, 10))
    s = run(homes, street, pharmacies=points((300, 0))).summary
    assert s["population_field"] is None and s["share_in_reach_pharmacies"] == 0.5


def test_polygon_buildings_start_at_their_point_on_surface(street):
    square = gpd.GeoDataFrame({"residents": [4]}, geometry=[box(X0 - 5, Y0 + 5, X0 + 5, Y0 + 15)], crs=CRS)
    out = run(square, street, pharmacies=points((300, 0))).layers["buildings"]
    assert out["snap_m"].iloc[0] == pytest.approx(10.0)
    assert out["pharmacies_m"].iloc[0] == pytest.approx(310.0)


def test_a_destination_beyond_the_snap_distance_is_reported(home, street):
    s = run(home, street, pharmacies=points((300, 0), (300, 400))).summary
    assert s["targets_pharmacies"] == 2 and s["targets_unreachable_pharmacies"] == 1


# --- new benches ------------------------------------------------------------------------------------

def test_greedy_finds_the_bench_that_connects_the_home(home, street):
    pharmacy = points((300, 0))
    result = age_friendly(home, street, pharmacies=pharmacy, rest_max_m=200, new_benches_k=5)
    new = result.layers["new_benches"]
    assert len(new) == 1  # one bench fixes everything; the greedy stops
    assert new["rank"].tolist() == [1] and new["residents_connected"].tolist() == [30.0]
    x = new.geometry.iloc[0].x - X0
    assert 100 <= x <= 190 and new.geometry.iloc[0].y == pytest.approx(Y0)  # <= 200 m from home and pharmacy
    assert result.summary["new_benches_residents_connected"] == 30.0
    again = age_friendly(home, street, pharmacies=pharmacy, benches=new[["geometry"]], rest_max_m=200,
                         new_benches_k=0)
    assert again.summary["share_rest_in_reach_pharmacies"] == 1.0  # the new bench really connects


def test_greedy_bridges_a_gap_beyond_an_existing_bench(home, street):
    # home -> bench (160 m) -> gap of 350 m -> pharmacy: a new bench at 300-350 m bridges it,
    # though it is more than 200 m from the home
    bench, pharmacy = points((150, 0)), points((500, 0))
    result = age_friendly(home, street, benches=bench, pharmacies=pharmacy, rest_max_m=200, new_benches_k=3)
    new = result.layers["new_benches"]
    assert len(new) == 1 and new["residents_connected"].iloc[0] == 30.0
    assert 300 <= new.geometry.iloc[0].x - X0 <= 350
    both = gpd.GeoDataFrame(geometry=list(bench.geometry) + list(new.geometry), crs=CRS)
    again = age_friendly(home, street, benches=both, pharmacies=pharmacy, rest_max_m=200, new_benches_k=0)
    assert again.layers["buildings"]["pharmacies_rest_ok"].iloc[0]


def test_greedy_prefers_the_site_that_connects_more_residents(street):
    # a pharmacy at 600; 10 residents at the west end, 50 at the east end: both 600 m away
    homes = points((0, 0), (1200, 0), residents=[10, 50])
    result = age_friendly(homes, street, pharmacies=points((600, 0)), rest_max_m=350, new_benches_k=1)
    new = result.layers["new_benches"]
    assert len(new) == 1 and new["residents_connected"].iloc[0] == 50.0
    assert 850 <= new.geometry.iloc[0].x - X0 <= 950


def test_no_new_benches_when_k_is_0_or_nothing_to_fix(home, street):
    assert len(age_friendly(home, street, pharmacies=points((300, 0)), new_benches_k=0).layers["new_benches"]) == 0
    far = age_friendly(home, street, pharmacies=points((1000, 0)), max_pharmacies_m=720, new_benches_k=5)
    assert len(far.layers["new_benches"]) == 0  # 1010 m: out of reach with or without benches


# --- areas ------------------------------------------------------------------------------------------

def test_districts_aggregation(street):
    homes = points((0, 10), (100, 10), (1100, 10), residents=[30, 10, 20])
    districts = gpd.GeoDataFrame({"name": ["west", "east"]},
                                 geometry=[box(X0 - 50, Y0 - 50, X0 + 600, Y0 + 50),
                                           box(X0 + 600, Y0 - 50, X0 + 1300, Y0 + 50)], crs=CRS)
    areas = run(homes, street, pharmacies=points((300, 0)), groceries=points((50, 0)),
                districts=districts).layers["areas"]
    assert areas["name"].tolist() == ["west", "east"]
    assert areas["buildings"].tolist() == [2, 1] and areas["residents"].tolist() == [40.0, 20.0]
    assert areas["pharmacies_share"].tolist() == pytest.approx([1.0, 0.0])  # 810 m from the east home
    assert areas["groceries_share"].tolist() == pytest.approx([1.0, 0.0])
    assert areas["mean_score"].tolist() == pytest.approx([100.0, 0.0])
    assert areas.crs == CRS


def test_two_districts_weigh_residents_and_take_their_names(street):
    # homes at x = 0, 100, 600 (on the border: the first district), 1100, and one beyond both districts
    homes = points((0, 10), (100, 10), (600, 10), (1100, 10), (1500, 10), residents=[30, 10, 5, 20, 7])
    districts = gpd.GeoDataFrame({"NIMI": ["Kallio", None], "code": [91, 92]},
                                 geometry=[box(X0 - 50, Y0 - 50, X0 + 600, Y0 + 50),
                                           box(X0 + 600, Y0 - 50, X0 + 1300, Y0 + 50)], crs=CRS)
    result = run(homes, street, pharmacies=points((300, 0)), groceries=points((50, 0)),
                 transit_stops=points((1000, 0)), districts=districts)
    areas = result.layers["areas"]
    assert areas.columns[0] == "area_name" and areas["area_name"].tolist() == ["Kallio", "District 2"]
    assert areas["code"].tolist() == [91, 92]  # the district's own columns are kept
    assert areas["buildings"].tolist() == [3, 1] and areas["residents"].tolist() == [45.0, 20.0]
    # west: all three reach the pharmacy (310, 210, 310 m) and the grocery (60, 60, 560 m), no stop (<= 400 m)
    assert areas["pharmacies_share"].tolist() == pytest.approx([1.0, 0.0])
    assert areas["groceries_share"].tolist() == pytest.approx([1.0, 0.0])
    assert areas["transit_stops_share"].tolist() == pytest.approx([0.0, 1.0])  # 110 m from x = 1100
    # without benches every stretch is the whole walk: <= 200 m only for the grocery from x = 0 and 100
    assert areas["groceries_rest_share"].tolist() == pytest.approx([40 / 45, 0.0])
    assert areas["pharmacies_rest_share"].tolist() == pytest.approx([0.0, 0.0])
    assert areas["transit_stops_rest_share"].tolist() == pytest.approx([0.0, 1.0])
    assert areas["mean_score"].tolist() == pytest.approx([200 / 3, 100 / 3])
    assert areas["all_share"].tolist() == pytest.approx([0.0, 0.0])
    assert result.summary["areas"] == 2 and result.summary["residents_outside_areas"] == 7.0


def test_grid_aggregation_without_districts(street):
    homes = points((10, 10), (100, 10), (300, 10), residents=[1, 3, 5])
    areas = run(homes, street, pharmacies=points((0, 0)), max_pharmacies_m=200).layers["areas"]
    assert len(areas) == 2 and areas["residents"].tolist() == [4.0, 5.0]  # cells of 250 m
    assert areas.geometry.area.tolist() == pytest.approx([62_500.0, 62_500.0])
    assert areas["pharmacies_share"].tolist() == pytest.approx([1.0, 0.0])


# --- progress, cancel, bad input, the registry -----------------------------------------------------

class Recorder:
    def __init__(self, cancel_at: int | None = None):
        self.fractions, self.checks, self.cancel_at = [], 0, cancel_at

    def progress(self, fraction, message=""):
        self.fractions.append(fraction)

    def check_cancelled(self):
        self.checks += 1
        if self.cancel_at is not None and self.checks >= self.cancel_at:
            raise Cancelled()


def test_progress_only_goes_up(home, street):
    fb = Recorder()
    age_friendly(home, street, benches=points((150, 0)), pharmacies=points((300, 0)), new_benches_k=2, feedback=fb)
    assert fb.fractions == sorted(fb.fractions) and fb.fractions[-1] == 1.0 and len(fb.fractions) > 5


def test_cancel_at_any_check(home, street):
    def once(fb):
        return age_friendly(home, street, benches=points((150, 0)), pharmacies=points((300, 0), (700, 0)),
                            rest_max_m=200, new_benches_k=2, feedback=fb)

    counter = Recorder()
    once(counter)
    assert counter.checks > 10
    for at in sorted({1, counter.checks // 3, counter.checks // 2, counter.checks - 1, counter.checks}):
        with pytest.raises(Cancelled):
            once(Recorder(at))


def test_bad_inputs(home, street):
    with pytest.raises(CityDeskError, match="streets"):
        run_analysis("age-friendly", {"buildings": home, "pharmacies": points((300, 0))})
    with pytest.raises(CityDeskError, match="empty"):
        run_analysis("age-friendly", {"buildings": home, "streets": street.iloc[:0], "pharmacies": points((3, 0))})
    with pytest.raises(CityDeskError, match="empty"):
        age_friendly(home, street.iloc[:0], pharmacies=points((300, 0)))
    with pytest.raises(CityDeskError, match="destination"):
        run_analysis("age-friendly", {"buildings": home, "streets": street})
    with pytest.raises(CityDeskError, match="no column 'asukkaat'"):
        run(home, street, pharmacies=points((300, 0)), population_field="asukkaat")
    with pytest.raises(CityDeskError, match="profile"):
        run_analysis("age-friendly", {"buildings": home, "streets": street, "pharmacies": points((300, 0))},
                     {"profile": "runner"})
    with pytest.raises(CityDeskError, match="metric"):
        run(home.to_crs(4326), street.to_crs(4326), pharmacies=points((300, 0)).to_crs(4326))


def test_registered_with_sources_and_styles():
    spec = get("age-friendly")
    assert "age-friendly" in analyses() and spec.sources
    roles = {r.name: r for r in spec.roles}
    assert roles["buildings"].required and roles["streets"].required
    assert not roles["benches"].required and not roles["districts"].required
    defaults = spec.defaults()
    assert defaults["profile"] == "older" and defaults["rest_max_m"] == 200.0
    assert defaults["max_transit_stops_m"] == 400.0 and defaults["max_green_spaces_m"] == 300.0
    assert spec.result_styles["buildings"].field == "age_friendly_score"


# --- the sample city -------------------------------------------------------------------------------

SAMPLE_ROLES = ("buildings", "streets", "transit_stops", "benches", "toilets", "pharmacies", "groceries",
                "green_spaces", "healthcare")


@pytest.fixture(scope="module")
def sample_result():
    layers = {role: gpd.read_file(SAMPLE, layer=role) for role in SAMPLE_ROLES}
    start, fb = time.perf_counter(), Recorder()
    result = run_analysis("age-friendly", layers, feedback=fb)
    assert fb.fractions == sorted(fb.fractions) and fb.fractions[-1] == 1.0
    return result, time.perf_counter() - start, layers


def test_sample_city(sample_result):
    result, seconds, _ = sample_result
    s = result.summary
    assert seconds < 60  # a few seconds in practice; generous for slow machines
    assert s["buildings_total"] == 482 and s["population_field"] == "residents"
    for role in SAMPLE_ROLES[2:]:
        assert 0.0 <= s[f"share_rest_in_reach_{role}"] <= s[f"share_in_reach_{role}"] <= 1.0
    assert 0.5 < s["share_in_reach_transit_stops"] <= 1.0  # central Helsinki is dense with stops
    assert s["buildings_unreachable"] < 0.05 * 482
    out = result.layers["buildings"]
    assert out["age_friendly_score"].between(0, 100).all()
    assert (out["pharmacies_m"].dropna() >= out["snap_m"].dropna().reindex(out["pharmacies_m"].dropna().index)).all()
    new = result.layers["new_benches"]
    assert 1 <= len(new) <= 5 and (new["residents_connected"] > 0).all()
    assert len(result.layers["areas"]) > 5


def test_sample_city_new_benches_really_connect_residents(sample_result):
    result, _, layers = sample_result
    new = result.layers["new_benches"]
    benches = gpd.GeoDataFrame(geometry=list(layers["benches"].to_crs(new.crs).geometry) + list(new.geometry),
                               crs=new.crs)
    again = run_analysis("age-friendly", {**layers, "benches": benches}, {"new_benches_k": 0})
    before, after = result.layers["buildings"], again.layers["buildings"]
    roles = [r for r in SAMPLE_ROLES[2:] if r != "benches"]
    gained = np.any([after[f"{r}_rest_ok"] & ~before[f"{r}_rest_ok"] for r in roles], axis=0)
    lost = np.any([before[f"{r}_rest_ok"] & ~after[f"{r}_rest_ok"] for r in roles], axis=0)
    assert not lost.any()
    assert before["residents"][gained].sum() == pytest.approx(result.summary["new_benches_residents_connected"])
    assert result.summary["new_benches_residents_connected"] > 0


def test_cli_on_the_sample_city(tmp_path):
    exe = Path(sys.executable).with_name("citydesk")
    exe = str(exe) if exe.exists() else shutil.which("citydesk")
    out, summary = tmp_path / "af.gpkg", tmp_path / "af.json"
    layer_args = [a for role in ("buildings", "streets", "benches", "pharmacies", "transit_stops")
                  for a in ("--layer", f"{role}={SAMPLE}:{role}")]
    done = subprocess.run([exe, "run", "age-friendly", *layer_args, "--param", "new_benches_k=2",
                           "--out", str(out), "--summary", str(summary)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(summary.read_text())
    assert data["analysis"] == "age-friendly" and data["params"]["new_benches_k"] == 2
    assert 0 < data["summary"]["share_in_reach_pharmacies"] <= 1
    assert set(gpd.list_layers(out)["name"]) == {"buildings", "new_benches", "areas"}
