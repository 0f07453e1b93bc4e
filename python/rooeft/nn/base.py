"""What every trained estimator has: a torch module from raw observables to its output columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from rooeft.nn._common import EstimatorConfig, check_features, check_observables_match
from rooeft.nn.training import TrainingHistory

__all__ = ["TrainedEstimator", "run_module"]

#: Held-out events kept with a trained model to check its ONNX export.
N_REFERENCE = 256


def run_module(module: nn.Module, x: npt.ArrayLike, *, batch_size: int = 65536, method: str = "forward") -> np.ndarray:
    """Evaluate ``module`` (or one of its methods) on raw features in batches; float64 result."""
    arr = np.asarray(x)
    outs = []
    fn = getattr(module, method)
    module.eval()
    with torch.no_grad():
        for start in range(0, arr.shape[0], batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(arr[start : start + batch_size], dtype=np.float32))
            outs.append(cast(torch.Tensor, fn(xb)).double().numpy())
    if not outs:
        raise ValueError("no events to evaluate")
    axis = 1 if outs[0].ndim == 3 else 0  # replica-resolved outputs are [R, B, k]
    return np.concatenate(outs, axis=axis)


def provenance(estimator: str, config: EstimatorConfig, history: TrainingHistory, **extra: Any) -> dict[str, Any]:
    """Provenance record of a trained estimator (goes into the ONNX metadata)."""
    import rooeft

    cfg = asdict(config)
    return {
        "estimator": estimator,
        "config": cfg,
        "seed": config.training.seed,
        "torch_version": torch.__version__,
        "rooeft_version": rooeft.__version__,
        "epochs": history.epochs,
        "best_epoch": history.best_epoch,
        "best_val_loss": history.best_val_loss,
        "stopped_early": history.stopped_early,
        "train_seconds": round(history.seconds, 3),
        **extra,
    }


@dataclass
class TrainedEstimator:
    """A trained network: ``module`` maps raw observables ``[B, n_obs]`` (float32) to ``[B, k]``.

    ``reference_inputs`` are a few held-out events used to validate the ONNX export;
    ``validation_rows`` the indices (into the training arrays) of the validation split: events the
    network saw only for early stopping, on which a post-hoc calibration is fitted.
    """

    module: nn.Module
    observables: tuple[str, ...]
    history: TrainingHistory
    provenance: dict[str, Any] = field(default_factory=dict)
    reference_inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    validation_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def predict(self, x: npt.ArrayLike, *, observables: Sequence[str] | None = None) -> np.ndarray:
        """The output columns for events ``x`` (N x n_obs, raw observables), shape ``[N, k]``.

        ``observables``, if given, must equal the training observables (names and order).
        """
        if observables is not None:
            check_observables_match(self.observables, observables)
        arr = check_features(x, self.observables)
        return run_module(self.module, arr)


@dataclass
class Setup:
    """Split, input standardisation, seeded generator and export reference of one training run."""

    train_rows: np.ndarray
    val_rows: np.ndarray
    standardize: Any
    generator: torch.Generator
    reference_inputs: np.ndarray


def setup(x: np.ndarray, rows: np.ndarray, config: EstimatorConfig) -> Setup:
    """Seeded split of ``rows``, standardisation from the training part, reference inputs."""
    from rooeft.nn._common import split_rows
    from rooeft.nn._modules import Standardize

    tr, va = split_rows(rows.size, config.training.validation_fraction, config.training.seed)
    train_rows, val_rows = rows[tr], rows[va]
    generator = torch.Generator().manual_seed(config.training.seed)
    reference = np.ascontiguousarray(x[val_rows[:N_REFERENCE]], dtype=np.float32)
    return Setup(train_rows, val_rows, Standardize.from_data(x, train_rows), generator, reference)


def check_row_total(weights: np.ndarray, rows: np.ndarray, what: str) -> float:
    """Refuse a selection whose weights do not sum to a positive total; return the total."""
    total = float(np.sum(weights[rows]))
    if not total > 0:
        raise ValueError(f"{what} sum to {total}: need a positive total")
    return total
