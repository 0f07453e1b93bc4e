"""``rooeft toys``: pseudo-experiments at a true point, with coverage and pulls.

Without ``--pool``/``--generate`` the toys resample the workspace's own simulation: a *closure*
test of the fit and the asymptotics. With ``--pool`` (independent simulation in the format of the
configuration's process files, read with the configuration the workspace was built from) or
``--generate`` (the ZH example: a new sample from ``rooeft generate`` with another seed) they are
drawn from simulation the workspace never saw: a *validation* (see docs/validation.md).

Examples::

    rooeft toys ws.root --truth cHW=0.2 -n 100 -o toys.json
    rooeft toys ws.root --truth cHW=0.2 -n 1000 --interval hesse --scheduler tcp://scheduler:8786
    rooeft toys ws.root --config analysis.yaml --pool sig=sig_seed2.root --pool bkg=bkg_seed2.root -n 300
    rooeft toys ws.root --config analysis.yaml --generate --pool-events 1000000 --poi cHW -n 300
    rooeft toys ws.root --pool pool.npz --poi cHW -n 300     # a pool written before (--pool-dir)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import parse_values, prepare_result_outputs, require_workspace
    from rooeft.cli._io import native_output_to
    from rooeft.infer import toys

    if args.n_toys < 1:
        raise ValueError(f"-n/--n-toys must be at least 1, got {args.n_toys}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    truth = parse_values(args.truth)
    ws = require_workspace(args.workspace)
    _check_pool_args(args)
    log = prepare_result_outputs("toys", args, ("toys",), [ws])
    with contextlib.ExitStack() as stack:
        pool = _prepare_pool(args, ws, stack) if (args.pool or args.generate) else None
        with native_output_to(log, f"# rooeft toys {ws}"):
            res = _toys(toys, str(ws), truth, args, pool)
    return _report(res, args, log)


def _check_pool_args(args: argparse.Namespace) -> None:
    """Consistent ``--config``/``--pool``/``--generate`` options (before any work)."""
    npz = [p for p in args.pool if "=" not in p]
    if args.generate and args.pool:
        raise ValueError("give either --pool or --generate, not both")
    if npz and (len(npz) != 1 or len(args.pool) != 1):
        raise ValueError(f"--pool takes PROCESS=FILE[,FILE...] (repeatable) or one pool .npz file, got {args.pool}")
    if (args.generate or (args.pool and not npz)) and not args.config:
        raise ValueError("--pool PROCESS=FILE and --generate need --config (the YAML the workspace was built from)")
    if args.config and not (args.pool or args.generate):
        raise ValueError("--config is only used with --pool or --generate")
    if args.scheduler and (args.generate or (args.pool and not npz)) and not args.pool_dir:
        raise ValueError("with --scheduler give --pool-dir on a file system the Dask workers can read")
    if args.pool_events < 1:
        raise ValueError(f"--pool-events must be at least 1, got {args.pool_events}")
    if args.pool_seed is not None and args.pool_seed < 0:
        raise ValueError(f"--pool-seed must be >= 0, got {args.pool_seed}")


def _prepare_pool(args: argparse.Namespace, ws: Path, stack: contextlib.ExitStack) -> Path:
    """The pool file of ``--pool``/``--generate``: read (and generated) into ``--pool-dir`` or a
    temporary folder removed at the end; the configuration is checked against the workspace first."""
    from rooeft.config import config_hash, load_config
    from rooeft.infer import get_model
    from rooeft.workspace.pool import (
        PoolError,
        check_workspace,
        generate_zh_pool,
        load_pool,
        parse_pool_args,
        read_pool,
    )

    model = get_model(ws, engine=args.engine)
    if args.pool and "=" not in args.pool[0]:
        path = Path(args.pool[0])
        if not path.is_file():
            raise FileNotFoundError(f"toy pool {path} does not exist")
        check_workspace(load_pool(path).config_hash, model.metadata, str(ws))
        return path
    config = load_config(args.config)
    check_workspace(config_hash(config), model.metadata, str(ws))
    if args.pool_dir:
        folder = Path(args.pool_dir)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rooeft_pool_")))
    target = folder / "pool.npz"
    if target.exists() and not args.force:
        raise PoolError(f"{target} exists (use --force to replace it, or pass it as --pool {target})")
    if args.generate:
        print(f"generating an independent ZH pool ({args.pool_events} signal events) in {folder} ...", flush=True)
        files, info = generate_zh_pool(config, folder, n_signal=args.pool_events, seed=args.pool_seed)
    else:
        files, info = parse_pool_args(args.pool), {}
    pool = read_pool(config, files, info=info)
    path = pool.write(target)
    sizes = ", ".join(f"{ch}: {c.n_events}" for ch, c in pool.channels.items())
    print(f"toy pool: {sizes} events -> {path}", flush=True)
    return path


def _toys(toys: Any, ws: str, truth: dict[str, float], args: argparse.Namespace, pool: Path | None = None) -> Any:
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
        pool=pool,
        pois=args.poi or None,
    )


def _report(res: Any, args: argparse.Namespace, log: Any) -> int:
    """Print the summary, write the outputs; exit code 3 if any toy failed."""
    from rooeft.cli._infer import report_log
    from rooeft.infer import write_json, write_limit_tree

    ok = sum(1 for f in res.fits if f.ok)
    if res.source == "validation":
        what = "validation on independent toys (drawn from a simulation pool the workspace did not see)"
    else:
        what = "closure (toys from the workspace's own simulation: a test of the fit, not a validation)"
    print(f"{what}\n{ok}/{res.n_toys} toy fits converged; coverage from {res.interval} intervals")
    if res.pool:
        for ch, c in res.pool["channels"].items():
            out = c.get("outside_observable_range", {}).get("events", 0)
            print(
                f"  pool {ch}: {c['events']} events, n_eff {c['n_eff']:.0f} at the truth, {c['expected']:.1f} expected"
                + (f", {out} outside the workspace's observable range" if out else "")
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
    from rooeft.cli._infer import add_engine_option, add_output_options, add_parallel_options
    from rooeft.cli._io import DIR

    p = sub.add_parser(
        "toys",
        help="pseudo-experiments: bias, pulls and coverage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workspace", help="workspace file (rooeft convention)")
    p.add_argument("--truth", default="", metavar="POI=V,...", help="true POI values (others: SM)")
    p.add_argument("-n", "--n-toys", type=int, default=100, help="number of toys")
    p.add_argument("--seed", type=int, default=1, help="random seed (toy i uses seed sequence [seed, i])")
    p.add_argument("--interval", choices=("profile", "hesse"), default="profile", help="intervals for the coverage")
    p.add_argument("--fixed-globals", action="store_true", help="keep global observables at nominal")
    p.add_argument(
        "--poi",
        action="append",
        default=[],
        metavar="NAME",
        help="float only this POI (repeatable; the others are fixed at the truth; default: all float)",
    )
    p.add_argument("--config", default=None, help="YAML the workspace was built from (with --pool/--generate)")
    p.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar="PROC=FILE[,FILE...]",
        help="independent simulation of a process (repeatable; every process of --config), or one pool .npz "
        "written before: the toys are drawn from it (validation) instead of the workspace's simulation (closure)",
    )
    p.add_argument(
        "--generate",
        action="store_true",
        help="ZH example: generate the independent pool with 'rooeft generate' (another seed), then as --pool",
    )
    p.add_argument(
        "--pool-events", type=int, default=1_000_000, help="--generate: generated signal events (default 10^6)"
    )
    p.add_argument("--pool-seed", type=int, default=None, help="--generate: seed (default: the simulation's + 1000)")
    p.add_argument(
        "--pool-dir",
        default=None,
        metavar=DIR,
        help="keep the pool (pool.npz and generated files) in this folder (default: a temporary folder, removed; "
        "with --scheduler it must be visible to the workers)",
    )
    add_parallel_options(p)
    add_engine_option(p)
    add_output_options(p)
    p.set_defaults(func=_run)
