"""A Z+bb-like continuum background with an exact analytic density and no EFT dependence.

The background is described by the signal's variables plus the mass of the bb system,
``z = (m_bb, sqrt_s_hat, y, cos_theta, cos_theta_hat, phi_hat)``, with the normalised density
(with respect to ``dm_bb dsqrt_s_hat dy dcos_theta dcos_theta_hat dphi_hat``)

::

    p(z) = p_m(m_bb) * p_s(sqrt_s_hat | m_bb) * p_y(y | sqrt_s_hat) * p_c(cos_theta) * p_d(cos_theta_hat)

    p_m = exp(-(m_bb - m_lo)/lambda_m) / (lambda_m (1 - exp(-(m_hi - m_lo)/lambda_m))),  m_lo <= m_bb <= m_hi
    p_s = exp(-(sqrt_s_hat - t0)/lambda_s) / (lambda_s (1 - exp(-(sqrt_s_hat_hi - t0)/lambda_s))),
          t0 = m_Z + m_bb <= sqrt_s_hat <= sqrt_s_hat_hi
    p_y = 3/(4 y_max) (1 - y^2/y_max^2),   |y| <= y_max
    p_c = (1 + a cos^2 Theta) / (2 (1 + a/3))
    p_d = 3/(16 pi) (1 + cos^2 theta_hat)     (flat in phi_hat)

with ``y_max = ln(sqrt(s)/sqrt_s_hat)`` and the constants :data:`M_BB_RANGE` ``= (40, 400)`` GeV,
:data:`LAMBDA_M` ``= 80`` GeV, :data:`LAMBDA_S` ``= 150`` GeV, :data:`A_THETA` ``= 2``. It is a
falling ``m_bb`` and ``m_Zbb`` continuum, more central in ``y`` and more forward in ``Theta``
than the signal, with an unpolarised-like Z decay (flat in ``phi_hat``). The remaining angles
(Zh azimuth ``Phi`` and the b direction in the bb rest frame) are uniform, as for the signal.
Four-vectors are built as for the signal (:func:`rooeft.examples.zh.kinematics.final_state` with
``m_bb``).

>>> import numpy as np
>>> ev = sample(np.random.default_rng(1), 3)
>>> sorted(ev)
['Phi', 'cos_theta', 'cos_theta_b', 'cos_theta_hat', 'm_bb', 'phi_b', 'phi_hat', 'sqrt_s_hat', 'y']
>>> bool(np.all(density(**{k: ev[k] for k in DENSITY_VARIABLES}) > 0))
True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rooeft.examples.zh.model import MZ, S_HAT_HI, y_max

__all__ = ["A_THETA", "DENSITY_VARIABLES", "LAMBDA_M", "LAMBDA_S", "M_BB_RANGE", "density", "sample"]

F64 = npt.NDArray[np.float64]

M_BB_RANGE: tuple[float, float] = (40.0, 400.0)
LAMBDA_M = 80.0
LAMBDA_S = 150.0
A_THETA = 2.0
SQRT_S_HAT_HI = float(np.sqrt(S_HAT_HI))
#: Arguments of :func:`density`, in order.
DENSITY_VARIABLES: tuple[str, ...] = ("m_bb", "sqrt_s_hat", "y", "cos_theta", "cos_theta_hat", "phi_hat")


def _truncated_exponential(u: F64, lo: F64 | float, hi: F64 | float, scale: float) -> F64:
    """Inverse CDF of ``exp(-x/scale)`` on ``[lo, hi]``."""
    span = np.asarray(hi) - np.asarray(lo)
    return np.asarray(lo - scale * np.log1p(-u * (-np.expm1(-span / scale))), dtype=np.float64)


def _one_plus_a_c2(u: F64, a: float) -> F64:
    """Inverse CDF of ``(1 + a c^2)`` on ``[-1, 1]``: the real root of ``c^3 + p c + q = 0``."""
    r = (2.0 * u - 1.0) * (1.0 + a / 3.0)
    p = 3.0 / a
    q = -3.0 * r / a
    disc = np.sqrt(q * q / 4.0 + p**3 / 27.0)
    return np.asarray(np.clip(np.cbrt(-q / 2.0 + disc) + np.cbrt(-q / 2.0 - disc), -1.0, 1.0), dtype=np.float64)


def sample(rng: np.random.Generator, n: int) -> dict[str, F64]:
    """Draw ``n`` background events from :func:`density` (plus the uniform decay angles)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    u = rng.random((8, n))
    lo, hi = M_BB_RANGE
    m_bb = _truncated_exponential(u[0], lo, hi, LAMBDA_M)
    threshold = MZ + m_bb
    rs = _truncated_exponential(u[1], threshold, SQRT_S_HAT_HI, LAMBDA_S)
    median3 = np.median(rng.uniform(-1.0, 1.0, (3, n)), axis=0)  # density 3/4 (1 - v^2)
    return {
        "m_bb": m_bb,
        "sqrt_s_hat": rs,
        "y": median3 * y_max(rs),
        "cos_theta": _one_plus_a_c2(u[2], A_THETA),
        "cos_theta_hat": _one_plus_a_c2(u[3], 1.0),
        "phi_hat": np.pi * (2.0 * u[4] - 1.0),
        "Phi": 2.0 * np.pi * u[5],
        "cos_theta_b": 2.0 * u[6] - 1.0,
        "phi_b": np.pi * (2.0 * u[7] - 1.0),
    }


def density(
    m_bb: npt.ArrayLike,
    sqrt_s_hat: npt.ArrayLike,
    y: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    cos_theta_hat: npt.ArrayLike,
    phi_hat: npt.ArrayLike,
) -> F64:
    """Exact normalised background density (see the module docstring); 0 outside the support.

    >>> float(density(100.0, 400.0, 0.0, 0.0, 0.0, 0.0)) > 0, float(density(100.0, 150.0, 0.0, 0.0, 0.0, 0.0))
    (True, 0.0)
    """
    m = np.asarray(m_bb, dtype=np.float64)
    rs = np.asarray(sqrt_s_hat, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    c = np.asarray(cos_theta, dtype=np.float64)
    ch = np.asarray(cos_theta_hat, dtype=np.float64)
    ph = np.asarray(phi_hat, dtype=np.float64)
    lo, hi = M_BB_RANGE
    threshold = MZ + m
    with np.errstate(divide="ignore", invalid="ignore"):
        ym = y_max(np.maximum(rs, 1e-9))
        p_m = np.exp(-(m - lo) / LAMBDA_M) / (LAMBDA_M * -np.expm1(-(hi - lo) / LAMBDA_M))
        p_s = np.exp(-(rs - threshold) / LAMBDA_S) / (LAMBDA_S * -np.expm1(-(SQRT_S_HAT_HI - threshold) / LAMBDA_S))
        p_y = 0.75 / ym * (1.0 - (ya / ym) ** 2)
    p_c = (1.0 + A_THETA * c * c) / (2.0 * (1.0 + A_THETA / 3.0))
    p_dec = 3.0 / (16.0 * np.pi) * (1.0 + ch * ch)
    inside = (
        (m >= lo)
        & (m <= hi)
        & (rs >= threshold)
        & (rs <= SQRT_S_HAT_HI)
        & (np.abs(ya) <= ym)
        & (np.abs(c) <= 1)
        & (np.abs(ch) <= 1)
        & (np.abs(ph) <= np.pi)
    )
    return np.asarray(np.where(inside, p_m * p_s * p_y * p_c * p_dec, 0.0), dtype=np.float64)
