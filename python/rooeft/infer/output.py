"""Result files: the one typed result layer, its one JSON reader and one atomic writer, and a
Combine-style ROOT ``limit`` tree.

Every result is a dataclass with ``to_dict()`` (a JSON document whose ``"kind"`` names it) and a
classmethod ``from_dict(document, *, source=None)``; :data:`RESULT_KINDS` maps each kind to its
class: ``fit`` (:class:`~rooeft.infer.fit.FitResult`), ``scan1d``/``scan2d``
(:class:`~rooeft.infer.scan.Scan1D`, :class:`~rooeft.infer.scan.Scan2D`), ``toys``
(:class:`~rooeft.infer.toys.ToysResult`), ``limits`` (:class:`~rooeft.infer.limits.LimitsResult`),
``neyman`` (:class:`~rooeft.infer.neyman.NeymanResult`, toy-based intervals)
and ``posterior`` (:class:`~rooeft.bayes.result.PosteriorResult`, whose samples live in an
``.npz`` beside the JSON). :func:`write_json` writes any of them (or a ready document) atomically,
:func:`read_document` reads a JSON document and :func:`read_json` a typed result; ``rooeft plot``,
:mod:`rooeft.bayes` and the commands read and write result files through them.

Both writers are atomic (:func:`rooeft.safeio.atomic_write`): a temporary file in the target
directory is renamed over the target.

The ``limit`` tree follows Combine's MultiDimFit output: ``limit`` (value of the first POI),
``limitErr``, ``mh``, ``syst``, ``iToy``, ``iSeed``, ``iChannel``, ``t_cpu``, ``t_real``,
``quantileExpected``, ``deltaNLL`` and one column per POI (float32 like Combine). The best fit is
the row with ``quantileExpected = -1`` and ``deltaNLL = 0``; scan points carry
``quantileExpected`` = the χ² p-value of ``2ΔNLL`` with as many degrees of freedom as scanned POIs
(Combine adds the other floating POIs); failed points are not written (Combine commits none either). ``iToy`` is
0 for observed data, −1 for Asimov data and the toy number (from 1) for toys; a fit result gives
one row, toys one row per converged toy.

>>> sorted(RESULT_KINDS)
['fit', 'ladder', 'limits', 'neyman', 'posterior', 'scan1d', 'scan2d', 'toys']
>>> result_class("scan1d").__name__
'Scan1D'
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union

import numpy as np

from rooeft.infer.fit import FitResult
from rooeft.infer.scan import Scan1D, Scan2D
from rooeft.infer.toys import ToysResult
from rooeft.safeio import atomic_write

if TYPE_CHECKING:
    from rooeft.bayes.result import PosteriorResult
    from rooeft.infer.limits import LimitsResult
    from rooeft.infer.neyman import NeymanResult

__all__ = [
    "LIMIT_COLUMNS",
    "RESULT_KINDS",
    "Result",
    "ResultFileError",
    "TreeResult",
    "atomic_path",
    "read_document",
    "read_json",
    "result_class",
    "write_fit_diagnostics",
    "write_json",
    "write_limit_tree",
]

#: results a Combine-style ``limit`` tree can be written from
TreeResult = FitResult | Scan1D | Scan2D | ToysResult
#: every typed result (the values of :data:`RESULT_KINDS`)
Result = Union[FitResult, Scan1D, Scan2D, ToysResult, "LimitsResult", "PosteriorResult", "NeymanResult"]

#: result kind → ``"module:Class"`` of its dataclass (imported when first needed, so reading a
#: fit does not import the Bayesian sampler)
RESULT_KINDS: dict[str, str] = {
    "fit": "rooeft.infer.fit:FitResult",
    "scan1d": "rooeft.infer.scan:Scan1D",
    "scan2d": "rooeft.infer.scan:Scan2D",
    "toys": "rooeft.infer.toys:ToysResult",
    "limits": "rooeft.infer.limits:LimitsResult",
    "posterior": "rooeft.bayes.result:PosteriorResult",
    "ladder": "rooeft.ladder:LadderResult",
    "neyman": "rooeft.infer.neyman:NeymanResult",
}


class ResultFileError(ValueError):
    """A result file that is not a JSON object, or not of a known kind (the message names it)."""


class _Readable(Protocol):
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> Any: ...


LIMIT_COLUMNS = {
    "limit": "f8",
    "limitErr": "f8",
    "mh": "f8",
    "syst": "i4",
    "iToy": "i4",
    "iSeed": "i4",
    "iChannel": "i4",
    "t_cpu": "f4",
    "t_real": "f4",
    "quantileExpected": "f4",
    "deltaNLL": "f4",
}


atomic_path = atomic_write
"""``with atomic_path(target) as tmp:`` write ``tmp``; on success it replaces ``target``
(:func:`rooeft.safeio.atomic_write`: umask-respecting permissions, no temporary file left behind)."""


def result_class(kind: str) -> type[_Readable]:
    """The dataclass of a result ``kind`` (a key of :data:`RESULT_KINDS`)."""
    if kind not in RESULT_KINDS:
        raise ResultFileError(f"unknown result kind {kind!r} (known: {', '.join(RESULT_KINDS)})")
    module, _, name = RESULT_KINDS[kind].partition(":")
    cls: type[_Readable] = getattr(importlib.import_module(module), name)
    return cls


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return obj


def write_json(path: str | Path, result: Any) -> Path:
    """Write a result (anything with ``to_dict()``) or a ready document (a mapping) as JSON,
    atomically; non-finite numbers become null."""
    data = result if isinstance(result, Mapping) else result.to_dict()
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(dict(data)), indent=1) + "\n")
    return Path(path)


def read_document(path: str | Path) -> dict[str, Any]:
    """The JSON object of a file (the one reader of result files).

    Raises :class:`ResultFileError` for invalid JSON or a top level that is not an object (the
    message names the file); a missing or unreadable file raises the ``OSError``.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise ResultFileError(f"{p}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ResultFileError(f"{p}: expected a JSON object, got {type(data).__name__}")
    return data


def read_json(path: str | Path) -> Result:
    """Read a result file written by :func:`write_json` (or :func:`rooeft.bayes.write_posterior`)
    back into the dataclass of its ``"kind"``."""
    data = read_document(path)
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in RESULT_KINDS:
        raise ResultFileError(f"{path}: unknown result kind {kind!r}")
    result: Result = result_class(kind).from_dict(data, source=Path(path))
    return result


def _rows(result: TreeResult) -> tuple[list[str], list[dict[str, float]], int]:
    """POI names, rows (column -> value) and iToy for a result."""
    from scipy.stats import chi2

    if isinstance(result, Scan1D | Scan2D):
        pois = [result.poi] if isinstance(result, Scan1D) else list(result.pois)
        itoy = -1 if result.asimov else 0
        rows = [{**{p: result.bestfit[p] for p in pois}, "deltaNLL": 0.0, "quantileExpected": -1.0}]
        ndf = len(pois)
        for pt in result.points:
            if pt.status != 0 or not math.isfinite(pt.delta_nll):
                continue
            q = float(chi2.sf(max(2.0 * pt.delta_nll, 0.0), ndf))
            rows.append({**{p: pt.values[p] for p in pois}, "deltaNLL": pt.delta_nll, "quantileExpected": q})
        return pois, rows, itoy
    if isinstance(result, FitResult):
        pois = result.pois
        row = {**{p: result.parameters[p].value for p in pois}, "deltaNLL": 0.0, "quantileExpected": -1.0}
        if pois:
            row["limitErr"] = result.parameters[pois[0]].error
        return pois, [row], -1 if result.asimov else 0
    pois = list(result.truth)
    rows = []
    for f in result.fits:
        if not f.ok:
            continue
        row = {**{p: f.values[p] for p in pois}, "deltaNLL": 0.0, "quantileExpected": -1.0, "iToy": f.index + 1}
        row["limitErr"] = f.errors[pois[0]]
        rows.append(row)
    return pois, rows, 1


def write_limit_tree(path: str | Path, result: TreeResult, *, seed: int = 123456, mh: float = 120.0) -> Path:
    """Write a result as a Combine-style ``limit`` TTree (uproot ``mktree``), atomically."""
    import uproot

    pois, rows, itoy = _rows(result)
    clash = [p for p in pois if p in LIMIT_COLUMNS]
    if clash:
        raise ValueError(f"POI name(s) {clash} clash with the limit tree's own columns")
    types = {**LIMIT_COLUMNS, **{p: "f4" for p in pois}}
    n = len(rows)
    cols: dict[str, np.ndarray] = {k: np.zeros(n, dtype=t) for k, t in types.items()}
    if isinstance(result, ToysResult):
        seed = result.seed
    for i, row in enumerate(rows):
        for p in pois:
            cols[p][i] = row[p]
        cols["limit"][i] = row[pois[0]] if pois else 0.0
        cols["limitErr"][i] = row.get("limitErr", 0.0)
        cols["deltaNLL"][i] = row["deltaNLL"]
        cols["quantileExpected"][i] = row["quantileExpected"]
        cols["iToy"][i] = int(row.get("iToy", itoy))
    cols["mh"][:] = mh
    cols["syst"][:] = 1
    cols["iSeed"][:] = seed
    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        f.mktree("limit", {k: np.dtype(v) for k, v in types.items()})
        if n:
            f["limit"].extend(cols)
    return Path(path)


def write_fit_diagnostics(path: str | Path, result: Any) -> Path:
    """Write a fit's per-process yields in the layout of Combine's ``fitDiagnostics.root``:
    ``norm_prefit`` and ``norm_fit_s``, ``RooArgSet`` objects of ``RooRealVar`` objects named
    ``<channel>/<process>`` with the expected events and their errors (what
    ``combine -M FitDiagnostics --saveNormalizations`` writes, and what its scripts such as
    ``mlfitNormsToText.py`` read). ``result`` is a :class:`~rooeft.infer.fit.FitResult` whose
    ``yields`` came from :func:`~rooeft.infer.fit.process_yields`. Written atomically."""
    from rooeft import load_library

    if not result.yields:
        raise ValueError("the fit result has no process yields (a workspace without n_exp_final_bin functions)")
    ROOT = load_library()
    keep: list[Any] = []
    with atomic_path(path) as tmp:
        f = ROOT.TFile.Open(str(tmp), "RECREATE")
        if not f or f.IsZombie():
            raise OSError(f"cannot write {path}")
        try:
            for name, value, error in (
                ("norm_prefit", "prefit", "prefit_error"),
                ("norm_fit_s", "postfit", "postfit_error"),
            ):
                norms = ROOT.RooArgSet()
                for y in result.yields:
                    v = ROOT.RooRealVar(f"{y.channel}/{y.process}", f"{y.process} in {y.channel}", getattr(y, value))
                    err = getattr(y, error)
                    v.setError(err if math.isfinite(err) else 0.0)
                    keep.append(v)
                    norms.add(v)
                f.WriteObject(norms, name)
                keep.append(norms)
        finally:
            f.Close()
    return Path(path)
