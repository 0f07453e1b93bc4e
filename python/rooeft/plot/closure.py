"""Closure of a learned per-event quantity (ratio or coefficient function) against the truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from rooeft.plot._common import PlotError, new_figure, style

__all__ = ["plot_closure"]


def plot_closure(
    *,
    learned: np.ndarray,
    true: np.ndarray,
    labels: Sequence[str] | None = None,
    weights: np.ndarray | None = None,
    quantity: str = "r",
    bins: int = 60,
    quantiles: Sequence[float] = (0.025, 0.16, 0.5, 0.84, 0.975),
    error_range: float | None = None,
) -> Figure:
    """Learned versus true values per term: 2D histogram with the diagonal, and relative errors.

    One column per term: on top the 2D histogram of (true, learned) with the line learned = true;
    below the distribution of the relative error (learned − true)/|true| with the requested
    quantiles drawn and written out. Events with ``true == 0`` are left out of the relative error
    (their number is shown).

    Parameters
    ----------
    learned, true
        Shape ``(N,)`` or ``(N, T)``: the learned and exact per-event values (ratio or coefficient
        function, one column per term).
    labels
        Term labels (length T), e.g. ``rooeft.terms.term_labels(...)``; default ``term 0..``.
    weights
        Optional per-event weights, shape ``(N,)``.
    quantity
        Symbol used in the axis labels (``"r"`` → ``r_true``, ``r_learned``).
    bins
        Number of bins per axis.
    quantiles
        Quantiles of the relative error to mark.
    error_range
        Half-width of the relative-error axis (default: from the outer quantiles).

    Returns
    -------
    matplotlib.figure.Figure
    """
    learned = np.asarray(learned, dtype=float)
    true = np.asarray(true, dtype=float)
    if learned.shape != true.shape:
        raise PlotError(f"plot_closure: learned shape {learned.shape} differs from true shape {true.shape}")
    if learned.ndim == 1:
        learned, true = learned[:, None], true[:, None]
    if learned.ndim != 2 or learned.shape[0] == 0:
        raise PlotError(f"plot_closure: expected arrays of shape (N,) or (N, T) with N > 0, got {learned.shape}")
    n_terms = learned.shape[1]
    labels = list(labels) if labels is not None else [f"term {i}" for i in range(n_terms)]
    if len(labels) != n_terms:
        raise PlotError(f"plot_closure: {len(labels)} labels for {n_terms} terms")
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (learned.shape[0],):
            raise PlotError(f"plot_closure: weights shape {weights.shape}, expected ({learned.shape[0]},)")
    with style():
        fig, axes = new_figure(
            nrows=2,
            ncols=n_terms,
            figsize=(6.5 * n_terms + 1, 11),
            squeeze=False,
            layout="constrained",
            gridspec_kw={"height_ratios": (3, 2)},
        )
        for t in range(n_terms):
            _one_term(
                axes[0, t],
                axes[1, t],
                learned[:, t],
                true[:, t],
                labels[t],
                weights,
                quantity,
                bins,
                quantiles,
                error_range,
            )
    return fig


def _one_term(
    ax: Axes,
    eax: Axes,
    learned: np.ndarray,
    true: np.ndarray,
    label: str,
    weights: np.ndarray | None,
    quantity: str,
    bins: int,
    quantiles: Sequence[float],
    error_range: float | None,
) -> None:
    finite = np.isfinite(learned) & np.isfinite(true)
    x, y = true[finite], learned[finite]
    w = weights[finite] if weights is not None else None
    lo = float(min(np.quantile(x, 0.001), np.quantile(y, 0.001)))
    hi = float(max(np.quantile(x, 0.999), np.quantile(y, 0.999)))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.03 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    counts, xe, ye = np.histogram2d(x, y, bins=bins, range=((lo, hi), (lo, hi)), weights=w)
    positive = counts[counts > 0]
    norm = None
    if positive.size and positive.max() > positive.min():
        norm = LogNorm(vmin=positive.min(), vmax=positive.max())
    mesh = ax.pcolormesh(xe, ye, np.where(counts > 0, counts, np.nan).T, norm=norm, cmap="viridis", rasterized=True)
    ax.plot([lo, hi], [lo, hi], color="red", lw=1.5, ls="--", label="learned = true")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(rf"${quantity}_{{\mathrm{{true}}}}$")
    ax.set_ylabel(rf"${quantity}_{{\mathrm{{learned}}}}$")
    ax.set_title(label, fontsize="medium")
    ax.legend(loc="upper left", fontsize="small")
    ax.figure.colorbar(mesh, ax=ax, label="events" if weights is None else "weighted events", pad=0.02)

    nonzero = x != 0
    rel = (y[nonzero] - x[nonzero]) / np.abs(x[nonzero])
    wr = w[nonzero] if w is not None else None
    if rel.size == 0:
        eax.text(0.5, 0.5, "true = 0 for all events", transform=eax.transAxes, ha="center")
        return
    qs = np.quantile(rel, quantiles)
    half = error_range if error_range is not None else float(max(abs(qs[0]), abs(qs[-1]), 1e-6)) * 2.0
    eax.hist(
        np.clip(rel, -half, half),
        bins=bins,
        range=(-half, half),
        weights=wr,
        histtype="stepfilled",
        color="#3f90da",
        alpha=0.7,
    )
    for q, v in zip(quantiles, qs, strict=True):
        eax.axvline(v, color="black", ls="-" if q == 0.5 else ("--" if 0.1 < q < 0.9 else ":"), lw=1)
    text = "\n".join(f"q{100 * q:g}: {v:+.2e}" for q, v in zip(quantiles, qs, strict=True))
    dropped = int((~nonzero).sum())
    if dropped:
        text += f"\n({dropped} with true = 0 left out)"
    eax.text(
        0.97,
        0.95,
        text,
        transform=eax.transAxes,
        ha="right",
        va="top",
        fontsize="x-small",
        family="monospace",
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
    )
    eax.set_ylim(0, eax.get_ylim()[1] * 1.9)
    eax.set_xlim(-half, half)
    q_l, q_t = rf"{quantity}_{{\mathrm{{learned}}}}", rf"{quantity}_{{\mathrm{{true}}}}"
    eax.set_xlabel(rf"$({q_l} - {q_t}) / |{q_t}|$")
    eax.set_ylabel("events")
