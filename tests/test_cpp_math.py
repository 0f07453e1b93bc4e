"""The interpolation formulas of RooEFT/Math.h against slow numerical references."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reference import code4_add, code4_mult, exp_interp


@pytest.mark.parametrize("k_up,k_down", [(1.1, 0.9), (1.3, 0.95), (0.8, 1.1), (2.0, 0.4)])
def test_code4_mult_matches_reference_and_is_smooth(ROOT: Any, k_up: float, k_down: float) -> None:
    f = ROOT.RooEFT.Math.code4Mult
    for a in np.linspace(-3, 3, 61):
        assert f(a, k_up, k_down) == pytest.approx(code4_mult(a, k_up, k_down), rel=1e-12)
    assert f(0.0, k_up, k_down) == 1.0
    assert f(1.0, k_up, k_down) == pytest.approx(k_up)
    assert f(-1.0, k_up, k_down) == pytest.approx(k_down)
    h = 1e-4
    for edge in (-1.0, 1.0):  # value, first and second derivative continuous at ±1
        left = [f(edge - h - k * h, k_up, k_down) for k in range(3)]
        right = [f(edge + h + k * h, k_up, k_down) for k in range(3)]
        d1l, d1r = (left[0] - left[1]) / h, (right[1] - right[0]) / h
        assert d1l == pytest.approx(d1r, rel=1e-2, abs=1e-3)
        d2l = (left[0] - 2 * left[1] + left[2]) / h**2
        d2r = (right[2] - 2 * right[1] + right[0]) / h**2
        assert d2l == pytest.approx(d2r, rel=5e-2, abs=5e-2)


def test_code4_mult_is_positive(ROOT: Any) -> None:
    rng = np.random.default_rng(0)
    for _ in range(2000):
        k_up, k_down = rng.uniform(0.5, 1.5, size=2)
        assert ROOT.RooEFT.Math.code4Mult(rng.uniform(-5, 5), k_up, k_down) > 0


@pytest.mark.parametrize("up,down", [(12.0, 9.0), (11.0, 10.5), (8.0, 7.0)])
def test_code4_add_matches_reference(ROOT: Any, up: float, down: float) -> None:
    for a in np.linspace(-2.5, 2.5, 51):
        assert ROOT.RooEFT.Math.code4Add(a, 10.0, up, down) == pytest.approx(code4_add(a, 10.0, up, down), abs=1e-11)


def test_monomials_follow_the_canonical_order(ROOT: Any) -> None:
    from rooeft.terms import monomials

    theta = np.array([0.3, -1.2, 2.0])
    out = np.zeros(10)
    ROOT.RooEFT.Math.monomials(theta, 3, out)
    np.testing.assert_allclose(out, monomials(theta), rtol=1e-15)


@pytest.mark.parametrize("k_up,k_down", [(1.1, 0.9), (1.3, 0.95), (0.8, 1.1), (2.0, 0.4)])
def test_exp_interp_is_smooth_positive_and_exact_outside(ROOT: Any, k_up: float, k_down: float) -> None:
    f = ROOT.RooEFT.Math.expInterp
    for a in np.linspace(-3, 3, 61):
        assert f(a, k_up, k_down) == pytest.approx(exp_interp(a, k_up, k_down), rel=1e-12)
        assert f(a, k_up, k_down) > 0
    assert f(0.0, k_up, k_down) == 1.0
    assert f(1.0, k_up, k_down) == pytest.approx(k_up, rel=1e-14)
    assert f(-1.0, k_up, k_down) == pytest.approx(k_down, rel=1e-14)
    assert f(2.5, k_up, k_down) == pytest.approx(k_up**2.5, rel=1e-14)
    assert f(-1.7, k_up, k_down) == pytest.approx(k_down**1.7, rel=1e-14)
    h = 1e-4
    for edge in (-1.0, 1.0):
        left = [f(edge - h - k * h, k_up, k_down) for k in range(3)]
        right = [f(edge + h + k * h, k_up, k_down) for k in range(3)]
        assert (left[0] - left[1]) / h == pytest.approx((right[1] - right[0]) / h, rel=1e-2, abs=1e-3)
        d2l = (left[0] - 2 * left[1] + left[2]) / h**2
        d2r = (right[2] - 2 * right[1] + right[0]) / h**2
        assert d2l == pytest.approx(d2r, rel=5e-2, abs=5e-2)


def test_ratio_batch_is_one_exponential_of_a_dot_product(ROOT: Any) -> None:
    """ratioBatch with shape nuisances equals the product of per-nuisance expInterp factors, and
    the batch result equals event-by-event (n = 1) evaluation."""
    rng = np.random.default_rng(1)
    n_ev = 37
    s_up, s_down = rng.uniform(0.8, 1.25, size=(n_ev, 3)), rng.uniform(0.8, 1.25, size=(n_ev, 3))
    pi, r1 = rng.uniform(0.1, 0.9, size=n_ev), rng.uniform(-0.5, 0.5, size=n_ev)
    cols = [pi, r1]
    for k in range(3):
        cols += [0.5 * (np.log(s_up[:, k]) - np.log(s_down[:, k])), 0.5 * (np.log(s_up[:, k]) + np.log(s_down[:, k]))]
    cols_f = [np.ascontiguousarray(c, dtype=np.float32) for c in cols]
    nu = np.array([0.4, -1.6, 0.9])
    theta = 0.8
    coef = np.array([1.0, theta])
    sys_coef = np.array([x for v in nu for x in (v, v * ROOT.RooEFT.Math.smoothStep(v))])
    n_t = np.array([2], dtype=np.uint64)
    n_k = np.array([3], dtype=np.uint64)
    ptrs = ROOT.std.vector["const float*"]()
    for c in cols_f:
        ptrs.push_back(c)
    out, tmp, ex = np.zeros(n_ev), np.zeros(n_ev), np.zeros(n_ev)
    ROOT.RooEFT.Math.ratioBatch(ptrs.data(), n_ev, 1, n_t, n_k, coef, sys_coef, out, tmp, ex)
    for i in range(n_ev):
        want = float(cols_f[0][i]) * (1 + theta * float(cols_f[1][i]))
        for k in range(3):
            want *= exp_interp(nu[k], s_up[i, k], s_down[i, k])
        assert out[i] == pytest.approx(want, rel=1e-6)
        one = ROOT.std.vector["const float*"]()
        for c in cols_f:
            one.push_back(c[i:])
        o1 = np.zeros(1)
        ROOT.RooEFT.Math.ratioBatch(one.data(), 1, 1, n_t, n_k, coef, sys_coef, o1, np.zeros(1), np.zeros(1))
        assert o1[0] == pytest.approx(out[i], rel=1e-14)
