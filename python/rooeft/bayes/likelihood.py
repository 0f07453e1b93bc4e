"""The workspace likelihood as a function of the sampled parameters, with its priors.

The likelihood is RooFit's: the extended NLL of ``model_s`` (constraint terms included) built
once by :meth:`rooeft.infer.Model.nll` — ``createNLL(data, Extended=True, EvalBackend="cpu",
GlobalObservables=...)`` — and evaluated at each point by setting the parameters' values, exactly
as the profile-likelihood tools of :mod:`rooeft.infer` do. ``ln L = −NLL`` (RooFit drops the
data-only constants such as ``ln n!``, so the evidence is defined up to the same constant).

Parameters and their priors:

* **POIs** (all of the workspace's unless chosen): uniform over their range by default, or any
  :class:`~rooeft.bayes.priors.Prior`. POIs that are not chosen are fixed (at their nominal SM
  values unless ``fixed`` says otherwise).
* **Nuisances**, by ``nuisances=``:

  ``"sample"`` (default) — marginalised: sampled with a flat prior over ``centre ± 5σ`` of their
  Gaussian constraint (clipped to their range; unconstrained ones over their whole range). The
  constraint is already a factor of the likelihood, so the effective prior is the constraint
  Gaussian truncated at 5σ.
  ``"fixed"`` — held at the constraint centres (nominal values).
  ``"profile"`` — minimised over at every point (a profiled, not a marginal, posterior; slow).

A user prior given for a nuisance replaces its default window in ``"sample"`` mode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.bayes.priors import Prior, PriorError
from rooeft.infer.model import DataSpec, InferenceError, Model, get_model

__all__ = ["LOGL_FLOOR", "NUISANCE_MODES", "WINDOW_SIGMAS", "SampledParameter", "WorkspaceLikelihood"]

#: how nuisances enter: marginalised by sampling, fixed at nominal, or profiled at every point
NUISANCE_MODES = ("sample", "fixed", "profile")
#: half-width of the flat window of a sampled constrained nuisance, in constraint σ
WINDOW_SIGMAS = 5.0
#: ln L returned where the likelihood cannot be evaluated (non-finite NLL or a RooFit exception)
LOGL_FLOOR = -1e100


@dataclass(frozen=True)
class SampledParameter:
    """A sampled parameter with its resolved prior."""

    name: str
    prior: Prior
    poi: bool


class WorkspaceLikelihood:
    """``ln L`` of a rooeft workspace and the prior transform of its sampled parameters.

    Parameters
    ----------
    workspace
        Workspace file (or an opened :class:`rooeft.infer.Model`).
    pois
        POIs to sample (default: all, in the workspace's order).
    priors
        Priors by parameter name (POIs or, with ``nuisances="sample"``, nuisances).
    nuisances
        ``"sample"``, ``"fixed"`` or ``"profile"`` (see the module docstring).
    data, asimov
        Dataset name in the workspace, or Asimov data at these POI values (``True``/``{}``: at the
        nominal values; other POIs and the nuisances nominal).
    fixed
        Values of fixed parameters (POIs not sampled; nuisances when ``nuisances="fixed"``).
    """

    def __init__(
        self,
        workspace: str | Path | Model,
        *,
        pois: Iterable[str] | None = None,
        priors: Mapping[str, Prior] | None = None,
        nuisances: str = "sample",
        data: str = "data_obs",
        asimov: Mapping[str, float] | bool | None = None,
        fixed: Mapping[str, float] | None = None,
    ) -> None:
        if nuisances not in NUISANCE_MODES:
            raise ValueError(f"nuisances='{nuisances}': choose one of {', '.join(NUISANCE_MODES)}")
        model = get_model(workspace)
        self.model = model
        self.nuisance_mode = nuisances
        chosen = list(model.pois) if pois is None else list(dict.fromkeys(pois))
        if not chosen:
            raise ValueError("no POI to sample")
        model.check_names(chosen, what="POI", pois_only=True)
        priors = dict(priors or {})
        fixed = {k: float(v) for k, v in (fixed or {}).items()}
        model.check_names(priors, what="prior parameter")
        model.check_names(fixed, what="fixed parameter")
        sampled_nuisances = list(model.nuisances) if nuisances == "sample" else []
        for name in priors:
            if name not in chosen and name not in sampled_nuisances:
                why = "is not a sampled POI" if name in model.pois else f"is a nuisance and nuisances='{nuisances}'"
                raise PriorError(f"prior given for '{name}', which {why}")
        clash = [n for n in fixed if n in chosen or n in sampled_nuisances]
        if clash:
            raise ValueError(f"parameters {clash} are sampled and cannot also be fixed")

        params: list[SampledParameter] = []
        for name in chosen:
            prior = priors.get(name, Prior.uniform())
            params.append(SampledParameter(name, prior.resolved(model.ranges[name], name=name), True))
        for name in sampled_nuisances:
            params.append(SampledParameter(name, self._nuisance_prior(name, priors.get(name)), False))
        self.parameters: tuple[SampledParameter, ...] = tuple(params)
        self.names: tuple[str, ...] = tuple(p.name for p in params)
        self.pois: tuple[str, ...] = tuple(chosen)
        self.profiled: tuple[str, ...] = tuple(model.nuisances) if nuisances == "profile" else ()

        # fixed values: other POIs nominal, nuisances (fixed/profile start) at their constraint centres
        self.fixed: dict[str, float] = {}
        for name in model.pois:
            if name not in chosen:
                self.fixed[name] = fixed.get(name, model.nominal[name])
        if nuisances == "fixed":
            for name in model.nuisances:
                self.fixed[name] = fixed.get(name, model.prefit_value(name))
        self.data_spec = DataSpec.make(data, asimov)
        self._saved = {n: (float(model.var(n).getVal()), bool(model.var(n).isConstant())) for n in model.values()}
        self.nll: Any = model.nll(self.data_spec)
        model.set_values(self.fixed)
        self._vars = [model.var(n) for n in self.names]
        for n in model.values():
            model.var(n).setConstant(n not in self.names and n not in self.profiled)
        self._profile_start = {n: model.prefit_value(n) for n in self.profiled}
        self.calls = 0
        self.failed_calls = 0

    # ------------------------------------------------------------------ priors
    def _nuisance_prior(self, name: str, prior: Prior | None) -> Prior:
        model = self.model
        rng = model.ranges[name]
        if prior is not None:
            return prior.resolved(rng, name=name)
        sigma = model.prefit_error(name)
        if sigma is None:  # unconstrained (e.g. a rate modifier): flat over its range
            return Prior.uniform().resolved(rng, name=name)
        centre = model.prefit_value(name)
        lo = max(rng[0], centre - WINDOW_SIGMAS * sigma)
        hi = min(rng[1], centre + WINDOW_SIGMAS * sigma)
        if not lo < hi:
            raise InferenceError(
                f"nuisance '{name}': its range {rng} excludes the window {centre:g} ± {WINDOW_SIGMAS}σ"
            )
        return Prior.uniform(lo, hi)

    @property
    def priors(self) -> dict[str, Prior]:
        """The resolved prior of every sampled parameter."""
        return {p.name: p.prior for p in self.parameters}

    @property
    def ndim(self) -> int:
        return len(self.parameters)

    def transform(self, cube: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Unit cube → parameter values, column by column (one point ``(d,)`` or many ``(n, d)``)."""
        u = np.asarray(cube, dtype=np.float64)
        single = u.ndim == 1
        u2 = np.atleast_2d(u)
        if u2.shape[1] != self.ndim:
            raise ValueError(f"points have {u2.shape[1]} coordinates, the likelihood has {self.ndim} parameters")
        out = np.empty_like(u2)
        for j, p in enumerate(self.parameters):
            out[:, j] = p.prior.transform(u2[:, j])
        return out[0] if single else out

    def log_prior(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Sum of the normalised log prior densities (−inf outside the supports)."""
        x = np.atleast_2d(np.asarray(points, dtype=np.float64))
        return np.asarray(sum(p.prior.log_density(x[:, j]) for j, p in enumerate(self.parameters)), dtype=np.float64)

    # ------------------------------------------------------------------ likelihood
    def _one(self, row: npt.NDArray[np.float64]) -> float:
        for var, v in zip(self._vars, row, strict=True):
            var.setVal(float(v))
        if self.profiled:
            start = {**{n: float(v) for n, v in zip(self.names, row, strict=True)}, **self._profile_start}
            start.update(self.fixed)
            m = self.model.minimize(self.nll, list(self.profiled), start=start)
            if m.ok:
                self._profile_start = {n: m.values[n] for n in self.profiled}
            return float(m.nll)
        return float(self.nll.getVal())

    def loglike(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """``ln L = −NLL`` at one point ``(d,)`` or many ``(n, d)``; :data:`LOGL_FLOOR` where
        RooFit raises or returns a non-finite value (counted in ``failed_calls``)."""
        x = np.asarray(points, dtype=np.float64)
        single = x.ndim == 1
        x2 = np.atleast_2d(x)
        out = np.empty(x2.shape[0])
        for i, row in enumerate(x2):
            self.calls += 1
            try:
                val = self._one(row)
            except Exception:  # RooFit/cppyy errors (e.g. a value outside a range) → impossible point
                val = math.nan
            if math.isfinite(val):
                out[i] = -val
            else:
                self.failed_calls += 1
                out[i] = LOGL_FLOOR
        return np.asarray(out[0]) if single else out

    def restore(self) -> None:
        """Put every parameter back to the value and constness it had before."""
        for n, (value, const) in self._saved.items():
            self.model.set_values({n: value}, extend=True)
            self.model.var(n).setConstant(const)
