"""``report-hotspots`` — where citizen reports concentrate: a kernel density surface of the reports
(reports per km²) on a grid of square cells, its peaks, and counts per category, status and month.

Kernel density: each report spreads one unit over the plane with a kernel of bandwidth
``bandwidth_m``; the density of a cell is the sum of the kernels at its centre, in reports per km².

* ``quartic`` (biweight, the default, as QGIS's heat map): ``3 / (π h²) · (1 − d²/h²)²`` for
  ``d < h`` and 0 beyond, ``h = bandwidth_m`` — a report counts only within the bandwidth.
* ``gaussian``: ``1 / (2π σ²) · exp(−d² / 2σ²)``, ``σ = bandwidth_m``, cut at 3σ (and divided by
  the 98.9 % of its mass inside, so each report still adds one).

The grid covers the reports plus the kernel's reach, snapped to multiples of ``cell_m``. Over the
whole grid (:func:`density_grid`) a cell's density times its area sums to the number of reports (up
to the discretisation, small when ``cell_m`` is well below the bandwidth). The ``density`` layer
leaves out the cells below ``SHOW_SHARE`` (5 %) of the highest density, so the map shows where
reports concentrate rather than a pale wash over the whole area.

Peaks: cells that are the highest within one bandwidth, at least ``PEAK_SHARE`` of the highest
density, at most ``MAX_PEAKS``, ranked by density; each with the reports within one bandwidth of
its centre, their most frequent category and the address of the nearest report.

Counts by category, status and month include the reports without coordinates (they are not on
the map but were reported). Months are the month of ``requested_month`` when the layer has it
(:mod:`layers.open311` writes the month in the server's local time), else of the request time as
written. Each report is read as it is: category and status text are not interpreted.
"""

from __future__ import annotations

import math
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree

from analysis.params import Param, Role
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.open311 import MONTH_FIELD, local_month
from layers.raster import cells_layer, grid_for, raster_style
from layers.style import Style

KERNELS = ("quartic", "gaussian")
GAUSS_CUT = 3.0  # gaussian kernel cut at this many sigma
PEAK_SHARE = 0.25
SHOW_SHARE = 0.05  # cells below this share of the highest density are left out of the layer (no data)
MAX_PEAKS = 10
MAX_LISTED = 12  # categories listed one by one in the summary; the rest are summed as "(other)"
STENCIL_CHUNK = 2_000_000  # kernel evaluations per chunk (a few arrays of 16 MB)
CATEGORY_FIELDS = ("service_name", "service_code", "category", "type")
DATE_FIELDS = ("requested_datetime", "date", "time", "created")


