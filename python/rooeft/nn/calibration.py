r"""Post-hoc calibration of classifier outputs and reliability tables (``docs/calibration.md``).

A network trained with a proper loss converges to the right answer only in the limit of infinite
simulation, flexible enough models and converged training. On finite samples its outputs are
*miscalibrated*: in the events where it predicts a signal fraction of 0.9, the true fraction may
be 0.85. The standard repair for likelihood-ratio classifiers (Cranmer, Pavez, Louppe,
arXiv:1506.02169; Zadrozny & Elkan 2002) is a monotone map of the classifier output fitted on
events the network was not trained on. Here it is:

1. **Histogram.** The score ``s`` (one-vs-rest logit of a fraction, or a per-term coefficient
   function) of the calibration events is binned in weighted quantiles; bins are merged until
   each holds at least ``min_effective_events`` effective events ``(Σw)²/Σw²``. In each bin the
   true value is a ratio of weight sums ``ρ = Σ a_i / Σ b_i`` (``a = w·[event is of process p]``,
   ``b = w`` for a fraction; ``a = w_t``, ``b = w_0`` for an EFT term) with the variance
   ``Σ (a_i − ρ b_i)² / (Σ b_i)²`` (negative weights allowed).
2. **Isotonic regression.** The pool-adjacent-violators algorithm, with inverse-variance weights,
   makes the bin values non-decreasing in the score.
3. **Centred interpolation.** Each pooled block becomes one knot at its weighted mean score
   (centred isotonic regression, Oron & Flournoy 2017), so the map is continuous and strictly
   increasing between the knots; beyond the outermost knots it continues linearly with the
   slope of the chord between the first and last knot (one "temperature" for the tails).

The map is a piecewise-linear function, written with ``Min``/``Max``/``Mul``/``Add`` only
(:class:`PiecewiseLinear`), so the legacy ONNX exporter puts it into the same graph and the C++
classes see the usual output columns.

Fractions are calibrated one process against the rest, in logit space, and renormalised
(``softmax(log σ(z'_p))``) so they sum to one; per-term EFT classifiers are calibrated per term
on the coefficient function ``r̂_t``; the joint quadratic model is not calibrated (see the docs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CalibratedFractionModule",
    "CalibratedPerTermModule",
    "CalibrationConfig",
    "MonotoneMap",
    "PiecewiseLinear",
    "binned_ratio",
    "calibrate_fractions",
    "calibrate_per_term",
    "fit_monotone_map",
    "isotonic",
    "one_vs_rest_logits",
    "reliability_table",
]

_LOG_FLOOR = -1e30  # masks a class out of a logsumexp (exp underflows to exactly 0 in float32)


@dataclass(frozen=True, kw_only=True)
class CalibrationConfig:
    """Calibration and reliability settings of :func:`rooeft.nn.train_from_arrays`.

    >>> CalibrationConfig().test_fraction
    0.15
    >>> CalibrationConfig(test_fraction=1.0)
    Traceback (most recent call last):
    ...
    ValueError: test_fraction must be in (0, 0.5], got 1.0
    """

    enabled: bool = True
    """Fit the calibration maps and put them into the exported graph."""
    reliability: bool = True
    """Hold out a test split and report reliability (before and after calibration) on it."""
    test_fraction: float = 0.15
    """Fraction of all events held out from training and calibration, for the reliability report."""
    seed: int = 0
    """Seeds the test split."""
    n_bins: int = 40
    """Histogram bins of the calibration fit (before merging bins with too few effective events)."""
    min_effective_events: float = 50.0
    """Smallest effective number of events ``(Σw)²/Σw²`` of a calibration or reliability bin."""
    reliability_bins: int = 10
    """Bins (weighted quantiles of the prediction) of the reliability tables."""
    slices: tuple[str, ...] = ()
    """Observables in whose (quantile) bins the fractions are also compared with the truth (e.g.
    ``("pT",)``): calibration in bins of π̂ does not imply calibration at high pT."""
    theta_points: tuple[tuple[float, ...], ...] | None = None
    """θ points of the ratio reliability; ``None``: each coefficient at ± its typical value
    (``theta_scale`` of a quadratic model, the linear probe values of per-term classifiers)."""

    def __post_init__(self) -> None:
        if not (0.0 < self.test_fraction <= 0.5):
            raise ValueError(f"test_fraction must be in (0, 0.5], got {self.test_fraction}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("n_bins", "reliability_bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {value!r}")
        if not (math.isfinite(self.min_effective_events) and self.min_effective_events >= 1):
            raise ValueError(f"min_effective_events must be >= 1, got {self.min_effective_events}")

    @property
    def active(self) -> bool:
        """Whether a test split is held out at all."""
        return self.enabled or self.reliability


# --------------------------------------------------------------------------- binned statistics


def n_effective(w: np.ndarray) -> float:
    """Kish effective size ``(Σw)² / Σw²`` (0 for no events).

    >>> n_effective(np.array([1.0, 1.0, 2.0]))
    2.6666666666666665
    """
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


def binned_ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """``ρ = Σ num / Σ den`` and its error ``sqrt(Σ (num − ρ den)²) / |Σ den|`` (delta method).

    >>> binned_ratio(np.array([1.0, 0.0, 1.0, 0.0]), np.ones(4))
    (0.5, 0.25)
    """
    total = float(np.sum(den))
    if total == 0:
        return math.nan, math.nan
    rho = float(np.sum(num)) / total
    return rho, math.sqrt(float(np.sum((num - rho * den) ** 2))) / abs(total)


def fraction_effective_size(num: np.ndarray, den: np.ndarray) -> float:
    """Binomial-equivalent size ``ρ(1−ρ)/σ²`` of a weighted fraction ``ρ = Σnum/Σden`` (the
    number of unit-weight events that would measure it as precisely); ``n_eff(den)`` for a pure
    bin. Small when the minority class has few effective events, however many events the bin has.

    >>> fraction_effective_size(np.array([1.0, 0.0, 1.0, 0.0]), np.ones(4))
    4.0
    """
    rho, err = binned_ratio(num, den)
    if not math.isfinite(rho):
        return 0.0
    if err > 0 and 0.0 < rho < 1.0:
        return rho * (1.0 - rho) / err**2
    return n_effective(den)


def quantile_bins(
    score: np.ndarray, w: np.ndarray, n_bins: int, min_effective: float, num: np.ndarray | None = None
) -> np.ndarray:
    """Bin index per event: weighted (|w|) quantile bins of ``score``, merged until every bin has
    at least ``min_effective`` effective events (``(Σw)²/Σw²``; with ``num``, also a fraction
    ``Σnum/Σw`` measured as well as by ``min_effective`` unit-weight events, see
    :func:`fraction_effective_size`); returns ``[N]`` ints in ``0..n-1``."""
    order = np.argsort(score, kind="stable")
    aw = np.abs(w[order])
    cum = np.cumsum(aw)
    total = cum[-1] if cum.size else 0.0
    if total <= 0:
        return np.zeros(score.size, dtype=np.int64)
    raw = np.minimum((cum - 0.5 * aw) / total * n_bins, n_bins - 1).astype(np.int64)
    # never split events with equal scores between two bins
    sorted_score = score[order]
    tie = np.r_[False, sorted_score[1:] == sorted_score[:-1]]
    raw = np.maximum.accumulate(np.where(tie, -1, raw))
    # merge bins from the left until each one is large enough; a small last bin joins its neighbour
    sw = w[order]
    snum = num[order] if num is not None else None
    segments = np.split(np.arange(raw.size), np.flatnonzero(np.diff(raw)) + 1)
    groups: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    for seg in segments:
        pending.append(seg)
        idx = np.concatenate(pending)
        big = n_effective(sw[idx]) >= min_effective and np.sum(sw[idx]) > 0
        if big and snum is not None:
            big = fraction_effective_size(snum[idx], sw[idx]) >= min_effective
        if big:
            groups.append(idx)
            pending = []
    if pending:
        tail = np.concatenate(pending)
        if groups:
            groups[-1] = np.concatenate([groups[-1], tail])
        else:
            groups.append(tail)
    sorted_bin = np.empty(raw.size, dtype=np.int64)
    for b, idx in enumerate(groups):
        sorted_bin[idx] = b
    result = np.empty_like(sorted_bin)
    result[order] = sorted_bin
    return result


def isotonic(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted isotonic (non-decreasing) regression by pool-adjacent-violators.

    Returns ``(fitted values per input, block index per input)``; blocks are the maximal runs the
    algorithm pooled.

    >>> fit, block = isotonic(np.array([1.0, 3.0, 2.0, 4.0]), np.ones(4))
    >>> fit.tolist(), block.tolist()
    ([1.0, 2.5, 2.5, 4.0], [0, 1, 1, 2])
    """
    vals: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for v, wt in zip(values.tolist(), weights.tolist(), strict=True):
        vals.append(v)
        wts.append(wt)
        sizes.append(1)
        while len(vals) > 1 and vals[-2] >= vals[-1]:
            wsum = wts[-2] + wts[-1]
            merged = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / wsum
            vals[-2:] = [merged]
            wts[-2:] = [wsum]
            sizes[-2:] = [sizes[-2] + sizes[-1]]
    fitted = np.repeat(np.asarray(vals), sizes)
    block = np.repeat(np.arange(len(vals)), sizes)
    return fitted, block


