"""Toy-based (Neyman) confidence intervals with the profile-likelihood-ratio test statistic.

At every tested point θ of a grid (one POI, or two on a 2D grid) the test statistic is
``t_θ = −2 ln λ(θ) = 2[NLL(θ, ν̂̂_θ) − NLL(θ̂, ν̂)]`` with θ̂ constrained to the POIs' ranges
(the Feldman–Cousins ordering of the two-sided profile likelihood ratio). Its distribution under
θ comes from toys generated as Combine's HybridNew does in its "profile construction": the observed
data are fitted with θ fixed (nuisances ν̂_θ and, unless ``fix_others``, the other POIs η̂_θ),
and toys are generated at (θ, η̂_θ, ν̂_θ) with the global observables drawn around ν̂_θ
(:mod:`rooeft.infer.neyman_toys`). θ is inside the interval at confidence level CL when its
p-value ``p(θ) = P(t_θ ≥ t_θ,obs)`` is at least ``1 − CL``; the critical value (the CL quantile of
the toys' t_θ) is reported beside it. Intervals may be disjoint.

Adaptive toy counts: every point starts with ``n_toys`` toys; a point whose p-value lies within
``adaptive_sigmas`` binomial standard deviations of ``α = 1 − CL`` (σ = √(α(1−α)/n), for either
CL) gets its number of toys doubled, up to ``max_toys``, until no point qualifies. Points far from
the interval boundary keep ``n_toys``.

>>> x = [-3, -2, -1, 0, 1, 2, 3]
>>> [(round(a, 3), round(b, 3)) for a, b in accepted_intervals(x, [0.01, 0.2, 0.6, 1.0, 0.6, 0.2, 0.01], 0.05)]
[(-2.789, 2.789)]
>>> accepted_intervals(x, [0.0, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0], 0.25)  # two minima: disjoint intervals
[(-2.5, -1.5), (1.5, 2.5)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.infer.model import InferenceError, Model, get_model
from rooeft.infer.options import FitOptions
from rooeft.infer.parallel import TaskRunner, default_workers
from rooeft.infer.scan import LEVELS_1D, intervals_1d

__all__ = [
    "CONFIDENCE_LEVELS",
    "NeymanPoint",
    "NeymanResult",
    "NeymanScan",
    "accepted_intervals",
    "needs_more",
    "neyman_intervals",
]

#: the confidence levels reported, by the keys the asymptotic results use
CONFIDENCE_LEVELS = {"68": 0.6827, "95": 0.95}


def accepted_intervals(x: npt.ArrayLike, p: npt.ArrayLike, alpha: float) -> list[tuple[float, float]]:
    """Where ``p(x) ≥ alpha`` on a grid: each boundary between an accepted and a rejected grid
    point is linearly interpolated in ``p``; an interval reaching the grid's end stops at the end
    value (the caller decides whether that is an open end). Non-finite ``p`` counts as rejected."""
    xs = np.asarray(x, dtype=np.float64)
    ps = np.nan_to_num(np.asarray(p, dtype=np.float64), nan=-1.0)
    order = np.argsort(xs)
    xs, ps = xs[order], ps[order]
    ok = ps >= alpha
    out: list[tuple[float, float]] = []
    start: float | None = None
    for i in range(xs.size):
        if ok[i] and start is None:
            start = float(xs[0]) if i == 0 else _cross(xs[i - 1], ps[i - 1], xs[i], ps[i], alpha)
        if ok[i] and (i == xs.size - 1 or not ok[i + 1]):
            end = float(xs[i]) if i == xs.size - 1 else _cross(xs[i], ps[i], xs[i + 1], ps[i + 1], alpha)
            assert start is not None
            out.append((start, end))
            start = None
    return out


def _cross(x0: float, p0: float, x1: float, p1: float, alpha: float) -> float:
    p0, p1 = max(p0, 0.0), max(p1, 0.0)
    return float(x0 + (x1 - x0) * (alpha - p0) / (p1 - p0)) if p1 != p0 else float(0.5 * (x0 + x1))


@dataclass(frozen=True)
class NeymanPoint:
    """One tested grid point: the observed ``t_obs`` (status of its conditional fit), the values
    the toys were generated at (POIs, nuisances), the toys' ``t`` and failed count, and from them
    the p-value with its binomial error, the critical values per CL and the asymptotic p-value
    (χ² with as many degrees of freedom as tested POIs).

    >>> pt = NeymanPoint({"c": 0.0}, t_obs=1.0, status=0, generation={}, t_toys=(0.2, 0.5, 1.5, 3.0))
    >>> pt.p_value, pt.critical["68"], round(pt.p_asymptotic(1), 4)
    (0.5, 1.5, 0.3173)
    """

    values: Mapping[str, float]
    t_obs: float
    status: int
    generation: Mapping[str, float]
    t_toys: tuple[float, ...] = ()
    n_failed: int = 0
    tie_tolerance: float = 1e-3

    @property
    def n_toys(self) -> int:
        """Toys with a test statistic (converged fits)."""
        return len(self.t_toys)

    @property
    def failed_fraction(self) -> float:
        n = self.n_toys + self.n_failed
        return self.n_failed / n if n else math.nan

    @property
    def p_value(self) -> float:
        """Fraction of toys with ``t ≥ t_obs − tie_tolerance`` (ties count as at least as extreme)."""
        if not self.t_toys or not math.isfinite(self.t_obs):
            return math.nan
        return float(np.mean(np.asarray(self.t_toys) >= self.t_obs - self.tie_tolerance))

    @property
    def p_error(self) -> float:
        """Binomial error √(p(1−p)/n) of :attr:`p_value`."""
        p, n = self.p_value, self.n_toys
        return math.sqrt(p * (1.0 - p) / n) if n and math.isfinite(p) else math.nan

    @property
    def critical(self) -> dict[str, float]:
        """The CL quantile of the toys' t per confidence level (NaN without toys)."""
        t = np.asarray(self.t_toys)
        return {k: float(np.quantile(t, cl, method="inverted_cdf")) if t.size else math.nan
                for k, cl in CONFIDENCE_LEVELS.items()}  # fmt: skip

    def p_asymptotic(self, ndf: int) -> float:
        """χ²(ndf) survival probability of ``t_obs`` (Wilks)."""
        from scipy.stats import chi2

        return float(chi2.sf(max(self.t_obs, 0.0), ndf)) if math.isfinite(self.t_obs) else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": dict(self.values),
            "t_obs": self.t_obs,
            "status": self.status,
            "generation": dict(self.generation),
            "n_toys": self.n_toys,
            "n_failed": self.n_failed,
            "p_value": self.p_value,
            "p_error": self.p_error,
            "critical": self.critical,
            "t_toys": list(self.t_toys),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], tie_tolerance: float) -> NeymanPoint:
        t_obs = d.get("t_obs")
        return cls(
            {k: float(v) for k, v in d["values"].items()},
            math.nan if t_obs is None else float(t_obs),
            int(d["status"]),
            {k: float(v) for k, v in d["generation"].items()},
            tuple(float(t) for t in d.get("t_toys", ())),
            int(d.get("n_failed", 0)),
            tie_tolerance,
        )


