r"""Joint positive quadratic model of the cross-section ratio (DESIGN.md §1.2), trained on all terms.

The network outputs, per event, a vector ``n_a(x)`` and an upper-triangular matrix
``U_ab(x) = n_ab(x)`` (``a <= b``), and the ratio is

    r̂(x|θ) = (1 + Σ_a θ_a n_a)² + Σ_a (Σ_{b≥a} θ_b n_ab)² = (1 + nᵀθ)² + |Uθ|².

The diagonal of ``U`` is kept away from zero (``n_aa = sqrt(raw² + ε²)``, ε = ``positivity_floor``;
the sign of a row of ``U`` is a symmetry of r̂), so ``U`` is invertible and r̂ > 0 for every θ:
``Uθ = 0`` only at θ = 0, where r̂ = 1.

**Expansion** into the general quadratic form ``r = 1 + Σ θ_a r_a + Σ_{a≤b} θ_aθ_b r_ab`` used by the
ONNX convention: with ``M = n nᵀ + UᵀU`` (positive semi-definite),

    r_a = 2 n_a,   r_aa = M_aa = n_a² + Σ_{c≤a} n_ca²,   r_ab = 2 M_ab = 2 (n_a n_b + Σ_{c≤a} n_ca n_cb)  (a<b).

**Loss.** For a prior θ ~ N(0, diag(s²)) (``theta_scale`` = s) and per-event structure constants
``W_i`` (canonical order, ``W_i0 = w_i0``), the expected weighted squared error

    L = Σ_i E_θ[ w_i0 (r̂(x_i|θ) − w_i(θ)/w_i0)² ] = Σ_i ĉ_iᵀ G (w_i0 ĉ_i − 2 W_i) + const,

where ``ĉ_i = (1, r_a, r_ab)(x_i)`` are the expanded coefficients and ``G = E_θ[m(θ) m(θ)ᵀ]`` the
(analytic, Isserlis) Gram matrix of the monomials ``m(θ) = (1, θ_a, θ_aθ_b)``. Both r̂ and the joint
ratio are quadratic in θ, so this closed form equals the average over infinitely many random θ
draws: no θ sampling noise, no per-θ resampling of events, and no division by ``w_i0`` (the
dropped constant ``W_iᵀ G W_i / w_i0`` does not depend on the network), so events with small or
negative SM weight are harmless. Its minimiser is ``r̂(x|θ) = E[w(θ)|x] / E[w_0|x]`` for all θ (where
the family can represent it): the coefficient functions of the cross-section ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from rooeft.nn._common import (
    EstimatorConfig,
    check_features,
    check_names,
    check_structure_constants,
    select_rows,
)
from rooeft.nn._modules import EnsembleMLP, Standardize
from rooeft.nn.base import TrainedEstimator, check_row_total, provenance, setup
from rooeft.nn.training import fit
from rooeft.terms import monomials, quadratic_pairs

__all__ = ["PositiveQuadraticModule", "QuadraticConfig", "QuadraticEstimator", "theta_gram", "train_joint_quadratic"]


@dataclass(frozen=True, kw_only=True)
class QuadraticConfig(EstimatorConfig):
    """Configuration of the joint positive quadratic model.

    >>> QuadraticConfig(theta_scale=(1.0, 0.5)).positivity_floor
    0.001
    >>> QuadraticConfig(theta_scale=0.0)
    Traceback (most recent call last):
    ...
    ValueError: theta_scale must be positive and finite, got 0.0
    """

    theta_scale: float | tuple[float, ...] = 1.0
    """Width s of the Gaussian prior on θ that weighs linear against quadratic terms in the loss;
    one value or one per coefficient. Choose the range of θ the measurement probes."""
    positivity_floor: float = 1e-3
    """Smallest diagonal ``|n_aa|``; makes r̂ strictly positive (biases ``r_aa`` by at most its square)."""

    def __post_init__(self) -> None:
        scales = np.atleast_1d(np.asarray(self.theta_scale, dtype=float))
        if scales.size == 0 or not np.all(np.isfinite(scales) & (scales > 0)):
            raise ValueError(f"theta_scale must be positive and finite, got {self.theta_scale}")
        if not (np.isfinite(self.positivity_floor) and self.positivity_floor > 0):
            raise ValueError(f"positivity_floor must be positive, got {self.positivity_floor}")

    def scales(self, n_coefficients: int) -> np.ndarray:
        """``theta_scale`` as one value per coefficient."""
        s = np.atleast_1d(np.asarray(self.theta_scale, dtype=float))
        if s.size == 1:
            return np.full(n_coefficients, float(s[0]))
        if s.size != n_coefficients:
            raise ValueError(f"theta_scale has {s.size} values for {n_coefficients} coefficients")
        return s


def theta_gram(scales: Sequence[float] | np.ndarray) -> np.ndarray:
    """``G = E[m(θ) m(θ)ᵀ]`` for θ ~ N(0, diag(scales²)), m = canonical monomials (Isserlis).

    >>> theta_gram([2.0]).tolist()
    [[1.0, 0.0, 4.0], [0.0, 4.0, 0.0], [4.0, 0.0, 48.0]]
    """
    var = np.asarray(scales, dtype=float) ** 2
    n = var.size
    terms: list[tuple[int, ...]] = [(), *((a,) for a in range(n)), *quadratic_pairs(n)]

    def moment(idx: tuple[int, ...]) -> float:
        # zero-mean Gaussian with diagonal covariance: sum over perfect matchings (Isserlis)
        if not idx:
            return 1.0
        if len(idx) % 2:
            return 0.0
        first, rest = idx[0], idx[1:]
        total = 0.0
        for j in range(len(rest)):
            if rest[j] == first:
                total += var[first] * moment(rest[:j] + rest[j + 1 :])
        return total

    return np.array([[moment(ti + tj) for tj in terms] for ti in terms])


class PositiveQuadraticModule(nn.Module):
    """Raw observables ``[B, d]`` -> expanded coefficients ``[B, n + n(n+1)/2]`` (lin, then quad)."""

    scatter_u: torch.Tensor
    gather_m: torch.Tensor
    diag_mask: torch.Tensor

    def __init__(self, standardize: Standardize, mlp: EnsembleMLP, n_coefficients: int, floor: float) -> None:
        super().__init__()
        n = n_coefficients
        pairs = quadratic_pairs(n)
        if mlp.n_out != n + len(pairs):
            raise ValueError(f"network has {mlp.n_out} outputs, need {n + len(pairs)}")
        self.standardize = standardize
        self.mlp = mlp
        self.n = n
        self.floor = float(floor)
        scatter = torch.zeros(len(pairs), n * n)
        gather = torch.zeros(n * n, len(pairs))
        for k, (a, b) in enumerate(pairs):
            scatter[k, a * n + b] = 1.0
            gather[a * n + b, k] = 1.0 if a == b else 2.0
        self.register_buffer("scatter_u", scatter)
        self.register_buffer("gather_m", gather)
        self.register_buffer("diag_mask", torch.tensor([a == b for a, b in pairs]))

    def factors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` ``[B, n]`` and the upper-triangular ``U`` ``[B, n, n]`` of raw observables ``x``."""
        out = self.mlp(self.standardize(x))[0]
        nvec = out[:, : self.n]
        u = out[:, self.n :]
        u = torch.where(self.diag_mask, torch.sqrt(u * u + self.floor**2), u)
        umat = torch.matmul(u, self.scatter_u).reshape(-1, self.n, self.n)
        return nvec, umat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nvec, umat = self.factors(x)
        m = nvec.unsqueeze(2) * nvec.unsqueeze(1) + torch.matmul(umat.transpose(1, 2), umat)
        quad = torch.matmul(m.reshape(-1, self.n * self.n), self.gather_m)
        return torch.cat([2.0 * nvec, quad], dim=1)

    def ratio(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """r̂(x|θ) from the factorised form: ``x`` ``[B, d]``, ``theta`` ``[K, n]`` -> ``[B, K]``."""
        nvec, umat = self.factors(x)
        lin = 1.0 + torch.matmul(nvec, theta.T)
        u_theta = torch.einsum("bac,kc->bka", umat, theta)
        return lin * lin + (u_theta * u_theta).sum(dim=2)


@dataclass
class QuadraticEstimator(TrainedEstimator):
    """A trained joint positive quadratic model; ``predict`` gives the ``lin``+``quad`` columns."""

    coefficients: tuple[str, ...] = ()
    config: QuadraticConfig = field(default_factory=QuadraticConfig)

    def column_names(self, process: str) -> list[str]:
        """Convention names of the output columns for ``process``."""
        return _eft_columns(process, self.coefficients)

    def ratio(self, x: npt.ArrayLike, theta: npt.ArrayLike) -> np.ndarray:
        """r̂(x|θ) from the factorised (positive) form, ``[N, K]`` for ``theta`` of shape ``[K, n]``."""
        arr = check_features(x, self.observables)
        th = torch.as_tensor(np.atleast_2d(np.asarray(theta, dtype=np.float32)))
        module = cast(PositiveQuadraticModule, self.module)
        out: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, arr.shape[0], 65536):
                xb = torch.from_numpy(np.ascontiguousarray(arr[start : start + 65536], dtype=np.float32))
                out.append(module.ratio(xb, th).double().numpy())
        return np.concatenate(out)


