"""The one output policy of every ``rooeft`` command: no input is ever overwritten.

* :func:`check_outputs` is called by each command *before any work*: it refuses an output that
  resolves to one of the command's inputs (same path or :func:`os.path.samefile`, so symbolic and
  hard links are caught), an output that is a directory, an existing output without ``--force``,
  and an existing output that is not of the kind the command writes (even with ``--force``). It
  creates the output directory and checks that it is writable.
* :func:`atomic_write` writes through a temporary file beside the target, renamed onto it only on
  success; the temporary file is removed on any error, ``KeyboardInterrupt`` or ``SIGTERM``, and the
  final file gets the permissions the umask allows (``0666 & ~umask``, never ``0600``).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> src = d / "in.yaml"; _ = src.write_text("x: 1")
>>> check_outputs([d / "link" / ".." / "in.yaml"], inputs=[src])
Traceback (most recent call last):
...
rooeft.safeio.OutputError: refusing to write .../in.yaml: it is the input .../in.yaml
>>> with atomic_write(d / "out.txt") as tmp:
...     _ = tmp.write_text("done")
>>> (d / "out.txt").read_text(), sorted(p.name for p in d.iterdir())
('done', ['in.yaml', 'out.txt'])
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "OutputError",
    "atomic_write",
    "check_creatable",
    "check_directory",
    "check_outputs",
    "file_mode",
    "is_json_kind",
    "is_onnx_model",
    "is_root_file",
    "same_file",
]

PathLike = str | os.PathLike[str]


class OutputError(ValueError):
    """An output that would overwrite an input, or cannot be written."""


def file_mode() -> int:
    """Permissions of a new file under the current umask (``0666 & ~umask``)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file (resolved paths, or the same inode if both exist)."""
    pa, pb = Path(a), Path(b)
    if pa.resolve() == pb.resolve():
        return True
    try:
        return pa.samefile(pb)
    except OSError:
        return False


def _shown(p: Path) -> str:
    return str(p)


def check_outputs(
    outputs: Iterable[PathLike | None],
    *,
    inputs: Iterable[PathLike | None] = (),
    force: bool = False,
    kind: str = "rooeft output",
    accept: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Check the output files of a command before it starts; returns the existing ones it may replace.

    ``accept(path)`` says whether an existing file is of the kind the command writes (``kind``
    names it in the message); without it any regular file may be replaced with ``force``.
    """
    ins = [Path(p) for p in inputs if p is not None]
    replaced: list[Path] = []
    for item in outputs:
        if item is None:
            continue
        out = Path(item)
        for inp in ins:
            if same_file(out, inp):
                raise OutputError(f"refusing to write {_shown(out)}: it is the input {_shown(inp)}")
        if out.is_dir():
            raise OutputError(f"cannot write {out}: it is a directory")
        if out.exists() or out.is_symlink():
            if not force:
                raise OutputError(f"{out} exists; pass --force to replace it")
            if not out.is_file():
                raise OutputError(f"{out} is not a regular file; not replacing it")
            if accept is not None and not accept(out):
                raise OutputError(f"{out} is not a {kind} file; not replacing it (even with --force)")
            replaced.append(out)
        check_directory(out.parent)
    return replaced


def check_directory(directory: PathLike, *, create: bool = True) -> Path:
    """Create ``directory`` if needed and check that files can be written into it."""
    d = Path(directory) if str(directory) else Path()
    if d.exists() and not d.is_dir():
        raise OutputError(f"cannot write into {d}: it is not a directory")
    if create:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(f"cannot create output directory {d}: {err.strerror or err}") from None
    if not d.is_dir():
        raise OutputError(f"output directory {d} does not exist")
    if not os.access(d, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {d} is not writable")
    return d


def check_creatable(directory: PathLike) -> Path:
    """Check, without creating anything, that ``directory`` exists as a writable folder or could be
    created in its nearest existing ancestor."""
    d = Path(directory)
    probe = d
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write into {d}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {d}: {probe} is not writable")
    return d


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` (main thread only) so cleanups run."""
    try:
        previous = signal.getsignal(signal.SIGTERM)

        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def atomic_write(target: PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """``with atomic_write(path) as tmp:`` write ``tmp``; it replaces ``path`` only on success.

    ``suffix`` is the temporary file's ending (ROOT chooses the format by it: use ``".root"``).
    """
    path = Path(target)
    directory = check_directory(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    os.close(fd)
    tmp = Path(name)
    try:
        with _sigterm_as_interrupt():
            yield tmp
            tmp.chmod(file_mode())
            tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# ------------------------------------------------------------------------- kinds of existing files
def is_root_file(path: Path) -> bool:
    """A ROOT file (magic bytes ``root``)."""
    try:
        with path.open("rb") as f:
            return f.read(4) == b"root"
    except OSError:
        return False


def is_json_kind(*kinds: str) -> Callable[[Path], bool]:
    """Accept a JSON file whose top-level ``"kind"`` is one of ``kinds`` (any kind if none given)."""

    def accept(path: Path) -> bool:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and "kind" in data and (not kinds or data["kind"] in kinds)

    return accept


def is_onnx_model(path: Path) -> bool:
    """An ONNX file in the rooeft convention."""
    try:
        from rooeft.onnx_convention import read_interface

        read_interface(path)
    except Exception:  # any unreadable file is "not a model"
        return False
    return True