@dataclass(frozen=True)
class NeymanScan:
    """The Neyman construction of one POI (or a pair on a 2D grid)."""

    pois: tuple[str, ...]
    points: tuple[NeymanPoint, ...]
    bestfit: Mapping[str, float]
    fit_status: int
    profiled: bool
    limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """The POIs' ranges in the workspace: a region may end at a range limit (the Feldman–Cousins
    boundary) but not at a grid edge inside the range."""

    @property
    def ndim(self) -> int:
        return len(self.pois)

    def p_values(self) -> npt.NDArray[np.float64]:
        return np.array([p.p_value for p in self.points])

    def accepted(self, cl: str) -> npt.NDArray[np.bool_]:
        """Grid points inside the toy-based confidence region at ``cl`` (``"68"``, ``"95"``)."""
        return np.nan_to_num(self.p_values(), nan=-1.0) >= 1.0 - CONFIDENCE_LEVELS[cl]

    def intervals(self) -> dict[str, list[tuple[float, float]]]:
        """1D: the toy-based intervals per CL (:func:`accepted_intervals`)."""
        if self.ndim != 1:
            raise ValueError(f"intervals are 1D; this is a 2D construction of {self.pois}")
        x = [p.values[self.pois[0]] for p in self.points]
        return {k: accepted_intervals(x, self.p_values(), 1.0 - cl) for k, cl in CONFIDENCE_LEVELS.items()}

    def asymptotic_intervals(self) -> dict[str, list[tuple[float, float]]]:
        """1D: the intervals of Wilks' theorem from the same observed ``t_obs`` (2ΔNLL < 1.00/3.84)."""
        ok = [p for p in self.points if p.status == 0 and math.isfinite(p.t_obs)]
        return intervals_1d([p.values[self.pois[0]] for p in ok], [0.5 * p.t_obs for p in ok], levels=LEVELS_1D)

    def problems(self, max_failed: float) -> list[str]:
        """What makes the result unusable: failed observed fits, toy fits failing beyond
        ``max_failed`` (a fraction) at a point, empty regions, regions reaching the grid's edge."""
        name = "/".join(self.pois)
        out = []
        if self.fit_status != 0:
            out.append(f"{name}: the best fit to the data failed (status {self.fit_status})")
        bad = [p for p in self.points if p.status != 0 or not math.isfinite(p.t_obs)]
        if bad:
            out.append(f"{name}: {len(bad)} of {len(self.points)} conditional fits to the data failed")
        tried = [p for p in self.points if p.n_toys + p.n_failed > 0]
        worst = max(tried, key=lambda p: p.failed_fraction) if tried else None
        if worst is not None and worst.failed_fraction > max_failed:
            where = ", ".join(f"{k}={v:.4g}" for k, v in worst.values.items())
            out.append(
                f"{name}: {worst.n_failed} of {worst.n_failed + worst.n_toys} toy fits failed at {where} "
                f"(more than {max_failed:.1%})"
            )
        for cl in CONFIDENCE_LEVELS:
            acc = self.accepted(cl)
            if not acc.any():
                out.append(f"{name}: the {cl}% CL region is empty on the grid")
            elif acc[self._edge_mask()].any():
                out.append(
                    f"{name}: the {cl}% CL region reaches the edge of the grid inside the POI's range (widen it)"
                )
        return out

    def _edge_mask(self) -> npt.NDArray[np.bool_]:
        """Grid points on an edge of the grid that is not a range limit of the POI."""
        edge = np.zeros(len(self.points), dtype=bool)
        for poi in self.pois:
            v = np.array([p.values[poi] for p in self.points])
            lo, hi = self.limits.get(poi, (-math.inf, math.inf))
            edge |= ((v == v.min()) & (v.min() > lo)) | ((v == v.max()) & (v.max() < hi))
        return edge

    def table(self) -> str:
        """One row per grid point: values, t_obs, toys, p ± error, critical values, asymptotic p."""
        head = [*self.pois, "t_obs", "toys", "failed", "p-value", "t_crit68", "t_crit95", "p_asym"]
        rows = []
        for p in self.points:
            crit = p.critical
            rows.append([
                *(f"{p.values[q]:.4g}" for q in self.pois), f"{p.t_obs:.3f}", str(p.n_toys), str(p.n_failed),
                f"{p.p_value:.3f} ± {p.p_error:.3f}", f"{crit['68']:.3f}", f"{crit['95']:.3f}",
                f"{p.p_asymptotic(self.ndim):.3f}",
            ])  # fmt: skip
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
        if self.ndim == 1:
            toy, asym = self.intervals(), self.asymptotic_intervals()
            for cl in CONFIDENCE_LEVELS:
                lines.append(f"{self.pois[0]} {cl}% CL: toys {_union(toy[cl])}; asymptotic {_union(asym[cl])}")
        else:
            for cl in CONFIDENCE_LEVELS:
                lines.append(f"{'/'.join(self.pois)} {cl}% CL: {int(self.accepted(cl).sum())} grid points accepted")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "pois": list(self.pois),
            "bestfit": dict(self.bestfit),
            "fit_status": self.fit_status,
            "profiled": self.profiled,
            "limits": {k: list(v) for k, v in self.limits.items()},
            "points": [p.to_dict() for p in self.points],
        }
        if self.ndim == 1:
            d["intervals"] = {k: [list(iv) for iv in v] for k, v in self.intervals().items()}
            d["asymptotic_intervals"] = {k: [list(iv) for iv in v] for k, v in self.asymptotic_intervals().items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], tie_tolerance: float) -> NeymanScan:
        return cls(
            tuple(d["pois"]),
            tuple(NeymanPoint.from_dict(p, tie_tolerance) for p in d["points"]),
            {k: float(v) for k, v in d["bestfit"].items()},
            int(d["fit_status"]),
            bool(d["profiled"]),
            {k: (float(v[0]), float(v[1])) for k, v in dict(d.get("limits") or {}).items()},
        )


