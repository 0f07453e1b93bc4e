"""``rooeft fit``: maximum-likelihood fit of a workspace (Minuit2 + Hesse, Minos on request).

Examples::

    rooeft fit ws.root
    rooeft fit ws.root --asimov cHW=0.1 --minos cHW -o fit.json --tree fit_tree.root
    rooeft fit ws.root --diagnostics fitDiagnostics.root   # per-process yields as Combine writes them
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import asimov_from_args, prepare_result_outputs, report_log, require_workspace
    from rooeft.cli._io import native_output_to, prepare_outputs
    from rooeft.infer import fit, write_fit_diagnostics, write_json, write_limit_tree
    from rooeft.safeio import is_root_file

    ws = require_workspace(args.workspace)
    log = prepare_result_outputs("fit", args, ("fit",), [ws])
    prepare_outputs("fit", [args.diagnostics], inputs=[ws], force=args.force, kind="ROOT", accept=is_root_file)
    minos = [m for m in (args.minos or "").split(",") if m]
    asimov = asimov_from_args(args)
    with native_output_to(log, f"# rooeft fit {ws}"):
        res = fit(str(ws), data=args.data, asimov=asimov, minos=minos, strategy=args.strategy, engine=args.engine)
    print(res.table())
    report_log("fit", log)
    at_limit = list(getattr(res, "at_limit", []) or [])
    if at_limit:
        print(
            f"rooeft fit: warning: {', '.join(at_limit)} ended at (within 1e-3 of) the range limit; "
            "the result and its error are not reliable: widen the range",
            file=sys.stderr,
        )
    if args.output:
        write_json(args.output, res)
    if args.tree:
        write_limit_tree(args.tree, res)
    if args.diagnostics:
        write_fit_diagnostics(args.diagnostics, res)
    if not res.ok:
        print(f"rooeft fit: error: the fit did not converge (status {res.status}); details in {log}", file=sys.stderr)
        return 3
    failed = list(getattr(res, "minos_failed", []) or [])
    if failed:
        print(
            f"rooeft fit: error: Minos failed for {', '.join(failed)}; their errors are the symmetric Hesse ones, "
            "not the asymmetric interval: run `rooeft scan` for a profile-likelihood interval",
            file=sys.stderr,
        )
        return 3
    return 0


def register(sub: Any) -> None:
    """Add the ``fit`` sub-command."""
    from rooeft.cli._infer import add_data_options, add_engine_option, add_output_options

    p = sub.add_parser(
        "fit", help="fit a workspace", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_options(p)
    add_engine_option(p)
    p.add_argument("--minos", default="", metavar="POI,...", help="parameters with Minos errors")
    p.add_argument("--strategy", type=int, default=1, choices=(0, 1, 2), help="Minuit2 strategy of the first attempt")
    add_output_options(p)
    p.add_argument(
        "--diagnostics",
        default=None,
        metavar="FILE.root",
        help="write the pre- and post-fit yields per process as Combine's fitDiagnostics.root does "
        "(norm_prefit, norm_fit_s)",
    )
    p.set_defaults(func=_run)
