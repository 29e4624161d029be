"""Running the tiles of a partitioned analysis on ``dask.distributed`` (no Qt).

``DaskEngine(scheduler="tcp://host:8786")`` uses a running cluster; ``DaskEngine(workers=N)``
starts a local cluster of N worker processes (one thread each) and closes it at the end. Its
``map(fn, tasks, feedback)`` submits one task per tile and yields the results as they finish:
progress goes back to the feedback (the command line's bar, the window's progress bar), and a
cancel of the feedback — or Ctrl-C — cancels the cluster's tasks. Tiles read their own inputs
when the layers are files (:class:`analysis.partition_sources.FileSource`), so a big layer is
never loaded whole on the client.
"""

from __future__ import annotations

from layers.errors import CityDeskError
from layers.feedback import Feedback, ensure

#: Seconds between looks at the feedback's cancel while waiting for tiles.
POLL_S = 0.2


class DaskEngine:
    """A context manager: ``with DaskEngine(workers=2) as engine: run_partitioned(..., engine)``."""

    def __init__(self, scheduler: str | None = None, workers: int = 2, *, memory_limit: str | None = None):
        self.scheduler, self.workers, self.memory_limit = scheduler, int(workers), memory_limit
        self.client = self.cluster = None

    def __enter__(self) -> DaskEngine:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - an install without the extra
            raise CityDeskError("running on a cluster needs dask.distributed",
                                fix="pip install 'dask[distributed]' dask-geopandas") from exc
        try:
            if self.scheduler:
                self.client = Client(self.scheduler, timeout=20)
            else:
                kwargs = {"memory_limit": self.memory_limit} if self.memory_limit else {}
                self.cluster = LocalCluster(n_workers=max(1, self.workers), threads_per_worker=1, processes=True,
                                            dashboard_address=None, **kwargs)
                self.client = Client(self.cluster)
        except OSError as exc:
            self.close()
            raise CityDeskError(f"cannot reach the Dask scheduler {self.scheduler}", source=self.scheduler,
                                fix="Check the address (tcp://HOST:8786) and that the scheduler runs") from exc
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def describe(self) -> str:
        n = len(self.client.scheduler_info().get("workers", {})) if self.client else 0
        where = self.scheduler or "a local cluster"
        return f"{where} with {n} worker{'s' if n != 1 else ''}"

    def map(self, fn, tasks, feedback: Feedback | None = None):
        """Yields ``fn(task)`` for every task, in the order they finish."""
        from distributed import wait

        fb = ensure(feedback)
        tasks = list(tasks)
        # tiles come in Hilbert order: give each worker a run of neighbouring tiles (they read the same
        # partitions, kept decoded in the worker's cache); idle workers may still take others' tiles
        workers = sorted(self.client.scheduler_info().get("workers", {})) if len(tasks) > 1 else []
        where = [{"workers": [workers[k * len(workers) // len(tasks)]], "allow_other_workers": True} if workers
                 else {} for k in range(len(tasks))]
        pending = {self.client.submit(fn, task, pure=False, **kw) for task, kw in zip(tasks, where, strict=True)}
        del tasks, where
        try:
            while pending:
                fb.check_cancelled()
                try:
                    done, not_done = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    continue
                pending = set(not_done)
                for future in done:
                    result = future.result()
                    future.release()  # a tile's result leaves the worker's memory once it is here
                    del future
                    yield result
        except BaseException:  # a cancel, Ctrl-C, a failed tile, or the caller stopped early
            self.client.cancel(list(pending))
            raise
