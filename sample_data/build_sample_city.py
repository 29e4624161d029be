"""Build the CityDesk sample city (central Helsinki) from the raw files in ``sample_data/raw/``.

Run from the repository root::

    python sample_data/build_sample_city.py            # writes into sample_data/
    python sample_data/build_sample_city.py OUT_DIR    # writes into OUT_DIR

Reads only ``sample_data/raw/`` (OpenStreetMap extract, HSL GTFS, HSY population grid) and writes
``helsinki.gpkg`` (every layer in EPSG:3067, ETRS-TM35FIN), the synthetic sensor readings and
citizen reports (see ``synthetic.py``) and the project ``helsinki.citydesk``. Deterministic: the
same inputs give the same data (fixed seed, sorted rows).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RAW = HERE / "raw"
for _path in (ROOT, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402
import shapely  # noqa: E402
import synthetic  # noqa: E402
from pyproj import CRS  # noqa: E402

from analysis.dasymetric import distribute_population  # noqa: E402
from layers.gtfs_stops import read_gtfs_layer, read_gtfs_stops  # noqa: E402
from layers.layer import Layer, Source  # noqa: E402
from layers.osm import import_osm  # noqa: E402
from layers.project import AnalysisRun, Project  # noqa: E402
from layers.style import Style  # noqa: E402
from layers.writers import write_layers  # noqa: E402

METRIC = "EPSG:3067"  # ETRS-TM35FIN, Finland's metric CRS
GPKG = "helsinki.gpkg"
PROJECT = "helsinki.citydesk"
AQ_STEM = "air_quality_synthetic_2025"
BIN_READINGS = "bin_fill_synthetic.csv"
REPORTS_STEM = "citizen_reports_synthetic"
OSM_LAYERS = ("buildings", "streets", "transit_stops", "waste_bins", "benches", "toilets", "pharmacies",
              "groceries", "green_spaces", "healthcare")
ATTRIBUTION = [
    "© OpenStreetMap contributors (ODbL 1.0)",
    "Helsinki Region Transport (HSL), CC BY 4.0",
    "Helsinki Region Environmental Services (HSY), CC BY 4.0",
    "Synthetic sensor and citizen-report data (CityDesk sample)",
]


def main(out_dir: str | Path | None = None, *, quiet: bool = False) -> dict[str, gpd.GeoDataFrame]:
    """Build the sample city into ``out_dir`` (default: this folder). Returns the layers written."""
    out = Path(out_dir) if out_dir is not None else HERE
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else print
    started = time.perf_counter()

    osm = import_osm(RAW / "Helsinki.osm.pbf")
    extent = extract_extent(osm)
    layers = {name: osm[name] for name in OSM_LAYERS}
    layers["gtfs_stops"] = gtfs_stops(RAW / "hsl_gtfs_cropped.zip", extent)

    grid = population_grid(RAW / "helsinki_population_grid_2020.gpkg", extent)
    result = distribute_population(layers["buildings"].to_crs(METRIC), grid,
                                   population_field="population_in_extract")
    buildings, grid = result.layers["buildings"], result.layers["grid"]
    buildings["residents"] = buildings["residents"].astype(float)

    stations = synthetic.air_quality_stations()
    readings_path = synthetic.write_readings(synthetic.air_quality_readings(), out / AQ_STEM)
    stations["readings_file"] = readings_path.name
    stations["timezone"] = "Europe/Helsinki"  # the days of the daily limits are local days
    sensors = synthetic.bin_sensors(osm["waste_bins"])
    fill = synthetic.bin_fill_readings(sensors)
    fill.to_csv(out / BIN_READINGS, index=False, lineterminator="\n")
    sensors["readings_file"] = BIN_READINGS
    reports = synthetic.citizen_reports(osm)
    json_path, xml_path = synthetic.write_reports(reports, out, REPORTS_STEM)

    written = {
        **{name: layers[name] for name in OSM_LAYERS},
        "gtfs_stops": layers["gtfs_stops"],
        "population_grid": grid,
        "air_quality_stations_synthetic": stations,
        "citizen_reports_synthetic": synthetic.reports_layer(reports),
        "bin_sensors_synthetic": sensors,
    }
    written["buildings"] = buildings
    written = {name: _metric(frame) for name, frame in written.items()}
    written["waste_bins_proposal_synthetic"] = bin_proposal(written)
    write_layers(written, out / GPKG)
    project = sample_project(out / GPKG, written)
    project.save(out / PROJECT)

    s = result.summary
    say(f"Sample city written to {out} in {time.perf_counter() - started:.1f} s")
    say(f"  residents: {s['residents_total']:,.1f} on {s['buildings_with_residents']} of "
        f"{s['buildings_total']} buildings; unassigned {s['residents_unassigned']:,.1f} "
        f"(population of the {len(grid)} grid cells within the extract {s['population_total']:,.1f}; "
        f"whole cells {grid['population'].sum():,})")
    for name, frame in written.items():
        say(f"  {GPKG}:{name:<32} {len(frame):>5} features")
    for path in (out / GPKG, readings_path, out / BIN_READINGS, json_path, xml_path, out / PROJECT):
        say(f"  {path.name:<40} {path.stat().st_size / 1024:8.1f} KB")
    return written


def bin_proposal(layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """A proposed bin layer for the scenario comparison (synthetic, clearly named so): today's bins
    without the three litter baskets nearest to no home, plus the five sites ``waste-siting``
    proposes. Columns of the bin layer, ``proposal`` = kept / new."""
    from analysis.waste_coverage import waste_coverage
    from analysis.waste_siting import waste_siting

    args = (layers["buildings"], layers["streets"], layers["waste_bins"])
    bins = waste_coverage(*args).layers["waste_bins"]
    idle = bins.index[(bins["residents_served"] == 0) & (bins["kind"] == "waste_basket")][:3]
    kept = layers["waste_bins"].drop(index=idle).assign(proposal="kept")
    sites = waste_siting(*args, k=5, method="greedy").layers["proposed_bins"]
    new = gpd.GeoDataFrame({"name": [f"Proposed bin {r}" for r in sites["rank"]], "kind": "waste_basket",
                            "proposal": "new"}, geometry=sites.geometry.to_numpy(), crs=sites.crs)
    return pd.concat([kept, new], ignore_index=True)


def extract_extent(osm: dict[str, gpd.GeoDataFrame]) -> shapely.Polygon:
    """The bounding box of the OSM extract (EPSG:4326): the extract is clipped at it."""
    bounds = np.array([frame.total_bounds for frame in osm.values() if len(frame)])
    return shapely.box(bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max())


def gtfs_stops(path: Path, extent: shapely.Polygon) -> gpd.GeoDataFrame:
    """HSL stops inside the extract, sorted by stop_id."""
    stops = read_gtfs_stops(path)
    inside = stops[stops.geometry.within(extent) | stops.geometry.touches(extent)]
    keep = [c for c in inside.columns if c != "geometry" and inside[c].notna().any()] + ["geometry"]
    return inside[keep].sort_values("stop_id", kind="stable").reset_index(drop=True)


def population_grid(path: Path, extent: shapely.Polygon) -> gpd.GeoDataFrame:
    """HSY cells that intersect the extract, in EPSG:3067, with ``share_in_extract`` (the part of the
    cell's area inside the extract, 0–1) and ``population_in_extract`` = population × share: the
    buildings outside the extract are not in the OSM layers, so only that part of an edge cell's
    residents is spread over the buildings we have (the rest is assumed to live outside)."""
    grid = gpd.read_file(path, engine="pyogrio")
    grid = grid[grid.intersects(extent)].to_crs(METRIC)
    box = gpd.GeoSeries([extent], crs="EPSG:4326").to_crs(METRIC).iloc[0]
    share = np.clip(grid.intersection(box).area / grid.area, 0.0, 1.0)
    grid = grid.assign(population=grid["population"].astype("int64"), share_in_extract=np.round(share, 4))
    grid["population_in_extract"] = np.round(grid["population"] * grid["share_in_extract"], 1)
    return grid.sort_values("id", kind="stable").reset_index(drop=True)


def _metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not CRS.from_user_input(frame.crs).equals(CRS.from_user_input(METRIC)):
        frame = frame.to_crs(METRIC)
    return frame.reset_index(drop=True)


#: layer in the GeoPackage -> (display name, role, visible, style); top of the map first.
PROJECT_LAYERS = (
    ("transit_stops", "Transit stops", "transit_stops", True,
     Style(fill="#0072B2", stroke="#ffffff", size=7.0, label_field="name")),
    ("gtfs_stops", "HSL stops (GTFS)", "transit_stops", False,
     Style(fill="#56B4E9", stroke="#0072B2", size=6.0, label_field="stop_name")),
    ("bin_sensors_synthetic", "Bin fill sensors (synthetic)", "sensors", True,
     Style(fill="#D55E00", stroke="#000000", size=9.0)),
    ("waste_bins_proposal_synthetic", "Waste bins — proposal (synthetic)", "waste_bins", False,
     Style(kind="categorized", field="proposal", size=6.0, stroke="#333333",
           categories={"kept": "#999999", "new": "#D55E00"})),
    ("waste_bins", "Waste bins", "waste_bins", True,
     Style(kind="categorized", field="kind", size=5.0, stroke="#333333",
           categories={"waste_basket": "#E69F00", "waste_disposal": "#CC79A7", "recycling": "#009E73"})),
    ("air_quality_stations_synthetic", "Air-quality stations (synthetic)", "sensors", True,
     Style(fill="#CC79A7", stroke="#000000", size=10.0, label_field="name")),
    ("citizen_reports_synthetic", "Citizen reports (synthetic)", "reports", True,
     Style(kind="categorized", field="service_name", size=6.0, stroke="#ffffff")),
    ("benches", "Benches", "benches", False, Style(fill="#8c510a", stroke="#8c510a", size=4.0)),
    ("toilets", "Public toilets", "toilets", True, Style(fill="#56B4E9", stroke="#000000", size=7.0)),
    ("pharmacies", "Pharmacies", "pharmacies", True, Style(fill="#009E73", stroke="#ffffff", size=8.0,
                                                          label_field="name")),
    ("groceries", "Grocery shops", "groceries", True, Style(fill="#F0E442", stroke="#000000", size=7.0)),
    ("healthcare", "Healthcare", "healthcare", False, Style(fill="#D55E00", stroke="#ffffff", size=8.0)),
    ("buildings", "Buildings", "buildings", True,
     Style(kind="graduated", field="residents", scheme="natural_breaks", classes=5, ramp="YlOrRd",
           unit="residents", stroke="#636363", stroke_width=0.4, fill_opacity=0.85)),
    ("green_spaces", "Green spaces", "green_spaces", True,
     Style(fill="#74c476", stroke="#238b45", stroke_width=0.5, fill_opacity=0.6)),
    ("streets", "Streets and paths", "streets", True,
     Style(fill="#969696", stroke="#969696", stroke_width=1.0, label_field="name", label_size=10.0,
           label_color="#4d4d4d")),
    ("population_grid", "Population grid 2020 (HSY)", "other", False,
     Style(kind="graduated", field="population", scheme="quantiles", classes=5, ramp="PuBu",
           unit="residents", stroke="#6baed6", stroke_width=0.5, fill_opacity=0.4)),
)


def sample_project(gpkg: Path, layers: dict[str, gpd.GeoDataFrame]) -> Project:
    """The sample project: layers top-first, styles, attribution and configured analyses."""
    entries = [Layer(name, layers[key], Source(str(gpkg), key), role, style, visible)
               for key, name, role, visible, style in PROJECT_LAYERS]
    names = {key: name for key, name, *_ in PROJECT_LAYERS}
    # the HSL feed itself (not a copy): its stops carry the timetable that ptal and transit-frequency read
    feed = gpkg.parent / "raw" / "hsl_gtfs_cropped.zip"  # next to the project, so its path stays "raw/…"
    if not feed.exists():  # a build into another folder takes the feed along
        feed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RAW / feed.name, feed)
    names["gtfs_feed"], names["gtfs_routes"] = "HSL timetable stops (GTFS)", "HSL routes (GTFS)"
    at = [e.name for e in entries].index(names["gtfs_stops"])
    entries[at:at + 1] = [
        Layer(names["gtfs_routes"], read_gtfs_layer(feed, "transit_routes"), Source(str(feed), "transit_routes"),
              "other", Style(kind="categorized", field="mode", stroke_width=1.6, palette="okabe_ito"), False),
        Layer(names["gtfs_feed"], read_gtfs_layer(feed), Source(str(feed), None), "transit_stops",
              Style(fill="#56B4E9", stroke="#0072B2", size=6.0, label_field="stop_name"), False),
    ]
    analyses = [
        AnalysisRun("coverage", "Green space ≥ 0.5 ha within 300 m",
                    {"buildings": names["buildings"], "targets": names["green_spaces"]},
                    {"max_distance_m": 300.0, "min_target_area_m2": 5000.0}),
        AnalysisRun("coverage", "Bus or tram stop within 400 m",
                    {"buildings": names["buildings"], "targets": names["transit_stops"]},
                    {"max_distance_m": 400.0}),
        AnalysisRun("population-from-grid", "Residents per building from the HSY population grid",
                    {"buildings": names["buildings"], "grid": names["population_grid"]},
                    {"population_field": "population_in_extract", "default_levels": 1.0,
                     "residential_only": True}),
        AnalysisRun("age-friendly", "Age-friendly walking access (older residents, rests every 200 m)",
                    {"buildings": names["buildings"], "streets": names["streets"],
                     **{role: names[role] for role in ("transit_stops", "benches", "toilets", "pharmacies",
                                                       "groceries", "green_spaces", "healthcare")}},
                    {"profile": "older", "rest_max_m": 200.0, "new_benches_k": 5}),
        AnalysisRun("isochrones", "Walking time to the pharmacies (older residents, 0.8 m/s)",
                    {"streets": names["streets"], "origins": names["pharmacies"]},
                    {"walk_speed_mps": 0.8, "minutes": "5,10,15"}),
        AnalysisRun("waste-coverage", "Waste bins within 100 m and bin load",
                    {"buildings": names["buildings"], "streets": names["streets"],
                     "waste_bins": names["waste_bins"]}, {"max_distance_m": 100.0}),
        AnalysisRun("waste-siting", "Where 5 new waste bins help most",
                    {"buildings": names["buildings"], "streets": names["streets"],
                     "waste_bins": names["waste_bins"]}, {"k": 5, "method": "auto"}),
        AnalysisRun("scenario-compare", "Bin proposal against today's bins",
                    {"buildings": names["buildings"], "streets": names["streets"],
                     "baseline": names["waste_bins"], "scenario": names["waste_bins_proposal_synthetic"]},
                    {"purpose": "waste_bins"}),
        AnalysisRun("air-quality", "Air quality against EU and WHO limits (synthetic stations, 2025)",
                    {"sensors": names["air_quality_stations_synthetic"]}, {"timezone": "Europe/Helsinki"}),
        AnalysisRun("sensor-surface", "NO2 between the stations (synthetic, inverse distance weighting)",
                    {"sensors": names["air_quality_stations_synthetic"]},
                    {"variable": "NO2", "timezone": "Europe/Helsinki", "cell_m": 25.0}),
        AnalysisRun("report-hotspots", "Where citizen reports concentrate (synthetic Open311)",
                    {"reports": names["citizen_reports_synthetic"]}, {"bandwidth_m": 150.0, "cell_m": 20.0}),
        AnalysisRun("district-summary", "Citizen reports per 250 m hexagon and per 1,000 residents",
                    {"features": names["citizen_reports_synthetic"], "buildings": names["buildings"]},
                    {"zones": "hexagon", "cell_m": 250.0}),
        AnalysisRun("ptal", "Public transport accessibility (PTAL), AM peak",
                    {"gtfs": names["gtfs_feed"], "streets": names["streets"], "buildings": names["buildings"]},
                    {"date": "2022-02-22"}),
        AnalysisRun("transit-frequency", "Departures per hour, AM peak",
                    {"gtfs": names["gtfs_feed"]}, {"date": "2022-02-22"}),
        AnalysisRun("fill-levels", "Bin fill levels and overflow risk (synthetic sensors)",
                    {"waste_bins": names["bin_sensors_synthetic"]}, {"overflow_pct": 80.0}),
    ]
    xmin, ymin, xmax, ymax = (float(v) for v in layers["buildings"].total_bounds)
    return Project(layers=entries, crs=CRS.from_epsg(3067), view=(xmin, ymin, xmax, ymax),
                   title="Central Helsinki — sample city", analyses=analyses, attribution=list(ATTRIBUTION))


def layer_names(path: Path) -> list[str]:
    """The layers in a GeoPackage (for the tests and the README)."""
    return [str(name) for name, _ in pyogrio.list_layers(path)]


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
