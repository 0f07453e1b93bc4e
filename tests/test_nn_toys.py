"""Analytic toy samples for the rooeft.nn tests (imported by the other test_nn_* files).

Every toy has known coefficient functions. Per-event structure constants are the true conditional
ones times zero-mean noise (``w_t = w_0 (r_t(x) + ε)``), and the SM weights carry mean-one noise
with some negative weights, so only an estimator that integrates the per-event history out
(E[w_t|x]/E[w_0|x]) recovers the truth.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch


def noisy_weights(rng: np.random.Generator, n: int, spread: float = 1.2) -> np.ndarray:
    """SM weights of mean 1/n, independent of x, about 8% of them negative for spread 1.2."""
    return (1.0 + rng.uniform(-spread, spread, n)) / n


def truth_1d(x: np.ndarray) -> np.ndarray:
    """r_1 = x, r_11 = x²/4 + 1/4: r(x|θ) = (1 + θx/2)² + θ²/4 > 0."""
    x0 = x[:, 0]
    return np.column_stack([x0, 0.25 * x0**2 + 0.25])


def toy_1d(n: int, seed: int = 1, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, 1); structure constants ``[n, 3]`` of one coefficient."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    w0 = noisy_weights(rng, n)
    coef = truth_1d(x) + rng.normal(scale=noise, size=(n, 2))
    return x, np.column_stack([w0, w0[:, None] * coef])


def truth_2d(x: np.ndarray) -> np.ndarray:
    """Two coefficients; exactly of the positive form with n = (x1/2, x2/4) and an x-dependent U."""
    n1, n2 = x[:, 0] / 2, x[:, 1] / 4
    u11, u12, u22 = 0.5 + 0 * x[:, 0], 0.3 * np.tanh(x[:, 0]), 0.4 + 0.1 * x[:, 1] ** 2
    return np.column_stack([2 * n1, 2 * n2, n1**2 + u11**2, 2 * (n1 * n2 + u11 * u12), n2**2 + u12**2 + u22**2])


def toy_2d(n: int, seed: int = 2, noise: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, 1)²; structure constants ``[n, 6]`` of two coefficients."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    w0 = noisy_weights(rng, n)
    coef = truth_2d(x) + rng.normal(scale=noise, size=(n, 5))
    return x, np.column_stack([w0, w0[:, None] * coef])


def test_toy_structure_constants_average_to_truth() -> None:
    x, w = toy_1d(200_000, seed=5)
    bins = np.digitize(x[:, 0], [-1.0, 0.0, 1.0])
    for b in range(4):
        sel = bins == b
        ratio = w[sel, 1:].sum(axis=0) / w[sel, 0].sum()
        expected = (w[sel, 0, None] * truth_1d(x[sel])).sum(axis=0) / w[sel, 0].sum()
        np.testing.assert_allclose(ratio, expected, atol=0.05)
    assert (w[:, 0] < 0).mean() > 0.03


def test_toy_2d_is_positive() -> None:
    x, _ = toy_2d(1000)
    c = truth_2d(x)
    theta = np.random.default_rng(0).uniform(-100, 100, size=(50, 2))
    r = (
        1
        + c[:, :2] @ theta.T
        + np.einsum(
            "nk,mk->nm", c[:, 2:], np.column_stack([theta[:, 0] ** 2, theta[:, 0] * theta[:, 1], theta[:, 1] ** 2])
        )
    )
    assert (r > 0).all()
