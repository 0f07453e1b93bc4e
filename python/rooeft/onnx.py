"""ONNX Runtime sessions and the rooeft interface of a model, without torch.

The one place in Python that creates ``onnxruntime.InferenceSession`` objects and evaluates a
network on a batch of events (DESIGN.md §2: every network runs once per event, batched).

* :func:`session`: a single-threaded CPU session (deterministic, and cheap to run in every worker
  process of a parallel scan);
* :func:`run`: all events in one call, float32 in, float64 out;
* :func:`evaluate`: the checked evaluation of a convention model on named raw observables
  (behind :func:`rooeft.nn.evaluate_onnx`);
* :class:`OnnxModel` / :class:`OnnxModels`: a model's bytes, its interface (read once) and its
  session (created once), and a cache of them per path, so that a workspace build reads every
  model's metadata once however many samples it evaluates.

The module is named after what it wraps; inside the package ``import onnx`` still means the
``onnx`` library (absolute imports), and this module imports neither torch nor, until a model is
read, ``onnx``/``onnxruntime``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.onnx_convention import ModelInterface, read_interface

__all__ = ["ModelInterface", "OnnxModel", "OnnxModels", "evaluate", "read_interface", "run", "session"]

F64 = npt.NDArray[np.float64]
ModelSource = str | os.PathLike[str] | bytes


def _raw(model: ModelSource) -> bytes:
    return bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()


def session(model: ModelSource) -> Any:
    """A single-threaded CPU ``onnxruntime.InferenceSession`` of a model (path or bytes)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    source = bytes(model) if isinstance(model, (bytes, bytearray)) else os.fspath(model)
    return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])


def run(model: ModelSource | Any, matrix: npt.ArrayLike) -> F64:
    """The model's outputs ``[N, n_out]`` (float64) on the rows of ``matrix`` in one batched call.

    ``model`` is a path, raw bytes or a session from :func:`session`; the input is passed as
    contiguous float32, the convention's input type.
    """
    sess: Any = model if hasattr(model, "get_inputs") else session(model)
    x = np.ascontiguousarray(matrix, dtype=np.float32)
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return np.asarray(out, dtype=np.float64)


@dataclass
class OnnxModel:
    """A convention model read once: raw bytes, validated interface and (lazily) a session."""

    raw: bytes
    interface: ModelInterface
    source: str = "model"
    _session: Any = field(default=None, repr=False)

    @classmethod
    def load(cls, model: ModelSource) -> OnnxModel:
        """Read a model (path or bytes) and its interface (``ConventionError`` if not in the convention)."""
        if isinstance(model, (bytes, bytearray)):
            raw = bytes(model)
            return cls(raw, read_interface(raw))
        interface = read_interface(model)  # ConventionError (naming the file) if unreadable
        return cls(Path(model).read_bytes(), interface, source=os.fspath(model))

    @property
    def session(self) -> Any:
        """The model's single-threaded CPU session (created on first use)."""
        if self._session is None:
            self._session = session(self.raw)
        return self._session

    def run(self, matrix: npt.ArrayLike) -> F64:
        """Outputs ``[N, n_out]`` (float64) on the rows of ``matrix`` (see :func:`run`)."""
        return run(self.session, matrix)

    def column(self, name: str) -> int:
        """Index of output column ``name``."""
        return list(self.interface.outputs).index(name)


class OnnxModels:
    """Models by path, each read (interface and session) once: one instance per workspace build."""

    def __init__(self) -> None:
        self._models: dict[str, OnnxModel] = {}

    def __getitem__(self, path: str | os.PathLike[str]) -> OnnxModel:
        key = os.fspath(path)
        if key not in self._models:
            self._models[key] = OnnxModel.load(key)
        return self._models[key]

    def __len__(self) -> int:
        return len(self._models)


def evaluate(model: ModelSource, x: npt.ArrayLike, *, observables: Sequence[str]) -> tuple[np.ndarray, ModelInterface]:
    """Run a convention model with onnxruntime on raw observables ``x`` named ``observables``.

    Raises ``ValueError`` if the names differ from the model's ``rooeft.observables`` (the input
    columns would be silently misread otherwise), if ``x`` is not ``(events, n_obs)``, empty, or
    not finite. Returns ``(outputs [N, n_out] as returned by onnxruntime (float32), interface)``.
    """
    raw = _raw(model)
    iface = read_interface(raw)
    if tuple(observables) != iface.observables:
        raise ValueError(
            f"observables {list(observables)} do not match the model's observables {list(iface.observables)} "
            "(names and order must agree)"
        )
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim != 2 or arr.shape[1] != len(iface.observables):
        raise ValueError(f"x must have shape (events, {len(iface.observables)}), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("x is empty: no events")
    if not np.isfinite(arr).all():
        raise ValueError("x contains NaN or inf")
    sess = session(raw)
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: arr})[0]), iface
