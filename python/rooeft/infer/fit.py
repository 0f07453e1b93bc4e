"""Maximum-likelihood fits of a rooeft workspace: Minuit2 + Hesse (+ Minos), pulls and constraints."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rooeft.infer.model import DataSpec, FitAttempt, Model, get_model
from rooeft.infer.options import FitOptions

__all__ = ["FitResult", "ParameterResult", "ProcessYield", "fit", "fit_spec", "process_yields"]


@dataclass(frozen=True)
class ParameterResult:
    """Post-fit value and uncertainties of one parameter.

    ``error_lo``/``error_hi`` are signed (``error_lo <= 0``): Minos errors for the parameters
    given to ``minos``, otherwise ∓ the Hesse error. ``prefit_error`` is the constraint width (None
    for POIs and unconstrained parameters). Fixed parameters have error 0.
    """

    value: float
    error: float
    error_lo: float
    error_hi: float
    prefit: float
    prefit_error: float | None
    constrained: bool
    poi: bool
    at_limit: bool = False
    """The fitted value is within 1e-3 of the range width of a range limit (the Hesse error is
    then not meaningful; widen the range)."""
    minos: bool | None = None
    """Minos was requested: True if ``error_lo``/``error_hi`` are Minos errors, False if Minos
    failed (they are then ∓ the Hesse error); None if not requested."""

    @property
    def pull(self) -> float | None:
        """``(θ̂ − θ0)/σ_prefit`` for constrained parameters."""
        if not self.prefit_error:
            return None
        return (self.value - self.prefit) / self.prefit_error

    @property
    def constraint(self) -> float | None:
        """``σ̂/σ_prefit`` for constrained parameters."""
        if not self.prefit_error:
            return None
        return self.error / self.prefit_error


@dataclass(frozen=True)
class ProcessYield:
    """Expected events of one process in one channel before and after the fit (what Combine's
    FitDiagnostics ``--saveNormalizations`` reports), from the workspace's
    ``n_exp_final_bin<channel>_proc_<process>`` function. ``postfit_error`` is the linear
    propagation of the fit covariance (NaN without an accurate covariance); ``prefit_error`` that of
    the constraints (each constrained nuisance ± its prefit width, POIs and free rates fixed)."""

    channel: str
    process: str
    prefit: float
    postfit: float
    postfit_error: float
    prefit_error: float = math.nan


@dataclass(frozen=True)
class FitResult:
    """Result of :func:`fit`. ``status`` is Migrad's status of the kept attempt (0 = converged),
    ``cov_quality`` Minuit's covariance quality (3 = accurate, −1 = not computed). ``attempts``
    lists every minimisation attempt (see :mod:`rooeft.infer.model` for the retry strategies)."""

    status: int
    cov_quality: int
    min_nll: float
    asimov: bool
    parameters: Mapping[str, ParameterResult]
    correlation_names: tuple[str, ...]
    correlation: tuple[tuple[float, ...], ...]
    attempts: tuple[FitAttempt, ...] = ()
    edm: float = float("nan")
    minos_status: int | None = None
    label: str = ""
    yields: tuple[ProcessYield, ...] = ()

    @property
    def ok(self) -> bool:
        """Converged with an accurate covariance matrix."""
        return self.status == 0 and self.cov_quality == 3 and math.isfinite(self.min_nll)

    @property
    def at_limit(self) -> list[str]:
        """Floating parameters that ended at (within 1e-3 of the range width of) a range limit."""
        return [n for n, p in self.parameters.items() if p.at_limit]

    @property
    def minos_failed(self) -> list[str]:
        """Parameters whose Minos errors were requested but failed (their errors are Hesse's)."""
        return [n for n, p in self.parameters.items() if p.minos is False]

    @property
    def pulls(self) -> dict[str, float]:
        """``(θ̂ − θ0)/σ_prefit`` of every constrained nuisance."""
        return {n: p.pull for n, p in self.parameters.items() if p.pull is not None}

    @property
    def constraints(self) -> dict[str, float]:
        """``σ̂/σ_prefit`` of every constrained nuisance."""
        return {n: p.constraint for n, p in self.parameters.items() if p.constraint is not None}

    @property
    def pois(self) -> list[str]:
        return [n for n, p in self.parameters.items() if p.poi]

    def to_dict(self) -> dict[str, Any]:
        """The shared ``fit`` JSON format."""
        return {
            "kind": "fit",
            "status": self.status,
            "cov_quality": self.cov_quality,
            "min_nll": self.min_nll,
            "asimov": self.asimov,
            "parameters": {
                n: {
                    "value": p.value,
                    "error": p.error,
                    "error_lo": p.error_lo,
                    "error_hi": p.error_hi,
                    "prefit": p.prefit,
                    "prefit_error": p.prefit_error,
                    "constrained": p.constrained,
                    "poi": p.poi,
                    "at_limit": p.at_limit,
                    "minos": p.minos,
                }
                for n, p in self.parameters.items()
            },
            "at_limit": self.at_limit,
            "minos_status": self.minos_status,
            "minos_failed": self.minos_failed,
            "attempts": [
                {
                    "name": a.name,
                    "strategy": a.strategy,
                    "status": a.status,
                    "cov_quality": a.cov_quality,
                    "nll": a.nll,
                    "calls": a.calls,
                }
                for a in self.attempts
            ],
            "correlation": {"names": list(self.correlation_names), "matrix": [list(r) for r in self.correlation]},
            "yields": [vars(y) for y in self.yields],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> FitResult:
        """Inverse of :meth:`to_dict` (``source``: the file it came from, unused)."""
        if d.get("kind") != "fit":
            raise ValueError(f"not a fit result: kind={d.get('kind')!r}")
        params = {n: ParameterResult(**p) for n, p in d["parameters"].items()}
        attempts = tuple(FitAttempt(**a) for a in d.get("attempts", ()))
        corr = d["correlation"]
        return cls(
            status=int(d["status"]),
            cov_quality=int(d["cov_quality"]),
            min_nll=float(d["min_nll"]),
            asimov=bool(d["asimov"]),
            parameters=params,
            correlation_names=tuple(corr["names"]),
            correlation=tuple(tuple(float(x) for x in r) for r in corr["matrix"]),
            attempts=attempts,
            minos_status=d.get("minos_status"),
            yields=tuple(ProcessYield(**y) for y in d.get("yields", ())),
        )

    def table(self) -> str:
        """A human-readable table of the parameters."""
        lines = [f"status {self.status}, covariance quality {self.cov_quality}, min NLL {self.min_nll:.6f}"]
        lines.append(f"{'parameter':<24} {'value':>11} {'-err':>10} {'+err':>10} {'pull':>7} {'constr':>7}")
        for n, p in self.parameters.items():
            pull = f"{p.pull:7.3f}" if p.pull is not None else " " * 7
            con = f"{p.constraint:7.3f}" if p.constraint is not None else " " * 7
            tag = (" (POI)" if p.poi else "") + (" [Minos failed: Hesse]" if p.minos is False else "")
            lines.append(f"{n + tag:<24} {p.value:11.5g} {p.error_lo:10.4g} {p.error_hi:+10.4g} {pull} {con}")
        if self.yields:
            lines.append(f"{'channel / process':<32} {'pre-fit':>11} {'post-fit':>11} {'± error':>10}")
            for y in self.yields:
                name = f"{y.channel} / {y.process}"
                lines.append(f"{name:<32} {y.prefit:11.5g} {y.postfit:11.5g} {y.postfit_error:10.4g}")
        if self.attempts and (len(self.attempts) > 1 or not self.ok):
            lines.append(
                "attempts: " + ", ".join(f"{a.name}(status {a.status}, covQual {a.cov_quality})" for a in self.attempts)
            )
        return "\n".join(lines)


def _gradients(model: Model, funcs: Sequence[Any], centre: Mapping[str, float], steps: Mapping[str, float]) -> Any:
    """Central differences of the functions in each parameter of ``steps`` (inside the ranges)."""
    import numpy as np

    grads = np.zeros((len(funcs), len(steps)))
    model.set_values(centre)
    for j, (n, h) in enumerate(steps.items()):
        lo, hi = model.ranges.get(n, (-math.inf, math.inf))
        x = centre[n]
        up, down = min(x + h, hi), max(x - h, lo)  # stay inside the range
        model.set_values({n: up})
        f_up = np.array([f.getVal() for f in funcs])
        model.set_values({n: down})
        f_down = np.array([f.getVal() for f in funcs])
        model.set_values({n: x})
        if up > down:
            grads[:, j] = (f_up - f_down) / (up - down)
    return grads


def process_yields(model: Model, result: FitResult) -> tuple[ProcessYield, ...]:
    """Pre-fit (nominal parameters) and post-fit (``result``'s values) expected events of every
    process with an ``n_exp_final_bin<channel>_proc_<process>`` function in the workspace. The
    post-fit error is ``√(gᵀ C g)`` with ``g`` the central-difference gradient over the floating
    parameters (steps of 0.1 σ) and ``C`` the fit covariance; the pre-fit error uses the gradient
    at the nominal values and the constraint widths. The parameters are restored."""
    import numpy as np

    channels = model.metadata.get("channels", [])
    named = [
        (c["name"], p, model.w.function(f"n_exp_final_bin{c['name']}_proc_{p}"))
        for c in channels
        for p in c.get("processes", [])
    ]
    named = [(c, p, f) for c, p, f in named if f]
    if not named:
        return ()
    funcs = [f for _, _, f in named]
    saved = model.values()
    names = [n for n in result.correlation_names if result.parameters[n].error > 0]
    index = {n: i for i, n in enumerate(result.correlation_names)}
    sig = np.array([result.parameters[n].error for n in names])
    corr = np.array([[result.correlation[index[a]][index[b]] for b in names] for a in names]) if names else None
    cov = corr * np.outer(sig, sig) if corr is not None else None
    prefit_sig = {n: s for n, (_, s) in model.constraints.items() if math.isfinite(s) and s > 0}
    try:
        model.reset()
        pre = [float(f.getVal()) for f in funcs]
        g_pre = _gradients(model, funcs, model.values(), {n: 0.1 * s for n, s in prefit_sig.items()})
        post_values = {n: p.value for n, p in result.parameters.items()}
        model.set_values(post_values)
        post = [float(f.getVal()) for f in funcs]
        grads = _gradients(model, funcs, model.values(), {n: 0.1 * s for n, s in zip(names, sig, strict=True)})
    finally:
        model.reset()
        model.set_values(saved, extend=True)
    ok = result.ok and cov is not None
    errors = np.sqrt(np.sum((grads @ cov) * grads, axis=1)) if ok and cov is not None else np.full(len(funcs), np.nan)
    pre_errors = np.sqrt(np.sum((g_pre * np.array(list(prefit_sig.values()))) ** 2, axis=1))
    return tuple(
        ProcessYield(c, p, pre[i], post[i], float(errors[i]), float(pre_errors[i])) for i, (c, p, _) in enumerate(named)
    )


def _as_spec(data: str, asimov: Mapping[str, float] | bool | None) -> DataSpec:
    return DataSpec.make(data, asimov)


def fit_spec(
    model: Model,
    spec: DataSpec,
    *,
    minos: Sequence[str] = (),
    fixed: Mapping[str, float] | None = None,
    start: Mapping[str, float] | None = None,
    options: FitOptions | None = None,
    strategy: int | None = None,
    max_calls: int | None = None,
    tolerance: float | None = None,
    hesse: bool | None = None,
    label: str = "",
    nll: Any = None,
) -> FitResult:
    """:func:`fit` on an opened model and a :class:`DataSpec` (used by scans, toys and workers).

    ``options`` (:class:`FitOptions`; its ``strategy``, ``tolerance``, ``max_calls`` and ``hesse``
    are used here), overridden by the keyword arguments that are given."""
    opts = FitOptions.resolve(options, strategy=strategy, max_calls=max_calls, tolerance=tolerance, hesse=hesse)
    fixed = dict(fixed or {})
    model.check_names(fixed, what="fixed parameter")
    model.check_names(minos, what="Minos parameter")
    nll = model.likelihood(spec) if nll is None else nll
    floating = [n for n in [*model.pois, *model.nuisances] if n not in fixed]
    origin = model._nominal_start(fixed)
    if start:
        origin.update({k: v for k, v in start.items() if k not in fixed})
    res = model.minimize(
        nll,
        floating,
        start=origin,
        hesse=opts.hesse,
        minos=[m for m in minos if m in floating],
        strategy=opts.strategy,
        max_calls=opts.max_calls,
        tolerance=opts.tolerance,
    )
    params: dict[str, ParameterResult] = {}
    for n in [*model.pois, *model.nuisances]:
        err = res.errors.get(n, 0.0)
        prefit_error = model.prefit_error(n)
        lo, hi = (float(model.var(n).getMin()), float(model.var(n).getMax()))
        value = res.values[n]
        at_limit = n in floating and min(value - lo, hi - value) <= 1e-3 * (hi - lo)
        requested = n in minos and n in floating
        params[n] = ParameterResult(
            value=res.values[n],
            error=err,
            error_lo=res.errors_lo.get(n, -err),
            error_hi=res.errors_hi.get(n, err),
            prefit=model.prefit_value(n),
            prefit_error=prefit_error,
            constrained=prefit_error is not None,
            poi=n in model.pois,
            at_limit=at_limit,
            minos=(n not in res.minos_failed) if requested and res.status == 0 else None,
        )
    return FitResult(
        status=res.status,
        cov_quality=res.cov_quality,
        min_nll=res.nll,
        asimov=spec.is_asimov,
        parameters=params,
        correlation_names=res.correlation_names,
        correlation=res.correlation,
        attempts=res.attempts,
        edm=res.edm,
        minos_status=res.minos_status,
        label=label,
    )


def fit(
    workspace: str | Path | Model,
    *,
    data: str = "data_obs",
    asimov: Mapping[str, float] | bool | None = None,
    minos: Sequence[str] | None = None,
    fixed: Mapping[str, float] | None = None,
    options: FitOptions | None = None,
    strategy: int | None = None,
    max_calls: int | None = None,
    tolerance: float | None = None,
    hesse: bool | None = None,
    label: str = "",
    engine: str | None = None,
) -> FitResult:
    """Fit the workspace's ``model_s`` to a dataset, profiling every nuisance with its constraint.

    Parameters
    ----------
    workspace
        A workspace file following the rooeft convention (or an opened :class:`Model`).
    data
        Name of the dataset in the workspace (ignored when ``asimov`` is given).
    asimov
        Fit Asimov data instead: POI values (others at their nominal value); ``True`` = SM.
    minos
        POIs (or nuisances) for which Minos computes asymmetric errors.
    fixed
        Parameters held fixed at the given values (e.g. a conditional fit).
    options
        A :class:`FitOptions` (strategy, tolerance, call limit, Hesse, engine, threads); the
        keyword arguments below that are given override its fields.
    strategy, max_calls, tolerance
        Minuit2 strategy of the first attempt, call limit per attempt, and ``RooMinimizer.setEps``
        (Migrad stops at EDM < 0.002 × tolerance).
    hesse
        Run Hesse for errors and correlations.
    engine
        ``"auto"`` (default): the closed-form likelihood kernel with exact gradients
        (:mod:`rooeft.infer.kernel`), RooFit's NLL where the workspace holds something the kernel
        does not implement; ``"kernel"``: the kernel or an error; ``"roofit"``: RooFit's NLL and
        RooMinimizer (numerical gradients).

    Returns
    -------
    FitResult
        With the pre- and post-fit yields of every process (:func:`process_yields`). Failed fits
        are returned (with ``status``, ``cov_quality`` and the attempts made), never
        raised or dropped.
    """
    opts = FitOptions.resolve(
        options, strategy=strategy, max_calls=max_calls, tolerance=tolerance, hesse=hesse, engine=engine
    )
    model = get_model(workspace, engine=opts.engine, threads=opts.threads)
    result = fit_spec(model, _as_spec(data, asimov), minos=list(minos or ()), fixed=fixed, options=opts, label=label)
    return replace(result, yields=process_yields(model, result))