def report_hotspots(reports: gpd.GeoDataFrame, *, bandwidth_m: float = 150.0, cell_m: float = 20.0,
                    kernel: str = "quartic", category: str = "", category_field: str = "",
                    status_field: str = "status", feedback: Feedback | None = None) -> AnalysisResult:
    """Kernel density of ``reports`` (points in a metric CRS) on ``cell_m`` metre cells with a
    ``bandwidth_m`` metre kernel; ``category`` keeps only the reports whose ``category_field``
    (default: ``service_name``, else ``service_code``) equals it. Returns layers ``density``
    (cells, ``density_km2`` in reports per km²) and ``peaks`` (points), a summary with counts per
    category (``category: NAME``), status (``status: NAME``) and the peak figures, and the chart
    ``reports_by_month``."""
    fb = ensure(feedback)
    fb.check_cancelled()
    if reports.crs is None or not reports.crs.is_projected:
        raise CityDeskError("report-hotspots needs the reports in a metric CRS", source="reports",
                            fix="Run it through citydesk run or the window, which reproject for you")
    if kernel not in KERNELS:
        raise CityDeskError(f"unknown kernel {kernel!r}", fix=f"Choose one of {', '.join(KERNELS)}")
    if not (bandwidth_m > 0 and cell_m > 0):
        raise CityDeskError("the bandwidth and the cell size must be positive numbers of metres",
                            fix="Give e.g. bandwidth_m=150 and cell_m=20")
    cat_col = _column(reports, category_field, CATEGORY_FIELDS, "category_field")
    status_col = _column(reports, status_field, ("status",), "status_field") if status_field else None
    chosen = reports
    if category:
        if cat_col is None:
            raise CityDeskError("a category filter needs a category column", source="reports",
                                fix="Name the column with category_field, or leave category empty")
        keep = (reports[cat_col].astype("str").str.strip() == category.strip()).to_numpy()
        if not keep.any():
            known = ", ".join(sorted(reports[cat_col].dropna().astype("str").unique())[:20])
            raise CityDeskError(f"no report has the category {category!r}", source="reports",
                                fix=f"Categories in '{cat_col}': {known}")
        chosen = reports[keep]
    geoms = chosen.geometry.to_numpy()
    located = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    points = geoms[located]
    if len(points) and (shapely.get_type_id(points) != 0).any():  # multipoints: a point on each
        points = shapely.point_on_surface(points)
    if len(points) == 0:
        raise CityDeskError("none of the reports has coordinates, so there is nothing to map", source="reports",
                            fix="Check the lat/long of the reports, or the category filter")
    x, y = shapely.get_x(points), shapely.get_y(points)
    fb.progress(0.05, "Kernel density")
    grid, (x0, y0, cell) = density_grid(x, y, bandwidth_m=bandwidth_m, cell_m=cell_m, kernel=kernel, feedback=fb)
    fb.check_cancelled()
    fb.progress(0.8, "Peaks")
    density_km2 = grid * 1e6
    shown = density_km2 >= SHOW_SHARE * np.nanmax(density_km2)
    cells = cells_layer(np.where(shown & (density_km2 > 0), density_km2, np.nan), x0, y0, cell, reports.crs,
                        name="density_km2")
    peaks = find_peaks(density_km2, x0, y0, cell, bandwidth_m, reports.crs)
    peaks = _describe_peaks(peaks, chosen[located], points, bandwidth_m, cat_col)
    fb.progress(0.9, "Counts")
    summary: dict[str, object] = {"peak_density_km2": float(np.nanmax(density_km2))}
    if len(peaks):
        for key, column in (("peak_near", "near"), ("peak_top_category", "top_category")):
            if column in peaks.columns:
                summary[key] = peaks[column].iloc[0]
        summary["peak_reports_within_bandwidth"] = int(peaks["reports_within_bandwidth"].iloc[0])
    summary.update({
        "hotspots": int(len(peaks)),
        "reports_total": int(len(reports)),
        "reports_used": int(len(points)),
        "reports_without_coordinates": int((~located).sum()),
    })
    if category:
        summary["reports_other_categories"] = int(len(reports) - len(chosen))
    summary.update(_counts(chosen, cat_col, "category"))
    if status_col is not None:
        summary.update(_counts(chosen, status_col, "status"))
    summary["category_field"] = cat_col or ""
    charts = {}
    categories = {k.split(": ", 1)[1]: v for k, v in summary.items() if k.startswith("category: ")}
    if len(categories) > 1:
        table = pd.DataFrame({"category": list(categories), "reports": list(categories.values())})
        table.attrs.update(kind="barh", title="Reports by category")
        charts["reports_by_category"] = table
    months = by_month(chosen, status_col)
    if len(months):
        charts["reports_by_month"] = months
    params = {"bandwidth_m": bandwidth_m, "cell_m": cell_m, "kernel": kernel, "category": category or "all",
              "category_field": category_field or cat_col or "none", "status_field": status_field or "none"}
    fb.progress(1.0, "Hotspots done")
    return AnalysisResult.make("report-hotspots", {"density": cells, "peaks": peaks}, summary, params,
                               charts=charts)


