"""Pseudo-experiments for the *optimal* analysis: the exact per-event likelihood ratio from the
simulation's own structure constants (an oracle that knows each event's parton-level weights).

With per-event structure constants ``W_i = (w_i,sm, w_i,a, w_i,ab, ...)`` (canonical term order,
:mod:`rooeft.terms`), the exact ratio is ``r_i(θ) = W_i·m(θ) / w_i,sm`` and the extended NLL of a
sample of signal events is ``ν(θ) − Σ_i ln r_i(θ)`` with ``ν(θ) = Σ_sim W·m(θ)`` from the
simulation that normalises the analysis. Toys are drawn from an independent *pool* (another
sample of the same process): ``N ~ Poisson(Σ_pool W·m(θ_true))`` events with probabilities
``∝ W·m(θ_true)``. One coefficient floats; the others stay at their true values.

For each toy the NLL is evaluated on a grid, θ̂ is the parabolic refinement of the grid
minimum, σ̂ the curvature there, and ``q = 2(NLL(θ_true) − NLL(θ̂))`` decides the coverage of the
profile-likelihood intervals, as :func:`rooeft.infer.toys.toys` does for workspaces.

>>> rng = np.random.default_rng(1)
>>> a = rng.normal(0.0, 1.0, 20000)
>>> sim = np.column_stack([np.full(a.size, 0.1), 0.1 * a, 0.1 * (0.25 * a * a + 0.05)])
>>> res = oracle_toys(sim, sim, ["c"], {"c": 0.0}, "c", n_toys=50, seed=2, grid=np.linspace(-1, 1, 201))
>>> res.theta_hat.shape, bool(np.all(res.q >= -1e-9))
((50,), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rooeft.terms import monomials

__all__ = ["OracleToys", "asimov_sigma", "oracle_toys"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OracleToys:
    """Per toy: fitted value, curvature error and ``q`` at the truth (NaN where the minimum sits
    on the grid's edge, i.e. the fit failed)."""

    poi: str
    truth: float
    theta_hat: F64
    sigma_hat: F64
    q: F64
    n_events: npt.NDArray[np.int64]

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return np.isfinite(self.theta_hat) & np.isfinite(self.sigma_hat) & np.isfinite(self.q)


def _check(terms: npt.ArrayLike, n_terms: int, what: str) -> F64:
    arr = np.asarray(terms, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != n_terms:
        raise ValueError(f"{what}: expected structure constants of shape (N, {n_terms}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: structure constants contain NaN or inf")
    if np.any(arr[:, 0] <= 0):
        raise ValueError(f"{what}: the SM weights (first column) must be positive for an exact ratio")
    return arr


def oracle_toys(
    sim_terms: npt.ArrayLike,
    pool_terms: npt.ArrayLike,
    coefficients: Sequence[str],
    truth: Mapping[str, float],
    poi: str,
    *,
    n_toys: int,
    seed: int,
    grid: npt.ArrayLike,
) -> OracleToys:
    """Toys of the exact-ratio analysis of ``poi`` (see the module docstring).

    ``sim_terms``/``pool_terms``: per-event structure constants in expected events, shape
    ``(N, T)``; ``truth``: every coefficient's true value; ``grid``: the values of ``poi`` where
    the NLL is evaluated (it must contain the truth well inside). Toy ``i`` uses
    ``numpy.random.default_rng([seed, i])``.
    """
    names = list(coefficients)
    if poi not in names:
        raise ValueError(f"poi {poi!r} is not one of the coefficients {names}")
    missing = [c for c in names if c not in truth]
    if missing:
        raise ValueError(f"truth lacks {missing}")
    n_terms = monomials(np.zeros(len(names))).size
    sim, pool = _check(sim_terms, n_terms, "simulation"), _check(pool_terms, n_terms, "pool")
    g = np.asarray(grid, dtype=np.float64)
    a = names.index(poi)
    t0 = np.array([float(truth[c]) for c in names])
    if not g[0] < t0[a] < g[-1] or g.size < 5:
        raise ValueError(f"the grid must have >= 5 points around the truth {poi}={t0[a]}")
    thetas = np.repeat(t0[None, :], g.size, axis=0)
    thetas[:, a] = g
    m = monomials(thetas)  # (G, T)
    nu = sim.sum(axis=0) @ m.T  # expected events on the grid
    w_true = pool @ monomials(t0)
    if np.any(w_true < 0):
        raise ValueError(f"pool weights are negative at the truth {dict(truth)}")
    total = float(w_true.sum())
    prob = w_true / total
    step = g[1] - g[0]
    theta_hat, sigma_hat, q = (np.full(n_toys, np.nan) for _ in range(3))
    counts = np.zeros(n_toys, dtype=np.int64)
    for i in range(n_toys):
        rng = np.random.default_rng([int(seed), i])
        n = int(rng.poisson(total))
        idx = rng.choice(pool.shape[0], size=n, p=prob)
        counts[i] = n
        ev = pool[idx]
        ratio = (ev @ m.T) / ev[:, :1]
        if np.any(ratio <= 0):
            continue
        nll = nu - np.log(ratio).sum(axis=0)
        k = int(np.argmin(nll))
        if k == 0 or k == g.size - 1:
            continue
        # parabola through the three points around the grid minimum
        y0, y1, y2 = nll[k - 1], nll[k], nll[k + 1]
        curv = (y0 - 2 * y1 + y2) / step**2
        if not curv > 0:
            continue
        shift = 0.5 * step * (y0 - y2) / (y0 - 2 * y1 + y2)
        theta_hat[i] = g[k] + shift
        sigma_hat[i] = 1.0 / np.sqrt(curv)
        nll_min = y1 - 0.5 * curv * shift**2
        r_true = (ev @ monomials(t0)) / ev[:, 0]
        nll_true = float(sim.sum(axis=0) @ monomials(t0)) - float(np.log(r_true).sum())
        q[i] = 2.0 * (nll_true - nll_min)
    return OracleToys(poi, float(t0[a]), theta_hat, sigma_hat, q, counts)


def asimov_sigma(sim_terms: npt.ArrayLike, coefficients: Sequence[str], truth: Mapping[str, float], poi: str) -> float:
    """The width the exact-ratio analysis *claims*: ``1/√(∂²NLL_A/∂θ²)`` at the truth, with the
    Asimov NLL ``ν(θ) − Σ_i w_i(θ_true) ln r_i(θ)`` of the weighted simulation (the other
    coefficients at the truth).

    >>> a = np.random.default_rng(1).normal(0.0, 1.0, 20000)
    >>> sim = np.column_stack([np.full(a.size, 0.1), 0.1 * a, 0.1 * (0.25 * a * a + 0.05)])
    >>> round(asimov_sigma(sim, ["c"], {"c": 0.0}, "c"), 3)  # 1/√(Σ w a²) = 1/√2000
    0.022
    """
    names = list(coefficients)
    n_terms = monomials(np.zeros(len(names))).size
    sim = _check(sim_terms, n_terms, "simulation")
    a = names.index(poi)
    t0 = np.array([float(truth[c]) for c in names])
    w_true = sim @ monomials(t0)
    h = 1e-3 * max(1.0, abs(t0[a]))

    def nll(x: float) -> float:
        t = t0.copy()
        t[a] = x
        m = monomials(t)
        return float(sim.sum(axis=0) @ m - w_true @ np.log((sim @ m) / sim[:, 0]))

    curv = (nll(t0[a] + h) - 2 * nll(t0[a]) + nll(t0[a] - h)) / h**2
    return float(1.0 / np.sqrt(curv)) if curv > 0 else float("nan")
