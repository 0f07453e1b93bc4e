"""Run independent inference tasks (scan paths, toys) in parallel on Dask.

Backends:

* ``workers=1``: in this process (no pickling, the caller's opened model is reused; the
  likelihood kernel then uses all cores inside each evaluation);
* ``workers=N > 1`` (default: the number of CPUs): a ``dask.distributed.LocalCluster`` of N
  worker processes with one thread each, started for the job and closed after it;
* ``scheduler="tcp://host:port"``: an existing Dask cluster through
  ``dask.distributed.Client(address)``; the workers must be able to import rooeft and read the
  workspace path. An unreachable scheduler is an :class:`~rooeft.infer.model.InferenceError`
  after ``connect_timeout`` seconds.

Each worker loads ``libRooEFT`` and opens the workspace file itself (ROOT objects are not
picklable); the opened model is cached per worker process, so it is read once per worker, not
once per task. The same task functions run unchanged on every backend.

Task functions are module-level functions taking one picklable payload and returning a list of
picklable results; results come back in task order. A tqdm progress bar counts finished items.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["TaskRunner", "chunks", "default_workers", "run_tasks"]

P = TypeVar("P")
R = TypeVar("R")


def default_workers() -> int:
    """The number of CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def chunks(items: Sequence[P], n_chunks: int) -> list[list[P]]:
    """Split ``items`` into at most ``n_chunks`` contiguous, nearly equal chunks.

    >>> chunks(list(range(7)), 3)
    [[0, 1, 2], [3, 4], [5, 6]]
    """
    n_chunks = max(1, min(n_chunks, len(items)))
    size, extra = divmod(len(items), n_chunks)
    out, start = [], 0
    for i in range(n_chunks):
        stop = start + size + (1 if i < extra else 0)
        out.append(list(items[start:stop]))
        start = stop
    return [c for c in out if c]


def _progress(total: int, enabled: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="fit", leave=False)


class TaskRunner:
    """Where a job's tasks run: in this process, on a ``LocalCluster`` started for the job, or on an
    existing Dask cluster. A context manager, so the cluster lives exactly as long as the job::

        with TaskRunner(workers=2) as runner:
            runner.warm(open_model, payload)   # workers start loading while this process works
            ...                                # e.g. the best fit of a scan
            results = runner.run(task, payloads, sizes)
    """

    def __init__(
        self, *, workers: int | None = None, scheduler: str | None = None, connect_timeout: float = 10.0
    ) -> None:
        self.scheduler = scheduler
        self.n_workers = 1 if scheduler is None and workers == 1 else (workers or default_workers())
        self.connect_timeout = connect_timeout
        self.client: Any = None
        self._cluster: Any = None
        self._warm: list[Any] = []

    @property
    def local(self) -> bool:
        """Tasks run in this process (no pickling; opened models are shared)."""
        return self.scheduler is None and self.n_workers <= 1

    def __enter__(self) -> TaskRunner:
        if self.local:
            return self
        import logging

        from dask.distributed import Client, LocalCluster

        from rooeft.infer.model import InferenceError

        if self.scheduler is None:
            self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self._cluster)  # type: ignore[no-untyped-call]
        else:
            try:
                self.client = Client(self.scheduler, timeout=self.connect_timeout)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError):
                raise InferenceError(
                    f"cannot reach the Dask scheduler at {self.scheduler} within {self.connect_timeout:g} s; "
                    "check the address, or run locally with --workers N"
                ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def warm(self, func: Callable[[Any], Any], payload: Any) -> None:
        """Start ``func(payload)`` on every worker without waiting (e.g. open the workspace and build
        the likelihood, so that it overlaps with work in this process). No-op in-process."""
        if self.local or self.client is None:
            return
        for addr in self.client.scheduler_info()["workers"]:
            self._warm.append(self.client.submit(func, payload, workers=[addr], pure=False))

    def run(
        self,
        func: Callable[[Any], list[R]],
        payloads: Sequence[Any],
        sizes: Sequence[int],
        *,
        progress: bool = False,
        desc: str = "",
        pin: bool = False,
    ) -> list[list[R]]:
        """``func(payload)`` for every payload, results in payload order; ``sizes`` are item counts
        for the progress bar. ``pin``: payload i goes to worker i mod N (balanced long tasks, e.g.
        one scan path per worker) instead of Dask's placement."""
        results: list[list[R] | None] = [None] * len(payloads)
        bar = _progress(sum(sizes), progress, desc)
        try:
            if self.local:
                for i, payload in enumerate(payloads):
                    results[i] = func(payload)
                    bar.update(sizes[i])
            else:
                from dask.distributed import as_completed as dask_completed

                addrs = sorted(self.client.scheduler_info()["workers"]) if pin else []
                futures = [
                    self.client.submit(func, p, pure=False, workers=[addrs[i % len(addrs)]] if addrs else None)
                    for i, p in enumerate(payloads)
                ]
                index = {f.key: i for i, f in enumerate(futures)}
                for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
                    i = index[fut.key]
                    results[i] = fut.result()
                    bar.update(sizes[i])
                for w in self._warm:  # surface a failed warm-up only if the tasks did not
                    w.release()
        finally:
            bar.close()
        return [r if r is not None else [] for r in results]


def run_tasks(
    func: Callable[[Any], list[R]],
    payloads: Sequence[Any],
    sizes: Sequence[int],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    desc: str = "",
    connect_timeout: float = 10.0,
) -> list[list[R]]:
    """Run ``func(payload)`` for every payload with a :class:`TaskRunner`; ``sizes`` are the item
    counts (for progress). One payload, or ``workers=1`` without a scheduler: in this process."""
    if scheduler is None and len(payloads) <= 1:
        workers = 1
    with TaskRunner(workers=workers, scheduler=scheduler, connect_timeout=connect_timeout) as runner:
        return runner.run(func, payloads, sizes, progress=progress, desc=desc)
