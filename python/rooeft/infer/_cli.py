"""Argument helpers shared by the ``fit``, ``scan``, ``limits`` and ``toys`` commands."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_data_options", "add_parallel_options", "asimov_from_args", "parse_range", "parse_values"]


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
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"value of {name.strip()} is not a number: {value!r}") from None
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
        return float(lo), float(hi)
    except ValueError:
        raise ValueError(f"range bounds must be numbers, got {text!r}") from None


def add_data_options(p: argparse.ArgumentParser) -> None:
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


def add_parallel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all CPUs; 1 = serial)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address (tcp://host:port)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def asimov_from_args(args: Any) -> dict[str, float] | None:
    return None if args.asimov is None else parse_values(args.asimov)
