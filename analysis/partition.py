"""Running an analysis partitioned into tiles, exactly (no Qt; the cluster is in
:mod:`analysis.dask_engine`, any ``engine`` with ``map(fn, tasks, feedback)`` will do).

Tiles
-----
The *demand* layer of the analysis (the buildings) is cut into tiles: its origins
(``point_on_surface``) sorted along a Hilbert curve (:func:`analysis.partition_sources.hilbert_order`)
and cut into runs of ``tile_rows``; a tile's box is the bounding box of its origins. Every
demand feature is answered by exactly one tile, so tile borders run through blocks, buildings'
neighbours and streets at will. Huge layers in files are tiled by a Hilbert-ordered grid over
their extent instead, and read by the workers box by box (:class:`~analysis.partition_sources.FileSource`).

The halo, and why the answers are exact
---------------------------------------
A tile is computed with the context layers (streets, bins, targets) whose bounding boxes meet
its box widened by a halo ``H``. The bound: a walk along the network of length ``L`` from a
snapped position never leaves the disc of radius ``L`` around it; a snap leg is a straight line
of at most ``S``. A distance the engine measures — origin snap leg + network + target snap leg =
``d`` — therefore lies wholly inside the disc of radius ``d`` around the origin ``p``, since the
network distance is at least the straight-line distance: every street piece and the target it
uses meet that disc, hence the tile's widened box when ``d <= H``. The tile's network is built
from whole street lines (never clipped), so it is a sub-network of the full one: it holds every
path of length ``<= H`` around ``p`` exactly, and no path that the full network lacks. Hence:

* a distance found in the tile that is ``<= H`` (less a safety margin, ``MARGIN_M``, for line ends
  joined within the 0.5 m tolerance near the halo's edge) is the exact distance;
* a distance found ``> H``, or none, is **uncertain**: the true one is at least ``H``, but may be
  shorter than the tile's. Those features are computed again in a next round with a halo twice
  as wide, until every answer is certain or the halo covers the whole layer (then the tile
  is the whole problem and its answer is the single-machine answer). They are grouped for the
  next round by space (:func:`regroup`), so a task reads no more than a tile and its halo.

The first halo is ``max distance + 2 x snap distance + MARGIN_M`` (``PartitionSpec.halo_m``), so
every answer within the maximum distance — what the coverage shares count — is certain in the
first round; only features farther than it from every target (the uncovered) go round again.
Straight-line coverage is the case ``S = 0`` with a straight line for a path.

An adapter may also declare ``ASSIGNED = (role, reach_m(params), line_roles)``: each located row
of that role (a bin) is handed to exactly one first-round demand tile — the one whose box is
nearest it, for a file grid the cell it lies in — which answers it too (snaps it), with its own
lines when they reach ``reach_m`` around the row, else with those lines plus the ones read
around the row; no separate pass (and no second set of tile networks) for that role.

Merging
-------
The tiles' per-feature columns are put back in layer order; everything else — the summaries,
the loads of bins summed over all the buildings they serve, the gaps, the areas — is computed
again from the merged layers by the analysis's adapter (``analysis.partition_<name>``), never
averaged over tiles.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.partition_files import FileSource
from analysis.partition_pieces import in_cell
from analysis.partition_sources import Box, FrameSource, extent_of, hilbert_order
from analysis.partition_tiles import (
    MISSING,
    assign_rows,
    assigned_layer,
    box_of,
    chunks,
    covers,
    grid_tiles,
    regroup,
    widen,
    widen_all,
    xy_of,
)
from analysis.population import origins
from analysis.registry import Analysis, get
from analysis.result import AnalysisResult
from layers.errors import CityDeskError
from layers.feedback import Feedback, SubFeedback, ensure

#: Metres added to every halo and taken off the certain radius (line ends joined near the edge).
MARGIN_M = 10.0
#: Demand features per tile (the memory of a tile task grows with it and with the halo).
TILE_ROWS = 50_000
#: Each further round widens the halo this many times.
GROWTH = 2.0
#: A box that meets no feature.
NOTHING = (0.0, 0.0, -1.0, -1.0)


@dataclass
class TileTask:
    """One tile of one pass: answer the demand rows ``ids`` (or, from a file, those whose origin
    lies in ``box``) with the context read within ``box`` widened by ``halo_m``."""

    adapter: str
    role: str
    box: Box
    halo_m: float
    whole: bool
    params: dict
    ids: np.ndarray | None = None
    demand: gpd.GeoDataFrame | None = None
    demand_source: FileSource | None = None
    context: dict = field(default_factory=dict)  # role -> (gdf, ids) in memory, or a FileSource
    return_rows: bool = False
    missing: bool = False  # the file's rows without geometry (no box selects them)
    assigned: tuple | None = None  # (gdf, ids): rows of the adapter's ASSIGNED role this tile answers too


@dataclass
class TileResult:
    ids: np.ndarray
    columns: pd.DataFrame  # the computed columns, one row per id
    certain: np.ndarray
    xy: np.ndarray  # the origins, for tiling the uncertain ones again
    rows: gpd.GeoDataFrame | None = None  # the input rows (file sources)
    side: pd.DataFrame | None = None  # the answers for the assigned rows, indexed by their ids


def run_tile(task: TileTask) -> TileResult:
    """Runs on a worker: read what the tile needs, compute, say which answers are certain."""
    adapter = importlib.import_module(task.adapter)
    pts = None
    if task.demand is not None:
        demand, ids = task.demand, task.ids
    else:
        demand, ids = (task.demand_source.select_missing() if task.missing
                       else task.demand_source.select(task.box))
        pts = origins(demand)
        xy = xy_of(pts)
        if task.missing:
            keep = np.ones(len(ids), bool)
        elif task.ids is not None:
            keep = np.isin(ids, task.ids)
        else:
            keep = in_cell(xy, task.box)
        demand, ids, pts = demand.iloc[np.flatnonzero(keep)], ids[keep], pts[keep]
    wide = widen(task.box, task.halo_m)
    if len(demand) == 0 and not task.whole and (task.assigned is None or len(task.assigned[1]) == 0):
        wide = NOTHING  # an empty tile (a grid cell with no feature, or no feature without geometry) reads nothing
    context = {}
    for role, value in task.context.items():
        gdf, cids = value if isinstance(value, tuple) else value.select_lines(None if task.whole else wide)
        context[role] = (gdf.reset_index(drop=True), np.asarray(cids))
    context["__box"] = task.box  # the tile's own box (the halo is around it)
    if pts is not None:
        context["__origins"] = pts  # the demand's origins, found once (see tile_origins)
    if task.assigned is not None:
        context["__assigned"] = (task.assigned[0].reset_index(drop=True), np.asarray(task.assigned[1]))
    tile_fn, _halo = adapter.PASSES[task.role]
    columns, certain, *side = tile_fn(demand.reset_index(drop=True), context, task.params,
                                      np.inf if task.whole else task.halo_m - MARGIN_M)
    columns.index = ids
    xy = xy_of(origins(demand) if pts is None else pts)
    # the client puts the layer's CRS back: a CRS per tile would be compared tile by tile when concatenating
    rows = demand.set_axis(ids).set_crs(None, allow_override=True) if task.return_rows else None
    # a feature without geometry has the same (empty) answer whatever the context
    certain = np.asarray(certain, bool) | task.whole | ~np.isfinite(xy).all(axis=1)
    return TileResult(ids, columns, certain, xy, rows, side[0] if side else None)


def tile_origins(demand: gpd.GeoDataFrame, context: dict) -> np.ndarray:
    """The origins of a tile's demand rows: found once by :func:`run_tile` when it chose the rows."""
    pts = context.get("__origins")
    return pts if pts is not None and len(pts) == len(demand) else origins(demand)


