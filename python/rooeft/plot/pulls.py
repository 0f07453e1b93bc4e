"""Nuisance-parameter pulls and constraints from a fit result, with optional ranked impacts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from rooeft.plot._common import PlotError, is_number, new_figure, style

__all__ = ["Pull", "fit_pulls", "plot_impacts", "plot_pulls"]


@dataclass(frozen=True)
class Pull:
    """Pull ``(θ̂ − θ0)/σ`` of one constrained nuisance and its post-fit constraint ``σ̂/σ``."""

    name: str
    pull: float
    constraint_lo: float
    constraint_hi: float


def fit_pulls(fit: Mapping[str, Any], *, include: Sequence[str] | None = None) -> list[Pull]:
    """Pulls of the constrained, non-POI parameters of a fit result (in the file's order).

    Asymmetric errors (``error_lo``/``error_hi``) are used when present and non-zero, else ``error``.

    >>> fit = {"kind": "fit", "parameters": {
    ...     "lumi": {"value": 0.5, "error": 0.8, "prefit": 0.0, "prefit_error": 1.0, "constrained": True, "poi": False},
    ...     "cHW": {"value": 0.1, "error": 0.2, "prefit": 0.0, "prefit_error": 0.0, "constrained": False, "poi": True}}}
    >>> fit_pulls(fit)
    [Pull(name='lumi', pull=0.5, constraint_lo=0.8, constraint_hi=0.8)]
    """
    params = fit.get("parameters")
    if not isinstance(params, Mapping):
        raise PlotError("fit result: 'parameters' must be an object {name: {...}}")
    out = []
    for name, p in params.items():
        if include is not None and name not in include:
            continue
        if not isinstance(p, Mapping):
            raise PlotError(f"fit result: parameter {name!r} is not an object")
        if p.get("poi") or not p.get("constrained", False):
            continue
        try:
            value, error = float(p["value"]), float(p["error"])
            prefit, sigma = float(p["prefit"]), float(p["prefit_error"])
        except (KeyError, TypeError, ValueError) as err:
            raise PlotError(
                f"fit result: parameter {name!r} needs numeric value, error, prefit, prefit_error ({err})"
            ) from None
        if not sigma > 0:
            raise PlotError(f"fit result: constrained parameter {name!r} has prefit_error {sigma} (must be > 0)")
        lo = abs(p["error_lo"]) if is_number(p.get("error_lo")) and p["error_lo"] != 0 else error
        hi = abs(p["error_hi"]) if is_number(p.get("error_hi")) and p["error_hi"] != 0 else error
        out.append(Pull(name, (value - prefit) / sigma, lo / sigma, hi / sigma))
    if include is not None:
        missing = set(include) - {q.name for q in out}
        if missing:
            raise PlotError(f"fit result: no constrained nuisance(s) {sorted(missing)}")
    return out


def _check_impacts(impacts: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    out = {}
    for name, pair in impacts.items():
        try:
            up, down = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise PlotError(f"impacts: {name!r} must be a pair (impact_up, impact_down)") from None
        out[name] = (up, down)
    return out


def _draw_impacts(ax: Any, names: list[str], impacts: dict[str, tuple[float, float]], poi: str) -> None:
    y = np.arange(len(names))
    up = np.array([impacts.get(n, (0.0, 0.0))[0] for n in names])
    down = np.array([impacts.get(n, (0.0, 0.0))[1] for n in names])
    ax.barh(y, up, height=0.7, color="#bd1f01", alpha=0.75, label=r"$+1\sigma$ impact")
    ax.barh(y, down, height=0.7, color="#3f90da", alpha=0.75, label=r"$-1\sigma$ impact")
    ax.axvline(0, color="black", lw=1)
    lim = float(np.max(np.abs(np.concatenate([up, down])))) if names else 1.0
    lim = 1.15 * lim if lim > 0 else 1.0
    ax.set_xlim(-lim, lim)
    ax.set_xlabel(f"impact on {poi}")


def plot_pulls(
    *,
    fit: Mapping[str, Any],
    impacts: Mapping[str, Sequence[float]] | None = None,
    poi: str | None = None,
    include: Sequence[str] | None = None,
    max_parameters: int | None = 40,
) -> Figure:
    """Horizontal pull plot ``(θ̂ − θ0)/σ`` with error bars ``σ̂/σ`` and ±1/±2 bands.

    Parameters
    ----------
    fit
        A fit result dictionary (``kind: fit``); constrained, non-POI parameters are shown.
    impacts
        Optional ``{nuisance: (impact_up, impact_down)}`` on ``poi``: adds a ranked impact bar
        chart to the right, and the nuisances are ordered by ``max(|up|, |down|)`` (largest on top).
    poi
        Name of the parameter the impacts refer to (for the axis label).
    include
        Show only these nuisances.
    max_parameters
        Show at most this many (the largest impacts, or the largest |pulls|); None: all.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pulls = fit_pulls(fit, include=include)
    if not pulls:
        raise PlotError("plot_pulls: the fit has no constrained nuisance parameters")
    imp = _check_impacts(impacts) if impacts is not None else None
    if imp is not None:
        pulls.sort(key=lambda q: -max(abs(imp.get(q.name, (0.0, 0.0))[0]), abs(imp.get(q.name, (0.0, 0.0))[1])))
    elif max_parameters is not None and len(pulls) > max_parameters:
        pulls.sort(key=lambda q: -abs(q.pull))
    if max_parameters is not None:
        pulls = pulls[:max_parameters]
    pulls = pulls[::-1]  # first entry on top
    names = [q.name for q in pulls]
    height = max(4.0, 1.6 + 0.38 * len(pulls))
    with style():
        if imp is not None:
            fig, (ax, iax) = new_figure(
                ncols=2, sharey=True, figsize=(14, height), layout="constrained", gridspec_kw={"width_ratios": (3, 2)}
            )
        else:
            fig, ax = new_figure(figsize=(9, height), layout="constrained")
            iax = None
        y = np.arange(len(pulls))
        ax.axvspan(-2, 2, color="#ffe680", lw=0, zorder=0)
        ax.axvspan(-1, 1, color="#7fd17f", lw=0, zorder=0)
        ax.axvline(0, color="black", lw=1, ls=":")
        x = np.array([q.pull for q in pulls])
        xerr = np.array([[q.constraint_lo for q in pulls], [q.constraint_hi for q in pulls]])
        ax.errorbar(x, y, xerr=xerr, fmt="o", color="black", ms=6, capsize=3, label=r"$(\hat\theta-\theta_0)/\sigma$")
        ax.set_yticks(y, names)
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        ax.set_ylim(-0.7, len(pulls) - 0.3)
        span = max(2.5, float(np.max(np.abs(x) + xerr.max(axis=0))) * 1.1)
        ax.set_xlim(-span, span)
        ax.set_xlabel(r"$(\hat\theta - \theta_0)/\sigma$")
        bands = [Patch(color="#7fd17f", label=r"$\pm1\sigma$"), Patch(color="#ffe680", label=r"$\pm2\sigma$")]
        handles = [*ax.get_legend_handles_labels()[0], *bands]
        if iax is not None and imp is not None:
            _draw_impacts(iax, names, imp, poi or "POI")
            handles += iax.get_legend_handles_labels()[0]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize="small")
    return fig


