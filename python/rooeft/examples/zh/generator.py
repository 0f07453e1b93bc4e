"""Seeded generation of the ZH example: weighted signal and background samples and pseudo-data.

**Signal** (``pp -> Zh -> l+l- bb``): the physics is that of spec §3, the exact model weight of
:mod:`rooeft.examples.zh.model` (optionally times the sampling Jacobian ``ln(s/s_hat)``) over the flat
phase space (``s_hat`` flat in ``[(m_h+m_Z)^2, s_hat_hi]``, ``y`` flat in ``[-y_max, y_max]``, the
angles flat), plus the azimuth ``Phi`` and the isotropic ``h -> bb`` angles for the four-vectors
(spec §8). How the partonic variables are *drawn* is :attr:`GeneratorConfig.sampling`:

* ``"importance"`` (default): ``sqrt_s_hat`` and ``y`` come from :class:`SignalProposal`, a
  deterministic tabulation of the SM ``d sigma / d sqrt_s_hat`` mixed with a fraction
  ``F = tail_enhancement`` (default :data:`TAIL_ENHANCEMENT` = 0.3) spread flat in
  ``sqrt_s_hat`` (the tail enhancement: the high-mass, high-``pT(Z)`` region where the EFT
  terms grow stays populated), and a parabola in ``y / y_max``. Each event's weight is
  multiplied by the phase-space weight ``r = (flat density) / (proposal density)``, a bias
  with known weights like a generator's bias module, so every expectation (the expected
  events, each structure constant's sum, every distribution) is that of the flat sampler and
  only the variance changes. At the default, 10^5 generated events give ~45k accepted events
  with ``n_eff / N ~ 0.6`` for the SM yield (flat: 0.011) and ``n_eff > 1000`` in every
  100 GeV slice of ``pT(Z)`` below 1 TeV; ``F = 0`` is SM-unweighted in ``sqrt_s_hat``
  (``n_eff / N ~ 0.9``, but an empty tail).
* ``"flat"``: the flat sampling of spec §3 itself (:func:`sample_signal`), bit for bit the
  samples of earlier versions; ~1 % efficient (most events at high ``sqrt_s_hat`` carry
  almost no cross-section).

``rooeft generate --tail-enhancement F`` / ``--flat`` select them.
**Background**: the Z+bb continuum of :mod:`rooeft.examples.zh.background`, drawn from its exact density
(unit weights before normalisation), no EFT dependence.

**Detector** (:class:`Detector`): leptons and b-jets are massless; their energies are smeared
with Gaussian resolutions (directions kept)

* leptons: ``sigma_E / E = 10 % / sqrt(E/GeV) (+) 1 %``
* b-jets:  ``sigma_E / E = 100 % / sqrt(E/GeV) (+) 5 %``

(``(+)`` = sum in quadrature; smeared energies are truncated below at 5 % of the true energy),
then the acceptance ``pT(l) > 20 GeV``, ``|eta(l)| < 2.5``, ``pT(b) > 25 GeV``, ``|eta(b)| < 2.5``
is required for all four objects. Events failing it are not written. b-tagging is a weight:
``eps_b^2 SF(b1) SF(b2)`` with ``eps_b = 0.70`` and the scale factor of :mod:`rooeft.examples.zh.btag`.
The features are recomputed from the reconstructed objects
(:func:`rooeft.examples.zh.kinematics.reconstruct`); the generated partonic values stay available as
``truth_*`` columns.

**Normalisation** (weights = expected events at ``luminosity``, default 300/fb):

* signal: the mean SM model weight over the flat phase space, :data:`W0_MEAN`, is identified
  with ``sigma(pp -> Zh) B(Z -> ll, l = e, mu) B(h -> bb) = 0.88 pb x 0.0673 x 0.58 ~= 34 fb``
  (:data:`SIGMA_SIGNAL_FB`), so an event's weight is
  ``L * 34 fb / W0_MEAN * r * w_model(theta) * eps_b^2 SF SF / N_generated`` (``r`` = 1 for flat
  sampling). With the Jacobian option the constant :data:`W0_MEAN_JACOBIAN` is used, so the
  total stays 34 fb.
* background: ``L * 60 fb * eps_b^2 SF SF / N_generated`` (:data:`SIGMA_BACKGROUND_FB`).

At 300/fb this gives about 1,870 signal (SM) and 2,450 background events after the acceptance
and b-tagging (acceptance of the generated events: 45 % for the default signal sampling, 63 % for
flat sampling, 30 % for the background). The
structure-constant columns carry the same per-event factor, so ``w_sm == weight`` for signal.
The luminosity uncertainty, 2 % (:data:`LUMI_UNCERTAINTY`), is a normalisation (lnN)
systematic for the configuration; it has no branch.

**Columns** (:func:`generate_chunks`): the reconstructed features
(:data:`rooeft.examples.zh.kinematics.RECO_FEATURES`, float32), ``weight`` (float64), for signal the
structure constants ``w_sm, w_cHQ3, ..., w_cHWtil_cHWtil`` (canonical order),
``weight_btagUp``/``weight_btagDown`` (all weights float32 by default, like NanoAOD's
``genWeight``; ``GeneratorConfig(weight_dtype="float64")`` keeps double precision), and truth:
``truth_sqrt_s_hat``, ``truth_y``, ``truth_cos_theta``, ``truth_phi_hat``,
``truth_cos_theta_hat``, ``truth_m_bb`` (float64, the exact inputs of the truth API),
``truth_pT`` (float32) and ``truth_process`` (int32: 0 signal, 1 background).

**Reproducibility**: chunk ``i`` of stream ``k`` uses ``np.random.SeedSequence(seed,
spawn_key=(k, i))``; the output depends only on (seed, number of events, chunk size, options).
The proposal involves no random numbers (a quadrature table, rounded to 6 digits).

>>> chunks = list(generate_chunks("signal", 2000, seed=1))
>>> c = chunks[0]
>>> bool(np.array_equal(c["w_sm"], c["weight"])), c["truth_process"][:2].tolist()
(True, [0, 0])
>>> again = list(generate_chunks("signal", 2000, seed=1))[0]
>>> all(np.array_equal(c[k], again[k]) for k in c)
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rooeft.examples.zh import background, btag
from rooeft.examples.zh.kinematics import RECO_FEATURES, final_state, reconstruct
from rooeft.examples.zh.kinematics import eta as _eta
from rooeft.examples.zh.kinematics import pt as _pt
from rooeft.examples.zh.model import (
    COEFFICIENTS,
    MH,
    S_HAT_HI,
    S_HAT_MIN,
    features,
    structure_constants,
    weights,
    y_max,
)
from rooeft.samples.naming import structure_constant_branches

__all__ = [
    "LUMI_UNCERTAINTY",
    "PROCESSES",
    "SIGMA_BACKGROUND_FB",
    "SIGMA_SIGNAL_FB",
    "SQRT_S_HAT_KNOTS",
    "TAIL_ENHANCEMENT",
    "W0_MEAN",
    "W0_MEAN_JACOBIAN",
    "Y_PROPOSAL_A",
    "Detector",
    "GeneratorConfig",
    "PseudoData",
    "SignalProposal",
    "generate_chunks",
    "pseudo_data",
    "sample_signal",
    "sample_signal_importance",
    "simulate",
    "structure_constant_names",
    "systematic_names",
    "truth_names",
]

F64 = npt.NDArray[np.float64]
Process = Literal["signal", "background"]
PROCESSES: tuple[str, ...] = ("signal", "background")

SIGMA_SIGNAL_FB = 34.0
SIGMA_BACKGROUND_FB = 60.0
#: Mean SM model weight over the flat-sampled phase space (Chebyshev PDFs; spec §9.4: 5.771e-6).
W0_MEAN = 5.771e-6
#: The same with the sampling Jacobian ``ln(s/s_hat)`` (4e6 events, +-0.4 %).
W0_MEAN_JACOBIAN = 4.302e-5
LUMI_UNCERTAINTY = 0.02
OBSERVABLE_DTYPE = np.float32
#: Default fraction of the signal's ``sqrt_s_hat`` proposal spread flat over the range (``--tail-enhancement``).
TAIL_ENHANCEMENT = 0.3
#: Curvature of the rapidity proposal ``p(v) ~ 1 - A v^2``, ``v = y / y_max``.
Y_PROPOSAL_A = 0.9
#: Knots of the tabulated ``sqrt_s_hat`` proposal: threshold, then geometric in the distance to it.
SQRT_S_HAT_KNOTS: F64 = np.sqrt(S_HAT_MIN) + np.concatenate(
    [[0.0], np.geomspace(0.25, math.sqrt(S_HAT_HI) - math.sqrt(S_HAT_MIN), 63)]
)
SAMPLINGS: tuple[str, ...] = ("importance", "flat")

_STREAMS = {"signal": 0, "background": 1, "pseudo_signal": 2, "pseudo_background": 3, "pseudo_poisson": 4}
_TRUTH_EXACT = ("sqrt_s_hat", "y", "cos_theta", "phi_hat", "cos_theta_hat", "m_bb")


@dataclass(frozen=True, kw_only=True)
class Detector:
    """Toy detector: energy resolutions ``sigma/E = a/sqrt(E) (+) b`` and acceptance cuts.

    >>> round(float(Detector().relative_resolution("jet", 100.0)), 4)
    0.1118
    """

    lepton_stochastic: float = 0.10
    lepton_constant: float = 0.01
    jet_stochastic: float = 1.0
    jet_constant: float = 0.05
    min_response: float = 0.05
    lepton_pt_min: float = 20.0
    lepton_eta_max: float = 2.5
    jet_pt_min: float = 25.0
    jet_eta_max: float = 2.5
    btag_efficiency: float = 0.70

    def relative_resolution(self, kind: Literal["lepton", "jet"], energy: npt.ArrayLike) -> F64:
        """``sigma_E / E`` of a lepton or b-jet of energy ``energy`` (GeV)."""
        e = np.asarray(energy, dtype=np.float64)
        if kind == "lepton":
            a, b = self.lepton_stochastic, self.lepton_constant
        elif kind == "jet":
            a, b = self.jet_stochastic, self.jet_constant
        else:
            raise ValueError(f"kind must be 'lepton' or 'jet', got {kind!r}")
        return np.asarray(np.hypot(a / np.sqrt(e), b), dtype=np.float64)

    def smear(self, p: F64, kind: Literal["lepton", "jet"], rng: np.random.Generator) -> F64:
        """Scale massless four-vectors by a Gaussian energy response."""
        response = 1.0 + self.relative_resolution(kind, p[:, 0]) * rng.standard_normal(len(p))
        return p * np.maximum(response, self.min_response)[:, None]


@dataclass(frozen=True, kw_only=True)
class GeneratorConfig:
    """Options of the generation (see the module docstring for the physics).

    ``sampling`` is ``"importance"`` (default, :class:`SignalProposal` with the tail fraction
    ``tail_enhancement``) or ``"flat"`` (spec §3 as is; ``tail_enhancement`` is then unused).
    """

    luminosity: float = 300.0
    jacobian: bool = False
    detector: Detector = field(default_factory=Detector)
    sigma_signal_fb: float = SIGMA_SIGNAL_FB
    sigma_background_fb: float = SIGMA_BACKGROUND_FB
    chunk_size: int = 100_000
    weight_dtype: Literal["float32", "float64"] = "float32"
    sampling: Literal["importance", "flat"] = "importance"
    tail_enhancement: float = TAIL_ENHANCEMENT

    def __post_init__(self) -> None:
        if self.weight_dtype not in ("float32", "float64"):
            raise ValueError(f"weight_dtype must be 'float32' or 'float64', got {self.weight_dtype!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {self.sampling!r}")
        if not 0.0 <= self.tail_enhancement <= 1.0:
            raise ValueError(f"tail_enhancement must lie in [0, 1], got {self.tail_enhancement}")
        if not self.luminosity > 0:
            raise ValueError(f"luminosity must be > 0, got {self.luminosity}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")

    def norm(self, process: Process) -> float:
        """Expected events per unit model weight (signal) or per event (background), before 1/N."""
        if process == "signal":
            w0 = W0_MEAN_JACOBIAN if self.jacobian else W0_MEAN
            return self.luminosity * self.sigma_signal_fb / w0
        return self.luminosity * self.sigma_background_fb


def structure_constant_names() -> list[str]:
    """Branch names ``w_sm, w_cHQ3, ..., w_cHWtil_cHWtil`` (canonical order).

    >>> structure_constant_names()[:3]
    ['w_sm', 'w_cHQ3', 'w_cHW']
    """
    return structure_constant_branches(COEFFICIENTS)


def systematic_names() -> tuple[str, str]:
    """The weight-variation branches ``weight_btagUp``, ``weight_btagDown``."""
    return f"weight_{btag.SYSTEMATIC}Up", f"weight_{btag.SYSTEMATIC}Down"


def truth_names() -> list[str]:
    """Names of the truth columns."""
    return [f"truth_{n}" for n in (*_TRUTH_EXACT, "pT", "process")]


# ------------------------------------------------------------------------------ sampling
def sample_signal(rng: np.random.Generator, n: int) -> dict[str, F64]:
    """Flat sampling of spec §3 plus the weight-independent angles of spec §8 (``sampling="flat"``)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    u = rng.random((8, n))
    s_hat = S_HAT_MIN + (S_HAT_HI - S_HAT_MIN) * u[0]
    rs = np.sqrt(s_hat)
    return {
        "sqrt_s_hat": rs,
        "y": (2.0 * u[1] - 1.0) * y_max(rs),
        "cos_theta": 2.0 * u[2] - 1.0,
        "phi_hat": np.pi * (2.0 * u[3] - 1.0),
        "cos_theta_hat": 2.0 * u[4] - 1.0,
        "m_bb": np.full(n, MH),
        "Phi": 2.0 * np.pi * u[5],
        "cos_theta_b": 2.0 * u[6] - 1.0,
        "phi_b": np.pi * (2.0 * u[7] - 1.0),
    }


