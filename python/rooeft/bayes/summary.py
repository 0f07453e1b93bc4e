"""One-dimensional posterior summaries from (weighted) samples: quantiles, equal-tailed and
highest-density credible intervals, mean, median and mode.

Weighted samples (nested sampling's dead points with their posterior weights) give less noisy
summaries than the equal-weighted resample; every function takes optional weights.

>>> rng = np.random.default_rng(1)
>>> x = rng.normal(0.0, 1.0, 200_000)
>>> [round(v, 1) for v in equal_tailed(x, 0.68)]
[-1.0, 1.0]
>>> [round(v, 1) for v in hdi(x, 0.95)]
[-2.0, 2.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "CREDIBILITY",
    "Estimates",
    "equal_tailed",
    "estimates",
    "hdi",
    "interval_table",
    "mode",
    "weighted_quantile",
]

#: credibility levels reported, by JSON key: the probability contents of the profile-likelihood
#: intervals at 2ΔNLL = 1.00 and 3.84 (one parameter), so the two are comparable
CREDIBILITY = {"68": 0.682689492137086, "95": 0.95}


def _prepare(
    x: npt.ArrayLike, weights: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    xx = np.asarray(x, dtype=np.float64).ravel()
    if xx.size == 0:
        raise ValueError("no samples")
    w = np.ones_like(xx) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != xx.shape:
        raise ValueError(f"{w.size} weights for {xx.size} samples")
    if np.any(w < 0) or not np.all(np.isfinite(w)) or not np.all(np.isfinite(xx)):
        raise ValueError("samples and weights must be finite and weights non-negative")
    keep = w > 0
    if not np.any(keep):
        raise ValueError("all weights are zero")
    xx, w = xx[keep], w[keep]
    order = np.argsort(xx, kind="stable")
    return xx[order], w[order] / w.sum()


def weighted_quantile(
    x: npt.ArrayLike, q: float | npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> npt.NDArray[np.float64]:
    """Quantiles of weighted samples (linear interpolation of the mid-point CDF).

    >>> weighted_quantile([1.0, 2.0, 3.0, 4.0], 0.5).item()
    2.5
    """
    xs, w = _prepare(x, weights)
    cdf = np.cumsum(w) - 0.5 * w
    return np.asarray(np.interp(np.asarray(q, dtype=np.float64), cdf, xs), dtype=np.float64)


def equal_tailed(x: npt.ArrayLike, cl: float, weights: npt.ArrayLike | None = None) -> tuple[float, float]:
    """Equal-tailed credible interval: the (1−cl)/2 and (1+cl)/2 quantiles."""
    if not 0 < cl < 1:
        raise ValueError(f"credibility {cl} must be in (0, 1)")
    lo, hi = weighted_quantile(x, [(1 - cl) / 2, (1 + cl) / 2], weights)
    return float(lo), float(hi)


def hdi(x: npt.ArrayLike, cl: float, weights: npt.ArrayLike | None = None) -> tuple[float, float]:
    """Highest-density interval: the shortest single interval holding a fraction ``cl`` of the
    posterior (exact for unimodal marginals; for multimodal ones it is the shortest interval
    covering all modes it needs).

    >>> hdi([0.0, 0.1, 0.2, 5.0], 0.5)
    (0.0, 0.1)
    """
    if not 0 < cl < 1:
        raise ValueError(f"credibility {cl} must be in (0, 1)")
    xs, w = _prepare(x, weights)
    cum = np.concatenate([[0.0], np.cumsum(w)])  # cum[i] = mass strictly below sample i
    # for each start i the first end j (inclusive) with mass(i..j) >= cl
    target = cum[:-1] + cl * (1 - 1e-12)
    j = np.searchsorted(cum[1:], target, side="left")
    valid = j < xs.size
    if not np.any(valid):
        return float(xs[0]), float(xs[-1])
    starts = np.nonzero(valid)[0]
    widths = xs[j[valid]] - xs[starts]
    k = int(np.argmin(widths))
    return float(xs[starts[k]]), float(xs[j[valid][k]])


def mode(x: npt.ArrayLike, weights: npt.ArrayLike | None = None, *, grid: int = 512) -> float:
    """Maximum of a Gaussian kernel density estimate of the marginal (Scott's bandwidth).

    >>> rng = np.random.default_rng(2)
    >>> round(mode(rng.gamma(3.0, 1.0, 50_000)), 0)
    2.0
    """
    from scipy.stats import gaussian_kde

    xs, w = _prepare(x, weights)
    if xs[0] == xs[-1]:
        return float(xs[0])
    kde = gaussian_kde(xs, weights=w)
    pts = np.linspace(xs[0], xs[-1], grid)
    return float(pts[int(np.argmax(kde(pts)))])


@dataclass(frozen=True)
class Estimates:
    """Point estimates of one marginal posterior."""

    mean: float
    median: float
    mode: float
    std: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "median": self.median, "mode": self.mode, "std": self.std}


def estimates(x: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> Estimates:
    """Mean, median, mode and standard deviation of weighted samples.

    >>> e = estimates([1.0, 2.0, 3.0])
    >>> (e.mean, e.median)
    (2.0, 2.0)
    """
    xs, w = _prepare(x, weights)
    mean = float(np.sum(w * xs))
    std = math.sqrt(max(float(np.sum(w * (xs - mean) ** 2)), 0.0))
    return Estimates(mean, float(weighted_quantile(xs, 0.5, w)), mode(xs, w), std)


def interval_table(x: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> dict[str, list[float]]:
    """The intervals of the ``posterior`` JSON: ``{"68", "95"}`` equal-tailed and ``{"hdi68",
    "hdi95"}`` highest-density, each ``[lo, hi]``.

    >>> sorted(interval_table(np.linspace(-1, 1, 1001)))
    ['68', '95', 'hdi68', 'hdi95']
    """
    out: dict[str, list[float]] = {}
    for key, cl in CREDIBILITY.items():
        out[key] = list(equal_tailed(x, cl, weights))
    for key, cl in CREDIBILITY.items():
        out[f"hdi{key}"] = list(hdi(x, cl, weights))
    return out
