"""``rooeft export``: (re-)export a trained torch bundle (``.pt`` written by ``rooeft train``) to a
validated ONNX file, and cross-check ONNX Runtime in C++ (libRooEFT) against Python.

    rooeft export models/zh.pt -o models/zh.onnx
    rooeft export --check models/zh.onnx            # only the C++ vs Python check
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_cpp_matches_python", "evaluate_cpp_and_python", "model_outputs", "register"]


def check_cpp_matches_python(model: str | Path, inputs: np.ndarray) -> float:
    """Largest |C++ − Python| over all outputs of ``model`` on ``inputs`` (raw observables); NaN if
    any output or difference is NaN (so ``not diff <= tol`` catches it).

    Runs the model once through ``RooEFTONNXFunction::evaluateRows`` (ONNX Runtime's C API,
    inside libRooEFT) and once through the ``onnxruntime`` Python package.
    """
    cpp, py = evaluate_cpp_and_python(model, inputs)
    diff = np.abs(cpp.astype(np.float64) - py.astype(np.float64))
    return float("nan") if not np.isfinite(diff).all() else float(np.max(diff, initial=0.0))


def evaluate_cpp_and_python(model: str | Path, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The outputs of ``model`` on ``inputs`` from libRooEFT (C++) and from Python onnxruntime."""
    import onnxruntime as ort

    import rooeft

    ROOT = rooeft.load_library()
    x = np.ascontiguousarray(inputs, dtype=np.float32)
    dummies = [ROOT.RooRealVar(f"in{j}", f"in{j}", 0.0) for j in range(x.shape[1])]
    func = ROOT.RooEFTONNXFunction("check", "check", str(model), ROOT.RooArgList(*dummies), 0)
    rows = ROOT.std.vector["float"](x.ravel().tolist())
    cpp = np.asarray(func.evaluateRows(rows), dtype=np.float32).reshape(x.shape[0], -1)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    py = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return cpp, np.asarray(py)


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


def _reference_inputs(target: Path, n_observables: int) -> np.ndarray:
    ref = target.with_suffix(".ref.npz")
    if not ref.is_file():
        return np.random.default_rng(0).normal(size=(256, n_observables))
    try:
        with np.load(ref, allow_pickle=False) as z:
            inputs = np.asarray(z["inputs"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{ref}: not a reference set with an 'inputs' array ({err})") from None
    if inputs.ndim != 2 or inputs.shape[1] != n_observables or inputs.shape[0] == 0:
        raise ValueError(f"{ref}: reference inputs of shape {inputs.shape}, the model has {n_observables} observables")
    return inputs


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._io import prepare_outputs
    from rooeft.infer._cli import require_input
    from rooeft.onnx_convention import read_interface

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
    iface = read_interface(target)
    from rooeft.workspace.builder import MAX_OBSERVABLES, MAX_OUTPUTS

    if len(iface.observables) > MAX_OBSERVABLES or len(iface.outputs) > MAX_OUTPUTS:
        raise ValueError(
            f"{target}: {len(iface.observables)} inputs and {len(iface.outputs)} outputs; rooeft accepts at most "
            f"{MAX_OBSERVABLES} inputs and {MAX_OUTPUTS} outputs"
        )
    inputs = _reference_inputs(target, len(iface.observables))
    cpp, py = evaluate_cpp_and_python(target, inputs)
    bad_py = ~np.isfinite(py)
    if bad_py.any():
        rows = np.flatnonzero(bad_py.any(axis=1))
        col = iface.outputs[int(np.flatnonzero(bad_py.any(axis=0))[0])]
        raise ValueError(
            f"{target}: the model gives NaN/inf in column {col!r} for {rows.size} of {len(inputs)} reference events "
            f"(e.g. event {int(rows[0])})"
        )
    diff = np.abs(cpp.astype(np.float64) - py.astype(np.float64))
    worst = float(np.max(diff)) if diff.size else 0.0
    print(
        f"{target}: {len(iface.observables)} observables -> {len(iface.outputs)} columns; "
        f"C++ vs Python ONNX Runtime max |difference| = {worst:.2e} on {len(inputs)} events"
    )
    if not np.isfinite(diff).all() or worst > args.tolerance:
        n_bad = int(np.count_nonzero(~(diff <= args.tolerance)))
        print(
            f"rooeft export: error: C++ and Python ONNX Runtime disagree: {n_bad} value(s) differ by more than "
            f"--tolerance {args.tolerance:g} (or are NaN)",
            file=sys.stderr,
        )
        return 1
    return 0


def register(sub: Any) -> None:
    """Add the ``export`` sub-command."""
    from rooeft.cli._io import add_force_option

    p = sub.add_parser(
        "export",
        help="export a trained bundle to ONNX; check C++ against Python",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="a .pt bundle from `rooeft train` (or an .onnx file with --check)")
    p.add_argument("-o", "--output", help="ONNX file to write (default: the bundle's name with .onnx)")
    p.add_argument("--check", action="store_true", help="only validate an existing ONNX file")
    p.add_argument(
        "--tolerance", type=float, default=1e-4, help="largest accepted |C++ - Python| (default: %(default)g)"
    )
    add_force_option(p)
    p.set_defaults(func=_run)