# ------------------------------------------------------------------------------ importance sampling
def _sm_sqrt_s_hat_marginal(knots: F64, jacobian: bool) -> F64:
    """SM ``d sigma / d sqrt_s_hat`` at ``knots`` (units of the flat-sampled mean weight, per GeV).

    Deterministic quadrature of the flat-sampled target ``w_0(z) * 2 sqrt_s_hat / (s_hat_hi -
    s_hat_min) * <.>_{y, angles}``: Gauss-Legendre in ``v = y / y_max`` (24 nodes) and in
    ``cos_theta``, ``cos_theta_hat`` (2 nodes each: exact, the SM weight averaged over ``phi_hat``
    is quadratic in both), a 5-point uniform rule in ``phi_hat`` (exact for the harmonics up to
    ``2 phi_hat`` that the amplitudes carry).
    """
    v, wv = np.polynomial.legendre.leggauss(24)
    c, wc = np.polynomial.legendre.leggauss(2)
    phi = 2.0 * np.pi * (np.arange(5) + 0.5) / 5.0 - np.pi
    grid = np.meshgrid(knots, v, c, c, phi, indexing="ij")
    weight = np.einsum("i,j,k,l->ijkl", wv / 2.0, wc / 2.0, wc / 2.0, np.full(5, 0.2))
    rs, vv, cc, ch, ph = (g.ravel() for g in grid)
    w0 = structure_constants(rs, vv * y_max(rs), cc, ph, ch, jacobian=jacobian)[:, 0]
    mean = (w0.reshape(len(knots), -1) * weight.ravel()).sum(axis=1)
    return np.asarray(2.0 * knots / (S_HAT_HI - S_HAT_MIN) * mean, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class SignalProposal:
    """Importance-sampling proposal of the signal's ``(sqrt_s_hat, y)``; the angles stay flat.

    Density (with respect to ``d sqrt_s_hat dy``)::

        q(m, y) = q_m(m) * p_v(y / y_max(m)) / y_max(m),  m = sqrt_s_hat,
        q_m = (1 - F) * q_SM + F * U,   p_v(v) = (1 - A v^2) / (2 (1 - A/3)),  |v| <= 1

    * ``q_SM``: the SM (or, with the Jacobian option, the Jacobian-weighted) ``d sigma / d m``
      of the model, tabulated at :data:`SQRT_S_HAT_KNOTS` (threshold plus 63 knots geometric in
      ``m - (m_h + m_Z)`` from 0.25 GeV to the upper end ``sqrt(s_hat_hi)`` = 2252 GeV) by the
      deterministic quadrature of :func:`_sm_sqrt_s_hat_marginal`, rounded to 6 significant
      digits and linearly interpolated between knots (flat below the first knot above
      threshold, where the cross-section rises like ``k``);
    * ``U``: flat in ``m`` over the whole range, the **tail enhancement**: a fraction
      ``F = tail_enhancement`` (default :data:`TAIL_ENHANCEMENT`) of the events is spread
      uniformly in ``sqrt_s_hat`` so the high-``sqrt_s_hat`` / high-``pT(Z)`` region where the
      EFT terms grow stays populated (``F = 0``: SM-unweighted in ``m``; ``F = 1``: flat in
      ``m``);
    * ``p_v``: the rapidity fraction ``v = y / y_max``, a fixed parabola with
      ``A =`` :data:`Y_PROPOSAL_A` (the SM is roughly flat in ``v`` up to 0.6 and vanishes at
      ``|v| = 1``).

    Exact inverse CDFs are used (quadratic per linear segment; trigonometric for the cubic of
    ``p_v``), one uniform each. The event's phase-space weight is the ratio of the flat density
    of spec §3 to the proposal,
    ``r = [2 m / (s_hat_hi - s_hat_min) / (2 y_max)] / q(m, y) = m / ((s_hat_hi - s_hat_min) q_m(m) p_v(v))``,
    and it multiplies the model weight, so every expectation (yield, structure-constant sums,
    distributions) equals the flat sampler's; only the variance changes.

    >>> prop = SignalProposal.build(0.3)
    >>> rs, y, r = prop.sample(np.array([0.0, 0.5, 0.999]), np.array([0.5, 0.5, 0.5]))
    >>> bool(np.all(np.diff(rs) > 0)) and bool(np.all(y == 0)) and bool(np.all(r > 0))
    True
    >>> round(float(np.trapezoid(prop.density, prop.knots)), 12)
    1.0
    """

    knots: F64
    density: F64
    tail_enhancement: float
    jacobian: bool

    @staticmethod
    @functools.lru_cache(maxsize=8)
    def build(tail_enhancement: float = 0.3, jacobian: bool = False) -> SignalProposal:
        """The proposal for a tail fraction ``F`` (cached; deterministic)."""
        f = float(tail_enhancement)
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"tail_enhancement must lie in [0, 1], got {tail_enhancement}")
        knots = SQRT_S_HAT_KNOTS
        sm = _sm_sqrt_s_hat_marginal(knots, jacobian)
        sm[0] = sm[1]
        sm = sm / _trapezoid(sm, knots)
        flat = np.full_like(knots, 1.0 / (knots[-1] - knots[0]))
        dens = np.array([float(f"{v:.6g}") for v in (1.0 - f) * sm + f * flat])
        return SignalProposal(knots, dens / _trapezoid(dens, knots), f, bool(jacobian))

    @functools.cached_property
    def _cumulative(self) -> F64:
        seg = 0.5 * (self.density[1:] + self.density[:-1]) * np.diff(self.knots)
        return np.concatenate([[0.0], np.cumsum(seg)])

    def pdf_sqrt_s_hat(self, sqrt_s_hat: npt.ArrayLike) -> F64:
        """``q_m``: the proposal density of ``sqrt_s_hat`` (1/GeV; 0 outside the range)."""
        rs = np.asarray(sqrt_s_hat, dtype=np.float64)
        return np.asarray(np.interp(rs, self.knots, self.density, left=0.0, right=0.0), dtype=np.float64)

    def sample(self, u_m: F64, u_v: F64) -> tuple[F64, F64, F64]:
        """``(sqrt_s_hat, y, r)`` from uniforms in ``[0, 1)``; ``r`` is the phase-space weight."""
        cum = self._cumulative
        target = u_m * cum[-1]
        i = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(self.knots) - 2)
        h = self.knots[i + 1] - self.knots[i]
        q0, q1 = self.density[i], self.density[i + 1]
        rest = target - cum[i]
        # solve q0 t + (q1 - q0) t^2 / (2 h) = rest for t in [0, h] (cancellation-free root)
        t = np.clip(2.0 * rest / (q0 + np.sqrt(np.maximum(q0 * q0 + 2.0 * (q1 - q0) * rest / h, 0.0))), 0.0, h)
        rs = self.knots[i] + t
        q_m = q0 + (q1 - q0) * t / h
        a = Y_PROPOSAL_A
        arg = 1.5 * math.sqrt(a) * (2.0 * u_v - 1.0) * (1.0 - a / 3.0)
        v = 2.0 / math.sqrt(a) * np.sin(np.arcsin(np.clip(arg, -1.0, 1.0)) / 3.0)
        p_v = (1.0 - a * v * v) / (2.0 * (1.0 - a / 3.0))
        r = rs / ((S_HAT_HI - S_HAT_MIN) * q_m * p_v)
        return rs, v * y_max(rs), np.asarray(r, dtype=np.float64)


