"""The driver of one Neyman construction (:func:`rooeft.infer.neyman.neyman_intervals`): the
conditional fits to the data along the grid, the best fit, and the rounds of toys with the
adaptive rule."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.infer.model import DataSpec, Model, get_model
from rooeft.infer.neyman import NeymanPoint, NeymanScan, needs_more
from rooeft.infer.neyman_toys import best_minimum, expected_at, toy_statistics
from rooeft.infer.options import FitOptions
from rooeft.infer.parallel import TaskRunner, chunks

__all__ = ["construct", "observed_fits"]

#: toys per task at least (a task re-reads nothing, but each costs a Dask round trip)
MIN_TOYS_PER_TASK = 20


def _warm(payload: Mapping[str, Any]) -> int:
    get_model(payload["workspace"], engine=payload["engine"], threads=payload["threads"])
    return 0


def observed_fits(
    model: Model,
    pois: Sequence[str],
    pts: Sequence[Mapping[str, float]],
    fixed: Mapping[str, float],
    data: str,
    opts: FitOptions,
) -> tuple[list[tuple[float, int, dict[str, float]]], dict[str, float], int]:
    """Conditional fits to ``data`` at every grid point (walked in order, each warm-started from the
    previous one), then the best fit from the nominal values and from the lowest grid point.
    Returns per point (NLL, status, fitted values), the best fit (POI values and ``nll``, the lowest
    converged NLL of all fits) and the best fit's status."""
    spec = DataSpec.make(data)
    nll = model.likelihood(spec)
    kw: dict[str, Any] = {
        "strategy": opts.strategy,
        "tolerance": opts.tolerance,
        "max_calls": opts.max_calls,
        "extend": True,
    }
    floating_all = [n for n in [*model.pois, *model.nuisances] if n not in fixed]
    start = {**model._nominal_start(fixed)}
    out: list[tuple[float, int, dict[str, float]]] = []
    for point in pts:
        floating = [n for n in floating_all if n not in point]
        res = model.minimize(nll, floating, start={**start, **fixed, **point}, **kw)
        out.append((float(res.nll), int(res.status), dict(res.values)))
        if res.ok:
            start = dict(res.values)
    starts = [model._nominal_start(fixed)]
    conv = [(n, v) for n, s, v in out if s == 0 and math.isfinite(n)]
    if conv:
        starts.append(min(conv, key=lambda c: c[0])[1])
    best = best_minimum(model, nll, floating_all, starts, **kw)
    bestfit = {p: float(best.values[p]) for p in pois}
    nll_min = float(best.nll) if best.ok else math.inf
    if conv and min(c[0] for c in conv) < nll_min:  # a grid point below the best fit
        n_low, v_low = min(conv, key=lambda c: c[0])
        nll_min, bestfit = n_low, {p: float(v_low[p]) for p in pois}
    bestfit["nll"] = nll_min
    return out, bestfit, int(best.status)


def _free_starts(
    model: Model, pois: Sequence[str], point: Mapping[str, float], bestfit: Mapping[str, float]
) -> list[dict[str, float]]:
    """Starting points of the toys' free fits (over the tested POIs): the tested point itself, and
    the observed best fit, or, where that is the tested point, the tested point moved by 5% of each
    range (a quadratic-only coefficient has a stationary point at 0 that Migrad would not leave)."""
    widths = {p: model.ranges[p][1] - model.ranges[p][0] for p in pois}
    if all(abs(bestfit[p] - point[p]) > 0.01 * widths[p] for p in pois):
        return [{}, {p: float(bestfit[p]) for p in pois}]
    shifted = {}
    for p in pois:
        hi = model.ranges[p][1]
        v = point[p] + 0.05 * widths[p]
        shifted[p] = v if v <= hi else point[p] - 0.05 * widths[p]
    return [{}, shifted]


