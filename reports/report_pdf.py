"""The report as an A4 PDF, laid out with matplotlib (PdfPages; text as embedded TrueType
fonts): a cover, the key figures, one section per analysis (text, map, key figures, chart, table
by district), a methods appendix and a provenance appendix, with page numbers."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from layers.writers import atomic_path

W, H = 8.27, 11.69  # A4 portrait, inches
M = 0.75  # margin
CW = W - 2 * M  # content width
ACCENT = "#0072B2"


class Flow:
    """Text, images and tables flowing down A4 pages; ``y`` is inches from the page top."""

    def __init__(self, header: str):
        from matplotlib import rc_context

        from reports.meeting_map import RC

        self.header = header
        self.pages = []
        self._pictures: dict[bytes, object] = {}
        self._rc = rc_context(RC)
        self._rc.__enter__()
        self.new_page()

    def new_page(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(W, H))
        FigureCanvasAgg(fig)
        self.pages.append(fig)
        self.fig = fig
        self.y = M

    def room(self, need: float) -> None:
        if self.y + need > H - M - 0.3:
            self.new_page()

    def space(self, inches: float) -> None:
        self.y += inches

    def text(self, text: str, size: float = 10, *, weight: str = "normal", color: str = "#1a1a1a",
             indent: float = 0.0, gap: float = 0.06, width: float | None = None) -> None:
        chars = max(10, int(((width or CW) - indent) * 72 / (size * 0.55)))
        lines = []
        for para in str(text).split("\n"):
            lines += textwrap.wrap(para, chars) or [""]
        step = size * 1.38 / 72
        for line in lines:
            self.room(step)
            self.fig.text((M + indent) / W, 1 - self.y / H, line, fontsize=size, weight=weight, color=color, va="top")
            self.y += step
        self.y += gap

    def heading(self, text: str, size: float = 15) -> None:
        self.room(size * 3 / 72 + 0.8)  # never a heading alone at the foot of a page
        self.space(0.08)
        self.text(text, size, weight="bold", color="#111111", gap=0.02)
        self.fig.add_artist(_rule(self.fig, self.y))
        self.y += 0.12

    def image(self, png: bytes, max_h: float, caption: str = "") -> None:
        array = self._pictures.get(png)
        if array is None:  # one array per picture: the PDF then holds a picture shown twice once
            array = self._pictures[png] = _pixels(png)[::-1]  # bottom row first, as renderers take them
        ih, iw = array.shape[:2]
        w = CW
        h = w * ih / iw
        if h > max_h:
            h, w = max_h, max_h * iw / ih
        self.room(h + (0.3 if caption else 0.05))
        self.fig.add_artist(_Picture(array, ((M + (CW - w) / 2) / W, 1 - (self.y + h) / H, w / W, h / H)))
        self.y += h + 0.05
        if caption:
            self.text(caption, 8, color="#555555", gap=0.1)

    def table(self, rows: list[list[str]], header: list[str], *, size: float = 7.5,
              weights: list[float] | None = None, numeric_from: int = 1) -> None:
        n = len(header)
        lens = [max([len(str(header[i]))] + [len(str(r[i])) for r in rows]) for i in range(n)]
        weights = weights or [min(max(v, 4), 60) for v in lens]
        widths = [CW * v / sum(weights) for v in weights]
        char_in = size * 0.55 / 72

        def cells(values):
            return [textwrap.wrap(str(v), max(3, int(widths[i] / char_in) - 1)) or [""] for i, v in enumerate(values)]

        line = size * 1.35 / 72

        def draw(values, bold=False):
            wrapped = cells(values)
            height = max(len(c) for c in wrapped) * line + 0.06
            if self.y + height > H - M - 0.3:  # a new page: the header again above the row
                self.new_page()
                if not bold:
                    draw(header, bold=True)
            if bold:
                self.fig.add_artist(_band(self.fig, self.y, height))
            x = M
            for i, lines in enumerate(wrapped):
                right = i >= numeric_from and not bold
                for k, text in enumerate(lines):
                    self.fig.text((x + (widths[i] - 0.05 if right else 0.05)) / W, 1 - (self.y + 0.03 + k * line) / H,
                                  text, fontsize=size, va="top", ha="right" if right else "left",
                                  weight="bold" if bold else "normal")
                x += widths[i]
            self.y += height
            self.fig.add_artist(_rule(self.fig, self.y, color="#dddddd"))

        self.room(3 * line + 0.2)  # the header never alone at the foot of a page
        draw(header, bold=True)
        for values in rows:
            draw(values)
        self.y += 0.12

    def finish(self, out: Path) -> Path:
        from matplotlib.backends.backend_pdf import PdfPages

        total = len(self.pages)
        with atomic_path(out) as tmp, PdfPages(tmp, metadata={"Title": self.header, "Creator": "CityDesk"}) as pdf:
            for i, fig in enumerate(self.pages, 1):
                if i > 1:
                    fig.text(M / W, 0.45 / H, self.header, fontsize=7.5, color="#666666")
                fig.text(1 - M / W, 0.45 / H, f"Page {i} of {total}", fontsize=7.5, color="#666666", ha="right")
                pdf.savefig(fig)
        self._rc.__exit__(None, None, None)
        return out


def _picture_class():
    from matplotlib.artist import Artist
    from matplotlib.transforms import Affine2D

    class Picture(Artist):
        """Pixels (bottom row first) filling ``box`` (figure fractions x, y, w, h) of a PDF page,
        embedded as they are: no Axes, no resampling, no colour mapping (an ``imshow`` in an
        Axes of its own took a fifth of the report's time)."""

        def __init__(self, pixels, box):
            super().__init__()
            self._pixels, self._box = pixels, box

        def draw(self, renderer):
            if not self.get_visible():
                return
            x, y, w, h = self._box
            (x0, y0), (x1, y1) = self.get_figure().transFigure.transform([(x, y), (x + w, y + h)])
            gc = renderer.new_gc()
            renderer.draw_image(gc, x0, y0, self._pixels, Affine2D().scale(x1 - x0, y1 - y0))
            gc.restore()
            self.stale = False

    return Picture


def _Picture(pixels, box):  # noqa: N802 - builds the Artist subclass on first use (matplotlib imports lazily)
    global _PICTURE
    if _PICTURE is None:
        _PICTURE = _picture_class()
    return _PICTURE(pixels, box)


_PICTURE = None


def _pixels(png: bytes):
    """The PNG's pixels as 8-bit RGB (RGBA only when it has transparency): matplotlib's own
    reader makes floats, and an opaque alpha channel would be written as a second image."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image = image.convert("RGBA")
        array = np.asarray(image)
    return array[:, :, :3] if (array[:, :, 3] == 255).all() else array


def _rule(fig, y, color="#bbbbbb"):
    from matplotlib.lines import Line2D

    return Line2D([M / W, 1 - M / W], [1 - y / H, 1 - y / H], transform=fig.transFigure, color=color, linewidth=0.6)


def _band(fig, y, height):
    from matplotlib.patches import Rectangle

    return Rectangle((M / W, 1 - (y + height) / H), CW / W, height / H, transform=fig.transFigure,
                     facecolor="#eef2f6", edgecolor="none")


def write_pdf(report, out: str | Path) -> Path:
    out = Path(out)
    flow = Flow(report.title)
    _cover(flow, report)
    flow.new_page()
    flow.heading("Summary of key figures")
    for note in report.notes:
        flow.text(note, 9, color="#555555")
    for i, s in enumerate(report.sections, 1):
        flow.text(f"{i}. {s.title}", 10, weight="bold", gap=0.02)
        flow.text(s.sentences[0] if s.sentences else "", 9.5, indent=0.25, gap=0.1)
    for i, s in enumerate(report.sections, 1):
        flow.new_page()
        _section(flow, i, s)
    flow.new_page()
    flow.heading("Appendix A. Methods and parameters")
    for i, s in enumerate(report.sections, 1):
        flow.text(f"{i}. {s.title}", 10, weight="bold", gap=0.02)
        flow.text(f"Analysis '{s.analysis}' ({s.analysis_title}). Inputs: "
                  + (", ".join(f"{k}: {v}" for k, v in s.inputs.items()) or "(none)") + ".", 8.5, gap=0.05)
        if s.params:
            flow.table([[p["name"], f"{p['value']} {p['unit']}".strip() + ("" if p["set"] else " (default)"),
                         p["help"]] for p in s.params],
                       ["Parameter", "Value used", "Meaning"], size=7, weights=[18, 16, 60], numeric_from=99)
        for src in s.sources:
            flow.text(f"Source: {src}", 7.5, color="#333333", indent=0.15, gap=0.03)
        flow.space(0.12)
    flow.new_page()
    _provenance(flow, report.provenance)
    return flow.finish(out)


def _cover(flow: Flow, report) -> None:
    from matplotlib.patches import Rectangle

    fig = flow.fig
    fig.add_artist(Rectangle((0, 1 - 3.2 / H), 1, 3.2 / H, transform=fig.transFigure, facecolor=ACCENT,
                             edgecolor="none"))
    fig.text(M / W, 1 - 1.2 / H, report.city, fontsize=14, color="white", va="top")
    flow.y = 1.7
    for line in textwrap.wrap(report.title, 34):
        fig.text(M / W, 1 - flow.y / H, line, fontsize=24, weight="bold", color="white", va="top")
        flow.y += 0.45
    flow.y = 3.7
    flow.text(f"Date: {report.date}", 12)
    flow.text(f"{len(report.sections)} analyses · prepared with CityDesk "
              f"{report.provenance.software.get('CityDesk', '')}", 11, color="#444444")
    first = next((s for s in report.sections if s.map_png), None)
    if first is not None:
        flow.space(0.2)
        flow.image(first.map_png, 4.6)
    flow.y = H - M - 1.4
    flow.text("Data: " + "; ".join(report.attribution), 8, color="#444444")


def _section(flow: Flow, i: int, s) -> None:
    flow.heading(f"{i}. {s.title}")
    flow.text(f"{s.analysis_title}. {s.description}", 8.5, color="#555555", gap=0.1)
    for text in s.sentences:
        flow.text(text, 10, gap=0.05)
    flow.space(0.05)
    if s.map_png:
        flow.image(s.map_png, 5.0, caption=f"Map {i}. {s.title}")
    if s.figures:
        flow.table([list(f) for f in s.figures], ["Key figure", "Value"], size=8, weights=[60, 25])
    if s.chart_png:
        flow.image(s.chart_png, 2.9, caption=s.chart_title)
    if s.table is not None:
        flow.text(s.table_title, 10, weight="bold", gap=0.04)
        flow.table([list(r) for r in s.table.itertuples(index=False, name=None)], list(s.table.columns), size=7)
    if s.table_note:
        flow.text(s.table_note, 8, color="#555555")


def _provenance(flow: Flow, p) -> None:
    flow.heading("Appendix B. Provenance")
    flow.text(f"Report made {p.created} from the project {p.project}.", 9)
    flow.text("Input files", 10, weight="bold", gap=0.04)
    flow.table([[f["name"], f"{f['bytes']:,}", f["sha256"]] for f in p.files], ["File", "Bytes", "SHA-256"],
               size=7, weights=[20, 10, 64], numeric_from=99)
    flow.text("Layers", 10, weight="bold", gap=0.04)
    flow.table([[lay["name"], lay["file"], lay["table"], "" if lay["features"] is None else f"{lay['features']:,}",
                 lay["crs"]] for lay in p.layers], ["Layer", "File", "Table", "Features", "CRS"], size=7,
               weights=[30, 16, 26, 10, 12], numeric_from=99)
    flow.text("Software", 10, weight="bold", gap=0.04)
    flow.table([[k, v] for k, v in p.software.items()], ["Software", "Version"], size=7, weights=[30, 30],
               numeric_from=99)
    flow.text("Data attribution", 10, weight="bold", gap=0.04)
    for a in p.attribution:
        flow.text(f"• {a}", 8.5, indent=0.1, gap=0.02)