def _trapezoid(y: F64, x: F64) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def sample_signal_importance(rng: np.random.Generator, n: int, proposal: SignalProposal) -> dict[str, F64]:
    """Importance sampling of the signal (:class:`SignalProposal`) plus the flat angles.

    Same random-number layout as :func:`sample_signal` (8 uniforms per event: ``sqrt_s_hat``
    and ``y`` from the proposal, the rest as in the flat sampler); the extra column
    ``phase_space_weight`` multiplies the model weight.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    u = rng.random((8, n))
    rs, y, r = proposal.sample(u[0], u[1])
    return {
        "sqrt_s_hat": rs,
        "y": y,
        "cos_theta": 2.0 * u[2] - 1.0,
        "phi_hat": np.pi * (2.0 * u[3] - 1.0),
        "cos_theta_hat": 2.0 * u[4] - 1.0,
        "m_bb": np.full(n, MH),
        "Phi": 2.0 * np.pi * u[5],
        "cos_theta_b": 2.0 * u[6] - 1.0,
        "phi_b": np.pi * (2.0 * u[7] - 1.0),
        "phase_space_weight": r,
    }


def simulate(
    truth: Mapping[str, F64], rng: np.random.Generator, detector: Detector
) -> tuple[dict[str, F64], npt.NDArray[np.bool_]]:
    """Four-vectors, smearing, acceptance and reconstruction; returns ``(reco, passed)``.

    ``reco`` holds :data:`~rooeft.examples.zh.kinematics.RECO_FEATURES` for all events (values of failing
    events are meaningless), ``passed`` the acceptance mask.
    """
    lm, lp, b, bbar = final_state(
        truth["sqrt_s_hat"],
        truth["y"],
        truth["cos_theta"],
        truth["phi_hat"],
        truth["cos_theta_hat"],
        truth["Phi"],
        truth["cos_theta_b"],
        truth["phi_b"],
        truth["m_bb"],
    )
    lm, lp = detector.smear(lm, "lepton", rng), detector.smear(lp, "lepton", rng)
    b, bbar = detector.smear(b, "jet", rng), detector.smear(bbar, "jet", rng)
    passed = np.ones(len(lm), dtype=bool)
    for p, pt_min, eta_max in (
        (lm, detector.lepton_pt_min, detector.lepton_eta_max),
        (lp, detector.lepton_pt_min, detector.lepton_eta_max),
        (b, detector.jet_pt_min, detector.jet_eta_max),
        (bbar, detector.jet_pt_min, detector.jet_eta_max),
    ):
        passed &= (_pt(p) > pt_min) & (np.abs(_eta(p)) < eta_max)
    reco = reconstruct(lm[passed], lp[passed], b[passed], bbar[passed])
    return reco, passed


def _btag_factors(reco: Mapping[str, npt.NDArray[Any]], efficiency: float) -> dict[str, F64]:
    """Per-event ``eps^2 SF(b1) SF(b2)`` for each variation, from the stored (float32) jet values."""
    out = {}
    for variation in btag.VARIATIONS:
        sf = np.ones(len(reco["b1_pt"]))
        for jet in ("b1", "b2"):
            pt = reco[f"{jet}_pt"].astype(np.float64)
            abseta = np.abs(reco[f"{jet}_eta"].astype(np.float64))
            sf = sf * btag.evaluate(pt, abseta, variation)
        out[variation] = efficiency**2 * sf
    return out


def _rng(seed: int, stream: str, chunk: int, replica: int | None = None) -> np.random.Generator:
    key = (_STREAMS[stream], chunk) if replica is None else (_STREAMS[stream], replica, chunk)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _chunk(
    process: Process, n: int, rng: np.random.Generator, config: GeneratorConfig
) -> tuple[dict[str, npt.NDArray[Any]], dict[str, F64], F64 | None]:
    """One chunk: columns of the passing events, b-tag factors per variation, raw structure constants."""
    if process == "signal":
        if config.sampling == "flat":
            truth = sample_signal(rng, n)
        else:
            truth = sample_signal_importance(rng, n, SignalProposal.build(config.tail_enhancement, config.jacobian))
    elif process == "background":
        truth = background.sample(rng, n)
    else:
        raise ValueError(f"process must be one of {PROCESSES}, got {process!r}")
    reco, passed = simulate(truth, rng, config.detector)
    cols: dict[str, npt.NDArray[Any]] = {name: reco[name].astype(OBSERVABLE_DTYPE) for name in RECO_FEATURES}
    sel = {k: v[passed] for k, v in truth.items()}
    factors = _btag_factors(cols, config.detector.btag_efficiency)
    sc = None
    if process == "signal":
        sc = structure_constants(
            sel["sqrt_s_hat"],
            sel["y"],
            sel["cos_theta"],
            sel["phi_hat"],
            sel["cos_theta_hat"],
            jacobian=config.jacobian,
        )
        if "phase_space_weight" in sel:
            sc *= sel["phase_space_weight"][:, None]
    for name in _TRUTH_EXACT:
        cols[f"truth_{name}"] = sel[name]
    spec = features(sel["sqrt_s_hat"], sel["y"], sel["cos_theta"], sel["phi_hat"], sel["cos_theta_hat"], sel["m_bb"])
    cols["truth_pT"] = spec["pT"].astype(np.float32)
    cols["truth_process"] = np.full(len(spec["pT"]), PROCESSES.index(process), dtype=np.int32)
    return cols, factors, sc


def generate_chunks(
    process: Process,
    n_events: int,
    *,
    seed: int,
    config: GeneratorConfig | None = None,
    progress: Any = None,
) -> Iterator[dict[str, npt.NDArray[Any]]]:
    """Generate ``n_events`` events of ``process`` chunk by chunk (only accepted events are yielded).

    Parameters
    ----------
    process
        ``"signal"`` or ``"background"``.
    n_events
        Number of *generated* events (before the acceptance); the weights are normalised to it.
    seed
        Seed of the generation.
    config
        Options; default :class:`GeneratorConfig()`.
    progress
        Optional object with an ``update(n)`` method (e.g. a ``tqdm`` bar), called per chunk.
    """
    cfg = config if config is not None else GeneratorConfig()
    if process not in PROCESSES:
        raise ValueError(f"process must be one of {PROCESSES}, got {process!r}")
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    scale = cfg.norm(process) / n_events
    up_name, down_name = systematic_names()
    for index, start in enumerate(range(0, n_events, cfg.chunk_size)):
        n = min(cfg.chunk_size, n_events - start)
        rng = _rng(seed, process, index)
        cols, factors, sc = _chunk(process, n, rng, cfg)
        base = sc[:, 0] if sc is not None else np.ones(len(cols["truth_process"]))
        out: dict[str, npt.NDArray[Any]] = {name: cols[name] for name in RECO_FEATURES}
        event_scale = scale * factors["nominal"]
        dtype = np.dtype(cfg.weight_dtype)
        out["weight"] = (event_scale * base).astype(dtype)
        if sc is not None:
            for j, name in enumerate(structure_constant_names()):
                out[name] = out["weight"] if j == 0 else (event_scale * sc[:, j]).astype(dtype)
        out[up_name] = (scale * factors["up"] * base).astype(dtype)
        out[down_name] = (scale * factors["down"] * base).astype(dtype)
        for name in truth_names():
            out[name] = cols[name]
        if progress is not None:
            progress.update(n)
        yield out


# ------------------------------------------------------------------------------ pseudo-data
@dataclass(frozen=True)
class PseudoData:
    """Unweighted pseudo-data: columns, and per process the expected and drawn counts."""

    columns: dict[str, npt.NDArray[Any]]
    theta: tuple[float, ...]
    expected: dict[str, float]
    observed: dict[str, int]
    generated: dict[str, int]

    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(sum(self.observed.values()))


def _unweighted(
    process: Process,
    theta: F64,
    *,
    seed: int,
    replica: int,
    config: GeneratorConfig,
    min_pool: int,
    max_pool: int,
    poisson: np.random.Generator,
    progress: Any,
) -> tuple[dict[str, npt.NDArray[Any]], float, int, int]:
    """Accept-reject unweighting of one process at ``theta`` with a Poisson number of events.

    Events of a fresh pool (independent of the weighted samples) are kept when
    ``e_i / u_i >= W``, with ``e_i`` the expected-events weight at ``theta``, ``u_i`` uniform in
    ``(0, 1]`` and ``W`` the largest ``e_i`` of the whole pool, i.e. with probability ``e_i / W``
    (exact accept-reject, streamed by keeping the candidates above the running maximum). The
    pool grows until the expected number of accepted events exceeds ``nu + 5 sqrt(nu) + 10``;
    then ``N ~ Poisson(nu)`` (``nu`` = expected events from the pool) and the first ``N`` accepted
    events are returned. ``e_i`` includes the signal's phase-space weight, so the unweighting
    is exact for any sampling; with the default importance sampling the weights vary little and
    the minimal pool suffices.
    """
    stream = f"pseudo_{process}"
    kept: list[dict[str, npt.NDArray[Any]]] = []
    kept_keys: list[F64] = []
    total = 0.0
    running_max = 0.0
    n_gen = 0
    index = 0
    nu = 0.0
    while True:
        rng = _rng(seed, stream, index, replica)
        n = config.chunk_size
        cols, factors, sc = _chunk(process, n, rng, config)
        expected = config.norm(process) * factors["nominal"] * (weights(sc, theta) if sc is not None else 1.0)
        u = 1.0 - rng.random(len(expected))  # in (0, 1]
        n_gen += n
        index += 1
        if progress is not None:
            progress.update(n)
        if len(expected):
            total += float(expected.sum())
            running_max = max(running_max, float(expected.max()))
            key = expected / u
            sel = key >= running_max
            kept.append({name: v[sel] for name, v in cols.items()})
            kept_keys.append(key[sel])
        nu = total / n_gen
        accepted_expected = total / running_max if running_max > 0 else 0.0
        if n_gen >= min_pool and accepted_expected >= nu + 5.0 * math.sqrt(nu) + 10.0:
            break
        if n_gen >= max_pool:
            raise RuntimeError(f"pseudo-data for {process}: pool of {n_gen} events too small, raise max_pool")
    keys = np.concatenate(kept_keys)
    merged = {name: np.concatenate([c[name] for c in kept]) for name in kept[0]}
    accepted = keys >= running_max
    n_obs = int(poisson.poisson(nu))
    idx = np.flatnonzero(accepted)
    if len(idx) < n_obs:
        raise RuntimeError(f"pseudo-data for {process}: {len(idx)} accepted events < {n_obs} requested")
    idx = idx[:n_obs]
    return {name: v[idx] for name, v in merged.items()}, nu, n_obs, n_gen


def pseudo_data(
    theta: Sequence[float] = (0.0, 0.0, 0.0),
    *,
    seed: int,
    replica: int = 0,
    config: GeneratorConfig | None = None,
    min_pool: int = 200_000,
    max_pool: int = 50_000_000,
    progress: Any = None,
) -> PseudoData:
    """Unweighted pseudo-data from signal at ``theta`` plus background (Poisson-fluctuated).

    The events come from fresh pools (own random streams), so they are statistically
    independent of the weighted samples of the same seed; they are shuffled, have ``weight = 1``
    and carry the truth columns (``truth_process`` tells signal from background). Different
    ``replica`` numbers give independent pseudo-data sets for the same ``seed``.

    >>> data = pseudo_data(seed=3, config=GeneratorConfig(luminosity=1.0, chunk_size=50_000), min_pool=50_000)
    >>> data.n_events == sum(data.observed.values()), sorted(data.expected)
    (True, ['background', 'signal'])
    """
    cfg = config if config is not None else GeneratorConfig()
    th = np.asarray(theta, dtype=np.float64)
    if th.shape != (len(COEFFICIENTS),) or not np.all(np.isfinite(th)):
        raise ValueError(f"theta must be {len(COEFFICIENTS)} finite numbers {COEFFICIENTS}, got {theta!r}")
    if replica < 0:
        raise ValueError(f"replica must be >= 0, got {replica}")
    if min_pool < 1 or max_pool < min_pool:
        raise ValueError(f"need 1 <= min_pool <= max_pool, got min_pool={min_pool}, max_pool={max_pool}")
    poisson = _rng(seed, "pseudo_poisson", 0, replica)
    parts = []
    expected: dict[str, float] = {}
    observed: dict[str, int] = {}
    generated: dict[str, int] = {}
    for process in ("signal", "background"):
        cols, nu, n_obs, n_gen = _unweighted(
            process,
            th,
            seed=seed,
            replica=replica,
            config=cfg,
            min_pool=min_pool,
            max_pool=max_pool,
            poisson=poisson,
            progress=progress,
        )
        parts.append(cols)
        expected[process], observed[process], generated[process] = nu, n_obs, n_gen
    merged = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = poisson.permutation(len(merged["truth_process"]))
    columns: dict[str, npt.NDArray[Any]] = {name: merged[name][order] for name in RECO_FEATURES}
    columns["weight"] = np.ones(len(order))
    for name in truth_names():
        columns[name] = merged[name][order]
    return PseudoData(columns, tuple(float(v) for v in th), expected, observed, generated)


def config_summary(config: GeneratorConfig) -> dict[str, Any]:
    """JSON-friendly description of a configuration (for the metadata file)."""
    out = dataclasses.asdict(config)
    out["w0_mean"] = W0_MEAN_JACOBIAN if config.jacobian else W0_MEAN
    out["lumi_uncertainty"] = LUMI_UNCERTAINTY
    if config.sampling == "importance":
        out["signal_proposal"] = {
            "sqrt_s_hat": f"(1 - F) * SM d sigma/d sqrt_s_hat (quadrature table, {len(SQRT_S_HAT_KNOTS)} knots, "
            "linear) + F * flat, F = tail_enhancement",
            "y": f"p(v) ~ 1 - A v^2, v = y / y_max, A = {Y_PROPOSAL_A}",
            "angles": "flat",
            "weight": "model weight times (flat phase-space density) / (proposal density)",
        }
    else:
        out.pop("tail_enhancement")
    return out
