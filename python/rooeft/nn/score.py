r"""Local score regression (SALLY, DESIGN.md §1.2).

The joint score of an event at a reference point θ0 follows from its structure constants,

    t(z|θ0) = ∂_θ log w(z|θ) |_θ0 = ∇_θ w(z|θ0) / w(z|θ0),

and a network ``t̂(x)`` regressed on it with weight ``w(z|θ0)`` converges to
``E[∇w | x] / E[w | x] = ∂_θ log dσ(x|θ)|_θ0``, the score of the differential rate. (The score of
the normalised density differs by the constant ``∂_θ log σ(θ0)``, irrelevant for binning; at the
SM, ``t̂_a = r_a``.) The per-event loss is expanded to avoid dividing by ``w(z|θ0)``:

    w (t̂ − ∇w/w)² = w t̂² − 2 t̂·∇w + const.

The score is a binning variable (evaluated when templates are filled), not a column of the
unbinned-pdf convention, so :class:`ScoreEstimator` is used from Python (``predict``) and not
composed into the convention's ONNX model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from rooeft.nn._common import EstimatorConfig, check_features, check_names, check_structure_constants, select_rows
from rooeft.nn._modules import EnsembleMLP, Standardize
from rooeft.nn.base import TrainedEstimator, provenance, setup
from rooeft.nn.training import fit
from rooeft.terms import monomials, quadratic_pairs

__all__ = ["ScoreConfig", "ScoreEstimator", "ScoreModule", "monomial_gradient", "train_local_score"]


@dataclass(frozen=True, kw_only=True)
class ScoreConfig(EstimatorConfig):
    """Configuration of the local-score regression.

    >>> ScoreConfig(theta0=(0.0, 1.0)).theta0
    (0.0, 1.0)
    """

    theta0: tuple[float, ...] | None = None
    """Reference point θ0 (default: the SM, all zero)."""

    def __post_init__(self) -> None:
        if self.theta0 is not None and not all(np.isfinite(t) for t in self.theta0):
            raise ValueError(f"theta0 must be finite, got {self.theta0}")


def monomial_gradient(theta0: Sequence[float]) -> np.ndarray:
    """``D[k, a] = ∂ m_k / ∂θ_a`` at θ0 for the canonical monomials, shape ``[n_terms, n]``.

    >>> monomial_gradient([2.0]).tolist()
    [[0.0], [1.0], [4.0]]
    """
    th = np.asarray(theta0, dtype=float)
    n = th.size
    pairs = quadratic_pairs(n)
    d = np.zeros((1 + n + len(pairs), n))
    d[1 : 1 + n] = np.eye(n)
    for k, (a, b) in enumerate(pairs):
        d[1 + n + k, a] += th[b]
        d[1 + n + k, b] += th[a]
    return d


class ScoreModule(nn.Module):
    """Raw observables ``[B, d]`` -> estimated score ``[B, n]``."""

    def __init__(self, standardize: Standardize, mlp: EnsembleMLP) -> None:
        super().__init__()
        self.standardize = standardize
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.mlp(self.standardize(x))[0])


@dataclass
class ScoreEstimator(TrainedEstimator):
    """A trained local-score network; ``predict`` gives ``t̂(x)``, shape ``[N, n]``."""

    coefficients: tuple[str, ...] = ()
    theta0: tuple[float, ...] = ()
    config: ScoreConfig = field(default_factory=ScoreConfig)


def train_local_score(
    x: npt.ArrayLike,
    structure_constants: npt.ArrayLike,
    *,
    observables: Sequence[str],
    coefficients: Sequence[str],
    config: ScoreConfig | None = None,
    events: npt.ArrayLike | None = None,
    name: str = "score",
) -> ScoreEstimator:
    """Regress the joint score at ``config.theta0`` (arguments as :func:`train_joint_quadratic`)."""
    config = config or ScoreConfig()
    obs = check_names("observables", observables)
    coefs = check_names("coefficients", coefficients)
    arr = check_features(x, obs)
    w = check_structure_constants(structure_constants, arr.shape[0], coefs, name="structure_constants")
    rows = select_rows(arr.shape[0], events)
    n = len(coefs)
    theta0 = tuple(float(t) for t in (config.theta0 if config.theta0 is not None else (0.0,) * n))
    if len(theta0) != n:
        raise ValueError(f"theta0 has {len(theta0)} values for {n} coefficients")
    mono = monomials(np.asarray(theta0))
    s = setup(arr, rows, config)
    chunks = np.array_split(s.train_rows, max(1, s.train_rows.size // 100_000))
    w_ref = np.concatenate([w[part] @ mono for part in chunks])
    if not np.sum(w_ref) > 0:
        raise ValueError(f"the weights at theta0={list(theta0)} sum to {np.sum(w_ref)}: need a positive total")
    norm = float(np.mean(np.abs(w_ref)))
    mono_t = torch.as_tensor(mono, dtype=torch.float32)
    grad_t = torch.as_tensor(monomial_gradient(theta0), dtype=torch.float32)
    module = ScoreModule(s.standardize, EnsembleMLP(len(obs), n, config.network, generator=s.generator))

    def loss(mod: nn.Module, batch: dict[str, torch.Tensor], training: bool) -> torch.Tensor:
        t_hat = cast(torch.Tensor, mod(batch["x"]))
        wb = batch["w"] / norm
        w_at = torch.matmul(wb, mono_t.to(wb.device))  # [B]
        grad = torch.matmul(wb, grad_t.to(wb.device))  # [B, n]
        return (w_at[:, None] * t_hat * t_hat - 2.0 * t_hat * grad).sum(dim=1)

    history = fit(module, loss, {"x": arr, "w": w}, s.train_rows, s.val_rows, config.training, name=name)
    return ScoreEstimator(
        module=module,
        observables=obs,
        history=history,
        provenance=provenance(
            "local_score",
            config,
            history,
            theta0=list(theta0),
            n_train=int(s.train_rows.size),
            n_validation=int(s.val_rows.size),
        ),
        reference_inputs=s.reference_inputs,
        coefficients=coefs,
        theta0=theta0,
        config=config,
    )
