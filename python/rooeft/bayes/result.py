"""The result of a posterior run: samples, credible intervals, point estimates and the evidence;
its ``posterior`` JSON + ``.npz`` files, and a side-by-side table with profile-likelihood scans.

JSON (``kind = "posterior"``)::

    {"kind": "posterior", "pois": [...], "samples_file": "posterior_samples.npz",
     "intervals": {poi: {"68": [lo, hi], "95": [lo, hi], "hdi68": [lo, hi], "hdi95": [lo, hi]}},
     "logz": v, "logz_err": v, "ncall": n,
     "parameters": [...], "estimates": {poi: {"mean", "median", "mode", "std"}},
     "priors": {name: {"kind", "low", "high", ...}}, "nuisances": "sample", "fixed": {...},
     "asimov": bool, "asimov_values": {...} | null, "data": "data_obs", "seed": s,
     "max_calls": n, "converged": bool, "failed_calls": n, "label": str, "workspace": str}

``samples_file`` is relative to the JSON's folder. The JSON is written and read through the one
result layer of :mod:`rooeft.infer.output` (kind ``posterior``); non-finite numbers are null.
The ``.npz`` holds ``names`` (all sampled parameters, POIs first), ``samples`` (equal-weighted,
``n × len(names)``), ``points``, ``weights`` and ``logl`` (nested sampling's weighted dead points).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.bayes.priors import Prior
from rooeft.bayes.summary import Estimates

__all__ = ["PosteriorResult", "ResultError", "comparison_table", "load_scan", "read_posterior", "write_posterior"]

FloatArray = npt.NDArray[np.float64]


class ResultError(ValueError):
    """An unreadable or inconsistent posterior/scan result file (the message names it)."""


@dataclass(frozen=True, eq=False)
class PosteriorResult:
    """Posterior of a workspace likelihood (see :func:`rooeft.bayes.sample_posterior`)."""

    pois: tuple[str, ...]
    parameters: tuple[str, ...]
    samples: FloatArray
    points: FloatArray
    weights: FloatArray
    logl: FloatArray
    logz: float
    logz_err: float
    ncall: int
    intervals: Mapping[str, Mapping[str, tuple[float, float]]]
    estimates: Mapping[str, Estimates]
    priors: Mapping[str, Prior]
    nuisances: str = "sample"
    fixed: Mapping[str, float] = field(default_factory=dict)
    asimov: Mapping[str, float] | None = None
    data: str = "data_obs"
    seed: int | None = None
    max_calls: int | None = None
    converged: bool = True
    failed_calls: int = 0
    label: str = ""
    workspace: str = ""

    def column(self, name: str, *, weighted: bool = False) -> FloatArray:
        """Samples of one parameter (equal-weighted, or the weighted dead points)."""
        if name not in self.parameters:
            raise KeyError(f"'{name}' was not sampled; sampled parameters: {list(self.parameters)}")
        j = self.parameters.index(name)
        return np.asarray((self.points if weighted else self.samples)[:, j], dtype=np.float64)

    def to_dict(self, samples_file: str) -> dict[str, Any]:
        """The ``posterior`` JSON document (``samples_file`` as it should appear in it)."""
        return {
            "kind": "posterior",
            "pois": list(self.pois),
            "samples_file": samples_file,
            "intervals": {
                p: {k: [float(v[0]), float(v[1])] for k, v in iv.items()} for p, iv in self.intervals.items()
            },
            "logz": float(self.logz),
            "logz_err": float(self.logz_err),
            "ncall": int(self.ncall),
            "parameters": list(self.parameters),
            "estimates": {p: e.to_dict() for p, e in self.estimates.items()},
            "priors": {n: p.to_dict() for n, p in self.priors.items()},
            "nuisances": self.nuisances,
            "fixed": dict(self.fixed),
            "asimov": self.asimov is not None,
            "asimov_values": dict(self.asimov) if self.asimov is not None else None,
            "data": self.data,
            "seed": self.seed,
            "max_calls": self.max_calls,
            "converged": bool(self.converged),
            "failed_calls": int(self.failed_calls),
            "label": self.label,
            "workspace": self.workspace,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str | Path | None = None) -> PosteriorResult:
        """Inverse of :meth:`to_dict`: the samples are read from ``samples_file`` (relative to the
        folder of ``source``, the JSON file, if given). Null numbers (non-finite values written
        as JSON) read as NaN."""
        jp = Path(source) if source is not None else Path("posterior.json")
        if d.get("kind") != "posterior":
            raise ResultError(f"{jp}: not a posterior result (kind={d.get('kind')!r})")
        try:
            sp = Path(d["samples_file"])
            sp = sp if sp.is_absolute() else jp.parent / sp
            with np.load(sp, allow_pickle=False) as z:
                names = tuple(str(n) for n in z["names"])
                arrays = {k: np.asarray(z[k], dtype=np.float64) for k in ("samples", "points", "weights", "logl")}
            if names != tuple(d["parameters"]):
                raise ResultError(f"{sp}: parameters {names} differ from the JSON's {d['parameters']}")
            asimov = d.get("asimov_values")
            return cls(
                pois=tuple(d["pois"]),
                parameters=names,
                samples=arrays["samples"],
                points=arrays["points"],
                weights=arrays["weights"],
                logl=arrays["logl"],
                logz=_num(d["logz"]),
                logz_err=_num(d["logz_err"]),
                ncall=int(d["ncall"]),
                intervals={p: {k: (_num(v[0]), _num(v[1])) for k, v in iv.items()} for p, iv in d["intervals"].items()},
                estimates={
                    p: Estimates(**{k: _num(v) for k, v in e.items()}) for p, e in d.get("estimates", {}).items()
                },
                priors={n: Prior.from_dict(p) for n, p in d.get("priors", {}).items()},
                nuisances=str(d.get("nuisances", "sample")),
                fixed={k: float(v) for k, v in d.get("fixed", {}).items()},
                asimov=None if asimov is None else {k: float(v) for k, v in asimov.items()},
                data=str(d.get("data", "data_obs")),
                seed=d.get("seed"),
                max_calls=d.get("max_calls"),
                converged=bool(d.get("converged", True)),
                failed_calls=int(d.get("failed_calls", 0)),
                label=str(d.get("label", "")),
                workspace=str(d.get("workspace", "")),
            )
        except (KeyError, TypeError, OSError) as err:
            raise ResultError(f"{jp}: incomplete posterior result ({type(err).__name__}: {err})") from None

    def table(self) -> str:
        """Plain-text summary: per POI the estimates and the credible intervals."""
        rows = [("POI", "mean", "median", "mode", "68% ET", "68% HDI", "95% ET", "95% HDI")]
        for p in self.pois:
            e, iv = self.estimates[p], self.intervals[p]
            rows.append(
                (
                    p,
                    f"{e.mean:.4g}",
                    f"{e.median:.4g}",
                    f"{e.mode:.4g}",
                    _iv(iv["68"]),
                    _iv(iv["hdi68"]),
                    _iv(iv["95"]),
                    _iv(iv["hdi95"]),
                )
            )
        out = _format(rows)
        return out + f"\nln Z = {self.logz:.3f} ± {self.logz_err:.3f}   ({self.ncall} likelihood calls)"


def _num(v: Any) -> float:
    """A JSON number as float (null, a non-finite value written by the JSON writer, is NaN)."""
    return math.nan if v is None else float(v)


def _iv(v: Sequence[float]) -> str:
    return f"[{v[0]:.4g}, {v[1]:.4g}]"


def _format(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_posterior(
    result: PosteriorResult, json_path: str | Path, *, samples_path: str | Path | None = None
) -> tuple[Path, Path]:
    """Write the JSON (through :func:`rooeft.infer.write_json`, the writer of every result) and the
    ``.npz`` (default: ``<json stem>_samples.npz`` beside it), each atomically. Returns both paths.

    Raises :class:`ResultError` if either would overwrite the other or the workspace file.
    """
    from rooeft.infer.output import write_json
    from rooeft.safeio import atomic_write

    jp = Path(json_path)
    sp = Path(samples_path) if samples_path is not None else jp.with_name(f"{jp.stem}_samples.npz")
    if sp.suffix != ".npz":
        raise ResultError(f"samples file {sp} must end in .npz")
    if jp.resolve() == sp.resolve():
        raise ResultError(f"JSON and samples file are the same path {jp}")
    if result.workspace and Path(result.workspace).resolve() in (jp.resolve(), sp.resolve()):
        raise ResultError(f"refusing to overwrite the input workspace {result.workspace}")
    with atomic_write(sp) as tmp, tmp.open("wb") as f:
        np.savez(
            f,
            names=np.asarray(result.parameters, dtype=str),
            samples=result.samples,
            points=result.points,
            weights=result.weights,
            logl=result.logl,
        )
    try:
        rel = os.path.relpath(sp.resolve(), jp.resolve().parent)
    except ValueError:  # different drives
        rel = str(sp.resolve())
    write_json(jp, result.to_dict(rel))
    return jp, sp


def read_posterior(json_path: str | Path) -> PosteriorResult:
    """Read a result written by :func:`write_posterior` (samples from its ``samples_file``)."""
    from rooeft.infer.output import read_document

    jp = Path(json_path)
    try:
        d = read_document(jp)
    except (OSError, ValueError) as err:
        raise ResultError(f"{jp}: cannot read a posterior JSON ({err})") from None
    return PosteriorResult.from_dict(d, source=jp)


def load_scan(scan: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A ``scan1d`` result (file or dict), checked for the keys the comparison needs."""
    from rooeft.infer.output import read_document

    where = str(scan) if not isinstance(scan, Mapping) else "scan1d dict"
    if isinstance(scan, Mapping):
        d = dict(scan)
    else:
        try:
            d = read_document(scan)
        except (OSError, ValueError) as err:
            raise ResultError(f"{where}: cannot read a scan1d JSON ({err})") from None
    if d.get("kind") != "scan1d":
        raise ResultError(f"{where}: not a scan1d result")
    if "poi" not in d or not isinstance(d.get("intervals"), Mapping):
        raise ResultError(f"{where}: scan1d result needs 'poi' and 'intervals'")
    return d


