"""Run independent inference tasks (scan points, toys) in parallel.

Backends:

* ``workers=1``: in this process (no pickling, the caller's opened model is reused);
* ``workers=N > 1`` (default: the number of CPUs): local worker processes from
  :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method. Each worker
  loads ``libRooEFT`` and opens the workspace file itself (ROOT objects are not picklable); the
  opened model is cached per worker, so it is read once per worker, not once per task;
* ``scheduler="tcp://host:port"``: a Dask cluster through ``dask.distributed.Client(address)``
  (imported lazily; ``pip install 'dask[distributed]'``). The workers must be able to import
  rooeft and read the workspace path.

Task functions are module-level functions taking one picklable payload and returning a list of
picklable results; results come back in task order. A tqdm progress bar counts finished items.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
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
) -> list[list[R]]:
    """Run ``func(payload)`` for every payload; ``sizes`` are the item counts (for progress)."""
    results: list[list[R] | None] = [None] * len(payloads)
    bar = _progress(sum(sizes), progress, desc)
    try:
        if scheduler:
            _run_dask(func, payloads, sizes, scheduler, results, bar)
        elif (workers or default_workers()) <= 1 or len(payloads) <= 1:
            for i, payload in enumerate(payloads):
                results[i] = func(payload)
                bar.update(sizes[i])
        else:
            n = min(workers or default_workers(), len(payloads))
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
                futures = {pool.submit(func, p): i for i, p in enumerate(payloads)}
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    bar.update(sizes[i])
    finally:
        bar.close()
    return [r if r is not None else [] for r in results]


def _run_dask(
    func: Callable[[Any], list[R]],
    payloads: Sequence[Any],
    sizes: Sequence[int],
    scheduler: str,
    results: list[list[R] | None],
    bar: Any,
) -> None:
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "a Dask scheduler was given but dask.distributed is not installed: pip install 'dask[distributed]'"
        ) from err
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        futures = [client.submit(func, p, pure=False) for p in payloads]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
            i = index[fut.key]
            results[i] = fut.result()
            bar.update(sizes[i])
