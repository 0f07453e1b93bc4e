"""``rooeft export``: (re-)export a trained torch bundle (``.pt`` written by ``rooeft train``) to a
validated ONNX file, and cross-check ONNX Runtime in C++ (libRooEFT) against Python.

    rooeft export models/zh.pt -o models/zh.onnx
    rooeft export --check models/zh.onnx            # only the C++ vs Python check
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_cpp_matches_python", "register"]


def check_cpp_matches_python(model: str | Path, inputs: np.ndarray) -> float:
    """Largest |C++ − Python| over all outputs of ``model`` on ``inputs`` (raw observables).

    Runs the model once through ``RooEFTONNXFunction::evaluateRows`` (ONNX Runtime's C API,
    inside libRooEFT) and once through the ``onnxruntime`` Python package.
    """
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
    return float(np.max(np.abs(cpp - py)))


def _run(args: argparse.Namespace) -> int:
    from rooeft.onnx_convention import read_interface

    if args.check:
        target = Path(args.source)
    else:
        import torch

        from rooeft.nn import export_onnx

        bundle = torch.load(args.source, weights_only=False)
        target = Path(args.output or Path(args.source).with_suffix(".onnx"))
        export_onnx(bundle["module"], target, interface=bundle["interface"], reference_inputs=bundle["reference"])
        print(f"wrote {target}")
    iface = read_interface(target)
    ref = target.with_suffix(".ref.npz")
    if ref.is_file():
        inputs = np.load(ref)["inputs"]
    else:
        inputs = np.random.default_rng(0).normal(size=(256, len(iface.observables)))
    diff = check_cpp_matches_python(target, inputs)
    print(
        f"{target}: {len(iface.observables)} observables -> {len(iface.outputs)} columns; "
        f"C++ vs Python ONNX Runtime max |difference| = {diff:.2e} on {len(inputs)} events"
    )
    if diff > 1e-4:
        print("error: C++ and Python disagree")
        return 1
    return 0


def register(sub: Any) -> None:
    """Add the ``export`` sub-command."""
    p = sub.add_parser(
        "export",
        help="export a trained bundle to ONNX; check C++ against Python",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="a .pt bundle from `rooeft train` (or an .onnx file with --check)")
    p.add_argument("-o", "--output", help="ONNX file to write (default: the bundle's name with .onnx)")
    p.add_argument("--check", action="store_true", help="only validate an existing ONNX file")
    p.set_defaults(func=_run)
