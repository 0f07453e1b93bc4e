r"""Process fractions π_p(x) from a multi-class classifier (DESIGN.md §1.3).

A softmax classifier over the processes is trained with the weighted cross-entropy
``-Σ_i w_i log softmax(f(x_i))_{p_i}``, each event weighted by its expected yield at the SM (its
nominal weight, so the weights of process ``p`` sum to ``N_p``). The minimiser is
``π_p(x) = n_p(x) / Σ_q n_q(x)``: fractions that sum to one by construction.

With ``balanced=True`` every class is reweighted to the same total during training (helps rare
processes); the learned fractions are then those of equal yields, and the graph adds the exact
prior correction ``log(N_p / N̄)`` to the logits, so the exported π_p are again the physical ones.
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
    check_features,
    check_names,
    check_weights,
    process_indices,
    select_rows,
)
from rooeft.nn._modules import EnsembleMLP, Standardize
from rooeft.nn.base import TrainedEstimator, provenance, setup
from rooeft.nn.training import fit

__all__ = ["FractionConfig", "FractionEstimator", "FractionModule", "train_process_fractions"]


@dataclass(frozen=True, kw_only=True)
class FractionConfig(EstimatorConfig):
    """Configuration of the process-fraction classifier.

    >>> FractionConfig(balanced=True).balanced
    True
    """

    balanced: bool = False
    """Train with equal class totals and correct the priors inside the graph."""


class FractionModule(nn.Module):
    """Raw observables ``[B, d]`` -> fractions ``[B, P]`` (softmax, rows sum to one)."""

    log_prior: torch.Tensor

    def __init__(self, standardize: Standardize, mlp: EnsembleMLP, log_prior: np.ndarray) -> None:
        super().__init__()
        self.standardize = standardize
        self.mlp = mlp
        self.register_buffer("log_prior", torch.as_tensor(log_prior, dtype=torch.float32))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Training logits (without the prior correction), ``[B, P]``."""
        return cast(torch.Tensor, self.mlp(self.standardize(x))[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x) + self.log_prior, dim=1)


@dataclass
class FractionEstimator(TrainedEstimator):
    """A trained process classifier; ``predict`` gives π_p(x), ``[N, P]``."""

    processes: tuple[str, ...] = ()
    rates: dict[str, float] = field(default_factory=dict)
    config: FractionConfig = field(default_factory=FractionConfig)

    def column_names(self) -> list[str]:
        """Convention names of the output columns."""
        return [f"frac:{p}" for p in self.processes]


def train_process_fractions(
    x: npt.ArrayLike,
    process: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    observables: Sequence[str],
    processes: Sequence[str],
    config: FractionConfig | None = None,
    events: npt.ArrayLike | None = None,
    name: str = "fractions",
) -> FractionEstimator:
    """Train the process classifier.

    ``process``: per-event labels (names, or indices into ``processes``); ``weights``: per-event
    expected yields at the SM (may be negative for some events; every process needs a positive
    total, which becomes its nominal rate).
    """
    config = config or FractionConfig()
    obs = check_names("observables", observables)
    procs = check_names("processes", processes)
    if len(procs) < 2:
        raise ValueError(f"processes {list(procs)}: fractions need at least two processes")
    arr = check_features(x, obs)
    w = check_weights(weights, arr.shape[0], name="weights")
    label = process_indices(process, procs, arr.shape[0])
    rows = select_rows(arr.shape[0], events)
    totals = np.bincount(label[rows], weights=w[rows], minlength=len(procs))
    bad = [p for p, t in zip(procs, totals, strict=True) if not t > 0]
    if bad:
        raise ValueError(f"process(es) {bad} have no events or a non-positive total weight")
    rates = {p: float(t) for p, t in zip(procs, totals, strict=True)}
    s = setup(arr, rows, config)
    train_totals = np.bincount(label[s.train_rows], weights=w[s.train_rows], minlength=len(procs))
    if config.balanced:
        if not np.all(train_totals > 0):
            raise ValueError("balanced=True: a process has no positive weight among the training events")
        class_factor = train_totals.mean() / train_totals
    else:
        class_factor = np.ones(len(procs))
    log_prior = -np.log(class_factor)
    norm = float(np.mean(np.abs(w[s.train_rows] * class_factor[label[s.train_rows]])))
    factor_t = torch.as_tensor(class_factor / norm, dtype=torch.float32)
    module = FractionModule(
        s.standardize, EnsembleMLP(len(obs), len(procs), config.network, generator=s.generator), log_prior
    )

    def loss(mod: nn.Module, batch: dict[str, torch.Tensor], training: bool) -> torch.Tensor:
        logp = F.log_softmax(cast(FractionModule, mod).logits(batch["x"]), dim=1)
        lab = batch["label"]
        wb = batch["w"] * factor_t.to(logp.device)[lab]
        return -wb * logp.gather(1, lab[:, None])[:, 0]

    history = fit(
        module, loss, {"x": arr, "w": w, "label": label}, s.train_rows, s.val_rows, config.training, name=name
    )
    return FractionEstimator(
        module=module,
        observables=obs,
        history=history,
        provenance=provenance(
            "process_fractions", config, history, n_train=int(s.train_rows.size), n_validation=int(s.val_rows.size)
        ),
        reference_inputs=s.reference_inputs,
        validation_rows=s.val_rows,
        processes=procs,
        rates=rates,
        config=config,
    )
