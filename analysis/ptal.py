"""``ptal`` — Public Transport Accessibility Level, Transport for London's method, from a GTFS feed.

The ``gtfs`` input is a stops layer read from a GTFS zip (``--layer gtfs=feed.zip`` on the command
line; in the window the layer added from the zip): its ``attrs["gtfs_path"]`` names the timetable,
which is read for the chosen date (:func:`layers.gtfs.read_feed`). Its stops are the service
access points (SAPs); a layer filtered to some stops uses only those. The method and its constants
are in :mod:`analysis.ptal_core`; the origins and walk distances in :mod:`analysis.ptal_walk`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.params import Param, Role
from analysis.partition_spec import PartitionSpec
from analysis.population import origins as building_points
from analysis.population import population_weights
from analysis.ptal_core import BANDS, Constants, accessibility, bands, parse_limits
from analysis.ptal_walk import cell_polygons, grid_cells, walk_pairs
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.gtfs import feed_for_layer
from layers.gtfs_layers import MODE_ORDER, parse_clock, stop_route_frequency
from layers.style import Style

#: TfL's PTAL colours as on its WebCAT maps: dark blue (poor) to red and purple (excellent).
PTAL_COLORS = {"0": "#08306B", "1a": "#1F5AA6", "1b": "#3A8FD9", "2": "#34B1C9", "3": "#52B85A",
               "4": "#E8D93A", "5": "#F2A33A", "6a": "#E0312B", "6b": "#7A1B5C"}
_RANGES = {"0": "AI 0", "1a": "AI 0.01-2.5", "1b": "AI 2.51-5", "2": "AI 5.01-10", "3": "AI 10.01-15",
           "4": "AI 15.01-20", "5": "AI 20.01-25", "6a": "AI 25.01-40", "6b": "AI over 40"}
PTAL_STYLE = Style(kind="categorized", field="ptal", stroke="#ffffff", stroke_width=0.0, fill_opacity=0.55,
                   categories=dict(PTAL_COLORS),
                   category_labels={b: f"PTAL {b} ({r})" for b, r in _RANGES.items()})


def ptal(gtfs: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None = None,
         buildings: gpd.GeoDataFrame | None = None, area: gpd.GeoDataFrame | None = None, *,
         date: str = "", start_time: str = "08:15", end_time: str = "09:15", origins: str = "grid",
         grid_m: float = 100.0, modes: str = "bus,tram,metro,rail", walk_speed_mps: float = 80.0 / 60.0,
         bus_max_walk_m: float = 640.0, rail_max_walk_m: float = 960.0, bus_reliability_min: float = 2.0,
         rail_reliability_min: float = 0.75, swt_factor: float = 0.5, edf_constant_min: float = 30.0,
         other_routes_weight: float = 0.5, band_limits: str = "0,2.5,5,10,15,20,25,40", max_snap_m: float = 100.0,
         population_field: str = "", feedback: Feedback | None = None) -> AnalysisResult:
    """PTAL of a grid (``grid_m`` cells over ``area``, else over the buildings, the streets or the
    stops) or of each building (``origins='buildings'``). All layers in one metric CRS.

    Returns layers ``ptal`` (cells or buildings with ``ai``, ``ptal`` band, ``ai_<mode>``; cells
    also ``residents``) and ``access_points`` (the stops that counted: routes, departures per
    hour), and a summary with the share of residents (of cells without buildings) in each band."""
    fb = ensure(feedback)
    params = dict(date=date, start_time=start_time, end_time=end_time, origins=origins, grid_m=grid_m, modes=modes,
                  walk_speed_mps=walk_speed_mps, bus_max_walk_m=bus_max_walk_m, rail_max_walk_m=rail_max_walk_m,
                  bus_reliability_min=bus_reliability_min, rail_reliability_min=rail_reliability_min,
                  swt_factor=swt_factor, edf_constant_min=edf_constant_min, other_routes_weight=other_routes_weight,
                  band_limits=band_limits, max_snap_m=max_snap_m, population_field=population_field)
    for role, gdf in (("gtfs", gtfs), ("streets", streets), ("buildings", buildings), ("area", area)):
        if gdf is not None and (gdf.crs is None or not gdf.crs.is_projected):
            raise CityDeskError("ptal needs layers in a metric CRS", source=role,
                                fix="Run it through citydesk run or the window, which reproject for you")
    c = Constants(walk_speed_mps, bus_max_walk_m, rail_max_walk_m, bus_reliability_min, rail_reliability_min,
                  swt_factor, edf_constant_min, other_routes_weight, parse_limits(band_limits))
    start_s, end_s = parse_clock(start_time), parse_clock(end_time)
    wanted = _modes(modes)
    if origins == "buildings" and buildings is None:
        raise CityDeskError("origins=buildings needs a buildings layer", fix="Give a buildings layer or use the grid")
    feed = feed_for_layer(gtfs, service_date=date or None, feedback=SubFeedback(fb, 0.0, 0.15))
    fb.progress(0.15, "Frequencies per stop and route")
    fb.check_cancelled()
    freq = stop_route_frequency(feed, start_s, end_s)
    freq = freq[freq["mode"].isin(wanted) & (freq["per_hour"] > 0)]
    saps, sap_routes = _access_points(gtfs, feed, freq)
    sap_points = saps.geometry.to_numpy()

    if origins == "buildings":
        points = building_points(buildings)
        cells = None
    else:
        bounds = _area_bounds(area, buildings, streets, sap_points)
        centres, ij, corner = grid_cells(bounds, grid_m, area)
        points = shapely.points(centres)
        cells = (centres, ij, corner)
    fb.check_cancelled()
    saps, sap_routes = _near(saps, sap_routes, points, c.reach_m)
    sap_points = saps.geometry.to_numpy()
    o, s, d, walk = walk_pairs(points, sap_points, c.reach_m, streets, max_snap_m=max_snap_m,
                               feedback=SubFeedback(fb, 0.2, 0.85))
    fb.progress(0.88, "Accessibility index")
    fb.check_cancelled()
    ai, per_mode = accessibility(len(points), o, s, d, sap_routes, c)
    ai[shapely.is_missing(points)] = np.nan
    band = bands(ai, c.limits)

    columns = {"ai": np.round(ai, 2), "ptal": band}
    columns |= {f"ai_{m}": np.round(v, 2) for m, v in sorted(per_mode.items(), key=lambda kv: _rank(kv[0]))}
    if cells is None:
        out = buildings.copy()
        for name, values in columns.items():
            out[name] = values
        weights, pop_col = population_weights(buildings, population_field)
        weights_band = band
    else:
        out = gpd.GeoDataFrame(columns, geometry=cell_polygons(cells[0], grid_m), crs=gtfs.crs)
        weights, pop_col, weights_band = _residents_by_cell(out, cells, grid_m, buildings, population_field)
    summary = _summary(feed, weights, weights_band, band, ai, pop_col, buildings is not None, cells is not None)
    summary |= walk | {"access_points": int(len(saps)), "routes_counted": int(sap_routes["route"].nunique()),
                       "origins": int(len(points))}
    fb.progress(1.0, "PTAL done")
    return AnalysisResult.make("ptal", {"ptal": out, "access_points": saps}, summary, params)


def _modes(text: str) -> set[str]:
    wanted = {m.strip().lower() for m in str(text).split(",") if m.strip()}
    unknown = wanted - set(MODE_ORDER)
    if unknown or not wanted:
        raise CityDeskError(f"modes '{text}' names no known mode" if not wanted else
                            f"unknown mode(s) {', '.join(sorted(unknown))}",
                            fix=f"Give modes separated by commas among {', '.join(MODE_ORDER)} "
                                "(TfL: bus,tram,metro,rail)")
    return wanted


def _rank(mode: str) -> int:
    return MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER)


def _access_points(gtfs: gpd.GeoDataFrame, feed, freq: pd.DataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The stops of the layer served in the window (SAPs, with ``routes``, ``modes``, ``per_hour``)
    and their routes (``sap`` position, ``route``, ``mode``, ``per_hour``)."""
    if "stop_id" not in gtfs.columns:
        raise CityDeskError("the 'gtfs' layer has no stop_id column", source="gtfs",
                            fix="Choose the stops layer added from the GTFS zip")
    index = pd.Index(feed.stops["stop_id"].astype(str)).drop_duplicates()
    pos = index.get_indexer(gtfs["stop_id"].astype(str))
    has_geom = ~(gtfs.geometry.isna() | gtfs.geometry.is_empty).to_numpy()
    layer_row = np.flatnonzero((pos >= 0) & has_geom)
    layer_row = layer_row[np.isin(pos[layer_row], freq["stop"].to_numpy())].astype(np.int64)
    sap_of_stop = pd.Series(np.arange(len(layer_row)), index=pos[layer_row])
    sap_of_stop = sap_of_stop[~sap_of_stop.index.duplicated()]
    rows = freq[freq["stop"].isin(sap_of_stop.index)]
    sap_routes = pd.DataFrame({"sap": sap_of_stop.reindex(rows["stop"]).to_numpy(), "route": rows["route"].to_numpy(),
                               "mode": rows["mode"].to_numpy(), "per_hour": rows["per_hour"].to_numpy()})
    names = feed.routes["route_short_name"].fillna(feed.routes["route_id"]).astype(str).to_numpy()
    grouped = sap_routes.assign(name=names[sap_routes["route"].to_numpy()]).groupby("sap")
    saps = gpd.GeoDataFrame({
        "stop_id": gtfs["stop_id"].astype(str).to_numpy()[layer_row],
        "stop_name": (gtfs["stop_name"].to_numpy()[layer_row] if "stop_name" in gtfs.columns
                      else feed.stops["stop_name"].to_numpy()[pos[layer_row]]),
        "routes": grouped["name"].agg(lambda v: ", ".join(sorted(v))).reindex(range(len(layer_row))).to_numpy(),
        "modes": grouped["mode"].agg(lambda v: ", ".join(m for m in MODE_ORDER if m in set(v)))
        .reindex(range(len(layer_row))).to_numpy(),
        "per_hour": np.round(grouped["per_hour"].sum().reindex(range(len(layer_row))).fillna(0).to_numpy(), 2),
    }, geometry=gtfs.geometry.to_numpy()[layer_row], crs=gtfs.crs)
    keep = saps["per_hour"].to_numpy() > 0
    if not keep.any():
        raise CityDeskError(f"no stop of the 'gtfs' layer is served in the time window on {feed.date.isoformat()}",
                            source="gtfs", fix="Check the date (the feed's service days), the time window and "
                            "the modes")
    return saps, sap_routes


