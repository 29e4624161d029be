"""The ``citydesk`` command line. It imports no Qt: the window is started only by the bare
``citydesk`` command, and only then is PySide6 loaded.

Exit codes: 0 done, 1 a failed job (a clear message, never a traceback), 2 wrong usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from app import __version__
from app.progress import TerminalFeedback
from layers.errors import CityDeskError
from layers.feedback import Cancelled


class UsageError(Exception):
    """Wrong usage of the command line (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage and exits 2 itself; keep that
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="citydesk", description="CityDesk — a desktop GIS for city planning. "
                     "Without a command it opens the desktop window.")
    parser.add_argument("--version", action="version", version=f"CityDesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("info", help="describe every layer in a file", description="Describe every layer in a "
                       "file: kind, geometry type, feature count, CRS, bounds and columns.")
    p.add_argument("path", help="a layer file (GeoPackage, GeoJSON, Shapefile, CSV, GeoParquet, .osm.pbf, GTFS zip) "
                   "or a PostGIS URL postgresql://USER@HOST:PORT/DATABASE[?table=SCHEMA.TABLE]")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = sub.add_parser("run", help="run an analysis", description="Run a registered analysis on layers.")
    p.add_argument("analysis", nargs="?", help="the analysis id (see --list)")
    p.add_argument("--list", action="store_true", help="list every analysis with its roles and parameters")
    p.add_argument("--layer", action="append", default=[], metavar="ROLE=PATH[:LAYER]", help="an input layer")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter value")
    p.add_argument("--out", metavar="RESULT.gpkg", help="where to write the result layers: a .gpkg, or a PostGIS "
                   "table postgresql://USER@HOST:PORT/DATABASE?table=SCHEMA.TABLE (password from PGPASSWORD or "
                   "~/.pgpass)")
    p.add_argument("--replace", action="store_true", help="replace the PostGIS table(s) of --out if they exist "
                   "(in one transaction: a failure keeps the old table)")
    p.add_argument("--summary", metavar="SUMMARY.json", help="where to write the summary as JSON")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="'dask': run partitioned on a Dask cluster, exactly (default: local, this process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", help="with --engine dask: the cluster's scheduler")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="with --engine dask and no --scheduler: start a local cluster of N workers (default 2)")
    p.add_argument("--tile-rows", type=int, default=50_000, metavar="N",
                   help="with --engine dask: features of the split layer per tile (default 50000)")

    p = sub.add_parser("import-osm", help="turn an OpenStreetMap extract into city layers",
                       description="Turn an OpenStreetMap extract (.osm.pbf) into city layers: buildings, "
                       "streets (a walking network), transit_stops, waste_bins, benches, toilets, pharmacies, "
                       "groceries, green_spaces, healthcare.")
    p.add_argument("path", help="an .osm.pbf (or .osm) file")
    p.add_argument("--out", required=True, metavar="CITY.gpkg", help="the GeoPackage to write")

    p = sub.add_parser("demo", help="run the demo job on the sample city",
                       description="Open the sample city (central Helsinki), run every registered analysis, "
                       "write the results, the summaries and an overview map.")
    p.add_argument("--out", default="citydesk-demo", metavar="DIR", help="output folder (default: citydesk-demo)")

    p = sub.add_parser("render", help="draw a project or a layer file to a PNG",
                       description="Draw the full extent of a project (its styles) or of any layer file (default "
                       "styles) to a PNG, offscreen, with the map canvas's renderer.")
    p.add_argument("path", help="a .citydesk project or a layer file")
    p.add_argument("--out", required=True, metavar="MAP.png", help="the PNG to write")
    p.add_argument("--size", default="1600x1000", metavar="WxH", help="image size in pixels (default 1600x1000)")
    p.add_argument("--layer", action="append", default=[], metavar="NAME",
                   help="draw only this layer (repeat for more); default: the visible layers")
    p.add_argument("--timings", metavar="TIMINGS.json", help="write load_s and render_s (seconds) as JSON")

    p = sub.add_parser("screenshot", help="save a picture of the window with a project",
                       description="Open the desktop window offscreen with a project, wait until the map is "
                       "drawn and save a grab of the whole window.")
    p.add_argument("path", help="a .citydesk project")
    p.add_argument("--out", required=True, metavar="WINDOW.png", help="the PNG to write")
    p.add_argument("--size", default="1600x1000", metavar="WxH", help="window size in pixels (default 1600x1000)")
    p.add_argument("--run", metavar="TITLE", help="first run the project's saved analysis of this title (or id)")

    p = sub.add_parser("import-readings", help="import fill-level sensor readings into a clean table",
                       description="Import fill-level readings (CSV, Excel .xlsx, Parquet; long format: bin id, "
                       "time, fill level) into a clean table of bin_id, time (UTC) and fill_pct (0-100). Title "
                       "rows above the header, units and a time zone in column names are understood.")
    p.add_argument("path", help="a CSV, Excel (.xlsx) or Parquet file of readings")
    p.add_argument("--out", required=True, metavar="READINGS.csv|.parquet", help="the clean table to write")
    p.add_argument("--sheet", help="the Excel sheet (name, or number from 1; default: the first)")
    p.add_argument("--id-column", help="the bin id column (join several with '+'); default: found, else site name "
                   "+ address")
    p.add_argument("--time-column", help="the time column (default: found)")
    p.add_argument("--fill-column", help="the fill level column (default: found)")
    p.add_argument("--timezone", help="the zone of times without one, e.g. Europe/London (default: the zone in the "
                   "time column's name, else UTC)")
    p.add_argument("--fill-unit", choices=("auto", "percent", "fraction"), default="auto",
                   help="fill levels as percent or 0-1 fractions (default: auto)")
    p.add_argument("--rows", choices=("auto", "collections", "readings"), default="auto",
                   help="what a row is (default: auto)")

    p = sub.add_parser("webmap", help="write an offline interactive web map (one HTML file)",
                       description="Write a self-contained HTML web map (works with no network) of a project's "
                       "visible layers or of a layer file: the project's colours and classes, switchable layers, "
                       "popups, a legend. Large layers are simplified to fit the size budget.")
    p.add_argument("path", help="a .citydesk project or a layer file")
    p.add_argument("--out", required=True, metavar="MAP.html", help="the HTML file to write")
    p.add_argument("--layer", action="append", default=[], metavar="NAME",
                   help="put this layer on the map (repeat for more); default: the visible layers")
    p.add_argument("--budget-mb", type=float, default=10.0, metavar="N", help="page size to aim for (default 10 MB)")
    p.add_argument("--extent", metavar="XMIN,YMIN,XMAX,YMAX", help="only features touching this box (project CRS)")
    p.add_argument("--title", help="the map title (default: the project title)")
    p.add_argument("--osm-background", action="store_true",
                   help="add an OpenStreetMap background (shown only with an internet connection)")

    p = sub.add_parser("export", help="export layers to GeoPackage (with QGIS styles), GeoJSON or CSV",
                       description="Export a project's layers (or a layer file's) to a GeoPackage with every layer "
                       "and its style in a layer_styles table QGIS reads, or to GeoJSON / CSV (one file per layer).")
    p.add_argument("path", help="a .citydesk project or a layer file")
    p.add_argument("--out", required=True, metavar="OUT.gpkg|.geojson|.csv", help="the file to write")
    p.add_argument("--layer", action="append", default=[], metavar="NAME",
                   help="export this layer (repeat for more); default: every layer that has data")

    p = sub.add_parser("map", help="write a print-ready meeting map (PDF, SVG or PNG) of a project",
                       description="Compose a meeting map of a project's visible layers: title, subtitle, legend "
                       "from the layer styles, scale bar, north arrow, attribution and date.")
    p.add_argument("project", help="a .citydesk project")
    p.add_argument("--out", required=True, metavar="MAP.pdf|.svg|.png", help="the map file to write")
    p.add_argument("--paper", choices=("A4", "A3"), default="A4", help="paper size (default A4)")
    p.add_argument("--landscape", action="store_true", help="landscape (default portrait)")
    p.add_argument("--title", help="the title (default: the project title)")
    p.add_argument("--subtitle", default="", help="a subtitle")
    p.add_argument("--layer", action="append", default=[], metavar="NAME",
                   help="show this layer (repeat for more); default: the visible layers")
    p.add_argument("--extent-layer", metavar="NAME", help="the extent of this layer (default: all shown layers)")
    p.add_argument("--view", action="store_true", help="the project's saved map view as the extent")
    p.add_argument("--dpi", type=int, default=200, help="resolution for PNG and raster parts (default 200)")

    p = sub.add_parser("report", help="write the meeting report (PDF and HTML) and slides of a project",
                       description="Run the project's configured analyses afresh and write a report: cover, "
                       "key figures in plain language, one section per analysis (map, chart, table by "
                       "district), methods and provenance appendices.")
    p.add_argument("project", help="a .citydesk project")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write report.pdf / report.html to")
    p.add_argument("--format", default="pdf,html", help="pdf, html, pptx, or a comma-separated list "
                   "(default pdf,html)")
    p.add_argument("--title", default="", help="the report title")

    sub.add_parser("app", help="open the desktop window")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in (None, "app"):
            return _open_window()
        handler = {"info": _info, "run": _run, "import-osm": _import_osm, "demo": _demo, "render": _render,
                   "screenshot": _screenshot, "import-readings": _import_readings, "webmap": _webmap,
                   "export": _export, "map": _map, "report": _report}[args.command]
        return handler(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"citydesk: error: {exc}", file=sys.stderr)
        return 2
    except CityDeskError as exc:
        print(f"citydesk: error: {exc.message}", file=sys.stderr)
        return 1
    except (Cancelled, KeyboardInterrupt):
        print("\ncitydesk: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (citydesk info … | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0


def _open_window() -> int:
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")
    ):
        print("citydesk: no display found, so the desktop window cannot open here (DISPLAY is not set).\n"
              "Run 'citydesk demo' to run the sample-city job without a window, or 'citydesk --help'.",
              file=sys.stderr)
        return 1
    from app.gui import main as gui_main

    return gui_main([])


