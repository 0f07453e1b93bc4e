"""``rooeft plot``: plot result JSON files (fit, scan1d, scan2d, toys, posterior, loss history).

The plot kind follows each file's ``"kind"``: fit → nuisance pulls, scan1d → 2ΔNLL scan (files
of the same parameter overlaid), scan2d → 68%/95% contours (same pair overlaid), toys → pull
histograms and coverage, posterior → corner plot of the POIs (with the intervals of scan1d
files given alongside), ``*.loss_history.json`` → loss curves, ``*_reliability.json`` (from
``rooeft train``) → reliability diagram.

Examples::

    rooeft plot results/scan_cHW_obs.json results/scan_cHW_exp.json --output-dir plots
    rooeft plot results/fit.json results/toys.json --output-dir plots --formats png
    rooeft plot scan_learned.json scan_exact.json --labels learned exact --lumi 300
    rooeft plot posterior.json scan_cHW.json scan_cHWtil.json --output-dir plots
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from rooeft.cli._infer import require_input
    from rooeft.plot import plot_result_files
    from rooeft.safeio import OutputError, check_creatable, same_file

    inputs = [require_input(r, "result file") for r in args.results]
    out = Path(args.output_dir)
    for f in inputs:
        if same_file(out, f):
            raise OutputError(f"refusing to use {out} as the output directory: it is the input {f}")
    check_creatable(out)
    written = plot_result_files(
        args.results,
        out,
        formats=args.formats,
        lumi=args.lumi,
        com=args.com,
        labels=args.labels,
        force=args.force,
    )
    for path in written:
        print(path)
    return 0


def register(sub: Any) -> None:
    """Add the ``plot`` sub-command."""
    from rooeft.cli._io import add_force_option, add_output_dir_option

    p = sub.add_parser(
        "plot",
        help="plot result files: pulls, scans, contours, toys, posteriors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", nargs="+", metavar="RESULT.json", help="result files written by rooeft")
    add_output_dir_option(p, "directory the plots are written into (default: %(default)s)", default="plots")
    p.add_argument(
        "--formats", nargs="+", default=["png", "pdf"], metavar="FMT", help="output formats (default: png pdf)"
    )
    p.add_argument(
        "--labels",
        nargs="+",
        default=None,
        metavar="LABEL",
        help="legend labels, one per result file (overrides the files' labels)",
    )
    p.add_argument("--lumi", type=float, default=None, help="integrated luminosity in fb⁻¹ for the label")
    p.add_argument("--com", type=float, default=13, help="centre-of-mass energy in TeV (default: %(default)s)")
    add_force_option(p)
    p.set_defaults(func=_run)
