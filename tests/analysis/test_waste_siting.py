"""``waste-siting`` and its MCLP core: a siting worked out by hand on one street, greedy against the
exact MILP on hand-made and random instances, and the sample city through the command line.

The street runs along y = 0 from x = 0 to 1000 m; homes stand 10 m beside it, so a home at x and
a site at c on the street are |x - c| + 10 m apart; with 100 m a site covers homes within 90 m."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from shapely.geometry import LineString, Point

from analysis import mclp, run_analysis
from analysis.waste_siting import waste_siting
from layers.errors import CityDeskError
from layers.feedback import Cancelled

CRS = "EPSG:3067"
X0, Y0 = 385_000.0, 6_672_000.0
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "helsinki.gpkg"


def points(xs, y=0.0, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[Point(X0 + x, Y0 + y) for x in xs], crs=CRS)


@pytest.fixture
def street() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 1000, Y0)])], crs=CRS)


@pytest.fixture
def homes() -> gpd.GeoDataFrame:
    """x = 50 (5 residents, covered by the bin at 0), 300 and 400 (10 each), 700 (30)."""
    return points([50, 300, 400, 700], y=10, residents=[5.0, 10.0, 10.0, 30.0])


@pytest.fixture
def bins() -> gpd.GeoDataFrame:
    return points([0])


@pytest.fixture
def sites() -> gpd.GeoDataFrame:
    """Candidate at 350 covers 300 and 400 (60 m each); at 700 covers 700; at 550 covers nobody."""
    return points([350, 700, 550], name=["mid", "east", "nowhere"])


def test_siting_by_hand(homes, street, bins, sites):
    one = waste_siting(homes, street, bins, candidates=sites, k=1, method="greedy")
    p = one.layers["proposed_bins"]
    assert p["name"].tolist() == ["east"] and p["residents_added"].tolist() == [30]
    two = waste_siting(homes, street, bins, candidates=sites, k=2, method="exact")
    p = two.layers["proposed_bins"]
    assert p["name"].tolist() == ["east", "mid"] and p["rank"].tolist() == [1, 2]
    np.testing.assert_allclose(p["residents_added"], [30, 20])
    np.testing.assert_allclose(p["covered_share"], [35 / 55, 1.0])
    s = two.summary
    assert s["covered_share_before"] == pytest.approx(5 / 55) and s["covered_share_after"] == pytest.approx(1.0)
    assert s["candidates"] == 3 and s["candidates_useful"] == 2 and s["demand_buildings"] == 3
    assert s["exact_status"] == "optimal" and s["greedy_gap_fraction"] == 0.0
    b = two.layers["buildings"]
    assert b["state"].tolist() == ["covered before", "newly covered", "newly covered", "newly covered"]
    assert b["new_bin"].tolist() == [0, 2, 2, 1]
    curve = two.charts["coverage_curve"]
    assert curve["bins_added"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(curve["covered_share"], [5 / 55, 35 / 55, 1.0])


def test_street_candidates_every_25_m(homes, street, bins):
    r = waste_siting(homes, street, bins, k=3, candidate_spacing_m=25)
    assert r.summary["candidates"] == 40  # 1000 m / 25 m, one in the middle of each piece
    assert r.summary["covered_share_after"] == pytest.approx(1.0)
    assert r.summary["bins_proposed"] == 2  # a third bin would add nobody
    x = r.layers["proposed_bins"].geometry.x.to_numpy() - X0
    assert 610 <= x[0] <= 790 and 310 <= x[1] <= 390  # covers 700; covers both 300 and 400


def test_greedy_can_miss_the_optimum_and_exact_finds_it():
    """Sets S1 = {e1, e2}, S2 = {e3, e4}, S3 = {e2, e3}; weights 2, 3, 3, 2. Greedy takes S3 (6)
    then one of the others (+2) = 8; the optimum S1 + S2 = 10."""
    a = sp.csr_matrix(np.array([[1, 0, 0], [1, 0, 1], [0, 1, 1], [0, 1, 0]]))
    w = np.array([2.0, 3.0, 3.0, 2.0])
    g = mclp.greedy(a, w, 2)
    assert g.chosen[0] == 2 and g.value == 8.0
    assert g.upper_bound >= 10.0
    e = mclp.exact(a, w, 2)
    assert e.optimal and e.value == 10.0 and sorted(e.chosen.tolist()) == [0, 1]
    ranked, gains = mclp.order_by_gain(a, w, e.chosen)
    assert gains.tolist() == [5.0, 5.0] and sorted(ranked.tolist()) == [0, 1]


def test_greedy_within_its_bound_on_random_instances():
    rng = np.random.default_rng(3)
    for _ in range(25):
        n_d, n_s, k = int(rng.integers(5, 40)), int(rng.integers(3, 20)), int(rng.integers(1, 6))
        a = sp.csr_matrix(rng.random((n_d, n_s)) < 0.2)
        w = rng.integers(0, 50, n_d).astype(float)
        g, e = mclp.greedy(a, w, k), mclp.exact(a, w, k)
        assert e.optimal
        assert g.value <= e.value + 1e-9
        assert g.value >= (1 - 1 / math.e) * e.value - 1e-9
        assert g.upper_bound >= e.value - 1e-9
        covered = np.asarray(a[:, e.chosen].sum(axis=1)).ravel() > 0
        assert w[covered].sum() == pytest.approx(e.value) and len(e.chosen) <= k


def test_merge_rows_keeps_the_problem():
    a = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0], [0, 1, 0]]))
    m, w = mclp.merge_rows(a, np.array([1.0, 2.0, 4.0, 8.0, 0.0]))
    assert m.shape == (2, 3) and sorted(w.tolist()) == [3.0, 4.0]


def test_bad_inputs_cancel_and_progress(homes, street, bins, sites):
    with pytest.raises(CityDeskError, match="not one of the choices"):
        run_analysis("waste-siting", {"buildings": homes, "streets": street, "waste_bins": bins},
                     {"method": "best"})
    with pytest.raises(CityDeskError, match="metric CRS"):
        waste_siting(homes, street, bins, candidates=sites.to_crs(4326))
    seen = []

    class Feedback:
        def progress(self, fraction, message=""):
            seen.append(fraction)

        def check_cancelled(self):
            if len(seen) > 4:
                raise Cancelled()

    with pytest.raises(Cancelled):
        waste_siting(homes, street, bins, feedback=Feedback())
    assert seen == sorted(seen)


def test_sample_city_through_the_command_line(tmp_path):
    out = tmp_path / "siting.gpkg"
    layers = [f"--layer={role}={SAMPLE}:{role}" for role in ("buildings", "streets", "waste_bins")]
    done = subprocess.run([sys.executable, "-m", "app.cli", "run", "waste-siting", *layers, "--param", "k=4",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "siting_coverage_curve.png" in done.stdout
    png, csv = tmp_path / "siting_coverage_curve.png", tmp_path / "siting_coverage_curve.csv"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curve = pd.read_csv(csv)
    assert curve["bins_added"].tolist() == [0, 1, 2, 3, 4] and curve["covered_share"].is_monotonic_increasing
    proposed = gpd.read_file(out, layer="proposed_bins")
    assert proposed["rank"].tolist() == [1, 2, 3, 4] and (proposed["residents_added"] > 0).all()
    assert proposed["covered_share"].iloc[-1] == pytest.approx(curve["covered_share"].iloc[-1])
