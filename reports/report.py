"""The meeting report's content, built once from analysis results and written as PDF
(:mod:`reports.report_pdf`) and self-contained HTML (:mod:`reports.report_html`).

Reproducible from the project: the report runs the project's configured analyses
(``Project.analyses``) afresh on its layers, so its maps, tables and text come from the same
result objects. A project without configured runs but with saved Results-panel entries
(``Project.results``) gets sections of those saved figures, without maps (noted in the report).
Every number in the text, the tables and the slides is formatted by :mod:`reports.sentences`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.registry import analyses
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure
from layers.layer import Layer
from layers.style import Style
from reports import sentences as say
from reports.provenance import Provenance, project_provenance

NAME_COLUMNS = ("area_name", "district", "name", "zone", "label", "gap")
SKIP_COLUMNS = {"row", "col", "cell", "id", "osm_id", "rank", "baseline_row", "scenario_row", "candidate"}
MAX_TABLE_ROWS = 15


@dataclass
class Section:
    """One analysis run in the report."""

    title: str
    analysis: str
    analysis_title: str
    description: str
    sentences: list[str]
    figures: list[tuple[str, str]]
    params: list[dict]  # name, value, default, unit, help, set (True when the project sets it)
    sources: list[str]
    inputs: dict[str, str]
    summary: dict
    map_png: bytes | None = None
    chart_png: bytes | None = None
    chart_title: str = ""
    table: pd.DataFrame | None = None  # formatted text cells
    table_title: str = ""
    table_note: str = ""


@dataclass
class Report:
    title: str
    city: str
    date: str
    sections: list[Section]
    provenance: Provenance
    notes: list[str] = field(default_factory=list)

    @property
    def attribution(self) -> list[str]:
        return self.provenance.attribution


def build_report(project, *, results: list | None = None, title: str = "", feedback: Feedback | None = None,
                 log: Callable[[str], None] = lambda _: None, map_dpi: int = 130) -> Report:
    """The report of ``project``. ``results`` = (AnalysisRun, AnalysisResult) pairs already run
    (the demo passes its own); None runs ``project.analyses`` now."""
    from reports.project_runs import run_project_analyses

    fb = ensure(feedback)
    notes = []
    if results is None and project.analyses:
        results = run_project_analyses(project, list(project.analyses), feedback=SubFeedback(fb, 0.0, 0.6), log=log)
    sections = []
    specs = analyses()
    if results:
        for i, (run, result) in enumerate(results):
            fb.check_cancelled()
            fb.progress(0.6 + 0.35 * i / len(results), f"Report: {run.title or run.analysis}")
            sections.append(_section(project, run.title, specs.get(run.analysis), result.analysis,
                                     dict(result.summary), dict(result.params), dict(result.inputs),
                                     result=result, run_layers=run.layers, map_dpi=map_dpi))
    elif project.results:
        notes.append("The project has no configured analyses; the sections show the figures saved with the project "
                     "(Results panel), without maps. Configure the runs to make the report reproducible.")
        for entry in project.results:
            sections.append(_section(project, str(entry.get("title") or entry["analysis"]),
                                     specs.get(entry["analysis"]), entry["analysis"], dict(entry["summary"]),
                                     dict(entry.get("params") or {}), dict(entry.get("inputs") or {})))
    else:
        raise CityDeskError("the project has no analyses to report on", source=project.path,
                            fix="Run an analysis in the window and save the project, or add runs to its 'analyses'")
    fb.progress(0.97, "Provenance")
    report = Report(title=title or f"{project.title}: analyses for the meeting", city=project.title,
                    date=dt.date.today().isoformat(), sections=sections, provenance=project_provenance(project),
                    notes=notes)
    fb.progress(1.0, "Report built")
    return report


def _section(project, title, spec, analysis_id, summary, params, inputs, *, result=None, run_layers=None,
             map_dpi=130) -> Section:
    section = Section(
        title=title or (spec.title if spec else analysis_id), analysis=analysis_id,
        analysis_title=spec.title if spec else analysis_id, description=spec.description if spec else "",
        sentences=say.sentences(spec, summary, params, inputs), figures=say.key_figures(summary, spec=spec),
        params=_params(spec, params), sources=list(spec.sources) if spec else [], inputs=inputs, summary=summary)
    if result is None or not result.layers:
        section.table_note = "No map or table: the saved figures carry no layers."
        return section
    styles = spec.styles_for(result.summary) if spec else {}
    main_name = next((n for n in result.layers if n in styles), next(iter(result.layers)))
    main = result.layers[main_name]
    section.map_png = _map_png(project, section, result, styles, run_layers or {}, map_dpi)
    _chart(section, result, main, styles.get(main_name), main_name)
    _table(section, project, result, main, styles.get(main_name), main_name)
    return section


def _params(spec, used: dict) -> list[dict]:
    if spec is None:
        return [{"name": k, "value": say.figure(k, v), "default": "", "unit": "", "help": "", "set": True}
                for k, v in used.items()]
    out = []
    for p in spec.params:
        value = used.get(p.name, p.default)
        out.append({"name": p.name, "value": _plain(value), "default": _plain(p.default), "unit": p.unit,
                    "help": p.help, "set": value != p.default})
    return out


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "(empty)" if value in ("", None) else str(value)


def result_map_layers(project, result, styles: dict[str, Style], run_layers: dict[str, str]) -> list[Layer]:
    """The layers of a run's map, top first: the styled result layers, then its input layers
    for context (in their project style, as the analysis used them)."""
    layers = []
    for name, gdf in result.layers.items():
        if name in styles:
            layers.append(Layer(f"{name.replace('_', ' ').capitalize()} (result)", gdf, role="other",
                                style=styles[name]))
    for role, layer_name in run_layers.items():
        if role in result.layers and role in styles:
            continue  # the result layer replaces it
        try:
            context = project.layer(layer_name)
        except CityDeskError:
            continue
        if context.gdf is not None:
            layers.append(Layer(context.name, context.gdf, context.source, context.role, context.style))
    return layers


def _map_png(project, section, result, styles, run_layers, dpi) -> bytes:
    from matplotlib import rc_context

    from reports.meeting_map import RC, MapOptions, compose_map

    layers = result_map_layers(project, result, styles, run_layers)
    options = MapOptions(title=section.title, subtitle=section.sentences[0] if section.sentences else "",
                         paper="A4", landscape=True, dpi=dpi, attribution=tuple(project.attribution))
    with rc_context(RC):
        fig = compose_map(layers, project.crs, options)
        fig.canvas.draw()
    return opaque_png(np.asarray(fig.canvas.buffer_rgba()), dpi)


def opaque_png(rgba: np.ndarray, dpi: float) -> bytes:
    """PNG bytes of an opaque page's pixels, without the alpha channel (smaller, and the PDF then
    embeds one image, not an image and a mask), at zlib level 3 (faster than 6, no larger here)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[:, :, :3])).save(buffer, format="png", compress_level=3,
                                                               dpi=(dpi, dpi))
    return buffer.getvalue()


