"""Four-vectors of the ZH final state (spec §8) and the reconstruction of the spec's features.

Four-vectors are arrays of shape ``(n, 4)`` holding ``(E, px, py, pz)`` in GeV; the beam of
proton 1 points along ``+z``.

:func:`final_state` builds the massless ``l-``, ``l+``, ``b`` and ``bbar`` momenta in the lab frame
from the partonic variables (spec §8): the Z and the recoiling ``bb`` system (mass ``m_h`` for the
signal) back to back in the Zh frame at azimuth ``Phi``, the leptons from the Z decay in the Z
helicity frame (``e3 = p_Z``, ``e2 = z x e3 / |z x e3|``, ``e1 = e2 x e3``), the b quarks
isotropic in the bb rest frame, then a longitudinal boost by ``y``.

:func:`reconstruct` inverts this for measured objects: ``Z = l- + l+``, ``h = b1 + b2``, the Zh
system is boosted to its rest frame (along its full velocity, so a transverse recoil from
smearing is removed), the Z polar angle is measured from the (boosted) ``+z`` axis and the lepton
angles in the Z rest frame reached by a boost along the Z direction. On unsmeared objects it
returns the generated variables exactly (up to rounding).

>>> import numpy as np
>>> truth = dict(sqrt_s_hat=np.array([600.0]), y=np.array([0.3]), cos_theta=np.array([0.4]),
...              phi_hat=np.array([1.1]), cos_theta_hat=np.array([-0.2]), Phi=np.array([0.5]),
...              cos_theta_b=np.array([0.1]), phi_b=np.array([2.0]))
>>> lm, lp, b, bbar = final_state(**truth)
>>> reco = reconstruct(lm, lp, b, bbar)
>>> [round(float(reco[k][0]), 9) for k in ("sqrt_s_hat", "y", "cos_theta", "phi_hat", "cos_theta_hat")]
[600.0, 0.3, 0.4, 1.1, -0.2]
>>> round(float(reco["m_ll"][0]), 4), round(float(reco["m_bb"][0]), 4)
(91.1876, 125.1)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rooeft.examples.zh.model import FEATURES, MH, MZ, angular_features, momentum

__all__ = [
    "RECO_FEATURES",
    "boost",
    "eta",
    "final_state",
    "mass",
    "phi",
    "pt",
    "rapidity",
    "reconstruct",
]

F64 = npt.NDArray[np.float64]

#: Names of the reconstructed columns returned by :func:`reconstruct`, in order.
RECO_FEATURES: tuple[str, ...] = (
    *FEATURES,
    "lm_pt",
    "lm_eta",
    "lm_phi",
    "lp_pt",
    "lp_eta",
    "lp_phi",
    "b1_pt",
    "b1_eta",
    "b1_phi",
    "b2_pt",
    "b2_eta",
    "b2_phi",
    "m_ll",
    "m_bb",
    "pt_z",
    "pt_h",
    "dphi_ll",
    "dphi_bb",
    "dphi_zh",
)


def boost(p: F64, beta: F64) -> F64:
    """Lorentz boost of four-vectors ``p`` (``(n, 4)``) by velocities ``beta`` (``(n, 3)``).

    A particle at rest boosted by ``beta`` moves with velocity ``beta``.

    >>> boost(np.array([[1.0, 0, 0, 0]]), np.array([[0.0, 0, 0.6]])).round(6).tolist()
    [[1.25, 0.0, 0.0, 0.75]]
    """
    b2 = np.sum(beta * beta, axis=1)
    if np.any(b2 >= 1.0):
        raise ValueError("beta must have |beta| < 1")
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[:, 1:], axis=1)
    safe = np.where(b2 > 0, b2, 1.0)
    coef = np.where(b2 > 0, (gamma - 1.0) / safe, 0.0)
    out = np.empty_like(p)
    out[:, 0] = gamma * (p[:, 0] + bp)
    out[:, 1:] = p[:, 1:] + (coef * bp + gamma * p[:, 0])[:, None] * beta
    return out


def mass(p: F64) -> F64:
    """Invariant mass (negative squares clipped to 0)."""
    m2 = p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1)
    return np.asarray(np.sqrt(np.clip(m2, 0.0, None)), dtype=np.float64)


def pt(p: F64) -> F64:
    """Transverse momentum."""
    return np.asarray(np.hypot(p[:, 1], p[:, 2]), dtype=np.float64)


def phi(p: F64) -> F64:
    """Azimuth in ``(-pi, pi]``."""
    return np.asarray(np.arctan2(p[:, 2], p[:, 1]), dtype=np.float64)


def eta(p: F64) -> F64:
    """Pseudorapidity."""
    return np.asarray(np.arcsinh(p[:, 3] / np.maximum(pt(p), 1e-300)), dtype=np.float64)


def rapidity(p: F64) -> F64:
    """Rapidity ``0.5 ln((E + pz)/(E - pz))``."""
    return np.asarray(0.5 * np.log((p[:, 0] + p[:, 3]) / (p[:, 0] - p[:, 3])), dtype=np.float64)


def _delta_phi(a: F64, b: F64) -> F64:
    d = a - b
    return np.asarray(np.abs((d + np.pi) % (2.0 * np.pi) - np.pi), dtype=np.float64)


def _helicity_axes(p_z: F64) -> tuple[F64, F64, F64]:
    """Axes ``e1, e2, e3`` of the Z helicity frame (spec §8) from the Z three-momentum."""
    e3 = p_z / np.linalg.norm(p_z, axis=1, keepdims=True)
    e2 = np.stack([-e3[:, 1], e3[:, 0], np.zeros(len(e3))], axis=1)
    norm = np.linalg.norm(e2, axis=1, keepdims=True)
    e2 = np.where(norm > 1e-15, e2 / np.where(norm > 1e-15, norm, 1.0), np.array([0.0, 1.0, 0.0]))
    e1 = np.cross(e2, e3)
    return e1, e2, e3


def _massless_pair(m: F64, n_hat: F64) -> tuple[F64, F64]:
    half = 0.5 * m
    p1 = np.concatenate([half[:, None], half[:, None] * n_hat], axis=1)
    p2 = np.concatenate([half[:, None], -half[:, None] * n_hat], axis=1)
    return p1, p2


def final_state(
    sqrt_s_hat: npt.ArrayLike,
    y: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    phi_hat: npt.ArrayLike,
    cos_theta_hat: npt.ArrayLike,
    Phi: npt.ArrayLike,
    cos_theta_b: npt.ArrayLike,
    phi_b: npt.ArrayLike,
    m_bb: float | npt.ArrayLike = MH,
) -> tuple[F64, F64, F64, F64]:
    """Lab-frame four-vectors ``(l-, l+, b, bbar)`` of spec §8, each ``(n, 4)``.

    ``Phi`` is the azimuth of the Z in the Zh frame, ``cos_theta_b``/``phi_b`` the b direction in
    the bb rest frame (lab axes), ``m_bb`` the mass of the bb system (``m_h`` for the signal).
    """
    rs = np.atleast_1d(np.asarray(sqrt_s_hat, dtype=np.float64))
    n = rs.size
    arrays = [
        np.broadcast_to(np.asarray(a, dtype=np.float64), (n,))
        for a in (y, cos_theta, phi_hat, cos_theta_hat, Phi, cos_theta_b, phi_b, m_bb)
    ]
    y_, c, ph, ch, big_phi, cb, pb, mbb = arrays
    omega, k = momentum(rs, mbb)
    s = np.sqrt(np.clip(1 - c * c, 0, None))
    sh = np.sqrt(np.clip(1 - ch * ch, 0, None))
    sb = np.sqrt(np.clip(1 - cb * cb, 0, None))
    dir_z = np.stack([s * np.cos(big_phi), s * np.sin(big_phi), c], axis=1)
    e1, e2, e3 = _helicity_axes(dir_z)
    n_hat = (sh * np.cos(ph))[:, None] * e1 + (sh * np.sin(ph))[:, None] * e2 + ch[:, None] * e3
    lm, lp = _massless_pair(np.full(n, MZ), n_hat)
    beta_z = (k / omega)[:, None] * dir_z
    lm, lp = boost(lm, beta_z), boost(lp, beta_z)
    b_dir = np.stack([sb * np.cos(pb), sb * np.sin(pb), cb], axis=1)
    b, bbar = _massless_pair(mbb, b_dir)
    beta_h = -(k / (rs - omega))[:, None] * dir_z
    b, bbar = boost(b, beta_h), boost(bbar, beta_h)
    beta_lab = np.stack([np.zeros(n), np.zeros(n), np.tanh(y_)], axis=1)
    return boost(lm, beta_lab), boost(lp, beta_lab), boost(b, beta_lab), boost(bbar, beta_lab)


def reconstruct(lm: F64, lp: F64, j1: F64, j2: F64) -> dict[str, F64]:
    """Reconstructed features (:data:`RECO_FEATURES`) from ``l-``, ``l+`` and two b-jets.

    The b-jets are ordered by pT (``b1`` leading). The 15 spec features are computed in the
    reconstructed Zh rest frame and Z helicity frame (see module docstring); ``pT`` is the Z
    transverse momentum in the Zh frame (``k sin(Theta)``), ``pt_z``/``pt_h`` are lab values.
    """
    swap = pt(j2) > pt(j1)
    b1 = np.where(swap[:, None], j2, j1)
    b2 = np.where(swap[:, None], j1, j2)
    z = lm + lp
    h = b1 + b2
    zh = z + h
    beta = -zh[:, 1:] / zh[:, :1]
    z_rf, lm_rf = boost(z, beta), boost(lm, beta)
    p_abs = np.linalg.norm(z_rf[:, 1:], axis=1)
    cos_theta = np.clip(z_rf[:, 3] / p_abs, -1.0, 1.0)
    e1, e2, e3 = _helicity_axes(z_rf[:, 1:])
    lm_z = boost(lm_rf, -z_rf[:, 1:] / z_rf[:, :1])
    n_hat = lm_z[:, 1:] / np.linalg.norm(lm_z[:, 1:], axis=1, keepdims=True)
    cos_theta_hat = np.clip(np.sum(n_hat * e3, axis=1), -1.0, 1.0)
    phi_hat = np.arctan2(np.sum(n_hat * e2, axis=1), np.sum(n_hat * e1, axis=1))
    out: dict[str, F64] = {
        "sqrt_s_hat": mass(zh),
        "pT": p_abs * np.sqrt(1.0 - cos_theta**2),
        "y": rapidity(zh),
        "cos_theta": cos_theta,
        "phi_hat": phi_hat,
        "cos_theta_hat": cos_theta_hat,
    }
    out.update(angular_features(cos_theta, phi_hat, cos_theta_hat))
    for name, p in (("lm", lm), ("lp", lp), ("b1", b1), ("b2", b2)):
        out[f"{name}_pt"], out[f"{name}_eta"], out[f"{name}_phi"] = pt(p), eta(p), phi(p)
    out["m_ll"], out["m_bb"] = mass(z), mass(h)
    out["pt_z"], out["pt_h"] = pt(z), pt(h)
    out["dphi_ll"] = _delta_phi(phi(lm), phi(lp))
    out["dphi_bb"] = _delta_phi(phi(b1), phi(b2))
    out["dphi_zh"] = _delta_phi(phi(z), phi(h))
    return {name: np.asarray(out[name], dtype=np.float64) for name in RECO_FEATURES}
