"""Slow, obviously-correct reference implementations used by the tests (numpy only).

Nothing here shares code with the C++ library or the fast Python paths: the code-4
interpolation polynomial is found by solving its 6×6 linear system numerically.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def code4_mult(alpha: float, k_up: float, k_down: float) -> float:
    """Multiplicative code-4 factor: exponential outside |α|<1, 6th-order polynomial inside
    matching value, 1st and 2nd derivative of the exponential branches at α = ±1."""
    if alpha >= 1:
        return float(k_up**alpha)
    if alpha <= -1:
        return float(k_down ** (-alpha))
    lu, ld = np.log(k_up), np.log(k_down)
    rows, rhs = [], []
    for x0, f, df, ddf in ((1.0, k_up, k_up * lu, k_up * lu * lu), (-1.0, k_down, -k_down * ld, k_down * ld * ld)):
        rows.append([x0**i for i in range(1, 7)])
        rhs.append(f - 1.0)
        rows.append([i * x0 ** (i - 1) for i in range(1, 7)])
        rhs.append(df)
        rows.append([i * (i - 1) * x0 ** (i - 2) for i in range(1, 7)])
        rhs.append(ddf)
    c = np.linalg.solve(np.array(rows), np.array(rhs))
    return float(1.0 + sum(c[i - 1] * alpha**i for i in range(1, 7)))


def code4_add(alpha: float, nom: float, up: float, down: float) -> float:
    """Additive code-4 shift: linear outside |α|<1, 6th-order polynomial inside matching value,
    1st and 2nd derivative of the linear branches at α = ±1 (and δ(0) = 0)."""
    if alpha >= 1:
        return alpha * (up - nom)
    if alpha <= -1:
        return alpha * (nom - down)
    rows, rhs = [], []
    for x0, slope in ((1.0, up - nom), (-1.0, nom - down)):
        rows.append([x0**i for i in range(1, 7)])
        rhs.append(slope * x0)
        rows.append([i * x0 ** (i - 1) for i in range(1, 7)])
        rhs.append(slope)
        rows.append([i * (i - 1) * x0 ** (i - 2) for i in range(1, 7)])
        rhs.append(0.0)
    c = np.linalg.solve(np.array(rows), np.array(rhs))
    return float(sum(c[i - 1] * alpha**i for i in range(1, 7)))


def quad_poly(theta: Sequence[float], lin: Sequence[float], quad: dict[tuple[int, int], float]) -> float:
    """1 + Σ θ_a lin_a + Σ_{a≤b} θ_aθ_b quad_ab, written out term by term."""
    total = 1.0
    for a, t in enumerate(theta):
        total += t * lin[a]
    for (a, b), v in quad.items():
        total += theta[a] * theta[b] * v
    return total


def exp_interp(nu: float, k_up: float, k_down: float) -> float:
    """Smooth exponential interpolation (per-event systematic ratios of the unbinned pdf):
    k_up**ν above +1, k_down**(-ν) below −1, and in between the exponent ν·A + ν·S(ν)·B with
    A = (ln k_up − ln k_down)/2, B = (ln k_up + ln k_down)/2, S(ν) = (15ν − 10ν³ + 3ν⁵)/8."""
    if nu >= 1:
        return float(k_up**nu)
    if nu <= -1:
        return float(k_down ** (-nu))
    a = 0.5 * (np.log(k_up) - np.log(k_down))
    b = 0.5 * (np.log(k_up) + np.log(k_down))
    step = (15 * nu - 10 * nu**3 + 3 * nu**5) / 8
    return float(np.exp(nu * a + nu * step * b))
