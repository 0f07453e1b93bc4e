"""Toy-based (Neyman) intervals: p-value versus the tested parameter with its binomial errors, the
1 − CL lines, and the asymptotic (Wilks) p-value of the same observed test statistic beside it.
2D constructions: the toy p-value map with the 68%/95% CL contours of toys and asymptotics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rooeft.plot._common import COLORS, PlotError, experiment_label, new_figure, style

__all__ = ["plot_neyman"]


def _scan(scan: Any) -> Any:
    from rooeft.infer.neyman import NeymanResult, NeymanScan

    if isinstance(scan, NeymanScan):
        return scan
    if isinstance(scan, NeymanResult):
        if len(scan.scans) != 1:
            raise PlotError(f"plot_neyman: the result holds {len(scan.scans)} constructions; pass one of .scans")
        return scan.scans[0]
    if isinstance(scan, Mapping):
        if scan.get("kind") == "neyman":
            return _scan(NeymanResult.from_dict(scan))
        tie = float(scan.get("tie_tolerance", 1e-3))
        try:
            return NeymanScan.from_dict(scan, tie)
        except (KeyError, TypeError, ValueError) as err:
            raise PlotError(f"plot_neyman: not a Neyman construction ({err})") from None
    raise PlotError(f"plot_neyman: expected a NeymanScan, NeymanResult or its JSON, got {type(scan).__name__}")


def plot_neyman(
    *,
    scan: Any,
    poi_label: str | None = None,
    lumi: float | str | None = None,
    com: float | str | None = 13,
    exp: str = "rooeft",
    llabel: str = "Simulation",
) -> Figure:
    """The p-values of a Neyman construction.

    Parameters
    ----------
    scan
        A :class:`~rooeft.infer.neyman.NeymanScan`, a :class:`~rooeft.infer.neyman.NeymanResult`
        with one construction, or the ``neyman`` JSON document of one.
    poi_label
        x axis label (1D; default: the parameter name).
    lumi, com, exp, llabel
        Experiment-style label (no luminosity text when ``lumi`` is None).

    Returns
    -------
    matplotlib.figure.Figure

    >>> from rooeft.infer.neyman import NeymanPoint, NeymanScan
    >>> pts = tuple(NeymanPoint({"c": x}, x * x, 0, {}, (0.1, 0.5, 1.0, 2.0, 4.0)) for x in (-2.0, -1.0, 0.0, 1.0, 2.0))
    >>> fig = plot_neyman(scan=NeymanScan(("c",), pts, {"c": 0.0, "nll": 0.0}, 0, True))
    >>> fig.axes[0].get_ylabel()
    'p-value'
    """
    s = _scan(scan)
    p = s.p_values()
    if not np.isfinite(p).any():
        raise PlotError(f"plot_neyman: no finite p-values in the construction of {'/'.join(s.pois)}")
    asym = np.array([pt.p_asymptotic(s.ndim) for pt in s.points])
    with style():
        fig, ax = new_figure(figsize=(10, 8))
        if s.ndim == 1:
            _one_dim(ax, s, p, asym, poi_label)
        else:
            _two_dim(fig, ax, s, p, asym)
        experiment_label(ax, exp=exp, llabel=llabel, lumi=lumi, com=com)
    return fig


def _one_dim(ax: Any, s: Any, p: np.ndarray, asym: np.ndarray, poi_label: str | None) -> None:
    poi = s.pois[0]
    x = np.array([pt.values[poi] for pt in s.points])
    err = np.array([pt.p_error for pt in s.points])
    ax.errorbar(x, p, yerr=err, fmt="o-", color=COLORS[0], lw=2, ms=5, capsize=2, label="toys (Neyman)")
    ax.plot(x, asym, ls="--", color=COLORS[1], lw=2, label=r"asymptotic ($\chi^2_1$)")
    for key, ls in (("68", "-"), ("95", "--")):
        for lo, hi in s.intervals()[key]:
            ax.axvspan(lo, hi, color=COLORS[0], alpha=0.10 if ls == "-" else 0.05, lw=0)
    ax.set_yscale("log")
    finite = p[np.isfinite(p) & (p > 0)]
    ax.set_ylim(max(1e-3, 0.5 * float(finite.min())) if finite.size else 1e-3, 1.5)
    ax.set_xlim(float(x.min()), float(x.max()))
    from rooeft.infer.neyman import CONFIDENCE_LEVELS

    for key, cl in CONFIDENCE_LEVELS.items():
        ax.axhline(1 - cl, color="grey", ls=":", lw=1.5, zorder=0)
        ax.text(float(x.max()), 1 - cl, f"1 − {key}% CL ", color="grey", va="bottom", ha="right", fontsize="small")
    ax.set_xlabel(poi_label or poi)
    ax.set_ylabel("p-value")
    ax.legend(loc="lower center")


def _two_dim(fig: Figure, ax: Any, s: Any, p: np.ndarray, asym: np.ndarray) -> None:
    from rooeft.infer.neyman import CONFIDENCE_LEVELS

    a, b = s.pois
    xs = np.unique([pt.values[a] for pt in s.points])
    ys = np.unique([pt.values[b] for pt in s.points])
    grid = np.full((ys.size, xs.size), np.nan)
    agrid = np.full_like(grid, np.nan)
    for pt, pv, av in zip(s.points, p, asym, strict=True):
        iy, ix = np.searchsorted(ys, pt.values[b]), np.searchsorted(xs, pt.values[a])
        grid[iy, ix], agrid[iy, ix] = pv, av
    mesh = ax.pcolormesh(xs, ys, grid, shading="nearest", cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(mesh, ax=ax, label="p-value (toys)")
    alphas = sorted(1 - cl for cl in CONFIDENCE_LEVELS.values())
    if xs.size > 1 and ys.size > 1:
        ax.contour(xs, ys, np.nan_to_num(grid, nan=0.0), levels=alphas, colors=[COLORS[2]], linestyles="-")
        ax.contour(xs, ys, np.nan_to_num(agrid, nan=0.0), levels=alphas, colors=[COLORS[1]], linestyles="--")
    ax.plot([], [], color=COLORS[2], label="toys: 68%, 95% CL")
    ax.plot([], [], color=COLORS[1], ls="--", label="asymptotic")
    ax.plot([s.bestfit[a]], [s.bestfit[b]], "k+", ms=12, label="best fit")
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    ax.legend(loc="upper right", fontsize="small")
