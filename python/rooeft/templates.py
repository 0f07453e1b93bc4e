"""Binned templates with :mod:`hist`: nominal, per-term EFT sums and systematic variations.

One :class:`ProcessTemplates` per process and channel holds ``hist.Hist`` objects with ``Weight``
storage (sum of weights and of squared weights per bin): the nominal template, one histogram per
polynomial term (Σ of the per-event structure constants ``w_t`` in canonical term order, see
:mod:`rooeft.terms`) and up/down templates per weight-based systematic. Under- and overflow are
not used (events outside the edges are dropped). :func:`write_templates` writes them as TH1D with
uproot, Combine-style (``<channel>/<process>``, ``<channel>/<process>_<syst>Up``).

>>> import numpy as np
>>> t = fill_process("zh", np.array([0.5, 1.5, 1.7]), np.ones(3), [0.0, 1.0, 2.0], observable="x",
...                  structure_constants=np.array([[1.0, 0.1, 0.01], [1.0, 0.3, 0.09], [1.0, 0.5, 0.25]]),
...                  coefficients=["c"])
>>> t.nominal.values().tolist()
[1.0, 2.0]
>>> t.coefficients().round(3).tolist()
[[1.0, 0.1, 0.01], [1.0, 0.4, 0.17]]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.terms import n_terms, term_labels

__all__ = ["ProcessTemplates", "fill_process", "new_hist", "term_names", "write_templates"]

F64 = npt.NDArray[np.float64]


def new_hist(edges: Sequence[float], observable: str, *, label: str | None = None) -> Any:
    """An empty ``hist.Hist`` with a variable axis (no flow bins) and ``Weight`` storage."""
    import hist

    axis = hist.axis.Variable(list(edges), name=observable, label=label or observable, flow=False)
    return hist.Hist(axis, storage=hist.storage.Weight())


def term_names(coefficients: Sequence[str]) -> list[str]:
    """Labels of the terms usable in object names: ``sm``, ``c``, ``c_d``.

    >>> term_names(["cHW", "cHB"])
    ['sm', 'cHW', 'cHB', 'cHW_cHW', 'cHW_cHB', 'cHB_cHB']
    """
    return [t.replace("*", "_") for t in term_labels(coefficients)]


@dataclass(frozen=True)
class ProcessTemplates:
    """The templates of one process in one channel."""

    process: str
    nominal: Any
    coefficient_names: tuple[str, ...] = ()
    terms: tuple[Any, ...] | None = None
    systematics: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def is_eft(self) -> bool:
        """Whether the process has per-term templates."""
        return self.terms is not None

    def term_sums(self) -> F64:
        """``(n_bins, n_terms)`` per-bin sums of the structure constants (EFT processes)."""
        if self.terms is None:
            raise ValueError(f"process '{self.process}' has no EFT terms")
        return np.stack([np.asarray(h.values(), dtype=np.float64) for h in self.terms], axis=1)

    def coefficients(self) -> F64:
        """``(n_bins, n_terms)`` polynomial coefficients per bin: term sums / SM sum.

        The first column is 1; bins with a vanishing SM sum get ``[1, 0, …]`` (no θ dependence).
        """
        sums = self.term_sums()
        sm = sums[:, :1]
        ok = sm[:, 0] != 0
        out = np.zeros_like(sums)
        out[ok] = sums[ok] / sm[ok]
        out[:, 0] = 1.0
        return out


def fill_process(
    process: str,
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    edges: Sequence[float],
    *,
    observable: str,
    structure_constants: npt.ArrayLike | None = None,
    coefficients: Sequence[str] = (),
    systematics: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]] | None = None,
) -> ProcessTemplates:
    """Fill the templates of one process from per-event values and weights.

    Parameters
    ----------
    values
        The binned observable per event.
    weights
        Nominal per-event weights (expected events).
    structure_constants
        ``(N, T)`` per-event structure constants in canonical order (EFT processes), else ``None``.
    systematics
        Name → (up weights, down weights) per event.
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if x.shape != w.shape or x.ndim != 1:
        raise ValueError(f"process '{process}': values {x.shape} and weights {w.shape} must be 1D of equal length")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"process '{process}': the binned observable '{observable}' has NaN or inf values")

    def filled(weight: F64) -> Any:
        h = new_hist(edges, observable)
        h.fill(x, weight=weight)
        return h

    terms = None
    if structure_constants is not None:
        sc = np.asarray(structure_constants, dtype=np.float64)
        t = n_terms(len(coefficients))
        if sc.shape != (x.size, t):
            raise ValueError(
                f"process '{process}': structure constants of shape {sc.shape}, expected ({x.size}, {t}) "
                f"for coefficients {list(coefficients)}"
            )
        terms = tuple(filled(sc[:, j]) for j in range(t))
    systs = {}
    for name, (up, down) in (systematics or {}).items():
        systs[name] = (filled(np.asarray(up, dtype=np.float64)), filled(np.asarray(down, dtype=np.float64)))
    return ProcessTemplates(
        process=process,
        nominal=filled(w),
        coefficient_names=tuple(coefficients),
        terms=terms,
        systematics=systs,
    )


def write_templates(
    path: str | os.PathLike[str],
    channels: Mapping[str, Sequence[ProcessTemplates]],
    *,
    data: Mapping[str, Any] | None = None,
) -> Path:
    """Write templates as TH1D with uproot, atomically (temporary file + ``os.replace``).

    Layout per channel directory ``<ch>``: ``<proc>`` (nominal), ``<proc>_<syst>Up``/``Down``,
    ``<proc>_term_<t>`` (per-term sums, ``t`` from :func:`term_names`) and ``data_obs``.
    """
    import uproot

    from rooeft.safeio import atomic_write

    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(f"output directory does not exist: {target.parent}")
    with atomic_write(target, suffix=".root") as tmp, uproot.recreate(tmp) as f:
        for ch, procs in channels.items():
            for t in procs:
                f[f"{ch}/{t.process}"] = t.nominal
                for syst, (up, down) in t.systematics.items():
                    f[f"{ch}/{t.process}_{syst}Up"] = up
                    f[f"{ch}/{t.process}_{syst}Down"] = down
                if t.terms is not None:
                    for label, h in zip(term_names(t.coefficient_names), t.terms, strict=True):
                        f[f"{ch}/{t.process}_term_{label}"] = h
            if data is not None and ch in data:
                f[f"{ch}/data_obs"] = data[ch]
    return target
