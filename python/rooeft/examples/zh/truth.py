"""Truth API: exact parton-level ratios, scores and densities for closure tests.

For a signal event with partonic variables ``z`` (the ``truth_*`` columns of the generated
files) the model weight is the exact quadratic polynomial ``w(z|theta)`` of
:mod:`rooeft.examples.zh.model`, so

* the **joint ratio** ``r(z|theta) = w(z|theta) / w(z|0)``
  (:func:`ratio`) and
* the **joint score** ``t_a(z|theta0) = d log w(z|theta) / d theta_a`` at ``theta0``
  (:func:`score`, analytic from the polynomial)

are known exactly. They are what a network trained on the reconstructed features learns in
expectation (``E[r(z|theta) | x]`` under the SM, etc.). The background has no EFT dependence;
its exact normalised density is :func:`background_density`.

Arguments named ``events`` are mappings holding the partonic variables, either with the
``truth_`` prefix (as read from a file) or without it.

>>> import numpy as np
>>> ev = {"truth_sqrt_s_hat": np.array([1000.0]), "truth_y": np.array([0.2]), "truth_cos_theta": np.array([0.3]),
...       "truth_phi_hat": np.array([0.8]), "truth_cos_theta_hat": np.array([-0.5])}
>>> ratio(ev, [0.0, 0.0, 0.0]).tolist()
[1.0]
>>> bool(ratio(ev, [0.1, 0.0, 0.0])[0] > 1.0)
True
>>> score(ev, [0.0, 0.0, 0.0]).shape
(1, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.examples.zh import background
from rooeft.examples.zh.model import COEFFICIENTS, gradient, structure_constants, weights
from rooeft.examples.zh.pdf import CHEBYSHEV, PartonDensities

__all__ = [
    "background_density",
    "ratio",
    "ratio_from_structure_constants",
    "score",
    "score_from_structure_constants",
    "signal_structure_constants",
]

F64 = npt.NDArray[np.float64]
_SIGNAL_VARIABLES = ("sqrt_s_hat", "y", "cos_theta", "phi_hat", "cos_theta_hat")


def _column(events: Mapping[str, Any], name: str) -> F64:
    for key in (f"truth_{name}", name):
        if key in events:
            return np.asarray(events[key], dtype=np.float64)
    raise KeyError(f"events have neither 'truth_{name}' nor '{name}'")


def _theta(theta: npt.ArrayLike, name: str = "theta") -> F64:
    th = np.asarray(theta, dtype=np.float64)
    if th.shape != (len(COEFFICIENTS),) or not np.all(np.isfinite(th)):
        raise ValueError(f"{name} must be {len(COEFFICIENTS)} finite numbers {COEFFICIENTS}, got {theta!r}")
    return th


def signal_structure_constants(
    events: Mapping[str, Any], *, pdfs: PartonDensities = CHEBYSHEV, jacobian: bool = False
) -> F64:
    """Exact model structure constants ``(n, 10)`` (arbitrary units) from the truth variables."""
    return structure_constants(*(_column(events, v) for v in _SIGNAL_VARIABLES), pdfs=pdfs, jacobian=jacobian)


def ratio_from_structure_constants(sc: npt.ArrayLike, theta: npt.ArrayLike) -> F64:
    """``w(theta) / w(0)`` per event from structure constants (any common per-event scale).

    >>> ratio_from_structure_constants([[2.0, 1, 0, 0, 0.5, 0, 0, 0, 0, 0]], [1.0, 0, 0]).tolist()
    [1.75]
    """
    arr = np.asarray(sc, dtype=np.float64)
    return np.asarray(weights(arr, _theta(theta)) / arr[:, 0], dtype=np.float64)


def score_from_structure_constants(sc: npt.ArrayLike, theta0: npt.ArrayLike) -> F64:
    """``d log w / d theta_a`` at ``theta0``, shape ``(n, 3)``, from structure constants.

    >>> score_from_structure_constants([[2.0, 1, 0, 0, 0.5, 0, 0, 0, 0, 0]], [0.0, 0, 0]).tolist()
    [[0.5, 0.0, 0.0]]
    """
    arr = np.asarray(sc, dtype=np.float64)
    th = _theta(theta0, "theta0")
    return np.asarray(gradient(arr, th) / weights(arr, th)[:, None], dtype=np.float64)


def ratio(events: Mapping[str, Any], theta: npt.ArrayLike, *, pdfs: PartonDensities = CHEBYSHEV) -> F64:
    """Exact joint ratio ``r(z|theta) = w(z|theta)/w(z|0)`` of signal events."""
    return ratio_from_structure_constants(signal_structure_constants(events, pdfs=pdfs), theta)


def score(events: Mapping[str, Any], theta0: npt.ArrayLike, *, pdfs: PartonDensities = CHEBYSHEV) -> F64:
    """Exact joint score ``t(z|theta0) = grad_theta log w(z|theta)`` at ``theta0``, shape ``(n, 3)``."""
    return score_from_structure_constants(signal_structure_constants(events, pdfs=pdfs), theta0)


def background_density(events: Mapping[str, Any]) -> F64:
    """Exact normalised density of the background in its truth variables.

    See :mod:`rooeft.examples.zh.background` (variables ``m_bb, sqrt_s_hat, y, cos_theta,
    cos_theta_hat, phi_hat``).
    """
    return background.density(*(_column(events, v) for v in background.DENSITY_VARIABLES))