def main_column(gdf: pd.DataFrame, style: Style | None) -> str | None:
    """The column a run's chart shows: its style's numeric field, else a distance, time or score."""
    def numeric(col):
        return col in gdf.columns and pd.api.types.is_numeric_dtype(gdf[col]) \
            and not pd.api.types.is_bool_dtype(gdf[col]) and gdf[col].notna().any()

    if style is not None and style.field and numeric(style.field) and style.kind == "graduated":
        return style.field
    for col in gdf.columns:
        if col not in SKIP_COLUMNS and numeric(col) and (col.endswith(("_m", "_min", "_minutes", "score", "_pct"))):
            return col
    if style is not None and style.field and numeric(style.field):
        return style.field
    return None


def _chart(section: Section, result, main, style, main_name) -> None:
    from reports.charts import chart_png, histogram_png

    if result.charts:
        name, table = next(iter(result.charts.items()))
        section.chart_png = chart_png(table, width_px=700, height_px=340, scale=1.5)
        section.chart_title = table.attrs.get("title") or name.replace("_", " ").capitalize()
        return
    col = main_column(main, style)
    if col is None:
        return
    unit = f" ({style.unit})" if style is not None and style.unit and col == style.field else ""
    x_label = say.label(col) + unit
    section.chart_title = f"{main_name.replace('_', ' ').capitalize()} by {x_label.lower()}"
    section.chart_png = histogram_png(main[col].to_numpy(dtype=float), x_label=x_label)


