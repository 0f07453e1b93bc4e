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

__all__ = ["chunks", "default_workers", "run_tasks"]

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
    """Run ``func(payload)`` for every payload; ``sizes`` are the item counts (for progress)."""
    results: list[list[R] | None] = [None] * len(payloads)
    bar = _progress(sum(sizes), progress, desc)
    try:
        if scheduler:
            _run_dask(func, payloads, sizes, results, bar, address=scheduler, timeout=connect_timeout)
        elif (workers or default_workers()) <= 1 or len(payloads) <= 1:
            for i, payload in enumerate(payloads):
                results[i] = func(payload)
                bar.update(sizes[i])
        else:
            n = min(workers or default_workers(), len(payloads))
            _run_dask(func, payloads, sizes, results, bar, n_workers=n)
    finally:
        bar.close()
    return [r if r is not None else [] for r in results]


def _run_dask(
    func: Callable[[Any], list[R]],
    payloads: Sequence[Any],
    sizes: Sequence[int],
    results: list[list[R] | None],
    bar: Any,
    *,
    address: str | None = None,
    n_workers: int = 1,
    timeout: float = 10.0,
) -> None:
    import logging

    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    from rooeft.infer.model import InferenceError

    cluster = None
    try:
        if address is None:
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)  # type: ignore[no-untyped-call]
        else:
            try:
                client = Client(address, timeout=timeout)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError) as err:
                raise InferenceError(
                    f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({type(err).__name__}); "
                    "check the address, or run locally with --workers N"
                ) from None
        with client:
            futures = [client.submit(func, p, pure=False) for p in payloads]
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
                i = index[fut.key]
                results[i] = fut.result()
                bar.update(sizes[i])
    finally:
        if cluster is not None:
            cluster.close()
