"""``rooeft posterior``: Bayesian posterior of the POIs of a workspace by nested sampling
(UltraNest) on the same likelihood as ``rooeft fit``/``scan``.

Writes into ``--output-dir`` ``posterior.json`` (kind ``posterior``), ``posterior_samples.npz``
and ``posterior_corner.png``/``.pdf``, and prints the credible intervals (next to the
profile-likelihood intervals of any ``--scan`` results).

Examples::

    rooeft posterior ws.root --asimov cHW=0 --output-dir out/posterior
    rooeft posterior ws.root --poi cHW --prior cHW=uniform:-1:1 --max-calls 50000 --seed 3 --output-dir out/post
    rooeft posterior ws.root --poi cHW --nuisances fixed --scan out/scan_cHW.json --output-dir out/post
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

__all__ = ["parse_assignments", "register"]


def parse_assignments(items: list[str] | None, *, option: str) -> dict[str, float]:
    """``["a=1", "b=2,c=3"]`` → ``{"a": 1.0, "b": 2.0, "c": 3.0}`` (clear errors naming ``option``).

    >>> parse_assignments(["cHW=0.5,cHWtil=0"], option="--asimov")
    {'cHW': 0.5, 'cHWtil': 0.0}
    """
    out: dict[str, float] = {}
    for item in items or []:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"{option} {part!r}: expected NAME=VALUE")
            try:
                v = float(value)
            except ValueError:
                raise ValueError(f"{option} {part!r}: {value!r} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"{option} {part!r}: value must be finite")
            if name.strip() in out:
                raise ValueError(f"{option}: '{name.strip()}' given twice")
            out[name.strip()] = v
    return out


def _run(args: argparse.Namespace) -> int:
    from rooeft.bayes import comparison_table, corner_plot, parse_priors, sample_posterior, write_posterior
    from rooeft.cli._infer import require_input, require_workspace
    from rooeft.cli._io import prepare_outputs
    from rooeft.safeio import is_json_kind

    ws = require_workspace(args.workspace)
    scans = [require_input(s, "--scan file") for s in args.scan or []]
    for name, value in (("--live-points", args.live_points), ("--max-calls", args.max_calls)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if not (math.isfinite(args.dlogz) and args.dlogz > 0):
        raise ValueError(f"--dlogz must be a positive number, got {args.dlogz}")
    outdir = Path(args.output_dir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"--output-dir {outdir} is a file, not a directory")
    asimov: dict[str, float] | None = None
    if args.asimov is not None:
        asimov = parse_assignments([a for a in args.asimov if a], option="--asimov")
    priors = parse_priors(args.prior or [])
    fixed = parse_assignments(args.fix, option="--fix")
    inputs = [ws, *scans]
    prepare_outputs("posterior", [outdir / "posterior.json"], inputs=inputs, force=args.force,
                    kind="rooeft posterior JSON", accept=is_json_kind("posterior"))  # fmt: skip
    prepare_outputs("posterior", [outdir / "posterior_samples.npz"], inputs=inputs, force=args.force, kind="npz")
    if not args.no_plot:
        prepare_outputs("posterior", [outdir / f"posterior_corner.{e}" for e in ("png", "pdf")], inputs=inputs,
                        force=args.force, kind="figure")  # fmt: skip
    result = sample_posterior(
        ws,
        pois=args.poi or None,
        priors=priors,
        nuisances=args.nuisances,
        data=args.data,
        asimov=asimov,
        fixed=fixed,
        live_points=args.live_points,
        max_calls=args.max_calls,
        dlogz=args.dlogz,
        seed=args.seed,
        progress=args.progress,
        label=args.label,
    )
    json_path, npz_path = write_posterior(result, outdir / "posterior.json")
    print(result.table())
    if not result.converged:
        print(f"warning: stopped at --max-calls {args.max_calls} before reaching --dlogz {args.dlogz}")
    if result.failed_calls:
        print(f"warning: {result.failed_calls} likelihood call(s) failed and were given ln L = -1e100")
    if args.scan:
        print()
        print(comparison_table(result, args.scan))
    written = [json_path, npz_path]
    if not args.no_plot:
        written += corner_plot(result, outdir / "posterior_corner", scans=args.scan or [])
    for p in written:
        print(f"wrote {p}")
    return 0


def register(sub: Any) -> None:
    """Add the ``posterior`` sub-command."""
    from rooeft.cli._io import add_force_option, add_output_dir_option

    p = sub.add_parser(
        "posterior",
        help="Bayesian posterior of the POIs by nested sampling (UltraNest)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workspace", help="workspace ROOT file (rooeft convention)")
    add_output_dir_option(p, "directory the posterior, its samples and the corner plot are written into", required=True)
    p.add_argument("--poi", action="append", metavar="NAME", help="POI to sample (repeatable; default: all)")
    p.add_argument(
        "--prior",
        action="append",
        metavar="SPEC",
        help="NAME=uniform[:LOW:HIGH] | NAME=loguniform[:LOW:HIGH] | NAME=gaussian:MEAN:SIGMA[:LOW:HIGH] "
        "(repeatable; default: uniform over the POI's range)",
    )
    p.add_argument(
        "--asimov",
        action="append",
        nargs="?",
        const="",
        metavar="NAME=VALUE",
        help="use Asimov data at these POI values (others nominal; bare --asimov: all nominal)",
    )
    p.add_argument("--data", default="data_obs", help="dataset in the workspace (default: data_obs)")
    p.add_argument(
        "--nuisances",
        choices=("sample", "fixed", "profile"),
        default="sample",
        help="marginalise nuisances by sampling them over ±5σ (default), fix them at nominal, or profile them",
    )
    p.add_argument("--fix", action="append", metavar="NAME=VALUE", help="value of a parameter that is not sampled")
    p.add_argument("--live-points", type=int, default=400, help="minimum number of live points (default 400)")
    p.add_argument("--max-calls", type=int, default=200_000, help="stop after this many likelihood calls")
    p.add_argument("--dlogz", type=float, default=0.5, help="target ln Z precision (default 0.5)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--scan", action="append", metavar="JSON", help="scan1d result to compare with (repeatable)")
    p.add_argument("--label", default="", help="label stored with the result")
    p.add_argument("--no-plot", action="store_true", help="do not draw the corner plot")
    p.add_argument("--progress", action="store_true", help="show UltraNest's progress")
    add_force_option(p)
    p.set_defaults(func=_run)
