"""Stacked process templates with observed data and EFT-varied totals, plus a data/SM ratio panel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rooeft.plot._common import COLORS, PlotError, axis_label, experiment_label, new_figure, style

__all__ = ["plot_templates", "poisson_interval"]


def poisson_interval(counts: np.ndarray, *, cl: float = 0.682689492) -> tuple[np.ndarray, np.ndarray]:
    """Garwood (central, exact) Poisson interval ``(lo, hi)`` for observed counts.

    >>> lo, hi = poisson_interval(np.array([0.0, 4.0]))
    >>> [round(float(v), 3) for v in lo], [round(float(v), 3) for v in hi]
    ([0.0, 2.086], [1.841, 7.163])
    """
    from scipy.stats import chi2

    n = np.asarray(counts, dtype=float)
    alpha = 1.0 - cl
    lo = np.where(n > 0, chi2.ppf(alpha / 2, 2 * n) / 2, 0.0)
    hi = chi2.ppf(1 - alpha / 2, 2 * (n + 1)) / 2
    return np.nan_to_num(lo), hi


def _values_edges(h: Any, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Bin contents (and edges for a 1D ``hist.Hist``) of a histogram or array."""
    if hasattr(h, "axes") and hasattr(h, "values"):
        if len(h.axes) != 1:
            raise PlotError(f"{what}: expected a 1D histogram, got {len(h.axes)} axes")
        return np.asarray(h.values(), dtype=float), np.asarray(h.axes[0].edges, dtype=float)
    arr = np.asarray(h, dtype=float)
    if arr.ndim != 1:
        raise PlotError(f"{what}: expected 1D bin contents, got shape {arr.shape}")
    return arr, None


