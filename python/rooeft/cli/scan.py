"""``rooeft scan``: 1D or 2D profile-likelihood scan.

Examples::

    rooeft scan ws.root --poi cHW --points 41 --range -1:1 -o scan.json
    rooeft scan ws.root --poi cHW --poi2 cHWtil --points 21 --asimov --workers 4 -o scan2d.json
    rooeft scan ws.root --poi cHW --scheduler tcp://scheduler:8786 --tree higgsCombine.scan.root
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.infer import scan1d, scan2d, write_json, write_limit_tree
    from rooeft.infer._cli import asimov_from_args, parse_range

    common: dict[str, Any] = {
        "profile_others": not args.fix_others,
        "data": args.data,
        "asimov": asimov_from_args(args),
        "workers": args.workers,
        "scheduler": args.scheduler,
        "progress": not args.no_progress,
        "extend_ranges": args.extend_ranges,
        "label": args.label,
    }
    if args.poi2:
        ranges = {}
        if args.range:
            ranges[args.poi] = parse_range(args.range)
        if args.range2:
            ranges[args.poi2] = parse_range(args.range2)
        s2 = scan2d(args.workspace, (args.poi, args.poi2), points=args.points, ranges=ranges, **common)
        best = ", ".join(f"{k}={v:.5g}" for k, v in s2.bestfit.items())
        print(f"2D scan of {args.poi}, {args.poi2}: {len(s2.points)} points, best fit {best}")
        result: Any = s2
    else:
        rng = parse_range(args.range) if args.range else None
        s1 = scan1d(args.workspace, args.poi, points=args.points, range=rng, **common)
        print(f"{args.poi}: best fit {s1.bestfit[args.poi]:.5g}")
        for cl, ivs in s1.intervals.items():
            print(f"  {cl}% CL: " + " ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in ivs))
        result = s1
    failed = sum(1 for p in result.points if p.status != 0)
    if failed:
        print(f"warning: {failed} scan point(s) did not converge (kept with their status)")
    if args.output:
        write_json(args.output, result)
    if args.tree:
        write_limit_tree(args.tree, result)
    return 0


def register(sub: Any) -> None:
    """Add the ``scan`` sub-command."""
    from rooeft.infer._cli import add_data_options, add_parallel_options

    p = sub.add_parser(
        "scan",
        help="1D/2D profile-likelihood scans",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_options(p)
    p.add_argument("--poi", required=True, help="POI to scan")
    p.add_argument("--poi2", default=None, help="second POI (2D scan)")
    p.add_argument("--points", type=int, default=None, help="points (per axis in 2D; default 41 in 1D, 21 in 2D)")
    p.add_argument("--range", default=None, metavar="LO:HI", help="scan range of --poi (default: its range)")
    p.add_argument("--range2", default=None, metavar="LO:HI", help="scan range of --poi2")
    p.add_argument("--fix-others", action="store_true", help="fix the other POIs at SM (or Asimov) values")
    p.add_argument("--extend-ranges", action="store_true", help="allow scan ranges beyond the POI ranges")
    p.add_argument("--label", default="", help="label stored in the result")
    add_parallel_options(p)
    p.add_argument("-o", "--output", default=None, help="JSON result file")
    p.add_argument("--tree", default=None, help="ROOT file with a Combine-style 'limit' tree")

    def run(args: argparse.Namespace) -> int:
        if args.points is None:
            args.points = 21 if args.poi2 else 41
        return _run(args)

    p.set_defaults(func=run)
