"""``rooeft build``: validate a YAML configuration and build the workspace file.

Examples::

    rooeft build --check analysis.yaml        # validate only (schema, references, ONNX metadata)
    rooeft build analysis.yaml -o ws.root     # also writes ws_templates.root for binned channels
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rooeft.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"rooeft build: {err}", file=sys.stderr)
        return 1
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
    from rooeft.workspace import build_workspace

    result = build_workspace(
        config, output=args.output, write_template_file=not args.no_templates, progress=not args.quiet
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
    p = sub.add_parser(
        "build",
        help="validate a configuration and build the workspace (ws.root)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="YAML configuration (version 1)")
    p.add_argument("-o", "--output", help="workspace file to write")
    p.add_argument("--check", action="store_true", help="only validate the configuration")
    p.add_argument("--no-templates", action="store_true", help="do not write <output stem>_templates.root")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=_run)
