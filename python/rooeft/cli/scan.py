"""``rooeft scan``: 1D or 2D profile-likelihood scan.

Examples::

    rooeft scan ws.root --poi cHW --points 41 --range=-1:1 -o scan.json
    rooeft scan ws.root --poi cHW --poi2 cHWtil --points 21 --asimov --workers 4 -o scan2d.json
    rooeft scan ws.root --poi cHW --scheduler tcp://scheduler:8786 --tree higgsCombine.scan.root
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _failures(result: Any, pois: list[str]) -> list[str]:
    """Descriptions of the failed points of a scan (and of its best fit)."""
    out = [f"best fit (status {result.fit_status})"] if getattr(result, "fit_status", 0) != 0 else []
    for p in result.points:
        if p.status != 0:
            where = ", ".join(f"{k}={p.values[k]:.4g}" for k in pois)
            out.append(f"{where} (status {p.status})")
    return out


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import (
        asimov_from_args,
        parse_range,
        prepare_result_outputs,
        report_log,
        require_workspace,
    )
    from rooeft.cli._io import native_output_to
    from rooeft.infer import scan1d, scan2d, write_json, write_limit_tree

    if args.points < 2:
        raise ValueError(f"--points must be at least 2, got {args.points}")
    if args.poi2 is not None and args.poi2 == args.poi:
        raise ValueError(f"--poi2 must differ from --poi ({args.poi})")
    ws = require_workspace(args.workspace)
    log = prepare_result_outputs("scan", args, ("scan1d", "scan2d"), [ws])
    rng1 = parse_range(args.range) if args.range else None
    rng2 = parse_range(args.range2) if args.range2 else None
    common: dict[str, Any] = {
        "profile_others": not args.fix_others,
        "data": args.data,
        "asimov": asimov_from_args(args),
        "workers": args.workers,
        "scheduler": args.scheduler,
        "progress": not args.no_progress,
        "extend_ranges": args.extend_ranges,
        "label": args.label,
        "engine": args.engine,
    }
    result: Any
    with native_output_to(log, f"# rooeft scan {ws} --poi {args.poi}" + (f" --poi2 {args.poi2}" if args.poi2 else "")):
        if args.poi2:
            ranges = {k: v for k, v in ((args.poi, rng1), (args.poi2, rng2)) if v is not None}
            result = scan2d(str(ws), (args.poi, args.poi2), points=args.points, ranges=ranges, **common)
        else:
            result = scan1d(str(ws), args.poi, points=args.points, range=rng1, **common)
    pois = [args.poi] + ([args.poi2] if args.poi2 else [])
    failed = _failures(result, pois)
    if args.poi2:
        best = ", ".join(f"{k}={v:.5g}" for k, v in result.bestfit.items())
        print(f"2D scan of {args.poi}, {args.poi2}: {len(result.points)} points, best fit {best}")
    elif len(failed) < len(result.points):
        print(f"{args.poi}: best fit {result.bestfit[args.poi]:.5g}")
        for cl, ivs in result.intervals.items():
            print(f"  {cl}% CL: " + (" ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in ivs) or "none in the range"))
    report_log("scan", log)
    if args.output:
        write_json(args.output, result)
    if args.tree:
        write_limit_tree(args.tree, result)
    if failed:
        shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
        print(
            f"rooeft scan: error: {len(failed)} of {len(result.points)} scan points failed: {shown}; "
            f"details in {log}" + (" (results written with their status)" if args.output or args.tree else ""),
            file=sys.stderr,
        )
        return 3
    return 0


def register(sub: Any) -> None:
    """Add the ``scan`` sub-command."""
    from rooeft.cli._infer import add_data_options, add_engine_option, add_output_options, add_parallel_options

    p = sub.add_parser(
        "scan",
        help="1D/2D profile-likelihood scans",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_options(p)
    add_engine_option(p)
    p.add_argument("--poi", required=True, help="POI to scan")
    p.add_argument("--poi2", default=None, help="second POI (2D scan)")
    p.add_argument("--points", type=int, default=None, help="points (per axis in 2D; default 41 in 1D, 21 in 2D)")
    p.add_argument("--range", default=None, metavar="LO:HI", help="scan range of --poi (default: its range)")
    p.add_argument("--range2", default=None, metavar="LO:HI", help="scan range of --poi2")
    p.add_argument("--fix-others", action="store_true", help="fix the other POIs at SM (or Asimov) values")
    p.add_argument("--extend-ranges", action="store_true", help="allow scan ranges beyond the POI ranges")
    p.add_argument("--label", default="", help="label stored in the result")
    add_parallel_options(p)
    add_output_options(p)

    def run(args: argparse.Namespace) -> int:
        if args.points is None:
            args.points = 21 if args.poi2 else 41
        return _run(args)

    p.set_defaults(func=run)
