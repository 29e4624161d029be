"""Derive ``edinburgh_smart_bins_sample.xlsx``: a trimmed copy of the City of Edinburgh Council
smart-bin export (Enevo, 2016) with its quirks kept — a summary row and a date row above the real
header, units, a note and a time zone inside column names, bins known only by site name and
address, a record ``ID`` column unique on every row, a second "Container slot" block of columns.

Contains information from the City of Edinburgh Council, Open Government Licence v3.0.

Run once by hand (the tests never read the original):
``.venv/bin/python tests/data/make_edinburgh_readings.py /path/to/smart_bin_collections_2016.xlsx``.
It keeps every collection of the first three sites (by first row) plus one extra site whose name
has a double space, and writes the rows in the original order (newest first).
"""

from __future__ import annotations

import sys
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
OUT = HERE / "edinburgh_smart_bins_sample.xlsx"
SITES = 3


def main(source: str) -> None:
    book = openpyxl.load_workbook(source, read_only=True)  # formulas kept as written
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    title, summary, header, data = rows[0], rows[1], rows[2], [r for r in rows[3:] if any(v is not None for v in r)]
    name = header.index("Site name")
    sites: list[str] = []
    for row in data:
        if row[name] not in sites and len(sites) < SITES:
            sites.append(row[name])
    spaced = next(r[name] for r in data if "  " in r[name])
    keep = [r for r in data if r[name] in sites or r[name] == spaced]
    out = openpyxl.Workbook()
    ws = out.active
    ws.title = sheet.title
    ws.append(list(title))
    ws.append([_figure(v, i, keep) for i, v in enumerate(summary)])  # what Excel shows for the formulas
    ws.append(list(header))
    for row in keep:
        ws.append(list(row))
    ws.append([None] * len(header))
    out.save(OUT)
    print(f"wrote {OUT} ({len(keep)} collections of {len(sites) + 1} sites)")


def _figure(value, column: int, keep: list[tuple]):
    """A summary cell's formula (=AVERAGE / =SUM over the column) as its value on the kept rows."""
    if not (isinstance(value, str) and value.startswith("=")):
        return value
    numbers = [r[column] for r in keep if isinstance(r[column], int | float)]
    total = float(sum(numbers))
    return total if value.upper().startswith("=SUM") else round(total / max(len(numbers), 1), 6)


if __name__ == "__main__":
    main(sys.argv[1])
