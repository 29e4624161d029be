""":func:`layers.style.symbolize`, remembered for graduated styles: the meeting pack draws the same
layer many times (the meeting map as PDF and PNG, each run's map with the buildings for context,
the GeoPackage's QGIS and SLD styles, the web map), and natural breaks (Fisher-Jenks, pure Python
in mapclassify) take a third of a second each time.

The key is the style and the field's values themselves (a hash of their bytes), not the frame's
identity, so an edited layer is classified afresh and a filtered copy with the same values is not.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from layers.style import Style, Symbology, symbolize

SIZE = 64  # symbologies kept (each holds one colour string per feature)
_cache: OrderedDict[tuple, Symbology] = OrderedDict()
_lock = threading.Lock()


def symbology(style: Style, gdf: pd.DataFrame) -> Symbology:
    """``symbolize(style, gdf)``; graduated styles are computed once per distinct field values."""
    if style.kind != "graduated" or not style.field or style.field not in gdf.columns:
        return symbolize(style, gdf)
    values = pd.to_numeric(gdf[style.field], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    key = (repr(style), len(values), hashlib.blake2b(np.ascontiguousarray(values).tobytes(), digest_size=16).digest())
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is None:
        hit = symbolize(style, gdf)
        with _lock:
            _cache[key] = hit
            while len(_cache) > SIZE:
                _cache.popitem(last=False)
    return Symbology(hit.colors.copy(), list(hit.legend))
