"""Morphing: structure constants from benchmark weights (rooeft.samples.morphing)."""

from __future__ import annotations

import numpy as np
import pytest

from rooeft.samples import Morphing, SampleError, morphing_residual, solve_morphing
from rooeft.terms import monomials, n_terms


def _problem(n: int, k: int, n_events: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed + 17 * n)
    points = rng.uniform(-2.0, 2.0, size=(k, n))
    points[0] = 0.0  # the SM point is usually one of the benchmarks
    c_true = rng.normal(size=(n_events, n_terms(n))) * np.logspace(0, -2, n_terms(n))
    c_true[:, 0] = rng.uniform(0.5, 2.0, n_events) * rng.choice([-1.0, 1.0], n_events)  # NLO: negative weights
    return points, c_true, [f"c{i}" for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_recovers_structure_constants_overdetermined(n: int) -> None:
    t = n_terms(n)
    points, c_true, names = _problem(n, max(10, t + 6))
    weights = c_true @ monomials(points).T
    m = Morphing(points, coefficients=names)
    c = m.solve(weights)
    assert c.shape == c_true.shape
    rel = np.max(np.abs(c - c_true)) / np.max(np.abs(c_true))
    assert rel < 1e-10
    assert 1.0 <= m.condition_number < 1e4
    assert m.residual(weights, c) < 1e-10


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_square_system_reproduces_exactly(n: int) -> None:
    points, c_true, names = _problem(n, n_terms(n), seed=3)
    weights = c_true @ monomials(points).T
    res = solve_morphing(weights, points, coefficients=names)
    np.testing.assert_allclose(res.structure_constants, c_true, rtol=0, atol=1e-10 * np.max(np.abs(c_true)))
    assert res.residual is None
    assert res.fit_residual < 1e-11


def test_known_constants_single_coefficient() -> None:
    # w(θ) = 2 - 3θ + 0.5θ² at θ = 0, 1, -1, 2: 2, -0.5, 5.5, -2
    weights = np.array([[2.0, -0.5, 5.5, -2.0]])
    res = solve_morphing(weights, [[0.0], [1.0], [-1.0], [2.0]], coefficients=["cHW"])
    np.testing.assert_allclose(res.structure_constants, [[2.0, -3.0, 0.5]], rtol=0, atol=1e-13)


def test_refuses_underdetermined() -> None:
    points, _, names = _problem(3, 9)  # T = 10
    with pytest.raises(SampleError, match=r"under-determined morphing: 9 benchmarks used for 10 terms"):
        Morphing(points, coefficients=names)
    points, _, names = _problem(2, 7)  # T = 6, but two held out leaves 5
    with pytest.raises(SampleError, match="under-determined"):
        Morphing(points, coefficients=names, holdout=[5, 6])


def test_refuses_duplicates() -> None:
    points, _, names = _problem(2, 10)
    points[7] = points[2]
    with pytest.raises(SampleError, match=r"duplicated benchmark points at indices \[2, 7\]"):
        Morphing(points, coefficients=names)


def test_refuses_rank_deficient_and_ill_conditioned() -> None:
    points, _, names = _problem(2, 10)
    flat = points.copy()
    flat[:, 1] = 0.0  # θ_1 never varied
    with pytest.raises(SampleError, match="rank-deficient"):
        Morphing(flat, coefficients=names)
    line = points.copy()
    line[:, 1] = 0.5 * line[:, 0] + 1e-6 * np.arange(10)  # almost on a line
    with pytest.raises(
        SampleError, match=r"ill-conditioned morphing: condition number .* exceeds max_condition=1e\+06"
    ):
        Morphing(line, coefficients=names)
    good = Morphing(points, coefficients=names)
    with pytest.raises(SampleError, match="ill-conditioned"):
        Morphing(points, coefficients=names, max_condition=0.5 * good.condition_number)


def test_condition_number_independent_of_units() -> None:
    points, _, names = _problem(2, 10)
    a = Morphing(points, coefficients=names)
    b = Morphing(points * 100.0, coefficients=names)
    assert b.condition_number == pytest.approx(a.condition_number, rel=1e-8)
    assert b.raw_condition_number > 100 * a.raw_condition_number


def test_refuses_wrong_number_of_coordinates_and_bad_weights() -> None:
    points, c_true, names = _problem(2, 10)
    with pytest.raises(
        SampleError, match="inconsistent benchmark definition: the points have 2 coordinates but there are 3"
    ):
        Morphing(points, coefficients=[*names, "c9"])
    m = Morphing(points, coefficients=names)
    with pytest.raises(SampleError, match=r"weights have shape \(300, 9\), expected \(N, 10\)"):
        m.solve((c_true @ monomials(points).T)[:, :9])
    w = c_true @ monomials(points).T
    w[4, 3] = np.nan
    with pytest.raises(SampleError, match="NaN or inf"):
        m.solve(w)


def test_holdout_verification() -> None:
    n = 2
    points, c_true, names = _problem(n, 12)
    weights = c_true @ monomials(points).T
    m = Morphing(points, coefficients=names, holdout=[10, 11])
    assert m.used == tuple(range(10)) and m.holdout == (10, 11)
    good = m.solve_verified(weights, max_residual=1e-9)
    assert good.residual is not None and good.residual < 1e-11
    np.testing.assert_allclose(good.structure_constants, c_true, rtol=0, atol=1e-10)
    # a cubic admixture is not a quadratic polynomial: the held-out points expose it
    bad = weights + 0.05 * c_true[:, :1] * points[:, 0] ** 3
    res = m.solve_verified(bad)
    assert res.residual is not None and res.residual > 1e-3
    with pytest.raises(SampleError, match=r"does not reproduce the held-out benchmarks \[10, 11\]"):
        m.solve_verified(bad, max_residual=1e-3)


def test_morphing_residual_definition() -> None:
    # weights 4 and -3.6 (scale 4); the polynomial predicts 4 and -4: off by 0.4 -> 0.1
    c = np.array([[4.0, -8.0, 0.0]])
    w = np.array([[4.0, -3.6]])
    assert morphing_residual(w, [[0.0], [1.0]], c) == pytest.approx(0.1, rel=1e-14)
    assert morphing_residual(np.zeros((1, 2)), [[0.0], [1.0]], np.zeros((1, 3))) == 0.0
