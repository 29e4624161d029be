"""The meeting slides (PPTX, python-pptx): a title slide, then one slide per analysis map with
its key figures beside it. Plain text boxes and pictures, so everything stays editable. Built
from the same :class:`reports.report.Report` as the PDF and HTML, so the figures agree."""

from __future__ import annotations

import io
from pathlib import Path

from layers.errors import CityDeskError
from layers.writers import atomic_path

ACCENT = (0x00, 0x72, 0xB2)


def write_slides(report, out: str | Path) -> Path:
    """Write ``report`` as a 16:9 deck to ``out`` (.pptx) atomically."""
    try:
        from pptx import Presentation
        from pptx.dml.color import RGBColor
        from pptx.util import Inches, Pt
    except ImportError as exc:  # pragma: no cover - a dependency of CityDesk
        raise CityDeskError("python-pptx is not installed", fix="Run 'pip install python-pptx'") from exc

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    blank = deck.slide_layouts[6]
    accent = RGBColor(*ACCENT)

    slide = deck.slides.add_slide(blank)
    band = slide.shapes.add_shape(1, 0, 0, deck.slide_width, Inches(3.2))  # 1 = rectangle
    band.fill.solid()
    band.fill.fore_color.rgb = accent
    band.line.fill.background()
    _text(slide, report.city, Inches(0.7), Inches(0.7), Inches(11.5), Inches(0.6), 20, RGBColor(255, 255, 255))
    _text(slide, report.title, Inches(0.7), Inches(1.3), Inches(11.9), Inches(1.6), 36, RGBColor(255, 255, 255),
          bold=True)
    _text(slide, f"{report.date} · {len(report.sections)} analyses", Inches(0.7), Inches(3.6), Inches(11.5),
          Inches(0.5), 18, RGBColor(0x33, 0x33, 0x33))
    _text(slide, "Data: " + "; ".join(report.attribution), Inches(0.7), Inches(6.3), Inches(11.9), Inches(0.9), 11,
          RGBColor(0x55, 0x55, 0x55))

    for i, section in enumerate(report.sections, 1):
        slide = deck.slides.add_slide(blank)
        _text(slide, f"{i}. {section.title}", Inches(0.5), Inches(0.3), Inches(12.3), Inches(0.8), 26, accent,
              bold=True)
        if section.map_png:
            slide.shapes.add_picture(io.BytesIO(section.map_png), Inches(0.5), Inches(1.2), height=Inches(5.9))
        left = Inches(9.0) if section.map_png else Inches(0.5)
        width = Inches(3.9) if section.map_png else Inches(12.3)
        box = slide.shapes.add_textbox(left, Inches(1.25), width, Inches(5.9))
        frame = box.text_frame
        frame.word_wrap = True
        first = True
        for sentence in section.sentences[:3]:
            para = frame.paragraphs[0] if first else frame.add_paragraph()
            first = False
            para.text = sentence
            para.font.size = Pt(15)
            para.space_after = Pt(8)
        for label, value in section.figures[:6]:
            para = frame.add_paragraph()
            run = para.add_run()
            run.text = f"{label}: "
            run.font.size = Pt(12)
            run = para.add_run()
            run.text = value
            run.font.size = Pt(12)
            run.font.bold = True
        slide.notes_slide.notes_text_frame.text = f"{section.analysis_title}. {section.description}"
    out = Path(out)
    with atomic_path(out) as tmp:
        deck.save(str(tmp))
    return out


def _text(slide, text, left, top, width, height, size, color, *, bold=False):
    from pptx.util import Pt

    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    para = frame.paragraphs[0]
    para.text = text
    para.font.size = Pt(size)
    para.font.bold = bold
    para.font.color.rgb = color
    return box
