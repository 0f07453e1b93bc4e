"""Morphing: per-event structure constants from weights at benchmark points.

Every event weight is a quadratic polynomial in the ``n`` Wilson coefficients, so the weights
``W`` (shape ``N × K``) at ``K`` benchmark points ``θ^(k)`` satisfy ``W = C Bᵀ`` with ``B`` the
``K × T`` matrix of monomials (:func:`rooeft.terms.monomials`, canonical term order) and ``C`` the
``N × T`` structure constants. :class:`Morphing` solves this by least squares for all events at
once, ``C = W (B⁺)ᵀ``, with one pseudo-inverse of the column-equilibrated ``B``.

The quality of a benchmark set is its condition number, computed after scaling every monomial
column of ``B`` to unit norm (so it does not depend on the units of θ); sets with ``K < T``,
duplicated points, rank deficiency or a condition number above ``max_condition`` are refused.

>>> import numpy as np
>>> points = [[0.0], [1.0], [-1.0], [2.0]]
>>> m = Morphing(points, coefficients=["cHW"])
>>> true = np.array([[1.0, 0.5, 0.25], [2.0, -1.0, 3.0]])   # (sm, cHW, cHW*cHW) per event
>>> weights = true @ m.matrix.T                               # weights at the 4 benchmarks
>>> np.allclose(m.solve(weights), true)
True
>>> m.residual(weights, m.solve(weights)) < 1e-12
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rooeft.samples.errors import SampleError
from rooeft.terms import monomials, n_terms, term_labels

__all__ = ["DEFAULT_MAX_CONDITION", "Morphing", "MorphingResult", "morphing_residual", "solve_morphing"]

DEFAULT_MAX_CONDITION = 1.0e6
"""Largest accepted condition number: with float32-stored weights (relative precision ~6e-8)
the structure constants then keep ~1e-2 relative precision in the worst direction; with float64
weights ~1e-10."""

F64 = npt.NDArray[np.float64]


def _as_points(points: npt.ArrayLike, coefficients: Sequence[str] | None) -> F64:
    pts = np.array(points, dtype=np.float64)
    if pts.ndim == 1:
        pts = pts[:, None]
    if pts.ndim != 2 or pts.shape[0] == 0:
        raise SampleError(f"benchmark points must have shape (K, n), got {np.shape(points)}")
    if coefficients is not None and pts.shape[1] != len(coefficients):
        raise SampleError(
            f"inconsistent benchmark definition: the points have {pts.shape[1]} coordinates "
            f"but there are {len(coefficients)} coefficients {list(coefficients)}"
        )
    if not np.all(np.isfinite(pts)):
        raise SampleError("benchmark points contain NaN or inf")
    return pts


def morphing_residual(weights: npt.ArrayLike, points: npt.ArrayLike, structure_constants: npt.ArrayLike) -> float:
    """Largest relative difference between benchmark weights and their polynomial prediction.

    The difference of event ``i`` at benchmark ``k`` is divided by the event's largest absolute
    weight over the given benchmarks (``max_k |w_ik|``), which stays meaningful when one weight
    crosses zero. Events whose weights are all zero contribute their absolute difference.

    >>> morphing_residual([[1.0, 2.0]], [[0.0], [1.0]], [[1.0, 1.0, 0.0]])
    0.0
    >>> morphing_residual([[1.0, 2.5]], [[0.0], [1.0]], [[1.0, 1.0, 0.0]])
    0.2
    """
    w = np.asarray(weights, dtype=np.float64)
    pts = _as_points(points, None)
    c = np.asarray(structure_constants, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != pts.shape[0] or c.ndim != 2 or c.shape[0] != w.shape[0]:
        raise SampleError(f"shapes do not match: weights {w.shape}, points {pts.shape}, constants {c.shape}")
    if w.size == 0:
        return 0.0
    pred = c @ monomials(pts).T
    scale = np.max(np.abs(w), axis=1, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    return float(np.max(np.abs(pred - w) / scale))


@dataclass(frozen=True)
class MorphingResult:
    """Solved structure constants and the diagnostics of the solution."""

    structure_constants: F64
    """``(N, T)`` per-event structure constants in canonical order."""
    condition_number: float
    """Condition number of the used benchmark matrix after column equilibration."""
    raw_condition_number: float
    """Condition number of the used benchmark matrix as given (depends on the units of θ)."""
    residual: float | None
    """Max relative residual on the held-out benchmarks (``None`` if none was held out)."""
    fit_residual: float
    """Max relative residual on the benchmarks used in the fit (0 when ``K == T``)."""


class Morphing:
    """A validated benchmark set and its least-squares solver.

    Parameters
    ----------
    points
        ``(K, n)`` benchmark points θ^(k).
    coefficients
        Names of the ``n`` coefficients (the point coordinates, in order).
    max_condition
        Refuse the set if its (equilibrated) condition number exceeds this.
    holdout
        Indices of benchmarks not used in the fit, only to verify it (:meth:`solve_verified`).

    Raises
    ------
    SampleError
        Wrong number of coordinates, duplicated points, fewer than ``T`` fitted benchmarks,
        rank deficiency or ill-conditioning; the message gives the reason.

    Examples
    --------
    >>> Morphing([[0.0], [1.0]], coefficients=["c"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rooeft.samples.errors.SampleError: under-determined morphing: 2 benchmarks used for 3 terms ...
    >>> m = Morphing([[0.0], [1.0], [-1.0], [3.0]], coefficients=["c"], holdout=[3])
    >>> round(m.condition_number, 2), m.used, m.holdout
    (3.15, (0, 1, 2), (3,))
    """

    def __init__(
        self,
        points: npt.ArrayLike,
        *,
        coefficients: Sequence[str],
        max_condition: float = DEFAULT_MAX_CONDITION,
        holdout: Sequence[int] = (),
    ) -> None:
        self.coefficients = tuple(coefficients)
        self.points = _as_points(points, self.coefficients)
        self.points.flags.writeable = False
        k_all, n = self.points.shape
        t = n_terms(n)
        _, inverse, counts = np.unique(self.points, axis=0, return_inverse=True, return_counts=True)
        if np.any(counts > 1):
            dup = np.flatnonzero(counts[inverse.ravel()] > 1).tolist()
            raise SampleError(f"inconsistent benchmark definition: duplicated benchmark points at indices {dup}")
        hold = sorted({int(i) for i in holdout})
        if any(i < 0 or i >= k_all for i in hold):
            raise SampleError(f"holdout indices {hold} out of range for {k_all} benchmarks")
        self.holdout = tuple(hold)
        self.used = tuple(i for i in range(k_all) if i not in set(hold))
        labels = term_labels(self.coefficients)
        if len(self.used) < t:
            raise SampleError(
                f"under-determined morphing: {len(self.used)} benchmarks used for {t} terms {labels} (need K >= {t})"
            )
        self.matrix: F64 = monomials(self.points)
        self.matrix.flags.writeable = False
        b = self.matrix[list(self.used)]
        norms = np.linalg.norm(b, axis=0)
        if np.any(norms == 0):
            zero = [labels[j] for j in np.flatnonzero(norms == 0)]
            raise SampleError(f"rank-deficient morphing: the benchmarks do not constrain the terms {zero}")
        scaled = b / norms
        sv = np.linalg.svd(scaled, compute_uv=False)
        self.condition_number = float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")
        sv_raw = np.linalg.svd(b, compute_uv=False)
        self.raw_condition_number = float(sv_raw[0] / sv_raw[-1]) if sv_raw[-1] > 0 else float("inf")
        rank = int(np.sum(sv > sv[0] * t * np.finfo(np.float64).eps))
        if rank < t:
            raise SampleError(
                f"rank-deficient morphing: the {len(self.used)} benchmarks determine only {rank} of the "
                f"{t} terms {labels}"
            )
        if not self.condition_number <= max_condition:
            raise SampleError(
                f"ill-conditioned morphing: condition number {self.condition_number:.3g} exceeds "
                f"max_condition={max_condition:.3g}; choose benchmarks spread over all directions"
            )
        # C = W (B⁺)ᵀ with B⁺ = D⁻¹ (B D⁻¹)⁺ ; stored transposed as a (K_used, T) matrix
        self._solver: F64 = (np.linalg.pinv(scaled) / norms[:, None]).T

    @property
    def n_terms(self) -> int:
        """Number of terms ``T``."""
        return int(self.matrix.shape[1])

    def solve(self, weights: npt.ArrayLike) -> F64:
        """Structure constants ``(N, T)`` from the ``(N, K)`` weights at all ``K`` benchmarks.

        Only the columns of the fitted benchmarks are used.
        """
        w = self._check_weights(weights)
        return np.asarray(w[:, list(self.used)] @ self._solver, dtype=np.float64)

    def residual(self, weights: npt.ArrayLike, structure_constants: npt.ArrayLike, *, which: str = "all") -> float:
        """Max relative residual (see :func:`morphing_residual`) on ``"all"``, ``"used"`` or
        ``"holdout"`` benchmarks."""
        w = self._check_weights(weights)
        idx = {"all": range(len(self.points)), "used": self.used, "holdout": self.holdout}[which]
        cols = list(idx)
        if not cols:
            return 0.0
        return morphing_residual(w[:, cols], self.points[cols], structure_constants)

    def solve_verified(self, weights: npt.ArrayLike, *, max_residual: float | None = None) -> MorphingResult:
        """Solve and verify on the held-out benchmarks; refuse if the residual is above ``max_residual``."""
        w = self._check_weights(weights)
        c = self.solve(w)
        res = self.residual(w, c, which="holdout") if self.holdout else None
        if res is not None and max_residual is not None and not res <= max_residual:
            raise SampleError(
                f"morphing does not reproduce the held-out benchmarks {list(self.holdout)}: max relative "
                f"residual {res:.3g} > {max_residual:.3g} (weights not quadratic in the coefficients, "
                "or wrong benchmark points)"
            )
        return MorphingResult(
            structure_constants=c,
            condition_number=self.condition_number,
            raw_condition_number=self.raw_condition_number,
            residual=res,
            fit_residual=self.residual(w, c, which="used"),
        )

    def _check_weights(self, weights: npt.ArrayLike) -> F64:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != len(self.points):
            raise SampleError(
                f"inconsistent benchmark definition: weights have shape {w.shape}, expected (N, {len(self.points)})"
            )
        if not np.all(np.isfinite(w)):
            raise SampleError("benchmark weights contain NaN or inf")
        return w


def solve_morphing(
    weights: npt.ArrayLike,
    points: npt.ArrayLike,
    *,
    coefficients: Sequence[str],
    max_condition: float = DEFAULT_MAX_CONDITION,
    holdout: Sequence[int] = (),
    max_residual: float | None = None,
) -> MorphingResult:
    """One-call morphing: validate the benchmarks, solve, verify on ``holdout``.

    >>> import numpy as np
    >>> pts = np.array([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [2, -1]], dtype=float)
    >>> c_true = np.array([[1.0, 0.1, -0.2, 0.3, 0.05, 0.4]])
    >>> w = c_true @ monomials(pts).T
    >>> r = solve_morphing(w, pts, coefficients=["a", "b"], holdout=[6], max_residual=1e-9)
    >>> bool(np.allclose(r.structure_constants, c_true)), r.residual < 1e-12
    (True, True)
    """
    m = Morphing(points, coefficients=coefficients, max_condition=max_condition, holdout=holdout)
    return m.solve_verified(weights, max_residual=max_residual)
