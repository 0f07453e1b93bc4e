"""The C++ and PyROOT macros fit a workspace in plain ROOT; `rooeft config` points at the library."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_cpp_unbinned import TwoProc

REPO = Path(__file__).resolve().parents[1]


def _workspace(ROOT: Any, path: Path, model_path: Path) -> dict[str, float]:
    """A ModelConfig workspace (pdf × Gaussian constraints) written to ``path``; returns the fit here."""
    m = TwoProc(ROOT, model_path)
    w = ROOT.RooWorkspace("w")
    w.Import(m.pdf)
    for nu in ("jes", "lumi"):
        w.factory(f"Gaussian::{nu}_constraint({nu}, glob_{nu}[0, -5, 5], 1)")
        w.var(f"glob_{nu}").setConstant(True)
    w.factory("PROD::model(pdf, jes_constraint, lumi_constraint)")
    w.var("mu_bkg").setConstant(True)
    rng = np.random.default_rng(4)
    data = ROOT.RooDataSet.from_numpy({"x": rng.normal(0.3, 1.5, size=1500)}, ROOT.RooArgSet(w.var("x")))
    data.SetName("data_obs")
    w.Import(data)
    mc = ROOT.RooStats.ModelConfig("ModelConfig", w)
    mc.SetPdf("model")
    mc.SetParametersOfInterest("c1,c2")
    mc.SetObservables("x")
    mc.SetNuisanceParameters("jes,lumi")
    mc.SetGlobalObservables("glob_jes,glob_lumi")
    w.Import(mc)
    w.writeToFile(str(path))
    res = w.pdf("model").fitTo(
        w.data("data_obs"),
        Extended=True,
        Save=True,
        PrintLevel=-1,
        EvalBackend="cpu",
        GlobalObservables=mc.GetGlobalObservables(),
        Minimizer="Minuit2",
    )
    assert res.status() == 0
    return {v: w.var(v).getVal() for v in ("c1", "c2", "jes", "lumi")}


def _parse(stdout: str) -> dict[str, float]:
    assert "fit status 0" in stdout, stdout
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^\s+(\w+) = (\S+) \+/-", stdout, re.M)}


@pytest.fixture
def fitted_workspace(ROOT: Any, tmp_path: Path, columns_model: Any) -> tuple[Path, dict[str, float]]:
    from test_cpp_unbinned import TWO_PROC

    model = columns_model(TWO_PROC, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])
    path = tmp_path / "ws.root"
    return path, _workspace(ROOT, path, model)


def _env() -> dict[str, str]:
    from rooeft._roofit import library_path

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["ROOEFT_LIBRARY"] = str(library_path())
    return env


def test_cpp_macro_fits_workspace(fitted_workspace: tuple[Path, dict[str, float]]) -> None:
    path, expected = fitted_workspace
    root_exe = Path(sys.executable).parent / "root"
    out = subprocess.run(
        [str(root_exe), "-l", "-b", "-q", f'{REPO}/macros/fit_workspace.C("{path}")'],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    got = _parse(out.stdout)
    for name in ("c1", "c2", "jes", "lumi"):
        assert got[name] == pytest.approx(expected[name], abs=2e-3)


def test_pyroot_macro_fits_workspace(fitted_workspace: tuple[Path, dict[str, float]]) -> None:
    path, expected = fitted_workspace
    out = subprocess.run(
        [sys.executable, str(REPO / "macros" / "fit_workspace.py"), str(path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=True,
    )
    got = _parse(out.stdout)
    for name in ("c1", "c2", "jes", "lumi"):
        assert got[name] == pytest.approx(expected[name], abs=2e-3)


def test_config_command_points_at_existing_files(capsys: pytest.CaptureFixture[str]) -> None:
    from rooeft.cli import main

    assert main(["config", "--library"]) == 0
    lib = Path(capsys.readouterr().out.strip())
    assert lib.name == "libRooEFT.so" and lib.is_file()
    assert (lib.parent / "libRooEFT.rootmap").is_file() and (lib.parent / "libRooEFT_rdict.pcm").is_file()
    assert main(["config", "--incdir"]) == 0
    inc = Path(capsys.readouterr().out.strip())
    assert (inc / "RooEFT" / "RooEFTUnbinnedPdf.h").is_file()
    assert main(["config", "--cmake"]) == 0
    assert (Path(capsys.readouterr().out.strip()) / "RooEFTConfig.cmake").is_file()


def test_include_dir_prefers_the_build_snapshot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With ROOEFT_LIBRARY_DIR, cling must parse the headers the library was built from (the
    build's include/ snapshot), not cpp/include edited since: a mismatch corrupts the heap."""
    from rooeft import _roofit

    monkeypatch.setenv("ROOEFT_LIBRARY_DIR", str(tmp_path))
    fallback = _roofit.include_dir()
    assert fallback != tmp_path / "include" and (fallback / "RooEFT" / "RooEFTUnbinnedPdf.h").is_file()
    (tmp_path / "include" / "RooEFT").mkdir(parents=True)
    assert _roofit.include_dir() == tmp_path / "include"
