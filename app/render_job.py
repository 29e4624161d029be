"""One render of the map canvas on the thread pool.

The canvas plans a render (:class:`Plan`): for each visible layer, bottom first, the image it
already has for this view and this layer state, or None; the same for the labels and the
selection overlay. The job draws only what is missing (:func:`app.render.render_layer`, the same
function the command line's :func:`app.render.render_layers` uses), composes the map and sends
it back with the newly drawn pieces, which the canvas keeps for the next render.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from app import render
from app.workers import emit, gc_paused, keep_proj_context
from layers.feedback import Cancelled
from layers.layer import Layer

_RUNNING: set[RenderJob] = set()  # a job keeps itself alive until its run() ends


@dataclass
class Piece:
    """One image of the map: a layer's, the labels' or the selection's. ``key`` says what it
    shows; ``image`` is None until drawn (or when there is nothing to draw)."""

    name: str
    key: tuple
    opacity: float = 1.0
    layer: Layer | None = None
    image: QImage | None = None
    done: bool = False  # drawn (image may still be None: nothing to draw)
    keep: object = None  # holds what the key's ids point at, so they stay unique


@dataclass
class Plan:
    crs: CRS
    extent: tuple[float, float, float, float]
    width: int
    height: int
    dpr: float
    layers: list[Piece] = field(default_factory=list)  # bottom-first
    labels: Piece | None = None
    selection: Piece | None = None
    selected: dict[Layer, np.ndarray] = field(default_factory=dict)
    shown_top_first: list[Layer] = field(default_factory=list)

    def view_key(self) -> tuple:
        return self.extent, self.width, self.height, self.dpr

    def pieces(self) -> list[Piece]:
        return [*self.layers, *(p for p in (self.labels, self.selection) if p is not None)]


class _Signals(QObject):
    done = Signal(int, object, object, object)  # generation, QImage, extent, the Plan with its pieces drawn
    failed = Signal(int, str)


class RenderJob(QRunnable):
    """Draws the missing pieces of ``plan`` and composes them; it stops early once :meth:`cancel`
    was called. A cancelled job emits nothing."""

    def __init__(self, generation: int, plan: Plan):
        super().__init__()
        self.setAutoDelete(False)
        self.generation, self.plan = generation, plan
        self.signals = _Signals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self, pool: QThreadPool) -> None:
        _RUNNING.add(self)
        pool.start(self)

    def run(self) -> None:
        keep_proj_context()
        try:
            with gc_paused():  # a full collection would hold the GIL (and freeze the GUI) for long
                image = draw_plan(self.plan, self.cancelled)
            if not self._cancel.is_set():
                emit(self.signals.done, self.generation, image, self.plan.extent, self.plan)
        except Cancelled:
            pass
        except Exception as exc:  # a worker must never die silently; the canvas reports it
            emit(self.signals.failed, self.generation, f"{type(exc).__name__}: {exc}")
        finally:
            keep_proj_context()
            _RUNNING.discard(self)


def draw_plan(plan: Plan, cancelled: Callable[[], bool]) -> QImage:
    """Draw the pieces of ``plan`` that are not done and compose the map (on the background)."""
    from app.labels import render_labels
    from app.render_selection import render_selection

    args = (plan.crs, plan.extent, plan.width, plan.height, plan.dpr, cancelled)
    for piece in plan.layers:
        if not piece.done:
            piece.image, piece.done = render.render_layer(piece.layer, *args), True
    if plan.labels is not None and not plan.labels.done:
        plan.labels.image, plan.labels.done = render_labels(plan.shown_top_first, *args), True
    if plan.selection is not None and not plan.selection.done:
        plan.selection.image = render_selection(plan.shown_top_first, plan.selected, *args)
        plan.selection.done = True
    if cancelled():
        raise Cancelled()
    return render.compose([(p.image, p.opacity) for p in plan.pieces()], plan.width, plan.height, plan.dpr)
