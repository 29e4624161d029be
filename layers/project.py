"""CityDesk projects: an ordered list of layers, a project CRS, a map view and analysis settings.

A ``.citydesk`` file is versioned JSON (``{"format": "citydesk-project", "version": 1, ...}``).
Layer paths are stored relative to the project file. Nothing in a project file is executed: it
is data only, and every value is checked as it is read. Saving is atomic. Opening keeps what
can be kept: a missing layer file becomes a layer with an ``error``, listed in ``warnings``.
Layers without a file of their own (analysis results, edited copies) are kept in a GeoPackage
next to the project (``city_layers.gpkg``), written by :func:`save_project`.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pyproj import CRS

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure
from layers.layer import ROLES, Layer, Source
from layers.style import Style
from layers.writers import write_json, write_layers

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
    results: list[dict] = field(default_factory=list)  # Results-panel entries as JSON data (app/result_store.py)

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
        for layer in (lay for lay in self.layers if not lay.transient):
            entry = {"name": layer.name, "role": layer.role, "visible": layer.visible,
                     "style": layer.style.to_dict()}
            if layer.source is not None:
                entry["source"] = {"path": _relative(layer.source.path, base), "layer": layer.source.layer}
            layers.append(entry)
        return {"format": FORMAT, "version": VERSION, "title": self.title, "crs": self.crs.to_string(),
                "view": list(self.view) if self.view else None, "attribution": list(self.attribution),
                "layers": layers, "analyses": [a.to_dict() for a in self.analyses],
                "results": [dict(r) for r in self.results]}

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
    title = data.get("title")
    project = Project(path=path, title=title if isinstance(title, str) and title else path.stem)
    if data["version"] > VERSION:
        project.warnings.append(
            f"the project was saved by a newer CityDesk (file version {data['version']}; this one reads up "
            f"to {VERSION}): what this version understands is opened, the rest is left out. Update CityDesk "
            "to keep everything, and save under a new name to avoid losing the newer settings")
    crs = data.get("crs")
    try:
        if not isinstance(crs, str | int | None):
            raise TypeError(type(crs).__name__)
        project.crs = CRS.from_user_input(crs or "EPSG:3857")
    except Exception:
        project.warnings.append(f"the project CRS {str(crs)[:80]!r} is not known; using EPSG:3857")
    view = data.get("view")
    if isinstance(view, list) and len(view) == 4 and all(_finite(v) for v in view):
        project.view = tuple(float(v) for v in view)
    attribution = data.get("attribution")
    if isinstance(attribution, list):
        project.attribution = [a for a in attribution if isinstance(a, str)]
    entries = data.get("layers") or []
    if not isinstance(entries, list):
        raise CityDeskError("'layers' must be a list", source=path,
                            fix="Repair the project file or create it again")
    base = path.parent
    for i, entry in enumerate(entries):
        fb.check_cancelled()
        fb.progress(i / max(len(entries), 1), f"Reading layer {i + 1} of {len(entries)}")
        if not isinstance(entry, dict):
            project.warnings.append(f"layer entry {i + 1} is not an object and was skipped")
            continue
        name = entry.get("name")
        name = name if isinstance(name, str) and name else f"layer {i + 1}"
        style = Style.from_dict(entry.get("style"))  # never raises: bad values fall back to defaults
        role = entry.get("role") if entry.get("role") in ROLES else "other"
        src = entry.get("source") if isinstance(entry.get("source"), dict) else None
        source = None
        if src and isinstance(src.get("path"), str) and src["path"]:
            source = Source(src["path"], src.get("layer") if isinstance(src.get("layer"), str) else None)
        visible = entry.get("visible", True)
        layer = Layer(name, None, source, role, style, visible if isinstance(visible, bool) else True)
        if source is None:
            layer.error = "the layer has no source"
        else:
            if "://" in source.path:  # a database URL (postgresql://…): kept as written, no password in it
                file = source.path
            else:
                file = Path(source.path)
                file = file if file.is_absolute() else base / file
            layer.source = Source(str(file), source.layer)
            try:
                layer.gdf = read_layer(file, source.layer)
            except CityDeskError as exc:
                layer.error = exc.message
            except Exception as exc:  # a damaged file must not stop the rest of the project from opening
                layer.error = f"{file}: cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
        if layer.error:
            project.warnings.append(f"layer '{name}': {layer.error}")
        project.layers.append(layer)
    runs = data.get("analyses") or []
    for i, entry in enumerate(runs if isinstance(runs, list) else []):
        try:
            project.analyses.append(AnalysisRun.from_dict(entry))
        except (TypeError, ValueError) as exc:
            project.warnings.append(f"analysis entry {i + 1} was skipped: {exc}")
    results = data.get("results") or []
    for i, entry in enumerate(results if isinstance(results, list) else []):
        if isinstance(entry, dict) and isinstance(entry.get("analysis"), str) \
                and isinstance(entry.get("summary"), dict):
            project.results.append(entry)
        else:
            project.warnings.append(f"result entry {i + 1} was skipped: it needs an analysis name and a summary")
    fb.progress(1.0, "Project open")
    return project


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise CityDeskError("the project file does not exist", source=path, fix="Check the path")
    if path.is_dir():
        raise CityDeskError("this is a folder, not a project file", source=path,
                            fix="Choose a .citydesk file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CityDeskError("this is not a CityDesk project file (it is not text)", source=path,
                            fix="Open a .citydesk file saved by CityDesk; add data files as layers") from exc
    except OSError as exc:
        raise CityDeskError(f"the project file cannot be read ({exc.strerror or exc})", source=path,
                            fix="Check that you may read the file") from exc
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
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


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed in a project file")


def _relative(path: str, base: Path) -> str:
    if "://" in path:
        return path
    try:
        return Path(os.path.relpath(Path(path).resolve(), base)).as_posix()
    except ValueError:  # another drive on Windows
        return str(Path(path).resolve())


# ----------------------------------------------------------------- layers kept with the project

LAYERS_FILE_SUFFIX = "_layers.gpkg"


def layers_file(project_path: str | Path) -> Path:
    """The GeoPackage next to a project that keeps its layers without a file of their own
    (analysis results, edited copies): ``city.citydesk`` -> ``city_layers.gpkg``."""
    path = Path(project_path)
    stem = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
    return path.with_name(stem + LAYERS_FILE_SUFFIX)


def layers_to_keep(project: Project, path: str | Path) -> list[Layer]:
    """The layers that saving ``project`` to ``path`` writes into :func:`layers_file` of ``path``:
    those with data but no source, plus those already kept in the project's layers file (its
    current one or the one at ``path``): the GeoPackage is rewritten whole, so they go together.
    Empty when no layer has lost its file and the layers file stays where it is."""
    target = _resolved(layers_file(path))
    current = _resolved(layers_file(project.path)) if project.path else target
    kept = [lay for lay in project.layers
            if lay.source is not None and _resolved(lay.source.path) in (target, current)]
    fresh = [lay for lay in project.layers if lay.source is None and lay.gdf is not None and not lay.transient]
    if not fresh and current == target:
        return []
    for layer in kept:
        if layer.gdf is None:
            raise CityDeskError(f"the layer '{layer.name}' kept in {Path(layer.source.path).name} could not be "
                                "read, and rewriting the file would lose it", source=project.path,
                                fix="Remove the layer from the project, or repair the file, then save again")
    return [lay for lay in project.layers if lay in kept or lay in fresh]


def write_layers_file(project: Project, path: str | Path, *,
                      feedback: Feedback | None = None) -> list[tuple[Layer, Source]]:
    """Write :func:`layers_to_keep` (the layers without a file of their own) into the
    GeoPackage next to the project file ``path``, atomically. Returns each written layer with its
    new source; the layers themselves are not changed (apply the sources, then save the project:
    :func:`save_project` does both). Writes nothing and returns ``[]`` when there is nothing to keep."""
    fb = ensure(feedback)
    layers = layers_to_keep(project, path)
    if not layers:
        return []
    target = layers_file(path)
    names: dict[Layer, str] = {}
    for layer in layers:  # layers already kept there keep their table (the saved project points at it)
        old = layer.source.layer if layer.source is not None else None
        if old and old not in names.values():
            names[layer] = old
    for layer in layers:
        if layer not in names:
            names[layer] = _table_name(layer.name, set(names.values()))
    fb.check_cancelled()
    fb.progress(0.1, f"Writing {len(layers)} layer{'s' if len(layers) > 1 else ''} to {target.name}")
    write_layers({names[layer]: layer.gdf for layer in layers}, target)
    sources = [(layer, Source(str(target), names[layer])) for layer in layers]
    fb.progress(1.0, f"Wrote {target.name}")
    return sources


def save_project(project: Project, path: str | Path, *, feedback: Feedback | None = None) -> Path:
    """Save ``project`` to ``path`` with the layers that have no file of their own written to the
    GeoPackage next to it (:func:`write_layers_file`); those layers then point at it."""
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    for layer, source in write_layers_file(project, path, feedback=feedback):
        layer.source = source
    return project.save(path)


def _table_name(name: str, taken) -> str:
    """A plain GeoPackage table name for a layer name: 'Green space ≥ 0.5 ha — buildings' ->
    'green_space_0_5_ha_buildings' (unique among ``taken``)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:50] or "layer"
    if base[0].isdigit():
        base = f"layer_{base}"
    table, n = base, 2
    while table in taken:
        table, n = f"{base}_{n}", n + 1
    return table


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()
