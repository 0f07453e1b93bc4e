"""Shared configuration dataclasses and input validation of :mod:`rooeft.nn`.

Every public training function validates its numpy inputs here, so that a bad input fails
early with a ``ValueError`` naming the parameter (or column) at fault, before any network is built.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from rooeft.terms import n_terms

__all__ = [
    "ACTIVATIONS",
    "NetworkConfig",
    "TrainingConfig",
]

#: Activation functions a :class:`NetworkConfig` may name.
ACTIVATIONS = ("relu", "silu", "tanh", "gelu", "elu", "softplus", "leaky_relu")

FloatArray = npt.NDArray[np.floating]


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Architecture of a fully connected network (the same for every member of an ensemble).

    >>> NetworkConfig(hidden_layers=2, width=32).activation
    'silu'
    >>> NetworkConfig(width=-1)
    Traceback (most recent call last):
    ...
    ValueError: width must be a positive integer, got -1
    """

    hidden_layers: int = 3
    """Number of hidden layers (at least 1)."""
    width: int = 64
    """Units per hidden layer."""
    activation: str = "silu"
    """One of :data:`ACTIVATIONS`."""

    def __post_init__(self) -> None:
        _positive_int("hidden_layers", self.hidden_layers)
        _positive_int("width", self.width)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {self.activation!r}")


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """How a network is trained: optimiser, batches, validation, early stopping, bookkeeping.

    The defaults train 10^5-10^6 events in minutes on two CPU cores.

    >>> TrainingConfig(max_epochs=5, seed=3).batch_size
    4096
    >>> TrainingConfig(validation_fraction=1.5)
    Traceback (most recent call last):
    ...
    ValueError: validation_fraction must be in (0, 1), got 1.5
    """

    max_epochs: int = 100
    """Upper limit on the number of passes over the training events."""
    batch_size: int = 4096
    """Events per optimiser step; only one batch is turned into tensors at a time."""
    learning_rate: float = 2e-3
    """Initial Adam learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    lr_schedule: Literal["plateau", "cosine", "none"] = "plateau"
    """``plateau`` halves the rate when the validation loss stalls; ``cosine`` anneals to zero
    over ``max_epochs``."""
    lr_patience: int = 3
    """Epochs without improvement before a ``plateau`` schedule lowers the rate."""
    validation_fraction: float = 0.2
    """Fraction of the events held out for validation (early stopping, export checks)."""
    patience: int = 8
    """Early stopping: epochs without a validation improvement before training stops."""
    min_delta: float = 1e-5
    """Smallest decrease of the validation loss that counts as an improvement."""
    seed: int = 0
    """Seeds the split, initialisation, shuffling and bootstrap: equal seeds, equal networks."""
    device: str | None = None
    """``cpu``, ``cuda``...; ``None`` takes CUDA if available, else the CPU."""
    num_threads: int | None = None
    """Torch intra-op threads while training (restored afterwards); ``None``: min(4, CPUs)."""
    progress: bool = True
    """Show a tqdm progress bar with the live losses."""
    checkpoint_dir: Path | str | None = None
    """Directory for a checkpoint written after every epoch (``None``: no checkpoints)."""
    resume: bool = False
    """Continue from the checkpoint in ``checkpoint_dir`` if there is one."""
    output_dir: Path | str | None = None
    """Directory for the loss history (``loss_history.json``) and plot (``loss_curve.png``)."""

    def __post_init__(self) -> None:
        _positive_int("max_epochs", self.max_epochs)
        _positive_int("batch_size", self.batch_size)
        _positive_float("learning_rate", self.learning_rate)
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.lr_schedule not in ("plateau", "cosine", "none"):
            raise ValueError(f"lr_schedule must be 'plateau', 'cosine' or 'none', got {self.lr_schedule!r}")
        _positive_int("lr_patience", self.lr_patience)
        if not (0.0 < self.validation_fraction < 1.0):
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        _positive_int("patience", self.patience)
        if not (np.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.num_threads is not None:
            _positive_int("num_threads", self.num_threads)
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir")

    def threads(self) -> int:
        """The number of torch threads to train with."""
        if self.num_threads is not None:
            return self.num_threads
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cpus = os.cpu_count() or 1
        return max(1, min(4, cpus))


@dataclass(frozen=True, kw_only=True)
class EstimatorConfig:
    """Fields every estimator configuration has."""

    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _positive_float(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


# --------------------------------------------------------------------------- input validation


def check_names(name: str, values: Sequence[str], *, allow_empty: bool = False) -> tuple[str, ...]:
    """Names as a tuple; refuse duplicates, empty strings and (unless allowed) an empty list."""
    if isinstance(values, str):
        raise ValueError(f"{name} must be a sequence of names, not the string {values!r}")
    out = tuple(str(v) for v in values)
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if any(not v or ":" in v for v in out):
        raise ValueError(f"{name} {list(out)}: names must be non-empty and must not contain ':'")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} {list(out)} contains duplicates")
    return out


def check_features(x: npt.ArrayLike, observables: Sequence[str], *, name: str = "X") -> FloatArray:
    """Validate a feature matrix (N x len(observables), finite, N > 0); return it as float array.

    Does not copy a float32/float64 C-contiguous input.
    """
    arr = np.asarray(x)
    if arr.ndim == 1 and len(observables) == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (events x observables), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: no events")
    if arr.shape[1] != len(observables):
        raise ValueError(
            f"{name} has {arr.shape[1]} columns but {len(observables)} observables are named: {list(observables)}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr).all(axis=0)
    if bad.any():
        cols = [observables[int(j)] for j in np.flatnonzero(bad)]
        raise ValueError(f"{name} contains NaN or inf in observable column(s) {cols}")
    return arr


def check_weights(w: npt.ArrayLike, n_events: int, *, name: str) -> FloatArray:
    """Validate a per-event weight vector of length ``n_events`` (finite, not all zero)."""
    arr = np.asarray(w)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of per-event weights, got shape {arr.shape}")
    if arr.shape[0] != n_events:
        raise ValueError(f"{name} has {arr.shape[0]} entries for {n_events} events")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_structure_constants(
    w: npt.ArrayLike, n_events: int, coefficients: Sequence[str], *, name: str = "W"
) -> FloatArray:
    """Validate per-event structure constants: N x n_terms(len(coefficients)), finite, canonical order."""
    arr = np.asarray(w)
    t = n_terms(len(coefficients))
    if arr.ndim != 2 or arr.shape[1] != t:
        raise ValueError(
            f"{name} must have shape (events, {t}) for coefficients {list(coefficients)} "
            f"(canonical term order, rooeft.terms), got {arr.shape}"
        )
    if arr.shape[0] != n_events:
        raise ValueError(f"{name} has {arr.shape[0]} rows for {n_events} events")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: no events")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr).all(axis=0)
    if bad.any():
        raise ValueError(f"{name} contains NaN or inf in term column(s) {np.flatnonzero(bad).tolist()}")
    if not np.any(arr[:, 0]):
        raise ValueError(f"{name}[:, 0] (the SM weights w_0) is zero for every event")
    if np.sum(arr[:, 0]) <= 0:
        raise ValueError(f"{name}[:, 0]: the SM weights sum to {np.sum(arr[:, 0])}, need a positive total")
    return arr


def check_observables_match(expected: Sequence[str], given: Sequence[str], *, what: str = "model") -> None:
    """Refuse a set of observable names that differs from the one a model was trained on."""
    if tuple(expected) != tuple(given):
        raise ValueError(
            f"observables {list(given)} do not match the {what}'s observables {list(expected)} "
            "(names and order must agree)"
        )


def split_rows(n_events: int, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split of ``range(n_events)``; both parts non-empty."""
    if n_events < 2:
        raise ValueError(f"need at least 2 events for a train/validation split, got {n_events}")
    rng = np.random.default_rng([seed, 0x5EED])
    perm = rng.permutation(n_events)
    n_val = min(max(1, round(validation_fraction * n_events)), n_events - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def process_indices(
    labels: npt.ArrayLike | None, processes: Sequence[str], n_events: int, *, name: str = "process"
) -> np.ndarray:
    """Per-event process index (int64) from labels given as names or as indices into ``processes``.

    ``labels=None`` is allowed for a single process (every event belongs to it).
    """
    if labels is None:
        if len(processes) != 1:
            raise ValueError(f"{name} labels are required for several processes {list(processes)}")
        return np.zeros(n_events, dtype=np.int64)
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n_events:
        raise ValueError(f"{name} must be a 1-d array with one label per event ({n_events}), got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() >= len(processes)):
            raise ValueError(f"{name} indices must be in [0, {len(processes)}) for processes {list(processes)}")
        return arr.astype(np.int64)
    names, inverse = np.unique(arr.astype(str), return_inverse=True)
    unknown = [str(v) for v in names if str(v) not in processes]
    if unknown:
        raise ValueError(f"{name} labels {unknown} are not among the processes {list(processes)}")
    lookup = np.array([list(processes).index(str(v)) for v in names], dtype=np.int64)
    return lookup[inverse]


def select_rows(n_events: int, events: npt.ArrayLike | None) -> np.ndarray:
    """The event indices to train on: all, or the validated subset ``events`` (indices or mask)."""
    if events is None:
        return np.arange(n_events)
    sel = np.asarray(events)
    if sel.dtype == bool:
        if sel.shape != (n_events,):
            raise ValueError(f"events mask has shape {sel.shape}, expected ({n_events},)")
        sel = np.flatnonzero(sel)
    elif not np.issubdtype(sel.dtype, np.integer) or sel.ndim != 1:
        raise ValueError("events must be a boolean mask or a 1-d array of event indices")
    if sel.size == 0:
        raise ValueError("events selects no events: empty sample")
    if sel.min() < 0 or sel.max() >= n_events:
        raise ValueError(f"events indices out of range for {n_events} events")
    return np.unique(sel)