def plot_impacts(
    *,
    impacts: Mapping[str, Sequence[float]],
    poi: str = "POI",
    max_parameters: int | None = 30,
) -> Figure:
    """Ranked impact bar chart ``{nuisance: (impact_up, impact_down)}`` on one parameter.

    Parameters
    ----------
    impacts
        Shift of the fitted ``poi`` when each nuisance is fixed at its ±1σ post-fit value.
    poi
        Name of the parameter (axis label).
    max_parameters
        Show the largest this many (None: all).

    Returns
    -------
    matplotlib.figure.Figure
    """
    imp = _check_impacts(impacts)
    if not imp:
        raise PlotError("plot_impacts: no impacts given")
    names = sorted(imp, key=lambda n: -max(abs(imp[n][0]), abs(imp[n][1])))
    if max_parameters is not None:
        names = names[:max_parameters]
    names = names[::-1]
    height = max(4.0, 1.6 + 0.38 * len(names))
    with style():
        fig, ax = new_figure(figsize=(9, height), layout="constrained")
        _draw_impacts(ax, names, imp, poi)
        fig.legend(handles=ax.get_legend_handles_labels()[0], loc="outside lower center", ncols=2, fontsize="small")
        ax.set_yticks(np.arange(len(names)), names)
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        ax.set_ylim(-0.7, len(names) - 0.3)
    return fig
