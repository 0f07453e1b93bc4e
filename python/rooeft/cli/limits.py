"""``rooeft limits``: 68%/95% CL intervals of every POI from 1D profile scans, observed and
expected (Asimov at SM, or at --asimov values), printed as a table (:func:`rooeft.infer.limits`).

Examples::

    rooeft limits ws.root -o limits.json
    rooeft limits ws.root --expected-only --points 61 --fix-others
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import parse_range, parse_values, prepare_result_outputs, report_log, require_workspace
    from rooeft.cli._io import native_output_to
    from rooeft.infer import limits, write_json

    if args.points < 2:
        raise ValueError(f"--points must be at least 2, got {args.points}")
    ws = require_workspace(args.workspace)
    args.tree = None
    log = prepare_result_outputs("limits", args, ("limits",), [ws])
    ranges: dict[str, tuple[float, float]] = {}
    for item in args.range or []:
        name, sep, rng = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--range expects POI=LO:HI, got {item!r}")
        ranges[name.strip()] = parse_range(rng)
    with native_output_to(log, f"# rooeft limits {ws}"):
        result = limits(
            str(ws),
            pois=[p for p in (args.pois or "").split(",") if p],
            points=args.points,
            ranges=ranges,
            profile_others=not args.fix_others,
            data=args.data,
            expected_at=parse_values(args.asimov or ""),
            observed=not args.expected_only,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            engine=args.engine,
        )
    print(result.table())
    report_log("limits", log)
    if args.output:
        write_json(args.output, result)
    problems = result.problems()
    if problems:
        for line in problems:
            print(f"rooeft limits: error: {line}", file=sys.stderr)
        print(f"rooeft limits: details in {log}", file=sys.stderr)
        return 3
    return 0


def register(sub: Any) -> None:
    """Add the ``limits`` sub-command."""
    from rooeft.cli._infer import add_engine_option, add_parallel_options
    from rooeft.cli._io import add_force_option, add_log_option

    p = sub.add_parser(
        "limits",
        help="1D intervals of every POI (observed and expected)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workspace", help="workspace file (rooeft convention)")
    p.add_argument("--data", default="data_obs", help="observed dataset (default: data_obs)")
    p.add_argument("--asimov", default="", metavar="POI=V,...", help="POI values of the expected (Asimov) data")
    p.add_argument("--pois", default="", metavar="POI,...", help="POIs (default: all)")
    p.add_argument("--points", type=int, default=41, help="scan points per POI")
    p.add_argument("--range", action="append", metavar="POI=LO:HI", help="scan range of a POI (repeatable)")
    p.add_argument("--fix-others", action="store_true", help="fix the other POIs at SM (one-at-a-time limits)")
    p.add_argument("--expected-only", action="store_true", help="only the expected (Asimov) intervals")
    add_parallel_options(p)
    add_engine_option(p)
    p.add_argument("-o", "--output", default=None, help='JSON file {"kind": "limits", "scans": [scan1d, ...]}')
    add_log_option(p)
    add_force_option(p)
    p.set_defaults(func=_run)
