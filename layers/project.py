"""CityDesk projects: an ordered list of layers, a project CRS, a map view and analysis settings.

A ``.citydesk`` file is versioned JSON (``{"format": "citydesk-project", "version": 1, ...}``).
Layer paths are stored relative to the project file. Nothing in a project file is executed: it
is data only, and every value is checked as it is read. Saving is atomic. Opening keeps what
can be kept: a missing layer file becomes a layer with an ``error``, listed in ``warnings``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pyproj import CRS

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.layer import ROLES, Layer, Source
from layers.style import Style
from layers.writers import write_json

FORMAT = "citydesk-project"
VERSION = 1
SUFFIX = ".citydesk"


@dataclass
class AnalysisRun:
    """A configured analysis: which analysis, with which project layers in which roles, and params."""

    analysis: str
    title: str = ""
    layers: dict[str, str] = field(default_factory=dict)  # role -> project layer name
    params: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"analysis": self.analysis, "title": self.title, "layers": dict(self.layers),
                "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict) -> AnalysisRun:
        if not isinstance(data, dict) or not isinstance(data.get("analysis"), str):
            raise ValueError("an analysis entry needs an 'analysis' name")
        layers = {str(k): str(v) for k, v in dict(data.get("layers") or {}).items()}
        params = {str(k): v for k, v in dict(data.get("params") or {}).items()
                  if isinstance(v, str | int | float | bool) or v is None}
        return cls(data["analysis"], str(data.get("title") or ""), layers, params)


@dataclass
class Project:
    """What the window shows and the command line runs on."""

    layers: list[Layer] = field(default_factory=list)
    crs: CRS = field(default_factory=lambda: CRS.from_epsg(3857))
    view: tuple[float, float, float, float] | None = None  # xmin, ymin, xmax, ymax in project CRS
    title: str = "Untitled project"
    analyses: list[AnalysisRun] = field(default_factory=list)
    attribution: list[str] = field(default_factory=list)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = ", ".join(lay.name for lay in self.layers) or "(none)"
        raise CityDeskError(f"the project has no layer '{name}'", source=self.path,
                            fix=f"Layers in the project: {names}")

    def to_dict(self, base: Path | None = None) -> dict:
        base = base or (self.path.parent if self.path else Path.cwd())
        layers = []
        for layer in self.layers:
            entry = {"name": layer.name, "role": layer.role, "visible": layer.visible,
                     "style": layer.style.to_dict()}
            if layer.source is not None:
                entry["source"] = {"path": _relative(layer.source.path, base), "layer": layer.source.layer}
            layers.append(entry)
        return {"format": FORMAT, "version": VERSION, "title": self.title, "crs": self.crs.to_string(),
                "view": list(self.view) if self.view else None, "attribution": list(self.attribution),
                "layers": layers, "analyses": [a.to_dict() for a in self.analyses]}

    def save(self, path: str | Path) -> Path:
        """Write the project atomically; layer paths become relative to the project file."""
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        write_json(path, self.to_dict(path.parent.resolve()))
        self.path = path
        return path


def load_project(path: str | Path, *, feedback: Feedback | None = None) -> Project:
    """Open a ``.citydesk`` file and read its layers. Problems that leave the rest usable (a
    missing layer file, a bad style) are collected in ``project.warnings``."""
    from layers.readers import read_layer

    path = Path(path)
    data = _read_json(path)
    fb = ensure(feedback)
    project = Project(path=path, title=str(data.get("title") or path.stem))
    if data["version"] > VERSION:
        project.warnings.append(
            f"the project was saved by a newer CityDesk (file version {data['version']}; this one reads up to "
            f"{VERSION}): what this version understands is opened, the rest is left out. Update CityDesk to "
            "keep everything, and save under a new name to avoid losing the newer settings")
    try:
        project.crs = CRS.from_user_input(data.get("crs") or "EPSG:3857")
    except Exception:
        project.warnings.append(f"the project CRS '{data.get('crs')}' is not known; using EPSG:3857")
    view = data.get("view")
    if isinstance(view, list) and len(view) == 4 and all(isinstance(v, int | float) for v in view):
        project.view = tuple(float(v) for v in view)
    project.attribution = [str(a) for a in data.get("attribution") or [] if isinstance(a, str)]
    entries = data.get("layers") or []
    if not isinstance(entries, list):
        raise CityDeskError("'layers' must be a list", source=path, fix="Repair the project file or create it again")
    base = path.parent
    for i, entry in enumerate(entries):
        fb.check_cancelled()
        fb.progress(i / max(len(entries), 1), f"Reading layer {i + 1} of {len(entries)}")
        if not isinstance(entry, dict):
            project.warnings.append(f"layer entry {i + 1} is not an object and was skipped")
            continue
        name = str(entry.get("name") or f"layer {i + 1}")
        try:
            style = Style.from_dict(entry.get("style"))
        except (TypeError, ValueError):
            style = Style()
            project.warnings.append(f"layer '{name}': its style could not be read; the default style is used")
        role = entry.get("role") if entry.get("role") in ROLES else "other"
        src = entry.get("source") if isinstance(entry.get("source"), dict) else None
        source = Source(str(src.get("path")), src.get("layer")) if src and src.get("path") else None
        layer = Layer(name, None, source, role, style, bool(entry.get("visible", True)))
        if source is None:
            layer.error = "the layer has no source"
        else:
            file = Path(source.path)
            file = file if file.is_absolute() else base / file
            layer.source = Source(str(file), source.layer)
            try:
                layer.gdf = read_layer(file, source.layer)
            except CityDeskError as exc:
                layer.error = exc.message
        if layer.error:
            project.warnings.append(f"layer '{name}': {layer.error}")
        project.layers.append(layer)
    for i, entry in enumerate(data.get("analyses") or []):
        try:
            project.analyses.append(AnalysisRun.from_dict(entry))
        except (TypeError, ValueError) as exc:
            project.warnings.append(f"analysis entry {i + 1} was skipped: {exc}")
    fb.progress(1.0, "Project open")
    return project


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise CityDeskError("the project file does not exist", source=path, fix="Check the path")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise CityDeskError(f"the project file is not valid JSON{where}", source=path,
                            fix="Restore it from a backup, or repair the JSON in a text editor") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CityDeskError("this is not a CityDesk project file", source=path,
                            fix="Open a .citydesk file saved by CityDesk")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise CityDeskError(f"the project file has an invalid version ({version!r})", source=path,
                            fix="Repair the 'version' field or save the project again")
    return data


def _relative(path: str, base: Path) -> str:
    if "://" in path:
        return path
    try:
        return Path(os.path.relpath(Path(path).resolve(), base)).as_posix()
    except ValueError:  # another drive on Windows
        return str(Path(path).resolve())
