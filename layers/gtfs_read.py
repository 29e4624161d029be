"""Reading the text files of a GTFS zip: only the columns asked for, as Arrow strings (pyarrow's
multi-threaded CSV reader), big files in blocks; times as int32 seconds after midnight.

A file that is missing, or lacks a required column, is reported (:class:`FeedReport`) and read as
absent; the caller decides what it can still do without it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from layers.errors import CityDeskError
from layers.gtfs_report import FeedReport

#: Required columns per file (GTFS reference; the conditionally required ones are checked where used).
REQUIRED = {
    "agency.txt": ("agency_name",),
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
    "calendar.txt": ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                     "start_date", "end_date"),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "frequencies.txt": ("trip_id", "start_time", "end_time", "headway_secs"),
    "shapes.txt": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
}
BLOCK_BYTES = 32 << 20  # stop_times.txt is read in blocks of this many bytes
_TIME = r"^\s*(?P<h>\d{1,3}):(?P<m>[0-5]\d):(?P<s>[0-5]\d)\s*$"


class FeedZip:
    """A GTFS zip, its members found by file name (also inside a folder of the zip)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CityDeskError(f"the GTFS zip cannot be opened ({exc})", source=self.path,
                                fix="The file may be damaged or only partly downloaded; download it again") from exc
        self.members = {}
        for name in self.zf.namelist():
            base = PurePosixPath(name).name
            if base and base not in self.members:
                self.members[base] = name

    def __enter__(self) -> FeedZip:
        return self

    def __exit__(self, *exc) -> None:
        self.zf.close()

    def has(self, name: str) -> bool:
        return name in self.members

    def header(self, name: str) -> list[str]:
        """The column names of a file, stripped of spaces and a byte-order mark."""
        with self.zf.open(self.members[name]) as fh:
            first = fh.readline().decode("utf-8-sig", errors="replace")
        return [c.strip().strip('"').strip() for c in first.rstrip("\r\n").split(",")]

    def columns(self, name: str, report: FeedReport, *, required: bool = False) -> list[str] | None:
        """The header of ``name``, or None (reported) when the file is missing or lacks a required column."""
        if not self.has(name):
            if required:
                report.add(name, None, None, "the file is missing (the GTFS reference requires it)",
                           action="what needs it is left out")
            return None
        header = self.header(name)
        missing = [c for c in REQUIRED.get(name, ()) if c not in header]
        if missing:
            report.add(name, 1, ", ".join(missing), f"required column(s) {', '.join(missing)} missing",
                       action="the file is not used")
            return None
        return header

    def stream(self, name: str, header: list[str], wanted: tuple[str, ...],
               block_bytes: int | None = BLOCK_BYTES) -> Iterator[tuple[int, pa.RecordBatch]]:
        """(first row number, record batch) of the ``wanted`` columns, in blocks; row 0 is line 2."""
        include = [c for c in wanted if c in header]
        names = _unique_names(header)
        read_options = pacsv.ReadOptions(column_names=names, skip_rows=1,
                                         block_size=block_bytes or (1 << 30), use_threads=True)
        convert = pacsv.ConvertOptions(include_columns=include, column_types={c: pa.string() for c in include},
                                       strings_can_be_null=True, quoted_strings_can_be_null=True)
        parse = pacsv.ParseOptions(newlines_in_values=False)
        offset = 0
        try:
            with self.zf.open(self.members[name]) as raw:
                fh = io.BufferedReader(raw, buffer_size=1 << 20)
                if block_bytes is None:
                    table = pacsv.read_csv(fh, read_options=read_options, parse_options=parse,
                                           convert_options=convert)
                    batches = table.combine_chunks().to_batches() or [_empty_batch(include)]
                    for batch in batches:
                        yield offset, batch
                        offset += batch.num_rows
                    return
                reader = pacsv.open_csv(fh, read_options=read_options, parse_options=parse, convert_options=convert)
                for batch in reader:
                    yield offset, batch
                    offset += batch.num_rows
        except (pa.ArrowInvalid, zipfile.BadZipFile, OSError, EOFError) as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise CityDeskError(f"{name} of this GTFS feed cannot be read near row {offset + 2:,} ({first})",
                                source=self.path, fix="Check the file against the GTFS reference (UTF-8 text, "
                                "one header line, the same number of fields on every line)") from exc


