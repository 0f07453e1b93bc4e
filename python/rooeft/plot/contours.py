"""Two-dimensional likelihood contours (68%/95% CL) from scan2d point grids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rooeft.plot._common import COLORS, PlotError, experiment_label, new_figure, style

__all__ = ["THRESHOLDS_2D", "plot_contours", "scan2d_grid"]

#: 2ΔNLL thresholds of the 68% and 95% CL regions of two parameters
THRESHOLDS_2D = {"68% CL": 2.30, "95% CL": 5.99}


def _points(scan: Mapping[str, Any]) -> tuple[tuple[str, str], np.ndarray, np.ndarray, np.ndarray]:
    pois = scan.get("pois")
    if not (isinstance(pois, list | tuple) and len(pois) == 2 and all(isinstance(p, str) for p in pois)):
        raise PlotError("scan2d result: 'pois' must be a list of two parameter names")
    a, b = pois
    points = scan.get("points")
    if not isinstance(points, list) or len(points) < 4:
        raise PlotError(f"scan2d result for ({a}, {b}): 'points' must be a list of at least 4 points")
    try:
        x = np.array([float(p[a]) for p in points])
        y = np.array([float(p[b]) for p in points])
        d = np.array([float(p["deltaNLL"]) for p in points])
    except (KeyError, TypeError, ValueError) as err:
        raise PlotError(
            f"scan2d result for ({a}, {b}): every point needs numeric {a!r}, {b!r}, 'deltaNLL' ({err})"
        ) from None
    ok = np.array([p.get("status", 0) in (0, None) for p in points])
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(d) & ok
    if keep.sum() < 4:
        raise PlotError(f"scan2d result for ({a}, {b}): fewer than 4 converged finite points")
    return (a, b), x[keep], y[keep], 2.0 * d[keep]


def scan2d_grid(
    scan: Mapping[str, Any], *, n: int = 101, method: str = "cubic"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2ΔNLL of a scan2d result interpolated onto a regular ``n × n`` grid.

    ``method`` is that of :func:`scipy.interpolate.griddata` (``"cubic"``: piecewise cubic
    Clough–Tocher, ``"linear"``).

    Returns ``(X, Y, Z)`` as for :meth:`matplotlib.axes.Axes.contour` (NaN outside the convex hull
    of the scanned points). Points whose fit failed (``status`` ≠ 0) or with non-finite ΔNLL are left out.

    >>> pts = [{"a": a, "b": b, "deltaNLL": 0.5 * (a * a + b * b)} for a in (-1, 0, 1) for b in (-1, 0, 1)]
    >>> X, Y, Z = scan2d_grid({"pois": ["a", "b"], "points": pts}, n=5, method="linear")
    >>> Z.shape, float(Z[2, 2])
    ((5, 5), 0.0)
    """
    from scipy.interpolate import griddata

    if method not in ("cubic", "linear"):
        raise PlotError(f"scan2d_grid: interpolation method must be 'cubic' or 'linear', not {method!r}")
    _, x, y, z = _points(scan)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise PlotError("scan2d result: the points do not span a 2D region")
    gx = np.linspace(x.min(), x.max(), n)
    gy = np.linspace(y.min(), y.max(), n)
    X, Y = np.meshgrid(gx, gy)
    # interpolate in coordinates scaled to the unit square (the parameters may differ in scale)
    sx, sy = np.ptp(x), np.ptp(y)
    Z = griddata(((x - x.min()) / sx, (y - y.min()) / sy), z, ((X - x.min()) / sx, (Y - y.min()) / sy), method=method)
    return X, Y, np.asarray(Z, dtype=float)


def _label(scan: Mapping[str, Any], index: int) -> str:
    label = scan.get("label")
    if isinstance(label, str) and label:
        return label
    return "expected" if scan.get("asimov") else ("observed" if "asimov" in scan else f"scan {index + 1}")


