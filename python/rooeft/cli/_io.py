"""Output handling shared by the sub-commands: the ``--force`` flag and the pre-flight check.

Every command calls :func:`prepare_outputs` before any work, with all of its inputs and outputs
(see :mod:`rooeft.safeio` for the policy).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rooeft.safeio import check_outputs

__all__ = ["add_force_option", "prepare_outputs"]

PathLike = str | Path


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