def _eft_columns(process: str, coefficients: Sequence[str]) -> list[str]:
    cols = [f"lin:{process}:{c}" for c in coefficients]
    cols += [f"quad:{process}:{coefficients[a]}:{coefficients[b]}" for a, b in quadratic_pairs(len(coefficients))]
    return cols


def quadratic_from_columns(columns: np.ndarray, theta: npt.ArrayLike) -> np.ndarray:
    """``1 + Σ θ_a r_a + Σ θ_aθ_b r_ab`` from expanded columns ``[N, T-1]``, for ``theta`` ``[K, n]``."""
    mono = monomials(np.atleast_2d(np.asarray(theta, dtype=float)))
    return 1.0 + np.asarray(columns, dtype=float) @ mono[:, 1:].T


def train_joint_quadratic(
    x: npt.ArrayLike,
    structure_constants: npt.ArrayLike,
    *,
    observables: Sequence[str],
    coefficients: Sequence[str],
    config: QuadraticConfig | None = None,
    events: npt.ArrayLike | None = None,
    name: str = "quadratic",
) -> QuadraticEstimator:
    """Train the joint positive quadratic model on all terms at once.

    ``x``: raw observables ``[N, d]``; ``structure_constants``: ``[N, T]`` per-event weights of the
    canonical terms (``rooeft.terms``; column 0 is the SM weight, may be negative); ``events``:
    optional mask or indices of the events to use (e.g. one process) without copying the arrays.
    """
    config = config or QuadraticConfig()
    obs = check_names("observables", observables)
    coefs = check_names("coefficients", coefficients)
    arr = check_features(x, obs)
    w = check_structure_constants(structure_constants, arr.shape[0], coefs, name="structure_constants")
    rows = select_rows(arr.shape[0], events)
    check_row_total(w[:, 0], rows, "structure_constants[:, 0] (SM weights) of the selected events")
    n = len(coefs)
    gram = torch.as_tensor(theta_gram(config.scales(n)), dtype=torch.float32)
    s = setup(arr, rows, config)
    norm = float(np.mean(np.abs(w[s.train_rows, 0])))
    mlp = EnsembleMLP(len(obs), n + n * (n + 1) // 2, config.network, generator=s.generator)
    module = PositiveQuadraticModule(s.standardize, mlp, n, config.positivity_floor)

    def loss(mod: nn.Module, batch: dict[str, torch.Tensor], training: bool) -> torch.Tensor:
        coef = cast(torch.Tensor, mod(batch["x"]))
        chat = torch.cat([torch.ones_like(coef[:, :1]), coef], dim=1)
        wb = batch["w"] / norm
        g = gram.to(chat.device)
        return (torch.matmul(chat, g) * (wb[:, :1] * chat - 2.0 * wb)).sum(dim=1)

    history = fit(module, loss, {"x": arr, "w": w}, s.train_rows, s.val_rows, config.training, name=name)
    return QuadraticEstimator(
        module=module,
        observables=obs,
        history=history,
        provenance=provenance(
            "joint_positive_quadratic",
            config,
            history,
            n_train=int(s.train_rows.size),
            n_validation=int(s.val_rows.size),
        ),
        reference_inputs=s.reference_inputs,
        validation_rows=s.val_rows,
        coefficients=coefs,
        config=config,
    )