def plot_contours(
    *,
    scans: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    labels: Sequence[str] | None = None,
    sm_point: tuple[float, float] | None = (0.0, 0.0),
    show_bestfit: bool = True,
    grid_points: int = 101,
    interpolation: str = "cubic",
    xlabel: str | None = None,
    ylabel: str | None = None,
    lumi: float | str | None = None,
    com: float | str | None = 13,
    exp: str = "rooeft",
    llabel: str = "Simulation",
) -> Figure:
    """68% (solid) and 95% (dashed) CL contours, 2ΔNLL = 2.30 / 5.99, of one or more 2D scans.

    Parameters
    ----------
    scans
        One scan2d result dictionary or a list of them (all of the same two parameters).
    labels
        Legend labels (default: each scan's ``label``, else ``observed``/``expected``).
    sm_point
        Where to draw the SM marker (None: no marker).
    show_bestfit
        Mark each scan's best fit (its ``bestfit`` entry, else the lowest scanned point).
    grid_points
        Points per axis of the regular interpolation grid.
    interpolation
        ``"cubic"`` or ``"linear"`` interpolation of the scanned points (scipy ``griddata``).
    xlabel, ylabel
        Axis labels (default: the parameter names).
    lumi, com, exp, llabel
        Experiment-style label (no luminosity text when ``lumi`` is None).

    Returns
    -------
    matplotlib.figure.Figure
        The contour sets are in ``fig.axes[0]`` (one :class:`~matplotlib.contour.QuadContourSet`
        per scan, levels ``[2.30, 5.99]``).
    """
    scan_list = [scans] if isinstance(scans, Mapping) else list(scans)
    if not scan_list:
        raise PlotError("plot_contours: no scans given")
    pois = {tuple(s.get("pois") or ()) for s in scan_list}
    if len(pois) != 1:
        raise PlotError(f"plot_contours: scans of different parameter pairs {sorted(pois)} cannot be overlaid")
    a, b = _points(scan_list[0])[0]
    if labels is not None and len(labels) != len(scan_list):
        raise PlotError(f"plot_contours: {len(labels)} labels for {len(scan_list)} scans")
    levels = list(THRESHOLDS_2D.values())
    with style():
        fig, ax = new_figure(figsize=(10, 9))
        handles: list[Line2D] = []
        for i, scan in enumerate(scan_list):
            color = COLORS[i % len(COLORS)]
            X, Y, Z = scan2d_grid(scan, n=grid_points, method=interpolation)
            ax.contour(X, Y, Z, levels=levels, colors=[color], linestyles=["solid", "dashed"], linewidths=2)
            label = labels[i] if labels is not None else _label(scan, i)
            handles.append(Line2D([], [], color=color, lw=2, label=label))
            if show_bestfit:
                _, x, y, z = _points(scan)
                best = scan.get("bestfit") or {}
                try:
                    bx, by = float(best[a]), float(best[b])
                except (KeyError, TypeError, ValueError):
                    k = int(np.argmin(z))
                    bx, by = float(x[k]), float(y[k])
                ax.plot([bx], [by], marker="P", ms=11, color=color, ls="none", mec="black", mew=0.8)
        handles += [
            Line2D([], [], color="black", ls="solid", lw=2, label="68% CL"),
            Line2D([], [], color="black", ls="dashed", lw=2, label="95% CL"),
        ]
        if show_bestfit:
            handles.append(Line2D([], [], color="grey", marker="P", ms=11, ls="none", mec="black", label="best fit"))
        if sm_point is not None:
            ax.plot([sm_point[0]], [sm_point[1]], marker="*", ms=16, color="black", ls="none", zorder=6)
            handles.append(Line2D([], [], color="black", marker="*", ms=16, ls="none", label="SM"))
        ax.set_xlabel(xlabel or a)
        ax.set_ylabel(ylabel or b)
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.25 * (hi - lo))
        ax.legend(handles=handles, loc="upper center", ncols=3, fontsize="small")
        experiment_label(ax, exp=exp, llabel=llabel, lumi=lumi, com=com)
    return fig
