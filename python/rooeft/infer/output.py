"""Writing results: JSON (the shared formats) and a Combine-style ROOT ``limit`` tree.

Both writers are atomic: a temporary file in the target directory is renamed over the target.

The ``limit`` tree follows Combine's MultiDimFit output: ``limit`` (value of the first POI),
``limitErr``, ``mh``, ``syst``, ``iToy``, ``iSeed``, ``iChannel``, ``t_cpu``, ``t_real``,
``quantileExpected``, ``deltaNLL`` and one column per POI (float32 like Combine). The best fit is
the row with ``quantileExpected = -1`` and ``deltaNLL = 0``; scan points carry
``quantileExpected`` = the χ² p-value of ``2ΔNLL`` with as many degrees of freedom as scanned POIs
(Combine adds the other floating POIs); failed points are not written (Combine commits none either). ``iToy`` is
0 for observed data, −1 for Asimov data and the toy number (from 1) for toys; a fit result gives
one row, toys one row per converged toy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.infer.fit import FitResult
from rooeft.infer.scan import Scan1D, Scan2D
from rooeft.infer.toys import ToysResult
from rooeft.safeio import atomic_write

__all__ = ["LIMIT_COLUMNS", "atomic_path", "read_json", "write_json", "write_limit_tree"]

Result = FitResult | Scan1D | Scan2D | ToysResult

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


def write_json(path: str | Path, result: Result | Mapping[str, Any]) -> Path:
    """Write a result (or a ready dict) as JSON, atomically; non-finite numbers become null."""
    data = result if isinstance(result, Mapping) else result.to_dict()
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(dict(data)), indent=1) + "\n")
    return Path(path)


def read_json(path: str | Path) -> Result:
    """Read a JSON result written by :func:`write_json` back into its dataclass."""
    data = json.loads(Path(path).read_text())
    kind = data.get("kind")
    readers: dict[str, Any] = {"fit": FitResult, "scan1d": Scan1D, "scan2d": Scan2D, "toys": ToysResult}
    if kind not in readers:
        raise ValueError(f"{path}: unknown result kind {kind!r}")
    result: Result = readers[kind].from_dict(data)
    return result


def _rows(result: Result) -> tuple[list[str], list[dict[str, float]], int]:
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


def write_limit_tree(path: str | Path, result: Result, *, seed: int = 123456, mh: float = 120.0) -> Path:
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