@dataclass(frozen=True)
class MonotoneMap:
    """A continuous, non-decreasing piecewise-linear map: knots ``x`` (increasing) -> ``y``,
    continued linearly beyond the outermost knots with ``slope_low``/``slope_high``."""

    x: np.ndarray
    y: np.ndarray
    slope_low: float = 1.0
    slope_high: float = 1.0

    def __call__(self, s: npt.ArrayLike) -> np.ndarray:
        """The map applied to numbers (numpy reference of :class:`PiecewiseLinear`)."""
        arr = np.asarray(s, dtype=float)
        out = np.interp(arr, self.x, self.y)
        out = np.where(arr < self.x[0], self.y[0] + (arr - self.x[0]) * self.slope_low, out)
        return np.asarray(np.where(arr > self.x[-1], self.y[-1] + (arr - self.x[-1]) * self.slope_high, out))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for provenance)."""
        return {
            "x": [float(v) for v in self.x],
            "y": [float(v) for v in self.y],
            "slope_low": self.slope_low,
            "slope_high": self.slope_high,
        }


def fit_monotone_map(
    score: np.ndarray,
    num: np.ndarray,
    den: np.ndarray,
    *,
    n_bins: int = 40,
    min_effective: float = 50.0,
    target: str = "ratio",
) -> MonotoneMap:
    """Histogram + isotonic + centred-interpolation calibration of ``score`` (module docstring).

    The calibrated value of a score is the ratio ``Σ num / Σ den`` of the events with a similar
    score. ``target="logit"`` fits a fraction (``0 <= ρ <= 1``) and returns the map in logit space
    (score and knot values are logits); ``"ratio"`` returns ``ρ`` itself.
    """
    if target not in ("ratio", "logit"):
        raise ValueError(f"target must be 'ratio' or 'logit', got {target!r}")
    score = np.asarray(score, dtype=float)
    ok = np.isfinite(score)
    score, num, den = score[ok], np.asarray(num, float)[ok], np.asarray(den, float)[ok]
    if score.size == 0:
        raise ValueError("no events with a finite score to calibrate on")
    bins = quantile_bins(score, den, n_bins, min_effective, num if target == "logit" else None)
    n = int(bins.max()) + 1
    rho = np.empty(n)
    var = np.empty(n)
    centre = np.empty(n)
    weight = np.empty(n)
    for b in range(n):
        sel = bins == b
        rho[b], err = binned_ratio(num[sel], den[sel])
        # a pure bin has zero error: floor it at half an effective event, so it cannot dominate the pooling
        floor = 0.5 / max(n_effective(den[sel]), 1.0) * max(1.0, abs(rho[b])) if math.isfinite(rho[b]) else 0.0
        var[b] = max(err**2, floor**2)
        aw = np.abs(den[sel])
        centre[b] = float(np.sum(aw * score[sel]) / np.sum(aw))
        weight[b] = float(np.sum(aw))
    finite = np.isfinite(rho)
    rho, var, centre, weight = rho[finite], var[finite], centre[finite], weight[finite]
    if rho.size == 0:
        raise ValueError("no calibration bin has a non-zero total weight")
    fitted, block = isotonic(rho, 1.0 / var)
    n_blocks = int(block.max()) + 1
    kx = np.array(
        [np.sum(weight[block == k] * centre[block == k]) / np.sum(weight[block == k]) for k in range(n_blocks)]
    )
    ky = np.array([fitted[block == k][0] for k in range(n_blocks)])
    if target == "logit":
        # a pure block (ρ = 0 or 1) gets the logit of half an effective event
        bin_of_block = np.flatnonzero(finite)
        eps = np.empty(n_blocks)
        for k in range(n_blocks):
            members = np.isin(bins, bin_of_block[block == k])
            eps[k] = 0.5 / max(n_effective(den[members]), 1.0)
        clipped = np.clip(ky, eps, 1.0 - eps)
        ky = np.log(clipped) - np.log1p(-clipped)
        ky = np.maximum.accumulate(ky)  # clipping may not reorder, but keep it exact
        # an outermost pure block only bounds the fraction (below ~1/n_eff): drop its knot and let
        # the network's own logit shape continue there (the linear extrapolation below)
        keep = np.ones(kx.size, dtype=bool)
        if kx.size > 2 and fitted[block == 0][0] <= 0.0:
            keep[0] = False
        if kx.size > 2 and fitted[block == n_blocks - 1][0] >= 1.0:
            keep[-1] = False
        kx, ky = kx[keep], ky[keep]
    slope = 1.0
    if kx.size > 1 and kx[-1] > kx[0]:
        slope = float(np.clip((ky[-1] - ky[0]) / (kx[-1] - kx[0]), 0.0, 1e3))
    return MonotoneMap(kx, ky, slope, slope)


# --------------------------------------------------------------------------- torch modules


class PiecewiseLinear(nn.Module):
    """One :class:`MonotoneMap` per column: ``[B, C] -> [B, C]``, exported as Min/Max/Mul/Add.

    ``f(s) = y_0 + s_lo·min(s − x_0, 0) + Σ_k slope_k·(clamp(s, x_k, x_{k+1}) − x_k) + s_hi·max(s − x_K, 0)``.
    Columns with fewer knots are padded with zero-width segments.
    """

    x0: torch.Tensor
    y0: torch.Tensor
    xk: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor
    slope: torch.Tensor
    slope_low: torch.Tensor
    slope_high: torch.Tensor

    def __init__(self, maps: Sequence[MonotoneMap]) -> None:
        super().__init__()
        if not maps:
            raise ValueError("PiecewiseLinear needs at least one map")
        n_seg = max(1, max(m.x.size for m in maps) - 1)
        lo = np.zeros((len(maps), n_seg))
        hi = np.zeros((len(maps), n_seg))
        slope = np.zeros((len(maps), n_seg))
        for c, m in enumerate(maps):
            k = m.x.size - 1
            lo[c, :] = m.x[-1]
            hi[c, :] = m.x[-1]
            if k > 0:
                lo[c, :k] = m.x[:-1]
                hi[c, :k] = m.x[1:]
                width = np.diff(m.x)
                slope[c, :k] = np.where(width > 0, np.diff(m.y) / np.where(width > 0, width, 1.0), 0.0)

        def buf(name: str, value: npt.ArrayLike) -> None:
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.float32))

        buf("x0", [m.x[0] for m in maps])
        buf("y0", [m.y[0] for m in maps])
        buf("xk", [m.x[-1] for m in maps])
        buf("lo", lo)
        buf("hi", hi)
        buf("slope", slope)
        buf("slope_low", [m.slope_low for m in maps])
        buf("slope_high", [m.slope_high for m in maps])

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        below = torch.clamp(s - self.x0, max=0.0) * self.slope_low
        above = torch.clamp(s - self.xk, min=0.0) * self.slope_high
        inner = (torch.minimum(torch.maximum(s.unsqueeze(2), self.lo), self.hi) - self.lo) * self.slope
        return self.y0 + below + inner.sum(dim=2) + above


def diagonal_mask(n: int) -> torch.Tensor:
    """``[n, n]`` float32 matrix with a huge negative diagonal (masks class p out of row p)."""
    return torch.as_tensor(np.diag(np.full(n, _LOG_FLOOR)), dtype=torch.float32)


def one_vs_rest_logits(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``z_p = l_p − log Σ_{q≠p} exp(l_q)`` = logit of the softmax fraction ``π_p``, ``[B, P]``.

    Computed from the logits (never from π, which rounds to 1 in float32), with a max-shifted
    log-sum-exp that the ONNX exporter writes as plain operators; ``mask`` is
    :func:`diagonal_mask` (a constant of the graph).
    """
    if mask is None:
        mask = diagonal_mask(logits.shape[1]).to(logits.device)
    others = logits.unsqueeze(1) + mask  # [B, P(p), P(q)]; q == p masked out
    top = others.max(dim=2, keepdim=True).values
    lse = top.squeeze(2) + torch.log(torch.exp(others - top).sum(dim=2))
    return logits - lse


