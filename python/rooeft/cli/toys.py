"""``rooeft toys``: pseudo-experiments at a true point, with coverage and pulls.

Examples::

    rooeft toys ws.root --truth cHW=0.2 -n 100 -o toys.json
    rooeft toys ws.root --truth cHW=0.2 -n 1000 --interval hesse --scheduler tcp://scheduler:8786
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._io import native_output_to
    from rooeft.infer import toys
    from rooeft.infer._cli import parse_values, prepare_result_outputs, require_workspace

    if args.n_toys < 1:
        raise ValueError(f"-n/--n-toys must be at least 1, got {args.n_toys}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    truth = parse_values(args.truth)
    ws = require_workspace(args.workspace)
    log = prepare_result_outputs("toys", args, ("toys",), [ws])
    with native_output_to(log, f"# rooeft toys {ws}"):
        res = _toys(toys, str(ws), truth, args)
    return _report(res, args, log)


def _toys(toys: Any, ws: str, truth: dict[str, float], args: argparse.Namespace) -> Any:
    return toys(
        ws,
        truth,
        n_toys=args.n_toys,
        seed=args.seed,
        interval=args.interval,
        randomize_globals=not args.fixed_globals,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        engine=args.engine,
    )


def _report(res: Any, args: argparse.Namespace, log: Any) -> int:
    """Print the summary, write the outputs; exit code 3 if any toy failed."""
    from rooeft.infer import write_json, write_limit_tree
    from rooeft.infer._cli import report_log

    ok = sum(1 for f in res.fits if f.ok)
    print(
        f"{ok}/{res.n_toys} toy fits converged; coverage from {res.interval} intervals; {res.source} toys "
        "(resampled from the workspace's own simulation: a test of the fit, not a validation on independent data)"
    )
    for poi, summary in res.summary().items():
        print("  " + summary.line(poi))
    for name, pulls in res.pulls.items():
        if pulls:
            print(
                f"  pull {name}: mean {np.mean(pulls):+.3f}, std {np.std(pulls, ddof=1) if len(pulls) > 1 else 0:.3f}"
            )
    report_log("toys", log)
    if args.output:
        write_json(args.output, res)
    if args.tree:
        write_limit_tree(args.tree, res)
    failed = [f for f in res.fits if not f.ok]
    missing = res.n_toys - len(res.fits)
    if failed or missing:
        shown = ", ".join(f"#{f.index} (status {f.status})" for f in failed[:8]) + (" ..." if len(failed) > 8 else "")
        extra = f"; {missing} toy(s) returned no result" if missing else ""
        print(
            f"rooeft toys: error: {len(failed)} of {res.n_toys} toy fits failed{': ' + shown if failed else ''}"
            f"{extra}; coverage and pulls use the converged toys only; details in {log}",
            file=sys.stderr,
        )
        return 3
    return 0


def register(sub: Any) -> None:
    """Add the ``toys`` sub-command."""
    from rooeft.infer._cli import add_engine_option, add_output_options, add_parallel_options

    p = sub.add_parser(
        "toys",
        help="toys: coverage and pulls",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workspace", help="workspace file (rooeft convention)")
    p.add_argument("--truth", default="", metavar="POI=V,...", help="true POI values (others: SM)")
    p.add_argument("-n", "--n-toys", type=int, default=100, help="number of toys")
    p.add_argument("--seed", type=int, default=1, help="random seed (toy i uses seed sequence [seed, i])")
    p.add_argument("--interval", choices=("profile", "hesse"), default="profile", help="intervals for the coverage")
    p.add_argument("--fixed-globals", action="store_true", help="keep global observables at nominal")
    add_parallel_options(p)
    add_engine_option(p)
    add_output_options(p)
    p.set_defaults(func=_run)
