"""An opened rooeft workspace: parameters, datasets (observed, Asimov, toys), likelihoods and the
minimiser with its retry strategies.

Everything that touches RooFit for inference goes through :class:`Model`. A model is opened once
per process (:func:`get_model` caches it): worker processes of parallel scans and toys open the
workspace file themselves, because ROOT objects cannot be pickled.

Retry strategies of :meth:`Model.minimize` (tried in this order until one succeeds; a fit
*succeeds* when Migrad returns status 0 with a finite NLL and, if Hesse was requested, the
covariance matrix is accurate, ``covQual == 3``):

1. ``migrad`` — Migrad with the requested strategy (default 1) from the starting point;
2. ``migrad-strategy2`` — Migrad with strategy 2, continuing from where attempt 1 stopped (or
   from the starting point if the NLL there is not finite);
3. ``migrad-restart`` — back to the nominal values (fixed parameters keep their values), with
   initial step sizes twice as large as in attempts 1–2, strategy 2;
4. ``simplex-migrad`` — Simplex followed by Migrad (strategy 2) from the nominal values.

Initial step sizes are set on every attempt (attempts 1–2: half the prefit σ of a constrained
nuisance, or 1/40 of the range of an unconstrained parameter; 3–4: twice that), so a fit never
depends on what ran before in the same process (serial and parallel scans agree).

If none succeeds the attempt with the lowest finite NLL is kept and reported with its status and
covariance quality; nothing is dropped silently. Every attempt is recorded
(:class:`FitAttempt`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.infer.kernel import KernelNLL, KernelUnsupported
from rooeft.infer.runners import KernelRunner, RooFitRunner, Runner
from rooeft.workspace import expected

__all__ = [
    "ENGINES",
    "DataSpec",
    "FitAttempt",
    "InferenceError",
    "Minimum",
    "Model",
    "ToySpec",
    "get_model",
]

WEIGHT = expected.WEIGHT
#: likelihood engines: the closed-form kernel with exact gradients (falling back to RooFit for
#: workspaces it does not implement), the kernel only, or RooFit's own NLL with RooMinimizer
ENGINES = ("auto", "kernel", "roofit")
CATEGORY = expected.CATEGORY


class InferenceError(ValueError):
    """A workspace, dataset or parameter request that inference cannot use (names the culprit)."""


@dataclass(frozen=True)
class ToySpec:
    """One pseudo-experiment: generated from the model at ``truth`` with ``numpy`` seeded by
    ``(seed, index)``, so any process regenerates the identical toy.

    ``pool`` is the path of an independent simulation pool (:mod:`rooeft.workspace.pool`) to
    draw the toy from instead of the workspace's own simulation (validation instead of closure);
    the toy then depends only on ``(seed, index, pool)``."""

    truth: tuple[tuple[str, float], ...]
    seed: int
    index: int
    randomize_globals: bool = True
    pool: str | None = None


@dataclass(frozen=True)
class DataSpec:
    """Which dataset a likelihood is built on: a dataset of the workspace (``name``), an Asimov
    dataset at the parameter values ``asimov``, or a toy. Picklable, so workers rebuild it."""

    name: str = "data_obs"
    asimov: tuple[tuple[str, float], ...] | None = None
    toy: ToySpec | None = None

    @property
    def is_asimov(self) -> bool:
        return self.asimov is not None

    @staticmethod
    def make(data: str = "data_obs", asimov: Mapping[str, float] | bool | None = None) -> DataSpec:
        """``asimov=True`` (or ``{}``) means Asimov data at the nominal (SM) values."""
        if asimov is None or asimov is False:
            return DataSpec(name=data)
        values = {} if asimov is True else dict(asimov)
        return DataSpec(name=data, asimov=tuple(sorted((k, float(v)) for k, v in values.items())))


@dataclass(frozen=True)
class FitAttempt:
    """One minimisation attempt: its strategy name, Minuit strategy, status, covariance quality
    (−1 when Hesse was not run) and NLL at its end."""

    name: str
    strategy: int
    status: int
    cov_quality: int
    nll: float
    calls: int = 0


@dataclass
class Minimum:
    """What :meth:`Model.minimize` found (the parameters are left at these values)."""

    status: int
    cov_quality: int
    nll: float
    edm: float
    attempts: tuple[FitAttempt, ...]
    values: dict[str, float]
    errors: dict[str, float] = field(default_factory=dict)
    errors_lo: dict[str, float] = field(default_factory=dict)
    errors_hi: dict[str, float] = field(default_factory=dict)
    minos_status: int | None = None
    correlation_names: tuple[str, ...] = ()
    correlation: tuple[tuple[float, ...], ...] = ()
    calls: int = 0
    """Likelihood evaluations over all attempts (the kernel computes value and gradient in one)."""
    minos_failed: tuple[str, ...] = ()
    """Parameters whose Minos errors were requested but not found (their errors are Hesse's)."""

    @property
    def ok(self) -> bool:
        return self.status == 0 and math.isfinite(self.nll)

    @property
    def converged_attempt(self) -> str | None:
        """Name of the retry-ladder step that converged (None if none did)."""
        for a in self.attempts:
            if a.status == 0 and math.isfinite(a.nll):
                return a.name
        return None


def _name(obj: Any) -> str:
    return str(obj.GetName())


def _names(collection: Any) -> list[str]:
    if not collection:
        return []
    return [_name(v) for v in collection]


def _column(cols: Mapping[Any, Any], name: str) -> npt.NDArray[Any] | None:
    """``RooDataSet.to_numpy`` keys are bytes in ROOT 6.40; accept both spellings."""
    if name in cols:
        return np.asarray(cols[name])
    key = name.encode()
    return np.asarray(cols[key]) if key in cols else None


class Model:
    """An opened rooeft workspace (see docs/workspace_convention.md).

    Parameters
    ----------
    path
        The workspace file; ``libRooEFT`` is loaded before it is opened.
    """

    def __init__(self, path: str | Path, *, engine: str = "auto", threads: int | None = None) -> None:
        from rooeft import load_library

        if engine not in ENGINES:
            raise InferenceError(f"unknown engine {engine!r}; choose one of {list(ENGINES)}")
        self.engine = engine
        self.threads = threads
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"workspace file {self.path} does not exist")
        ROOT = load_library()
        ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
        self.ROOT = ROOT
        self._file = ROOT.TFile.Open(str(self.path))
        if not self._file or self._file.IsZombie():
            raise InferenceError(f"{self.path}: not a readable ROOT file")
        w = self._file.Get("w")
        if not w or not w.InheritsFrom("RooWorkspace"):
            raise InferenceError(f"{self.path}: no RooWorkspace named 'w'")
        self.w = w
        mc = w.obj("ModelConfig")
        if not mc:
            raise InferenceError(f"{self.path}: workspace 'w' has no 'ModelConfig'")
        self.mc = mc
        self.pdf = mc.GetPdf() or w.pdf("model_s")
        if not self.pdf:
            raise InferenceError(f"{self.path}: ModelConfig has no pdf and there is no 'model_s'")
        self.pois: list[str] = _names(mc.GetParametersOfInterest())
        if not self.pois:
            raise InferenceError(f"{self.path}: ModelConfig has no parameters of interest")
        self.nuisances: list[str] = _names(mc.GetNuisanceParameters())
        self.global_observables: list[str] = _names(mc.GetGlobalObservables())
        self._globs_set = mc.GetGlobalObservables() or ROOT.RooArgSet()
        cat = w.cat(CATEGORY)
        if not cat:
            raise InferenceError(f"{self.path}: no RooCategory '{CATEGORY}'")
        self.category = cat
        states = {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in dict(cat.states()).items()}
        self.channel_index: dict[str, int] = dict(sorted(states.items(), key=lambda kv: kv[1]))
        self.channels: list[str] = list(self.channel_index)
        self.channel_pdfs: dict[str, Any] = {}
        self.channel_kind: dict[str, str] = {}
        for ch in self.channels:
            pdf = w.pdf(f"pdf_{ch}")
            if not pdf:
                raise InferenceError(f"{self.path}: channel '{ch}' has no pdf 'pdf_{ch}'")
            self.channel_pdfs[ch] = pdf
            if pdf.InheritsFrom("RooEFTTemplatePdf"):
                self.channel_kind[ch] = "binned"
            elif pdf.InheritsFrom("RooEFTUnbinnedPdf"):
                self.channel_kind[ch] = "unbinned"
            else:
                raise InferenceError(f"{self.path}: pdf_{ch} is a {pdf.ClassName()}, not a RooEFT pdf")
        meta = w.obj("rooeft_metadata")
        self.metadata: dict[str, Any] = json.loads(str(meta.GetTitle())) if meta else {}
        # nominal values and ranges as stored (POIs: SM, nuisances: 0 or 1, globals)
        self.nominal: dict[str, float] = {}
        self.ranges: dict[str, tuple[float, float]] = {}
        for n in [*self.pois, *self.nuisances, *self.global_observables]:
            v = self.var(n)
            self.nominal[n] = float(v.getVal())
            self.ranges[n] = (float(v.getMin()), float(v.getMax()))
        # Gaussian constraints: nuisance -> (global observable, sigma)
        self.constraints: dict[str, tuple[str, float]] = {}
        for nu in self.nuisances:
            cpdf = w.pdf(f"{nu}_Pdf")
            if not cpdf:
                continue
            glob = f"{nu}_In"
            sigma = float(cpdf.getSigma().getVal()) if cpdf.InheritsFrom("RooGaussian") else float("nan")
            self.constraints[nu] = (glob, sigma)
        self._data_cache: dict[DataSpec, Any] = {}
        self._nll_cache: dict[DataSpec, Any] = {}
        self._kernel_cache: dict[DataSpec, KernelNLL] = {}
        self._arrays_cache: dict[str, dict[str, tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.float64]]]] = {}
        self.kernel_fallback: str | None = None
        """Why ``engine="auto"`` fell back to RooFit (None while the kernel is used)."""
        self._sim_cache: dict[str, dict[str, npt.NDArray[Any]]] = {}

    # ------------------------------------------------------------------ parameters
    def var(self, name: str) -> Any:
        v = self.w.var(name)
        if not v:
            raise InferenceError(f"{self.path}: no parameter '{name}' in workspace 'w'")
        return v

    def prefit_error(self, name: str) -> float | None:
        """σ of the Gaussian constraint of a nuisance (None for POIs and unconstrained ones)."""
        c = self.constraints.get(name)
        return c[1] if c and math.isfinite(c[1]) else None

    def prefit_value(self, name: str) -> float:
        """The constraint centre (the global observable's value) or the nominal value."""
        c = self.constraints.get(name)
        if c is not None and c[0] in self.nominal:
            return float(self.var(c[0]).getVal())
        return self.nominal[name]

    def set_values(self, values: Mapping[str, float], *, extend: bool = False) -> None:
        """Set parameters, checking ranges deliberately (ROOT 6.40 throws outside the range).

        Outside its range a parameter raises :class:`InferenceError` naming it, unless ``extend``
        is true: then the range is widened to include the value.
        """
        for name, value in values.items():
            v = self.var(name)
            lo, hi = float(v.getMin()), float(v.getMax())
            value = float(value)
            if not math.isfinite(value):
                raise InferenceError(f"{name}={value} is not finite")
            if not lo <= value <= hi:
                if not extend:
                    raise InferenceError(
                        f"{name}={value:g} is outside its range [{lo:g}, {hi:g}] in {self.path} "
                        "(choose values inside it, or allow extending the range)"
                    )
                v.setRange(min(lo, value), max(hi, value))
            v.setVal(value)

    def values(self, names: Iterable[str] | None = None) -> dict[str, float]:
        names = [*self.pois, *self.nuisances] if names is None else list(names)
        return {n: float(self.var(n).getVal()) for n in names}

    def check_names(self, names: Iterable[str], *, what: str = "parameter", pois_only: bool = False) -> None:
        allowed = set(self.pois) if pois_only else {*self.pois, *self.nuisances}
        for n in names:
            if n not in allowed:
                kind = "POIs" if pois_only else "POIs and nuisances"
                raise InferenceError(f"unknown {what} '{n}' in {self.path}; its {kind} are {sorted(allowed)}")

    def reset(self) -> None:
        """All POIs, nuisances and global observables back to their stored nominal values."""
        for n, v in self.nominal.items():
            var = self.var(n)
            lo, hi = self.ranges[n]
            var.setRange(min(lo, float(var.getMin())), max(hi, float(var.getMax())))
            var.setVal(v)

    # ------------------------------------------------------------------ datasets
    def _sim_columns(self, ch: str) -> dict[str, npt.NDArray[Any]]:
        if ch not in self._sim_cache:
            sim = self.w.data(f"sim_{ch}")
            if not sim:
                raise InferenceError(f"{self.path}: unbinned channel '{ch}' has no simulation dataset 'sim_{ch}'")
            cols = sim.to_numpy()
            self._sim_cache[ch] = {
                (k.decode() if isinstance(k, bytes) else str(k)): np.asarray(v) for k, v in cols.items()
            }
        return self._sim_cache[ch]

    def sim_weights(self, ch: str, theta: Mapping[str, float]) -> npt.NDArray[np.float64]:
        """Expected-event weights ``Σ_t m_t(θ) w_t`` of the simulation of an unbinned channel."""
        cols = self._sim_columns(ch)
        th = expected.theta_vector(self.pois, theta, self.nominal)
        try:
            return expected.column_weights(cols, self.pois, th)
        except expected.MissingColumn as err:
            raise InferenceError(f"{self.path}: {expected.sim_name(ch)} has no weight column '{err.name}'") from None

    def channel_observables(self, ch: str, data_vars: Any) -> list[str]:
        obs = self.channel_pdfs[ch].getObservables(data_vars)
        return [n for n in _names(obs) if n not in (CATEGORY, WEIGHT)]

    def _reference_data(self, name: str) -> Any:
        d = self.w.data(name)
        if not d:
            raise InferenceError(f"{self.path}: no dataset '{name}' in workspace 'w'")
        return d

    def expected_channels(
        self, theta: Mapping[str, float]
    ) -> dict[str, tuple[dict[str, Any], npt.NDArray[np.float64]]]:
        """Per channel: (observable columns, expected weights) at ``theta`` with nominal nuisances."""
        ref = self._reference_data(expected.DATA_OBS).get()
        saved = self.values()
        try:
            self.reset()
            self.set_values(theta)
            out: dict[str, tuple[dict[str, Any], npt.NDArray[np.float64]]] = {}
            for ch in self.channels:
                obs = self.channel_observables(ch, ref)
                pdf = self.channel_pdfs[ch]
                if self.channel_kind[ch] == "binned":
                    edges = np.asarray(list(pdf.edges()), dtype=np.float64)
                    yields = np.asarray(list(pdf.binYields()), dtype=np.float64)
                    if len(obs) != 1:
                        raise InferenceError(f"binned channel '{ch}' must have one observable, found {obs}")
                    out[ch] = ({obs[0]: expected.bin_centres(edges)}, yields)
                else:
                    cols = self._sim_columns(ch)
                    missing = [o for o in obs if o not in cols]
                    if missing:
                        raise InferenceError(
                            f"{self.path}: {expected.sim_name(ch)} lacks observable column(s) {missing}"
                        )
                    out[ch] = ({o: np.asarray(cols[o], dtype=np.float64) for o in obs}, self.sim_weights(ch, theta))
            return out
        finally:
            self.reset()
            self.set_values(saved, extend=True)

    def build_dataset(self, name: str, per_channel: Mapping[str, tuple[Mapping[str, Any], Any]]) -> Any:
        """A RooDataSet like ``data_obs`` (all observables, ``CMS_channel``, weight ``_weight_``)
        from per-channel observable columns and weights."""
        ROOT = self.ROOT
        ref = self._reference_data("data_obs")
        varset = ref.get()
        wvar = self.w.var(WEIGHT) or ROOT.RooRealVar(WEIGHT, WEIGHT, 1.0)
        if not hasattr(self, "_wvar"):
            self._wvar = wvar
        names = [n for n in _names(varset) if n not in (CATEGORY, WEIGHT)]
        cols: dict[str, list[npt.NDArray[Any]]] = {n: [] for n in [*names, CATEGORY, WEIGHT]}
        expected_rows = 0
        for ch, (obs, weights) in per_channel.items():
            weights = np.asarray(weights, dtype=np.float64)
            n = weights.size
            expected_rows += n
            for v in names:
                if v in obs:
                    cols[v].append(np.asarray(obs[v], dtype=np.float64))
                else:
                    cols[v].append(np.full(n, float(varset.find(v).getVal())))
            cols[CATEGORY].append(np.full(n, self.channel_index[ch], dtype=np.int32))
            cols[WEIGHT].append(weights)
        arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
        arrays[CATEGORY] = arrays[CATEGORY].astype(np.int32)
        argset = ROOT.RooArgSet()
        for vname in names:
            argset.add(varset.find(vname))
        argset.add(self.category)
        argset.add(self._wvar)
        ds = ROOT.RooDataSet.from_numpy(arrays, argset, name=name, weight_name=WEIGHT)
        if ds.numEntries() != expected_rows:
            raise InferenceError(
                f"{self.path}: dataset '{name}' lost {expected_rows - ds.numEntries()} entries outside the "
                "observables' ranges"
            )
        return ds

    def asimov_dataset(self, theta: Mapping[str, float], *, name: str = "asimov") -> Any:
        """Asimov dataset at ``theta`` (other POIs nominal, nuisances nominal): binned channels
        hold the expected counts at the bin centres, unbinned channels the weighted simulation."""
        self.check_names(theta, what="POI", pois_only=True)
        return self.build_dataset(name, self.expected_channels(theta))

    def pool_layout(self) -> dict[str, tuple[str, list[float] | None, list[str]]]:
        """Per channel (kind, bin edges or None, observable names): what a toy pool must provide."""
        out: dict[str, tuple[str, list[float] | None, list[str]]] = {}
        for ch in self.channels:
            pdf = self.channel_pdfs[ch]
            if self.channel_kind[ch] == "binned":
                out[ch] = ("binned", [float(e) for e in pdf.edges()], [str(pdf.observableName())])
            else:
                out[ch] = ("unbinned", None, [str(n) for n in pdf.observableNames()])
        return out

    def _pool_toy(
        self, path: str, truth: Mapping[str, float], rng: np.random.Generator
    ) -> dict[str, tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.float64]]]:
        from rooeft.workspace.pool import PoolError, check_workspace, load_pool

        pool = load_pool(path)
        layout = self.pool_layout()
        try:
            check_workspace(pool.config_hash, self.metadata, str(self.path))
            pool.check_layout(layout, str(self.path))
            return dict(pool.draw(layout, truth, rng))
        except PoolError as err:
            raise InferenceError(f"toy pool {path}: {err}") from None

    def toy_arrays(
        self, toy: ToySpec
    ) -> tuple[dict[str, tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.float64]]], dict[str, float]]:
        """Pseudo-data at ``toy.truth`` as per-channel (observable columns, weights), and the
        (possibly randomised) global observables.

        Binned channels: Poisson counts around the expected yields. Unbinned channels: the
        number of events is Poisson(ν_tot) with ``ν_tot = Σ w_i(θ)`` of the simulation, and
        events are drawn with replacement with probability ``|w_i| / Σ|w|`` (multinomial); with
        negative weights present each drawn event carries ``sign(w_i) Σ|w| / Σw`` (a weighted toy).
        Global observables ``<nu>_In`` are drawn from Gaussians of width σ around the nuisances'
        true (nominal) values when ``randomize_globals``.

        With ``toy.pool`` the events come from that independent pool instead (see
        :meth:`rooeft.workspace.pool.ToyPool.draw`: Poisson(Σ w_i(θ)) events drawn with
        replacement with probability ∝ |w_i(θ)|, binned channels histogrammed with the channel's
        edges); the global observables as above.
        """
        truth = dict(toy.truth)
        self.check_names(truth, what="truth parameter", pois_only=True)
        rng = np.random.default_rng([int(toy.seed), int(toy.index)])
        per_channel: dict[str, tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.float64]]] = {}
        if toy.pool is not None:
            per_channel.update(self._pool_toy(toy.pool, truth, rng))
        for ch, (obs, weights) in ({} if toy.pool is not None else self.expected_channels(truth)).items():
            if self.channel_kind[ch] == "binned":
                per_channel[ch] = (dict(obs), rng.poisson(np.clip(weights, 0.0, None)).astype(np.float64))
                continue
            total, absw = float(weights.sum()), np.abs(weights)
            if total <= 0:
                raise InferenceError(f"channel '{ch}': expected events {total} <= 0 at {truth}")
            n = int(rng.poisson(total))
            idx = rng.choice(weights.size, size=n, p=absw / absw.sum())
            w = np.sign(weights[idx]) * (absw.sum() / total) if np.any(weights < 0) else np.ones(n)
            per_channel[ch] = ({k: np.asarray(v)[idx] for k, v in obs.items()}, w)
        globs: dict[str, float] = {}
        for nu, (glob, sigma) in self.constraints.items():
            if glob not in self.nominal:
                continue
            centre = self.nominal[nu]
            globs[glob] = float(rng.normal(centre, sigma)) if toy.randomize_globals and math.isfinite(sigma) else centre
        return per_channel, globs

    def toy_dataset(self, toy: ToySpec) -> tuple[Any, dict[str, float]]:
        """Pseudo-data at ``toy.truth`` as a ``RooDataSet`` (see :meth:`toy_arrays`) and the
        global observables."""
        per_channel, globs = self.toy_arrays(toy)
        return self.build_dataset(f"toy_{toy.index}", per_channel), globs

    def dataset_arrays(
        self, spec: DataSpec
    ) -> tuple[dict[str, tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.float64]]], dict[str, float]]:
        """The dataset of ``spec`` as per-channel (observable columns, weights) and the global
        observables that go with it (what the kernel engine fits)."""
        nominal_globs = {g: self.nominal[g] for g in self.global_observables}
        if spec.toy is not None:
            toy, globs = self.toy_arrays(spec.toy)
            return toy, {**nominal_globs, **globs}
        if spec.asimov is not None:
            exp = self.expected_channels(dict(spec.asimov))
            return {ch: (dict(obs), np.asarray(w, dtype=np.float64)) for ch, (obs, w) in exp.items()}, nominal_globs
        if spec.name not in self._arrays_cache:
            cols = {
                (k.decode() if isinstance(k, bytes) else str(k)): np.asarray(v)
                for k, v in self._reference_data(spec.name).to_numpy().items()
            }
            cat = cols.get(CATEGORY)
            if cat is None:
                raise InferenceError(f"{self.path}: dataset '{spec.name}' has no '{CATEGORY}' column")
            weights = cols.get(WEIGHT, np.ones(cat.size))
            per: dict[str, tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.float64]]] = {}
            for ch, idx in self.channel_index.items():
                sel = cat == idx
                per[ch] = (
                    {k: v[sel] for k, v in cols.items() if k not in (CATEGORY, WEIGHT)},
                    np.asarray(weights[sel], dtype=np.float64),
                )
            self._arrays_cache[spec.name] = per
        return self._arrays_cache[spec.name], nominal_globs

    def dataset(self, spec: DataSpec) -> tuple[Any, dict[str, float]]:
        """The dataset of ``spec`` and the global-observable values that go with it."""
        nominal_globs = {g: self.nominal[g] for g in self.global_observables}
        if spec.toy is not None:
            data, globs = self.toy_dataset(spec.toy)
            return data, {**nominal_globs, **globs}
        if spec in self._data_cache:
            return self._data_cache[spec], nominal_globs
        data = self.asimov_dataset(dict(spec.asimov)) if spec.asimov is not None else self._reference_data(spec.name)
        self._data_cache[spec] = data
        return data, nominal_globs

    def nll(self, spec: DataSpec) -> Any:
        """The extended NLL with constraints (global observables at the values of the dataset);
        cached per dataset except for toys."""
        if spec in self._nll_cache:
            self.set_values({g: self.nominal[g] for g in self.global_observables}, extend=True)
            return self._nll_cache[spec]
        data, globs = self.dataset(spec)
        self.set_values(globs, extend=True)
        nll = self.pdf.createNLL(
            data, Extended=True, GlobalObservables=self._globs_set, EvalBackend="cpu", Offset="initial"
        )
        if spec.toy is None:
            self._nll_cache[spec] = nll
        else:  # keep the toy dataset alive as long as its likelihood
            self._toy_keep = (data, nll)
        return nll

    def likelihood(self, spec: DataSpec) -> Any:
        """The likelihood to minimise on ``spec``: the closed-form :class:`KernelNLL` (engines
        ``"auto"`` and ``"kernel"``) or RooFit's NLL (``"roofit"``, or ``"auto"`` when the
        workspace holds something the kernel does not implement; :attr:`kernel_fallback` then
        says what). Both are accepted by :meth:`minimize` and give the same fits."""
        if self.engine == "roofit" or (self.engine == "auto" and self.kernel_fallback is not None):
            return self.nll(spec)
        if spec in self._kernel_cache:
            return self._kernel_cache[spec]
        per, globs = self.dataset_arrays(spec)
        try:
            knll = KernelNLL(self, per, globs, threads=self.threads)
        except KernelUnsupported as err:
            if self.engine == "kernel":
                raise InferenceError(f"{self.path}: the kernel engine cannot evaluate this workspace: {err}") from err
            self.kernel_fallback = str(err)
            return self.nll(spec)
        if spec.toy is None:
            self._kernel_cache[spec] = knll
        return knll

    # ------------------------------------------------------------------ minimisation
    def _configure(self, floating: Sequence[str]) -> None:
        fl = set(floating)
        for n in [*self.pois, *self.nuisances]:
            self.var(n).setConstant(n not in fl)
        for g in self.global_observables:
            self.var(g).setConstant(True)

    def _nominal_start(self, fixed: Mapping[str, float]) -> dict[str, float]:
        start = {n: self.nominal[n] for n in [*self.pois, *self.nuisances]}
        for nu in self.constraints:
            start[nu] = self.prefit_value(nu)
        start.update(fixed)
        return start

    def _steps(self, floating: Sequence[str], *, scale: float = 1.0) -> dict[str, float]:
        """Initial Minuit steps: ``scale`` × (prefit σ, or 1/20 of the range if unconstrained)."""
        steps = {}
        for n in floating:
            v = self.var(n)
            sigma = self.prefit_error(n)
            steps[n] = scale * (sigma if sigma else (float(v.getMax()) - float(v.getMin())) / 20.0)
        return steps

    def minimize(
        self,
        nll: Any,
        floating: Sequence[str],
        *,
        start: Mapping[str, float],
        hesse: bool = False,
        minos: Sequence[str] = (),
        strategy: int = 1,
        max_calls: int | None = None,
        tolerance: float = 0.01,
        extend: bool = False,
        seed_hessian: npt.NDArray[np.float64] | None = None,
    ) -> Minimum:
        """Minimise ``nll`` (a :class:`KernelNLL` from :meth:`likelihood`, or a RooFit NLL) over
        ``floating`` from ``start`` (other POIs/nuisances are fixed at their ``start`` values),
        with the retry strategies of this module's docstring. Kernel engine: ``seed_hessian``
        (over ``nll.names``, e.g. from a neighbouring scan point) seeds the first attempt's Migrad
        instead of a freshly computed Hessian."""
        floating = list(floating)
        self._configure(floating)
        fixed = {k: v for k, v in start.items() if k not in set(floating)}
        self.set_values(start, extend=extend)
        runner: Runner = KernelRunner(self, nll) if isinstance(nll, KernelNLL) else RooFitRunner(self, nll)
        if not floating:  # nothing to minimise: evaluate (a non-finite NLL is a failed point, status -1)
            val = runner.value()
            status = 0 if math.isfinite(val) else -1
            att = FitAttempt("evaluate", strategy, status, -1, val, 1)
            return Minimum(status, -1, val, 0.0, (att,), self.values(), calls=1)

        plan = [
            ("migrad", strategy, "continue"),
            ("migrad-strategy2", 2, "continue"),
            ("migrad-restart", 2, "nominal"),
            ("simplex-migrad", 2, "nominal"),
        ]
        attempts: list[FitAttempt] = []
        candidates: list[tuple[float, dict[str, float], Any, FitAttempt]] = []
        chosen: tuple[float, dict[str, float], Any, FitAttempt] | None = None
        total_calls = 0
        for i, (name, strat, origin) in enumerate(plan):
            if i > 0 and origin == "continue":
                if not math.isfinite(runner.value()):
                    self.set_values(start, extend=extend)
            elif i > 0:
                self.set_values(self._nominal_start(fixed), extend=extend)
            # deterministic initial steps (a fit must not depend on what ran before in the process)
            steps = self._steps(floating, scale=1.0 if origin == "nominal" else 0.5)
            handle = runner.run(
                floating,
                steps,
                strategy=strat,
                tolerance=tolerance,
                max_calls=max_calls,
                simplex_first=name == "simplex-migrad",
                seed_hessian=seed_hessian if i == 0 else None,
            )
            covq = -1
            if hesse and handle.status == 0 and math.isfinite(handle.nll):
                covq = handle.hesse()
            total_calls += handle.calls
            att = FitAttempt(name, strat, handle.status, covq, handle.nll, handle.calls)
            attempts.append(att)
            if math.isfinite(handle.nll):
                candidates.append((handle.nll, self.values(), handle, att))
            if handle.status == 0 and math.isfinite(handle.nll) and (not hesse or covq == 3):
                chosen = candidates[-1]
                break
        if chosen is None and candidates:  # all failed: keep the lowest NLL, converged ones first
            chosen = min(candidates, key=lambda c: (c[3].status != 0, c[0]))
        if chosen is None:  # nothing finite at all
            last = attempts[-1]
            return Minimum(
                last.status,
                last.cov_quality,
                last.nll,
                float("nan"),
                tuple(attempts),
                self.values(),
                calls=total_calls,
            )
        val, snap, handle, att = chosen
        self.set_values(snap, extend=True)
        result = Minimum(att.status, att.cov_quality, val, handle.edm, tuple(attempts), snap, calls=total_calls)
        if hesse and att.status == 0:
            if att.cov_quality < 0:  # the kept attempt did not run Hesse: do it for the errors
                result.cov_quality = handle.hesse()
            self.set_values(snap, extend=True)
            if minos:
                result.minos_status = handle.minos(list(minos))
            handle.fill_errors(result, list(minos))
            self.set_values(snap, extend=True)
        return result


_MODELS: dict[tuple[str, int, int, str, int | None], Model] = {}


def get_model(path: str | Path | Model, *, engine: str = "auto", threads: int | None = None) -> Model:
    """The process-wide :class:`Model` of a workspace file (reopened if the file changed), per
    likelihood ``engine`` and thread count. An opened :class:`Model` is returned as it is,
    switched to ``engine`` if one other than ``"auto"`` is asked for."""
    if isinstance(path, Model):
        if engine != "auto" and engine != path.engine:
            if engine not in ENGINES:
                raise InferenceError(f"unknown engine {engine!r}; choose one of {list(ENGINES)}")
            path.engine = engine
        return path
    p = Path(path).resolve()
    if not p.is_file():
        raise FileNotFoundError(f"workspace file {p} does not exist")
    st = p.stat()
    key = (str(p), st.st_mtime_ns, st.st_size, engine, threads)
    if key not in _MODELS:
        for k in [k for k in _MODELS if k[0] == key[0] and k[3:] == key[3:]]:
            del _MODELS[k]
        _MODELS[key] = Model(p, engine=engine, threads=threads)
    return _MODELS[key]
