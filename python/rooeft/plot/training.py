"""Training and validation loss curves from a ``<name>.loss_history.json`` written by ``rooeft.nn``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rooeft.plot._common import COLORS, PlotError, new_figure, style

__all__ = ["plot_loss_curves"]


def _series(history: Mapping[str, Any], key: str, name: str) -> np.ndarray:
    values = history.get(key, [])
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise PlotError(f"{name}: {key!r} is not a list of numbers") from None
    if arr.ndim != 1:
        raise PlotError(f"{name}: {key!r} is not a list of numbers")
    return arr


def plot_loss_curves(
    *,
    history: Mapping[str, Any] | Mapping[str, Mapping[str, Any]],
    title: str | None = None,
    logy: bool | None = None,
) -> Figure:
    """Per-epoch training/validation loss, best epoch, and the learning rate below.

    Parameters
    ----------
    history
        A loss history dictionary as written by ``rooeft.nn`` (``train_loss``, ``val_loss``,
        ``learning_rate`` lists per epoch, ``best_epoch`` 0-based), or ``{label: history}`` to
        overlay several runs.
    title
        Optional title.
    logy
        Logarithmic loss axis; default: when every loss is positive.

    Returns
    -------
    matplotlib.figure.Figure
    """
    runs: dict[str, Mapping[str, Any]]
    if "train_loss" in history or "val_loss" in history:
        runs = {"": history}
    else:
        runs = {str(k): v for k, v in history.items()}
    if not runs or any(not isinstance(v, Mapping) or "train_loss" not in v for v in runs.values()):
        raise PlotError(
            "plot_loss_curves: expected a loss history with 'train_loss' and 'val_loss' (or a mapping label -> history)"
        )
    with style():
        fig, (ax, lax) = new_figure(
            nrows=2, sharex=True, figsize=(10, 9), layout="constrained", gridspec_kw={"height_ratios": (3, 1)}
        )
        all_losses: list[float] = []
        any_lr = False
        for i, (label, h) in enumerate(runs.items()):
            name = f"history {label!r}" if label else "history"
            train = _series(h, "train_loss", name)
            val = _series(h, "val_loss", name)
            lr = _series(h, "learning_rate", name)
            color = COLORS[i % len(COLORS)]
            prefix = f"{label}: " if label else ""
            if train.size:
                ax.plot(np.arange(1, train.size + 1), train, color=color, ls="-", label=f"{prefix}training")
            if val.size:
                ax.plot(np.arange(1, val.size + 1), val, color=color, ls="--", label=f"{prefix}validation")
            best = h.get("best_epoch", -1)
            if isinstance(best, int) and 0 <= best < val.size:
                ax.axvline(best + 1, color=color, ls=":", lw=1)
                ax.plot(
                    [best + 1],
                    [val[best]],
                    marker="*",
                    ms=14,
                    color=color,
                    ls="none",
                    label=f"{prefix}best epoch {best + 1}",
                )
            if lr.size:
                any_lr = True
                lax.plot(np.arange(1, lr.size + 1), lr, color=color, drawstyle="steps-mid")
            all_losses.extend(v for v in (*train, *val) if math.isfinite(v))
        if not all_losses:
            raise PlotError("plot_loss_curves: no finite loss values")
        use_log = logy if logy is not None else min(all_losses) > 0
        if use_log:
            ax.set_yscale("log")
        ax.set_ylabel("loss")
        ax.legend(loc="upper right")
        if title:
            ax.set_title(title, fontsize="medium")
        lax.set_xlabel("epoch")
        lax.set_ylabel("learning rate")
        if any_lr:
            lax.set_yscale("log")
        fig.align_ylabels([ax, lax])
        fig.get_layout_engine().set(hspace=0.0, h_pad=0.02)  # type: ignore[union-attr, call-arg]
    return fig
