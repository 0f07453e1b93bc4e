"""``rooeft build``: validate a YAML configuration and build the workspace file.

Examples::

    rooeft build --check analysis.yaml        # validate only (schema, references, ONNX metadata)
    rooeft build analysis.yaml -o ws.root     # also writes ws_templates.root for binned channels
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.config import load_config

    config = load_config(args.config)
    if args.check:
        kinds = ", ".join(f"{c.name} ({c.kind})" for c in config.channels)
        print(
            f"{args.config}: valid (version {config.version}; coefficients {', '.join(config.coefficient_names)}; "
            f"channels {kinds}; {len(config.systematics)} systematics)"
        )
        return 0
    if args.output is None:
        print("rooeft build: error: -o/--output is required unless --check is given", file=sys.stderr)
        return 2
    from rooeft.cli._io import prepare_outputs
    from rooeft.safeio import is_root_file
    from rooeft.workspace import build_workspace
    from rooeft.workspace.builder import input_files, templates_path

    outputs = [Path(args.output)] + ([] if args.no_templates else [templates_path(args.output)])
    prepare_outputs(
        "build",
        outputs,
        inputs=[args.config, *input_files(config)],
        force=args.force,
        kind="ROOT",
        accept=is_root_file,
    )
    result = build_workspace(
        config,
        output=args.output,
        write_template_file=not args.no_templates,
        progress=not args.quiet,
        allow_negative_process_bins=args.allow_negative_process_bins,
    )
    if not args.quiet:
        for ch in result.channels:
            yields = ", ".join(f"{p} {n:.6g}" for p, n in ch.yields.items())
            data = "Asimov" if ch.asimov else "observed"
            print(f"  {ch.name:<16} {ch.kind:<8} {yields}; data ({data}): {ch.n_data} entries, sum {ch.data_sum:.6g}")
        print(f"wrote {result.output}" + (f" and {result.templates}" if result.templates else ""))
    return 0


def register(sub: Any) -> None:
    """Add the ``build`` sub-command."""
    from rooeft.cli._io import add_force_option, add_output_file_option

    p = sub.add_parser(
        "build",
        help="validate a configuration and build the workspace (ws.root)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="YAML configuration (version 1)")
    add_output_file_option(p, "workspace file (ROOT) to write; needed unless --check")
    p.add_argument("--check", action="store_true", help="only validate the configuration")
    p.add_argument("--no-templates", action="store_true", help="do not write <output stem>_templates.root")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument(
        "--allow-negative-process-bins",
        action="store_true",
        help="accept bins where one process expects negative events (negative-weight NLO samples); "
        "bin totals must stay positive",
    )
    add_force_option(p)
    p.set_defaults(func=_run)
