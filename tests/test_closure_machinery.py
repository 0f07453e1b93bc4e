"""The Asimov q(θ) interval machinery of benchmarks/bench_closure.py on toys with analytic answers.

Unbinned toy: two kinds of events, x = ±1, SM weight N/2 each, exact ratio r(x|c) = (1 + c x)²
(coefficient functions r_1 = 2x, r_11 = x²). Then ν(c) = N(1 + c²), Σ w0 ln r = N ln(1 − c²) and

    q(c) = 2N [c² − ln(1 − c²)]   ⇒   q = L  at  c² = 1 − W₀(e^{1−k}),  k = L / (2N).

Counting toy: one bin with n(c) = N(1 + c²), q(c) = 2N [c² − ln(1 + c²)]
⇒ c² = −W₋₁(−e^{−1−k}) − 1.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.special import lambertw

pytestmark = pytest.mark.torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_closure.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_closure", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_closure"] = module
    spec.loader.exec_module(module)
    return module


def _unbinned_half_width(n: float, level: float) -> float:
    k = level / (2.0 * n)
    return float(np.sqrt(1.0 - lambertw(np.exp(1.0 - k), 0).real))


def _counting_half_width(n: float, level: float) -> float:
    k = level / (2.0 * n)
    return float(np.sqrt(-lambertw(-np.exp(-1.0 - k), -1).real - 1.0))


def _toy(n: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([1.0, -1.0])
    w0 = np.full(2, n / 2.0)
    cols = np.column_stack([2.0 * x, x * x])
    sums = w0 @ np.column_stack([np.ones(2), cols])
    return w0, cols, sums


@pytest.mark.parametrize("n", [30.0, 400.0])
def test_exact_ratio_gives_the_analytic_interval(bench: ModuleType, n: float) -> None:
    w0, cols, sums = _toy(n)

    def q_of(g: np.ndarray) -> np.ndarray:
        return bench.asimov_q_unbinned(w0, cols, sums, bench.single_monomials(1, 0, g))

    grid = np.linspace(-0.9, 0.9, 7)
    assert q_of(grid) == pytest.approx(2 * n * (grid**2 - np.log(1 - grid**2)), rel=1e-12, abs=1e-12)
    _, _, iv = bench.scan_interval(q_of)
    for key, level in (("68", 1.0), ("95", 3.84)):
        half = _unbinned_half_width(n, level)
        ((lo, hi),) = iv["intervals"][key]
        assert lo == pytest.approx(-half, rel=2e-4)
        assert hi == pytest.approx(half, rel=2e-4)
        assert iv["width"][key] == pytest.approx(2 * half, rel=2e-4)
        assert not iv["touches_edge"][key]
    assert iv["q_min"] == pytest.approx(0.0, abs=1e-12)


def test_binned_counting_gives_the_analytic_interval(bench: ModuleType) -> None:
    n = 50.0

    def q_of(g: np.ndarray) -> np.ndarray:
        return bench.asimov_q_binned([[n, 0.0, n]], bench.single_monomials(1, 0, g))

    _, _, iv = bench.scan_interval(q_of)
    half = _counting_half_width(n, 3.84)
    assert iv["width"]["95"] == pytest.approx(2 * half, rel=2e-4)
    # one bin per value of x: the binned likelihood is the unbinned one
    w0, cols, sums = _toy(n)
    per_bin = np.column_stack([w0, w0[:, None] * cols])
    g = np.linspace(-0.8, 0.8, 33)
    mono = bench.single_monomials(1, 0, g)
    assert bench.asimov_q_binned(per_bin, mono) == pytest.approx(
        bench.asimov_q_unbinned(w0, cols, sums, mono), rel=1e-10, abs=1e-10
    )


def test_a_biased_ratio_widens_and_shifts(bench: ModuleType) -> None:
    """A learned ratio with a wrong linear term: q − min q is used, the minimum moves off zero."""
    n = 400.0
    w0, cols, sums = _toy(n)
    biased = cols * np.array([0.8, 1.0])  # 20 % too small linear coefficient function

    def q_of(g: np.ndarray) -> np.ndarray:
        return bench.asimov_q_unbinned(w0, biased, sums, bench.single_monomials(1, 0, g))

    _, _, iv = bench.scan_interval(q_of)
    exact = 2 * _unbinned_half_width(n, 3.84)
    assert iv["width"]["95"] > 1.05 * exact
    assert iv["q_min"] <= 0.0
    # with its own normalisation ν̂ = Σ w0 r̂ the Asimov minimum is back at zero (Gibbs inequality)
    sums_hat = w0 @ np.column_stack([np.ones(2), biased])

    def q_hat(g: np.ndarray) -> np.ndarray:
        return bench.asimov_q_unbinned(w0, biased, sums_hat, bench.single_monomials(1, 0, g))

    iv_hat = bench.scan_interval(q_hat)[2]
    assert iv_hat["q_min"] == pytest.approx(0.0, abs=1e-12)
    assert iv_hat["theta_at_min"] == pytest.approx(0.0, abs=1e-12)
    assert iv_hat["width"]["95"] > exact  # less shape information than the exact ratio
    # shape × rate (exact Poisson rate, shape normalised by ν̂): unbiased, and at least as wide as exact
    g = np.linspace(-0.5, 0.5, 101)
    mono = bench.single_monomials(1, 0, g)
    q_sr = bench.asimov_q_shape_rate(w0, biased, sums, mono)
    assert np.all(q_sr >= -1e-9) and q_sr[50] == pytest.approx(0.0, abs=1e-12)
    assert bench.asimov_q_shape_rate(w0, cols, sums, mono) == pytest.approx(
        bench.asimov_q_unbinned(w0, cols, sums, mono), rel=1e-12, abs=1e-9
    )

    def q_sr_of(v: np.ndarray) -> np.ndarray:
        return bench.asimov_q_shape_rate(w0, biased, sums, bench.single_monomials(1, 0, v))

    iv_sr = bench.scan_interval(q_sr_of)[2]
    assert iv_sr["theta_at_min"] == pytest.approx(0.0, abs=1e-12)
    assert iv_sr["width"]["95"] >= exact * (1 - 1e-4)


def test_single_monomials_and_multi_coefficient_ratio(bench: ModuleType) -> None:
    mono = bench.single_monomials(2, 1, [0.5, -2.0])
    # canonical order: 1, c0, c1, c0², c0c1, c1²
    assert mono.tolist() == [[1.0, 0.0, 0.5, 0.0, 0.0, 0.25], [1.0, 0.0, -2.0, 0.0, 0.0, 4.0]]
    cols = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    assert bench.ratio_on_grid(cols, mono)[0].tolist() == [1.0 + 1.0 + 1.25, 1.0 - 4.0 + 20.0]


def test_closure_table_quantiles(bench: ModuleType) -> None:
    rng = np.random.default_rng(2)
    true = rng.normal(size=(5000, 2)) + np.array([3.0, 0.0])
    learned = true * np.array([1.1, 1.0])
    w0 = rng.uniform(0.5, 1.5, size=5000)
    rows = bench.closure_table(learned, true, w0, ["a", "b"])
    assert rows[0]["rel_quantiles"] == pytest.approx([0.1] * 5, abs=1e-12)
    assert rows[1]["rel_quantiles"] == pytest.approx([0.0] * 5, abs=1e-12)
    q = bench.weighted_quantiles(np.arange(1000.0), np.ones(1000), [0.16, 0.5, 0.84])
    assert q == pytest.approx([159.5, 499.5, 839.5], abs=1e-9)
