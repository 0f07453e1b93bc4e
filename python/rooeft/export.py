"""Checks of an exported ONNX model: ONNX Runtime inside libRooEFT (C++) against Python.

A workspace evaluates its networks through ``RooEFTONNXFunction`` (ONNX Runtime's C API);
training and validation use the ``onnxruntime`` Python package. :func:`check` runs a model through
both on its reference inputs (the ``.ref.npz`` written beside it by the export) and reports the
largest difference; ``rooeft export`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ExportCheck", "check", "check_cpp_matches_python", "evaluate_cpp_and_python", "reference_inputs"]

#: largest accepted |C++ − Python| of :func:`check` by default
DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ExportCheck:
    """Result of :func:`check`: the model's size, the events compared and the largest difference.

    ``max_difference`` is NaN when any output or difference is NaN; ``n_bad`` counts the values
    that differ by more than ``tolerance`` (or are NaN).
    """

    model: Path
    n_observables: int
    n_outputs: int
    n_events: int
    max_difference: float
    n_bad: int
    tolerance: float

    @property
    def ok(self) -> bool:
        """C++ and Python agree within the tolerance everywhere."""
        return self.n_bad == 0


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


def check_cpp_matches_python(model: str | Path, inputs: np.ndarray) -> float:
    """Largest |C++ − Python| over all outputs of ``model`` on ``inputs`` (raw observables); NaN if
    any output or difference is NaN (so ``not diff <= tol`` catches it).

    Runs the model once through ``RooEFTONNXFunction::evaluateRows`` (ONNX Runtime's C API,
    inside libRooEFT) and once through the ``onnxruntime`` Python package.
    """
    cpp, py = evaluate_cpp_and_python(model, inputs)
    diff = np.abs(cpp.astype(np.float64) - py.astype(np.float64))
    return float("nan") if not np.isfinite(diff).all() else float(np.max(diff, initial=0.0))


def reference_inputs(model: str | Path, n_observables: int) -> np.ndarray:
    """The reference inputs of an exported model (``<model>.ref.npz``), or 256 standard-normal
    events (seed 0) if it has none."""
    ref = Path(model).with_suffix(".ref.npz")
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


def check(model: str | Path, *, tolerance: float = DEFAULT_TOLERANCE, inputs: np.ndarray | None = None) -> ExportCheck:
    """Compare ONNX Runtime in C++ (libRooEFT) with Python on ``model``.

    ``inputs``: raw observables (default: :func:`reference_inputs`). Raises ``ValueError`` if the
    model exceeds the sizes a workspace accepts or gives NaN/inf in Python (naming the column and
    an event); a disagreement between C++ and Python is reported in the result, not raised.
    """
    from rooeft.onnx_convention import read_interface
    from rooeft.workspace.builder import MAX_OBSERVABLES, MAX_OUTPUTS

    target = Path(model)
    iface = read_interface(target)
    if len(iface.observables) > MAX_OBSERVABLES or len(iface.outputs) > MAX_OUTPUTS:
        raise ValueError(
            f"{target}: {len(iface.observables)} inputs and {len(iface.outputs)} outputs; rooeft accepts at most "
            f"{MAX_OBSERVABLES} inputs and {MAX_OUTPUTS} outputs"
        )
    x = reference_inputs(target, len(iface.observables)) if inputs is None else np.asarray(inputs, dtype=np.float64)
    cpp, py = evaluate_cpp_and_python(target, x)
    bad_py = ~np.isfinite(py)
    if bad_py.any():
        rows = np.flatnonzero(bad_py.any(axis=1))
        col = iface.outputs[int(np.flatnonzero(bad_py.any(axis=0))[0])]
        raise ValueError(
            f"{target}: the model gives NaN/inf in column {col!r} for {rows.size} of {len(x)} reference events "
            f"(e.g. event {int(rows[0])})"
        )
    diff = np.abs(cpp.astype(np.float64) - py.astype(np.float64))
    worst = float(np.max(diff)) if diff.size else 0.0
    return ExportCheck(
        model=target,
        n_observables=len(iface.observables),
        n_outputs=len(iface.outputs),
        n_events=len(x),
        max_difference=worst,
        n_bad=int(np.count_nonzero(~(diff <= tolerance))),
        tolerance=tolerance,
    )