def construct(
    model: Model,
    pois: Sequence[str],
    grids: Sequence[npt.NDArray[np.float64]],
    runner: TaskRunner,
    settings: Mapping[str, Any],
    opts: FitOptions,
) -> NeymanScan:
    """One Neyman construction of ``pois`` on the product of ``grids`` (see
    :mod:`rooeft.infer.neyman`), toys run by ``runner``."""
    fixed = {p: model.nominal[p] for p in model.pois if p not in pois} if settings["fix_others"] else {}
    if len(pois) == 1:
        pts = [{pois[0]: float(v)} for v in grids[0]]
    else:  # serpentine: neighbouring points follow each other (warm starts)
        pts = [
            {pois[0]: float(a), pois[1]: float(b)}
            for i, b in enumerate(grids[1])
            for a in (grids[0] if i % 2 == 0 else grids[0][::-1])
        ]
    parallel = not runner.local
    shared = {
        "workspace": str(model.path) if parallel else model,
        "engine": model.engine,
        "threads": 1 if parallel else model.threads,
    }
    runner.warm(_warm, shared)
    obs, bestfit, status = observed_fits(model, pois, pts, fixed, str(settings["data"]), opts)
    nll_min = bestfit["nll"]
    tie = float(settings["tie_tolerance"])
    results: list[list[tuple[int, float, int]]] = [[] for _ in pts]
    targets = [int(settings["n_toys"]) if s == 0 and math.isfinite(n) else 0 for n, s, _ in obs]
    base: list[dict[str, Any]] = []
    for point, (_, _, values) in zip(pts, obs, strict=True):
        base.append({
            **shared, "tested": point, "generation": values, "fixed": fixed,
            "channels": expected_at(model, values), "free_starts": _free_starts(model, pois, point, bestfit),
            "seed": int(settings["seed"]), "strategy": opts.point_strategy, "tolerance": opts.tolerance,
        })  # fmt: skip
    name = "/".join(pois)
    n_round = 0
    while True:
        todo = [(i, list(range(len(results[i]), targets[i]))) for i in range(len(pts)) if targets[i] > len(results[i])]
        if not todo:
            break
        n_round += 1
        payloads, sizes = [], []
        for i, idx in todo:
            pieces = (
                chunks(idx, max(1, min(len(idx) // MIN_TOYS_PER_TASK, 4 * runner.n_workers))) if parallel else [idx]
            )
            for piece in pieces:
                payloads.append({**base[i], "point": i, "indices": piece})
                sizes.append(len(piece))
        raw = runner.run(toy_statistics, payloads, sizes, progress=opts.progress, desc=f"neyman {name} #{n_round}")
        for payload, chunk in zip(payloads, raw, strict=True):
            results[payload["point"]].extend(chunk)
        for i in range(len(pts)):
            if needs_more(
                _point(pts[i], obs[i], nll_min, results[i], tie),
                float(settings["adaptive_sigmas"]),
                int(settings["max_toys"]),
            ):
                targets[i] = min(2 * targets[i], int(settings["max_toys"]))
    points = tuple(_point(pts[i], obs[i], nll_min, results[i], tie) for i in range(len(pts)))
    if len(pois) == 2:  # report in grid order (rows of the second POI)
        points = tuple(sorted(points, key=lambda p: (p.values[pois[1]], p.values[pois[0]])))
    limits = {p: model.ranges[p] for p in pois}
    return NeymanScan(tuple(pois), points, bestfit, status, not settings["fix_others"], limits)


def _point(
    values: Mapping[str, float],
    obs: tuple[float, int, dict[str, float]],
    nll_min: float,
    toys: Sequence[tuple[int, float, int]],
    tie: float,
) -> NeymanPoint:
    nll, status, generation = obs
    t_obs = max(0.0, 2.0 * (nll - nll_min)) if status == 0 and math.isfinite(nll) else math.nan
    ordered = sorted(toys)
    t = tuple(float(x) for _, x, s in ordered if s == 0)
    return NeymanPoint(dict(values), t_obs, status, dict(generation), t, len(ordered) - len(t), tie)
