"""Atomic writing of the generated samples: ROOT files with uproot, JSON side files.

Every file is first written to a temporary file in the destination directory and then moved into
place with :func:`os.replace`, so a reader never sees a half-written file and an interrupted job
leaves the previous file untouched. An existing file is only replaced with ``overwrite=True``;
``inputs`` lists files that must never be written to, whatever ``overwrite`` says.

>>> import numpy as np, tempfile, pathlib, uproot
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> chunks = [{"x": np.arange(3.0), "n": np.arange(3, dtype=np.int32)},
...           {"x": np.array([7.0]), "n": np.array([9], dtype=np.int32)}]
>>> path = write_root(d / "s.root", chunks)
>>> with uproot.open(path) as f:
...     f["Events"].arrays(library="np")["x"].tolist(), f["Events"].num_entries
([0.0, 1.0, 2.0, 7.0], 4)
>>> write_root(d / "s.root", chunks)
Traceback (most recent call last):
...
FileExistsError: ... exists (pass overwrite=True to replace it)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TREE_NAME", "atomic_path", "write_json", "write_root", "write_text"]

TREE_NAME = "Events"
PathLike = str | os.PathLike[str]


def _check_target(path: PathLike, overwrite: bool, inputs: Sequence[PathLike]) -> Path:
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"output directory {target.parent} does not exist")
    resolved = target.resolve()
    if any(Path(p).resolve() == resolved for p in inputs):
        raise ValueError(f"refusing to write {target}: it is an input")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists (pass overwrite=True to replace it)")
    return target


@contextlib.contextmanager
def atomic_path(path: PathLike, *, overwrite: bool = False, inputs: Sequence[PathLike] = ()) -> Any:
    """Context manager yielding a temporary path beside ``path``; moved onto ``path`` on success."""
    from rooeft.safeio import atomic_write

    target = _check_target(path, overwrite, inputs)
    with atomic_write(target) as tmp:
        yield tmp


def write_root(
    path: PathLike,
    chunks: Iterable[Mapping[str, npt.NDArray[Any]]],
    *,
    tree: str = TREE_NAME,
    overwrite: bool = False,
    inputs: Sequence[PathLike] = (),
    compression_level: int = 4,
) -> Path:
    """Write column chunks to the TTree ``tree`` of a new ROOT file, atomically.

    Parameters
    ----------
    path
        Destination file.
    chunks
        Iterable of ``{branch: 1D array}``; every chunk must have the same branches and dtypes.
        Chunks are appended with ``TTree.extend`` so memory holds one chunk at a time. An empty
        iterable writes nothing and raises ``ValueError``.
    tree
        Tree name (default ``Events``).
    overwrite
        Replace an existing ``path``.
    inputs
        Paths that must never be written to.
    compression_level
        ZLIB compression level.
    """
    import uproot

    target = Path(path)
    with (
        atomic_path(target, overwrite=overwrite, inputs=inputs) as tmp,
        uproot.recreate(tmp, compression=uproot.ZLIB(compression_level)) as file,
    ):
        written = None
        for chunk in chunks:
            arrays = {name: np.ascontiguousarray(values) for name, values in chunk.items()}
            lengths = {len(v) for v in arrays.values()}
            if len(lengths) != 1 or any(v.ndim != 1 for v in arrays.values()):
                raise ValueError("every chunk must hold 1D arrays of equal length")
            if written is None:
                written = {name: v.dtype for name, v in arrays.items()}
                file.mktree(tree, written)
            elif {n: v.dtype for n, v in arrays.items()} != written:
                raise ValueError("all chunks must have the same branches and dtypes")
            file[tree].extend(arrays)
        if written is None:
            raise ValueError("chunks is empty: nothing to write")
    return target


def write_text(path: PathLike, text: str, *, overwrite: bool = False, inputs: Sequence[PathLike] = ()) -> Path:
    """Write a text file atomically."""
    with atomic_path(path, overwrite=overwrite, inputs=inputs) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: PathLike, data: Any, *, overwrite: bool = False, inputs: Sequence[PathLike] = ()) -> Path:
    """Write ``data`` as indented JSON atomically."""
    return write_text(path, json.dumps(data, indent=1, sort_keys=False) + "\n", overwrite=overwrite, inputs=inputs)
