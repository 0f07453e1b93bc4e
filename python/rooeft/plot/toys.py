"""Toy studies: pull distributions per parameter and interval coverage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rooeft.plot._common import COLORS, PlotError, new_figure, style

__all__ = ["NOMINAL_COVERAGE", "plot_coverage", "plot_toy_pulls"]

#: nominal coverage of the 2ΔNLL = 1.00 / 3.84 intervals
NOMINAL_COVERAGE = {"68": 0.6827, "95": 0.95}


#: plot titles per toy source (``rooeft toys`` labels toys from the workspace's own simulation
#: "closure" and toys from an independent simulation pool "validation")
SOURCE_TITLES = {
    "closure": "closure: toys from the workspace's own simulation",
    "validation": "validation: toys from independent simulation",
}


def _pulls(toys: Mapping[str, Any]) -> dict[str, np.ndarray]:
    pulls = toys.get("pulls")
    if not isinstance(pulls, Mapping) or not pulls:
        raise PlotError("toys result: 'pulls' must be a non-empty object {parameter: [pull per toy]}")
    out = {}
    for name, values in pulls.items():
        try:
            arr = np.asarray([np.nan if v is None else v for v in values], dtype=float)
        except (TypeError, ValueError):
            raise PlotError(f"toys result: pulls of {name!r} are not a list of numbers") from None
        out[str(name)] = arr[np.isfinite(arr)]
    return out


def plot_toy_pulls(*, toys: Mapping[str, Any], bins: int = 30, span: float = 4.0) -> Figure:
    """Histogram of the toy pulls ``(θ̂ − θ_true)/σ̂`` per parameter with the unit Gaussian.

    Parameters
    ----------
    toys
        A toys result dictionary (``pulls``: ``{parameter: [pull per toy]}``).
    bins
        Histogram bins in ``[-span, span]`` (pulls outside are put into the edge bins).
    span
        Half-width of the pull axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pulls = _pulls(toys)
    n = len(pulls)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    raw_truth = toys.get("truth")
    truth: Mapping[str, Any] = raw_truth if isinstance(raw_truth, Mapping) else {}
    with style():
        fig, axes = new_figure(
            nrows=nrows, ncols=ncols, figsize=(6.5 * ncols, 6.0 * nrows), squeeze=False, layout="constrained"
        )
        grid = np.linspace(-span, span, 201)
        width = 2 * span / bins
        for k, (name, values) in enumerate(pulls.items()):
            ax = axes[k // ncols, k % ncols]
            ax.hist(
                np.clip(values, -span, span),
                bins=bins,
                range=(-span, span),
                histtype="stepfilled",
                color=COLORS[0],
                alpha=0.7,
                label=f"{values.size} toys",
            )
            title = name if name not in truth else f"{name} (true {truth[name]:g})"
            if values.size:
                gauss = values.size * width * np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
                ax.plot(grid, gauss, color="black", ls="--", lw=1.5, label=r"$\mathcal{N}(0, 1)$")
                mean = float(values.mean())
                std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
                err = std / math.sqrt(values.size) if values.size > 1 else float("nan")
                title += f"\nmean {mean:+.2f} ± {err:.2f}, width {std:.2f}"
            ax.set_title(title, fontsize="small")
            ax.set_xlabel(r"pull $(\hat\theta - \theta_\mathrm{true})/\hat\sigma$", fontsize="small")
            ax.set_ylabel("toys", fontsize="small")
            ax.set_xlim(-span, span)
            ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
            ax.legend(loc="upper right", fontsize="x-small")
        for k in range(n, nrows * ncols):
            axes[k // ncols, k % ncols].set_axis_off()
    return fig


def plot_coverage(*, toys: Mapping[str, Any]) -> Figure:
    """Observed coverage of the 68%/95% intervals per parameter, with binomial errors and nominal lines.

    Parameters
    ----------
    toys
        A toys result dictionary (``coverage``: ``{poi: {"68": frac, "95": frac, "n": int}}``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    coverage = toys.get("coverage")
    if not isinstance(coverage, Mapping) or not coverage:
        raise PlotError("toys result: 'coverage' must be a non-empty object {poi: {'68': f, '95': f, 'n': n}}")
    pois = list(coverage)
    with style():
        fig, ax = new_figure(figsize=(max(6.0, 2.2 * len(pois) + 3), 7))
        for j, (cl, nominal) in enumerate(NOMINAL_COVERAGE.items()):
            color = COLORS[j]
            xs, ys, es = [], [], []
            for i, poi in enumerate(pois):
                entry = coverage[poi]
                if not isinstance(entry, Mapping) or cl not in entry:
                    continue
                try:
                    frac, n = float(entry[cl]), int(entry.get("n", 0))
                except (TypeError, ValueError):
                    raise PlotError(f"toys result: coverage of {poi!r} must hold numbers") from None
                xs.append(i + (j - 0.5) * 0.2)
                ys.append(frac)
                es.append(math.sqrt(max(frac * (1 - frac), 1e-12) / n) if n > 0 else 0.0)
            ax.errorbar(xs, ys, yerr=es, fmt="o", color=color, ms=8, capsize=4, label=f"{cl}% interval")
            ax.axhline(nominal, color=color, ls="--", lw=1.2)
        ax.set_xticks(range(len(pois)), pois)
        ax.tick_params(axis="x", which="minor", bottom=False, top=False)
        ax.set_xlim(-0.6, len(pois) - 0.4)
        ax.set_ylim(0.4, 1.05)
        ax.set_ylabel("coverage")
        ax.legend(loc="lower right", fontsize="small")
        source = toys.get("source")
        if source in SOURCE_TITLES:
            ax.set_title(SOURCE_TITLES[str(source)], fontsize="small")
    return fig
