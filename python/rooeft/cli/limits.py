"""``rooeft limits``: 68%/95% CL intervals of every POI, printed as a table.

``--method asymptotic`` (default): 1D profile scans, observed and expected (Asimov at SM, or at
--asimov values), intervals from 2ΔNLL = 1.00/3.84 (:func:`rooeft.infer.limits`).
``--method toys``: the Neyman construction with the profile-likelihood ratio (Feldman–Cousins
ordering) and toys generated at each tested point with the nuisances at their conditional fit to
the data, as Combine's HybridNew (:func:`rooeft.infer.neyman_intervals`, docs/neyman.md); observed
data only, 1D per POI or a 2D grid of two POIs (``--grid2d``).

Examples::

    rooeft limits ws.root -o limits.json
    rooeft limits ws.root --expected-only --points 61 --fix-others
    rooeft limits ws.root --method toys --pois cHWtil --points 21 --toys 200 --max-toys 1600 -o neyman.json
    rooeft limits ws.root --method toys --pois cHW,cHWtil --grid2d --points 11 --workers 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _ranges(items: list[str] | None) -> dict[str, tuple[float, float]]:
    from rooeft.cli._infer import parse_range

    ranges: dict[str, tuple[float, float]] = {}
    for item in items or []:
        name, sep, rng = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--range expects POI=LO:HI, got {item!r}")
        ranges[name.strip()] = parse_range(rng)
    return ranges


def _check_toy_args(args: argparse.Namespace) -> None:
    """Options of ``--method toys`` (before any work)."""
    if args.method != "toys":
        given = [f"--{n.replace('_', '-')}" for n in ("grid2d", "plot_dir") if getattr(args, n)]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to --method toys")
        return
    if args.expected_only or args.asimov:
        raise ValueError("--method toys computes observed intervals only (no --asimov/--expected-only)")
    if args.toys < 1:
        raise ValueError(f"--toys must be at least 1, got {args.toys}")
    if args.max_toys < args.toys:
        raise ValueError(f"--max-toys must be at least --toys ({args.toys}), got {args.max_toys}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if not 0.0 <= args.max_failed < 1.0:
        raise ValueError(f"--max-failed must be a fraction in [0, 1), got {args.max_failed}")
    if args.adaptive_sigmas < 0:
        raise ValueError(f"--adaptive-sigmas must be >= 0, got {args.adaptive_sigmas}")
    if args.grid2d and len([p for p in args.pois.split(",") if p]) != 2:
        raise ValueError(f"--grid2d needs exactly two POIs in --pois, got {args.pois!r}")


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import prepare_result_outputs, require_workspace

    if args.points is None:
        args.points = 41 if args.method == "asymptotic" else 21
    if args.points < 2:
        raise ValueError(f"--points must be at least 2, got {args.points}")
    _check_toy_args(args)
    ws = require_workspace(args.workspace)
    args.tree = None
    kind = "limits" if args.method == "asymptotic" else "neyman"
    log = prepare_result_outputs("limits", args, (kind,), [ws])
    ranges = _ranges(args.range)
    if args.method == "toys":
        return _toys(args, ws, ranges, log)
    return _asymptotic(args, ws, ranges, log)


def _asymptotic(args: argparse.Namespace, ws: Path, ranges: dict[str, tuple[float, float]], log: Path) -> int:
    from rooeft.cli._infer import parse_values
    from rooeft.cli._io import native_output_to
    from rooeft.infer import limits

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
    return _finish(args, result, log)


def _toys(args: argparse.Namespace, ws: Path, ranges: dict[str, tuple[float, float]], log: Path) -> int:
    from rooeft.cli._io import native_output_to
    from rooeft.infer import neyman_intervals

    with native_output_to(log, f"# rooeft limits --method toys {ws}"):
        result = neyman_intervals(
            str(ws),
            [p for p in (args.pois or "").split(",") if p] or None,
            grid2d=args.grid2d,
            points=args.points,
            ranges=ranges,
            fix_others=args.fix_others,
            data=args.data,
            n_toys=args.toys,
            max_toys=args.max_toys,
            adaptive_sigmas=args.adaptive_sigmas,
            seed=args.seed,
            max_failed=args.max_failed,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            engine=args.engine,
        )
    code = _finish(args, result, log)
    if args.plot_dir:
        from rooeft.cli._io import prepare_outputs
        from rooeft.plot import save_figure
        from rooeft.plot.neyman import plot_neyman

        stems = [Path(args.plot_dir) / f"neyman_{'_'.join(scan.pois)}" for scan in result.scans]
        files = [s.with_suffix(ext) for s in stems for ext in (".png", ".pdf")]
        prepare_outputs("limits", files, inputs=[ws], force=args.force, kind="plot")
        for scan, stem in zip(result.scans, stems, strict=True):
            written = save_figure(plot_neyman(scan=scan), stem)
            print(f"plot: {', '.join(str(w) for w in written)}")
    return code


def _finish(args: argparse.Namespace, result: Any, log: Path) -> int:
    """Print the table, write the JSON; exit code 3 with the problems on stderr."""
    from rooeft.cli._infer import report_log
    from rooeft.infer import write_json

    problems = result.problems()
    print(result.table())
    report_log("limits", log)
    if args.output:
        write_json(args.output, result)
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
        help="1D intervals of every POI (observed and expected; or toy-based Neyman intervals)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workspace", help="workspace file (rooeft convention)")
    p.add_argument(
        "--method",
        choices=("asymptotic", "toys"),
        default="asymptotic",
        help="asymptotic (Wilks, from profile scans; default) or toys (Neyman construction, docs/neyman.md)",
    )
    p.add_argument("--data", default="data_obs", help="observed dataset (default: data_obs)")
    p.add_argument("--asimov", default="", metavar="POI=V,...", help="POI values of the expected (Asimov) data")
    p.add_argument("--pois", default="", metavar="POI,...", help="POIs (default: all)")
    p.add_argument("--points", type=int, default=None, help="scan points per POI (default: 41; toys: 21)")
    p.add_argument("--range", action="append", metavar="POI=LO:HI", help="scan range of a POI (repeatable)")
    p.add_argument("--fix-others", action="store_true", help="fix the other POIs at SM (one-at-a-time limits)")
    p.add_argument("--expected-only", action="store_true", help="only the expected (Asimov) intervals")
    toys = p.add_argument_group("toy-based intervals (--method toys)")
    toys.add_argument("--toys", type=int, default=200, help="toys per grid point to start with (default 200)")
    toys.add_argument(
        "--max-toys", type=int, default=1600, help="most toys per point near the interval boundary (default 1600)"
    )
    toys.add_argument(
        "--adaptive-sigmas",
        type=float,
        default=3.0,
        help="double the toys of a point while its p-value is within this many binomial σ of 1-CL (default 3)",
    )
    toys.add_argument("--seed", type=int, default=1, help="toy j of point i uses the seed sequence [seed, i, j]")
    toys.add_argument(
        "--max-failed",
        type=float,
        default=0.02,
        help="fraction of failed toy fits per point above which the command exits with 3 (default 0.02)",
    )
    toys.add_argument("--grid2d", action="store_true", help="a 2D grid of the two --pois instead of 1D per POI")
    toys.add_argument("--plot-dir", default=None, metavar="DIR", help="directory for the p-value plots (PNG and PDF)")
    add_parallel_options(p)
    add_engine_option(p)
    p.add_argument(
        "-o", "--output", default=None, help='JSON file {"kind": "limits", ...} (toys: {"kind": "neyman", ...})'
    )
    add_log_option(p)
    add_force_option(p)
    p.set_defaults(func=_run)
