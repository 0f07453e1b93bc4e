"""Argument and output helpers shared by the ``fit``, ``scan``, ``limits``, ``toys``, ``posterior``,
``plot``, ``train`` and ``export`` commands (command-line only: the library never imports them)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "add_data_options",
    "add_engine_option",
    "add_output_options",
    "add_parallel_options",
    "asimov_from_args",
    "parse_range",
    "parse_values",
    "prepare_result_outputs",
    "report_log",
    "require_input",
    "require_workspace",
]


def parse_values(text: str) -> dict[str, float]:
    """``"cHW=0.1,cHWtil=-0.2"`` -> ``{"cHW": 0.1, "cHWtil": -0.2}`` (empty text: ``{}``).

    >>> parse_values("cHW=0.1, cHWtil=-2e-1")
    {'cHW': 0.1, 'cHWtil': -0.2}
    """
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"value of {name.strip()} is not a number: {value!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"value of {name.strip()} must be finite, got {value!r}")
        out[name.strip()] = v
    return out


def parse_range(text: str) -> tuple[float, float]:
    """``"-1:2.5"`` -> ``(-1.0, 2.5)``.

    >>> parse_range("-1:2.5")
    (-1.0, 2.5)
    """
    lo, sep, hi = text.partition(":")
    if not sep:
        raise ValueError(f"expected a range LO:HI, got {text!r}")
    try:
        a, b = float(lo), float(hi)
    except ValueError:
        raise ValueError(f"range bounds must be numbers, got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise ValueError(f"range must be LO:HI with finite LO < HI, got {text!r}")
    return a, b


def add_data_options(p: argparse.ArgumentParser) -> None:
    """The positional workspace, ``--data`` and ``--asimov``."""
    p.add_argument("workspace", help="workspace file (rooeft convention)")
    p.add_argument("--data", default="data_obs", help="dataset in the workspace (default: data_obs)")
    p.add_argument(
        "--asimov",
        nargs="?",
        const="",
        default=None,
        metavar="POI=V,...",
        help="fit Asimov data instead, at the given POI values (bare --asimov: SM)",
    )


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """``--engine auto|kernel|roofit``."""
    p.add_argument(
        "--engine",
        choices=("auto", "kernel", "roofit"),
        default="auto",
        help="likelihood engine: the closed-form kernel with exact gradients (auto: where the workspace allows, "
        "else RooFit), the kernel only, or RooFit's NLL with numerical gradients (default: auto)",
    )


def add_parallel_options(p: argparse.ArgumentParser) -> None:
    """``--workers``, ``--scheduler`` and ``--no-progress``."""
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local Dask worker processes (default: all CPUs; 1 = in this process, both cores inside each "
        "likelihood evaluation)",
    )
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address (tcp://host:port)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def asimov_from_args(args: Any) -> dict[str, float] | None:
    """The POI values of ``--asimov`` (None without it; ``{}`` for a bare ``--asimov``)."""
    return None if args.asimov is None else parse_values(args.asimov)


def require_input(path: str | Path, what: str) -> Path:
    """An existing, readable input file (clear errors otherwise)."""
    import os

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {p} does not exist")
    if p.is_dir():
        raise IsADirectoryError(f"{what} {p} is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise PermissionError(f"{what} {p} is not readable")
    return p


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``-o`` (JSON), ``--tree`` (Combine-style ROOT tree), ``--log``, ``--force``."""
    from rooeft.cli._io import FILE, add_force_option, add_log_option, add_output_file_option

    add_output_file_option(p, "JSON result file to write")
    p.add_argument("--tree", default=None, metavar=FILE, help="ROOT file to write with a Combine-style 'limit' tree")
    add_log_option(p)
    add_force_option(p)


def prepare_result_outputs(command: str, args: Any, kinds: tuple[str, ...], inputs: list[Path]) -> Path:
    """Check ``-o``/``--tree``/``--log`` of an inference command before any work; returns the log path."""
    from rooeft.cli._io import is_log, log_path, prepare_outputs
    from rooeft.safeio import OutputError, is_json_kind, is_root_file, same_file

    output = getattr(args, "output", None)
    tree = getattr(args, "tree", None)
    log, fresh = log_path(command, output, getattr(args, "log", None))
    outs = [o for o in (output, tree, log) if o is not None]
    for i, a in enumerate(outs):
        for b in outs[i + 1 :]:
            if same_file(a, b):
                raise OutputError(f"two outputs are the same file: {a}")
    prepare_outputs(command, [output], inputs=inputs, force=args.force, kind="rooeft result JSON",
                    accept=is_json_kind(*kinds))  # fmt: skip
    prepare_outputs(command, [tree], inputs=inputs, force=args.force, kind="ROOT", accept=is_root_file)
    if not fresh:
        prepare_outputs(command, [log], inputs=inputs, force=args.force, kind="rooeft log", accept=is_log)
    return log


def report_log(command: str, log: Path) -> None:
    """Say how many error lines RooFit/Minuit wrote into the log, and where it is."""
    from rooeft.cli._io import count_errors

    n = count_errors(log)
    if n:
        print(f"rooeft {command}: RooFit/Minuit reported {n} error line(s); details in {log}", file=sys.stderr)


def require_workspace(path: str | Path) -> Path:
    """An existing workspace file that is a readable ROOT file holding a ``RooWorkspace``.

    Checked with uproot before ROOT opens it, so a truncated or foreign file is a clear error
    instead of a crash inside ROOT.
    """
    from rooeft.safeio import is_root_file

    p = require_input(path, "workspace file")
    if not is_root_file(p):
        raise ValueError(f"workspace file {p} is not a ROOT file")
    import uproot

    try:
        with uproot.open(p) as f:
            classes = f.classnames(recursive=False)
    except Exception as err:  # uproot raises many types for truncated or corrupt files
        raise ValueError(f"workspace file {p} cannot be read (truncated or corrupt?): {type(err).__name__}") from None
    if "RooWorkspace" not in classes.values():
        raise ValueError(f"{p} holds no RooWorkspace (objects: {', '.join(sorted(classes)) or 'none'})")
    return p
