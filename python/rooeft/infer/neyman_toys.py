"""The toys of the Neyman construction (:mod:`rooeft.infer.neyman`): generation at a tested point
with the nuisances at their conditional fit to the data, and the test statistic of each toy.

Generation (Combine's HybridNew "profile construction" with ``--toysFrequentist``): at a tested
point θ the observed data were fitted with θ fixed, giving the other POIs η̂_θ and the nuisances
ν̂_θ. Binned channels get Poisson counts around the expected yields at (θ, η̂_θ, ν̂_θ), read from
the template pdfs with every parameter at those values; each global observable (constraint
centre) is drawn from its Gaussian of width σ around ν̂_θ. Unbinned channels are generated from
the weighted simulation as :meth:`~rooeft.infer.model.Model.toy_arrays` does; that is exact only
without nuisances (the per-event response to ν is not available here), so a workspace with both
unbinned channels and nuisances is refused (:func:`check_supported`).

Toy ``j`` of grid point ``i`` uses ``numpy.random.default_rng([seed, i, j])``: the same toys come
out however the work is split over processes, and adding toys later (the adaptive rule) only
appends new ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.infer.kernel import KernelNLL, KernelUnsupported
from rooeft.infer.model import InferenceError, Minimum, Model, get_model
from rooeft.workspace import expected

__all__ = [
    "Channels",
    "check_supported",
    "draw_toy",
    "expected_at",
    "toy_likelihood",
    "toy_statistics",
]

#: per channel: (observable columns, expected weights or toy counts)
Channels = dict[str, tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.float64]]]


def check_supported(model: Model) -> None:
    """Refuse workspaces whose toys cannot be generated at (θ, ν̂_θ): unbinned channels together
    with nuisance parameters."""
    unbinned = [ch for ch in model.channels if model.channel_kind[ch] == "unbinned"]
    if unbinned and model.nuisances:
        raise InferenceError(
            f"{model.path}: toy-based (Neyman) intervals generate toys at the nuisances' conditional fit, which "
            f"needs the per-event nuisance response of the unbinned channel(s) {unbinned}; only binned channels "
            "(or unbinned channels without nuisances) are supported"
        )


def expected_at(model: Model, values: Mapping[str, float]) -> Channels:
    """Per channel: (observable columns, expected weights) with the POIs and nuisances at
    ``values`` (missing ones nominal). Binned channels: the template pdf's yields per bin at the
    bin centres; unbinned channels (workspaces without nuisances): the simulation weighted at the
    POIs. The parameters are restored afterwards."""
    saved = model.values()
    out: Channels = {}
    try:
        model.reset()
        model.set_values(values, extend=True)
        ref = model.w.data(expected.DATA_OBS)
        for ch in model.channels:
            pdf = model.channel_pdfs[ch]
            if model.channel_kind[ch] == "binned":
                edges = np.asarray(list(pdf.edges()), dtype=np.float64)
                yields = np.asarray(list(pdf.binYields()), dtype=np.float64)
                out[ch] = ({str(pdf.observableName()): expected.bin_centres(edges)}, yields)
            else:
                obs = model.channel_observables(ch, ref.get())
                cols = model._sim_columns(ch)
                theta = {p: float(values.get(p, model.nominal[p])) for p in model.pois}
                out[ch] = ({o: np.asarray(cols[o], dtype=np.float64) for o in obs}, model.sim_weights(ch, theta))
    finally:
        model.reset()
        model.set_values(saved, extend=True)
    return out


def draw_toy(
    model: Model, channels: Channels, centres: Mapping[str, float], rng: np.random.Generator
) -> tuple[Channels, dict[str, float]]:
    """One pseudo-experiment from the expected ``channels`` (:func:`expected_at`) and global
    observables drawn around ``centres`` (nuisance → value, the ν̂_θ of the profile construction).

    Binned channels: Poisson counts per bin. Unbinned channels: Poisson(Σw) events drawn with
    replacement with probability ∝ |w| (signed weights when some are negative), as
    :meth:`~rooeft.infer.model.Model.toy_arrays`. Globals: ``<nu>_In ~ N(ν̂, σ)`` truncated to the
    global observable's range (over which the workspace normalises the constraint)."""
    per: Channels = {}
    for ch, (obs, weights) in channels.items():
        if model.channel_kind[ch] == "binned":
            per[ch] = (dict(obs), rng.poisson(np.clip(weights, 0.0, None)).astype(np.float64))
            continue
        total, absw = float(weights.sum()), np.abs(weights)
        if total <= 0:
            raise InferenceError(f"channel '{ch}': expected events {total} <= 0 at the tested point")
        n = int(rng.poisson(total))
        idx = rng.choice(weights.size, size=n, p=absw / absw.sum())
        w = np.sign(weights[idx]) * (absw.sum() / total) if np.any(weights < 0) else np.ones(n)
        per[ch] = ({k: np.asarray(v)[idx] for k, v in obs.items()}, w)
    globs = {g: model.nominal[g] for g in model.global_observables}
    for nu, (glob, sigma) in model.constraints.items():
        if glob in globs and math.isfinite(sigma):
            lo, hi = model.ranges[glob]
            centre = float(centres.get(nu, model.nominal[nu]))
            for _ in range(1000):  # the constraint pdf is normalised over the global observable's range
                value = float(rng.normal(centre, sigma))
                if lo <= value <= hi:
                    break
            else:
                raise InferenceError(f"cannot draw {glob} around {nu}={centre:g} inside its range [{lo:g}, {hi:g}]")
            globs[glob] = value
    return per, globs


