"""Corner plot of posterior samples, with profile-likelihood intervals overlaid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rooeft.plot._common import COLORS, PlotError, new_figure, style

__all__ = ["credible_levels", "plot_corner"]


def credible_levels(density: np.ndarray, masses: Sequence[float]) -> list[float]:
    """Density thresholds whose upper level sets hold the given probability masses (HPD regions).

    >>> credible_levels(np.array([[1.0, 2.0], [3.0, 4.0]]), [0.7])
    [3.0]
    """
    flat = np.sort(np.asarray(density, dtype=float).ravel())[::-1]
    total = flat.sum()
    if not total > 0:
        raise PlotError("credible_levels: empty density")
    cum = np.cumsum(flat) / total
    out = []
    for m in masses:
        k = int(np.searchsorted(cum, m))
        out.append(float(flat[min(k, flat.size - 1)]))
    return out


def _intervals(spec: Any, name: str) -> dict[str, list[tuple[float, float]]]:
    if not isinstance(spec, Mapping):
        raise PlotError(f"plot_corner: intervals of {name!r} must be {{'68': [[lo, hi], ...], ...}}")
    out: dict[str, list[tuple[float, float]]] = {}
    for cl, items in spec.items():
        pairs = [items] if len(items) == 2 and not isinstance(items[0], list | tuple) else items
        try:
            out[str(cl)] = [(float(lo), float(hi)) for lo, hi in pairs]
        except (TypeError, ValueError):
            raise PlotError(f"plot_corner: bad {cl} interval(s) {items!r} of {name!r}") from None
    return out


def plot_corner(
    *,
    samples: np.ndarray,
    names: Sequence[str],
    weights: np.ndarray | None = None,
    intervals: Mapping[str, Mapping[str, Any]] | None = None,
    truths: Mapping[str, float] | None = None,
    bins: int = 40,
    credible_masses: Sequence[float] = (0.68, 0.95),
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """Corner plot: marginal histograms on the diagonal, 2D marginals with HPD contours below.

    Parameters
    ----------
    samples
        Posterior samples, shape ``(n, d)``.
    names
        Parameter names (length d).
    weights
        Optional sample weights, shape ``(n,)``.
    intervals
        Profile-likelihood intervals to overlay on the diagonal,
        ``{name: {"68": [[lo, hi], ...], "95": [[lo, hi], ...]}}`` (the ``intervals`` of a scan1d
        result); drawn as shaded bands.
    truths
        Optional reference values (e.g. the SM or the generated point), drawn as lines.
    bins
        Histogram bins per axis.
    credible_masses
        Probability masses of the 2D highest-density contours.
    ranges
        Axis range per parameter (default: the 0.5–99.5% quantiles, widened by 10%).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.asarray(samples, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 2:
        raise PlotError(f"plot_corner: samples must have shape (n, d) with n >= 2, got {np.shape(samples)}")
    names = list(names)
    d = x.shape[1]
    if len(names) != d:
        raise PlotError(f"plot_corner: {len(names)} names for {d} sample columns")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (x.shape[0],):
            raise PlotError(f"plot_corner: weights shape {w.shape}, expected ({x.shape[0]},)")
    ivals = {n: _intervals(spec, n) for n, spec in (intervals or {}).items()}
    unknown = (set(ivals) | set(truths or {})) - set(names)
    if unknown:
        raise PlotError(f"plot_corner: intervals/truths for unknown parameter(s) {sorted(unknown)}")
    lims = []
    for i, n in enumerate(names):
        if ranges and n in ranges:
            lims.append(tuple(map(float, ranges[n])))
            continue
        lo, hi = np.quantile(x[:, i], [0.005, 0.995])
        pad = 0.1 * (hi - lo) if hi > lo else 0.5
        lims.append((float(lo - pad), float(hi + pad)))
    size = max(4.0 * d, 9.0)
    band_colors = {"68": "#3f90da", "95": "#92dadd"}
    with style():
        fig, axes = new_figure(
            nrows=d, ncols=d, figsize=(size, size), squeeze=False, gridspec_kw={"hspace": 0.06, "wspace": 0.06}
        )
        for r in range(d):
            for c in range(d):
                ax = axes[r, c]
                if c > r:
                    ax.set_axis_off()
                    continue
                if r == c:
                    ax.hist(
                        x[:, c],
                        bins=bins,
                        range=lims[c],
                        weights=w,
                        histtype="step",
                        color="black",
                        lw=1.5,
                        density=True,
                    )
                    for cl in ("95", "68"):
                        for lo, hi in ivals.get(names[c], {}).get(cl, []):
                            ax.axvspan(lo, hi, color=band_colors.get(cl, "grey"), alpha=0.35, lw=0, zorder=0)
                    qs = np.quantile(x[:, c], [0.16, 0.5, 0.84]) if w is None else _wquantile(x[:, c], w)
                    for q in qs:
                        ax.axvline(q, color="black", ls="--", lw=1)
                    ax.set_yticks([])
                    ax.set_title(_summary(names[c], *qs), fontsize="small")
                else:
                    h, xe, ye = np.histogram2d(x[:, c], x[:, r], bins=bins, range=(lims[c], lims[r]), weights=w)
                    ax.pcolormesh(xe, ye, h.T, cmap="Greys", rasterized=True)
                    if h.sum() > 0:
                        levels = sorted(set(credible_levels(h, credible_masses)))
                        xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
                        if len(levels) >= 1 and h.max() > levels[0]:
                            ax.contour(xc, yc, h.T, levels=levels, colors=[COLORS[0]], linewidths=1.5)
                    ax.set_ylim(lims[r])
                ax.set_xlim(lims[c])
                if truths and names[c] in truths:
                    ax.axvline(truths[names[c]], color=COLORS[2], lw=1.2)
                if truths and r != c and names[r] in truths:
                    ax.axhline(truths[names[r]], color=COLORS[2], lw=1.2)
                if r == d - 1:
                    ax.set_xlabel(names[c])
                else:
                    ax.tick_params(labelbottom=False)
                if c == 0 and r > 0:
                    ax.set_ylabel(names[r])
                elif c > 0:
                    ax.tick_params(labelleft=False)
        handles: list[Any] = [
            Line2D([], [], color="black", lw=1.5, label="posterior"),
            Line2D([], [], color="black", ls="--", lw=1, label="16/50/84% quantiles"),
        ]
        if d > 1:
            masses = ", ".join(f"{100 * m:g}%" for m in credible_masses)
            handles.append(Line2D([], [], color=COLORS[0], lw=1.5, label=f"{masses} credible"))
        present = {cl for iv in ivals.values() for cl in iv}
        for cl in ("68", "95"):
            if cl in present:
                handles.append(Patch(color=band_colors[cl], alpha=0.35, label=f"{cl}% CL profile likelihood"))
        if truths:
            handles.append(Line2D([], [], color=COLORS[2], lw=1.2, label="reference"))
        if d > 1:
            axes[0, d - 1].legend(handles=handles, loc="upper right", fontsize="x-small")
        else:
            axes[0, 0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="x-small")
    return fig


def _wquantile(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    order = np.argsort(values)
    v, wv = values[order], weights[order]
    cum = np.cumsum(wv)
    cum = (cum - 0.5 * wv) / cum[-1]
    return np.asarray(np.interp([0.16, 0.5, 0.84], cum, v), dtype=float)


def _summary(name: str, lo: float, mid: float, hi: float) -> str:
    """``name = mid^{+up}_{-down}`` rounded to two significant digits of the smaller error.

    >>> _summary("c", 0.0, 0.0976, 0.31)
    'c = $0.098^{+0.212}_{-0.098}$'
    """
    up, down = hi - mid, mid - lo
    err = min(e for e in (up, down, 1.0) if e > 0) if (up > 0 or down > 0) else 1.0
    decimals = max(0, 1 - int(np.floor(np.log10(err))))
    return f"{name} = ${mid:.{decimals}f}^{{+{up:.{decimals}f}}}_{{-{down:.{decimals}f}}}$"
