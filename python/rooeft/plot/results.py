"""Plot result JSON files by kind (what ``rooeft plot`` runs)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.plot._common import PlotError, load_result, save_figure
from rooeft.plot.contours import plot_contours
from rooeft.plot.corner import plot_corner
from rooeft.plot.pulls import plot_pulls
from rooeft.plot.scan1d import plot_scan1d
from rooeft.plot.toys import plot_coverage, plot_toy_pulls
from rooeft.plot.training import plot_loss_curves

__all__ = ["plot_result_files"]


def _safe(name: str) -> str:
    """A file-name-safe version of a parameter or file name.

    >>> _safe("cHW/cHB x")
    'cHW_cHB_x'
    """
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("_") or "result"


def plot_result_files(
    paths: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("png", "pdf"),
    lumi: float | str | None = None,
    com: float | str | None = 13,
    labels: Sequence[str] | None = None,
    force: bool = True,
) -> list[Path]:
    """Plot every result file into ``outdir``, dispatching on its ``kind``.

    * ``scan1d`` → ``scan1d_<poi>``: scans of the same parameter are overlaid in one plot;
    * ``scan2d`` → ``contours_<a>_<b>``: scans of the same pair are overlaid;
    * ``fit`` → ``pulls_<file stem>``;
    * ``toys`` → ``toys_pulls_<file stem>`` and ``toys_coverage_<file stem>`` (if it has coverage);
    * ``neyman`` → ``neyman_<pois>_<file stem>``: p-values of each toy-based construction beside the
      asymptotic ones;
    * ``posterior`` → ``corner_<file stem>``: the POI samples (from the JSON's ``samples_file``),
      with the 68%/95% intervals of any scan1d file of the same POIs given alongside overlaid;
    * training ``loss_history.json`` → ``loss_<file stem>``;
    * a training reliability report (``<model>_reliability.json``) → ``reliability_<file stem>``.

    Parameters
    ----------
    paths
        Result JSON files (every file is read and checked before anything is written).
    outdir
        Output directory (created if missing).
    formats
        Output formats of every figure.
    lumi, com
        Luminosity (fb⁻¹) and centre-of-mass energy (TeV) for the experiment label of scans.
    labels
        Legend labels, one per input file, overriding the files' ``label`` (scans only).
    force
        Replace existing figures (``False``: an existing figure file is an error).

    Returns
    -------
    list of Path
        Every file written.
    """
    if not paths:
        raise PlotError("no result files given")
    if labels is not None and len(labels) != len(paths):
        raise PlotError(f"{len(labels)} labels given for {len(paths)} result files")
    loaded = []
    for i, path in enumerate(paths):
        kind, result = load_result(path)
        if labels is not None:
            result = {**result, "label": labels[i]}
        loaded.append((Path(path), kind, result))
    outdir = Path(outdir)
    inputs = {p.resolve() for p, _, _ in loaded}
    written: list[Path] = []

    used: set[str] = set()

    def save(fig: Any, stem: str) -> None:
        base, n = stem, 2
        while stem in used:  # e.g. two fit.json from different directories
            stem, n = f"{base}_{n}", n + 1
        used.add(stem)
        targets = [(outdir / f"{stem}.{fmt.lower().lstrip('.')}").resolve() for fmt in formats]
        clash = [t for t in targets if t in inputs]
        if clash:
            raise PlotError(f"refusing to overwrite input file {clash[0]}")
        existing = [t for t in targets if t.exists()]
        if existing and not force:
            raise PlotError(f"{existing[0]} exists; pass --force to replace it")
        written.extend(save_figure(fig, outdir / stem, formats))

    scans1d: dict[str, list[dict[str, Any]]] = {}
    scans2d: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path, kind, result in loaded:
        if kind == "scan1d":
            scans1d.setdefault(str(result["poi"]), []).append(result)
        elif kind == "scan2d":
            pois = result["pois"]
            if not (isinstance(pois, list) and len(pois) == 2):
                raise PlotError(f"{path}: 'pois' must list two parameters")
            scans2d.setdefault((str(pois[0]), str(pois[1])), []).append(result)
        elif kind == "fit":
            try:
                save(plot_pulls(fit=result), f"pulls_{_safe(path.stem)}")
            except PlotError as err:
                raise PlotError(f"{path}: {err}") from None
        elif kind == "toys":
            try:
                save(plot_toy_pulls(toys=result), f"toys_pulls_{_safe(path.stem)}")
                if result.get("coverage"):
                    save(plot_coverage(toys=result), f"toys_coverage_{_safe(path.stem)}")
            except PlotError as err:
                raise PlotError(f"{path}: {err}") from None
        elif kind == "neyman":
            from rooeft.infer.neyman import NeymanResult
            from rooeft.plot.neyman import plot_neyman

            try:
                for s in NeymanResult.from_dict(result).scans:
                    save(
                        plot_neyman(scan=s, lumi=lumi, com=com), f"neyman_{_safe('_'.join(s.pois))}_{_safe(path.stem)}"
                    )
            except (PlotError, KeyError, TypeError, ValueError) as err:
                raise PlotError(f"{path}: {err}") from None
        elif kind == "reliability":
            from rooeft.plot.reliability import plot_reliability

            try:
                save(plot_reliability(result), f"reliability_{_safe(path.stem)}")
            except (PlotError, KeyError, ValueError) as err:
                raise PlotError(f"{path}: {err}") from None
        elif kind == "history":
            stem = path.name.removesuffix(".json").removesuffix(".loss_history")
            try:
                save(plot_loss_curves(history=result, title=stem), f"loss_{_safe(stem)}")
            except PlotError as err:
                raise PlotError(f"{path}: {err}") from None
    for path, kind, result in loaded:
        if kind == "posterior":
            samples, names = _posterior_samples(path, result)
            intervals = {
                p: group[0]["intervals"]
                for p, group in scans1d.items()
                if p in names and isinstance(group[0].get("intervals"), dict)
            }
            try:
                save(plot_corner(samples=samples, names=names, intervals=intervals), f"corner_{_safe(path.stem)}")
            except PlotError as err:
                raise PlotError(f"{path}: {err}") from None
    for poi, group in scans1d.items():
        save(plot_scan1d(scans=group, lumi=lumi, com=com), f"scan1d_{_safe(poi)}")
    for (a, b), group in scans2d.items():
        save(plot_contours(scans=group, lumi=lumi, com=com), f"contours_{_safe(a)}_{_safe(b)}")
    return written


def _posterior_samples(path: Path, result: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    """The POI columns of a posterior result's ``.npz`` samples (``names``, ``samples``)."""
    pois = result["pois"]
    if not (isinstance(pois, list) and pois and all(isinstance(p, str) for p in pois)):
        raise PlotError(f"{path}: 'pois' must be a non-empty list of parameter names")
    npz = path.parent / str(result["samples_file"])
    try:
        with np.load(npz, allow_pickle=False) as z:
            names = [str(n) for n in z["names"]]
            samples = np.asarray(z["samples"], dtype=float)
    except FileNotFoundError:
        raise PlotError(f"{path}: samples file {npz} not found") from None
    except (KeyError, ValueError, OSError) as err:
        raise PlotError(f"{path}: cannot read 'names' and 'samples' from {npz} ({err})") from None
    missing = [p for p in pois if p not in names]
    if missing or samples.ndim != 2 or samples.shape[1] != len(names):
        raise PlotError(f"{path}: {npz} holds samples of {names} with shape {samples.shape}; POIs {pois} needed")
    return samples[:, [names.index(p) for p in pois]], list(pois)