class LocalEngine:
    """Tiles one after the other in this process (tests, and the reference for the cluster)."""

    def map(self, fn, tasks: Iterable, feedback: Feedback | None = None):
        fb = ensure(feedback)
        for task in tasks:
            fb.check_cancelled()
            yield fn(task)


def partition_reason(spec: Analysis, params: Mapping[str, object]) -> str | None:
    """Why ``spec`` with ``params`` runs whole on one worker, or None when it partitions exactly."""
    if spec.partition is None:
        why = spec.partition_note or "its answer is not bounded to a neighbourhood"
        return f"'{spec.id}' is not partitioned: {why}"
    return spec.partition.reason(params)


def run_partitioned(analysis_id: str, layers: Mapping[str, object], params: Mapping[str, object],
                    engine, *, feedback: Feedback | None = None, tile_rows: int = TILE_ROWS,
                    names: Mapping[str, str] | None = None) -> AnalysisResult:
    """Run ``analysis_id`` tile by tile on ``engine`` with an exact merge (see the module docstring).
    ``layers``: role -> GeoDataFrame (any CRS: checked and reprojected like ``run_analysis``) or
    :class:`FileSource` (already in one metric CRS; read by box on the workers)."""
    from analysis.runner import parse_params, prepare_inputs

    fb = ensure(feedback)
    spec = get(analysis_id)
    parsed = parse_params(spec, params)
    reason = partition_reason(spec, parsed)
    if reason:
        raise CityDeskError(reason, fix="Run it without --engine dask (on one machine)")
    part = spec.partition
    frames = {r: g for r, g in layers.items() if not isinstance(g, FileSource) and g is not None}
    files = {r: g for r, g in layers.items() if isinstance(g, FileSource)}
    if frames:
        frames = prepare_inputs(spec, frames, names) if not files else frames
    frames = _check_files(spec, files, frames)
    adapter_name = part.adapter
    adapter = importlib.import_module(adapter_name)
    sources = {r: FrameSource(g) for r, g in frames.items()} | files
    extent = extent_of([s.bounds() for r, s in sources.items() if r != part.demand or len(sources) == 1])
    # the rows the demand tiles answer too (the bins, each snapped by one building tile): read once, here
    a_role = getattr(adapter, "ASSIGNED", (None,))[0]
    read = {r: ((s.gdf, np.arange(len(s.gdf))) if isinstance(s, FrameSource) else s.select(None))
            for r, s in sources.items() if r in part.global_roles or r == a_role}
    whole = {r: read[r][0] for r in read if r in part.global_roles}
    if hasattr(adapter, "prepare"):  # global choices made once (a column, the list of kinds), checked as a whole
        parsed = {**parsed, **adapter.prepare(whole, parsed)}
    passes_from = 0.0
    if hasattr(adapter, "survey"):  # figures of the whole area, found tile by tile (e.g. the network's pieces)
        parsed = {**parsed, **adapter.survey(sources, parsed, engine, SubFeedback(fb, 0.0, 0.25), tile_rows)}
        passes_from = 0.25
    if hasattr(adapter, "extra_sources"):  # layers made for the run (e.g. a grid's cells), tiled like the others
        sources |= adapter.extra_sources(parsed, next(iter(sources.values())).crs)
    passes = list(adapter.PASSES)
    # files: one grid for every pass, sized by the demand layer over the extent of all the files, so a
    # tile of a small layer (the bins) covers no more ground — and no more streets — than a building tile
    grid = (grid_tiles(files[part.demand], tile_rows, extent_of([s.bounds() for s in files.values()]))
            if part.demand in files else None)
    merged = {}
    for k, role in enumerate(passes):
        if role not in sources:
            continue
        span = 0.9 - passes_from
        sub = SubFeedback(fb, passes_from + span * k / len(passes), passes_from + span * (k + 1) / len(passes))
        halo0 = (part.halo_m(parsed) if role == part.demand else adapter.PASSES[role][1](parsed)) + MARGIN_M
        context = {r: sources[r] for r in part.context if r in sources and r != role}
        assign = sides = None
        if role == part.demand and a_role in read:
            _role, reach, line_roles = adapter.ASSIGNED
            assign, sides = (*read[a_role], reach(parsed) + MARGIN_M, line_roles), []
        merged[role] = _run_pass(adapter_name, role, sources[role], context, parsed, halo0, extent, engine,
                                 tile_rows, sub, grid, assign, sides)
        if sides is not None:
            merged[a_role] = assigned_layer(sources[a_role], *read[a_role], sides)
    fb.check_cancelled()
    fb.progress(0.92, "Merging the tiles")
    result = adapter.merge(merged, whole, parsed)
    fb.progress(1.0, "Done")
    inputs = {r: (names or {}).get(r, r) for r in layers}
    return AnalysisResult.make(spec.id, dict(result.layers), dict(result.summary), dict(result.params), inputs,
                               dict(getattr(result, "charts", {})))


