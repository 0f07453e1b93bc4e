"""The ``rooeft`` command: a thin layer over the Python API, one sub-command per public task.

Each sub-command lives in its own module of this package and exposes
``register(subparsers) -> None``, adding a parser whose ``func`` default runs the command and
returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# sub-command modules, in the order `rooeft --help` lists them
_COMMANDS = (
    "rooeft.cli.demo",
    "rooeft.cli.generate",
    "rooeft.cli.train",
    "rooeft.cli.export",
    "rooeft.cli.build",
    "rooeft.cli.fit",
    "rooeft.cli.scan",
    "rooeft.cli.limits",
    "rooeft.cli.toys",
    "rooeft.cli.posterior",
    "rooeft.cli.plot",
    "rooeft.cli.bench",
    "rooeft.cli.config",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command registered."""
    from rooeft import __version__

    parser = argparse.ArgumentParser(
        prog="rooeft",
        description="EFT Wilson-coefficient measurements with machine learning inside ROOT/RooFit.",
    )
    parser.add_argument("--version", action="version", version=f"rooeft {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # command not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rooeft`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as err:
        print(f"rooeft {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