def _info(args) -> int:
    from layers.readers import list_layers, split_spec

    path, layer = split_spec(args.path)
    infos = list_layers(path)
    if layer is not None:
        infos = [i for i in infos if i.name == layer]
        if not infos:
            raise CityDeskError(f"there is no layer '{layer}'", source=path, fix="Run 'citydesk info' on the file")
    if args.json:
        print(json.dumps({"path": str(path), "layers": [i.to_dict() for i in infos]}, indent=2, ensure_ascii=False))
        return 0
    print(f"{path}: {len(infos)} layer{'s' if len(infos) != 1 else ''}")
    for info in infos:
        bounds = ", ".join(f"{b:.6g}" for b in info.bounds) if info.bounds else "none"
        print(f"\n  {info.name}\n    kind:     {info.kind}\n    geometry: {info.geometry_type}\n"
              f"    features: {info.count}\n    CRS:      {info.crs or 'none'}\n    bounds:   {bounds}")
        cols = ", ".join(f"{c} ({t})" for c, t in info.columns.items())
        print(f"    columns:  {cols or '(none)'}")
        for note in info.notes:
            print(f"    note:     {note}")
    return 0


def _run(args) -> int:
    from analysis.registry import analyses, get
    from analysis.runner import run_analysis
    from layers.readers import read_layer, split_spec
    from layers.writers import write_json, write_layers

    if args.list:
        for spec in analyses().values():
            print(f"{spec.id} — {spec.title}\n  {spec.description}")
            print("  layers:")
            for role in spec.roles:
                need = "required" if role.required else "optional"
                print(f"    --layer {role.name}=PATH   ({need}; {'/'.join(role.geometry)}) {role.help}")
            print("  parameters:")
            for p in spec.params:
                print(f"    --param {p.name}={p.default!r}   {p.describe()}. {p.help}")
            print()
        return 0
    if not args.analysis:
        raise UsageError("name an analysis (see 'citydesk run --list')")
    spec = get(args.analysis)
    if not args.out:
        raise UsageError("give --out RESULT.gpkg for the result layers")
    from layers.postgis_url import is_postgis_url, parse_url

    database = is_postgis_url(args.out)
    out = parse_url(args.out) if database else Path(args.out)  # a bad URL is told before the analysis runs
    if not database and out.suffix.lower() != ".gpkg":
        raise UsageError(f"--out must be a GeoPackage (.gpkg) or a postgresql:// URL, not '{out.name}'")
    if args.replace and not database:
        raise UsageError("--replace is for a PostGIS --out (a .gpkg is always written anew)")
    params = dict(_pairs(args.param, "--param", "NAME=VALUE"))
    if args.engine != "dask" and (args.scheduler or args.workers != 2):
        raise UsageError("--scheduler and --workers go with --engine dask")
    layers, names = {}, {}
    for role, spec_text in _pairs(args.layer, "--layer", "ROLE=PATH[:LAYER]"):
        path, layer = split_spec(spec_text)
        if args.engine == "dask":
            from app.engine_choice import open_for_cluster

            layers[role] = open_for_cluster(path, layer)
        else:
            layers[role] = read_layer(path, layer)
        names[role] = spec_text
    feedback = TerminalFeedback(label=spec.id)
    try:
        if args.engine == "dask":
            from app.engine_choice import run_on_cluster

            result = run_on_cluster(spec.id, layers, params, scheduler=args.scheduler, workers=args.workers,
                                    feedback=feedback, names=names, tile_rows=args.tile_rows,
                                    notify=lambda text: print(f"citydesk: {text}", file=sys.stderr))
        else:
            result = run_analysis(spec.id, layers, params, feedback=feedback, names=names)
    finally:
        feedback.close()
    if database:
        from layers.postgis import write_postgis_layers

        feedback = TerminalFeedback(label="writing")
        try:
            tables = write_postgis_layers(dict(result.layers), out, replace=args.replace, feedback=feedback)
        finally:
            feedback.close()
        counts = iter(len(v) for v in result.layers.values())
        for table in tables:
            print(f"wrote {table} ({next(counts)} rows)")
    else:
        write_layers(dict(result.layers), out)
        print(f"wrote {out} ({', '.join(f'{k}: {len(v)}' for k, v in result.layers.items())})")
    if result.charts and not database:
        from reports.charts import write_charts

        print(f"wrote charts {', '.join(str(p) for p in write_charts(result.charts, out))}")
    if args.summary:
        write_json(args.summary, result.summary_dict())
        print(f"wrote {args.summary}")
    for key, value in result.summary.items():
        print(f"  {key}: {_fmt(value)}")
    return 0