def _run_pass(adapter: str, role: str, source, context: dict, params: dict, halo0: float, extent: Box,
              engine, tile_rows: int, fb: Feedback, grid: list[Box] | None = None, assign=None,
              sides: list | None = None) -> gpd.GeoDataFrame:
    """All rounds of one pass; returns the demand layer with the computed columns, in layer order.
    ``assign``: (gdf, ids, reach_m, line_roles) of rows handed out to the first round's tiles (see
    :func:`analysis.partition_tiles.assign_rows`); their answers are appended to ``sides``."""
    in_memory = isinstance(source, FrameSource)
    results: list[TileResult] = []
    halo = halo0
    if in_memory:
        xy = xy_of(origins(source.gdf))
        pending = [(ids, box_of(xy[ids])) for ids in chunks(hilbert_order(xy), tile_rows)]
    else:
        pending = [(None, box) for box in (grid or grid_tiles(source, tile_rows))]
        pending.append((MISSING, pending[0][1]))
    spans = [max(b[2] - b[0], b[3] - b[1]) for _ids, b in pending if _ids is not MISSING]
    side = float(np.median(spans)) if spans else 0.0  # a first-round tile's size
    round_no = 0
    while pending:
        whole = covers(widen_all(pending, halo), extent)
        tasks = [_task(adapter, role, source, context, params, ids, box, halo, whole, in_memory)
                 for ids, box in pending]
        if round_no == 0 and assign is not None:
            assign_rows(tasks, pending, assign, context, halo, whole)
        lo, hi = (0.0, 0.8) if round_no == 0 else (0.8 + 0.15 * (1 - 0.5 ** (round_no - 1)),
                                                   0.8 + 0.15 * (1 - 0.5 ** round_no))
        again_ids, again_xy = [], []
        for done, res in enumerate(engine.map(run_tile, tasks, fb), start=1):
            certain = res.certain
            results.append(_keep(res, certain))
            if res.side is not None and sides is not None:
                sides.append(res.side)
            if not certain.all():
                again_ids.append(res.ids[~certain])
                again_xy.append(res.xy[~certain])
            fb.progress(lo + (hi - lo) * done / len(tasks),
                        f"{role}: tile {done} of {len(tasks)}" + (f" (round {round_no + 1})" if round_no else ""))
        if not again_ids:
            break
        ids = np.concatenate(again_ids)
        xy = np.concatenate(again_xy)
        halo *= GROWTH
        pending = [(ids[c], box_of(xy[c])) for c in regroup(xy, tile_rows, max(side, halo))]
        round_no += 1
    ids = np.concatenate([r.ids for r in results])
    columns = pd.concat([r.columns for r in results]).loc[np.sort(ids)] if len(ids) else None
    if in_memory:
        out = source.gdf.copy()
        if columns is not None:
            for name in columns.columns:
                out[name] = columns[name].to_numpy()
        return out
    rows = pd.concat([r.rows for r in results]).sort_index()
    rows["__id"] = rows.index.to_numpy()  # file ids (FIDs, partition rows): the merge maps them to positions
    for name in columns.columns:
        rows[name] = columns[name].to_numpy()
    return gpd.GeoDataFrame(rows.reset_index(drop=True), geometry=rows.geometry.name, crs=source.crs)


