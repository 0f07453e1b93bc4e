"""``rooeft limits``: 68%/95% CL intervals of every POI from 1D profile scans, observed and
expected (Asimov at SM, or at --asimov values), printed as a table.

Examples::

    rooeft limits ws.root -o limits.json
    rooeft limits ws.root --expected-only --points 61 --fix-others
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _fmt(ivs: Any) -> str:
    return " ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in ivs) or "—"


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._io import native_output_to
    from rooeft.infer import get_model, scan1d, write_json
    from rooeft.infer._cli import (
        parse_range,
        parse_values,
        prepare_result_outputs,
        report_log,
        require_workspace,
    )

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
    expected_at = parse_values(args.asimov or "")
    with native_output_to(log, f"# rooeft limits {ws}"):
        model = get_model(str(ws))
        requested = [p for p in (args.pois or "").split(",") if p]
        for what, names in (("--pois", requested), ("--range", list(ranges)), ("--asimov", list(expected_at))):
            unknown = [n for n in names if n not in model.pois]
            if unknown:
                raise ValueError(f"{what}: unknown POI(s) {unknown}; the POIs of {ws} are {list(model.pois)}")
        pois = requested or list(model.pois)
        scans: list[dict[str, Any]] = []
        kinds = [("expected", expected_at)] if args.expected_only else [("observed", None), ("expected", expected_at)]
        rows = []
        problems: list[str] = []
        for poi in pois:
            row = [poi]
            for label, asimov in kinds:
                s = scan1d(
                    str(ws),
                    poi,
                    points=args.points,
                    range=ranges.get(poi),
                    profile_others=not args.fix_others,
                    data=args.data,
                    asimov=asimov,
                    workers=args.workers,
                    scheduler=args.scheduler,
                    progress=not args.no_progress,
                    label=label,
                    engine=args.engine,
                )
                scans.append(s.to_dict())
                failed = [p for p in s.points if p.status != 0]
                if s.fit_status != 0:
                    problems.append(f"{poi} ({label}): the best fit failed (status {s.fit_status})")
                if failed:
                    vals = ", ".join(f"{p.values[poi]:.4g}" for p in failed[:5]) + (" ..." if len(failed) > 5 else "")
                    problems.append(f"{poi} ({label}): {len(failed)} of {len(s.points)} scan points failed ({vals})")
                for cl in ("68", "95"):
                    if not s.intervals.get(cl):
                        problems.append(f"{poi} ({label}): no {cl}% CL interval found in the scan range")
                row += [f"{s.bestfit[poi]:.4g}", _fmt(s.intervals.get("68", ())), _fmt(s.intervals.get("95", ()))]
            rows.append(row)
    header = ["POI"]
    for label, _ in kinds:
        header += [f"{label} best", f"{label} 68% CL", f"{label} 95% CL"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    report_log("limits", log)
    if args.output:
        write_json(args.output, {"kind": "limits", "scans": scans})
    if problems:
        for line in problems:
            print(f"rooeft limits: error: {line}", file=sys.stderr)
        print(f"rooeft limits: details in {log}", file=sys.stderr)
        return 3
    return 0


def register(sub: Any) -> None:
    """Add the ``limits`` sub-command."""
    from rooeft.cli._io import add_force_option, add_log_option
    from rooeft.infer._cli import add_engine_option, add_parallel_options

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