def _import_osm(args) -> int:
    from layers.osm import import_osm
    from layers.readers import sniff_kind
    from layers.writers import write_layers

    if sniff_kind(args.path) != "osm":
        raise CityDeskError("this is not an OpenStreetMap file", source=args.path,
                            fix="Give an .osm.pbf extract")
    out = Path(args.out)
    if out.suffix.lower() != ".gpkg":
        raise UsageError(f"--out must be a GeoPackage (.gpkg), not '{out.name}'")
    feedback = TerminalFeedback(label="import-osm")
    try:
        frames = import_osm(args.path, feedback=feedback)
    finally:
        feedback.close()
    write_layers(frames, out)
    print(f"wrote {out}")
    for name, gdf in frames.items():
        print(f"  {name}: {len(gdf)}")
    return 0


def _demo(args) -> int:
    from app.demo import run_demo

    feedback = TerminalFeedback(label="demo")
    try:
        written = run_demo(Path(args.out), feedback=feedback, log=print)
    finally:
        feedback.close()
    print(f"\nThe demo wrote {len(written)} files to {Path(args.out).resolve()}:")
    for path in written:
        print(f"  {path}")
    return 0


def _map(args) -> int:
    from layers.project import load_project
    from reports.meeting_map import MapOptions, project_map

    if not 30 <= args.dpi <= 1200:
        raise UsageError("--dpi must be between 30 and 1200")
    project = load_project(args.project)
    options = MapOptions(title=args.title or project.title, subtitle=args.subtitle, paper=args.paper,
                         landscape=args.landscape, dpi=args.dpi)
    feedback = TerminalFeedback(label="map")
    try:
        out = project_map(project, args.out, options, names=args.layer or None, extent_layer=args.extent_layer,
                          use_view=args.view, feedback=feedback)
    finally:
        feedback.close()
    print(f"wrote {out} ({args.paper} {'landscape' if args.landscape else 'portrait'})")
    return 0


