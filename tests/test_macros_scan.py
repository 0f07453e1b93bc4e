"""macros/scan_workspace.py (plain PyROOT, no rooeft import) agrees with rooeft.infer.scan1d."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_macros_and_config import REPO, _env

from test_infer_workspaces import binned_workspace, mixed_workspace

MACRO = REPO / "macros" / "scan_workspace.py"


def _run(path: Path, poi: str, points: int, lo: float, hi: float) -> tuple[dict[float, float], dict[str, list]]:
    out = subprocess.run(
        [sys.executable, str(MACRO), str(path), "--poi", poi, "--points", str(points), "--range", str(lo), str(hi)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    table = {float(m.group(1)): float(m.group(2)) for m in re.finditer(r"^\s*(\S+)\s+(\S+)\s+0$", out.stdout, re.M)}
    intervals: dict[str, list] = {}
    for m in re.finditer(r"^(68|95)% CL \(2\*deltaNLL < \S+\): (.*)$", out.stdout, re.M):
        intervals[m.group(1)] = [(float(a), float(b)) for a, b in re.findall(r"\[(\S+), (\S+)\]", m.group(2))]
    assert len(table) == points and set(intervals) == {"68", "95"}, out.stdout
    return table, intervals


def _compare(path: Path, poi: str, lo: float, hi: float, points: int = 31) -> None:
    from rooeft.infer import scan1d

    ref = scan1d(path, poi, points=points, range=(lo, hi), workers=1)
    table, ivs = _run(path, poi, points, lo, hi)
    x, dnll = ref.arrays()
    assert x.size == points
    for xv, d in zip(x, dnll, strict=True):
        key = min(table, key=lambda k: abs(k - xv))
        assert key == pytest.approx(xv, abs=1e-5)
        assert table[key] == pytest.approx(2.0 * d, abs=2e-3)
    for level in ("68", "95"):
        assert len(ivs[level]) == len(ref.intervals[level])
        width = sum(b - a for a, b in ref.intervals[level])
        for (a, b), (ra, rb) in zip(ivs[level], ref.intervals[level], strict=True):
            assert a == pytest.approx(ra, abs=2e-3 * width)
            assert b == pytest.approx(rb, abs=2e-3 * width)


def test_macro_scan_matches_infer_with_constrained_nuisance(ROOT: Any, tmp_path: Path) -> None:
    """Binned + unbinned (ONNX) channels, a lumi nuisance with constraint and global observable."""
    path, _ = mixed_workspace(ROOT, tmp_path / "mixed.root", tmp_path)
    _compare(path, "c", -0.6, 1.2)


def test_macro_scan_profiles_the_other_poi(ROOT: Any, tmp_path: Path) -> None:
    """Two coefficients in one binned channel: scanning c1 profiles c2 (and the norm nuisance)."""
    edges = [0.0, 1.0, 2.0, 3.0, 4.0]
    nom = np.array([50.0, 40.0, 25.0, 10.0])
    # per bin: [1, c1, c2, c1², c1c2, c2²]
    terms = np.array(
        [
            [1.0, 0.3, 0.1, 0.05, 0.02, 0.04],
            [1.0, 0.5, -0.2, 0.1, 0.05, 0.08],
            [1.0, 0.8, 0.3, 0.3, 0.1, 0.2],
            [1.0, 1.2, -0.4, 0.7, 0.2, 0.5],
        ]
    )
    bkg = np.array([80.0, 40.0, 15.0, 5.0])
    data = np.round(nom * (terms @ np.array([1.0, 0.2, -0.1, 0.04, -0.02, 0.01])) + bkg + np.array([3, -4, 2, 1]))
    path = binned_workspace(
        ROOT,
        tmp_path / "binned.root",
        edges=edges,
        pois={"c1": (-4.0, 4.0), "c2": (-4.0, 4.0)},
        processes={"sig": (nom.tolist(), terms), "bkg": (bkg.tolist(), None)},
        data=data.tolist(),
        norm={"lumi": {"sig": (1.05, 1 / 1.05), "bkg": (1.05, 1 / 1.05)}},
    )
    _compare(path, "c1", -1.0, 1.5)