def density_grid(x: np.ndarray, y: np.ndarray, *, bandwidth_m: float, cell_m: float, kernel: str = "quartic",
                 feedback: Feedback | None = None) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Kernel density (per m²) of the points ``x, y`` (metres) at the centres of a grid of
    ``cell_m`` cells: ``(values, (x0, y0, cell_m))`` with values[i, j] the cell whose south-west
    corner is ``(x0 + j·cell_m, y0 + i·cell_m)`` (the :mod:`layers.raster` convention). Exact
    kernel values, evaluated only on the cells within the kernel's reach of each point."""
    fb = ensure(feedback)
    reach = bandwidth_m if kernel == "quartic" else GAUSS_CUT * bandwidth_m
    x0, y0, rows, cols = grid_for((x.min() - reach, y.min() - reach, x.max() + reach, y.max() + reach), cell_m)
    k = int(math.ceil(reach / cell_m)) + 1
    di, dj = (a.ravel() for a in np.mgrid[-k:k + 1, -k:k + 1])
    pi = np.floor((y - y0) / cell_m).astype(np.int64)
    pj = np.floor((x - x0) / cell_m).astype(np.int64)
    total = np.zeros(rows * cols)
    chunk = max(1, STENCIL_CHUNK // len(di))
    for start in range(0, len(x), chunk):
        fb.check_cancelled()
        sl = slice(start, start + chunk)
        ii = pi[sl, None] + di[None, :]
        jj = pj[sl, None] + dj[None, :]
        d2 = (x0 + (jj + 0.5) * cell_m - x[sl, None]) ** 2 + (y0 + (ii + 0.5) * cell_m - y[sl, None]) ** 2
        w = kernel_values(d2, bandwidth_m, kernel)
        ok = (w > 0) & (ii >= 0) & (ii < rows) & (jj >= 0) & (jj < cols)
        total += np.bincount((ii * cols + jj)[ok], weights=w[ok], minlength=rows * cols)
        fb.progress(0.05 + 0.75 * min(1.0, (start + chunk) / len(x)), "Kernel density")
    return total.reshape(rows, cols), (x0, y0, float(cell_m))


def kernel_values(d2: np.ndarray, bandwidth_m: float, kernel: str = "quartic") -> np.ndarray:
    """The kernel (per m², integrating to 1 over the plane) at squared distances ``d2`` (m²)."""
    h2 = bandwidth_m * bandwidth_m
    if kernel == "quartic":
        u = 1.0 - d2 / h2
        return np.where(u > 0, 3.0 / (math.pi * h2) * u * u, 0.0)
    mass = 1.0 - math.exp(-GAUSS_CUT ** 2 / 2.0)
    inside = d2 <= (GAUSS_CUT * bandwidth_m) ** 2
    return np.where(inside, np.exp(-d2 / (2.0 * h2)) / (2.0 * math.pi * h2 * mass), 0.0)


def find_peaks(density: np.ndarray, x0: float, y0: float, cell_m: float, bandwidth_m: float, crs,
               *, share: float = PEAK_SHARE, limit: int = MAX_PEAKS) -> gpd.GeoDataFrame:
    """Local maxima of ``density`` at least ``share`` of its maximum, no two within
    ``bandwidth_m`` of each other (the higher kept), ranked: points at the cell centres with
    ``rank`` and ``density_km2`` (the grid's own values)."""
    top = float(np.nanmax(density)) if density.size else 0.0
    empty = gpd.GeoDataFrame({"rank": pd.Series([], dtype="int64"), "density_km2": pd.Series([], dtype=float)},
                             geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    if not top > 0:
        return empty
    filled = np.nan_to_num(density, nan=0.0)
    local = (filled == ndimage.maximum_filter(filled, size=3, mode="constant", cval=0.0)) & (filled >= share * top)
    ii, jj = np.nonzero(local)
    order = np.argsort(-filled[ii, jj], kind="stable")
    cx, cy = x0 + (jj[order] + 0.5) * cell_m, y0 + (ii[order] + 0.5) * cell_m
    kept: list[int] = []
    for n in range(len(order)):  # at most a few hundred candidates: greedy suppression
        if all((cx[n] - cx[m]) ** 2 + (cy[n] - cy[m]) ** 2 >= bandwidth_m ** 2 for m in kept):
            kept.append(n)
            if len(kept) == limit:
                break
    kept_idx = np.asarray(kept, dtype=int)
    values = filled[ii[order][kept_idx], jj[order][kept_idx]]
    return gpd.GeoDataFrame({"rank": np.arange(1, len(kept_idx) + 1), "density_km2": values},
                            geometry=gpd.points_from_xy(cx[kept_idx], cy[kept_idx]), crs=crs)


def _describe_peaks(peaks: gpd.GeoDataFrame, located: gpd.GeoDataFrame, points: np.ndarray, bandwidth_m: float,
                    cat_col: str | None) -> gpd.GeoDataFrame:
    """Reports within one bandwidth of each peak, their most frequent category, the nearest address."""
    out = peaks.copy()
    if not len(out):
        out["reports_within_bandwidth"] = pd.Series([], dtype="int64")
        return out
    tree = cKDTree(np.column_stack([shapely.get_x(points), shapely.get_y(points)]))
    centres = np.column_stack([shapely.get_x(out.geometry.to_numpy()), shapely.get_y(out.geometry.to_numpy())])
    near = tree.query_ball_point(centres, r=bandwidth_m)
    out["reports_within_bandwidth"] = [len(n) for n in near]
    if cat_col is not None:
        cats = located[cat_col].astype("str").to_numpy()
        out["top_category"] = [_most_common(cats[n]) for n in near]
    if "address" in located.columns:
        _, nearest = tree.query(centres)
        out["near"] = located["address"].astype("str").to_numpy()[nearest]
    return out


def _most_common(values: np.ndarray) -> str | None:
    values = [v for v in values if isinstance(v, str) and v and v != "nan"]
    if not values:
        return None
    counts = pd.Series(values).value_counts(sort=True)
    return str(counts.index[0])


def _column(gdf: gpd.GeoDataFrame, given: str, usual: tuple[str, ...], param: str) -> str | None:
    """``given`` if set (an error when missing), else the first of ``usual`` in ``gdf``, else None."""
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    if given:
        if given not in columns:
            raise CityDeskError(f"the reports layer has no column '{given}' ({param})", source="reports",
                                fix=f"Columns: {', '.join(map(str, columns[:30])) or '(none)'}")
        return given
    lower = {str(c).lower(): c for c in columns}
    return next((str(lower[n]) for n in usual if n in lower), None)


def _counts(gdf: gpd.GeoDataFrame, column: str | None, prefix: str) -> dict[str, int]:
    """``{"category: Overflowing bin": 39, ...}`` most frequent first; beyond ``MAX_LISTED`` the
    rest as ``(other)``; missing values as ``(none)``. Names are shortened to 60 characters and
    their underscores shown as spaces (the key is a label, the value a count)."""
    if column is None:
        return {}
    text = gdf[column].astype("str").str.strip()
    text = text.where(gdf[column].notna() & (text != ""), "(none)")
    counts = text.value_counts(sort=True)
    out: dict[str, int] = {}
    for name, n in counts.iloc[:MAX_LISTED].items():
        label = " ".join(str(name).replace("_", " ").split())[:60]
        key = f"{prefix}: {label}"
        out[key] = out.get(key, 0) + int(n)
    if len(counts) > MAX_LISTED:
        out[f"{prefix}: (other)"] = int(counts.iloc[MAX_LISTED:].sum())
    return out


def by_month(gdf: gpd.GeoDataFrame, status_col: str | None) -> pd.DataFrame:
    """Reports per month (``YYYY-MM``, every month from the first to the last, zeros included),
    with one column per status when there are at most four statuses."""
    if MONTH_FIELD in gdf.columns:
        month = gdf[MONTH_FIELD].astype("str")
        month = month.where(gdf[MONTH_FIELD].notna(), None)
    else:
        column = next((c for c in DATE_FIELDS if c in gdf.columns), None)
        if column is None:
            return pd.DataFrame()
        month = local_month(gdf[column])
    present = month.notna().to_numpy()
    if not present.any():
        return pd.DataFrame()
    months = pd.Series(month[present].to_numpy(dtype=object))
    counts = months.value_counts()
    labels = pd.period_range(min(counts.index), max(counts.index), freq="M").strftime("%Y-%m")
    table = pd.DataFrame({"month": list(labels)})
    table["reports"] = counts.reindex(labels, fill_value=0).to_numpy(dtype=int)
    if status_col is not None:
        status = pd.Series(gdf[status_col].astype("str").str.strip().str.lower().to_numpy(dtype=object)[present])
        named = status.notna() & (status != "") & (status != "nan")
        names = sorted(status[named].unique())
        if 0 < len(names) <= 4:
            cross = pd.crosstab(months[named], status[named])
            for name in names:
                table[name] = cross[name].reindex(labels, fill_value=0).to_numpy(dtype=int)
    table.attrs.update(title="Reports per month (local time)", x_label="", y_label="reports")
    return table


def headline(summary) -> str:
    """'10 hotspots in 145 reports; the densest near Eteläesplanadi 24: 427 reports/km², mostly
    broken bench'."""
    n = summary["hotspots"]
    text = f"{n} hotspot{'s' if n != 1 else ''} in {summary['reports_used']} reports"
    if n and summary.get("peak_near"):
        text += f"; the densest near {summary['peak_near']}: {summary['peak_density_km2']:.0f} reports/km²"
    elif n:
        text += f"; the densest {summary['peak_density_km2']:.0f} reports/km²"
    if n and summary.get("peak_top_category"):
        text += f", mostly {str(summary['peak_top_category']).lower()}"
    return text


SPEC = Analysis(
    id="report-hotspots",
    partition_note="Getis-Ord Gi* compares each cell with the mean and spread of the whole area (a global statistic)",
    title="Citizen report hotspots",
    description="Where citizen reports (Open311) concentrate: a kernel density map in reports per km², its "
                "peaks, and counts per category, status and month.",
    roles=(Role("reports", ("point",), help="citizen reports (Open311 GeoReport v2 or any point layer)"),),
    params=(
        Param("bandwidth_m", "float", 150.0, "kernel radius (quartic) or standard deviation (gaussian): "
              "larger smooths more", "m", 1, 20_000),
        Param("cell_m", "float", 20.0, "size of the density grid's square cells", "m", 1, 5_000),
        Param("kernel", "choice", "quartic", "quartic counts a report only within the bandwidth; gaussian "
              "spreads it wider", choices=KERNELS),
        Param("category", "str", "", "only reports of this category (empty: all); a run without it lists the "
              "categories"),
        Param("category_field", "str", "", "column with the category (empty: service_name, else service_code)"),
        Param("status_field", "str", "status", "column with the status (open/closed); empty: no status counts"),
    ),
    run=report_hotspots,
    key_figures=("hotspots", "peak_density_km2", "peak_near", "peak_top_category", "peak_reports_within_bandwidth",
                 "reports_used", "reports_without_coordinates"),
    headline=headline,
    sources=("Silverman (1986), Density Estimation for Statistics and Data Analysis: quartic (biweight) kernel",
             "Open311 GeoReport v2 (open311.org)"),
    result_styles={
        "density": replace(raster_style("density_km2", unit="reports/km²", ramp="YlOrRd", classes=7,
                                        scheme="equal_interval"), fill_opacity=0.6),
        "peaks": Style(fill="#ffffff", stroke="#7f0000", stroke_width=2.0, size=11.0, label_field="rank",
                       label_size=12.0, label_color="#7f0000"),
    },
)