def _keep(res: TileResult, certain: np.ndarray) -> TileResult:
    return TileResult(res.ids[certain], res.columns.iloc[np.flatnonzero(certain)], certain[certain], res.xy[certain],
                      None if res.rows is None else res.rows.iloc[np.flatnonzero(certain)])


def _task(adapter, role, source, context, params, ids, box, halo, whole, in_memory) -> TileTask:
    wide = widen(box, halo)
    ctx = {r: ((s.select_lines if _is_lines(s) else s.select)(None if whole else wide) if isinstance(s, FrameSource)
               else s) for r, s in context.items()}
    if in_memory:
        return TileTask(adapter, role, box, halo, whole, params, ids=ids, demand=source.rows(ids), context=ctx)
    missing = ids is MISSING
    return TileTask(adapter, role, box, halo, whole, params, ids=None if missing else ids, demand_source=source,
                    context=ctx, return_rows=True, missing=missing)


def _is_lines(source: FrameSource) -> bool:
    kinds = shapely.get_type_id(source.gdf.geometry.to_numpy())
    return bool(np.isin(kinds, (1, 5)).any())


def _check_files(spec: Analysis, files: dict, frames: dict) -> dict:
    """The files must share one metric CRS (they are read as they are, tile by tile); the layers
    in memory (a timetable, the bins) are reprojected to it. Returns the layers in memory."""
    if not files:
        return frames
    crs = next(iter(files.values())).crs
    for role, source in files.items():
        if source.crs is None or not source.crs.is_projected or source.crs != crs:
            raise CityDeskError("layers read tile by tile must all be in one metric CRS already",
                                source=", ".join(files) or spec.id,
                                fix="Reproject the files to one projected CRS (e.g. with ogr2ogr -t_srs)")
        if source.count() == 0 or not np.isfinite(source.bounds()).all():  # as the single run says it
            raise CityDeskError(f"the '{role}' layer is empty", source=source.path,
                                fix="Choose a layer that holds features")
    out = {}
    for role, gdf in frames.items():
        if len(gdf) == 0 or (gdf.geometry.isna() | gdf.geometry.is_empty).all():
            raise CityDeskError(f"the '{role}' layer is empty", source=role, fix="Choose a layer that holds features")
        if gdf.crs is None:
            raise CityDeskError("the layer has no coordinate reference system", source=role,
                                fix="Set its CRS (e.g. with ogr2ogr -a_srs) and run again")
        out[role] = gdf if gdf.crs == crs else gdf.to_crs(crs)
    return out


