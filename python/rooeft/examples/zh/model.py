"""The leading-order analytic amplitude model of ``pp -> Zh -> (l+l-)(bb)`` (spec §1-6).

Every event is described by five partonic variables (spec §2): ``sqrt_s_hat`` (the Zh invariant
mass, GeV), ``y`` (rapidity of the Zh system), ``cos_theta`` (polar angle of the Z in the Zh frame
w.r.t. the beam-1 direction), ``phi_hat`` and ``cos_theta_hat`` (azimuth and polar angle of the
l- in the Z helicity frame). The event weight is the exact quadratic polynomial (spec §5.1)

.. math:: w(\\mathbf c) = w_0 + \\sum_a c_a w_a + \\sum_{a\\le b} c_a c_b w_{ab}

in the three Wilson coefficients :data:`COEFFICIENTS` ``= (cHQ3, cHW, cHWtil)`` with
``Lambda = 1 TeV``. :func:`structure_constants` returns its ten coefficients per event in the
canonical order of :mod:`rooeft.terms`::

    sm, cHQ3, cHW, cHWtil, cHQ3*cHQ3, cHQ3*cHW, cHQ3*cHWtil, cHW*cHW, cHW*cHWtil, cHWtil*cHWtil

(``w_{ab}`` for ``a < b`` is the coefficient of ``c_a c_b``, i.e. ``2 Re(A_a* A_b)`` summed.)
The longitudinal decay amplitude is ``D_0 = sin(theta_hat)`` as the spec prescribes. Weights are
in the model's arbitrary units; :mod:`rooeft.examples.zh.generator` converts them to expected events.

:func:`reference_weight` / :func:`reference_structure_constants` are a slow, per-event,
explicitly looped implementation with complex amplitudes at a given point ``c``; they exist to
check the vectorised code (tests only).

>>> sc = structure_constants([1000.0], [0.2], [0.3], [0.8], [-0.5], pdfs=UNIT, flavours=("u",))
>>> [f"{v:.6e}" for v in sc[0, :4]]
['4.062199e-08', '7.084778e-07', '4.587593e-08', '2.022291e-08']
>>> float(weights(sc, [0.0, 0.0, 0.0])[0]) == float(sc[0, 0])
True
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from rooeft.examples.zh.pdf import CHEBYSHEV, UNIT, PartonDensities
from rooeft.terms import monomials, n_terms, quadratic_pairs, term_labels

__all__ = [
    "COEFFICIENTS",
    "FEATURES",
    "GZ",
    "LAMBDA",
    "MH",
    "MZ",
    "QUARKS",
    "SQRT_S",
    "S_HAT_HI",
    "S_HAT_MIN",
    "TERM_LABELS",
    "UNIT",
    "angular_features",
    "features",
    "gradient",
    "momentum",
    "reference_structure_constants",
    "reference_weight",
    "structure_constants",
    "weights",
    "x1_x2",
    "y_max",
]

F64 = npt.NDArray[np.float64]
C128 = npt.NDArray[np.complex128]

# ------------------------------------------------------------------------------ constants (§1)
E_CHARGE = 0.3028
SW2 = 0.23122
CW2 = 1.0 - SW2
SW = math.sqrt(SW2)
CW = math.sqrt(CW2)
G = E_CHARGE / SW
GZ = G / CW
VEV = 246.22
MZ = 91.1876
MH = 125.1
SQRT_S = 13000.0
S = SQRT_S**2
LAMBDA = 1000.0
R = VEV**2 / LAMBDA**2
CLIP = 0.03
#: Sampled s-hat range (spec §3), GeV^2.
S_HAT_MIN = (MH + MZ) ** 2
S_HAT_HI = S_HAT_MIN + CLIP * (S - S_HAT_MIN)

#: Wilson coefficients in canonical order.
COEFFICIENTS: tuple[str, ...] = ("cHQ3", "cHW", "cHWtil")
#: Labels of the ten terms (:func:`rooeft.terms.term_labels`).
TERM_LABELS: tuple[str, ...] = tuple(term_labels(COEFFICIENTS))
#: Quark flavours and their (charge, weak isospin).
QUARKS: dict[str, tuple[float, float]] = {
    "d": (-1.0 / 3.0, -0.5),
    "u": (2.0 / 3.0, 0.5),
    "s": (-1.0 / 3.0, -0.5),
    "c": (2.0 / 3.0, 0.5),
    "b": (-1.0 / 3.0, -0.5),
}
#: Charged-lepton Z couplings for the l- helicity tau = +1 / -1.
G_LEPTON: dict[int, float] = {+1: GZ * SW2, -1: GZ * (-0.5 + SW2)}
#: The 15 feature names of spec §6, in order.
FEATURES: tuple[str, ...] = (
    "sqrt_s_hat",
    "pT",
    "y",
    "cos_theta",
    "phi_hat",
    "cos_theta_hat",
    "fLL",
    "f1TT",
    "f2TT",
    "f1LT",
    "f2LT",
    "f1tildeLT",
    "f2tildeLT",
    "fTTprime",
    "ftildeTTprime",
)

_SQRT2 = math.sqrt(2.0)


def _quark_coupling(charge: float, isospin: float, sigma: int) -> float:
    """Z coupling of a quark of helicity ``sigma`` (spec §1)."""
    return -GZ * charge * SW2 if sigma == +1 else GZ * (isospin - charge * SW2)


# ------------------------------------------------------------------------------ kinematics (§2)
def momentum(sqrt_s_hat: npt.ArrayLike, m_recoil: float | npt.ArrayLike = MH) -> tuple[F64, F64]:
    """Z energy ``omega`` and momentum ``k`` in the Zh frame.

    ``m_recoil`` is the mass of the system recoiling against the Z (``m_h`` for the signal).

    >>> omega, k = momentum(1000.0)
    >>> round(float(omega), 4), round(float(k), 4)
    (496.3326, 487.8841)
    """
    rs = np.asarray(sqrt_s_hat, dtype=np.float64)
    mr = np.asarray(m_recoil, dtype=np.float64)
    s_hat = rs * rs
    omega = (s_hat + MZ**2 - mr**2) / (2.0 * rs)
    lam = (s_hat - (mr + MZ) ** 2) * (s_hat - (mr - MZ) ** 2)
    k = np.sqrt(np.clip(lam, 0.0, None)) / (2.0 * rs)
    return np.asarray(omega, dtype=np.float64), np.asarray(k, dtype=np.float64)


def y_max(sqrt_s_hat: npt.ArrayLike) -> F64:
    """Largest |y| of the Zh system, ``ln(sqrt(s) / sqrt(s_hat))``.

    >>> round(float(y_max(1000.0)), 6)
    2.564949
    """
    return np.asarray(np.log(SQRT_S / np.asarray(sqrt_s_hat, dtype=np.float64)), dtype=np.float64)


def x1_x2(sqrt_s_hat: npt.ArrayLike, y: npt.ArrayLike) -> tuple[F64, F64]:
    """Momentum fractions ``x1 = sqrt(s_hat/s) e^y``, ``x2 = sqrt(s_hat/s) e^-y``.

    >>> [round(float(v), 6) for v in x1_x2(1000.0, 0.2)]
    [0.093954, 0.062979]
    """
    tau = np.asarray(sqrt_s_hat, dtype=np.float64) / SQRT_S
    ya = np.asarray(y, dtype=np.float64)
    return np.asarray(tau * np.exp(ya), dtype=np.float64), np.asarray(tau * np.exp(-ya), dtype=np.float64)


def angular_features(cos_theta: npt.ArrayLike, phi_hat: npt.ArrayLike, cos_theta_hat: npt.ArrayLike) -> dict[str, F64]:
    """The nine angular functions of spec §6 (Banerjee et al. eq. 3.6).

    >>> f = angular_features(0.0, 0.0, 0.0)
    >>> f["fLL"].item(), f["f2TT"].item(), f["f1tildeLT"].item()
    (1.0, 1.0, 0.0)
    """
    c = np.asarray(cos_theta, dtype=np.float64)
    ch = np.asarray(cos_theta_hat, dtype=np.float64)
    ph = np.asarray(phi_hat, dtype=np.float64)
    s = np.sqrt(np.clip(1.0 - c * c, 0.0, None))
    sh = np.sqrt(np.clip(1.0 - ch * ch, 0.0, None))
    ss = s * sh
    return {
        "fLL": ss * ss,
        "f1TT": c * ch,
        "f2TT": (1.0 + c * c) * (1.0 + ch * ch),
        "f1LT": np.cos(ph) * ss,
        "f2LT": np.cos(ph) * ss * c * ch,
        "f1tildeLT": np.sin(ph) * ss,
        "f2tildeLT": np.sin(ph) * ss * c * ch,
        "fTTprime": np.cos(2.0 * ph) * ss * ss,
        "ftildeTTprime": np.sin(2.0 * ph) * ss * ss,
    }


def features(
    sqrt_s_hat: npt.ArrayLike,
    y: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    phi_hat: npt.ArrayLike,
    cos_theta_hat: npt.ArrayLike,
    m_recoil: float | npt.ArrayLike = MH,
) -> dict[str, F64]:
    """The 15 features of spec §6 (in the order of :data:`FEATURES`) from the partonic variables.

    >>> list(features(500.0, 0.0, 0.0, 0.0, 0.0)) == list(FEATURES)
    True
    """
    rs = np.asarray(sqrt_s_hat, dtype=np.float64)
    c = np.asarray(cos_theta, dtype=np.float64)
    _, k = momentum(rs, m_recoil)
    out = {
        "sqrt_s_hat": rs,
        "pT": k * np.sqrt(np.clip(1.0 - c * c, 0.0, None)),
        "y": np.asarray(y, dtype=np.float64),
        "cos_theta": c,
        "phi_hat": np.asarray(phi_hat, dtype=np.float64),
        "cos_theta_hat": np.asarray(cos_theta_hat, dtype=np.float64),
    }
    out.update(angular_features(c, phi_hat, cos_theta_hat))
    return {name: np.broadcast_to(out[name], np.broadcast(rs, c).shape).astype(np.float64) for name in FEATURES}


# ------------------------------------------------------------------------------ the model (§4-5)
def _check_events(*arrays: npt.ArrayLike) -> list[F64]:
    names = ("sqrt_s_hat", "y", "cos_theta", "phi_hat", "cos_theta_hat")
    out = [np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in arrays]
    shape = out[0].shape
    for name, a in zip(names, out, strict=True):
        if a.ndim != 1 or a.shape != shape:
            raise ValueError(f"{name} must be a 1D array of the same length as sqrt_s_hat")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite")
    rs, y, c, _, ch = out
    if np.any(rs * rs < S_HAT_MIN * (1 - 1e-12)) or np.any(rs > SQRT_S):
        raise ValueError("sqrt_s_hat must lie in [mZ + mh, sqrt(s)]")
    if np.any(np.abs(y) > y_max(rs) + 1e-12):
        raise ValueError("|y| must not exceed y_max(sqrt_s_hat) = ln(sqrt(s)/sqrt_s_hat)")
    if np.any(np.abs(c) > 1.0) or np.any(np.abs(ch) > 1.0):
        raise ValueError("cos_theta and cos_theta_hat must lie in [-1, 1]")
    return out


def _check_flavours(flavours: Sequence[str]) -> tuple[str, ...]:
    fl = tuple(flavours)
    if not fl or any(q not in QUARKS for q in fl) or len(set(fl)) != len(fl):
        raise ValueError(f"flavours must be distinct quark names from {tuple(QUARKS)}, got {fl!r}")
    return fl


def structure_constants(
    sqrt_s_hat: npt.ArrayLike,
    y: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    phi_hat: npt.ArrayLike,
    cos_theta_hat: npt.ArrayLike,
    *,
    pdfs: PartonDensities = CHEBYSHEV,
    flavours: Sequence[str] = tuple(QUARKS),
    jacobian: bool = False,
) -> F64:
    """Exact per-event structure constants, shape ``(n_events, 10)``, canonical term order.

    Parameters
    ----------
    sqrt_s_hat, y, cos_theta, phi_hat, cos_theta_hat
        The partonic variables of spec §2 (1D arrays of equal length).
    pdfs
        Parton densities (default: the Chebyshev fit; :data:`~rooeft.examples.zh.pdf.UNIT` for unit
        luminosities).
    flavours
        Quark flavours summed over (default all five, ``d u s c b``).
    jacobian
        Multiply by the sampling Jacobian ``2 y_max = ln(s/s_hat)`` of spec §3 (off by default,
        as in the spec's numbers).

    >>> sc = structure_constants([300.0, 800.0], [0.0, 0.5], [0.1, -0.7], [1.0, -2.0], [0.3, 0.9])
    >>> sc.shape, bool(np.all(sc[:, 0] > 0))
    ((2, 10), True)
    """
    rs, y_, c, ph, ch = _check_events(sqrt_s_hat, y, cos_theta, phi_hat, cos_theta_hat)
    fl = _check_flavours(flavours)
    s_hat = rs * rs
    omega, k = momentum(rs)
    x1, x2 = x1_x2(rs, y_)
    sin_t = np.sqrt(np.clip(1.0 - c * c, 0.0, None))
    sin_th = np.sqrt(np.clip(1.0 - ch * ch, 0.0, None))
    pref_t = GZ * MZ * rs
    pref_l = -GZ * omega * rs
    f_t = 0.5 * (1.0 + (s_hat - MH**2) / MZ**2)
    f_l = 0.5 * (1.0 + (s_hat - MH**2) / MZ**2 - 2.0 * k * k * rs / (MZ**2 * omega))
    cp_odd = k * rs / MZ**2
    long_factor = sin_t * sin_th  # production sin(Theta) times decay D_0 = sin(theta_hat)
    e_pos = np.exp(1j * ph)
    e_neg = np.conj(e_pos)
    base = MZ * k / s_hat**1.5
    if jacobian:
        base = base * np.log(S / s_hat)

    # luminosities grouped by couplings: quarks with equal (Q, T3) share all amplitudes
    groups: dict[tuple[float, float], list[F64]] = {}
    for q in fl:
        f1q, f1a, f2q, f2a = pdfs(q, x1), pdfs(q + "bar", x1), pdfs(q, x2), pdfs(q + "bar", x2)
        lum = groups.setdefault(QUARKS[q], [np.zeros_like(rs), np.zeros_like(rs)])
        lum[0] += f1q * f2a  # quark from proton 1
        lum[1] += f1a * f2q  # antiquark from proton 1

    out = np.zeros((rs.size, n_terms(3)))
    pairs = quadratic_pairs(3)
    for (charge, isospin), (lum_qqbar, lum_qbarq) in groups.items():
        g_q = charge * E_CHARGE / s_hat
        for sigma in (+1, -1):
            p_s = _quark_coupling(charge, isospin, sigma) / (s_hat - MZ**2)
            x_s = CW2 * p_s + CW * SW * g_q
            delta = GZ * isospin * R / MZ**2 if sigma == -1 else 0.0
            for sign, lumi in ((+1, lum_qqbar), (-1, lum_qbarq)):
                # production factors of the transverse helicities lambda = +1, -1 (§4.3)
                prod_p = sign * sigma * (1.0 + sign * sigma * c) / _SQRT2
                prod_m = sign * sigma * (1.0 - sign * sigma * c) / _SQRT2
                for tau in (+1, -1):
                    d_p = tau * (1.0 + tau * ch) / _SQRT2 * e_pos
                    d_m = tau * (1.0 - tau * ch) / _SQRT2 * e_neg
                    t_even = prod_p * d_p + prod_m * d_m
                    t_odd = -1j * (prod_p * d_p - prod_m * d_m)
                    amp: list[C128] = [
                        p_s * (pref_t * t_even + pref_l * long_factor),
                        delta * (pref_t * t_even + pref_l * long_factor),
                        2.0 * R * x_s * (pref_t * f_t * t_even + pref_l * f_l * long_factor),
                        2.0 * R * x_s * cp_odd * pref_t * t_odd,
                    ]
                    kk = base * G_LEPTON[tau] ** 2 * lumi
                    out[:, 0] += kk * np.abs(amp[0]) ** 2
                    for a in range(3):
                        out[:, 1 + a] += kk * 2.0 * np.real(np.conj(amp[0]) * amp[1 + a])
                    for j, (a, b) in enumerate(pairs):
                        if a == b:
                            out[:, 4 + j] += kk * np.abs(amp[1 + a]) ** 2
                        else:
                            out[:, 4 + j] += kk * 2.0 * np.real(np.conj(amp[1 + a]) * amp[1 + b])
    return out


def weights(structure_constants: npt.ArrayLike, theta: npt.ArrayLike) -> F64:
    """Event weights ``w(theta)`` from structure constants (``(n, 10)``) at one point ``theta``.

    >>> weights([[1.0, 1, 0, 0, 1, 0, 0, 0, 0, 0]], [2.0, 0.0, 0.0]).tolist()
    [7.0]
    """
    sc = np.asarray(structure_constants, dtype=np.float64)
    th = np.asarray(theta, dtype=np.float64)
    if th.shape != (len(COEFFICIENTS),):
        raise ValueError(f"theta must have shape ({len(COEFFICIENTS)},), got {th.shape}")
    if sc.ndim != 2 or sc.shape[1] != n_terms(th.size):
        raise ValueError(f"structure_constants must have shape (n, {n_terms(th.size)}), got {sc.shape}")
    return np.asarray(sc @ monomials(th), dtype=np.float64)


def gradient(structure_constants: npt.ArrayLike, theta: npt.ArrayLike) -> F64:
    """``dw/dtheta_a`` per event, shape ``(n, 3)``, of the quadratic polynomial at ``theta``.

    >>> gradient([[1.0, 1, 0, 0, 1, 0.5, 0, 0, 0, 0]], [2.0, 1.0, 0.0]).tolist()
    [[5.5, 1.0, 0.0]]
    """
    sc = np.asarray(structure_constants, dtype=np.float64)
    th = np.asarray(theta, dtype=np.float64)
    n = len(COEFFICIENTS)
    if th.shape != (n,):
        raise ValueError(f"theta must have shape ({n},), got {th.shape}")
    if sc.ndim != 2 or sc.shape[1] != n_terms(n):
        raise ValueError(f"structure_constants must have shape (m, {n_terms(n)}), got {sc.shape}")
    grad = sc[:, 1 : 1 + n].copy()
    for j, (a, b) in enumerate(quadratic_pairs(n)):
        col = sc[:, 1 + n + j]
        if a == b:
            grad[:, a] += 2.0 * th[a] * col
        else:
            grad[:, a] += th[b] * col
            grad[:, b] += th[a] * col
    return grad


# ------------------------------------------------------------------------------ slow reference
def reference_weight(
    point: Sequence[float],
    theta: Sequence[float],
    *,
    pdfs: PartonDensities = CHEBYSHEV,
    flavours: Sequence[str] = tuple(QUARKS),
) -> float:
    """Slow, obviously-correct weight of one event at one point (tests only).

    Builds the complex helicity amplitudes of spec §4.2-4.5 at ``theta`` with explicit loops over
    flavours, orderings, quark and lepton helicities and Z helicities, and sums ``K |A|^2``.
    ``point = (sqrt_s_hat, y, cos_theta, phi_hat, cos_theta_hat)``.

    >>> round(reference_weight((1000.0, 0.2, 0.3, 0.8, -0.5), (0, 0, 0), pdfs=UNIT, flavours=("u",)) * 1e8, 5)
    4.0622
    """
    rs, y, cos_t, phi_h, cos_th = (float(v) for v in point)
    c_hq3, c_hw, c_hwt = (float(v) for v in theta)
    s_hat = rs * rs
    omega = (s_hat + MZ**2 - MH**2) / (2 * rs)
    k = math.sqrt(omega**2 - MZ**2)
    x1, x2 = rs / SQRT_S * math.exp(y), rs / SQRT_S * math.exp(-y)
    sin_t, sin_th = math.sqrt(1 - cos_t**2), math.sqrt(1 - cos_th**2)
    total = 0.0
    for q in flavours:
        charge, isospin = QUARKS[q]
        for ordering in ("qqbar", "qbarq"):
            if ordering == "qqbar":
                lum = float(pdfs(q, x1)) * float(pdfs(q + "bar", x2))
            else:
                lum = float(pdfs(q + "bar", x1)) * float(pdfs(q, x2))
            for sigma in (+1, -1):
                g_sigma = -GZ * charge * SW2 if sigma == 1 else GZ * (isospin - charge * SW2)
                p_s = g_sigma / (s_hat - MZ**2)
                g_q = charge * E_CHARGE / s_hat
                kzz, kza = 2 * R * CW2 * c_hw, 2 * R * CW * SW * c_hw
                kzz_t, kza_t = 2 * R * CW2 * c_hwt, 2 * R * CW * SW * c_hwt
                g_hz = 2 * GZ * R * isospin * c_hq3 if sigma == -1 else 0.0
                coupling = p_s + g_hz / (2 * MZ**2)
                ew = p_s * kzz + g_q * kza
                ew_t = p_s * kzz_t + g_q * kza_t
                for tau in (+1, -1):
                    amp = 0j
                    m_hat: complex
                    m_prod: complex
                    for lam in (+1, -1, 0):
                        if lam == 0:
                            f_l = 0.5 * (1 + (s_hat - MH**2) / MZ**2 - 2 * k**2 * rs / (MZ**2 * omega))
                            m_hat = -GZ * omega * rs * (coupling + f_l * ew)
                            m_prod = sin_t * m_hat
                            decay: complex = sin_th
                        else:
                            f_t = 0.5 * (1 + (s_hat - MH**2) / MZ**2)
                            m_hat = GZ * MZ * rs * (coupling + f_t * ew - 1j * lam * k * rs / MZ**2 * ew_t)
                            if ordering == "qqbar":
                                m_prod = sigma * (1 + sigma * lam * cos_t) / math.sqrt(2) * m_hat
                            else:
                                m_prod = -sigma * (1 - sigma * lam * cos_t) / math.sqrt(2) * m_hat
                            decay = tau * (1 + lam * tau * cos_th) / math.sqrt(2) * cmath.exp(1j * lam * phi_h)
                        amp += m_prod * decay
                    g_l = GZ * SW2 if tau == 1 else GZ * (-0.5 + SW2)
                    total += MZ * k / s_hat**1.5 * g_l**2 * lum * abs(amp) ** 2
    return total


def reference_structure_constants(
    point: Sequence[float],
    *,
    pdfs: PartonDensities = CHEBYSHEV,
    flavours: Sequence[str] = tuple(QUARKS),
) -> F64:
    """The ten structure constants of one event solved from :func:`reference_weight` (tests only).

    The weight is evaluated at the 10 points ``0, ±e_a, e_a + e_b`` and the quadratic
    polynomial is solved exactly (10 x 10 linear system).

    >>> sc = reference_structure_constants((1000.0, 0.2, 0.3, 0.8, -0.5), pdfs=UNIT, flavours=("u",))
    >>> f"{sc[4]:.6e}"
    '3.702738e-06'
    """
    n = len(COEFFICIENTS)
    points: list[list[float]] = [[0.0] * n]
    for a in range(n):
        for sign in (1.0, -1.0):
            p = [0.0] * n
            p[a] = sign
            points.append(p)
    for a, b in quadratic_pairs(n):
        if a < b:
            p = [0.0] * n
            p[a] = p[b] = 1.0
            points.append(p)
    values = np.array([reference_weight(point, p, pdfs=pdfs, flavours=flavours) for p in points])
    return np.asarray(np.linalg.solve(monomials(np.array(points)), values), dtype=np.float64)
