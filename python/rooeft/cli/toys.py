"""``rooeft toys``: pseudo-experiments at a true point, with coverage and pulls.

Examples::

    rooeft toys ws.root --truth cHW=0.2 -n 100 -o toys.json
    rooeft toys ws.root --truth cHW=0.2 -n 1000 --interval hesse --scheduler tcp://scheduler:8786
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.infer import toys, write_json, write_limit_tree
    from rooeft.infer._cli import parse_values

    res = toys(
        args.workspace,
        parse_values(args.truth),
        n_toys=args.n_toys,
        seed=args.seed,
        interval=args.interval,
        randomize_globals=not args.fixed_globals,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
    )
    ok = sum(1 for f in res.fits if f.ok)
    print(f"{ok}/{res.n_toys} toy fits converged; coverage from {res.interval} intervals")
    for poi, cov in res.coverage.items():
        print(f"  {poi}: 68% CL {cov['68']:.3f}, 95% CL {cov['95']:.3f} (n={int(cov['n'])})")
    for name, pulls in res.pulls.items():
        if pulls:
            print(
                f"  pull {name}: mean {np.mean(pulls):+.3f}, std {np.std(pulls, ddof=1) if len(pulls) > 1 else 0:.3f}"
            )
    if args.output:
        write_json(args.output, res)
    if args.tree:
        write_limit_tree(args.tree, res)
    return 0


def register(sub: Any) -> None:
    """Add the ``toys`` sub-command."""
    from rooeft.infer._cli import add_parallel_options

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
    p.add_argument("-o", "--output", default=None, help="JSON result file")
    p.add_argument("--tree", default=None, help="ROOT file with a Combine-style 'limit' tree")
    p.set_defaults(func=_run)
