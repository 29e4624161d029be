"""The report as one self-contained HTML file: images inlined as ``data:`` URIs, the style sheet
inline, no script and no external URL. Every text is escaped (attribute values and titles may
come from untrusted data)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from layers.writers import atomic_path

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;color:#1a1a1a;max-width:62rem;margin:0 auto;padding:1.5rem;
line-height:1.45}
header.cover{border-bottom:3px solid #0072B2;padding:2rem 0 1rem;margin-bottom:1.5rem}
header.cover h1{font-size:2rem;margin:.2rem 0}
.muted{color:#555}
h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}
figure{margin:1rem 0}
figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.85rem;color:#555}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
td.num,th.num{text-align:right}
th{background:#f2f5f8}
ul.key li{margin:.3rem 0}
code{font-size:.85rem;word-break:break-all}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(frame, numeric_from: int = 1) -> str:
    head = "".join(f'<th class="{"num" if i >= numeric_from else ""}">{_e(c)}</th>'
                   for i, c in enumerate(frame.columns))
    rows = []
    for row in frame.itertuples(index=False, name=None):
        cells = "".join(f'<td class="{"num" if i >= numeric_from else ""}">{_e(v)}</td>' for i, v in enumerate(row))
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(report) -> str:
    """The report as HTML text."""
    import pandas as pd

    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body>",
             f'<header class="cover"><div class="muted">{_e(report.city)}</div><h1>{_e(report.title)}</h1>',
             f'<div class="muted">{_e(report.date)} · CityDesk {_e(report.provenance.software.get("CityDesk", ""))}'
             "</div></header>"]
    for note in report.notes:
        parts.append(f'<p class="muted">{_e(note)}</p>')
    parts.append('<section id="summary"><h2>Summary of key figures</h2><ul class="key">')
    for s in report.sections:
        parts.append(f"<li><strong>{_e(s.title)}.</strong> {_e(s.sentences[0] if s.sentences else '')}</li>")
    parts.append("</ul></section>")
    for i, s in enumerate(report.sections, 1):
        parts.append(f'<section id="analysis-{i}"><h2>{i}. {_e(s.title)}</h2>')
        parts.append(f'<p class="muted">{_e(s.analysis_title)} — {_e(s.description)}</p>')
        parts += [f"<p>{_e(text)}</p>" for text in s.sentences]
        if s.map_png:
            parts.append(f"<figure>{_img(s.map_png, 'Map: ' + s.title)}<figcaption>Map {i}. {_e(s.title)}"
                         "</figcaption></figure>")
        if s.figures:
            parts.append(_table(pd.DataFrame(s.figures, columns=["Key figure", "Value"])))
        if s.chart_png:
            parts.append(f"<figure>{_img(s.chart_png, s.chart_title)}<figcaption>{_e(s.chart_title)}"
                         "</figcaption></figure>")
        if s.table is not None:
            parts.append(f"<h3>{_e(s.table_title)}</h3>{_table(s.table)}")
        if s.table_note:
            parts.append(f'<p class="muted">{_e(s.table_note)}</p>')
        parts.append("</section>")
    parts.append('<section id="methods"><h2>Appendix A. Methods and parameters</h2>')
    for i, s in enumerate(report.sections, 1):
        parts.append(f"<h3>{i}. {_e(s.title)}</h3><p>Analysis <code>{_e(s.analysis)}</code> ({_e(s.analysis_title)})."
                     f" Inputs: {_e(', '.join(f'{k}: {v}' for k, v in s.inputs.items()) or '(none)')}.</p>")
        if s.params:
            frame = pd.DataFrame([(p["name"], p["value"], p["unit"], p["default"],
                                   "project" if p["set"] else "default", p["help"]) for p in s.params],
                                 columns=["Parameter", "Value", "Unit", "Default", "Set by", "Meaning"])
            parts.append(_table(frame, numeric_from=99))
        if s.sources:
            parts.append("<p>Sources:</p><ul>" + "".join(f"<li>{_e(src)}</li>" for src in s.sources) + "</ul>")
    parts.append("</section>")
    p = report.provenance
    parts.append('<section id="provenance"><h2>Appendix B. Provenance</h2>'
                 f"<p>Report made {_e(p.created)} from the project <code>{_e(p.project)}</code>.</p>"
                 "<h3>Input files</h3>")
    parts.append(_table(pd.DataFrame([(f["name"], f"{f['bytes']:,}", f["sha256"]) for f in p.files],
                                     columns=["File", "Bytes", "SHA-256"]), numeric_from=99))
    parts.append("<h3>Layers</h3>")
    parts.append(_table(pd.DataFrame([(lay["name"], lay["file"], lay["table"], "" if lay["features"] is None
                                       else f"{lay['features']:,}", lay["crs"]) for lay in p.layers],
                                     columns=["Layer", "File", "Table", "Features", "CRS"]), numeric_from=99))
    parts.append("<h3>Software</h3>")
    parts.append(_table(pd.DataFrame(list(p.software.items()), columns=["Software", "Version"]), numeric_from=99))
    parts.append("<h3>Data attribution</h3><ul>" + "".join(f"<li>{_e(a)}</li>" for a in p.attribution) + "</ul>")
    parts.append("</section></body></html>")
    return "\n".join(parts)


def write_html(report, out: str | Path) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(render_html(report), encoding="utf-8")
    return out