def _whole_run(task) -> AnalysisResult:
    """On one worker: the analysis as a whole (inputs as GeoDataFrames or files read whole)."""
    from analysis.runner import run_analysis

    analysis_id, layers, params, names = task
    layers = {r: (g.select(None)[0] if isinstance(g, FileSource) else g) for r, g in layers.items()}
    return run_analysis(analysis_id, layers, params, names=names)


def run_with_engine(analysis_id: str, layers: Mapping[str, object], params: Mapping[str, object], engine, *,
                    feedback: Feedback | None = None, names: Mapping[str, str] | None = None,
                    tile_rows: int = TILE_ROWS, notify=None) -> AnalysisResult:
    """Partitioned when the analysis (with these parameters) partitions exactly; else the whole
    analysis on one worker of the engine, after telling ``notify(message)`` why."""
    from analysis.runner import parse_params

    spec = get(analysis_id)
    reason = partition_reason(spec, parse_params(spec, params))
    if reason is None:
        return run_partitioned(analysis_id, layers, params, engine, feedback=feedback, names=names,
                               tile_rows=tile_rows)
    if notify is not None:
        notify(f"{reason}: it runs whole on one worker")
    fb = ensure(feedback)
    fb.progress(0.0, "Running on one worker (not partitioned)")
    (result,) = list(engine.map(_whole_run, [(analysis_id, dict(layers), dict(params), dict(names or {}))], fb))
    fb.progress(1.0, "Done")
    return result
