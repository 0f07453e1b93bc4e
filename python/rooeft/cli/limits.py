"""``rooeft limits``: 68%/95% CL intervals of every POI from 1D profile scans, observed and
expected (Asimov at SM, or at --asimov values), printed as a table.

Examples::

    rooeft limits ws.root -o limits.json
    rooeft limits ws.root --expected-only --points 61 --fix-others
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _fmt(ivs: Any) -> str:
    return " ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in ivs) or "—"


def _run(args: argparse.Namespace) -> int:
    from rooeft.infer import get_model, scan1d, write_json
    from rooeft.infer._cli import parse_range, parse_values

    model = get_model(args.workspace)
    pois = [p for p in (args.pois or "").split(",") if p] or model.pois
    ranges = {}
    for item in args.range or []:
        name, _, rng = item.partition("=")
        ranges[name] = parse_range(rng)
    expected_at = parse_values(args.asimov or "")
    scans = []
    kinds = [("expected", expected_at)] if args.expected_only else [("observed", None), ("expected", expected_at)]
    rows = []
    for poi in pois:
        row = [poi]
        for label, asimov in kinds:
            s = scan1d(
                args.workspace,
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
            )
            scans.append(s.to_dict())
            row += [f"{s.bestfit[poi]:.4g}", _fmt(s.intervals["68"]), _fmt(s.intervals["95"])]
        rows.append(row)
    header = ["POI"]
    for label, _ in kinds:
        header += [f"{label} best", f"{label} 68% CL", f"{label} 95% CL"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    if args.output:
        write_json(args.output, {"kind": "limits", "scans": scans})
    return 0


def register(sub: Any) -> None:
    """Add the ``limits`` sub-command."""
    from rooeft.infer._cli import add_parallel_options

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
    p.add_argument("-o", "--output", default=None, help='JSON file {"kind": "limits", "scans": [scan1d, ...]}')
    p.set_defaults(func=_run)