def toy_likelihood(model: Model, per: Channels, globs: Mapping[str, float]) -> Any:
    """The likelihood of one toy: the closed-form kernel, or RooFit's NLL (engine ``roofit``, or
    ``auto`` on a workspace the kernel does not implement)."""
    if model.engine != "roofit" and model.kernel_fallback is None:
        try:
            return KernelNLL(model, per, globs, threads=model.threads)
        except KernelUnsupported as err:
            if model.engine == "kernel":
                raise InferenceError(f"{model.path}: the kernel engine cannot evaluate this workspace: {err}") from err
            model.kernel_fallback = str(err)
    data = model.build_dataset("neyman_toy", per)
    model.set_values(globs, extend=True)
    nll = model.pdf.createNLL(
        data, Extended=True, GlobalObservables=model._globs_set, EvalBackend="cpu", Offset="initial"
    )
    model._toy_keep = (data, nll)  # the dataset must live as long as its likelihood
    return nll


def best_minimum(
    model: Model, nll: Any, floating: Sequence[str], starts: Sequence[Mapping[str, float]], **kw: Any
) -> Minimum:
    """The lowest converged minimum over several starting points (the first failure if none
    converged): EFT likelihoods with quadratic terms often have two minima."""
    best: Minimum | None = None
    for start in starts:
        m = model.minimize(nll, floating, start=start, **kw)
        if best is None or (m.ok and (not best.ok or m.nll < best.nll)):
            best = m
    assert best is not None
    return best


def toy_statistics(payload: Mapping[str, Any]) -> list[tuple[int, float, int]]:
    """Worker task: for each toy index of one grid point, ``(index, t, status)`` with
    ``t = 2(NLL(θ, ν̂̂) − NLL(θ̂, ν̂))`` (θ̂ inside the POIs' ranges; ``t ≥ 0``) and status 0 when
    both fits converged (else the failing status, never 0; ``t`` is then NaN)."""
    model = get_model(payload["workspace"], engine=payload["engine"], threads=payload["threads"])
    return _toys(model, payload)


def _toys(model: Model, payload: Mapping[str, Any]) -> list[tuple[int, float, int]]:
    tested: dict[str, float] = dict(payload["tested"])
    generation: dict[str, float] = dict(payload["generation"])
    fixed: dict[str, float] = dict(payload["fixed"])
    free_floating = [n for n in [*model.pois, *model.nuisances] if n not in fixed]
    cond_floating = [n for n in free_floating if n not in tested]
    channels: Channels = payload["channels"]
    fit_kw = {"strategy": payload["strategy"], "tolerance": payload["tolerance"], "extend": True}
    starts = [{**generation, **fixed, **s} for s in payload["free_starts"]]
    out = []
    for j in payload["indices"]:
        rng = np.random.default_rng([int(payload["seed"]), int(payload["point"]), int(j)])
        per, globs = draw_toy(model, channels, generation, rng)
        nll = toy_likelihood(model, per, globs)
        cond = model.minimize(nll, cond_floating, start={**generation, **fixed, **tested}, **fit_kw)
        free = best_minimum(model, nll, free_floating, starts, **fit_kw)
        if not cond.ok:
            out.append((int(j), math.nan, cond.status if cond.status != 0 else -1))
        elif not free.ok:
            out.append((int(j), math.nan, free.status if free.status != 0 else -1))
        else:  # a conditional minimum below the free one: the free fit missed it, t = 0
            out.append((int(j), max(0.0, 2.0 * (cond.nll - free.nll)), 0))
    return out
