"""``isochrones`` — walking isochrones: the area reachable on foot from chosen points within
given minutes, at an older adult's walking speed by default.

Distance convention (:mod:`analysis.network`): the straight snap leg from the origin to the
nearest point of the nearest street, then along the streets. A band of ``m`` minutes at ``v``
m/s is ``m × 60 × v`` metres of walking; the area is the streets reachable within it (edges cut
at the exact reach) widened by ``buffer_m`` on each side, plus the origin's own snap leg.
Default speed 0.8 m/s: people over 65 walk 0.8 (women) to 0.9 m/s (men) on average (Asher et
al. 2012, *Age and Ageing* 41(5)).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import shapely

from analysis.network import build_network, isochrones, snap_points
from analysis.params import Param, Role
from analysis.population import origins as origin_points
from analysis.registry import Analysis
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.style import Style

MAX_BANDS = 8
MAX_MINUTES = 180.0
LABEL_COLUMNS = ("name", "nimi", "label", "title", "station_id", "id", "osm_id")


def parse_minutes(text: object) -> list[float]:
    """``"5,10,15"`` -> ``[5.0, 10.0, 15.0]``: numbers separated by commas, semicolons or spaces,
    each above 0 and at most 180, at most 8 of them, sorted, repeats dropped."""
    items = [t for t in re.split(r"[,;\s]+", str(text if text is not None else "").strip()) if t]
    fix = f"Give up to {MAX_BANDS} walking times in minutes separated by commas, e.g. 5,10,15"
    if not items:
        raise CityDeskError("parameter minutes: no walking times given", fix=fix)
    values = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise CityDeskError(f"parameter minutes: {item!r} is not a number of minutes", fix=fix) from None
        if not np.isfinite(value) or value <= 0 or value > MAX_MINUTES:
            raise CityDeskError(f"parameter minutes: {item} is not between 0 and {MAX_MINUTES:g} minutes", fix=fix)
        values.append(value)
    values = sorted(set(values))
    if len(values) > MAX_BANDS:
        raise CityDeskError(f"parameter minutes: {len(values)} walking times are too many", fix=fix)
    return values


def band_labels(bands_min: list[float]) -> list[str]:
    """Legend labels of the rings, ``"0–5 min"``, ``"5–10 min"``, ``"10–15 min"`` (a categorized
    legend orders text with numbers by number, so the bands stay in order)."""
    lows = [0.0, *bands_min[:-1]]
    return [f"{low:g}–{high:g} min" for low, high in zip(lows, bands_min, strict=True)]


def walking_isochrones(streets: gpd.GeoDataFrame, origins: gpd.GeoDataFrame, *, walk_speed_mps: float = 0.8,
                       minutes: str = "5,10,15", max_snap_m: float = 100.0, min_piece_m: float = 500.0,
                       buffer_m: float = 25.0, feedback: Feedback | None = None) -> AnalysisResult:
    """Walking isochrones from each feature of ``origins`` over the ``streets`` network (both in
    one metric CRS). Result layers:

    * ``isochrones``: per origin and time band the ring reached in more than ``from_minutes`` and
      at most ``minutes`` (so an origin's bands do not hide each other on the map); columns
      ``source`` (row of the origin), ``label``, ``band`` (the legend text, e.g. "5–10 min"),
      ``from_minutes``, ``minutes``, ``band_m`` (metres walked in ``minutes``) and ``area_m2`` (the
      whole area reachable within ``minutes``, the inner bands included); larger bands first, so
      the smaller bands of one origin are drawn on top of the larger ones of its neighbours.
    * ``origins_snapped``: the origins moved onto the network, with ``snapped`` and ``snap_m``; an
      origin farther than ``max_snap_m`` from every street stays where it is, ``snapped`` False,
      and gets no isochrone.

    Origins skip small disconnected pieces of network (``min_piece_m``, see
    :func:`analysis.network.snap_points`): a pharmacy beside a 20 m courtyard path starts from the
    nearest street of the main network instead, if one lies within ``max_snap_m``.
    """
    fb = ensure(feedback)
    fb.check_cancelled()
    bands_min = parse_minutes(minutes)
    if not np.isfinite(walk_speed_mps) or walk_speed_mps <= 0:
        raise CityDeskError(f"parameter walk_speed_mps: {walk_speed_mps!r} is not a walking speed",
                            fix="Give a speed above 0 m/s, e.g. 0.8 for older adults")
    _check_crs(streets, origins)
    network = build_network(streets, feedback=SubFeedback(fb, 0.0, 0.3))
    fb.check_cancelled()
    fb.progress(0.3, "Placing the origins on the network")
    points = origin_points(origins)
    snapped = snap_points(network, points, max_snap_m=max_snap_m, min_piece_m=min_piece_m)
    bands_m = [m * 60.0 * walk_speed_mps for m in bands_min]
    areas = isochrones(network, snapped, bands_m, buffer_m=buffer_m, feedback=SubFeedback(fb, 0.35, 0.95))
    fb.check_cancelled()
    k = len(origins)
    labels = _labels(origins)
    on = snapped.reachable
    legs = np.full(k, None, dtype=object)
    legs[on] = shapely.linestrings(np.stack([shapely.get_coordinates(points[on]), snapped.xy[on]], axis=1))
    geoms = areas.geometry.to_numpy().copy()
    src = areas["source"].to_numpy()
    with_leg = on[src] & (snapped.snap_m[src] < areas["band_m"].to_numpy()) & ~shapely.is_empty(geoms)
    geoms[with_leg] = shapely.union(geoms[with_leg], shapely.buffer(legs[src[with_leg]], buffer_m, quad_segs=4))
    whole_area = shapely.area(geoms)
    nb = len(bands_min)
    outer = np.flatnonzero(np.tile(np.arange(nb), k) > 0)  # rows are origin by origin, bands ascending
    rings = geoms.copy()
    rings[outer] = shapely.difference(geoms[outer], geoms[outer - 1])
    table = gpd.GeoDataFrame({"source": src, "label": labels[src],
                              "band": np.tile(np.asarray(band_labels(bands_min), dtype=object), k),
                              "from_minutes": np.tile(np.r_[0.0, bands_min[:-1]], k),
                              "minutes": np.tile(np.asarray(bands_min, dtype=float), k),
                              "band_m": areas["band_m"].to_numpy(), "area_m2": whole_area},
                             geometry=rings, crs=network.crs)
    table = table[~shapely.is_empty(rings)].sort_values(["minutes", "source"], ascending=[False, True],
                                                          kind="stable").reset_index(drop=True)
    out_origins = origins.copy()
    geom_col = out_origins.geometry.name
    moved = np.asarray(out_origins.geometry.to_numpy(), dtype=object).copy()
    moved[on] = shapely.points(snapped.xy[on])
    out_origins[geom_col] = gpd.GeoSeries(moved, index=origins.index, crs=origins.crs)
    out_origins["source"] = np.arange(k)
    out_origins["snapped"] = on
    out_origins["snap_m"] = snapped.snap_m
    off_main = on & (network.component[network.edge_u[np.maximum(snapped.edge, 0)]] != 0)
    summary = {
        "origins_total": int(k),
        "origins_snapped": int(on.sum()),
        "origins_unreachable": int(k - on.sum()),
        "origins_off_main_network": int(off_main.sum()),
        "origins_moved_off_small_pieces": int(snapped.moved.sum()) if snapped.moved is not None else 0,
        "walk_speed_mps": float(walk_speed_mps),
        "minutes": ", ".join(f"{m:g}" for m in bands_min),
        "bands_m": ", ".join(f"{b:.0f}" for b in bands_m),
        "network_nodes": int(network.report["nodes"]),
        "network_edges": int(network.report["edges"]),
        "network_components": int(network.report["components"]),
        "network_largest_share": float(network.report["largest_share"]),
        "network_length_km": float(network.report["length_km"]),
        "network_joined_endpoints": int(network.report["joined_endpoints"]),
        "network_crossings_noded": int(network.report["crossings_noded"]),
    }
    for m in bands_min:
        rows = table[table["minutes"] == m]
        summary[f"mean_area_km2_{m:g}min"] = float(rows["area_m2"].mean() / 1e6) if len(rows) else 0.0
    params = {"walk_speed_mps": walk_speed_mps, "minutes": str(minutes), "max_snap_m": max_snap_m,
              "min_piece_m": min_piece_m, "buffer_m": buffer_m}
    fb.progress(1.0, "Isochrones done")
    return AnalysisResult.make("isochrones", {"isochrones": table, "origins_snapped": out_origins}, summary, params)


def _check_crs(streets: gpd.GeoDataFrame, origins: gpd.GeoDataFrame) -> None:
    for role, gdf in (("streets", streets), ("origins", origins)):
        if gdf.crs is None or not gdf.crs.is_projected:
            raise CityDeskError("isochrones need layers in a metric CRS", source=role,
                                fix="Run it through citydesk run or the window, which reproject for you")
    if streets.crs != origins.crs:
        raise CityDeskError(f"the origins are in {origins.crs.name}, the streets in {streets.crs.name}",
                            source="origins", fix="Reproject both to one metric CRS (run_analysis does)")


def _labels(origins: gpd.GeoDataFrame) -> np.ndarray:
    """A label per origin: its name (or id) where it has one, else its number from 1."""
    out = np.array([str(i + 1) for i in range(len(origins))], dtype=object)
    lower = {str(c).lower(): c for c in origins.columns if c != origins.geometry.name}
    for name in LABEL_COLUMNS:
        if name in lower:
            values = origins[lower[name]]
            has = values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
            out[has] = values[has].astype(str).to_numpy()
            break
    return out


#: Colours of the usual bands by their upper end in minutes (YlGnBu: darkest nearest), so that a
#: 10-minute band looks the same on every map; other bands take the default palette.
BAND_COLORS = {5: "#13266f", 10: "#2072b1", 15: "#59bfc0", 20: "#abdeb7", 30: "#d6efb3", 45: "#f1faba", 60: "#fbfdd0"}
BAND_STYLE = {f"{low:g}–{high:g} min": colour  # the labels as band_labels writes them
              for low in (0, *BAND_COLORS) for high, colour in BAND_COLORS.items() if low < high}


def headline(summary) -> str:
    """'6 origins, walking 5, 10, 15 min at 0.8 m/s (240, 480, 720 m): on average 0.07, 0.27, 0.56 km²
    reached'."""
    n = summary["origins_total"]
    text = (f"{n} origin{'s' if n != 1 else ''}, walking {summary['minutes']} min at {summary['walk_speed_mps']:g} m/s "
            f"({summary['bands_m']} m)")
    areas = [v for k, v in summary.items() if k.startswith("mean_area_km2_")]
    if areas:
        text += ": on average " + ", ".join(f"{a:.2f}" for a in areas) + " km² reached"
    if summary.get("origins_unreachable"):
        text += f"; {summary['origins_unreachable']} too far from the streets"
    return text


SPEC = Analysis(
    id="isochrones",
    partition_note="it draws one area per origin and band, from a few chosen points; it is not cut into tiles",
    title="Walking isochrones (network)",
    description="The area reachable on foot along the streets from each origin within given minutes, "
                "at an older adult's walking speed (0.8 m/s) by default.",
    roles=(
        Role("streets", ("line",), help="the walking network (streets and paths)"),
        Role("origins", ("point",), help="the points to walk from, e.g. pharmacies or stations"),
    ),
    params=(
        Param("walk_speed_mps", "float", 0.8, "walking speed (0.8 m/s: older adults; 1.2-1.3: adults)", "m/s",
              0.1, 3.0),
        Param("minutes", "str", "5,10,15", "walking times in minutes, separated by commas (at most 8)"),
        Param("max_snap_m", "float", 100.0, "origins farther than this from every street are left out", "m",
              0, 5000),
        Param("min_piece_m", "float", 500.0, "origins skip pieces of network apart from the main one with less "
              "street than this (courtyard paths, steps); 0 snaps to the nearest street whatever its piece", "m",
              0, 100_000),
        Param("buffer_m", "float", 25.0, "width drawn on each side of the reachable streets", "m", 1, 500),
    ),
    run=walking_isochrones,
    key_figures=("origins_total", "origins_unreachable", "walk_speed_mps", "minutes", "bands_m", "mean_area_km2_5min",
                 "mean_area_km2_10min", "mean_area_km2_15min"),
    headline=headline,
    sources=("Asher L. et al. (2012), Most older pedestrians are unable to cross the road in time, Age and Ageing "
             "41(5): mean walking speed over 65 is 0.9 m/s (men) and 0.8 m/s (women)",),
    result_styles={
        "isochrones": Style(kind="categorized", field="band", fill_opacity=0.5, stroke="#ffffff",
                            stroke_width=0.6, categories=BAND_STYLE),
        "origins_snapped": Style(kind="categorized", field="snapped", stroke="#ffffff", size=8.0,
                                 categories={"True": "#000000", "False": "#D55E00"},
                                 category_labels={"True": "on the network",
                                                  "False": "too far from the streets"}),
    },
)
