"""Minimisation back ends of :meth:`rooeft.infer.model.Model.minimize`: one attempt of the retry
ladder with RooFit's NLL under RooMinimizer (:class:`RooFitRunner`) or with the closed-form kernel
under Minuit2 with exact gradients (:class:`KernelRunner`). A runner's ``run`` returns a
:class:`Handle` that runs Hesse and Minos and fills the errors of a
:class:`~rooeft.infer.model.Minimum`. The parameters live in the model's variables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rooeft.infer.kernel import KernelNLL, MinuitRun, run_minuit

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rooeft.infer.model import Minimum, Model

__all__ = ["Handle", "KernelHandle", "KernelRunner", "RooFitHandle", "RooFitRunner", "Runner"]


def _names(collection: Any) -> list[str]:
    return [str(v.GetName()) for v in collection] if collection else []


class Handle:
    """One finished minimisation attempt of a runner."""

    status: int
    nll: float
    edm: float
    calls: int

    def hesse(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def minos(self, names: Sequence[str]) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def fill_errors(self, result: Minimum, minos: Sequence[str]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Runner:
    """Runs minimisation attempts of one likelihood; parameters live in the model's variables."""

    def value(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def run(
        self,
        floating: Sequence[str],
        steps: Mapping[str, float],
        *,
        strategy: int,
        tolerance: float,
        max_calls: int | None,
        simplex_first: bool,
        seed_hessian: npt.NDArray[np.float64] | None = None,
    ) -> Handle:  # pragma: no cover - interface
        raise NotImplementedError


class RooFitHandle(Handle):
    def __init__(self, model: Model, m: Any, status: int, nll: float, calls: int) -> None:
        self.model, self.m, self.status, self.nll, self.edm, self.calls = model, m, status, nll, float("nan"), calls

    def hesse(self) -> int:
        self.m.hesse()
        return int(self.m.save().covQual())

    def minos(self, names: Sequence[str]) -> int:
        return int(self.m.minos(self.model.ROOT.RooArgSet(*[self.model.var(p) for p in names])))

    def fill_errors(self, result: Minimum, minos: Sequence[str]) -> None:
        r = self.m.save()
        result.cov_quality = int(r.covQual())
        result.edm = float(r.edm())
        pars = r.floatParsFinal()
        names = _names(pars)
        corr = r.correlationMatrix()
        result.correlation_names = tuple(names)
        result.correlation = tuple(tuple(float(corr(i, j)) for j in range(len(names))) for i in range(len(names)))
        for n in names:
            p = pars.find(n)
            err = float(p.getError())
            result.errors[n] = err
            if n in minos and p.hasAsymError() and result.minos_status == 0:
                result.errors_lo[n] = float(p.getAsymErrorLo())
                result.errors_hi[n] = float(p.getAsymErrorHi())
            else:
                result.errors_lo[n], result.errors_hi[n] = -err, err
        # RooMinimizer reports one status for all: any failure leaves every requested error Hesse's
        if minos and result.minos_status != 0:
            result.minos_failed = tuple(n for n in minos if n in names)


class RooFitRunner(Runner):
    """RooMinimizer on RooFit's NLL (created with ``Offset("initial")``; numerical gradients)."""

    def __init__(self, model: Model, nll: Any) -> None:
        self.model, self.nll = model, nll

    def value(self) -> float:
        return float(self.nll.getVal())

    def run(
        self,
        floating: Sequence[str],
        steps: Mapping[str, float],
        *,
        strategy: int,
        tolerance: float,
        max_calls: int | None,
        simplex_first: bool,
        seed_hessian: npt.NDArray[np.float64] | None = None,
    ) -> Handle:
        for n in floating:
            self.model.var(n).setError(steps[n])
        m = self.model.ROOT.RooMinimizer(self.nll)
        m.setPrintLevel(-1)
        m.setPrintEvalErrors(-1)
        m.setStrategy(strategy)
        m.setEps(tolerance)
        if max_calls is not None:
            m.setMaxFunctionCalls(int(max_calls))
            m.setMaxIterations(int(max_calls))
        if simplex_first:
            m.minimize("Minuit2", "Simplex")
        status = int(m.minimize("Minuit2", "Migrad"))
        calls = int(m.evalCounter())
        return RooFitHandle(self.model, m, status, self.value(), calls)


class KernelHandle(Handle):
    def __init__(self, model: Model, run: MinuitRun, floating: Sequence[str], knll: KernelNLL | None = None) -> None:
        self.model, self.run, self.floating, self.knll = model, run, list(floating), knll
        self.status, self.nll, self.edm, self.calls = run.status, run.nll, run.edm, run.calls

    def hesse(self) -> int:
        before = self.run_calls()
        q = self.run.hesse()
        self.calls += self.run_calls() - before
        return q

    def run_calls(self) -> int:
        """Kernel evaluations so far (Hessian passes included)."""
        return int(self.run.fcn.passes()) if self.knll is None else self.knll.calls

    def minos(self, names: Sequence[str]) -> int:
        self.asym: dict[str, tuple[float, float]] = {}
        status = 0
        index = {n: i for i, n in enumerate(self.run.values)}
        for n in names:
            lo, hi, ok = self.run.minos(index[n])
            # Minuit2 reports a crossing cut off by the parameter's range as valid: that interval
            # is truncated, not found
            x = float(self.run.values[n])
            lo_lim, hi_lim = self.model.ranges.get(n, (-math.inf, math.inf))
            tol = 1e-6 * (hi_lim - lo_lim) if math.isfinite(hi_lim - lo_lim) else 0.0
            if ok and x + lo > lo_lim + tol and x + hi < hi_lim - tol:
                self.asym[n] = (lo, hi)
            else:
                status = 1
        return status

    def fill_errors(self, result: Minimum, minos: Sequence[str]) -> None:
        names = list(self.run.values)
        errs = self.run.errors(names)
        cov = self.run.covariance(len(names))
        result.cov_quality = int(self.run.minimizer.CovMatrixStatus())
        idx = [names.index(n) for n in names if n in self.floating]
        fl = [names[i] for i in idx]
        sub = cov[np.ix_(idx, idx)]
        d = np.sqrt(np.clip(np.diag(sub), 0.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = sub / np.outer(d, d)
        result.correlation_names = tuple(fl)
        result.correlation = tuple(tuple(float(v) for v in row) for row in corr)
        asym = getattr(self, "asym", {})
        for n in fl:
            err = errs[n]
            result.errors[n] = err
            if n in minos and n in asym:
                result.errors_lo[n], result.errors_hi[n] = asym[n]
            else:
                result.errors_lo[n], result.errors_hi[n] = -err, err
        result.minos_failed = tuple(n for n in minos if n in fl and n not in asym)


class KernelRunner(Runner):
    """Minuit2 with the kernel's exact gradient (offset at each attempt's start)."""

    def __init__(self, model: Model, knll: KernelNLL) -> None:
        self.model, self.knll = model, knll

    def value(self) -> float:
        return self.knll.value({})

    def run(
        self,
        floating: Sequence[str],
        steps: Mapping[str, float],
        *,
        strategy: int,
        tolerance: float,
        max_calls: int | None,
        simplex_first: bool,
        seed_hessian: npt.NDArray[np.float64] | None = None,
    ) -> Handle:
        run = run_minuit(
            self.knll,
            floating,
            self.model.values(self.knll.names),
            steps,
            strategy=strategy,
            tolerance=tolerance,
            max_calls=max_calls,
            simplex_first=simplex_first,
            seed_hessian=seed_hessian,
        )
        self.model.set_values({n: run.values[n] for n in floating}, extend=True)
        return KernelHandle(self.model, run, floating, self.knll)
