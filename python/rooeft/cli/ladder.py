"""``rooeft ladder``: the sensitivity ladder of an analysis (docs/ladder.md).

From one configuration it builds the chain signal only → + each background → + each systematic →
+ MC statistics (the last step is the original analysis), and gives per step and coefficient the
Asimov (SM) interval with the other coefficients at the SM, and its width relative to the first step.
Binned and unbinned channels (an unbinned channel's background is masked: the same ONNX model with
zero expected background events). ``--exact`` puts the exact per-event ratio of the EFT processes'
own structure constants first (the optimal analysis where they are the parton-level truth, as in
the ZH example), so that every width is relative to the optimum.

Examples::

    rooeft ladder analysis.yaml -o ladder.json --plot-dir plots/
    rooeft ladder analysis.yaml --exact --workspace ws.root --range cHW=-0.5,0.5 --points 11
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _ranges(items: list[str] | None) -> dict[str, tuple[float, float]]:
    """``["cHW=-1,1"]`` -> ``{"cHW": (-1.0, 1.0)}``.

    >>> _ranges(["cHW=-1,2.5"])
    {'cHW': (-1.0, 2.5)}
    """
    out: dict[str, tuple[float, float]] = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        lo, comma, hi = values.partition(",")
        if not sep or not comma or not name.strip():
            raise ValueError(f"--range: expected POI=LO,HI, got {item!r}")
        try:
            out[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise ValueError(f"--range: bounds must be numbers, got {item!r}") from None
    return out


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import prepare_result_outputs, report_log, require_input
    from rooeft.cli._io import native_output_to, prepare_outputs
    from rooeft.config import load_config
    from rooeft.infer.output import write_json
    from rooeft.ladder import exact_ratio_step, ladder, ladder_table, plot_ladder

    config = require_input(args.config, "configuration")
    ranges = _ranges(args.range)
    if args.points < 3:
        raise ValueError(f"--points must be at least 3, got {args.points}")
    inputs = [config]
    workspace = require_input(args.workspace, "workspace") if args.workspace else None
    if workspace is not None:
        inputs.append(workspace)
    log = prepare_result_outputs("ladder", args, ("ladder",), inputs)
    stem = Path(args.plot_dir) / "ladder" if args.plot_dir else None
    if stem is not None:
        plots = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
        prepare_outputs("ladder", plots, inputs=inputs, force=args.force, kind="plot")

    def say(line: str) -> None:
        print(f"rooeft ladder: {line}", file=sys.stderr)

    with native_output_to(log, f"# rooeft ladder {config}"):
        reference = None
        if args.exact:
            say("reading the structure constants of the EFT processes for the exact ratio")
            reference = exact_ratio_step(load_config(config))
        result = ladder(
            config, points=args.points, ranges=ranges, workdir=args.workdir, workspace=workspace,
            reference=reference, log=say,
        )  # fmt: skip
    report_log("ladder", log)
    print(result.note)
    print(ladder_table(result))
    if args.output:
        write_json(args.output, result)
        print(f"wrote {args.output}")
    if stem is not None:
        for p in plot_ladder(result, stem):
            print(f"wrote {p}")
    failed = [f"{s.name}: {c}" for s in result.steps for c, st in s.fit_status.items() if st != 0]
    if failed:
        print(f"rooeft ladder: error: fits failed in ({'; '.join(failed)}); details in {log}", file=sys.stderr)
        return 3
    return 0


def register(sub: Any) -> None:
    """Add the ``ladder`` sub-command."""
    from rooeft.cli._io import add_force_option, add_log_option

    p = sub.add_parser(
        "ladder",
        help="where the sensitivity goes: Asimov widths step by step",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="analysis configuration (YAML)")
    p.add_argument("-o", "--output", default=None, help="JSON result file (kind 'ladder')")
    p.add_argument("--plot-dir", default=None, metavar="DIR", help="write the waterfall plot DIR/ladder.png and .pdf")
    p.add_argument("--workdir", default=None, metavar="DIR",
                   help="keep the stage configs and workspaces here (default: a temporary directory)")  # fmt: skip
    p.add_argument("--points", type=int, default=11,
                   help="scan points per coefficient and step, placed at ±3 Hesse σ (default 11)")  # fmt: skip
    p.add_argument("--range", action="append", default=None, metavar="POI=LO,HI",
                   help="scan limits of a coefficient (repeatable; default: its config range)")  # fmt: skip
    p.add_argument("--exact", action="store_true",
                   help="first step: the exact per-event ratio of the EFT processes' structure constants")  # fmt: skip
    p.add_argument("--workspace", default=None, metavar="WS",
                   help="the workspace built from CONFIG, reused for the steps with every process")  # fmt: skip
    add_log_option(p)
    add_force_option(p)
    p.set_defaults(func=_run)