def _near(saps: gpd.GeoDataFrame, sap_routes: pd.DataFrame, points: np.ndarray, reach_m: float):
    """Only the SAPs within ``reach_m`` of the origins' bounding box (the others cannot count)."""
    present = points[~shapely.is_missing(points)]
    if len(present) == 0:
        return saps.iloc[:0], sap_routes.iloc[:0]
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    x, y = saps.geometry.x.to_numpy(), saps.geometry.y.to_numpy()
    keep = np.flatnonzero((x >= xmin - reach_m) & (x <= xmax + reach_m) & (y >= ymin - reach_m) & (y <= ymax + reach_m))
    new = np.full(len(saps), -1, np.int64)
    new[keep] = np.arange(len(keep))
    routes = sap_routes[np.isin(sap_routes["sap"].to_numpy(), keep)]
    routes = routes.assign(sap=new[routes["sap"].to_numpy()])
    return saps.iloc[keep].reset_index(drop=True), routes


def _area_bounds(area, buildings, streets, sap_points) -> tuple[float, float, float, float]:
    for layer in (area, buildings, streets):  # the first with a located feature
        if layer is not None and len(layer) and np.isfinite(layer.total_bounds).all():
            return tuple(layer.total_bounds)
    return tuple(shapely.total_bounds(sap_points))


