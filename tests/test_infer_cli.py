"""The fit, scan, limits and toys commands on a small workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rooeft.cli import main

from test_infer_workspaces import binned_workspace


@pytest.fixture
def ws(ROOT: Any, tmp_path: Path) -> Path:
    sig, bkg = np.array([20.0, 10.0]), np.array([30.0, 5.0])
    terms = np.array([[1.0, 0.4, 0.2, 0.3, 0.0, 0.2], [1.0, 1.0, -0.5, 0.9, 0.2, 0.6]])
    return binned_workspace(
        ROOT,
        tmp_path / "ws.root",
        edges=[0.0, 1.0, 2.0],
        pois={"cHW": (-2.0, 2.0), "cHWtil": (-2.0, 2.0)},
        processes={"sig": (sig, terms), "bkg": (bkg, None)},
        data=[55.0, 17.0],
        norm={"lumi": {"sig": (1.02, 0.98), "bkg": (1.02, 0.98)}},
    )


def test_cli_fit_scan_limits_toys(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fit.json"
    assert main(["fit", str(ws), "--minos", "cHW", "-o", str(out), "--tree", str(tmp_path / "fit.root")]) == 0
    assert json.loads(out.read_text())["kind"] == "fit"
    assert "cHW (POI)" in capsys.readouterr().out
    assert main(["fit", str(ws), "--asimov", "cHW=0.1", "-o", str(out)]) == 1  # exists: the policy
    assert "pass --force" in capsys.readouterr().err
    assert main(["fit", str(ws), "--asimov", "cHW=0.1", "-o", str(out), "--force"]) == 0
    got = json.loads(out.read_text())
    assert got["asimov"] and got["parameters"]["cHW"]["value"] == pytest.approx(0.1, abs=0.02)
    s = tmp_path / "scan.json"
    assert (
        main(
            [
                "scan",
                str(ws),
                "--poi",
                "cHW",
                "--points",
                "7",
                "--range=-1:1",
                "--asimov",
                "--workers",
                "1",
                "--no-progress",
                "-o",
                str(s),
                "--tree",
                str(tmp_path / "scan.root"),
            ]
        )
        == 0
    )
    d = json.loads(s.read_text())
    assert d["kind"] == "scan1d" and d["asimov"] and len(d["points"]) == 7 and "68" in d["intervals"]
    assert (
        main(
            [
                "scan",
                str(ws),
                "--poi",
                "cHW",
                "--poi2",
                "cHWtil",
                "--points",
                "3",
                "--fix-others",
                "--workers",
                "1",
                "--no-progress",
                "-o",
                str(s),
                "--force",
            ]
        )
        == 0
    )
    assert json.loads(s.read_text())["kind"] == "scan2d"
    lim = tmp_path / "limits.json"
    assert main(["limits", str(ws), "--points", "9", "--workers", "1", "--no-progress", "-o", str(lim)]) == 0
    table = capsys.readouterr().out
    assert "observed 68% CL" in table and "expected 95% CL" in table and "cHWtil" in table
    scans = json.loads(lim.read_text())["scans"]
    assert [(x["poi"], x["label"], x["asimov"]) for x in scans] == [
        ("cHW", "observed", False),
        ("cHW", "expected", True),
        ("cHWtil", "observed", False),
        ("cHWtil", "expected", True),
    ]
    t = tmp_path / "toys.json"
    assert (
        main(["toys", str(ws), "--truth", "cHW=0.2", "-n", "4", "--workers", "1", "--no-progress", "-o", str(t)]) == 0
    )
    assert json.loads(t.read_text())["n_toys"] == 4
    # errors are reported with exit code 1, naming the problem
    assert main(["scan", str(ws), "--poi", "cHW", "--range=-5:1", "--workers", "1", "--no-progress"]) == 1
    assert "exceeds its range" in capsys.readouterr().err
    assert main(["fit", str(ws), "--asimov", "cHW"]) == 1
