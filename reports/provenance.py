"""Where the numbers come from: the project's input files with their SHA-256, the layers with
feature counts and CRS, the software versions, the date and the data attributions. No Qt."""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Provenance:
    created: str  # ISO date and time, local
    project: str  # the project file
    files: list[dict] = field(default_factory=list)  # path, bytes, sha256
    layers: list[dict] = field(default_factory=list)  # name, file, table, features, crs, visible
    software: dict[str, str] = field(default_factory=dict)
    attribution: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"created": self.created, "project": self.project, "files": self.files, "layers": self.layers,
                "software": self.software, "attribution": self.attribution}


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def software_versions() -> dict[str, str]:
    import geopandas
    import matplotlib
    import numpy
    import pandas
    import pyogrio
    import pyproj
    import shapely

    from app import __version__

    return {"CityDesk": __version__, "Python": platform.python_version(), "geopandas": geopandas.__version__,
            "shapely": shapely.__version__, "pyproj": pyproj.__version__, "PROJ": pyproj.proj_version_str,
            "pyogrio": pyogrio.__version__, "GDAL": pyogrio.__gdal_version_string__,
            "pandas": pandas.__version__, "numpy": numpy.__version__, "matplotlib": matplotlib.__version__}


def project_provenance(project, *, now: dt.datetime | None = None) -> Provenance:
    """The provenance of ``project`` as opened: every layer's source file hashed once."""
    files: dict[str, dict] = {}
    layers = []
    for layer in project.layers:
        path = Path(layer.source.path) if layer.source is not None else None
        if path is not None and "://" not in str(path) and path.is_file() and str(path) not in files:
            files[str(path)] = {"path": str(path), "name": path.name, "bytes": path.stat().st_size,
                                "sha256": sha256(path)}
        layers.append({"name": layer.name, "file": path.name if path else "(none)",
                       "table": (layer.source.layer or "") if layer.source else "",
                       "features": len(layer.gdf) if layer.gdf is not None else None,
                       "crs": _crs_name(layer.gdf), "visible": layer.visible, "error": layer.error or ""})
    if project.path is not None and Path(project.path).is_file():
        p = Path(project.path)
        files = {str(p): {"path": str(p), "name": p.name, "bytes": p.stat().st_size, "sha256": sha256(p)}, **files}
    created = (now or dt.datetime.now()).isoformat(timespec="seconds")
    return Provenance(created, str(project.path or ""), list(files.values()), layers, software_versions(),
                      list(project.attribution))


def _crs_name(gdf) -> str:
    if gdf is None or gdf.crs is None:
        return ""
    epsg = gdf.crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else gdf.crs.name
