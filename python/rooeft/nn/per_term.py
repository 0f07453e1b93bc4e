r"""Per-term classifiers (ML4EFT style) with bootstrap replicas (DESIGN.md §1.2).

For every term ``t`` of the quadratic polynomial (each linear ``a`` and each pair ``a ≤ b``) one
binary classifier separates

* the SM hypothesis: the events weighted by ``w_0``, from
* the *term hypothesis at a probe value* ``c_t``: the same events weighted by ``w_0 + c_t w_t``

with the weighted binary cross-entropy. Its logit ``f_t(x)`` converges to
``log(E[w_0 + c_t w_t | x] / E[w_0 | x]) = log(1 + c_t r_t(x))``, and, with ``g = σ(-f)`` the SM
probability, ``(1 - g)/g = e^f``, so the coefficient function is ``r_t(x) = (e^{f_t(x)} - 1)/c_t``.

**Negative term weights.** ``w_t`` of a linear or interference term is of either sign, so it
cannot be a class weight on its own. Mixing it with the SM (ML4EFT's σ(θ) at a point, here for one
term at a time) keeps the second class physical as long as ``1 + c_t r_t(x) > 0``; the probe is
chosen small enough for that: ``c_t = probe_fraction / q_99(|w_t / w_0|)`` (the 99% quantile over the
training events), i.e. the term changes an event by at most ``probe_fraction`` of its SM weight for
99% of the events. Per-event negative weights (NLO) are fine; only the class totals must be
positive, which is checked. Using only ``w_0 + c_t w_t`` (not ``w(θ)``) isolates one term, so no
term is fitted on top of another one's estimate.

**Replicas.** ``n_replicas`` independent sets of classifiers are trained on Poisson bootstrap
replicas of the training events (each event weighted by a Poisson(1) count per replica, drawn
from the seed); with one replica no bootstrap is applied. ``predict`` returns the replica mean
(also what the ONNX graph exports), ``predict_replicas`` every replica, ``predict_with_spread``
mean and standard deviation. All ``n_replicas × n_terms`` networks are independent but evaluated
as one batched ensemble.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from rooeft.nn._common import (
    EstimatorConfig,
    _positive_int,
    check_features,
    check_names,
    check_observables_match,
    check_structure_constants,
    select_rows,
)
from rooeft.nn._modules import EnsembleMLP, Standardize
from rooeft.nn.base import TrainedEstimator, check_row_total, provenance, run_module, setup
from rooeft.nn.quadratic import _eft_columns
from rooeft.nn.training import fit
from rooeft.terms import n_terms

__all__ = ["PerTermConfig", "PerTermEstimator", "PerTermModule", "train_per_term"]


@dataclass(frozen=True, kw_only=True)
class PerTermConfig(EstimatorConfig):
    """Configuration of the per-term classifiers.

    >>> PerTermConfig(n_replicas=5).probe_fraction
    0.5
    >>> PerTermConfig(n_replicas=0)
    Traceback (most recent call last):
    ...
    ValueError: n_replicas must be a positive integer, got 0
    """

    n_replicas: int = 1
    """Number of bootstrap replicas (1: no bootstrap)."""
    probe_fraction: float = 0.5
    """Sets the probe values ``c_t = probe_fraction / q_99(|w_t/w_0|)``; in (0, 1)."""
    probes: tuple[float, ...] | None = None
    """Explicit non-zero probe values, one per term (linear, then quadratic pairs); overrides
    ``probe_fraction``."""

    def __post_init__(self) -> None:
        _positive_int("n_replicas", self.n_replicas)
        if not (0.0 < self.probe_fraction < 1.0):
            raise ValueError(f"probe_fraction must be in (0, 1), got {self.probe_fraction}")
        if self.probes is not None and not all(np.isfinite(p) and p != 0 for p in self.probes):
            raise ValueError(f"probes must be finite and non-zero, got {self.probes}")


class PerTermModule(nn.Module):
    """Raw observables ``[B, d]`` -> replica-mean coefficients ``[B, n_terms - 1]``."""

    inv_probe: torch.Tensor

    def __init__(self, standardize: Standardize, mlp: EnsembleMLP, n_replicas: int, probes: np.ndarray) -> None:
        super().__init__()
        self.standardize = standardize
        self.mlp = mlp
        self.n_replicas = n_replicas
        self.n_terms = int(probes.size)
        if mlp.members != n_replicas * self.n_terms or mlp.n_out != 1:
            raise ValueError("ensemble size does not match replicas x terms")
        self.register_buffer("inv_probe", torch.as_tensor(1.0 / probes, dtype=torch.float32))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Classifier logits ``log(1 + c_t r_t)``, shape ``[replicas, terms, B]``."""
        out = cast(torch.Tensor, self.mlp(self.standardize(x)))[..., 0]
        return out.reshape(self.n_replicas, self.n_terms, -1)

    def replicas(self, x: torch.Tensor) -> torch.Tensor:
        """Coefficients of every replica, ``[replicas, B, terms]``."""
        coef = (torch.exp(self.logits(x)) - 1.0) * self.inv_probe[:, None]
        return coef.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.replicas(x).mean(dim=0)


