"""Reliability diagrams of trained networks: predicted vs true fraction/ratio in bins of the prediction.

Reads the report written by ``rooeft train`` (``<model>_reliability.json``, see
``docs/calibration.md``). One panel per process fraction and per (EFT process, θ point): the
x axis is the mean prediction in a bin, the y axis the true value measured from the weighted
held-out simulation with its error; a perfectly calibrated network lies on the diagonal. Slices
(fractions in bins of an observable) show the truth with errors and the mean predictions as steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rooeft.plot._common import COLORS, PlotError, new_figure, style

__all__ = ["plot_reliability", "reliability_panels"]


def reliability_panels(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], str | None]]:
    """``(title, {"uncalibrated": table, "calibrated": table | None}, slice observable or None)``
    for every panel of a report."""
    if report.get("kind") != "reliability":
        raise PlotError("plot_reliability: not a reliability report (kind 'reliability' expected)")
    panels: list[tuple[str, Mapping[str, Any], str | None]] = []
    for p, tables in report.get("fractions", {}).items():
        panels.append((f"fraction π({p})", tables, None))
    for p, per_obs in report.get("fraction_slices", {}).items():
        for obs, tables in per_obs.items():
            panels.append((f"fraction π({p}) in bins of {obs}", tables, obs))
    for p, entries in report.get("ratios", {}).items():
        for e in entries:
            point = ", ".join(f"{c}={v:g}" for c, v in e["theta"].items() if v != 0) or "SM"
            panels.append((f"r_{p}(x | {point})", e, None))
    return panels


def _draw_slice(ax: Axes, tables: Mapping[str, Any], obs: str) -> None:
    bins = tables["uncalibrated"].get("bins", [])
    mean = np.array([b["mean"] for b in bins], dtype=float)
    true = np.array([b["true"] for b in bins], dtype=float)
    err = np.array([b["error"] if b["error"] is not None else math.nan for b in bins], dtype=float)
    ax.errorbar(mean, true, yerr=err, ls="none", marker="o", ms=6, color="black", label="true", capsize=2)
    for key, label, color in (("uncalibrated", "network", COLORS[0]), ("calibrated", "calibrated", COLORS[2])):
        table = tables.get(key)
        if not table:
            continue
        pred = np.array([b["predicted"] for b in table["bins"]], dtype=float)
        m = np.array([b["mean"] for b in table["bins"]], dtype=float)
        ax.plot(m, pred, marker="s", ms=5, color=color, label=f"{label}: χ²/ndf = {table['chi2']:.1f}/{table['ndf']}")
    ax.set_xlabel(f"{obs} (mean in bin)", fontsize="small")
    ax.set_ylabel("fraction", fontsize="small")


def _draw(ax: Axes, table: Mapping[str, Any], *, label: str, color: str, filled: bool) -> list[float]:
    bins = table.get("bins", [])
    pred = np.array([b["predicted"] for b in bins], dtype=float)
    true = np.array([b["true"] for b in bins], dtype=float)
    err = np.array([b["error"] if b["error"] is not None else math.nan for b in bins], dtype=float)
    chi2, ndf = table.get("chi2"), table.get("ndf")
    text = f"{label}: χ²/ndf = {chi2:.1f}/{ndf}" if chi2 is not None else label
    ax.errorbar(
        pred,
        true,
        yerr=err,
        ls="none",
        marker="o",
        ms=6,
        color=color,
        mfc=color if filled else "white",
        label=text,
        capsize=2,
    )
    return [*pred.tolist(), *true.tolist()]


def plot_reliability(report: Mapping[str, Any], *, ncols: int = 3) -> Figure:
    """Reliability diagram of a report from :func:`rooeft.nn.reliability.reliability_report`.

    Parameters
    ----------
    report
        The report dictionary (or the parsed ``<model>_reliability.json``).
    ncols
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = reliability_panels(report)
    if not panels:
        raise PlotError("plot_reliability: the report has no fraction or ratio tables")
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    with style():
        fig, axes = new_figure(
            nrows=nrows, ncols=ncols, figsize=(5.5 * ncols, 5.2 * nrows), layout="constrained", squeeze=False
        )
        for k, (title, tables, obs) in enumerate(panels):
            ax = axes[k // ncols][k % ncols]
            if obs is not None:
                _draw_slice(ax, tables, obs)
                ax.set_title(title, fontsize="small")
                ax.tick_params(labelsize="x-small")
                ax.legend(fontsize="x-small", loc="best")
                continue
            values = _draw(ax, tables["uncalibrated"], label="network", color=COLORS[0], filled=False)
            if tables.get("calibrated"):
                values += _draw(ax, tables["calibrated"], label="calibrated", color=COLORS[2], filled=True)
            finite = [v for v in values if math.isfinite(v)]
            if finite:
                lo, hi = min(finite), max(finite)
                pad = 0.05 * (hi - lo or 1.0)
                ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", ls="--", lw=1)
            ax.set_title(title, fontsize="small")
            ax.set_xlabel("predicted (mean in bin)", fontsize="small")
            ax.set_ylabel("true (held-out simulation)", fontsize="small")
            ax.tick_params(labelsize="x-small")
            ax.legend(fontsize="x-small", loc="upper left")
        for k in range(len(panels), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        n_test = report.get("test_split", {}).get("n_events")
        if n_test is not None:
            fig.suptitle(f"reliability on {n_test} held-out events", fontsize="medium")
    return fig