def plot_templates(
    *,
    templates: Mapping[str, Any],
    data: Any | None = None,
    variations: Mapping[str, Any] | None = None,
    xlabel: str | None = None,
    unit: str | None = None,
    ylabel: str = "Events / bin",
    lumi: float | str | None = 300,
    com: float | str | None = 13,
    exp: str = "rooeft",
    llabel: str = "Simulation",
    logy: bool = False,
    ratio: bool = True,
    ratio_range: tuple[float, float] | None = None,
) -> Figure:
    """Stacked SM templates, observed counts and EFT-varied totals, with a ratio to the SM panel.

    Parameters
    ----------
    templates
        ``{process: hist.Hist}`` expected SM yields per bin, stacked in the given order (1D
        ``hist.Hist`` objects with the same binning; plain arrays are accepted if at least one
        histogram gives the edges).
    data
        Observed counts per bin (``hist.Hist`` or array), drawn as points with Garwood Poisson errors.
    variations
        ``{label: total}`` EFT-varied total yields per bin, drawn as step lines, e.g.
        ``{"cHW = 0.5": h}``.
    xlabel, unit
        Observable label and unit; the x axis reads ``"xlabel [unit]"`` (default label: the
        histogram axis label).
    lumi, com, exp, llabel
        Experiment-style label: ``"<exp> <llabel>"`` left, ``"<lumi> fb⁻¹ (<com> TeV)"`` right.
    logy
        Logarithmic y axis of the main panel.
    ratio
        Add the ratio panel (data / SM and variation / SM).
    ratio_range
        y range of the ratio panel (default: automatic around 1).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not templates:
        raise PlotError("plot_templates: no templates given")
    variations = dict(variations or {})
    contents: dict[str, np.ndarray] = {}
    edges: np.ndarray | None = None
    default_xlabel = None
    for name, h in templates.items():
        values, e = _values_edges(h, f"template {name!r}")
        contents[name] = values
        if e is not None:
            if edges is not None and (len(e) != len(edges) or not np.allclose(e, edges)):
                raise PlotError(f"template {name!r}: binning differs from the other templates")
            edges = e
            if default_xlabel is None:
                default_xlabel = getattr(h.axes[0], "label", None) or getattr(h.axes[0], "name", None)
    if edges is None:
        raise PlotError("plot_templates: give at least one template as a 1D hist.Hist (for the bin edges)")
    nbins = len(edges) - 1
    for name, values in contents.items():
        if len(values) != nbins:
            raise PlotError(f"template {name!r}: {len(values)} bins, expected {nbins}")
    total = np.sum(list(contents.values()), axis=0)
    var_values = {}
    for label, h in variations.items():
        values, _ = _values_edges(h, f"variation {label!r}")
        if len(values) != nbins:
            raise PlotError(f"variation {label!r}: {len(values)} bins, expected {nbins}")
        var_values[label] = values
    data_values = None
    if data is not None:
        data_values, _ = _values_edges(data, "data")
        if len(data_values) != nbins:
            raise PlotError(f"data: {len(data_values)} bins, expected {nbins}")

    import mplhep

    centres = 0.5 * (edges[1:] + edges[:-1])
    with style():
        if ratio:
            fig, (ax, rax) = new_figure(
                nrows=2, sharex=True, figsize=(10, 10), gridspec_kw={"height_ratios": (3, 1), "hspace": 0.06}
            )
        else:
            fig, ax = new_figure(figsize=(10, 8))
            rax = None
        names = list(contents)
        fill_colors = [COLORS[(i + 3) % len(COLORS)] for i in range(len(names))]
        mplhep.histplot(
            [contents[n] for n in names],
            edges,
            stack=True,
            histtype="fill",
            label=names,
            color=fill_colors,
            ax=ax,
            flow="none",
        )
        mplhep.histplot(total, edges, histtype="step", color="black", lw=1.2, ax=ax, flow="none")
        line_colors = [COLORS[i % 3] for i in range(len(var_values))]
        styles = ("--", "-.", ":", (0, (5, 1, 1, 1)))
        for i, (label, values) in enumerate(var_values.items()):
            mplhep.histplot(
                values,
                edges,
                histtype="step",
                label=label,
                color=line_colors[i],
                ls=styles[i % len(styles)],
                lw=2,
                ax=ax,
                flow="none",
            )
        if data_values is not None:
            lo, hi = poisson_interval(data_values)
            ax.errorbar(
                centres,
                data_values,
                yerr=(data_values - lo, hi - data_values),
                fmt="o",
                color="black",
                ms=5,
                label="Data",
                zorder=5,
            )
        ax.set_ylabel(ylabel)
        if logy:
            ax.set_yscale("log")
            positive = total[total > 0]
            ax.set_ylim(bottom=0.5 * positive.min() if positive.size else 0.1)
        else:
            ax.set_ylim(bottom=0)
            ax.set_ylim(top=ax.get_ylim()[1] * 1.3)
        ax.set_xlim(edges[0], edges[-1])
        ax.legend(loc="upper right", ncols=2 if len(names) + len(var_values) > 4 else 1)
        experiment_label(ax, exp=exp, llabel=llabel, lumi=lumi, com=com)
        label = axis_label(xlabel if xlabel is not None else (default_xlabel or "observable"), unit)
        if rax is not None:
            safe = np.where(total > 0, total, np.nan)
            rax.axhline(1.0, color="black", lw=1)
            for i, (_label, values) in enumerate(var_values.items()):
                mplhep.histplot(
                    values / safe,
                    edges,
                    histtype="step",
                    color=line_colors[i],
                    ls=styles[i % len(styles)],
                    lw=2,
                    ax=rax,
                    flow="none",
                )
            if data_values is not None:
                lo, hi = poisson_interval(data_values)
                rax.errorbar(
                    centres,
                    data_values / safe,
                    yerr=((data_values - lo) / safe, (hi - data_values) / safe),
                    fmt="o",
                    color="black",
                    ms=5,
                )
            rax.set_ylabel("Ratio / SM")
            rax.set_xlabel(label)
            if ratio_range is not None:
                rax.set_ylim(*ratio_range)
            else:
                lo_r, hi_r = rax.get_ylim()
                half = min(max(abs(1 - lo_r), abs(hi_r - 1), 0.05) * 1.1, 2.0)
                rax.set_ylim(max(1 - half, 0.0), 1 + half)
            fig.align_ylabels([ax, rax])
        else:
            ax.set_xlabel(label)
    return fig