class CalibratedFractionModule(nn.Module):
    """A :class:`~rooeft.nn.fractions.FractionModule` followed by per-process calibration maps of
    the one-vs-rest logits and a renormalisation: rows still sum to one."""

    mask: torch.Tensor

    def __init__(self, base: nn.Module, curve: PiecewiseLinear) -> None:
        super().__init__()
        self.base = base
        self.curve = curve
        self.register_buffer("mask", diagonal_mask(int(curve.x0.shape[0])))

    def full_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits including the prior correction, ``[B, P]``."""
        base = self.base
        return cast(torch.Tensor, base.logits(x) + base.log_prior)  # type: ignore[operator]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Training logits of the underlying network (uncalibrated, without prior)."""
        return cast(torch.Tensor, self.base.logits(x))  # type: ignore[operator]

    def uncalibrated(self, x: torch.Tensor) -> torch.Tensor:
        """The fractions before calibration."""
        return cast(torch.Tensor, self.base(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.curve(one_vs_rest_logits(self.full_logits(x), self.mask))
        return torch.softmax(F.logsigmoid(z), dim=1)


class CalibratedPerTermModule(nn.Module):
    """A :class:`~rooeft.nn.per_term.PerTermModule` whose replica-mean coefficient functions pass
    through per-term calibration maps; replicas are shifted by the same amount (spread kept)."""

    def __init__(self, base: nn.Module, curve: PiecewiseLinear) -> None:
        super().__init__()
        self.base = base
        self.curve = curve

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Uncalibrated classifier logits ``[replicas, terms, B]``."""
        return cast(torch.Tensor, self.base.logits(x))  # type: ignore[operator]

    def uncalibrated(self, x: torch.Tensor) -> torch.Tensor:
        """Replica-mean coefficient functions before calibration."""
        return cast(torch.Tensor, self.base(x))

    def replicas(self, x: torch.Tensor) -> torch.Tensor:
        """Every replica, shifted so that their mean is the calibrated value, ``[R, B, T]``."""
        reps = cast(torch.Tensor, self.base.replicas(x))  # type: ignore[operator]
        mean = reps.mean(dim=0)
        return reps + (cast(torch.Tensor, self.curve(mean)) - mean).unsqueeze(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.curve(self.base(x)))


# --------------------------------------------------------------------------- fitting on estimators


def _run(fn: Any, x: np.ndarray, batch: int = 65536) -> np.ndarray:
    outs = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch):
            xb = torch.from_numpy(np.ascontiguousarray(x[start : start + batch], dtype=np.float32))
            outs.append(cast(torch.Tensor, fn(xb)).double().numpy())
    return np.concatenate(outs, axis=0)


def calibrate_fractions(
    module: nn.Module,
    x: np.ndarray,
    label: np.ndarray,
    weights: np.ndarray,
    *,
    n_bins: int = 40,
    min_effective: float = 50.0,
) -> tuple[CalibratedFractionModule, list[MonotoneMap]]:
    """Fit one logit-space map per process on calibration events ``x`` (labels, weights) that the
    network was not trained on; return the calibrated module (wrapping ``module``) and the maps."""
    base = module.base if isinstance(module, CalibratedFractionModule) else module
    base.eval()
    z = _run(lambda xb: one_vs_rest_logits(base.logits(xb) + base.log_prior), x)  # type: ignore[operator]
    maps = [
        fit_monotone_map(
            z[:, p], weights * (label == p), weights, n_bins=n_bins, min_effective=min_effective, target="logit"
        )
        for p in range(z.shape[1])
    ]
    return CalibratedFractionModule(base, PiecewiseLinear(maps)).eval(), maps


def calibrate_per_term(
    module: nn.Module,
    x: np.ndarray,
    structure_constants: np.ndarray,
    *,
    n_bins: int = 40,
    min_effective: float = 50.0,
) -> tuple[CalibratedPerTermModule, list[MonotoneMap]]:
    """Fit one map per EFT term: in bins of the predicted ``r̂_t``, the true ``Σ w_t / Σ w_0`` of
    calibration events (the histogram calibration of the term's classifier, arXiv:1506.02169)."""
    base = module.base if isinstance(module, CalibratedPerTermModule) else module
    base.eval()
    r = _run(base, x)
    w0 = structure_constants[:, 0]
    maps = [
        fit_monotone_map(r[:, t], structure_constants[:, t + 1], w0, n_bins=n_bins, min_effective=min_effective)
        for t in range(r.shape[1])
    ]
    return CalibratedPerTermModule(base, PiecewiseLinear(maps)).eval(), maps


# --------------------------------------------------------------------------- reliability tables


def reliability_table(
    predicted: np.ndarray,
    num: np.ndarray,
    den: np.ndarray,
    *,
    n_bins: int = 10,
    min_effective: float = 50.0,
    binning: np.ndarray | None = None,
    fraction: bool = False,
) -> dict[str, Any]:
    """Predicted vs true in bins of the prediction (or of ``binning``, e.g. an observable).

    ``predicted``: per-event prediction; the truth of a bin is ``Σ num / Σ den`` with its
    effective-size-aware error; the bin's prediction is the ``den``-weighted mean of ``predicted``.
    Bins are weighted (|den|) quantiles of the binning variable, merged to ``min_effective``
    effective events (``fraction=True``: also by :func:`fraction_effective_size`, for a truth
    that is a fraction); ``lo``/``hi``/``mean`` of a bin refer to the binning variable.
    Returns ``{"bins": [...], "chi2", "ndf", "max_abs_pull", "mean_abs_deviation"}``: χ² of the
    bins against the prediction (no network uncertainty), and the |den|-weighted mean |pred − true|.
    """
    predicted = np.asarray(predicted, float)
    var = predicted if binning is None else np.asarray(binning, float)
    bins = quantile_bins(var, den, n_bins, min_effective, num if fraction else None)
    rows: list[dict[str, float]] = []
    chi2 = 0.0
    dev = 0.0
    total = 0.0
    pulls: list[float] = []
    for b in range(int(bins.max()) + 1 if bins.size else 0):
        sel = bins == b
        dsum = float(np.sum(den[sel]))
        if dsum == 0:
            continue
        truth, err = binned_ratio(num[sel], den[sel])
        pred = float(np.sum(den[sel] * predicted[sel]) / dsum)
        pull = (pred - truth) / err if err > 0 else math.nan
        aw = float(np.sum(np.abs(den[sel])))
        rows.append({
            "lo": float(var[sel].min()),
            "hi": float(var[sel].max()),
            "mean": float(np.sum(np.abs(den[sel]) * var[sel]) / aw) if aw > 0 else math.nan,
            "predicted": pred,
            "true": truth,
            "error": err,
            "pull": pull,
            "n_events": int(sel.sum()),
            "n_eff": n_effective(den[sel]),
        })  # fmt: skip
        if math.isfinite(pull):
            chi2 += pull * pull
            pulls.append(abs(pull))
        dev += aw * abs(pred - truth)
        total += aw
    return {
        "bins": rows,
        "chi2": chi2,
        "ndf": len(pulls),
        "max_abs_pull": max(pulls) if pulls else math.nan,
        "mean_abs_deviation": dev / total if total > 0 else math.nan,
    }


def summarise(table: Mapping[str, Any] | None) -> str:
    """One-line text of a reliability table: ``χ²/ndf = 12.3/10, max |pull| 2.1, mean |Δ| 0.004``."""
    if not table:
        return "n/a"
    return (
        f"chi2/ndf = {table['chi2']:.1f}/{table['ndf']}, max |pull| {table['max_abs_pull']:.2f}, "
        f"mean |pred - true| {table['mean_abs_deviation']:.4g}"
    )
