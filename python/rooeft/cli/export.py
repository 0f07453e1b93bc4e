"""``rooeft export``: (re-)export a trained torch bundle (``.pt`` written by ``rooeft train``) to a
validated ONNX file, and cross-check ONNX Runtime in C++ (libRooEFT) against Python
(:func:`rooeft.nn.export_onnx` and :func:`rooeft.export.check`).

    rooeft export models/zh.pt -o models/zh.onnx
    rooeft export --check models/zh.onnx            # only the C++ vs Python check
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["model_outputs", "register"]


def _is_json(path: Path) -> bool:
    import json

    try:
        return isinstance(json.loads(path.read_text()), dict)
    except (OSError, ValueError):
        return False


def _is_npz(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(2) == b"PK"
    except OSError:
        return False


def model_outputs(target: Path) -> list[tuple[Path, str, Any]]:
    """The files an export writes: the model, its metadata JSON and its reference set (with kinds)."""
    from rooeft.safeio import is_onnx_model

    return [
        (target, "rooeft ONNX model", is_onnx_model),
        (target.with_suffix(".json"), "JSON", _is_json),
        (target.with_suffix(".ref.npz"), "numpy .npz", _is_npz),
    ]


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import require_input
    from rooeft.cli._io import prepare_outputs
    from rooeft.export import check

    if not (math.isfinite(args.tolerance) and args.tolerance > 0):
        raise ValueError(f"--tolerance must be a positive number, got {args.tolerance}")
    source = require_input(args.source, "input file")
    if args.check:
        if args.output:
            raise ValueError("--check validates an existing model and writes nothing; drop -o")
        target = source
    else:
        from rooeft.nn import export_onnx
        from rooeft.nn.bundle import load_bundle

        if source.suffix == ".onnx":
            raise ValueError(f"{source} is an ONNX model; export reads a .pt bundle (use --check to validate a model)")
        target = Path(args.output) if args.output else source.with_suffix(".onnx")
        if target.suffix != ".onnx":
            raise ValueError(f"-o/--output must end in .onnx, got {target}")
        for path, kind, accept in model_outputs(target):
            prepare_outputs("export", [path], inputs=[source], force=args.force, kind=kind, accept=accept)
        module, interface, reference = load_bundle(source)
        export_onnx(module, target, interface=interface, reference_inputs=reference)
        print(f"wrote {target}")
    result = check(target, tolerance=args.tolerance)
    print(
        f"{target}: {result.n_observables} observables -> {result.n_outputs} columns; "
        f"C++ vs Python ONNX Runtime max |difference| = {result.max_difference:.2e} on {result.n_events} events"
    )
    if not result.ok:
        print(
            f"rooeft export: error: C++ and Python ONNX Runtime disagree: {result.n_bad} value(s) differ by more than "
            f"--tolerance {args.tolerance:g} (or are NaN)",
            file=sys.stderr,
        )
        return 1
    return 0


def register(sub: Any) -> None:
    """Add the ``export`` sub-command."""
    from rooeft.cli._io import add_force_option, add_output_file_option

    p = sub.add_parser(
        "export",
        help="export a trained bundle to ONNX; check C++ against Python",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="a .pt bundle from `rooeft train` (or an .onnx file with --check)")
    add_output_file_option(p, "ONNX file to write (default: the bundle's name with .onnx)")
    p.add_argument("--check", action="store_true", help="only validate an existing ONNX file")
    p.add_argument(
        "--tolerance", type=float, default=1e-4, help="largest accepted |C++ - Python| (default: %(default)g)"
    )
    add_force_option(p)
    p.set_defaults(func=_run)