def read_table(feed: FeedZip, name: str, wanted: tuple[str, ...], report: FeedReport, *,
               required: bool = False) -> pa.Table | None:
    """A small file read whole, or None (reported) when it is missing or lacks a required column."""
    header = feed.columns(name, report, required=required)
    if header is None:
        return None
    batches = [b for _, b in feed.stream(name, header, wanted, None)]
    table = pa.Table.from_batches(batches)
    for column in wanted:  # optional columns the file lacks: all null
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
    return table


def parse_times(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """GTFS times ``H:MM:SS`` / ``HH:MM:SS`` (hours past 24 allowed) as int32 seconds, -1 where
    empty or bad; and the mask of bad (non-empty, unreadable) values. ``HH:MM:SS`` is read straight
    from the Arrow buffers; other forms through a regular expression."""
    values = _array(values)
    if values.type != pa.string():
        values = pc.cast(values, pa.string())
    n = len(values)
    seconds = np.full(n, -1, dtype=np.int32)
    valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    _, offset_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offset_buf, dtype=np.int32)[values.offset: values.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    fast = valid & (np.diff(offsets) == 8)
    rows = np.flatnonzero(fast)
    if len(rows):
        start = offsets[rows]
        if len(rows) == n and start[-1] - start[0] == 8 * (n - 1):  # contiguous: a view, no copy
            chars = data[start[0]:start[0] + 8 * n].reshape(n, 8)
            b = [chars[:, k] - np.uint8(48) for k in range(8)]
        else:
            b = [data[start + k] - np.uint8(48) for k in range(8)]  # uint8: non-digits wrap above 9
        ok = (b[2] == 10) & (b[5] == 10) & (b[3] <= 5) & (b[6] <= 5)
        for k in (0, 1, 4, 7):
            ok &= b[k] <= 9
        h = b[0].astype(np.int32) * 10 + b[1]
        sec = h * 3600 + (b[3].astype(np.int32) * 10 + b[4]) * 60 + b[6].astype(np.int32) * 10 + b[7]
        seconds[rows[ok]] = sec[ok]
        fast[rows[~ok]] = False
    slow = np.flatnonzero(valid & ~fast)
    bad = np.zeros(n, bool)
    if len(slow):
        part = values.take(pa.array(slow))
        parts = pc.extract_regex(part, _TIME)
        ok = ~np.asarray(parts.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if ok.any():
            h, m, s = (np.asarray(pc.cast(pc.struct_field(parts, k), pa.int32()).to_numpy(zero_copy_only=False))
                       for k in ("h", "m", "s"))
            seconds[slow[ok]] = (h[ok].astype(np.int32) * 3600 + m[ok] * 60 + s[ok]).astype(np.int32)
        bad[slow] = _given(part) & ~ok
    return seconds, bad


def parse_ints(values: pa.ChunkedArray | pa.Array, missing: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers as int64 (``missing`` where empty or bad) and the mask of bad values."""
    values = _array(values)
    try:  # clean columns (the usual case) in one cast
        cast = pc.cast(values, pa.int64())
        return (np.asarray(pc.fill_null(cast, missing).to_numpy(zero_copy_only=False)), np.zeros(len(values), bool))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    trimmed = pc.utf8_trim_whitespace(values)
    good = pc.fill_null(pc.match_substring_regex(trimmed, r"^[+-]?\d{1,18}$"), False)
    cleaned = pc.if_else(good, trimmed, pa.scalar(None, pa.string()))
    out = np.asarray(pc.fill_null(pc.cast(cleaned, pa.int64()), missing).to_numpy(zero_copy_only=False))
    good_np = np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)
    return out, _given(values) & ~good_np


def parse_floats(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as float64 (NaN where empty or bad) and the mask of bad values."""
    values = _array(values)
    trimmed = pc.utf8_trim_whitespace(values)
    good = pc.fill_null(pc.match_substring_regex(trimmed, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), False)
    cleaned = pc.if_else(good, trimmed, pa.scalar(None, pa.string()))
    out = np.asarray(pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    return out, _given(values) & ~np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)


def texts(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Strings as a numpy object array (None where empty)."""
    return np.asarray(_array(values).to_numpy(zero_copy_only=False), dtype=object)


def format_time(seconds: int) -> str:
    """4500 -> '01:15:00'; 90000 -> '25:00:00'."""
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _given(values: pa.Array) -> np.ndarray:
    empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)
    return ~np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)


def _array(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in header:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}.{n}")
    return out


def _empty_batch(columns: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in columns], names=columns)
