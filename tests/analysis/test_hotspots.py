"""``report-hotspots``: kernel density worked out by hand (peak value and place, bandwidth effect,
mass kept), peaks, counts per category / status / month, cancel and progress, bad input, and the
sample city's Open311 file end to end."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point

import analysis.hotspots as hotspots
from analysis.hotspots import density_grid, kernel_values, report_hotspots
from analysis.runner import run_analysis
from layers.errors import CityDeskError
from layers.feedback import Cancelled
from layers.open311 import read_open311

CRS = "EPSG:3067"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "citizen_reports_synthetic.json"


def _reports(points, **columns) -> gpd.GeoDataFrame:
    n = len(points)
    data = {"service_name": ["Overflowing bin"] * n, "status": ["open"] * n,
            "requested_datetime": ["2025-01-15T10:00:00+02:00"] * n}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=[None if p is None else Point(p) for p in points], crs=CRS)


@pytest.fixture
def cluster() -> gpd.GeoDataFrame:
    """Five reports at (1005, 1005), two at (2005, 2005): both cell centres of a 10 m grid."""
    return _reports([(1005, 1005)] * 5 + [(2005, 2005)] * 2,
                    service_name=["Overflowing bin"] * 5 + ["Broken bench"] * 2,
                    address=["Bin street 1"] * 5 + ["Bench road 2"] * 2)


def test_peak_value_and_place_worked_out_by_hand(cluster):
    result = report_hotspots(cluster, bandwidth_m=100, cell_m=10)
    cells = result.layers["density"]
    # quartic kernel at distance 0: 3 / (pi h^2) per m2; h = 100 m -> 95.49 per km2 per report
    one = 3 / (math.pi * 100**2) * 1e6
    top = cells.loc[cells["density_km2"].idxmax()]
    assert top["density_km2"] == pytest.approx(5 * one)
    assert top.geometry.centroid.x == pytest.approx(1005) and top.geometry.centroid.y == pytest.approx(1005)
    # 50 m from the five: (1 - 0.25)^2 of the peak
    at_50 = cells[cells.geometry.contains(Point(1055, 1005))]["density_km2"].iloc[0]
    assert at_50 == pytest.approx(5 * one * 0.75**2)
    # nothing beyond the bandwidth: the grid cell at (1155, 1005) has no value
    assert not cells.geometry.contains(Point(1155, 1005)).any()
    # over the whole grid density x cell area sums to the number of reports; the layer leaves out the
    # faint cells (below 5 % of the peak)
    x, y = shapely.get_x(cluster.geometry.to_numpy()), shapely.get_y(cluster.geometry.to_numpy())
    grid, _ = density_grid(x, y, bandwidth_m=100, cell_m=10)
    assert grid.sum() * 10 * 10 == pytest.approx(7, rel=1e-3)
    assert cells["density_km2"].min() >= 0.05 * 5 * one and len(cells) < (grid > 0).sum()
    peaks = result.layers["peaks"]
    assert peaks["rank"].tolist() == [1, 2]
    assert [(p.x, p.y) for p in peaks.geometry] == [(1005, 1005), (2005, 2005)]
    assert peaks["density_km2"].tolist() == pytest.approx([5 * one, 2 * one])
    assert peaks["reports_within_bandwidth"].tolist() == [5, 2]
    assert peaks["top_category"].tolist() == ["Overflowing bin", "Broken bench"]
    assert peaks["near"].tolist() == ["Bin street 1", "Bench road 2"]
    s = result.summary
    assert s["peak_density_km2"] == pytest.approx(5 * one) and s["hotspots"] == 2
    assert s["peak_near"] == "Bin street 1" and s["peak_reports_within_bandwidth"] == 5


def test_bandwidth_effect():
    one = _reports([(1005, 1005)])
    narrow = report_hotspots(one, bandwidth_m=50, cell_m=10).summary["peak_density_km2"]
    wide = report_hotspots(one, bandwidth_m=100, cell_m=10).summary["peak_density_km2"]
    assert narrow == pytest.approx(4 * wide)  # 1 / h^2
    pair = _reports([(1005, 1005), (1125, 1005)])  # 120 m apart
    separate = report_hotspots(pair, bandwidth_m=50, cell_m=5)
    merged = report_hotspots(pair, bandwidth_m=150, cell_m=5)
    assert separate.summary["hotspots"] == 2 and merged.summary["hotspots"] == 1
    peak = merged.layers["peaks"].geometry.iloc[0]
    assert peak.x == pytest.approx(1065, abs=5)  # one peak half way


def test_gaussian_kernel():
    result = report_hotspots(_reports([(1005, 1005)]), bandwidth_m=40, cell_m=10, kernel="gaussian")
    mass = 1 - math.exp(-4.5)
    assert result.summary["peak_density_km2"] == pytest.approx(1e6 / (2 * math.pi * 40**2 * mass))
    grid, (x0, y0, cell) = density_grid(np.array([1005.0]), np.array([1005.0]), bandwidth_m=40, cell_m=10,
                                        kernel="gaussian")
    assert grid.sum() * 100 == pytest.approx(1, rel=3e-3)  # (cells at the cut circle)
    assert x0 + grid.shape[1] * cell <= 1005 + 120 + cell  # the grid reaches 3 sigma, no further
    assert kernel_values(np.array([119.0**2, 121.0**2]), 40, "gaussian")[1] == 0  # cut at 3 sigma


def test_density_grid_follows_the_raster_convention():
    grid, (x0, y0, cell) = density_grid(np.array([105.0]), np.array([305.0]), bandwidth_m=20, cell_m=10)
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    assert (x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell) == (105, 305)  # row 0 is the south


def test_counts_by_category_status_and_month_include_reports_without_coordinates():
    reports = _reports(
        [(0, 0), (10, 0), (20, 0), None, (30, 0)],
        service_name=["Litter", "Litter", "Broken_bench", "Litter", None],
        status=["open", "closed", "closed", "open", "open"],
        requested_datetime=["2025-01-31T23:30:00+02:00", "2025-02-01T00:30:00+02:00", "2025-04-03T10:00:00Z",
                            "2025-01-02T10:00:00+02:00", None])
    result = report_hotspots(reports, bandwidth_m=50, cell_m=10)
    s = result.summary
    assert s["reports_total"] == 5 and s["reports_used"] == 4 and s["reports_without_coordinates"] == 1
    assert s["category: Litter"] == 3 and s["category: Broken bench"] == 1 and s["category: (none)"] == 1
    assert s["status: open"] == 3 and s["status: closed"] == 2
    table = result.charts["reports_by_month"]
    # local months as written; March has no report and is listed with 0
    assert table["month"].tolist() == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert table["reports"].tolist() == [2, 1, 0, 1]
    assert table["open"].tolist() == [2, 0, 0, 0] and table["closed"].tolist() == [0, 1, 0, 1]


def test_category_filter():
    reports = _reports([(0, 0), (500, 0), (510, 0)], service_name=["Litter", "Broken bench", "Broken bench"])
    result = report_hotspots(reports, bandwidth_m=50, cell_m=10, category="Broken bench")
    s = result.summary
    assert s["reports_used"] == 2 and s["reports_other_categories"] == 1 and s["category: Broken bench"] == 2
    assert result.layers["density"].total_bounds[0] >= 440  # the litter report is not in the density
    with pytest.raises(CityDeskError, match="Categories in 'service_name': Broken bench, Litter"):
        report_hotspots(reports, category="Graffiti")


def test_bad_input():
    reports = _reports([(0, 0)])
    with pytest.raises(CityDeskError, match="metric CRS"):
        report_hotspots(reports.to_crs(4326))
    with pytest.raises(CityDeskError, match="none of the reports has coordinates"):
        report_hotspots(_reports([None, None]))
    with pytest.raises(CityDeskError, match="no column 'kind'"):
        report_hotspots(reports, category_field="kind")
    with pytest.raises(CityDeskError, match="empty"):
        run_analysis("report-hotspots", {"reports": reports.iloc[:0]})
    with pytest.raises(CityDeskError, match="out of range"):
        run_analysis("report-hotspots", {"reports": reports}, {"cell_m": 0})
    with pytest.raises(CityDeskError, match="cells"):  # a grid too fine for the area
        report_hotspots(_reports([(0, 0), (100_000, 100_000)]), bandwidth_m=10, cell_m=1)


class CancelAfter:
    def __init__(self, n: int):
        self.n, self.checks, self.fractions = n, 0, []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.checks >= self.n:
            raise Cancelled()


def _many(n: int = 2000) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    return _reports([tuple(p) for p in rng.uniform(0, 2000, size=(n, 2))])


def test_cancel(monkeypatch):
    monkeypatch.setattr(hotspots, "STENCIL_CHUNK", 10_000)
    feedback = CancelAfter(5)
    with pytest.raises(Cancelled):
        run_analysis("report-hotspots", {"reports": _many()}, feedback=feedback)
    assert feedback.checks == 5 and max(feedback.fractions) < 1.0


def test_progress_only_goes_up(monkeypatch):
    monkeypatch.setattr(hotspots, "STENCIL_CHUNK", 10_000)
    feedback = CancelAfter(10**9)
    run_analysis("report-hotspots", {"reports": _many()}, feedback=feedback)
    fractions = feedback.fractions
    assert len(fractions) > 20 and fractions[-1] == 1.0
    assert all(0.0 <= a <= b <= 1.0 for a, b in zip(fractions, fractions[1:], strict=False))


def test_sample_city_open311_file_end_to_end():
    reports = read_open311(SAMPLE)
    result = run_analysis("report-hotspots", {"reports": reports}, {"bandwidth_m": 150, "cell_m": 20})
    s = result.summary
    assert s["reports_total"] == 150 and s["reports_used"] == 145 and s["reports_without_coordinates"] == 5
    assert sum(v for k, v in s.items() if k.startswith("category: ")) == 150
    assert sum(v for k, v in s.items() if k.startswith("status: ")) == 150
    cells = result.layers["density"]
    assert cells.crs.is_projected and cells["density_km2"].min() >= 0.05 * s["peak_density_km2"]
    assert 100 < cells["density_km2"].sum() * 400 / 1e6 < 145  # most of the mass, the faint fringe left out
    assert result.charts["reports_by_month"]["reports"].sum() == 150
    assert 1 <= s["hotspots"] <= 10
