"""Nested sampling of the workspace posterior with UltraNest (``ReactiveNestedSampler``).

Reproducibility: UltraNest draws from numpy's *global* generator; it is seeded with ``seed``
for the run and its previous state restored afterwards, so the same seed, workspace, options and
library versions give the same samples (in one process, without MPI).

Run time is bounded by ``max_calls`` (likelihood evaluations; UltraNest may overshoot by one
batch) and ``dlogz`` (the evidence precision aimed at); a run stopped by ``max_calls`` is
reported with ``converged = False``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.bayes.likelihood import WorkspaceLikelihood
from rooeft.bayes.priors import Prior, parse_priors
from rooeft.bayes.result import PosteriorResult
from rooeft.bayes.summary import estimates, interval_table
from rooeft.infer.model import Model

__all__ = ["STEP_SAMPLER_DIM", "sample_posterior"]

#: from this many sampled dimensions on a slice step sampler replaces region sampling (MLFriends
#: rejection sampling becomes inefficient in many dimensions)
STEP_SAMPLER_DIM = 8


def _ultranest() -> Any:
    try:
        import ultranest
        import ultranest.stepsampler
    except ImportError:  # pragma: no cover - dependency missing
        raise ImportError("rooeft.bayes needs UltraNest: pip install ultranest") from None
    return ultranest


def sample_posterior(
    workspace: str | Path | Model,
    *,
    pois: Iterable[str] | None = None,
    priors: Mapping[str, Prior | str] | Iterable[str] | None = None,
    nuisances: str = "sample",
    data: str = "data_obs",
    asimov: Mapping[str, float] | bool | None = None,
    fixed: Mapping[str, float] | None = None,
    live_points: int = 400,
    max_calls: int = 200_000,
    dlogz: float = 0.5,
    seed: int | None = 1,
    progress: bool = False,
    step_sampler: bool | None = None,
    label: str = "",
) -> PosteriorResult:
    """Sample the posterior of a rooeft workspace with nested sampling.

    Parameters
    ----------
    workspace
        Workspace file (or an opened :class:`rooeft.infer.Model`).
    pois, priors, nuisances, data, asimov, fixed
        What is sampled and how: see :class:`rooeft.bayes.WorkspaceLikelihood`. ``priors`` may be
        ``{name: Prior}``, ``{name: "uniform:-1:1"}`` or ``["name=uniform:-1:1", ...]``.
    live_points
        Minimum number of live points.
    max_calls, dlogz
        Stop after this many likelihood calls, or once ln Z is known to ``dlogz``.
    seed
        Seed of numpy's global generator during the run (``None``: leave it as it is).
    progress
        Print UltraNest's status line and log messages.
    step_sampler
        Use a slice step sampler (default: from :data:`STEP_SAMPLER_DIM` dimensions on).
    label
        Free text stored with the result (legend of plots).

    Returns
    -------
    PosteriorResult
        Equal-weighted and weighted samples, credible intervals (68/95%, equal-tailed and
        highest-density) and point estimates of the POIs, ln Z ± error and the number of calls.
    """
    if live_points < 10:
        raise ValueError(f"live_points={live_points}: need at least 10")
    if max_calls < 1:
        raise ValueError(f"max_calls={max_calls} must be positive")
    if not dlogz > 0:
        raise ValueError(f"dlogz={dlogz} must be positive")
    prior_map = parse_priors(priors) if priors is not None else {}
    un = _ultranest()
    like = WorkspaceLikelihood(
        workspace, pois=pois, priors=prior_map, nuisances=nuisances, data=data, asimov=asimov, fixed=fixed
    )
    logger = logging.getLogger("ultranest")
    old_level = logger.level
    state = np.random.get_state()  # noqa: NPY002 - UltraNest draws from the global generator
    try:
        if seed is not None:
            np.random.seed(int(seed))  # noqa: NPY002
        sampler = un.ReactiveNestedSampler(
            list(like.names),
            like.loglike,
            like.transform,
            vectorized=True,
            ndraw_min=64,
            ndraw_max=4096,
            num_test_samples=2,
        )
        # the sampler attaches a stdout handler on first use; keep it quiet unless asked
        logger.setLevel(logging.DEBUG if progress else logging.WARNING)
        use_step = step_sampler if step_sampler is not None else like.ndim >= STEP_SAMPLER_DIM
        if use_step:
            ss = un.stepsampler
            sampler.stepsampler = ss.SliceSampler(
                nsteps=max(2 * like.ndim, 10), generate_direction=ss.generate_mixture_random_direction
            )
        res = sampler.run(
            show_status=progress,
            viz_callback=False,
            dlogz=dlogz,
            max_ncalls=int(max_calls),
            min_num_live_points=int(live_points),
        )
    finally:
        if seed is not None:
            np.random.set_state(state)  # noqa: NPY002
        logger.setLevel(old_level)
        like.restore()

    ws = res["weighted_samples"]
    points = np.asarray(ws["points"], dtype=np.float64)[:, : like.ndim]
    weights = np.asarray(ws["weights"], dtype=np.float64)
    logl = np.asarray(ws["logl"], dtype=np.float64)
    samples = np.asarray(res["samples"], dtype=np.float64)[:, : like.ndim]
    intervals, ests = {}, {}
    for j, name in enumerate(like.names):
        if name not in like.pois:
            continue
        intervals[name] = {k: (v[0], v[1]) for k, v in interval_table(points[:, j], weights).items()}
        ests[name] = estimates(points[:, j], weights)
    ncall = int(res["ncall"])
    ws_name = str(workspace.path) if isinstance(workspace, Model) else str(workspace)
    asimov_values: dict[str, float] | None = None
    if like.data_spec.asimov is not None:
        asimov_values = {k: v for k, v in like.data_spec.asimov}
    return PosteriorResult(
        pois=like.pois,
        parameters=like.names,
        samples=samples,
        points=points,
        weights=weights,
        logl=logl,
        logz=float(res["logz"]),
        logz_err=float(res["logzerr"]),
        ncall=ncall,
        intervals=intervals,
        estimates=ests,
        priors=like.priors,
        nuisances=nuisances,
        fixed=dict(like.fixed),
        asimov=asimov_values,
        data=data,
        seed=seed,
        max_calls=int(max_calls),
        converged=ncall < int(max_calls),
        failed_calls=like.failed_calls,
        label=label,
        workspace=ws_name,
    )
