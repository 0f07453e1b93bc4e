"""Toys of the exact-ratio (oracle) analysis: unbiased with coverage on an independent pool from
the same distribution, and visibly biased when the pool's physics differs from the simulation's."""

from __future__ import annotations

import numpy as np
import pytest

from rooeft.infer.oracle import oracle_toys


def _sample(seed: int, n: int, shift: float = 0.0) -> np.ndarray:
    """Structure constants (w_sm, w_c, w_cc) of a 1-coefficient model with a positive ratio
    r = (1 + c·a/2)² + 0.05c², 2000 expected events."""
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1.0, n)
    w = np.full(n, 2000.0 / n)
    return np.column_stack([w, w * a, w * (0.25 * a * a + 0.05)])


GRID = np.linspace(-0.4, 0.4, 81)


@pytest.mark.parametrize("truth", [0.0, 0.08])
def test_independent_pool_is_unbiased_and_covers(truth: float) -> None:
    sim, pool = _sample(1, 200_000), _sample(2, 200_000)
    res = oracle_toys(sim, pool, ["c"], {"c": truth}, "c", n_toys=250, seed=5, grid=GRID)
    assert res.ok.all()
    pulls = (res.theta_hat - truth) / res.sigma_hat
    bias, err = pulls.mean(), pulls.std(ddof=1) / np.sqrt(pulls.size)
    assert abs(bias) < 3 * err + 0.02, (bias, err)
    assert res.theta_hat.std(ddof=1) == pytest.approx(np.median(res.sigma_hat), rel=0.12)
    for level, target in ((1.0, 0.6827), (3.84, 0.95)):
        cov = np.mean(res.q < level)
        assert abs(cov - target) < 3 * np.sqrt(target * (1 - target) / res.q.size), (level, cov)
    assert abs(res.n_events.mean() - 2000 * (1 + 0.3 * truth**2)) < 4 * np.sqrt(2000 / 250)


def test_pool_with_other_physics_shows_a_bias() -> None:
    """A pool whose linear term differs from the simulation's (a shifted by 0.05) biases θ̂ by many
    standard errors: the check can fail."""
    sim, pool = _sample(1, 200_000), _sample(2, 200_000, shift=0.05)
    res = oracle_toys(sim, pool, ["c"], {"c": 0.0}, "c", n_toys=100, seed=5, grid=GRID)
    pulls = (res.theta_hat - 0.0) / res.sigma_hat
    assert abs(pulls.mean()) > 6 * pulls.std(ddof=1) / np.sqrt(pulls.size)


def test_bad_inputs_are_named() -> None:
    sim = _sample(1, 1000)
    with pytest.raises(ValueError, match="shape"):
        oracle_toys(sim[:, :2], sim, ["c"], {"c": 0.0}, "c", n_toys=1, seed=1, grid=GRID)
    with pytest.raises(ValueError, match="poi"):
        oracle_toys(sim, sim, ["c"], {"c": 0.0}, "d", n_toys=1, seed=1, grid=GRID)
    with pytest.raises(ValueError, match="grid"):
        oracle_toys(sim, sim, ["c"], {"c": 0.5}, "c", n_toys=1, seed=1, grid=GRID)
    bad = sim.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="pool: structure constants contain NaN"):
        oracle_toys(sim, bad, ["c"], {"c": 0.0}, "c", n_toys=1, seed=1, grid=GRID)