def _table(section: Section, project, result, main, style, main_name) -> None:
    zones = [(n, g) for n, g in result.layers.items()
             if n not in result.inputs and 0 < len(g) <= 200 and g.geom_type.isin(["Polygon", "MultiPolygon"]).all()
             and any(c in g.columns for c in NAME_COLUMNS)]
    if zones:
        name, gdf = zones[0]
        section.table, section.table_title, section.table_note = zone_table(gdf, name)
        return
    districts = [lay for lay in project.layers if lay.role == "districts" and lay.gdf is not None and len(lay.gdf)]
    col = main_column(main, style)
    if districts and col is not None:
        section.table, section.table_title = district_table(main, col, districts[0])
        section.table_note = f"Features of the result joined to '{districts[0].name}' by their inner point."
        return
    section.table_note = ("No table by district: the result has no zones and the project has no district layer "
                          "(a layer with the role 'districts').")


def zone_table(gdf: pd.DataFrame, layer_name: str) -> tuple[pd.DataFrame, str, str]:
    """The result's own zones (areas, hexagons, gaps) as a table of text cells: the name and up
    to five numeric columns; at most MAX_TABLE_ROWS rows, those with the highest first figure."""
    name_col = next(c for c in NAME_COLUMNS if c in gdf.columns)
    numeric = [c for c in gdf.columns if c not in SKIP_COLUMNS and c != name_col and c != gdf.geometry.name
               and pd.api.types.is_numeric_dtype(gdf[c]) and not pd.api.types.is_bool_dtype(gdf[c])][:5]
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))[[name_col, *numeric]]
    note = ""
    if len(frame) > MAX_TABLE_ROWS and numeric:
        note = f"The {MAX_TABLE_ROWS} of {len(frame)} {layer_name.replace('_', ' ')} with the highest " \
               f"{say.label(numeric[0]).lower()}."
        frame = frame.sort_values(numeric[0], ascending=False).head(MAX_TABLE_ROWS)
    return _formatted(frame), f"By {layer_name.replace('_', ' ')}", note


def district_table(main, col: str, districts: Layer) -> tuple[pd.DataFrame, str]:
    import geopandas as gpd

    zones = districts.gdf.to_crs(main.crs) if main.crs is not None else districts.gdf
    name_col = next((c for c in NAME_COLUMNS if c in zones.columns), None)
    points = gpd.GeoDataFrame(main.drop(columns=main.geometry.name), geometry=main.geometry.representative_point(),
                              crs=main.crs)
    zones = zones.assign(_district=zones[name_col].astype(str) if name_col else np.arange(1, len(zones) + 1))
    joined = gpd.sjoin(points, zones[["_district", zones.geometry.name]], predicate="within", how="inner")
    agg = {"features": (col, "size"), f"mean {col}": (col, "mean")}
    if "residents" in joined.columns:
        agg["residents"] = ("residents", "sum")
    frame = joined.groupby("_district").agg(**agg).reset_index().rename(columns={"_district": "district"})
    return _formatted(frame), f"By district ({districts.name})"


def _formatted(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({say.label(str(c)): [say.figure(str(c), v) if not isinstance(v, str) else v
                                             for v in frame[c].tolist()] for c in frame.columns})
    return out.reset_index(drop=True)


def write_report(report: Report, out_dir: str | Path, formats: tuple[str, ...] = ("pdf", "html"), *,
                 stem: str = "report", feedback: Feedback | None = None) -> list[Path]:
    """Write ``report`` into ``out_dir`` as ``report.pdf`` and/or ``report.html``; the paths."""
    from reports.report_html import write_html
    from reports.report_pdf import write_pdf

    unknown = [f for f in formats if f not in ("pdf", "html")]
    if unknown or not formats:
        raise CityDeskError(f"the report format '{','.join(unknown) or '(none)'}' is not known",
                            fix="Use --format pdf, html or pdf,html")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fb = ensure(feedback)
    written = []
    if "pdf" in formats:
        fb.progress(0.1, "Writing the PDF report")
        written.append(write_pdf(report, out_dir / f"{stem}.pdf"))
    if "html" in formats:
        fb.progress(0.7, "Writing the HTML report")
        written.append(write_html(report, out_dir / f"{stem}.html"))
    fb.progress(1.0, "Report written")
    return written
