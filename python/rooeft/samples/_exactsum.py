"""Exactly rounded sums of float64 arrays that do not depend on order or chunking.

Each value ``x = M · 2**(e-53)`` (``M`` a 53-bit integer from :func:`numpy.frexp`) is split into
two 27-bit integer halves that are accumulated per exponent with :func:`numpy.bincount` (exact in
float64 for blocks of up to 2**24 values) and then in Python integers. The final sum is the exact
sum rounded once, so summing a file chunk by chunk gives bit-for-bit the same result as summing
all events at once.

>>> import numpy as np
>>> x = np.array([1e16, 1.0, -1e16, 1.0])
>>> float(np.sum(x)) == 2.0, exact_sum(x)
(False, 2.0)
>>> acc = ExactSum(1)
>>> acc.add(x[:1, None]); acc.add(x[1:, None])
>>> acc.result().tolist()
[2.0]
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

__all__ = ["ExactSum", "exact_sum"]

_OFFSET = 1100  # frexp exponents of finite doubles lie in [-1073, 1024]
_NBINS = 2 * _OFFSET
_BLOCK = 1 << 24
_HALF = 26


def _column_bins(x: npt.NDArray[np.float64]) -> list[int]:
    """Exact integer sums per exponent bin of one finite column (value = bin << exponent)."""
    totals = [0] * _NBINS
    for start in range(0, x.size, _BLOCK):
        block = x[start : start + _BLOCK]
        mant, expo = np.frexp(block)
        m = np.ldexp(mant, 53).astype(np.int64)
        hi = m >> _HALF
        lo = m - (hi << _HALF)
        idx = expo.astype(np.int64) + _OFFSET
        shi = np.bincount(idx, weights=hi.astype(np.float64), minlength=_NBINS)
        slo = np.bincount(idx, weights=lo.astype(np.float64), minlength=_NBINS)
        for b in np.flatnonzero((shi != 0) | (slo != 0)).tolist():
            totals[b] += (int(shi[b]) << _HALF) + int(slo[b])
    return totals


class ExactSum:
    """Accumulate exact column sums of ``(N, ncols)`` float64 blocks."""

    def __init__(self, ncols: int) -> None:
        self._bins = [[0] * _NBINS for _ in range(ncols)]

    def add(self, block: npt.ArrayLike) -> None:
        """Add the rows of a 2D block (must have ``ncols`` columns and finite values)."""
        arr = np.asarray(block, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(self._bins):
            raise ValueError(f"expected shape (N, {len(self._bins)}), got {arr.shape}")
        for j, bins in enumerate(self._bins):
            col = np.ascontiguousarray(arr[:, j])
            for b, v in enumerate(_column_bins(col)):
                if v:
                    bins[b] += v

    def result(self) -> npt.NDArray[np.float64]:
        """The exactly rounded column sums."""
        out = np.empty(len(self._bins))
        for j, bins in enumerate(self._bins):
            total = Fraction(0)
            for b, v in enumerate(bins):
                if v:
                    total += Fraction(v) * Fraction(2) ** (b - _OFFSET - 53)
            out[j] = float(total)
        return out


def exact_sum(x: npt.ArrayLike) -> float:
    """Exactly rounded sum of a 1D array of finite values."""
    acc = ExactSum(1)
    acc.add(np.asarray(x, dtype=np.float64).reshape(-1, 1))
    return float(acc.result()[0])