def _report(args) -> int:
    from layers.project import load_project
    from reports.report import build_report, write_report
    from reports.slides import write_slides

    formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    unknown = [f for f in formats if f not in ("pdf", "html", "pptx")]
    if unknown or not formats:
        raise UsageError(f"--format takes pdf, html and pptx, not '{args.format}'")
    project = load_project(args.project)
    feedback = TerminalFeedback(label="report")
    try:
        report = build_report(project, title=args.title, feedback=feedback)
    finally:
        feedback.close()
    out = Path(args.out)
    documents = tuple(f for f in formats if f != "pptx")
    written = write_report(report, out, documents) if documents else []
    if "pptx" in formats:
        out.mkdir(parents=True, exist_ok=True)
        written.append(write_slides(report, out / "slides.pptx"))
    for path in written:
        print(f"wrote {path}")
    for section in report.sections:
        print(f"  {section.title}: {section.sentences[0] if section.sentences else ''}")
    return 0


def _size(text: str) -> tuple[int, int]:
    from app.render_command import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _render(args) -> int:
    from app.render_command import render_file

    size = _size(args.size)
    result = render_file(Path(args.path), Path(args.out), size=size, names=args.layer or None,
                         timings=Path(args.timings) if args.timings else None)
    print(f"wrote {args.out} ({size[0]}x{size[1]}; load {result['load_s']:.2f} s, render {result['render_s']:.2f} s)")
    if args.timings:
        print(f"wrote {args.timings}")
    return 0


