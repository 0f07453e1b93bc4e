"""ONNX export of trained models in the rooeft convention, validated with onnxruntime.

:func:`export_onnx` writes one self-contained ``.onnx`` file (opset 17, one float32 input
``[batch, n_obs]`` of raw observables, one float32 output ``[batch, n_out]``, the interface in
``metadata_props``), checks that onnxruntime reproduces torch on held-out events (raising
:class:`ExportValidationError` otherwise), and saves next to it

* ``<stem>.json``: the metadata as readable JSON, and
* ``<stem>.ref.npz``: ``inputs``, ``outputs`` (torch, float32), ``columns`` and ``observables``,
  a reference for C++ tests.

Sessions and :func:`evaluate_onnx` live in the torch-free :mod:`rooeft.onnx` (re-exported here).
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from rooeft.onnx import evaluate as evaluate_onnx
from rooeft.onnx import session as _ort_session
from rooeft.onnx_convention import ModelInterface, read_interface, write_interface

__all__ = ["ExportResult", "ExportValidationError", "evaluate_onnx", "export_onnx", "onnx_bytes"]

OPSET = 17


class ExportValidationError(RuntimeError):
    """onnxruntime does not reproduce the torch model (or the graph is not in the convention)."""


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and how well onnxruntime agreed with torch."""

    onnx_path: Path
    metadata_path: Path
    reference_path: Path
    max_abs_diff: float
    max_rel_diff: float


def onnx_bytes(module: nn.Module, n_inputs: int) -> bytes:
    """Export ``module`` (``[batch, n_inputs]`` -> ``[batch, k]``) with the legacy exporter, opset 17."""
    module = module.to("cpu").eval()
    example = torch.zeros(2, n_inputs, dtype=torch.float32)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated in torch >= 2.9 but is the one that writes a single
        # self-contained file without onnxscript (DESIGN.md §6)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx.*")
        torch.onnx.export(
            module,
            (example,),
            buf,  # type: ignore[arg-type]  # the TorchScript exporter accepts file objects
            dynamo=False,
            opset_version=OPSET,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            do_constant_folding=True,
        )
    return buf.getvalue()


def export_onnx(
    module: nn.Module,
    path: str | Path,
    *,
    interface: ModelInterface,
    reference_inputs: npt.ArrayLike,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> ExportResult:
    """Export, attach the metadata, validate with onnxruntime and save model and reference files.

    Raises :class:`ExportValidationError` if onnxruntime and torch disagree by more than
    ``atol * max(1, max|torch|) + rtol * |torch|`` on ``reference_inputs`` (raw observables), if
    the torch output has the wrong width or is not finite, and ``ValueError`` if the reference
    inputs are empty or of the wrong width.
    """
    import onnx

    interface.validate()
    path = Path(path)
    ref_in = np.ascontiguousarray(np.asarray(reference_inputs, dtype=np.float32))
    n_obs = len(interface.observables)
    if ref_in.ndim != 2 or ref_in.shape[0] == 0:
        raise ValueError(f"reference_inputs must be a non-empty 2-d array, got shape {ref_in.shape}")
    if ref_in.shape[1] != n_obs:
        raise ValueError(
            f"reference_inputs have {ref_in.shape[1]} columns for observables {list(interface.observables)}"
        )
    module = module.to("cpu").eval()
    with torch.no_grad():
        expected = cast(torch.Tensor, module(torch.from_numpy(ref_in))).numpy()
    if expected.ndim != 2 or expected.shape[1] != len(interface.outputs):
        raise ExportValidationError(
            f"torch model gives shape {expected.shape}, the interface names {len(interface.outputs)} outputs"
        )
    if not np.isfinite(expected).all():
        bad = [interface.outputs[j] for j in np.flatnonzero(~np.isfinite(expected).all(axis=0))]
        raise ExportValidationError(f"torch model gives NaN/inf on the reference inputs in column(s) {bad}")

    model = onnx.load_from_string(onnx_bytes(module, n_obs))
    write_interface(model, interface)
    onnx.checker.check_model(model)
    raw = model.SerializeToString()
    read_interface(raw)  # graph shape/type checks of the convention
    got = _ort_session(raw).run(None, {model.graph.input[0].name: ref_in})[0]
    diff = np.abs(got.astype(np.float64) - expected)
    scale = max(1.0, float(np.abs(expected).max()))
    tol = atol * scale + rtol * np.abs(expected)
    if got.shape != expected.shape or not np.all(diff <= tol):
        worst = np.unravel_index(int(np.argmax(diff - tol)), diff.shape)
        raise ExportValidationError(
            f"onnxruntime disagrees with torch: max |diff| {diff.max():.3g} in column "
            f"{interface.outputs[worst[1]]!r} (event {worst[0]}: onnx {got[worst]:.7g}, torch {expected[worst]:.7g})"
        )

    return write_export(path, model, interface, ref_in, expected, diff)


def write_export(
    path: Path,
    model: Any,
    interface: ModelInterface,
    ref_in: np.ndarray,
    expected: np.ndarray,
    diff: np.ndarray,
) -> ExportResult:
    """Write a validated model's three files atomically: ``path`` (the ONNX model), ``.json`` (its
    metadata) and ``.ref.npz`` (reference inputs and the expected outputs, for ``rooeft export
    --check``); ``diff`` is |onnxruntime − reference| on ``ref_in``. Used by every exporter."""
    import onnx

    from rooeft.safeio import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    meta_path = path.with_suffix(".json")
    ref_path = path.with_suffix(".ref.npz")
    with atomic_write(path, suffix=".onnx") as tmp:
        onnx.save_model(model, str(tmp), save_as_external_data=False)
    with atomic_write(meta_path) as tmp:
        tmp.write_text(json.dumps({k: json.loads(v) for k, v in interface.metadata().items()}, indent=1))
    with atomic_write(ref_path) as tmp, tmp.open("wb") as f:
        np.savez(
            f,
            inputs=ref_in,
            outputs=expected.astype(np.float32),
            columns=np.array(interface.outputs),
            observables=np.array(interface.observables),
        )
    rel = diff / np.maximum(np.abs(expected), 1e-30)
    return ExportResult(path, meta_path, ref_path, float(diff.max()), float(rel.max()))
