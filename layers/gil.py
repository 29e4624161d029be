"""Giving the GIL away in long worker jobs, so the window's event loop never waits long.

Numpy, shapely and pyarrow calls that make Python objects hold the GIL; a worker doing such work
for a second would freeze the window for that second. Long jobs are cut into chunks and call
:func:`breathe` between them.
"""

from __future__ import annotations

import threading
import time

BREATHE_EVERY_S = 0.040  # a worker pauses at its next breathe() once this long has passed since its last pause
BREATHE_FOR_S = 0.0001  # long enough for a thread waiting on the GIL to wake and take it (~0.2 ms in all)
_MAIN_THREAD = threading.main_thread().ident
_breath = threading.local()


def breathe() -> None:
    """Let the GUI thread run: in a worker thread, release the GIL for a moment (a short sleep)
    if the last pause was :data:`BREATHE_EVERY_S` ago; otherwise return at once (a clock read).

    Called between the chunks of long work, so that the GUI thread never waits long for the GIL.
    A no-op on the main thread (the command line works there; nobody waits)."""
    now = time.perf_counter()
    if now - getattr(_breath, "last", 0.0) < BREATHE_EVERY_S or threading.get_ident() == _MAIN_THREAD:
        return
    time.sleep(BREATHE_FOR_S)
    _breath.last = time.perf_counter()


#: Geometries made at a time by :func:`made_in_chunks` (shapely holds the GIL while it makes Python objects).
CHUNK = 50_000


def made_in_chunks(make, coords, index, chunk: int = CHUNK):
    """``make(coords, indices=index)`` (``shapely.linestrings``, ``shapely.multipoints``...) for
    geometries numbered 0, 1, 2, ... with ``index`` sorted, made ``chunk`` geometries at a time
    with :func:`breathe` between the chunks: the same geometries in the same order."""
    import numpy as np

    n = int(index[-1]) + 1 if len(index) else 0
    bounds = np.searchsorted(index, np.minimum(np.arange(0, n + chunk, chunk), n))
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a:
            parts.append(make(coords[a:b], indices=index[a:b] - index[a]))
            breathe()
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)