def _residents_by_cell(cells: gpd.GeoDataFrame, grid, grid_m: float, buildings, population_field: str):
    """Residents of each cell (buildings by their point) -> cells['residents']; weights per cell."""
    if buildings is None:
        return np.ones(len(cells)), None, cells["ptal"].to_numpy()
    weights, pop_col = population_weights(buildings, population_field)
    centres, ij, (x0, y0) = grid
    lookup = np.full((int(ij[:, 0].max()) + 1, int(ij[:, 1].max()) + 1) if len(ij) else (1, 1), -1, np.int64)
    lookup[ij[:, 0], ij[:, 1]] = np.arange(len(ij))
    pts = building_points(buildings)
    ok = ~shapely.is_missing(pts)
    x, y = shapely.get_x(pts[ok]), shapely.get_y(pts[ok])
    ci, cj = np.floor((x - x0) / grid_m).astype(np.int64), np.floor((y - y0) / grid_m).astype(np.int64)
    valid = (ci >= 0) & (cj >= 0) & (ci < lookup.shape[0]) & (cj < lookup.shape[1])
    cell_of = np.full(len(ci), -1, np.int64)
    cell_of[valid] = lookup[ci[valid], cj[valid]]
    residents = np.zeros(len(cells))
    inside = cell_of >= 0
    np.add.at(residents, cell_of[inside], weights[ok][inside])
    cells["residents"] = np.round(residents, 1)
    return residents, pop_col, cells["ptal"].to_numpy()


