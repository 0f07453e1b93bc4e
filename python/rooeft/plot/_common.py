"""Shared plotting helpers: style, figure creation, labels, atomic saving and result loading.

Figures are created with :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI
backend), so plotting works headless and figures are garbage-collected like ordinary objects.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.style
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rooeft.safeio import atomic_write

__all__ = [
    "CL_LABELS",
    "COLORS",
    "PlotError",
    "axis_label",
    "experiment_label",
    "load_result",
    "result_kind",
    "save_figure",
    "style",
]

#: the colour cycle used for overlaid results (colour-blind friendly, Petroff 10)
COLORS = (
    "#3f90da",
    "#ffa90e",
    "#bd1f01",
    "#94a4a2",
    "#832db6",
    "#a96b59",
    "#e76300",
    "#b9ac70",
    "#717581",
    "#92dadd",
)

#: 2ΔNLL thresholds (one and two parameters) and their labels
CL_LABELS = {"68": "68% CL", "95": "95% CL"}

#: result kinds ``rooeft plot`` understands (``history`` = a training ``loss_history.json``)
KINDS = ("fit", "scan1d", "scan2d", "toys", "neyman", "posterior", "history", "reliability")


class PlotError(ValueError):
    """Bad input to a plot function or an unreadable/unsupported result file."""


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Matplotlib rc settings of every rooeft figure (mplhep's HEP look, neutral labels)."""
    import mplhep

    with matplotlib.style.context(mplhep.style.CMS):
        # text objects keep their font family and resolve generic names ("sans-serif") only when
        # drawn: name the fonts concretely so a figure saved outside this context looks the same
        from matplotlib import font_manager

        available = {font.name for font in font_manager.fontManager.ttflist}
        families = [f for f in mpl.rcParams["font.sans-serif"] if f in available] or ["DejaVu Sans"]
        with mpl.rc_context({"legend.frameon": False, "font.family": families}):
            yield


def new_figure(**subplots: Any) -> tuple[Figure, Any]:
    """A pyplot-free figure with subplots (call inside :func:`style`)."""
    figsize = subplots.pop("figsize", None)
    fig = Figure(figsize=figsize, layout=subplots.pop("layout", None))
    axes = fig.subplots(**subplots)
    return fig, axes


def axis_label(label: str, unit: str | None = None) -> str:
    """``"label [unit]"`` (or just the label without a unit).

    >>> axis_label("m(Zh)", "GeV")
    'm(Zh) [GeV]'
    >>> axis_label("cos θ")
    'cos θ'
    """
    return f"{label} [{unit}]" if unit else label


def experiment_label(
    ax: Axes,
    *,
    exp: str = "rooeft",
    llabel: str = "Simulation",
    lumi: float | str | None = None,
    com: float | str | None = 13,
) -> None:
    """Experiment-style label (``rooeft Simulation`` left, ``300 fb⁻¹ (13 TeV)`` right) via mplhep."""
    import mplhep

    mplhep.label.exp_label(exp=exp, llabel=llabel, lumi=lumi, com=com, ax=ax, data=False)


def save_figure(
    fig: Figure, path_stem: str | os.PathLike[str], formats: Sequence[str] = ("png", "pdf"), *, dpi: float = 100
) -> list[Path]:
    """Write ``<path_stem>.<fmt>`` for every format, each atomically (:func:`rooeft.safeio.atomic_write`).

    Parameters
    ----------
    fig
        The figure to save.
    path_stem
        Output path without suffix; missing parent directories are created.
    formats
        Matplotlib output formats, e.g. ``("png", "pdf")``.
    dpi
        Resolution of raster formats.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.
    """
    stem = Path(path_stem)
    if not stem.name:
        raise PlotError(f"save_figure: empty file name in {str(path_stem)!r}")
    if isinstance(formats, str):
        formats = (formats,)
    if not formats:
        raise PlotError("save_figure: no output format given")
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        fmt = fmt.lower().lstrip(".")
        target = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_write(target, suffix=f".{fmt}") as tmp, tmp.open("wb") as handle, style():
            fig.savefig(handle, format=fmt, dpi=dpi)
        written.append(target)
    return written


def result_kind(result: Mapping[str, Any]) -> str:
    """The kind of a result dictionary: its ``"kind"``, or ``"history"`` for a training loss history.

    >>> result_kind({"kind": "scan1d"})
    'scan1d'
    >>> result_kind({"train_loss": [1.0], "val_loss": [1.1], "learning_rate": [1e-3]})
    'history'
    """
    if "kind" in result:
        return str(result["kind"])
    if "train_loss" in result and "val_loss" in result:
        return "history"
    raise PlotError("result has no 'kind' key and is not a training loss history")


_REQUIRED = {
    "fit": ("parameters",),
    "scan1d": ("poi", "points"),
    "scan2d": ("pois", "points"),
    "toys": ("fits",),
    "neyman": ("scans",),
    "posterior": ("pois", "samples_file"),
    "history": ("train_loss", "val_loss"),
    "reliability": ("test_split", "fractions"),
}


def load_result(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """Read a result JSON file and return ``(kind, result)`` after a basic structural check
    (through :func:`rooeft.infer.read_document`, the one reader of result files).

    Raises
    ------
    PlotError
        Unreadable JSON, unknown ``kind`` or missing keys (the message names the file).
    FileNotFoundError
        The file does not exist.
    """
    from rooeft.infer.output import ResultFileError, read_document

    path = Path(path)
    try:
        result = read_document(path)
    except ResultFileError as err:
        raise PlotError(str(err)) from None
    try:
        kind = result_kind(result)
    except PlotError as err:
        raise PlotError(f"{path}: {err}") from None
    if kind not in _REQUIRED:
        raise PlotError(f"{path}: unsupported result kind {kind!r} (rooeft plot knows: {', '.join(KINDS)})")
    missing = [key for key in _REQUIRED[kind] if key not in result]
    if missing:
        raise PlotError(f"{path}: {kind} result lacks key(s) {', '.join(missing)}")
    return kind, result


def finite_float(value: Any, what: str) -> float:
    """``float(value)`` or a :class:`PlotError` naming ``what``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise PlotError(f"{what}: {value!r} is not a number") from None
    return out


def quantile_text(values: np.ndarray, quantiles: Sequence[float]) -> str:
    """Compact one-line summary of quantiles, e.g. ``q16 = -0.01, q50 = 0.00, q84 = 0.01``.

    >>> quantile_text(np.array([0.0, 1.0, 2.0]), (0.5,))
    'q50 = 1'
    """
    qs = np.quantile(values, quantiles)
    parts = []
    for q, v in zip(quantiles, qs, strict=True):
        name = f"{100 * q:g}"
        parts.append(f"q{name} = {v:.3g}")
    return ", ".join(parts)


def is_number(value: Any) -> bool:
    """True for a finite real number (not bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
