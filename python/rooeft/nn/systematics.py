r"""Per-event systematic ratios s_{p,k}^±(x) = dσ_±/dσ_nom from weight variations (DESIGN.md §1).

For every process ``p``, shape nuisance ``k`` and direction ± one classifier separates the
nominal events (weights ``w``) from the same events with the varied weights ``w^±_k``
(weighted binary cross-entropy). Its logit converges to ``log(E[w^± | x, p] / E[w | x, p])`` and
the exported ratio is ``s = exp(logit)``: positive by construction. The ratio includes the
variation's normalisation effect (it is ``dσ_±/dσ_nom``, not a shape-only ratio).

A variation that leaves every weight of a process unchanged gives the constant ``s = 1`` exactly
(its classifier is masked in the graph). All classifiers are independent members of one batched
ensemble; each sees only the events of its process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

__all__ = ["SystematicConfig", "SystematicEstimator", "SystematicModule", "train_systematic_ratios"]


@dataclass(frozen=True, kw_only=True)
class SystematicConfig(EstimatorConfig):
    """Configuration of the systematic-ratio classifiers.

    >>> SystematicConfig().network.width
    64
    """


class SystematicModule(nn.Module):
    """Raw observables ``[B, d]`` -> ratios ``[B, P*K*2]`` ordered (process, nuisance, up/down)."""

    active: torch.Tensor

    def __init__(self, standardize: Standardize, mlp: EnsembleMLP, active: np.ndarray) -> None:
        super().__init__()
        self.standardize = standardize
        self.mlp = mlp
        self.shape = tuple(int(v) for v in active.shape)  # (P, K, 2)
        self.register_buffer("active", torch.as_tensor(active.reshape(-1, 1), dtype=torch.float32))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Masked log-ratios ``[P*K*2, B]``."""
        return cast(torch.Tensor, self.mlp(self.standardize(x))[..., 0] * self.active)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.logits(x)).T


@dataclass
class SystematicEstimator(TrainedEstimator):
    """Trained systematic-ratio classifiers; ``predict`` gives the ``sysup``/``sysdown`` columns."""

    processes: tuple[str, ...] = ()
    systematics: tuple[str, ...] = ()
    config: SystematicConfig = field(default_factory=SystematicConfig)

    def column_names(self) -> list[str]:
        """Convention names of the output columns."""
        return [f"sys{d}:{p}:{k}" for p in self.processes for k in self.systematics for d in ("up", "down")]


def train_systematic_ratios(
    x: npt.ArrayLike,
    weights: npt.ArrayLike,
    variations: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    observables: Sequence[str],
    processes: Sequence[str] = ("nominal",),
    process: npt.ArrayLike | None = None,
    config: SystematicConfig | None = None,
    events: npt.ArrayLike | None = None,
    name: str = "systematics",
) -> SystematicEstimator:
    """Train the ratios ``s^±_{p,k}(x)`` for every process and nuisance.

    ``weights``: nominal per-event weights; ``variations``: ``{nuisance: (weights_up, weights_down)}``
    for the same events; ``process``: per-event labels (optional for a single process).
    """
    config = config or SystematicConfig()
    obs = check_names("observables", observables)
    procs = check_names("processes", processes)
    systs = check_names("variations", list(variations))
    arr = check_features(x, obs)
    n = arr.shape[0]
    w = check_weights(weights, n, name="weights")
    label = process_indices(process, procs, n)
    rows = select_rows(n, events)
    arrays: dict[str, np.ndarray] = {"x": arr, "w": w, "label": label}
    active = np.zeros((len(procs), len(systs), 2), dtype=bool)
    for j, k in enumerate(systs):
        pair = variations[k]
        if len(pair) != 2:
            raise ValueError(f"variations[{k!r}] must be a pair (weights_up, weights_down)")
        for d, (direction, v) in enumerate(zip(("up", "down"), pair, strict=True)):
            wv = check_weights(v, n, name=f"variations[{k!r}] {direction}")
            arrays[f"{direction}{j}"] = wv
            for i, p in enumerate(procs):
                sel = rows[label[rows] == i]
                if sel.size == 0:
                    raise ValueError(f"process {p!r} has no events")
                if not np.sum(w[sel]) > 0:
                    raise ValueError(f"process {p!r}: nominal weights have a non-positive total")
                if not np.sum(wv[sel]) > 0:
                    raise ValueError(f"variations[{k!r}] {direction}, process {p!r}: non-positive total weight")
                active[i, j, d] = bool(np.any(wv[sel] != w[sel]))
    s = setup(arr, rows, config)
    norm = float(np.mean(np.abs(w[s.train_rows])))
    n_members = active.size
    mlp = EnsembleMLP(len(obs), 1, config.network, members=n_members, generator=s.generator)
    module = SystematicModule(s.standardize, mlp, active)
    n_p, n_k = len(procs), len(systs)

    def loss(mod: nn.Module, batch: dict[str, torch.Tensor], training: bool) -> torch.Tensor:
        f = cast(SystematicModule, mod).logits(batch["x"]).reshape(n_p, n_k, 2, -1)
        wb = batch["w"] / norm  # [B]
        varied = (
            torch.stack([torch.stack([batch[f"up{j}"], batch[f"down{j}"]]) for j in range(n_k)]) / norm
        )  # [K, 2, B]
        onehot = F.one_hot(batch["label"], n_p).T.to(wb.dtype)  # [P, B]
        per = wb * F.softplus(f) + varied * F.softplus(-f)  # [P, K, 2, B]
        return (per * onehot[:, None, None, :]).sum(dim=(0, 1, 2))

    history = fit(module, loss, arrays, s.train_rows, s.val_rows, config.training, name=name)
    return SystematicEstimator(
        module=module,
        observables=obs,
        history=history,
        provenance=provenance(
            "systematic_ratios",
            config,
            history,
            active=active.tolist(),
            n_train=int(s.train_rows.size),
            n_validation=int(s.val_rows.size),
        ),
        reference_inputs=s.reference_inputs,
        processes=procs,
        systematics=systs,
        config=config,
    )