@dataclass
class PerTermEstimator(TrainedEstimator):
    """Trained per-term classifiers; ``predict`` gives the replica-mean ``lin``+``quad`` columns."""

    coefficients: tuple[str, ...] = ()
    probes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    config: PerTermConfig = field(default_factory=PerTermConfig)

    def column_names(self, process: str) -> list[str]:
        """Convention names of the output columns for ``process``."""
        return _eft_columns(process, self.coefficients)

    def predict_replicas(self, x: npt.ArrayLike, *, observables: Sequence[str] | None = None) -> np.ndarray:
        """Coefficient functions of every replica, shape ``[n_replicas, N, n_terms - 1]``."""
        if observables is not None:
            check_observables_match(self.observables, observables)
        return run_module(self.module, check_features(x, self.observables), method="replicas")

    def predict_with_spread(
        self, x: npt.ArrayLike, *, observables: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-event replica mean and standard deviation (zero for a single replica)."""
        reps = self.predict_replicas(x, observables=observables)
        std = reps.std(axis=0, ddof=1) if reps.shape[0] > 1 else np.zeros(reps.shape[1:])
        return reps.mean(axis=0), std


def choose_probes(w: np.ndarray, rows: np.ndarray, config: PerTermConfig) -> np.ndarray:
    """Probe values ``c_t`` (see the module docstring), checked to give positive class totals."""
    n_t = w.shape[1] - 1
    if config.probes is not None:
        if len(config.probes) != n_t:
            raise ValueError(f"probes has {len(config.probes)} values for {n_t} terms")
        probes = np.asarray(config.probes, dtype=float)
    else:
        sub = rows if rows.size <= 200_000 else np.random.default_rng(7).choice(rows, 200_000, replace=False)
        w0 = w[sub, 0]
        ok = w0 != 0
        ratios = np.abs(w[sub][ok, 1:] / w0[ok, None])
        q99 = np.quantile(ratios, 0.99, axis=0)
        probes = np.where(q99 > 0, config.probe_fraction / np.where(q99 > 0, q99, 1.0), 1.0)
    totals = np.sum(w[rows, 0]) + probes * np.sum(w[rows, 1:], axis=0)
    bad = np.flatnonzero(~(totals > 0))
    if bad.size:
        raise ValueError(
            f"term(s) {(bad + 1).tolist()}: w_0 + c_t w_t has a non-positive total at probe(s) "
            f"{probes[bad].tolist()}; choose smaller probes"
        )
    return probes


def train_per_term(
    x: npt.ArrayLike,
    structure_constants: npt.ArrayLike,
    *,
    observables: Sequence[str],
    coefficients: Sequence[str],
    config: PerTermConfig | None = None,
    events: npt.ArrayLike | None = None,
    name: str = "per_term",
) -> PerTermEstimator:
    """Train one classifier per linear and quadratic term (times ``n_replicas``).

    Arguments as :func:`rooeft.nn.train_joint_quadratic`.
    """
    config = config or PerTermConfig()
    obs = check_names("observables", observables)
    coefs = check_names("coefficients", coefficients)
    arr = check_features(x, obs)
    w = check_structure_constants(structure_constants, arr.shape[0], coefs, name="structure_constants")
    rows = select_rows(arr.shape[0], events)
    check_row_total(w[:, 0], rows, "structure_constants[:, 0] (SM weights) of the selected events")
    n_t = n_terms(len(coefs)) - 1
    s = setup(arr, rows, config)
    probes = choose_probes(w, s.train_rows, config)
    n_rep = config.n_replicas
    mlp = EnsembleMLP(len(obs), 1, config.network, members=n_rep * n_t, generator=s.generator)
    module = PerTermModule(s.standardize, mlp, n_rep, probes)
    norm = float(np.mean(np.abs(w[s.train_rows, 0])))
    probe_t = torch.as_tensor(probes, dtype=torch.float32)
    arrays: dict[str, np.ndarray] = {"x": arr, "w": w}
    if n_rep > 1:
        rng = np.random.default_rng([config.training.seed, 0xB007])
        arrays["boot"] = rng.poisson(1.0, size=(arr.shape[0], n_rep)).astype(np.uint8)

    def loss(mod: nn.Module, batch: dict[str, torch.Tensor], training: bool) -> torch.Tensor:
        f = cast(PerTermModule, mod).logits(batch["x"])  # [R, T, B]
        wb = batch["w"] / norm
        w_sm = wb[:, 0]  # [B]
        w_term = w_sm[:, None] + probe_t.to(wb.device) * wb[:, 1:]  # [B, T]
        per = w_sm * F.softplus(f) + w_term.T * F.softplus(-f)  # [R, T, B]
        if training and "boot" in batch:
            per = per * batch["boot"].T[:, None, :]
        return per.sum(dim=(0, 1))

    history = fit(module, loss, arrays, s.train_rows, s.val_rows, config.training, name=name)
    return PerTermEstimator(
        module=module,
        observables=obs,
        history=history,
        provenance=provenance(
            "per_term_classifiers",
            config,
            history,
            probes=probes.tolist(),
            n_train=int(s.train_rows.size),
            n_validation=int(s.val_rows.size),
        ),
        reference_inputs=s.reference_inputs,
        validation_rows=s.val_rows,
        coefficients=coefs,
        probes=probes,
        config=config,
    )
