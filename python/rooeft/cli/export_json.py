"""``rooeft export-json`` / ``rooeft import-json``: a workspace as HS3 JSON and back (docs/hs3.md).

Examples::

    rooeft export-json ws.root -o ws.json          # the model, data, ModelConfig; ONNX bytes inside
    rooeft import-json ws.json -o ws2.root         # the same likelihood, rebuilt in a ROOT file
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _is_hs3_json(path: Path) -> bool:
    """An existing HS3 JSON file (the kind ``export-json`` writes and may replace with --force)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("metadata"), dict) and "hs3_version" in data["metadata"]


def _run_export(args: argparse.Namespace) -> int:
    from rooeft.cli._io import prepare_outputs
    from rooeft.workspace.hs3 import export_json

    prepare_outputs(
        "export-json", [args.output], inputs=[args.workspace], force=args.force, kind="HS3 JSON", accept=_is_hs3_json
    )
    out = export_json(args.workspace, args.output, workspace=args.name, indent=None if args.compact else 1)
    print(f"wrote {out}")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from rooeft.cli._io import prepare_outputs
    from rooeft.safeio import is_root_file
    from rooeft.workspace.hs3 import import_json

    prepare_outputs(
        "import-json", [args.output], inputs=[args.json], force=args.force, kind="ROOT", accept=is_root_file
    )
    out = import_json(args.json, args.output)
    print(f"wrote {out}")
    return 0


def register(sub: Any) -> None:
    """Add the ``export-json`` and ``import-json`` sub-commands."""
    from rooeft.cli._io import add_force_option, add_output_file_option

    p = sub.add_parser(
        "export-json",
        help="write a workspace as HS3 JSON (the RooEFT classes included)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workspace", help="workspace file (ROOT) to export")
    add_output_file_option(p, "HS3 JSON file to write", required=True)
    p.add_argument("--name", default=None, help="workspace name in the file (default: the only one)")
    p.add_argument("--compact", action="store_true", help="write the JSON on one line (no indentation)")
    add_force_option(p)
    p.set_defaults(func=_run_export)

    q = sub.add_parser(
        "import-json",
        help="rebuild a workspace file from HS3 JSON written by export-json",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("json", help="HS3 JSON file to import")
    add_output_file_option(q, "workspace file (ROOT) to write", required=True)
    add_force_option(q)
    q.set_defaults(func=_run_import)
