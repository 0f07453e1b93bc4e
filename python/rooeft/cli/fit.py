"""``rooeft fit``: maximum-likelihood fit of a workspace (Minuit2 + Hesse, Minos on request).

Examples::

    rooeft fit ws.root
    rooeft fit ws.root --asimov cHW=0.1 --minos cHW -o fit.json --tree fit_tree.root
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.infer import fit, write_json, write_limit_tree
    from rooeft.infer._cli import asimov_from_args

    minos = [m for m in (args.minos or "").split(",") if m]
    res = fit(args.workspace, data=args.data, asimov=asimov_from_args(args), minos=minos, strategy=args.strategy)
    print(res.table())
    if args.output:
        write_json(args.output, res)
    if args.tree:
        write_limit_tree(args.tree, res)
    return 0 if res.ok else 3


def register(sub: Any) -> None:
    """Add the ``fit`` sub-command."""
    from rooeft.infer._cli import add_data_options

    p = sub.add_parser(
        "fit", help="fit a workspace", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_options(p)
    p.add_argument("--minos", default="", metavar="POI,...", help="parameters with Minos errors")
    p.add_argument("--strategy", type=int, default=1, choices=(0, 1, 2), help="Minuit2 strategy of the first attempt")
    p.add_argument("-o", "--output", default=None, help="JSON result file")
    p.add_argument("--tree", default=None, help="ROOT file with a Combine-style 'limit' tree")
    p.set_defaults(func=_run)
