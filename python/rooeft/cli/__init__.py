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
    "rooeft.cli.export_json",
    "rooeft.cli.fit",
    "rooeft.cli.scan",
    "rooeft.cli.limits",
    "rooeft.cli.ladder",
    "rooeft.cli.toys",
    "rooeft.cli.posterior",
    "rooeft.cli.plot",
    "rooeft.cli.config",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command registered."""
    from rooeft import __version__

    parser = argparse.ArgumentParser(
        prog="rooeft",
        description="EFT Wilson-coefficient measurements with machine learning inside ROOT/RooFit.",
        epilog="`rooeft COMMAND --help` documents a command. In every command -o/--output names a file and "
        "--output-dir a directory.",
    )
    parser.add_argument("--version", action="version", version=f"rooeft {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in _COMMANDS:  # a listed module that is missing or broken is an error, never skipped
        importlib.import_module(name).register(sub)
    return parser


def _message(err: BaseException) -> str:
    """One line describing ``err`` (OS errors name the file and the reason)."""
    if isinstance(err, OSError) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror}"
    text = str(err).strip() or type(err).__name__
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rooeft`` command; returns the exit code.

    Exit codes: 0 success; 1 an error (one line on stderr naming the file, field or parameter;
    ``--debug`` adds the traceback); 2 bad command-line usage; 3 the command ran but some fits,
    scan points or toys failed (see the summary); 130 interrupted.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    args_list = [a for a in args_list if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):  # (an unknown COMMAND is argparse's error: exit code 2)
        parser.print_usage(sys.stderr)
        print("rooeft: error: no COMMAND given (`rooeft --help` lists them)", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"rooeft {args.command}: interrupted; no output was replaced", file=sys.stderr)
        if debug:
            raise
        return 130
    except Exception as err:  # the boundary: one clear line, the traceback only with --debug
        if debug:
            import traceback

            traceback.print_exc()
        user_error = isinstance(err, (ValueError, OSError, LookupError))
        kind = "" if user_error else f"{type(err).__name__}: "
        lines = _message(err).splitlines() or [""]
        print(f"rooeft {args.command}: error: {kind}{lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line.strip()}", file=sys.stderr)
        if not (debug or user_error):
            print(f"rooeft {args.command}: (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
