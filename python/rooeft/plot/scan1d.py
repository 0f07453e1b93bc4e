"""One-dimensional profile-likelihood scans: 2ΔNLL versus one parameter, several overlaid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rooeft.plot._common import COLORS, PlotError, experiment_label, new_figure, style

__all__ = ["THRESHOLDS_1D", "plot_scan1d", "scan1d_curve"]

#: 2ΔNLL thresholds of the 68% and 95% CL intervals of one parameter
THRESHOLDS_1D = {"68%": 1.00, "95%": 3.84}


def scan1d_curve(scan: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(poi values, 2ΔNLL)`` of the finite, converged (``status`` 0) points of a scan1d result.

    >>> x, y = scan1d_curve({"kind": "scan1d", "poi": "c", "points": [
    ...     {"c": 1.0, "deltaNLL": 0.5}, {"c": 0.0, "deltaNLL": 0.0}]})
    >>> x.tolist(), y.tolist()
    ([0.0, 1.0], [0.0, 1.0])
    """
    poi = scan.get("poi")
    if not isinstance(poi, str):
        raise PlotError("scan1d result: 'poi' must be a parameter name")
    points = scan.get("points")
    if not isinstance(points, list) or not points:
        raise PlotError(f"scan1d result for {poi}: 'points' must be a non-empty list")
    try:
        x = np.array([float(p[poi]) for p in points])
        d = np.array([float(p["deltaNLL"]) for p in points])
    except (KeyError, TypeError, ValueError) as err:
        raise PlotError(f"scan1d result for {poi}: every point needs numeric '{poi}' and 'deltaNLL' ({err})") from None
    ok = np.array([p.get("status", 0) in (0, None) for p in points])
    keep = np.isfinite(x) & np.isfinite(d) & ok
    order = np.argsort(x[keep], kind="stable")
    return x[keep][order], 2.0 * d[keep][order]


def _label(scan: Mapping[str, Any], index: int) -> str:
    label = scan.get("label")
    if isinstance(label, str) and label:
        return label
    return "expected" if scan.get("asimov") else ("observed" if "asimov" in scan else f"scan {index + 1}")


def plot_scan1d(
    *,
    scans: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    labels: Sequence[str] | None = None,
    poi_label: str | None = None,
    shade_intervals: bool = False,
    ymax: float | None = None,
    lumi: float | str | None = None,
    com: float | str | None = 13,
    exp: str = "rooeft",
    llabel: str = "Simulation",
) -> Figure:
    """2ΔNLL versus the parameter for one or more scans, with the 68%/95% threshold lines.

    Parameters
    ----------
    scans
        One scan1d result dictionary or a list of them (all of the same parameter).
    labels
        Legend labels (default: each scan's ``label``, else ``observed``/``expected``).
    poi_label
        x axis label (default: the parameter name).
    shade_intervals
        Shade the 68% intervals stored in the scans' ``intervals``.
    ymax
        Upper end of the y axis (default: a bit above 3.84 or the lowest curve maximum).
    lumi, com, exp, llabel
        Experiment-style label (no luminosity text when ``lumi`` is None).

    Returns
    -------
    matplotlib.figure.Figure
    """
    scan_list = [scans] if isinstance(scans, Mapping) else list(scans)
    if not scan_list:
        raise PlotError("plot_scan1d: no scans given")
    pois = {s.get("poi") for s in scan_list}
    if len(pois) != 1:
        raise PlotError(f"plot_scan1d: scans of different parameters {sorted(map(str, pois))} cannot be overlaid")
    poi = str(pois.pop())
    if labels is not None and len(labels) != len(scan_list):
        raise PlotError(f"plot_scan1d: {len(labels)} labels for {len(scan_list)} scans")
    curves = [scan1d_curve(s) for s in scan_list]
    with style():
        fig, ax = new_figure(figsize=(10, 8))
        styles = ("-", "--", "-.", ":")
        top = 0.0
        for i, (scan, (x, y)) in enumerate(zip(scan_list, curves, strict=True)):
            color = COLORS[i % len(COLORS)]
            ls = "--" if scan.get("asimov") else styles[(i // len(COLORS)) % len(styles)]
            label = labels[i] if labels is not None else _label(scan, i)
            ax.plot(x, y, color=color, ls=ls, lw=2, label=label)
            bad = [p for p in scan["points"] if p.get("status", 0) not in (0, None)]
            if bad:
                bx = [float(p[poi]) for p in bad]
                by = [min(2.0 * float(p["deltaNLL"]), 1e9) for p in bad]
                ax.plot(bx, by, "x", color=color, ms=8, label=f"{label} (failed fits)")
            if shade_intervals:
                for lo, hi in (scan.get("intervals") or {}).get("68", []) or []:
                    lo_f = float(lo) if lo is not None else x.min()
                    hi_f = float(hi) if hi is not None else x.max()
                    ax.axvspan(lo_f, hi_f, color=color, alpha=0.12, lw=0)
            if y.size:
                top = max(top, float(y.max()))
        upper = ymax if ymax is not None else min(max(1.05 * top, 5.0), 10.0)
        if not any(c[0].size for c in curves):
            raise PlotError(f"plot_scan1d: no converged finite points in the scans of {poi}")
        xmin = min(float(c[0].min()) for c in curves if c[0].size)
        xmax = max(float(c[0].max()) for c in curves if c[0].size)
        for text, level in THRESHOLDS_1D.items():
            ax.axhline(level, color="grey", ls=":", lw=1.5, zorder=0)
            ax.text(xmax, level, f" {text}", color="grey", va="bottom", ha="right", fontsize="small")
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(0, upper)
        ax.set_xlabel(poi_label or poi)
        ax.set_ylabel(r"$-2\,\Delta\ln L$")
        ax.legend(loc="upper center")
        experiment_label(ax, exp=exp, llabel=llabel, lumi=lumi, com=com)
    return fig
