"""Physics consistency checks run by the workspace builder before any RooFit object is made.

Each check raises :class:`CheckError` (a ``ValueError``) with one line naming the channel,
process, column, bins or coefficient point concerned. See ``docs/errors.md``.

Positivity over the coefficient box
-----------------------------------
A yield (of a process, or of one bin) is a quadratic ``q(θ) = c·monomials(θ)`` in the
coefficients. :func:`box_minimum` finds its minimum over the configured box exactly for up to
:data:`EXACT_MAX_COEFFICIENTS` coefficients: the minimum of a quadratic over a box lies at a point
where every coordinate is at its lower bound, at its upper bound, or where the derivative along it
vanishes, so enumerating the ``3^n`` faces and solving the linear stationarity system on each
covers every candidate. For more coefficients a *sufficient* interval bound is used (each monomial
bounded separately over the box); a yield that may be negative then fails the check even if it
would not, and the message says so.

>>> import numpy as np
>>> box_minimum(np.array([1.0, -1.0, 0.2]), [(-3.0, 3.0)])    # 1 - θ + 0.2 θ², minimum at θ = 2.5
(-0.25, (2.5,))
>>> box_minimum(np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]), [(-1.0, 1.0), (-1.0, 1.0)])[0]   # 1 + θ0 θ1
0.0
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from rooeft.terms import monomials, n_terms, quadratic_pairs

__all__ = [
    "EXACT_MAX_COEFFICIENTS",
    "FRACTION_TOLERANCE",
    "W_SM_TOLERANCE",
    "CheckError",
    "box_minimum",
    "check_bins",
    "check_network_outputs",
    "check_positive_over_box",
    "check_w_sm",
]

F64 = npt.NDArray[np.float64]
EXACT_MAX_COEFFICIENTS = 8
W_SM_TOLERANCE = 1e-3
"""Largest accepted relative difference between the sums of ``w_sm`` and of the nominal weight."""
FRACTION_TOLERANCE = 1e-6
"""Process fractions may leave [0, 1] by this much (float32 rounding)."""


class CheckError(ValueError):
    """An input fails a physics consistency check."""


def _split(c: F64, n: int) -> tuple[float, F64, F64]:
    """Constant, gradient vector and symmetric matrix Q of q(θ) = c0 + g·θ + θᵀQθ."""
    g = np.asarray(c[1 : n + 1], dtype=np.float64)
    q = np.zeros((n, n))
    for k, (a, b) in enumerate(quadratic_pairs(n)):
        v = float(c[n + 1 + k])
        if a == b:
            q[a, a] += v
        else:
            q[a, b] += 0.5 * v
            q[b, a] += 0.5 * v
    return float(c[0]), g, q


def box_minimum(c: npt.ArrayLike, box: Sequence[tuple[float, float]]) -> tuple[float, tuple[float, ...]]:
    """Minimum of the quadratic with canonical coefficients ``c`` over ``box`` and where it is.

    Exact for up to :data:`EXACT_MAX_COEFFICIENTS` coefficients; beyond, a lower bound (the
    returned point is then the box corner of the smallest linear part).
    """
    coef = np.asarray(c, dtype=np.float64)
    n = len(box)
    lo = np.array([b[0] for b in box], dtype=np.float64)
    hi = np.array([b[1] for b in box], dtype=np.float64)
    c0, g, q = _split(coef, n)
    if n == 0:
        return c0, ()
    if n > EXACT_MAX_COEFFICIENTS:
        bound = c0 + float(np.sum(np.minimum(g * lo, g * hi)))
        for k, (a, b) in enumerate(quadratic_pairs(n)):
            v = float(coef[n + 1 + k])
            if a == b:
                sq = [lo[a] ** 2, hi[a] ** 2] + ([0.0] if lo[a] <= 0 <= hi[a] else [])
                bound += min(v * s for s in sq)
            else:
                bound += min(v * x * y for x in (lo[a], hi[a]) for y in (lo[b], hi[b]))
        corner = tuple(float(lo[i] if g[i] > 0 else hi[i]) for i in range(n))
        return bound, corner
    best, where = np.inf, lo.copy()

    def value(t: F64) -> float:
        return float(c0 + g @ t + t @ q @ t)

    for choice in itertools.product((0, 1, 2), repeat=n):  # 0: at lo, 1: at hi, 2: free
        t = np.where(np.array(choice) == 0, lo, hi).astype(np.float64)
        free = [i for i in range(n) if choice[i] == 2]
        if free:
            fixed = [i for i in range(n) if choice[i] != 2]
            # d/dθ_f: g_f + 2 Σ_j Q_fj θ_j = 0 for the free f
            hess = 2.0 * q[np.ix_(free, free)]
            rhs = -g[free] - 2.0 * q[np.ix_(free, fixed)] @ t[fixed]
            sol, *_ = np.linalg.lstsq(hess, rhs, rcond=None)
            if not np.allclose(hess @ sol, rhs, rtol=1e-9, atol=1e-12):
                continue
            if np.any(sol < lo[free] - 1e-12) or np.any(sol > hi[free] + 1e-12):
                continue
            t[free] = np.clip(sol, lo[free], hi[free])
        v = value(t)
        if v < best:
            best, where = v, t
    return best, tuple(float(x) for x in where)


def check_positive_over_box(
    polynomials: Mapping[str, npt.ArrayLike], box: Mapping[str, tuple[float, float]], *, what: str
) -> None:
    """Every polynomial (label → canonical coefficients relative to the SM) stays positive on the box.

    ``what`` names the channel in the message.
    """
    names = list(box)
    bounds = [box[k] for k in names]
    bad = []
    for label, c in polynomials.items():
        m, at = box_minimum(c, bounds)
        if not m > 0:
            bad.append((label, m, at))
    if bad:
        label, m, at = bad[0]
        point = ", ".join(f"{k}={v:.4g}" for k, v in zip(names, at, strict=True))
        exact = len(names) <= EXACT_MAX_COEFFICIENTS
        others = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise CheckError(
            f"{what}: the expected yield of {label}{others} becomes "
            + (f"{m:.4g} × SM at {point}" if exact else f"possibly negative (lower bound {m:.4g} × SM)")
            + " inside the coefficient ranges; narrow the coefficient 'range' or fix the quadratic terms"
        )


def check_w_sm(sum_weight: float, sum_w_sm: float, *, what: str) -> None:
    """The SM structure constant and the nominal weight describe the same yield."""
    rel = abs(sum_w_sm - sum_weight) / max(abs(sum_weight), 1e-300)
    if not rel <= W_SM_TOLERANCE:
        raise CheckError(
            f"{what}: the sum of w_sm ({sum_w_sm:.6g}) differs from the sum of the nominal weight "
            f"({sum_weight:.6g}) by {rel:.2%} (tolerance {W_SM_TOLERANCE:.1%}); fix the inputs, or set "
            "'w_sm_mismatch: use_weight' on the process to rescale the EFT weights to the nominal weight"
        )


def check_bins(
    edges: Sequence[float],
    totals: F64,
    per_process: Mapping[str, F64],
    *,
    what: str,
    allow_negative_process_bins: bool = False,
) -> None:
    """Every bin has a positive total expectation; per-process bins are non-negative unless allowed."""
    e = list(edges)

    def rng(idx: Sequence[int]) -> str:
        shown = ", ".join(f"{i} [{e[i]:g}, {e[i + 1]:g})" for i in idx[:5])
        return shown + (f" and {len(idx) - 5} more" if len(idx) > 5 else "")

    empty = [i for i, v in enumerate(totals) if v == 0]
    if empty:
        raise CheckError(
            f"{what}: bin(s) {rng(empty)} hold no expected events; merge them with a neighbour or change 'edges'"
        )
    negative = [i for i, v in enumerate(totals) if not v > 0]
    if negative:
        raise CheckError(
            f"{what}: bin(s) {rng(negative)} have a negative or non-finite total expectation "
            f"({', '.join(f'{totals[i]:.4g}' for i in negative[:5])}); merge bins or change 'edges'"
        )
    if not allow_negative_process_bins:
        for proc, values in per_process.items():
            neg = [i for i, v in enumerate(values) if v < 0]
            if neg:
                raise CheckError(
                    f"{what}, process '{proc}': bin(s) {rng(neg)} have a negative expectation "
                    f"({', '.join(f'{values[i]:.4g}' for i in neg[:5])}); merge bins, or pass "
                    "--allow-negative-process-bins if negative weights (NLO) make this expected"
                )


def _ratio_terms(outputs: F64, index: Mapping[str, int], process: str, coefficients: Sequence[str]) -> F64:
    """The ``(events, terms)`` coefficients of ``r_p(x|θ)`` from a model's ``lin``/``quad``
    columns of ``process`` (absent columns are 0; the SM term is 1)."""
    n = len(coefficients)
    terms = np.zeros((outputs.shape[0], n_terms(n)))
    terms[:, 0] = 1.0
    for a, name in enumerate(coefficients):
        lin = index.get(f"lin:{process}:{name}")
        if lin is not None:
            terms[:, 1 + a] = outputs[:, lin]
    for k, (a, b) in enumerate(quadratic_pairs(n)):
        quad = index.get(f"quad:{process}:{coefficients[a]}:{coefficients[b]}")
        if quad is not None:
            terms[:, 1 + n + k] = outputs[:, quad]
    return terms


def check_network_outputs(
    outputs: F64,
    columns: Sequence[str],
    observables: Mapping[str, F64],
    box: Mapping[str, tuple[float, float]],
    coefficients: Sequence[str],
    *,
    what: str,
) -> None:
    """Refuse non-finite outputs, fractions outside [0, 1], non-positive systematic ratios and a
    per-event ratio ``R(x|θ) = Σ_p π_p(x) r_p(x|θ)`` that is not positive at points of the box.

    The ratio is checked at every point of the grid {low, SM, high}^n of the box (n ≤ 5) or at its
    corners; the message names the number of events and one event with its observables.
    """

    def example(mask: npt.NDArray[np.bool_], col: int | None) -> str:
        idx = np.flatnonzero(mask)
        i = int(idx[0])
        obs = ", ".join(f"{k}={float(v[i]):.4g}" for k, v in list(observables.items())[:4])
        value = f": {columns[col]} = {outputs[i, col]:.4g}" if col is not None else ""
        return f"{idx.size} of {outputs.shape[0]} events, e.g. event {i} ({obs}){value}"

    finite = np.isfinite(outputs)
    if not finite.all():
        col = int(np.flatnonzero(~finite.all(axis=0))[0])
        rows: npt.NDArray[np.bool_] = np.asarray(~finite.all(axis=1))
        raise CheckError(f"{what}: non-finite network output in {example(rows, col)}")
    for j, name in enumerate(columns):
        v = outputs[:, j]
        if name.startswith("frac:"):
            bad = (v < -FRACTION_TOLERANCE) | (v > 1 + FRACTION_TOLERANCE)
            if bad.any():
                raise CheckError(f"{what}: process fraction outside [0, 1] in {example(bad, j)}")
        elif name.startswith(("sysup:", "sysdown:")):
            bad = ~(v > 0)
            if bad.any():
                raise CheckError(f"{what}: systematic ratio not positive in {example(bad, j)}")
    eft = sorted({c.split(":")[1] for c in columns if c.startswith(("lin:", "quad:"))})
    n = len(coefficients)
    if not eft or n == 0:
        return
    index = {c: j for j, c in enumerate(columns)}
    fracs = {c.split(":", 1)[1]: outputs[:, j] for j, c in enumerate(columns) if c.startswith("frac:")}
    if not fracs:  # a single-process model: π = 1
        fracs = {eft[0]: np.ones(outputs.shape[0])}
    grid_axes = [(box[c][0], 0.0 if box[c][0] < 0 < box[c][1] else box[c][0], box[c][1]) for c in coefficients]
    axes = grid_axes if n <= 5 else [(a, c) for a, _, c in grid_axes]
    points = list(itertools.product(*axes))
    mono = monomials(np.asarray(points, dtype=np.float64))  # (points, terms)
    total = np.zeros((outputs.shape[0], len(points)))
    for p, frac in fracs.items():
        if p not in eft:
            total += frac[:, None]
            continue
        total += frac[:, None] * (_ratio_terms(outputs, index, p, coefficients) @ mono.T)
    negative: npt.NDArray[np.bool_] = np.asarray((total <= 0).any(axis=1))
    if negative.any():
        bad = negative
        i = int(np.flatnonzero(bad)[0])
        k = int(np.argmin(total[i]))
        at = ", ".join(f"{c}={v:.4g}" for c, v in zip(coefficients, points[k], strict=True))
        raise CheckError(
            f"{what}: the learned ratio R(x|θ) = Σ_p π_p r_p(x|θ) is not positive inside the coefficient ranges "
            f"in {example(bad, None)}: R = {total[i, k]:.4g} at {at}; narrow the coefficient 'range' or retrain"
        )
