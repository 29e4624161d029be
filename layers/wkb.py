"""Decoding WKB geometry in chunks, so a loading worker never holds the GIL for long.

``shapely.from_wkb`` and turning an Arrow binary column into Python ``bytes`` both hold the GIL;
on a million buildings that is about a second in one piece, and the window's event loop would stop
for that second. Decoded 20,000 at a time, with a pause between chunks (:func:`layers.gil.breathe`),
the longest hold is a few tens of milliseconds and the total time is the same.
"""

from __future__ import annotations

import numpy as np
import shapely

from layers.gil import breathe

CHUNK = 20_000


def from_wkb_chunked(column, *, on_invalid: str = "fix", chunk: int = CHUNK) -> np.ndarray:
    """Shapely geometries (an object array, None where the WKB is null) from a pyarrow binary
    ``ChunkedArray`` or ``Array``. ``on_invalid`` as in :func:`shapely.from_wkb`."""
    pieces = column.chunks if hasattr(column, "chunks") else [column]
    out = np.empty(sum(len(p) for p in pieces), dtype=object)
    at = 0
    for piece in pieces:
        for start in range(0, len(piece), chunk):
            part = piece.slice(start, chunk)
            if hasattr(part, "storage"):  # a geoarrow.wkb extension array: its storage is the binary
                part = part.storage
            out[at:at + len(part)] = shapely.from_wkb(part.to_numpy(zero_copy_only=False), on_invalid=on_invalid)
            at += len(part)
            breathe()  # hand the GIL to a waiting thread (the window's event loop)
    return out
