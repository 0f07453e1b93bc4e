"""Corner plot of the POI posterior (the ``corner`` package) with the 68/95% credible regions,
optionally overlaid with profile-likelihood 1D intervals from ``scan1d`` results.

Diagonal: marginal histograms with the 68% and 95% highest-density intervals shaded and the
median marked; profile-likelihood intervals drawn as horizontal bars above the histogram.
Off-diagonal: 2D histograms with the contours enclosing 68% and 95% of the posterior mass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.bayes.result import PosteriorResult, load_scan
from rooeft.bayes.summary import CREDIBILITY, interval_table, weighted_quantile
from rooeft.safeio import atomic_write

__all__ = ["corner_plot"]

_POSTERIOR = "#3f90da"
_PROFILE = "#bd1f01"


def corner_plot(
    result: PosteriorResult,
    output: str | Path,
    *,
    scans: Sequence[str | Path | Mapping[str, Any]] = (),
    parameters: Sequence[str] | None = None,
    formats: Sequence[str] = ("png", "pdf"),
    bins: int = 40,
) -> list[Path]:
    """Draw the corner plot of ``result``'s POIs (or of the sampled ``parameters`` named, e.g.
    with nuisances) and save it as ``output.<fmt>`` for each format (atomically). Returns the
    written paths."""
    import corner
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    pois = list(result.pois if parameters is None else parameters)
    if not pois:
        raise ValueError("no parameter to plot")
    k = len(pois)
    # the weighted dead points: smoother histograms than the equal-weighted resample
    x = np.stack([result.column(p, weighted=True) for p in pois], axis=1)
    wts = result.weights / np.sum(result.weights)
    intervals = {p: dict(result.intervals[p]) if p in result.intervals else None for p in pois}
    for p in pois:
        if intervals[p] is None:
            intervals[p] = {
                key: (v[0], v[1]) for key, v in interval_table(result.column(p, weighted=True), wts).items()
            }
    medians = {p: float(weighted_quantile(x[:, j], 0.5, wts)) for j, p in enumerate(pois)}
    scan_by_poi = {str(d["poi"]): d for d in (load_scan(s) for s in scans)}
    size = 4.5 if k == 1 else 2.4 * k + 0.6
    fig = Figure(figsize=(size, size))
    ranges = []
    for j, p in enumerate(pois):
        lo, hi = (float(v) for v in weighted_quantile(x[:, j], [1e-4, 1 - 1e-4], wts))
        pl = scan_by_poi.get(p, {}).get("intervals", {}).get("95") or []
        for iv in pl:
            lo, hi = min(lo, float(iv[0])), max(hi, float(iv[1]))
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ranges.append((lo - pad, hi + pad))
    corner.corner(
        x,
        weights=wts,
        fig=fig,
        labels=pois,
        range=ranges,
        bins=bins,
        levels=(CREDIBILITY["68"], CREDIBILITY["95"]),
        color=_POSTERIOR,
        smooth=1.0 if k > 1 else None,
        plot_datapoints=False,
        fill_contours=True,
        hist_kwargs={"density": True},
    )
    axes = np.asarray(fig.axes).reshape(k, k)
    for j, p in enumerate(pois):
        ax = axes[j, j]
        iv = intervals[p]
        assert iv is not None
        ax.axvspan(*iv["hdi95"], color=_POSTERIOR, alpha=0.12, lw=0)
        ax.axvspan(*iv["hdi68"], color=_POSTERIOR, alpha=0.25, lw=0)
        ax.axvline(medians[p], color=_POSTERIOR, ls="--", lw=1)
        ymax = ax.get_ylim()[1]
        d = scan_by_poi.get(p)
        if d is not None:
            for key, y, lw in (("95", 1.06, 1.2), ("68", 1.12, 2.5)):
                for lo, hi in d["intervals"].get(key) or []:
                    ax.plot([lo, hi], [y * ymax, y * ymax], color=_PROFILE, lw=lw, solid_capstyle="butt")
            best = d.get("bestfit", {}).get(p)
            if isinstance(best, int | float):
                ax.plot([best], [1.09 * ymax], marker="|", ms=10, color=_PROFILE)
        ax.set_ylim(0, (1.5 if k == 1 else 1.2) * ymax)
        title = f"{p}: [{iv['hdi68'][0]:.3g}, {iv['hdi68'][1]:.3g}] (68%)"
        ax.set_title(title, fontsize=9)
    handles: list[Any] = [
        Line2D([], [], color=_POSTERIOR, ls="--", lw=1, label="posterior median"),
        Patch(color=_POSTERIOR, alpha=0.25, label="68% HDI"),
        Patch(color=_POSTERIOR, alpha=0.12, label="95% HDI"),
    ]
    if scan_by_poi:
        handles.append(Line2D([], [], color=_PROFILE, lw=2.5, label="profile lik. 68% / 95%"))
    head = result.label or ("Asimov" if result.asimov is not None else result.data)
    title = f"posterior ({head}), ln Z = {result.logz:.2f} ± {result.logz_err:.2f}"
    if k == 1:
        axes[0, 0].legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
        fig.subplots_adjust(top=0.86, bottom=0.24, left=0.12, right=0.95)
    else:
        fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.98, 0.9), fontsize=8, frameon=False)
        fig.subplots_adjust(top=0.9)
    fig.suptitle(title, fontsize=9, x=0.02, y=0.99, ha="left")
    out = Path(output)
    written = []
    for fmt in formats:
        path = out.with_name(f"{out.name}.{fmt}")

        with atomic_write(path) as tmp, tmp.open("wb") as f:
            fig.savefig(f, format=fmt, dpi=120)
        written.append(path)
    return written
