"""Canonical ordering of the quadratic EFT terms (DESIGN.md §1.1).

Every part of rooeft (structure constants of samples, network outputs, template coefficients and
the C++ classes) orders the ``(n+1)(n+2)/2`` terms of a quadratic polynomial in ``n``
coefficients the same way::

    [ 1,  θ_0, …, θ_{n-1},  θ_0θ_0, θ_0θ_1, …, θ_0θ_{n-1}, θ_1θ_1, …, θ_{n-1}θ_{n-1} ]

i.e. the constant, the linear terms, then the quadratic pairs ``(a, b)`` with ``a ≤ b`` in
row-major order.

>>> n_terms(3)
10
>>> quadratic_pairs(2)
[(0, 0), (0, 1), (1, 1)]
>>> term_labels(["cHW", "cHWtil"])
['sm', 'cHW', 'cHWtil', 'cHW*cHW', 'cHW*cHWtil', 'cHWtil*cHWtil']
>>> monomials([2.0, 3.0]).tolist()
[1.0, 2.0, 3.0, 4.0, 6.0, 9.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["monomials", "n_terms", "quadratic_pairs", "term_labels"]


def n_terms(n_coefficients: int) -> int:
    """Number of terms of a quadratic polynomial in ``n_coefficients`` variables."""
    if n_coefficients < 0:
        raise ValueError(f"number of coefficients must be >= 0, got {n_coefficients}")
    return (n_coefficients + 1) * (n_coefficients + 2) // 2


def quadratic_pairs(n_coefficients: int) -> list[tuple[int, int]]:
    """The ``(a, b)`` index pairs with ``a <= b`` in canonical (row-major) order."""
    return [(a, b) for a in range(n_coefficients) for b in range(a, n_coefficients)]


def term_labels(coefficients: Sequence[str]) -> list[str]:
    """Human-readable labels of the terms: ``sm``, ``c``, ``c*d``."""
    names = list(coefficients)
    labels = ["sm", *names]
    labels += [f"{names[a]}*{names[b]}" for a, b in quadratic_pairs(len(names))]
    return labels


def monomials(theta: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Values of the monomials ``[1, θ_a, θ_aθ_b]`` in canonical order.

    ``theta`` may be one point (shape ``(n,)``) or many (shape ``(m, n)``); the result has shape
    ``(n_terms,)`` or ``(m, n_terms)``. A polynomial with coefficients ``c`` in canonical order is
    ``monomials(theta) @ c``.
    """
    t = np.asarray(theta, dtype=np.float64)
    single = t.ndim == 1
    t2 = np.atleast_2d(t)
    n = t2.shape[1]
    cols = [np.ones(t2.shape[0])] + [t2[:, a] for a in range(n)]
    cols += [t2[:, a] * t2[:, b] for a, b in quadratic_pairs(n)]
    out = np.stack(cols, axis=1)
    return out[0] if single else out
