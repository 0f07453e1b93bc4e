"""``rooeft demo``: the main job end to end on the ZH example (see :mod:`rooeft.examples.demo`): a fresh
simulation, training with calibration, three workspaces, fits and scans, and validation on
pseudo-experiments from an independent simulation.

Run from the repository root (the pseudo-data are in data/zh)::

    rooeft demo                               # about 11 minutes on 2 cores; outputs in demo-output/
    rooeft demo --quick --output-dir /tmp/d   # reduced setting, about 1 minute
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rooeft.examples.demo import DemoSettings, run_demo
    from rooeft.safeio import OutputError, check_directory, same_file

    data, out = Path(args.data_dir), Path(args.output_dir)
    if not data.is_dir():
        raise FileNotFoundError(f"--data-dir {data} is not a directory (run from the repository root, or pass it)")
    missing = [n for n in ("pseudodata_sm.root",) if not (data / n).is_file()]
    if missing:
        raise FileNotFoundError(f"--data-dir {data} lacks {', '.join(missing)} (see data/zh/README.md)")
    if same_file(out, data) or data.resolve().is_relative_to(out.resolve()):
        raise OutputError(f"--output-dir {out} would hold the inputs in {data}; choose another folder")
    if out.exists() and any(out.iterdir()) and not args.force:
        raise OutputError(f"--output-dir {out} is not empty; pass --force to replace the demo outputs in it")
    check_directory(out)
    settings = DemoSettings.quick(data, out) if args.quick else DemoSettings(data_dir=data, output_dir=out)
    if args.workers is not None:
        settings = replace(settings, workers=args.workers)
    if args.no_progress:
        settings = replace(settings, progress=False)
    run_demo(settings)
    return 0


def register(sub: Any) -> None:
    """Add the ``demo`` sub-command."""
    from rooeft.cli._io import DIR, add_output_dir_option

    p = sub.add_parser("demo", help="run the main job end to end on the shipped ZH example", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--data-dir", default="data/zh", metavar=DIR, help="the shipped pseudo-data (default: data/zh)")
    add_output_dir_option(p, "directory everything is written into (default: demo-output)", default="demo-output")
    p.add_argument("--quick", action="store_true", help="reduced setting (fewer events, epochs, scan points)")
    p.add_argument("--workers", type=int, help="worker processes for scans and toys (default 2; 1 = serial)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="replace the outputs of an earlier demo in --output-dir")
    p.set_defaults(func=_run)
