"""The report (PDF, HTML) and slides of a small project: the key figures in the text match the
summary, fonts are embedded, pages are numbered, the HTML is self-contained and escaped."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from layers.project import load_project
from reports import sentences as say
from reports.report import build_report, write_report
from reports.slides import write_slides
from tests.reports.small_city import EVIL, make_project

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    project = load_project(make_project(folder))
    report = build_report(project, map_dpi=60)
    paths = write_report(report, folder / "out")
    slides = write_slides(report, folder / "out" / "slides.pptx")
    return report, folder / "out", paths, slides


def test_figures_come_from_the_summary(pack):
    report, *_ = pack
    (section,) = report.sections
    s = section.summary
    # buildings at x = 0..700 m; parks at x 0-180: within 250 m are x = 0..400 -> B0..B4 (150 of 360 residents)
    assert s["residents_total"] == 360 and s["residents_not_covered"] == pytest.approx(210)
    assert section.sentences[0].startswith("210 residents (58.3 %) live more than 250 m from Parks")
    assert section.table is not None and list(section.table.iloc[:, 0]) == [EVIL, "Kruununhaka"]
    assert section.map_png[:4] == b"\x89PNG" and section.chart_png[:4] == b"\x89PNG"
    assert any(p["name"] == "max_distance_m" and p["value"] == "250" and p["set"] for p in section.params)
    assert section.sources and "WHO" in section.sources[0]


@needs_poppler
def test_pdf_text_fonts_and_pages(pack):
    report, out, paths, _ = pack
    pdf = out / "report.pdf"
    assert pdf in paths
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = re.sub(r"\s+", " ", text)
    s = report.sections[0].summary
    assert f"{say.number(s['residents_not_covered'])} residents ({say.percent(1 - s['covered_share'])})" in flat
    assert say.percent(s["covered_share"]) in flat
    pages = int(re.search(r"Page 1 of (\d+)", flat).group(1))
    assert pages >= 4 and f"Page {pages} of {pages}" in flat
    for expected in ("Summary of key figures", "Appendix A. Methods", "Appendix B. Provenance", "max_distance_m",
                     report.provenance.files[1]["sha256"], "© OpenStreetMap contributors", "Kruununhaka"):
        assert expected in flat, expected
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.strip().splitlines()[2:]
    assert rows and all(" yes " in row for row in rows), fonts
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "3", str(pdf), str(out / "page")], check=True)
    assert len(list(out.glob("page-*.png"))) == 3
    # the map is embedded with its own pixels (not resampled), once, though the cover shows it too
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True,
                            check=True).stdout.strip().splitlines()[2:]
    from PIL import Image

    with Image.open(io.BytesIO(report.sections[0].map_png)) as png:
        size = png.size
    maps = [row.split() for row in images if row.split()[3:5] == [str(size[0]), str(size[1])]]
    assert [m[0] for m in maps] == ["1", "3"] and maps[0][10] == maps[1][10]  # the cover and section 1: one object


def test_html_is_self_contained_and_escaped(pack):
    _, out, _, _ = pack
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()  # the district name is untrusted text, not code
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Kamppi" in html
    assert "Test data &lt;b&gt;bold&lt;/b&gt;" in html
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html, re.I)  # no external resource
    assert "url(" not in html
    assert html.count('src="data:image/png;base64,') == 2  # map and chart inlined


def test_slides_open_and_hold_the_figures(pack):
    from pptx import Presentation

    report, _, _, slides = pack
    deck = Presentation(str(slides))
    assert len(deck.slides) == 1 + len(report.sections)
    texts = " ".join(shape.text_frame.text for slide in deck.slides for shape in slide.shapes if shape.has_text_frame)
    assert report.title in texts and report.sections[0].sentences[0] in texts
    assert any(shape.shape_type == 13 for shape in deck.slides[1].shapes)  # the map picture


def test_citydesk_report_command(tmp_path: Path, capsys):
    from app.cli import main

    project = make_project(tmp_path)
    assert main(["report", str(project), "--out", str(tmp_path / "r"), "--format", "html,pptx"]) == 0
    assert (tmp_path / "r" / "report.html").exists() and (tmp_path / "r" / "slides.pptx").exists()
    assert "210 residents" in capsys.readouterr().out
    assert main(["report", str(project), "--out", str(tmp_path / "r"), "--format", "docx"]) == 2


def test_sentences_are_generic_over_summary_keys():
    class Spec:
        sentences = None

    text = say.sentences(Spec(), {"covered_share_before": 0.0738, "covered_share_after": 0.4829,
                                  "residents_added": 1773.6}, {}, {})
    assert text == ["Residents covered: 7.4 % before, 48.3 % after.", "1 774 more residents are within reach."]

    class Own:
        @staticmethod
        def sentences(summary, params, inputs):
            return [f"{summary['n']} things."]

    assert say.sentences(Own(), {"n": 3}, {}, {}) == ["3 things."]
    assert say.sentences(None, {"stations": 6, "no2_max_mean": 29.62}, {}, {}) == [
        "Stations: 6; Highest NO2 annual mean (µg/m³): 29.6."]