def _union(intervals: Any) -> str:
    if not intervals:
        return "—"
    return " ∪ ".join(_iv(v) for v in intervals)


def comparison_table(result: PosteriorResult, scans: Sequence[str | Path | Mapping[str, Any]]) -> str:
    """Credible intervals next to the profile-likelihood intervals of ``scan1d`` results.

    One row per POI of the posterior that has a scan (scans of other POIs are ignored):
    posterior mode and the 68/95% equal-tailed and highest-density intervals, then the scan's best
    fit and 68/95% intervals (a union if the scan found several)."""
    by_poi = {}
    for s in scans:
        d = load_scan(s)
        by_poi[str(d["poi"])] = d
    rows = [("POI", "mode", "68% ET", "68% HDI", "PL best", "PL 68%", "95% ET", "95% HDI", "PL 95%")]
    for p in result.pois:
        if p not in by_poi:
            continue
        d, iv, e = by_poi[p], result.intervals[p], result.estimates[p]
        best = d.get("bestfit", {}).get(p)
        best_s = f"{float(best):.4g}" if isinstance(best, int | float) and math.isfinite(best) else "—"
        pl = d["intervals"]
        rows.append(
            (
                p,
                f"{e.mode:.4g}",
                _iv(iv["68"]),
                _iv(iv["hdi68"]),
                best_s,
                _union(pl.get("68")),
                _iv(iv["95"]),
                _iv(iv["hdi95"]),
                _union(pl.get("95")),
            )
        )
    if len(rows) == 1:
        return "no scan1d result for the posterior's POIs " + str(list(result.pois))
    profiled = {p: bool(by_poi[p].get("profiled", True)) for p in result.pois if p in by_poi}
    note = "PL = profile likelihood (2ΔNLL = 1.00 / 3.84)"
    if not all(profiled.values()):
        note += "; scans of " + ", ".join(p for p, v in profiled.items() if not v) + " are not profiled"
    return _format(rows) + "\n" + note
