"""Output handling shared by the sub-commands: the output options, the ``--force`` flag and the
pre-flight check.

One output convention for every command: ``-o/--output FILE`` names the one file a command writes
(:func:`add_output_file_option`); a command that writes a set of files into a directory takes
``--output-dir DIR`` instead (:func:`add_output_dir_option`), and refuses ``-o``/``--output`` with
a usage error naming the replacement. Any other option naming a directory is called ``--<what>-dir``
with the metavar ``DIR``; tests/test_cli_commands.py checks all of this on every command.

Every command calls :func:`prepare_outputs` before any work, with all of its inputs and outputs
(see :mod:`rooeft.safeio` for the policy).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rooeft.safeio import check_outputs, file_mode

__all__ = [
    "DIR",
    "FILE",
    "OutputIsAFile",
    "add_force_option",
    "add_log_option",
    "add_output_dir_option",
    "add_output_file_option",
    "count_errors",
    "is_log",
    "log_path",
    "native_output_to",
    "prepare_outputs",
]

PathLike = str | Path

#: metavar of an option that names a file (``-o/--output`` and the other file options)
FILE = "FILE"
#: metavar of an option that names a directory (``--output-dir`` and every ``--<what>-dir``)
DIR = "DIR"


def add_output_file_option(
    p: argparse.ArgumentParser, help: str, *, required: bool = False, default: str | None = None
) -> None:
    """``-o/--output FILE``: the file the command writes (``help`` says which kind of file)."""
    p.add_argument("-o", "--output", required=required, default=default, metavar=FILE, help=help)


class OutputIsAFile(argparse.Action):
    """``-o``/``--output`` given to a command that writes a directory: a usage error (exit code 2)
    that names the option to use instead, before any work is done."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        value = values if isinstance(values, str) else DIR
        command = parser.prog.rsplit(" ", 1)[-1]
        parser.error(
            f"{option_string or '-o'} names a file in every rooeft command; {command} writes into a directory: "
            f"use --output-dir {shlex.quote(value)}"
        )


def add_output_dir_option(
    p: argparse.ArgumentParser, help: str, *, required: bool = False, default: str | None = None
) -> None:
    """``--output-dir DIR``: the directory a command writes its files into; ``-o``/``--output``
    (a file in every command) are refused with :class:`OutputIsAFile`."""
    p.add_argument("--output-dir", required=required, default=default, metavar=DIR, help=help)
    p.add_argument("-o", "--output", action=OutputIsAFile, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_force_option(p: argparse.ArgumentParser) -> None:
    """The one overwrite flag of every command."""
    p.add_argument(
        "--force",
        action="store_true",
        help="replace existing output files of the kind this command writes (never an input)",
    )


def prepare_outputs(
    command: str,
    outputs: Iterable[PathLike | None],
    *,
    inputs: Iterable[PathLike | None] = (),
    force: bool = False,
    kind: str = "rooeft output",
    accept: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Check outputs against inputs and the overwrite policy; say which files will be replaced."""
    replaced = check_outputs(outputs, inputs=inputs, force=force, kind=kind, accept=accept)
    for path in replaced:
        print(f"rooeft {command}: replacing existing {path} (--force)", file=sys.stderr)
    return replaced


def _flush_native() -> None:
    """Flush C stdio and, if ROOT is loaded, ``std::cout``/``std::cerr``."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)
    if "cppyy" in sys.modules:
        with contextlib.suppress(Exception):
            gbl = sys.modules["cppyy"].gbl
            gbl.std.cout.flush()
            gbl.std.cerr.flush()


@contextlib.contextmanager
def native_output_to(log: Path, header: str) -> Iterator[None]:
    """Send everything written to the file descriptors 1 and 2 (RooFit, Minuit, worker processes)
    to ``log``; Python's ``sys.stdout``/``sys.stderr`` keep writing to the terminal."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    _flush_native()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    replaced: dict[str, object] = {}
    with log.open("w", encoding="utf-8") as f:
        f.write(header + "\n")
        f.flush()
        try:
            for fd, name in ((1, "stdout"), (2, "stderr")):
                stream = getattr(sys, name)
                try:
                    on_fd = stream.fileno() == fd
                except (AttributeError, OSError, ValueError):
                    on_fd = False
                if on_fd:  # Python writes to the real descriptor: keep it on the terminal
                    replaced[name] = stream
                    setattr(sys, name, os.fdopen(os.dup(saved[fd]), "w", buffering=1, encoding="utf-8"))
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            yield
        finally:
            _flush_native()
            os.dup2(saved[1], 1)
            os.dup2(saved[2], 2)
            for fd in saved.values():
                os.close(fd)
            for name, stream in replaced.items():
                getattr(sys, name).close()
                setattr(sys, name, stream)
    log.chmod(file_mode())


def count_errors(log: Path) -> int:
    """Lines of a native-output log that report an error."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if "ERROR" in line or "Error" in line)


def log_path(command: str, output: PathLike | None, explicit: PathLike | None) -> tuple[Path, bool]:
    """Where a command's native output goes: ``--log``, else ``<output>.log``, else a new temporary
    file; the flag says whether the path is a fresh temporary file (no overwrite check needed)."""
    if explicit is not None:
        return Path(explicit), False
    if output is not None:
        return Path(output).with_suffix(".log"), False
    import tempfile

    fd, name = tempfile.mkstemp(prefix=f"rooeft-{command}-", suffix=".log")
    os.close(fd)
    return Path(name), True


def add_log_option(p: argparse.ArgumentParser) -> None:
    """``--log``: where RooFit/Minuit messages go instead of the terminal."""
    p.add_argument(
        "--log",
        default=None,
        metavar=FILE,
        help="file for RooFit/Minuit messages (default: the -o file with .log, else a temporary file)",
    )


def is_log(path: Path) -> bool:
    """A log written by :func:`native_output_to`."""
    try:
        with path.open("rb") as f:
            return f.read(9) == b"# rooeft "
    except OSError:
        return False