def _union(ivs: Sequence[tuple[float, float]]) -> str:
    return " ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in ivs) or "—"


@dataclass(frozen=True)
class NeymanResult:
    """Toy-based intervals (``kind: neyman`` JSON): one :class:`NeymanScan` per POI (1D) or one
    for a pair (2D), with the settings that produced them."""

    scans: tuple[NeymanScan, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def max_failed(self) -> float:
        return float(self.settings.get("max_failed", 0.02))

    def scan(self, poi: str) -> NeymanScan:
        for s in self.scans:
            if poi in s.pois:
                return s
        raise KeyError(f"no Neyman construction of {poi!r}; constructions: {[s.pois for s in self.scans]}")

    def problems(self) -> list[str]:
        return [line for s in self.scans for line in s.problems(self.max_failed)]

    def table(self) -> str:
        return "\n\n".join(s.table() for s in self.scans)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "neyman", "settings": dict(self.settings), "scans": [s.to_dict() for s in self.scans]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> NeymanResult:
        """Inverse of :meth:`to_dict` (``source``: the file it came from, unused)."""
        if d.get("kind") != "neyman":
            raise ValueError(f"not a neyman result: kind={d.get('kind')!r}")
        settings = dict(d.get("settings") or {})
        tie = float(settings.get("tie_tolerance", 1e-3))
        return cls(tuple(NeymanScan.from_dict(s, tie) for s in d["scans"]), settings)


def needs_more(point: NeymanPoint, sigmas: float, max_toys: int) -> bool:
    """The adaptive rule: more toys where ``|p − α| < sigmas·√(α(1−α)/n)`` for some α = 1 − CL
    and fewer than ``max_toys`` toys were run."""
    n = point.n_toys + point.n_failed
    if n >= max_toys or not point.t_toys or not math.isfinite(point.p_value):
        return False
    return any(
        abs(point.p_value - (1 - cl)) < sigmas * math.sqrt((1 - cl) * cl / point.n_toys)
        for cl in CONFIDENCE_LEVELS.values()
    )


def neyman_intervals(
    workspace: str | Path | Model,
    pois: Sequence[str] | str | None = None,
    *,
    grid2d: bool = False,
    points: int | tuple[int, int] = 21,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    fix_others: bool = False,
    data: str = "data_obs",
    n_toys: int = 200,
    max_toys: int = 1600,
    adaptive_sigmas: float = 3.0,
    seed: int = 1,
    max_failed: float = 0.02,
    tie_tolerance: float = 1e-3,
    options: FitOptions | None = None,
    **fit_options: Any,
) -> NeymanResult:
    """Toy-based 68%/95% CL intervals of each POI in ``pois`` (default: all), or a 2D region of the
    two ``pois`` with ``grid2d=True``, by the Neyman construction of this module's docstring.

    Parameters
    ----------
    workspace
        A workspace file (binned channels, or unbinned ones without nuisances) or an opened model.
    points, ranges
        Grid points per POI (a pair for 2D) on each POI's range or on ``ranges[poi]``.
    fix_others
        Fix the POIs that are not tested at their nominal (SM) values instead of profiling them.
    n_toys, max_toys, adaptive_sigmas
        Toys per point at the start, the most per point, and the adaptive rule's width.
    seed
        Toy ``j`` of point ``i`` uses ``numpy.random.default_rng([seed, i, j])``.
    max_failed
        Fraction of failed toy fits per point above which :meth:`NeymanResult.problems` complains.
    tie_tolerance
        Toys with ``t ≥ t_obs − tie_tolerance`` count as at least as extreme (minimiser noise on
        discrete data).
    options
        :class:`~rooeft.infer.options.FitOptions` (strategy, tolerance, engine, threads, workers,
        scheduler, progress), overridden by its fields given as keywords. Toy fits use
        ``point_strategy``. Without ``workers``/``scheduler`` the toys run on a Dask
        ``LocalCluster`` of all CPUs (a script doing that needs ``if __name__ == "__main__":``);
        ``workers=1`` keeps everything in this process.

    Failed fits are kept and reported by :meth:`NeymanResult.problems`, never raised.
    """
    opts = FitOptions.resolve(options, **fit_options)
    model = get_model(workspace, engine=opts.engine, threads=opts.threads)
    from rooeft.infer.neyman_toys import check_supported

    check_supported(model)
    requested = [pois] if isinstance(pois, str) else list(pois or model.pois)
    model.check_names(requested, what="tested POI", pois_only=True)
    ranges = dict(ranges or {})
    model.check_names(ranges, what="POI of ranges", pois_only=True)
    for name, value, least in (("n_toys", n_toys, 1), ("max_toys", max_toys, n_toys), ("seed", seed, 0)):
        if value < least:
            raise InferenceError(f"{name} must be at least {least}, got {value}")
    if not 0.0 <= max_failed < 1.0:
        raise InferenceError(f"max_failed must be a fraction in [0, 1), got {max_failed}")
    if not adaptive_sigmas >= 0.0:
        raise InferenceError(f"adaptive_sigmas must be >= 0, got {adaptive_sigmas}")
    if grid2d and (len(requested) != 2 or requested[0] == requested[1]):
        raise InferenceError(f"a 2D construction needs two different POIs, got {requested}")
    groups = [requested] if grid2d else [[p] for p in requested]
    npts = points if isinstance(points, tuple) else (points, points)
    grids = {p: _grid(model, p, ranges.get(p), npts[i if grid2d else 0]) for g in groups for i, p in enumerate(g)}
    settings = {
        "n_toys": n_toys, "max_toys": max_toys, "adaptive_sigmas": adaptive_sigmas, "seed": seed,
        "max_failed": max_failed, "tie_tolerance": tie_tolerance, "data": data, "fix_others": fix_others,
        "confidence_levels": dict(CONFIDENCE_LEVELS), "workspace": str(model.path), "engine": model.engine,
    }  # fmt: skip
    from rooeft.infer.neyman_run import construct

    workers = opts.workers if opts.workers is not None or opts.scheduler is not None else default_workers()
    with TaskRunner(workers=workers, scheduler=opts.scheduler) as runner:
        scans = tuple(construct(model, g, [grids[p] for p in g], runner, settings, opts) for g in groups)
    return NeymanResult(scans, settings)


def _grid(model: Model, poi: str, rng: tuple[float, float] | None, points: int) -> npt.NDArray[np.float64]:
    if points < 2:
        raise InferenceError(f"the grid of {poi} needs at least 2 points, got {points}")
    plo, phi = model.ranges[poi]
    lo, hi = (plo, phi) if rng is None else (float(rng[0]), float(rng[1]))
    if not lo < hi or lo < plo or hi > phi:
        raise InferenceError(
            f"grid range [{lo:g}, {hi:g}] of {poi} must have lo < hi inside its range [{plo:g}, {phi:g}] "
            f"in {model.path}"
        )
    return np.linspace(lo, hi, points)
