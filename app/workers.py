"""Work off the GUI thread: CityDesk's thread pool and :class:`Task`, a ``QRunnable`` that is
also the ``feedback`` object of the work it runs (progress as a signal, cancel by a flag).

Every ``QRunnable.run()`` that may use pyproj calls :func:`keep_proj_context` first and last.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from layers.errors import CityDeskError
from layers.feedback import Cancelled

_TASKS: set[Task] = set()  # a task keeps itself alive until its run() ends
_PROJ_CONTEXTS: dict[int, object] = {}  # OS thread id -> pyproj's PROJ context manager of that thread
_POOL: QThreadPool | None = None


def worker_pool() -> QThreadPool:
    """The thread pool CityDesk's workers run on. Its threads never expire, so the PROJ contexts
    kept by :func:`keep_proj_context` stay one per thread."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setExpiryTimeout(-1)
        _POOL.setMaxThreadCount(max(2, QThreadPool.globalInstance().maxThreadCount()))
    return _POOL


def keep_proj_context() -> None:
    """Call at the start and the end of every ``QRunnable.run()`` that may use pyproj.

    pyproj 3.7 keeps a thread's PROJ context in native thread storage but frees it when the
    Python thread state's ``threading.local`` goes. A pool thread gets a new Python thread state
    for every ``run()``, so the second job on that thread used a freed context and crashed
    (segfault). Keeping the context's manager per OS thread (and giving it back to the new thread
    state) keeps it alive."""
    try:
        from pyproj import _context

        local = _context._CONTEXT_MANAGER_LOCAL
    except (ImportError, AttributeError):  # a pyproj without this design
        return
    tid = threading.get_native_id()
    manager = getattr(local, "context_manager", None)
    if manager is None:
        if tid in _PROJ_CONTEXTS:
            local.context_manager = _PROJ_CONTEXTS[tid]
    else:
        _PROJ_CONTEXTS[tid] = manager


class _TaskSignals(QObject):
    """Every signal carries the task's generation, so the window can drop a superseded task's."""

    progress = Signal(int, float, str)
    finished = Signal(int, object)
    failed = Signal(int, str, bool)  # message, whether it is a CityDeskError (a problem the user can fix)
    cancelled = Signal(int)


class Task(QRunnable):
    """Runs ``fn(feedback)`` on the thread pool, the task itself being the feedback: progress
    goes out as a signal, ``check_cancelled()`` raises :class:`Cancelled` after :meth:`cancel`."""

    def __init__(self, fn: Callable[[Task], object], generation: int = 0):
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.generation = fn, generation
        self.signals = _TaskSignals()
        self._cancel = threading.Event()
        self._last = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        self._last = max(self._last, min(max(float(fraction), 0.0), 1.0))
        emit(self.signals.progress, self.generation, self._last, message)

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def cancel(self) -> None:
        self._cancel.set()

    def start(self, pool: QThreadPool | None = None) -> None:
        _TASKS.add(self)
        (pool or worker_pool()).start(self)

    def run(self) -> None:
        keep_proj_context()
        try:
            with gc_paused():
                result = self.fn(self)
            self.check_cancelled()
            emit(self.signals.finished, self.generation, result)
        except Cancelled:
            emit(self.signals.cancelled, self.generation)
        except CityDeskError as exc:
            emit(self.signals.failed, self.generation, exc.message, True)
        except Exception as exc:  # shown as a message, never as a traceback
            emit(self.signals.failed, self.generation, f"{type(exc).__name__}: {exc}", False)
        finally:
            keep_proj_context()
            _TASKS.discard(self)


def emit(signal, *args) -> None:
    """Emit from a worker; if the receiving side is gone (the window closed while the work ran),
    the result is simply dropped instead of printing a traceback from the worker thread."""
    with contextlib.suppress(RuntimeError):  # "Signal source has been deleted"
        signal.emit(*args)


_GC_LOCK = threading.Lock()
_GC_USERS = 0
_GC_WAS_ENABLED = True
FREEZE_AFTER_OBJECTS = 200_000


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection while the block runs (in any thread). Making a million
    geometry objects in a worker otherwise sets off full collections that hold the GIL for
    100-200 ms and freeze the GUI thread meanwhile. Nested and concurrent uses are counted:
    collection comes back when the last one ends.

    When the paused work left many new objects alive (a loaded layer: a geometry object per
    feature), they are frozen (:func:`gc.freeze`): later full collections skip them instead of
    walking a million geometries with the GIL held (40 ms per million, at odd moments). They are
    still freed as usual when the layer goes; only reference cycles among them would stay."""
    global _GC_USERS, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_USERS == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_USERS += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_USERS -= 1
            if _GC_USERS == 0:
                if gc.get_count()[0] > FREEZE_AFTER_OBJECTS:  # objects made (net) since collection paused
                    gc.freeze()
                if _GC_WAS_ENABLED:
                    gc.enable()
