"""Seeded generation of the ZH example: weighted signal and background samples and pseudo-data.

**Signal** (``pp -> Zh -> l+l- bb``): the five partonic variables are drawn flat as in spec §3
(``s_hat`` flat in ``[(m_h+m_Z)^2, s_hat_hi]``, ``y`` flat in ``[-y_max, y_max]``, the angles
flat), the weight is the exact model of :mod:`rooeft.zh.model` (optionally times the sampling
Jacobian ``ln(s/s_hat)``), plus the azimuth ``Phi`` and the isotropic ``h -> bb`` angles for the
four-vectors (spec §8). **Background**: the Z+bb continuum of :mod:`rooeft.zh.background`, drawn
from its exact density (unit weights before normalisation), no EFT dependence.

**Detector** (:class:`Detector`): leptons and b-jets are massless; their energies are smeared
with Gaussian resolutions (directions kept)

* leptons: ``sigma_E / E = 10 % / sqrt(E/GeV) (+) 1 %``
* b-jets:  ``sigma_E / E = 100 % / sqrt(E/GeV) (+) 5 %``

(``(+)`` = sum in quadrature; smeared energies are truncated below at 5 % of the true energy),
then the acceptance ``pT(l) > 20 GeV``, ``|eta(l)| < 2.5``, ``pT(b) > 25 GeV``, ``|eta(b)| < 2.5``
is required for all four objects. Events failing it are not written. b-tagging is a weight:
``eps_b^2 SF(b1) SF(b2)`` with ``eps_b = 0.70`` and the scale factor of :mod:`rooeft.zh.btag`.
The features are recomputed from the reconstructed objects
(:func:`rooeft.zh.kinematics.reconstruct`); the generated partonic values stay available as
``truth_*`` columns.

**Normalisation** (weights = expected events at ``luminosity``, default 300/fb):

* signal: the mean SM model weight over the sampled phase space, :data:`W0_MEAN`, is identified
  with ``sigma(pp -> Zh) B(Z -> ll, l = e, mu) B(h -> bb) = 0.88 pb x 0.0673 x 0.58 ~= 34 fb``
  (:data:`SIGMA_SIGNAL_FB`), so an event's weight is
  ``L * 34 fb / W0_MEAN * w_model(theta) * eps_b^2 SF SF / N_generated``. With the Jacobian
  option the constant :data:`W0_MEAN_JACOBIAN` is used, so the total stays 34 fb.
* background: ``L * 60 fb * eps_b^2 SF SF / N_generated`` (:data:`SIGMA_BACKGROUND_FB`).

At 300/fb this gives about 1,850 signal (SM) and 2,450 background events after the acceptance
and b-tagging (acceptance 63 % and 30 %). The
structure-constant columns carry the same per-event factor, so ``w_sm == weight`` for signal.
The luminosity uncertainty, 2 % (:data:`LUMI_UNCERTAINTY`), is a normalisation (lnN)
systematic for the configuration; it has no branch.

**Columns** (:func:`generate_chunks`): the reconstructed features
(:data:`rooeft.zh.kinematics.RECO_FEATURES`, float32), ``weight`` (float64), for signal the
structure constants ``w_sm, w_cHQ3, ..., w_cHWtil_cHWtil`` (canonical order),
``weight_btagUp``/``weight_btagDown`` (all weights float32 by default, like NanoAOD's
``genWeight``; ``GeneratorConfig(weight_dtype="float64")`` keeps double precision), and truth:
``truth_sqrt_s_hat``, ``truth_y``, ``truth_cos_theta``, ``truth_phi_hat``,
``truth_cos_theta_hat``, ``truth_m_bb`` (float64, the exact inputs of the truth API),
``truth_pT`` (float32) and ``truth_process`` (int32: 0 signal, 1 background).

**Reproducibility**: chunk ``i`` of stream ``k`` uses ``np.random.SeedSequence(seed,
spawn_key=(k, i))``; the output depends only on (seed, number of events, chunk size, options).

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
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rooeft.samples.naming import structure_constant_branches
from rooeft.zh import background, btag
from rooeft.zh.kinematics import RECO_FEATURES, final_state, reconstruct
from rooeft.zh.kinematics import eta as _eta
from rooeft.zh.kinematics import pt as _pt
from rooeft.zh.model import COEFFICIENTS, MH, S_HAT_HI, S_HAT_MIN, features, structure_constants, weights, y_max

__all__ = [
    "LUMI_UNCERTAINTY",
    "PROCESSES",
    "SIGMA_BACKGROUND_FB",
    "SIGMA_SIGNAL_FB",
    "W0_MEAN",
    "W0_MEAN_JACOBIAN",
    "Detector",
    "GeneratorConfig",
    "PseudoData",
    "generate_chunks",
    "pseudo_data",
    "sample_signal",
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
    """Options of the generation (see the module docstring for the physics)."""

    luminosity: float = 300.0
    jacobian: bool = False
    detector: Detector = field(default_factory=Detector)
    sigma_signal_fb: float = SIGMA_SIGNAL_FB
    sigma_background_fb: float = SIGMA_BACKGROUND_FB
    chunk_size: int = 100_000
    weight_dtype: Literal["float32", "float64"] = "float32"

    def __post_init__(self) -> None:
        if self.weight_dtype not in ("float32", "float64"):
            raise ValueError(f"weight_dtype must be 'float32' or 'float64', got {self.weight_dtype!r}")
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
    """Flat sampling of spec §3 plus the weight-independent angles of spec §8."""
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


def simulate(
    truth: Mapping[str, F64], rng: np.random.Generator, detector: Detector
) -> tuple[dict[str, F64], npt.NDArray[np.bool_]]:
    """Four-vectors, smearing, acceptance and reconstruction; returns ``(reco, passed)``.

    ``reco`` holds :data:`~rooeft.zh.kinematics.RECO_FEATURES` for all events (values of failing
    events are meaningless), ``passed`` the acceptance mask.
    """
    lm, lp, b, bbar = final_state(
        truth["sqrt_s_hat"], truth["y"], truth["cos_theta"], truth["phi_hat"], truth["cos_theta_hat"],
        truth["Phi"], truth["cos_theta_b"], truth["phi_b"], truth["m_bb"],
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
        truth = sample_signal(rng, n)
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
            sel["sqrt_s_hat"], sel["y"], sel["cos_theta"], sel["phi_hat"], sel["cos_theta_hat"],
            jacobian=config.jacobian,
        )
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
    events are returned.
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
            process, th, seed=seed, replica=replica, config=cfg, min_pool=min_pool, max_pool=max_pool, poisson=poisson,
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
    return out