def _summary(feed, weights, weights_band, band, ai, pop_col, has_buildings: bool, grid: bool) -> dict:
    total = float(np.nansum(weights))
    of = "residents" if has_buildings else ("grid cells" if grid else "buildings")
    finite = ai[np.isfinite(ai)]
    out = {"mean_ai": float(finite.mean()) if len(finite) else None, "median_band": _median_band(band),
           "service_date": feed.date.isoformat(), "shares_of": of}
    for b in BANDS:
        share = float(weights[weights_band == b].sum() / total) if total > 0 else 0.0
        out[f"ptal_{b}_share"] = share
    if has_buildings:
        out["residents_total"] = total
        out["population_field"] = pop_col
    out["max_ai"] = float(finite.max()) if len(finite) else None
    return out


def _median_band(band: np.ndarray) -> str | None:
    codes = np.array([BANDS.index(b) for b in band if b is not None])
    return BANDS[int(np.sort(codes)[len(codes) // 2])] if len(codes) else None


def headline(summary) -> str:
    """'Median PTAL 3; 42.0 % of residents at PTAL 4 or better, 8.0 % at 1b or worse (timetable of 2025-03-12)'."""
    def share(names) -> float:
        return sum(float(summary.get(f"ptal_{b}_share") or 0.0) for b in names)

    of = summary.get("shares_of", "residents")
    text = f"Median PTAL {summary.get('median_band') or '—'}; {share(BANDS[5:]) * 100:.1f} % of {of} at PTAL 4 or "
    text += "better"
    if share(BANDS[:3]) > 0:
        text += f", {share(BANDS[:3]) * 100:.1f} % at 1b or worse"
    return text + f" (timetable of {summary['service_date']})"


SPEC = Analysis(
    id="ptal",
    title="Public transport accessibility (PTAL)",
    description="Transport for London's Public Transport Accessibility Level from a GTFS timetable: walk to the "
                "stops within 640 m (bus) or 960 m (rail, metro, tram), waiting time from the AM-peak frequency, "
                "bands 0 (worst) to 6b (best), on a grid or per building.",
    roles=(
        Role("gtfs", ("point",), help="the stops layer added from a GTFS zip: its timetable is used",
             needs_attr="gtfs_path"),
        Role("streets", ("line",), required=False, help="walk along these streets; none: straight-line distances"),
        Role("buildings", ("polygon", "point"), required=False,
             help="homes: residents per PTAL band; with origins=buildings, PTAL per building"),
        Role("area", ("polygon",), required=False, help="area of interest for the grid (default: the buildings' "
             "extent, else the streets', else the stops')"),
    ),
    params=(
        Param("date", "str", "", "service date YYYY-MM-DD (empty: the feed's busiest day)"),
        Param("start_time", "str", "08:15", "start of the time window HH:MM (TfL: AM peak 08:15)"),
        Param("end_time", "str", "09:15", "end of the time window HH:MM (TfL: 09:15)"),
        Param("origins", "choice", "grid", "where PTAL is computed: grid cells (TfL) or each building", "",
              choices=("grid", "buildings")),
        Param("grid_m", "float", 100.0, "grid cell size (TfL: 100 m)", "m", 10, 5000),
        Param("modes", "str", "bus,tram,metro,rail", "modes counted, separated by commas (TfL: bus,tram,metro,rail; "
              "also ferry, aerial, funicular, other)"),
        Param("walk_speed_mps", "float", 80.0 / 60.0, "walking speed (TfL: 80 m/min = 1.333 m/s)", "m/s", 0.1, 5),
        Param("bus_max_walk_m", "float", 640.0, "bus stops count within this walk (TfL: 640 m, 8 min)", "m", 0, 5000),
        Param("rail_max_walk_m", "float", 960.0, "rail, metro, tram (and other non-bus) stops count within this walk "
              "(TfL: 960 m, 12 min)", "m", 0, 5000),
        Param("bus_reliability_min", "float", 2.0, "minutes added to the bus waiting time (TfL: 2.0)", "min", 0, 60),
        Param("rail_reliability_min", "float", 0.75, "minutes added to other modes' waiting time (TfL: 0.75)", "min",
              0, 60),
        Param("swt_factor", "float", 0.5, "scheduled waiting time = factor × 60 / departures per hour (TfL: 0.5)",
              "", 0.01, 10),
        Param("edf_constant_min", "float", 30.0, "equivalent doorstep frequency = this / total access time (TfL: 30)",
              "min", 0.01, 1000),
        Param("other_routes_weight", "float", 0.5, "weight of a mode's routes other than its best (TfL: 0.5)", "",
              0, 1),
        Param("band_limits", "str", "0,2.5,5,10,15,20,25,40", "AI limits of the bands 0, 1a ... 6a (TfL's)"),
        Param("max_snap_m", "float", 100.0, "points farther than this from every street are measured in a straight "
              "line", "m", 0, 5000),
        Param("population_field", "str", "", "column with residents per building (empty: found automatically)"),
    ),
    run=ptal,
    key_figures=("median_band", "mean_ai", "ptal_4_share", "ptal_5_share", "ptal_6a_share", "ptal_6b_share",
                 "service_date", "residents_total"),
    headline=headline,
    sources=("Transport for London (2015), Assessing transport connectivity in London; PTAL methodology (2010)",),
    result_styles={"ptal": PTAL_STYLE,
                   "access_points": Style(fill="#ffffff", stroke="#222222", stroke_width=1.0, size=5.0)},
    partition=PartitionSpec(  # issue 10: exact tiles, per building or on the grid (analysis.partition_ptal)
        demand="buildings", context=("streets",), adapter="analysis.partition_ptal", global_roles=("gtfs",),
        halo_m=lambda p: __import__("analysis.partition_ptal", fromlist=["_"]).halo_m(p)),
)
