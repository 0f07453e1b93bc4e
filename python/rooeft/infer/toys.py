"""Pseudo-experiments: generate toys at a true point, fit each, report coverage and pulls.

Generation (see :meth:`rooeft.infer.model.Model.toy_dataset`): binned channels get Poisson
counts around the expected yields at the truth; unbinned channels get Poisson(ν_tot) events drawn
(multinomially, with replacement) from the weighted simulation ``sim_<ch>`` with probabilities
``|w_i(θ)|/Σ|w|``; global observables are drawn around the nuisances' nominal values
(``randomize_globals=True``, the frequentist toys of Combine's ``--toysFrequentist``).

Coverage of the 68/95% intervals, per POI, among converged toys:

* ``interval="profile"`` (default): the profile-likelihood interval covers the truth exactly when
  ``q = 2(NLL(θ_true, ν̂̂) − NLL_min) < 1.00`` (resp. 3.84), so one conditional fit at the truth
  (the other POIs and the nuisances profiled) decides it — the same intervals a 1D scan gives,
  without interpolation;
* ``interval="hesse"``: ``|θ̂ − θ_true| < σ̂`` (resp. ``1.96 σ̂``) with the Hesse error.

Pulls are ``(θ̂ − θ_true)/σ̂`` (Hesse) for POIs and nuisances (truth = nominal for nuisances).
:meth:`ToysResult.summary` adds, per POI, the bias in σ with its error, the pull width, the
coverage with binomial errors and the true sensitivity (the spread of θ̂ against the median
Hesse σ̂).

These toys resample the workspace's own simulation, so they are labelled ``source: closure``:
they test the fit machinery and the asymptotics, not the learned model against independent
pseudo-data (a model bias against nature is invisible to them).

With ``pool=`` (a pool of independent simulation written by
:meth:`rooeft.workspace.pool.ToyPool.write`: another seed of the same generator, read with the
workspace's configuration) the toys are drawn from that pool instead and labelled
``source: validation``: per channel Poisson(Σ w_i(θ_true)) events drawn with replacement with
probability ∝ w_i(θ_true), binned channels histogrammed with the channel's edges. Bias and
coverage then measure the model (networks, templates, finite simulation) against independent
pseudo-data. The result records the pool (files, events, n_eff per channel at the truth).

``pois=`` floats only some POIs (the others fixed at the truth; nuisances always profiled), e.g.
one coefficient at a time. Every summary also carries the *Asimov width*: the Hesse σ of a fit to
the Asimov dataset at the truth (the sensitivity the model claims), next to std(θ̂) (the true
sensitivity) and the median Hesse σ̂.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rooeft.infer.fit import fit_spec
from rooeft.infer.model import DataSpec, InferenceError, Model, ToySpec, get_model
from rooeft.infer.options import FitOptions
from rooeft.infer.parallel import chunks, default_workers, run_tasks
from rooeft.infer.scan import LEVELS_1D

__all__ = ["SOURCE_CLOSURE", "SOURCE_VALIDATION", "PoiSummary", "ToyFit", "ToysResult", "asimov_widths", "toys"]

#: where the toys come from: resampled from the workspace's own simulation (``sim_<ch>``) they
#: test the fit machinery ("closure"), not the model against independent pseudo-data
SOURCE_CLOSURE = "closure"
#: drawn from an independent simulation pool: a validation of the model against independent data
SOURCE_VALIDATION = "validation"


@dataclass(frozen=True)
class ToyFit:
    """The fit of one toy: status (Migrad; −1 covariance quality when Hesse failed), values and
    Hesse errors of POIs and nuisances, and ``q`` per POI (``2ΔNLL`` at the truth; NaN when the
    conditional fit failed or ``interval="hesse"``)."""

    index: int
    status: int
    cov_quality: int
    values: Mapping[str, float]
    errors: Mapping[str, float]
    q: Mapping[str, float]

    @property
    def ok(self) -> bool:
        return self.status == 0 and self.cov_quality == 3


@dataclass(frozen=True)
class PoiSummary:
    """What the toys say about one POI (converged toys only).

    ``bias`` is the mean of ``(θ̂ − θ_true)/σ̂`` (Hesse σ̂) with its standard error ``bias_error``;
    ``pull_width`` the standard deviation of those pulls; ``coverage68/95`` the fractions of
    intervals that cover the truth, with binomial errors; ``std_fit`` the spread of θ̂ over the toys
    (the true sensitivity), to compare with ``median_hesse``, the median Hesse σ̂, and
    ``asimov_width``, the Hesse σ of the fit to the Asimov dataset at the truth (NaN if not
    computed or that fit failed).
    """

    n: int
    bias: float
    bias_error: float
    pull_width: float
    coverage68: float
    coverage68_error: float
    coverage95: float
    coverage95_error: float
    std_fit: float
    median_hesse: float
    asimov_width: float = math.nan

    def line(self, poi: str) -> str:
        """One line for the terminal."""
        return (
            f"{poi}: bias {self.bias:+.3f} ± {self.bias_error:.3f} σ, pull width {self.pull_width:.3f}, "
            f"coverage 68% {self.coverage68:.3f} ± {self.coverage68_error:.3f}, "
            f"95% {self.coverage95:.3f} ± {self.coverage95_error:.3f}; std(θ̂) {self.std_fit:.4g} vs median "
            f"Hesse σ {self.median_hesse:.4g} vs Asimov σ {self.asimov_width:.4g} (n={self.n})"
        )


def _binomial_error(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n) if n > 0 and math.isfinite(p) else math.nan


@dataclass(frozen=True)
class ToysResult:
    """All toy fits with coverage and pulls (``kind: toys`` JSON)."""

    truth: Mapping[str, float]
    n_toys: int
    fits: tuple[ToyFit, ...]
    coverage: Mapping[str, Mapping[str, float]]
    pulls: Mapping[str, tuple[float, ...]]
    interval: str = "profile"
    seed: int = 0
    source: str = SOURCE_CLOSURE
    floating: tuple[str, ...] = ()
    """The POIs that floated (the others fixed at the truth); empty: all POIs of ``truth``."""
    asimov_width: Mapping[str, float] = field(default_factory=dict)
    """Hesse σ per floating POI of the fit to the Asimov dataset at the truth."""
    pool: Mapping[str, Any] | None = None
    """Validation toys: the pool they were drawn from (files, events, n_eff per channel)."""

    @property
    def pois(self) -> tuple[str, ...]:
        """The POIs the toys measure (the floating ones)."""
        return self.floating or tuple(self.truth)

    @property
    def converged_fraction(self) -> float:
        """Fraction of the toys whose fit converged with an accurate covariance."""
        return sum(f.ok for f in self.fits) / self.n_toys if self.n_toys else math.nan

    def summary(self) -> dict[str, PoiSummary]:
        """Bias, pull width, coverage with binomial errors and true sensitivity per POI."""
        good = [f for f in self.fits if f.ok]
        out: dict[str, PoiSummary] = {}
        for poi in self.pois:
            t = self.truth[poi]
            sel = [f for f in good if f.errors.get(poi, 0.0) > 0]
            pulls = np.array([(f.values[poi] - t) / f.errors[poi] for f in sel])
            vals = np.array([f.values[poi] for f in sel])
            n = int(pulls.size)
            cov = self.coverage.get(poi, {})
            nc = int(cov.get("n", 0))
            c68, c95 = float(cov.get("68", math.nan)), float(cov.get("95", math.nan))
            out[poi] = PoiSummary(
                n=n,
                bias=float(pulls.mean()) if n else math.nan,
                bias_error=float(pulls.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                pull_width=float(pulls.std(ddof=1)) if n > 1 else math.nan,
                coverage68=c68,
                coverage68_error=_binomial_error(c68, nc),
                coverage95=c95,
                coverage95_error=_binomial_error(c95, nc),
                std_fit=float(vals.std(ddof=1)) if n > 1 else math.nan,
                median_hesse=float(np.median([f.errors[poi] for f in sel])) if n else math.nan,
                asimov_width=float(self.asimov_width.get(poi, math.nan)),
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "toys",
            "truth": dict(self.truth),
            "n_toys": self.n_toys,
            "fits": [
                {
                    "status": f.status,
                    "values": dict(f.values),
                    "errors": dict(f.errors),
                    "q": dict(f.q),
                    "cov_quality": f.cov_quality,
                    "index": f.index,
                }
                for f in self.fits
            ],
            "coverage": {k: dict(v) for k, v in self.coverage.items()},
            "pulls": {k: list(v) for k, v in self.pulls.items()},
            "interval": self.interval,
            "seed": self.seed,
            "source": self.source,
            "floating": list(self.pois),
            "asimov_width": dict(self.asimov_width),
            "pool": self.pool,
            "converged_fraction": self.converged_fraction,
            "summary": {p: dict(vars(v)) for p, v in self.summary().items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> ToysResult:
        """Inverse of :meth:`to_dict` (``source``: the file it came from, unused)."""
        if d.get("kind") != "toys":
            raise ValueError(f"not a toys result: kind={d.get('kind')!r}")
        fits = tuple(
            ToyFit(
                int(f.get("index", i)),
                int(f["status"]),
                int(f.get("cov_quality", 3)),
                dict(f["values"]),
                dict(f["errors"]),
                dict(f.get("q", {})),
            )
            for i, f in enumerate(d["fits"])
        )
        return cls(
            dict(d["truth"]),
            int(d["n_toys"]),
            fits,
            {k: dict(v) for k, v in d["coverage"].items()},
            {k: tuple(v) for k, v in d["pulls"].items()},
            str(d.get("interval", "profile")),
            int(d.get("seed", 0)),
            str(d.get("source", SOURCE_CLOSURE)),
            tuple(d.get("floating", ())),
            {k: float(v) for k, v in dict(d.get("asimov_width") or {}).items()},
            d.get("pool"),
        )


def _toy_task(payload: Mapping[str, Any]) -> list[ToyFit]:
    model = get_model(payload["workspace"], engine=payload["engine"], threads=payload["threads"])
    truth: dict[str, float] = dict(payload["truth"])
    floating_pois = list(payload["floating"])
    fixed = {p: truth[p] for p in model.pois if p not in floating_pois}
    out = []
    for index in payload["indices"]:
        toy = ToySpec(
            tuple(sorted(truth.items())), payload["seed"], index, payload["randomize_globals"], payload["pool"]
        )
        spec = DataSpec(toy=toy)
        nll = model.likelihood(spec)
        res = fit_spec(
            model, spec, nll=nll, fixed=fixed, hesse=True, strategy=payload["strategy"], tolerance=payload["tolerance"]
        )
        values = {n: p.value for n, p in res.parameters.items()}
        errors = {n: p.error for n, p in res.parameters.items()}
        q: dict[str, float] = {}
        for poi in floating_pois:
            q[poi] = float("nan")
            if payload["interval"] != "profile" or res.status != 0:
                continue
            floating = [n for n in [*floating_pois, *model.nuisances] if n != poi]
            cond = model.minimize(
                nll,
                floating,
                start={**values, poi: truth[poi]},
                strategy=payload["strategy"],
                tolerance=payload["tolerance"],
            )
            if cond.status == 0:
                q[poi] = 2.0 * (cond.nll - res.min_nll)
        out.append(ToyFit(index, res.status, res.cov_quality, values, errors, q))
    return out


def _summarise(
    model: Model, truth: Mapping[str, float], fits: Sequence[ToyFit], interval: str, floating: Sequence[str]
) -> tuple[dict[str, dict[str, float]], dict[str, tuple[float, ...]]]:
    good = [f for f in fits if f.ok]
    coverage: dict[str, dict[str, float]] = {}
    for poi in floating:
        t = truth[poi]
        if interval == "profile":
            qs = [f.q[poi] for f in good if math.isfinite(f.q.get(poi, math.nan))]
            # a slightly negative q (conditional minimum below the free one) covers
            c68 = [q < LEVELS_1D["68"] for q in qs]
            c95 = [q < LEVELS_1D["95"] for q in qs]
        else:
            sel = [f for f in good if f.errors[poi] > 0]
            c68 = [abs(f.values[poi] - t) < f.errors[poi] for f in sel]
            c95 = [abs(f.values[poi] - t) < 1.96 * f.errors[poi] for f in sel]
        n = len(c68)
        coverage[poi] = {"68": sum(c68) / n if n else math.nan, "95": sum(c95) / n if n else math.nan, "n": n}
    pulls: dict[str, tuple[float, ...]] = {}
    for name in [*floating, *model.nuisances]:
        ref = truth[name] if name in truth else model.nominal[name]
        pulls[name] = tuple((f.values[name] - ref) / f.errors[name] for f in good if f.errors.get(name, 0) > 0)
    return coverage, pulls


def asimov_widths(
    model: Model,
    truth: Mapping[str, float],
    floating: Sequence[str],
    *,
    options: FitOptions | None = None,
    strategy: int | None = None,
    tolerance: float | None = None,
) -> dict[str, float]:
    """Hesse σ of each floating POI from a fit to the Asimov dataset at ``truth`` (the other POIs
    fixed at the truth, nuisances profiled); NaN where that fit fails. Of ``options`` the
    ``strategy`` and ``tolerance`` are used (no call limit, as for the toy fits)."""
    opts = FitOptions.resolve(options, strategy=strategy, tolerance=tolerance)
    fixed = {p: float(truth[p]) for p in model.pois if p not in floating}
    res = fit_spec(
        model,
        DataSpec.make(asimov=dict(truth)),
        fixed=fixed,
        hesse=True,
        strategy=opts.strategy,
        tolerance=opts.tolerance,
    )
    ok = res.status == 0 and res.cov_quality == 3
    return {p: float(res.parameters[p].error) if ok else math.nan for p in floating}


def _pool_description(model: Model, path: Path, truth: Mapping[str, float]) -> dict[str, Any]:
    """Load and check a pool against the workspace; describe it at the truth, with the pool
    events of unbinned channels outside the workspace's observable ranges (the kernel engine
    evaluates them; RooFit datasets cannot hold them)."""
    from rooeft.workspace.pool import PoolError, check_workspace, load_pool

    try:
        pool = load_pool(path)
        check_workspace(pool.config_hash, model.metadata, str(model.path))
        layout = model.pool_layout()
        pool.check_layout(layout, str(model.path))
        desc = pool.describe(truth)
    except PoolError as err:
        raise InferenceError(f"toy pool {path}: {err}") from None
    for ch, (kind, _, observables) in layout.items():
        if kind != "unbinned":
            continue
        outside = np.zeros(pool.channels[ch].n_events, dtype=bool)
        for o in observables:
            v = model.var(o)
            x = pool.channels[ch].observables[o]
            outside |= (x < float(v.getMin())) | (x > float(v.getMax()))
        w = pool.weights(ch, truth)
        desc["channels"][ch]["outside_observable_range"] = {
            "events": int(outside.sum()),
            "expected_fraction": float(np.sum(w[outside]) / np.sum(w)) if np.sum(w) else math.nan,
        }
    return desc


def toys(
    workspace: str | Path | Model,
    truth: Mapping[str, float],
    *,
    n_toys: int = 100,
    seed: int = 1,
    interval: Literal["profile", "hesse"] = "profile",
    randomize_globals: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    strategy: int | None = None,
    tolerance: float | None = None,
    engine: str | None = None,
    pool: str | Path | None = None,
    pois: Sequence[str] | None = None,
    asimov_width: bool = True,
    options: FitOptions | None = None,
) -> ToysResult:
    """Generate ``n_toys`` pseudo-experiments at ``truth`` (POIs not given: nominal), fit each
    and report coverage (``interval`` says from what) and pulls. Toy ``i`` is generated from
    ``numpy.random.default_rng([seed, i])`` (and the pool), so results do not depend on the
    parallelisation.

    ``pool``: a toy pool file (:meth:`rooeft.workspace.pool.ToyPool.write`) of independent
    simulation read with the workspace's configuration: the toys are drawn from it
    (``source: validation``) instead of the workspace's own simulation (``source: closure``).
    Workers load it by path (on a Dask cluster it must be on a shared file system).
    ``pois``: the POIs that float (default all; the others are fixed at the truth).
    ``asimov_width``: also fit the Asimov dataset at the truth for the claimed sensitivity.
    ``options`` (:class:`~rooeft.infer.options.FitOptions`): strategy, tolerance, engine,
    threads, workers, scheduler and progress at once (every toy fit runs Hesse and has no call
    limit); the keyword arguments given override it.
    """
    if interval not in ("profile", "hesse"):
        raise InferenceError(f"interval must be 'profile' or 'hesse', got {interval!r}")
    if n_toys < 1:
        raise InferenceError(f"n_toys must be >= 1, got {n_toys}")
    opts = FitOptions.resolve(
        options,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        strategy=strategy,
        tolerance=tolerance,
        engine=engine,
    )
    workers, scheduler = opts.workers, opts.scheduler
    model = get_model(workspace, engine=opts.engine, threads=opts.threads)
    model.check_names(truth, what="truth parameter", pois_only=True)
    floating = list(model.pois) if not pois else list(dict.fromkeys(pois))
    model.check_names(floating, what="floating POI", pois_only=True)
    full_truth = {p: float(truth.get(p, model.nominal[p])) for p in model.pois}
    for p, v in full_truth.items():
        lo, hi = model.ranges[p]
        if not lo <= v <= hi:
            raise InferenceError(f"truth {p}={v:g} is outside its range [{lo:g}, {hi:g}] in {model.path}")
    pool_path = str(Path(pool).resolve()) if pool is not None else None
    pool_desc = _pool_description(model, Path(pool_path), full_truth) if pool_path is not None else None
    widths = asimov_widths(model, full_truth, floating, options=opts) if asimov_width else {}
    parallel = scheduler is not None or (workers or default_workers()) > 1
    groups = chunks(list(range(n_toys)), 4 * (workers or default_workers()) if parallel else 1)
    payloads = [
        {
            "workspace": str(model.path) if parallel else model,
            "engine": model.engine,
            "threads": 1 if parallel else model.threads,
            "truth": full_truth,
            "floating": floating,
            "indices": g,
            "seed": int(seed),
            "randomize_globals": randomize_globals,
            "interval": interval,
            "strategy": opts.strategy,
            "tolerance": opts.tolerance,
            "pool": pool_path,
        }
        for g in groups
    ]
    raw = run_tasks(
        _toy_task,
        payloads,
        [len(g) for g in groups],
        workers=workers,
        scheduler=scheduler,
        progress=opts.progress,
        desc="toys",
    )
    fits = tuple(f for chunk in raw for f in chunk)
    coverage, pulls = _summarise(model, full_truth, fits, interval, floating)
    return ToysResult(
        full_truth,
        n_toys,
        fits,
        coverage,
        pulls,
        interval,
        int(seed),
        SOURCE_VALIDATION if pool_path is not None else SOURCE_CLOSURE,
        tuple(floating),
        widths,
        pool_desc,
    )
