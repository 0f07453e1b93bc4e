"""Profile-likelihood scans (1D and 2D) and intervals from them.

Every scan point is a conditional fit that starts from the best fit: the scanned POIs are fixed at
the point, the nuisances (and, with ``profile_others=True``, the other POIs) are minimised. With
``profile_others=False`` the other POIs are fixed at their nominal (SM) value — or at their
Asimov value for Asimov data — in the reference fit and at every point.

``deltaNLL`` is ``NLL − NLL_min`` where ``NLL_min`` is the lowest of the best fit and all
converged scan points (a point below the best fit means the best fit was not the global
minimum; the scan then re-references to it). Points whose fit failed after all retries keep
their status and are left out of the interval interpolation.

Scan values outside a POI's range raise :class:`~rooeft.infer.model.InferenceError` (ROOT 6.40
throws on ``setVal`` outside the range); ``extend_ranges=True`` widens the ranges instead.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.infer.fit import fit_spec
from rooeft.infer.kernel import KernelNLL
from rooeft.infer.model import DataSpec, InferenceError, Model, get_model
from rooeft.infer.options import FitOptions
from rooeft.infer.parallel import TaskRunner, chunks, default_workers

__all__ = [
    "LEVELS_1D",
    "LEVELS_2D",
    "Scan1D",
    "Scan2D",
    "ScanPoint",
    "intervals_1d",
    "scan1d",
    "scan2d",
    "scan_paths",
]

#: scans with at least this many points default to Dask workers (all CPUs); shorter ones run in
#: this process with all cores inside each likelihood evaluation (see benchmarks/RESULTS_scale.md)
AUTO_WORKERS_MIN_POINTS = 400

#: thresholds of 2ΔNLL for 68% and 95% CL with one and two parameters
LEVELS_1D = {"68": 1.0, "95": 3.84}
LEVELS_2D = {"68": 2.30, "95": 5.99}


@dataclass(frozen=True)
class ScanPoint:
    """One scan point: the fixed POI values, the profiled NLL, ΔNLL and the fit status."""

    values: Mapping[str, float]
    nll: float
    delta_nll: float
    status: int
    attempt: str = ""
    """The retry-ladder step that converged (``migrad``, ``migrad-strategy2``, …; ``failed``)."""
    calls: int = 0
    """Likelihood evaluations spent on the point."""


def intervals_1d(
    x: npt.ArrayLike, delta_nll: npt.ArrayLike, *, levels: Mapping[str, float] | None = None
) -> dict[str, list[tuple[float, float]]]:
    """Intervals where ``2ΔNLL`` is below each level, from a scan (cubic-spline interpolation of
    ``2ΔNLL``; linear with fewer than four points). Several disjoint intervals are possible; an
    interval reaching the edge of the scan ends at the edge value. Non-finite points are ignored.

    >>> x = np.linspace(-3, 3, 13)
    >>> iv = intervals_1d(x, 0.5 * x**2)
    >>> [round(v, 6) for v in iv["68"][0]], [round(v, 4) for v in iv["95"][0]]
    ([-1.0, 1.0], [-1.9596, 1.9596])
    >>> iv = intervals_1d(x, 0.5 * (x**2 - 4) ** 2 / 5)  # minima at ±2, 2ΔNLL(0) = 3.2
    >>> len(iv["68"]), len(iv["95"])
    (2, 1)
    """
    from scipy.interpolate import CubicSpline

    levels = dict(LEVELS_1D if levels is None else levels)
    xa, ya = np.asarray(x, dtype=np.float64), 2.0 * np.asarray(delta_nll, dtype=np.float64)
    good = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[good], ya[good]
    order = np.argsort(xa)
    xa, ya = xa[order], ya[order]
    xa, keep = np.unique(xa, return_index=True)
    ya = ya[keep]
    out: dict[str, list[tuple[float, float]]] = {}
    if xa.size < 2:
        return {k: [] for k in levels}
    spline = CubicSpline(xa, ya) if xa.size >= 4 else None
    for key, level in levels.items():
        if spline is not None:
            roots = [float(r) for r in np.atleast_1d(spline.solve(level, extrapolate=False)) if np.isfinite(r)]
        else:
            roots = []
            for i in range(xa.size - 1):
                a, b = ya[i] - level, ya[i + 1] - level
                if a == 0.0:
                    roots.append(float(xa[i]))
                elif a * b < 0:
                    roots.append(float(xa[i] + (xa[i + 1] - xa[i]) * a / (a - b)))
        bounds = sorted({float(xa[0]), float(xa[-1]), *[r for r in roots if xa[0] <= r <= xa[-1]]})
        segs: list[tuple[float, float]] = []
        for lo, hi in itertools.pairwise(bounds):
            if hi - lo <= 1e-12 * max(1.0, abs(lo)):
                continue
            mid = 0.5 * (lo + hi)
            val = float(spline(mid)) if spline is not None else float(np.interp(mid, xa, ya))
            if val < level:
                if segs and abs(segs[-1][1] - lo) <= 1e-12 * max(1.0, abs(lo)):
                    segs[-1] = (segs[-1][0], hi)
                else:
                    segs.append((lo, hi))
        out[key] = segs
    return out


@dataclass(frozen=True)
class Scan1D:
    """A 1D profile-likelihood scan (``kind: scan1d`` JSON)."""

    poi: str
    profiled: bool
    asimov: bool
    label: str
    bestfit: Mapping[str, float]
    points: tuple[ScanPoint, ...]
    intervals: Mapping[str, tuple[tuple[float, float], ...]]
    fit_status: int = 0

    def arrays(self, *, converged_only: bool = True) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Scan values and ΔNLL (only converged points by default)."""
        pts = [p for p in self.points if p.status == 0 or not converged_only]
        return (np.array([p.values[self.poi] for p in pts]), np.array([p.delta_nll for p in pts]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "scan1d",
            "poi": self.poi,
            "profiled": self.profiled,
            "asimov": self.asimov,
            "label": self.label,
            "bestfit": {self.poi: self.bestfit[self.poi], "nll": self.bestfit["nll"]},
            "points": [
                {
                    self.poi: p.values[self.poi],
                    "deltaNLL": p.delta_nll,
                    "status": p.status,
                    "attempt": p.attempt,
                    "calls": p.calls,
                }
                for p in self.points
            ],
            "intervals": {k: [list(iv) for iv in v] for k, v in self.intervals.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> Scan1D:
        """Inverse of :meth:`to_dict` (``source``: the file it came from, unused)."""
        if d.get("kind") != "scan1d":
            raise ValueError(f"not a scan1d result: kind={d.get('kind')!r}")
        poi, nll0 = d["poi"], float(d["bestfit"]["nll"])
        pts = tuple(
            ScanPoint(
                {poi: float(p[poi])},
                nll0 + float(p["deltaNLL"]),
                float(p["deltaNLL"]),
                int(p["status"]),
                str(p.get("attempt", "")),
                int(p.get("calls", 0)),
            )
            for p in d["points"]
        )
        ivs = {k: tuple((float(a), float(b)) for a, b in v) for k, v in d["intervals"].items()}
        return cls(poi, bool(d["profiled"]), bool(d["asimov"]), str(d["label"]), dict(d["bestfit"]), pts, ivs)


@dataclass(frozen=True)
class Scan2D:
    """A 2D profile-likelihood scan (``kind: scan2d`` JSON); contours at 2ΔNLL = 2.30 / 5.99."""

    pois: tuple[str, str]
    profiled: bool
    asimov: bool
    label: str
    bestfit: Mapping[str, float]
    points: tuple[ScanPoint, ...]
    fit_status: int = 0

    def grid(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(x, y, ΔNLL[iy, ix])`` on the scan grid (NaN where a fit failed)."""
        a, b = self.pois
        xs = np.unique([p.values[a] for p in self.points])
        ys = np.unique([p.values[b] for p in self.points])
        z = np.full((ys.size, xs.size), np.nan)
        for p in self.points:
            if p.status == 0:
                z[np.searchsorted(ys, p.values[b]), np.searchsorted(xs, p.values[a])] = p.delta_nll
        return xs, ys, z

    def to_dict(self) -> dict[str, Any]:
        a, b = self.pois
        return {
            "kind": "scan2d",
            "pois": [a, b],
            "profiled": self.profiled,
            "asimov": self.asimov,
            "label": self.label,
            "bestfit": {a: self.bestfit[a], b: self.bestfit[b], "nll": self.bestfit["nll"]},
            "points": [
                {
                    a: p.values[a],
                    b: p.values[b],
                    "deltaNLL": p.delta_nll,
                    "status": p.status,
                    "attempt": p.attempt,
                    "calls": p.calls,
                }
                for p in self.points
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> Scan2D:
        """Inverse of :meth:`to_dict` (``source``: the file it came from, unused)."""
        if d.get("kind") != "scan2d":
            raise ValueError(f"not a scan2d result: kind={d.get('kind')!r}")
        a, b = d["pois"]
        nll0 = float(d["bestfit"]["nll"])
        pts = tuple(
            ScanPoint(
                {a: float(p[a]), b: float(p[b])},
                nll0 + float(p["deltaNLL"]),
                float(p["deltaNLL"]),
                int(p["status"]),
                str(p.get("attempt", "")),
                int(p.get("calls", 0)),
            )
            for p in d["points"]
        )
        return cls((a, b), bool(d["profiled"]), bool(d["asimov"]), str(d["label"]), dict(d["bestfit"]), pts)


# ---------------------------------------------------------------- worker side
def _scan_task(payload: Mapping[str, Any]) -> list[tuple[dict[str, float], float, int, str, int]]:
    """Conditional fits along one path of points (runs in a worker or in-process).

    The first point starts from the best fit; every further point starts from the fitted values
    of the previous one (a warm start: neighbouring points have nearby nuisance values), and with
    the kernel engine Migrad's seed curvature is the Hessian computed once at the best fit (or at
    the path's first point), so a path costs far fewer likelihood calls than restarting each point
    from scratch.
    """
    model = get_model(payload["workspace"], engine=payload["engine"], threads=payload["threads"])
    spec: DataSpec = payload["spec"]
    nll = model.likelihood(spec)
    out = []
    start = dict(payload["start"])
    # kernel engine: a Hessian seeds Migrad at every point (the best fit's, else the path's first)
    seed = payload.get("seed_hessian")
    for point in payload["points"]:
        fixed = {**payload["fixed"], **point}
        floating = [n for n in [*model.pois, *model.nuisances] if n not in fixed]
        res = model.minimize(
            nll,
            floating,
            start={**start, **fixed},
            strategy=payload["strategy"],
            tolerance=payload["tolerance"],
            max_calls=payload["max_calls"],
            extend=payload["extend"],
            seed_hessian=seed,
        )
        out.append((dict(point), float(res.nll), int(res.status), res.converged_attempt or "failed", int(res.calls)))
        if res.ok:  # warm start of the next point
            start = dict(res.values)
            if seed is None and isinstance(nll, KernelNLL):
                seed = nll.hessian(res.values, {n: 1e-3 * s for n, s in model._steps(floating).items()})
    return out


def _warm_task(payload: Mapping[str, Any]) -> int:
    """Open the workspace and build the likelihood in a worker (cached there for the scan)."""
    model = get_model(payload["workspace"], engine=payload["engine"], threads=payload["threads"])
    model.likelihood(payload["spec"])
    return 0


# ---------------------------------------------------------------- driver
def scan_paths(
    pts: Sequence[Mapping[str, float]], pois: Sequence[str], bestfit: Mapping[str, float], n_paths: int
) -> list[list[dict[str, float]]]:
    """Order scan points into at most ``n_paths`` paths of neighbouring points.

    1D: the grid is split at the point nearest the best fit into an ascending and a descending
    path (both start next to the best fit); more paths cut these further. 2D: a serpentine
    (boustrophedon) walk through the grid rows, cut into contiguous pieces. Every point appears
    exactly once.

    >>> pts = [{"c": float(v)} for v in range(5)]
    >>> [[p["c"] for p in path] for path in scan_paths(pts, ["c"], {"c": 2.2}, 2)]
    [[2.0, 3.0, 4.0], [1.0, 0.0]]
    >>> g = [{"a": float(a), "b": float(b)} for b in range(2) for a in range(3)]
    >>> [(p["a"], p["b"]) for p in scan_paths(g, ["a", "b"], {"a": 0, "b": 0}, 1)[0]]
    [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0), (0.0, 1.0)]
    """
    items: list[dict[str, float]] = [dict(p) for p in pts]
    if not items:
        return []
    if len(pois) == 1:
        poi = pois[0]
        ordered = sorted(items, key=lambda p: p[poi])
        k = int(np.argmin([abs(p[poi] - bestfit[poi]) for p in ordered]))
        halves = [ordered[k:], ordered[:k][::-1]]
        halves = [h for h in halves if h]
        if n_paths <= len(halves):
            return [[p for h in halves for p in h]] if n_paths <= 1 else halves
        per_half = max(1, n_paths // len(halves))
        return [c for h in halves for c in chunks(h, per_half)]
    a, b = pois
    rows: dict[float, list[dict[str, float]]] = {}
    for p in items:
        rows.setdefault(p[b], []).append(p)
    path: list[dict[str, float]] = []
    for i, key in enumerate(sorted(rows)):
        row = sorted(rows[key], key=lambda p: p[a])
        path.extend(row if i % 2 == 0 else row[::-1])
    return chunks(path, max(1, n_paths))


def _grid(
    model: Model, poi: str, rng: tuple[float, float] | None, points: int, extend: bool
) -> npt.NDArray[np.float64]:
    if points < 2:
        raise InferenceError(f"a scan needs at least 2 points, got {points}")
    lo, hi = model.ranges[poi] if rng is None else (float(rng[0]), float(rng[1]))
    if not lo < hi:
        raise InferenceError(f"scan range of {poi} must have lo < hi, got [{lo}, {hi}]")
    plo, phi = model.ranges[poi]
    if not extend and (lo < plo or hi > phi):
        raise InferenceError(
            f"scan range [{lo:g}, {hi:g}] of {poi} exceeds its range [{plo:g}, {phi:g}] in {model.path}; "
            "narrow the scan or pass extend_ranges=True"
        )
    return np.linspace(lo, hi, points)


def _run_scan(
    workspace: str | Path | Model,
    pois: Sequence[str],
    grids: Sequence[npt.NDArray[np.float64]],
    *,
    profile_others: bool,
    data: str,
    asimov: Mapping[str, float] | bool | None,
    extend_ranges: bool,
    options: FitOptions,
) -> tuple[Model, DataSpec, dict[str, float], int, list[ScanPoint]]:
    model = get_model(workspace, engine=options.engine, threads=options.threads)
    workers, scheduler = options.workers, options.scheduler
    spec = DataSpec.make(data, asimov)
    asimov_values = dict(spec.asimov or ())
    fixed_others = (
        {} if profile_others else {p: asimov_values.get(p, model.nominal[p]) for p in model.pois if p not in pois}
    )
    if len(grids) == 1:
        pts = [{pois[0]: float(v)} for v in grids[0]]
    else:
        pts = [{pois[0]: float(a), pois[1]: float(b)} for b in grids[1] for a in grids[0]]
    if workers is None and scheduler is None:
        # both cores inside each evaluation scale almost perfectly and cost no start-up; worker
        # processes (a few seconds each to open the workspace and run the network) pay off only
        # for long scans
        workers = 1 if len(pts) < AUTO_WORKERS_MIN_POINTS else default_workers()
    with TaskRunner(workers=workers, scheduler=scheduler) as runner:
        parallel = not runner.local
        shared: dict[str, Any] = {
            "workspace": str(model.path) if parallel else model,
            "engine": model.engine,
            "spec": spec,
            "threads": 1 if parallel else model.threads,
        }
        # the workers open the workspace and build their likelihood while this process fits
        runner.warm(_warm_task, shared)
        best = fit_spec(model, spec, fixed=fixed_others, options=options, hesse=False)
        start = {n: p.value for n, p in best.parameters.items()}
        nll = model.likelihood(spec)
        if isinstance(nll, KernelNLL) and best.status == 0:
            shared["seed_hessian"] = nll.hessian(start, {n: 1e-3 * s for n, s in model._steps(nll.names).items()})
        # 1D: the two paths away from the best fit; 2D: a serpentine walk cut into one piece per worker
        n_paths = max(2, runner.n_workers) if len(pois) == 1 else runner.n_workers
        paths = scan_paths(pts, pois, {p: start[p] for p in pois}, n_paths)
        payloads = [
            {
                **shared,
                "fixed": fixed_others,
                "start": start,
                "points": path,
                "strategy": options.point_strategy,
                "tolerance": options.tolerance,
                "max_calls": options.max_calls,
                "extend": extend_ranges,
            }
            for path in paths
        ]
        raw = runner.run(
            _scan_task,
            payloads,
            [len(p) for p in paths],
            progress=options.progress,
            desc=f"scan {'/'.join(pois)}",
            pin=True,  # one path per worker: Dask's placement can queue two paths on one worker
        )
    flat = [r for chunk in raw for r in chunk]
    # report in grid order (the paths visit the points in another order)
    key = {tuple(p[q] for q in pois): i for i, p in enumerate(pts)}
    flat.sort(key=lambda r: key[tuple(r[0][q] for q in pois)])
    nlls = [n for _, n, s, _, _ in flat if s == 0 and math.isfinite(n)]
    nll_min = min([best.min_nll, *nlls]) if math.isfinite(best.min_nll) else min(nlls, default=float("nan"))
    points = [ScanPoint(v, n, n - nll_min, s, att, calls) for v, n, s, att, calls in flat]
    bestfit = {p: best.parameters[p].value for p in pois}
    if nlls and min(nlls) < best.min_nll:  # the best fit was not the global minimum
        k = int(np.argmin([n if s == 0 else np.inf for _, n, s, _, _ in flat]))
        bestfit = dict(flat[k][0])
    bestfit["nll"] = nll_min
    return model, spec, bestfit, best.status, points


def scan1d(
    workspace: str | Path | Model,
    poi: str,
    *,
    points: int = 41,
    range: tuple[float, float] | None = None,
    profile_others: bool = True,
    data: str = "data_obs",
    asimov: Mapping[str, float] | bool | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    extend_ranges: bool = False,
    label: str = "",
    options: FitOptions | None = None,
    strategy: int | None = None,
    tolerance: float | None = None,
    max_calls: int | None = None,
    point_strategy: int | None = None,
    engine: str | None = None,
) -> Scan1D:
    """Profile-likelihood scan of one POI on ``points`` equidistant values of ``range`` (default:
    the POI's range in the workspace), with 68/95% CL intervals.

    ``workers`` local Dask worker processes (``1`` = in this process, using all cores inside each
    likelihood evaluation; default: in this process below :data:`AUTO_WORKERS_MIN_POINTS` points,
    all CPUs above) or a Dask ``scheduler`` address run the points in parallel. Points are
    visited along paths with warm starts (see :func:`scan_paths`): the best fit uses
    ``strategy``, the scan points ``point_strategy`` (default 0; the retry ladder escalates to
    strategy 2 where a point fails). ``engine``: ``"auto"`` (closed-form kernel with
    exact gradients, RooFit where unsupported), ``"kernel"`` or ``"roofit"``.

    ``options`` (:class:`~rooeft.infer.options.FitOptions`) carries all of these at once
    (``hesse`` is not used: scans need no errors); the keyword arguments given override it.
    """
    opts = FitOptions.resolve(
        options,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        strategy=strategy,
        tolerance=tolerance,
        max_calls=max_calls,
        point_strategy=point_strategy,
        engine=engine,
    )
    model = get_model(workspace, engine=opts.engine, threads=opts.threads)
    model.check_names([poi], what="scanned POI", pois_only=True)
    grid = _grid(model, poi, range, points, extend_ranges)
    model, spec, bestfit, status, pts = _run_scan(
        model,
        [poi],
        [grid],
        profile_others=profile_others,
        data=data,
        asimov=asimov,
        extend_ranges=extend_ranges,
        options=opts,
    )
    ok = [p for p in pts if p.status == 0]
    ivs = intervals_1d([p.values[poi] for p in ok], [p.delta_nll for p in ok])
    return Scan1D(
        poi=poi,
        profiled=profile_others,
        asimov=spec.is_asimov,
        label=label,
        bestfit=bestfit,
        points=tuple(pts),
        intervals={k: tuple(v) for k, v in ivs.items()},
        fit_status=status,
    )


def scan2d(
    workspace: str | Path | Model,
    pois: tuple[str, str] | Sequence[str],
    *,
    points: int | tuple[int, int] = 21,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    profile_others: bool = True,
    data: str = "data_obs",
    asimov: Mapping[str, float] | bool | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    extend_ranges: bool = False,
    label: str = "",
    options: FitOptions | None = None,
    strategy: int | None = None,
    tolerance: float | None = None,
    max_calls: int | None = None,
    point_strategy: int | None = None,
    engine: str | None = None,
) -> Scan2D:
    """Profile-likelihood scan of two POIs on a grid of ``points`` values per axis (or a pair).

    The contours at 68/95% CL are the levels 2ΔNLL = 2.30 / 5.99 of :meth:`Scan2D.grid`. The
    other arguments, ``options`` included, are those of :func:`scan1d`.
    """
    opts = FitOptions.resolve(
        options,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        strategy=strategy,
        tolerance=tolerance,
        max_calls=max_calls,
        point_strategy=point_strategy,
        engine=engine,
    )
    model = get_model(workspace, engine=opts.engine, threads=opts.threads)
    if len(pois) != 2 or pois[0] == pois[1]:
        raise InferenceError(f"a 2D scan needs two different POIs, got {list(pois)}")
    model.check_names(pois, what="scanned POI", pois_only=True)
    npts = (points, points) if isinstance(points, int) else tuple(points)
    ranges = dict(ranges or {})
    grids = [_grid(model, p, ranges.get(p), n, extend_ranges) for p, n in zip(pois, npts, strict=True)]
    model, spec, bestfit, status, pts = _run_scan(
        model,
        list(pois),
        grids,
        profile_others=profile_others,
        data=data,
        asimov=asimov,
        extend_ranges=extend_ranges,
        options=opts,
    )
    return Scan2D(
        pois=(pois[0], pois[1]),
        profiled=profile_others,
        asimov=spec.is_asimov,
        label=label,
        bestfit=bestfit,
        points=tuple(pts),
        fit_status=status,
    )