def _screenshot(args) -> int:
    from app.render_command import screenshot

    size = _size(args.size)
    screenshot(Path(args.path), Path(args.out), size=size, run=args.run)
    print(f"wrote {args.out} ({size[0]}x{size[1]})")
    return 0


def _import_readings(args) -> int:
    from layers.readings import read_readings, write_readings

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"--out must be a .csv or .parquet file, not '{out.name}'")
    feedback = TerminalFeedback(label="import-readings")
    try:
        readings = read_readings(args.path, sheet=args.sheet, id_column=args.id_column, time_column=args.time_column,
                                 fill_column=args.fill_column, timezone=args.timezone, fill_unit=args.fill_unit,
                                 rows=args.rows, feedback=feedback)
    finally:
        feedback.close()
    write_readings(readings.table, out)
    print(f"wrote {out}")
    for line in readings.report.lines():
        print(f"  {line}")
    return 0


def _webmap(args) -> int:
    from reports.webmap import write_webmap

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out must be an .html file, not '{out.name}'")
    if args.budget_mb <= 0:
        raise UsageError("--budget-mb must be more than 0")
    extent = None
    if args.extent:
        try:
            extent = tuple(float(v) for v in args.extent.split(","))
        except ValueError:
            extent = ()
        if len(extent) != 4 or extent[0] >= extent[2] or extent[1] >= extent[3]:
            raise UsageError(f"--extent takes XMIN,YMIN,XMAX,YMAX (XMIN < XMAX, YMIN < YMAX), not '{args.extent}'")
    feedback = TerminalFeedback(label="webmap")
    try:
        report = write_webmap(Path(args.path), out, layers=args.layer or None, budget_mb=args.budget_mb,
                              extent=extent, tiles=args.osm_background, title=args.title, feedback=feedback)
    finally:
        feedback.close()
    print(f"wrote {out}")
    for line in report.lines():
        print(f"  {line}")
    return 0


def _export(args) -> int:
    from reports.data_export import export_layers
    from reports.webmap import resolve

    if Path(args.out).suffix.lower() not in (".gpkg", ".geojson", ".json", ".csv"):
        raise UsageError(f"--out must be a .gpkg, .geojson or .csv file, not '{Path(args.out).name}'")
    layers, _ = resolve(Path(args.path), args.layer or None, visible_only=False)
    layers = [lay for lay in layers if lay.gdf is not None or args.layer]  # a named layer that failed: an error
    feedback = TerminalFeedback(label="export")
    try:
        written = export_layers(layers, args.out, feedback=feedback)
    finally:
        feedback.close()
    for path in written:
        print(f"wrote {path}")
    return 0


def _pairs(items: list[str], option: str, form: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"{option} takes {form}, not '{item}'")
        out.append((key.strip(), value.strip()))
    return out


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
