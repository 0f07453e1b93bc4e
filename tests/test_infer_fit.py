"""rooeft.infer.fit and Asimov datasets against independent numpy likelihoods."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import brentq, minimize

from rooeft.infer import FitResult, asimov_dataset, fit, get_model, read_json, write_json

from test_infer_workspaces import mixed_numpy_nll, mixed_workspace, profile_numpy


@pytest.fixture
def mixed(ROOT: Any, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return mixed_workspace(ROOT, tmp_path / "mixed.root", tmp_path)


def _numpy_fit(info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    f = lambda v: mixed_numpy_nll(v[0], v[1], info)  # noqa: E731
    res = minimize(f, [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12})
    h = np.array([1e-4, 1e-3])
    hess = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
            hess[i, j] = (f(res.x + ei + ej) - f(res.x + ei - ej) - f(res.x - ei + ej) + f(res.x - ei - ej)) / (
                4 * h[i] * h[j]
            )
    return res.x, np.linalg.inv(hess)


def test_fit_matches_numpy_likelihood(mixed: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path, info = mixed
    res = fit(path, minos=["c"])
    assert res.ok and res.status == 0 and res.cov_quality == 3
    assert [a.name for a in res.attempts] == ["migrad"]
    xhat, cov = _numpy_fit(info)
    sig = np.sqrt(np.diag(cov))
    c, lumi = res.parameters["c"], res.parameters["lumi"]
    assert c.value == pytest.approx(xhat[0], abs=0.02 * sig[0])
    assert lumi.value == pytest.approx(xhat[1], abs=0.02 * sig[1])
    assert c.error == pytest.approx(sig[0], rel=0.01)
    assert lumi.error == pytest.approx(sig[1], rel=0.01)
    rho = cov[0, 1] / (sig[0] * sig[1])
    assert res.correlation_names == ("c", "lumi")
    assert res.correlation[0][1] == pytest.approx(rho, abs=0.01)
    # pulls and constraints of the constrained nuisance (prefit 0 ± 1)
    assert lumi.constrained and not c.constrained and c.poi and not lumi.poi
    assert res.pulls == {"lumi": pytest.approx(lumi.value)}
    assert res.constraints == {"lumi": pytest.approx(lumi.error)}
    # Minos = crossings of the numpy profile at ΔNLL = 0.5
    pmin = profile_numpy(mixed_numpy_nll_info(info), xhat[0])
    g = lambda cv: profile_numpy(mixed_numpy_nll_info(info), cv) - pmin - 0.5  # noqa: E731
    lo = brentq(g, xhat[0] - 3 * sig[0], xhat[0]) - xhat[0]
    hi = brentq(g, xhat[0], xhat[0] + 3 * sig[0]) - xhat[0]
    assert c.error_lo == pytest.approx(lo, abs=0.01 * sig[0])
    assert c.error_hi == pytest.approx(hi, abs=0.01 * sig[0])
    assert res.minos_status == 0
    # the NLL value agrees with the numpy one up to the constant (compare the offsets at two points)
    model = get_model(path)
    nll = model.nll(model_spec())
    model.set_values({"c": 0.0, "lumi": 0.0})
    offset = nll.getVal() - mixed_numpy_nll(0.0, 0.0, info)
    assert res.min_nll - offset == pytest.approx(mixed_numpy_nll(xhat[0], xhat[1], info), abs=1e-4)
    # JSON round trip in the shared format
    out = write_json(tmp_path / "fit.json", res)
    raw = json.loads(out.read_text())
    assert raw["kind"] == "fit" and set(raw) == {
        "kind",
        "status",
        "cov_quality",
        "min_nll",
        "asimov",
        "parameters",
        "correlation",
        "at_limit",
        "attempts",
        "yields",
        "minos_status",
        "minos_failed",
    }
    assert raw["at_limit"] == [] and raw["attempts"][0]["name"] == "migrad" and raw["attempts"][0]["calls"] > 0
    assert set(raw["parameters"]["c"]) == {
        "value",
        "error",
        "error_lo",
        "error_hi",
        "prefit",
        "prefit_error",
        "constrained",
        "poi",
        "at_limit",
        "minos",
    }
    back = read_json(out)
    assert isinstance(back, FitResult) and back.to_dict() == res.to_dict()


def mixed_numpy_nll_info(info: dict[str, Any]) -> Any:
    return lambda c, lumi: mixed_numpy_nll(c, lumi, info)


def model_spec() -> Any:
    from rooeft.infer import DataSpec

    return DataSpec()


def test_failed_fit_is_reported_with_all_attempts(mixed: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path, _ = mixed
    # with the exact gradient and Hessian of the kernel engine Minuit converges within 3 of its
    # calls (the kernel evaluations also count the Hessian's gradient passes)...
    quick = fit(path, max_calls=3, engine="kernel")
    assert quick.ok and quick.attempts[0].name == "migrad"
    # ...with RooFit's numerical derivatives it cannot: every retry fails
    res = fit(path, max_calls=3, engine="roofit")
    assert not res.ok and res.status != 0
    assert [a.name for a in res.attempts] == ["migrad", "migrad-strategy2", "migrad-restart", "simplex-migrad"]
    assert [a.strategy for a in res.attempts] == [1, 2, 2, 2]
    assert all(a.status != 0 for a in res.attempts)
    assert "attempts: migrad(status" in res.table()
    d = write_json(tmp_path / "failed.json", res)
    assert json.loads(d.read_text())["status"] == res.status  # reported, not dropped
    # a fixed (conditional) fit and its bad input
    cond = fit(path, fixed={"c": 0.1}, hesse=False)
    assert cond.status == 0 and cond.parameters["c"].value == 0.1 and cond.parameters["c"].error == 0.0
    from rooeft.infer import InferenceError

    with pytest.raises(InferenceError, match=r"c=9 is outside its range \[-3, 3\]"):
        fit(path, fixed={"c": 9.0})
    with pytest.raises(InferenceError, match="unknown fixed parameter 'cHW'"):
        fit(path, fixed={"cHW": 0.0})


def test_asimov_dataset_binned_and_unbinned(mixed: tuple[Path, dict[str, Any]]) -> None:
    path, info = mixed
    theta = 0.4
    data = asimov_dataset(path, {"c": theta})
    cols = {k.decode() if isinstance(k, bytes) else k: v for k, v in data.to_numpy().items()}
    ch = cols["CMS_channel"]
    binned = cols["_weight_"][ch == 0]
    expected = info["sig"] * (1 + info["lin"] * theta + info["quad"] * theta**2) + info["bkg"]
    np.testing.assert_allclose(binned, expected, rtol=1e-12)
    np.testing.assert_allclose(cols["x_bin"][ch == 0], [0.5, 1.5, 2.5])
    sim = info["sim"]
    w = sim["w_sm"] + theta * sim["w_c"] + theta**2 * sim["w_c_c"]
    np.testing.assert_allclose(cols["_weight_"][ch == 1], w, rtol=1e-12)
    np.testing.assert_allclose(cols["x"][ch == 1], sim["x"])
    # the Asimov fit of the binned-only expectation returns the truth; the global observable is nominal
    res = fit(path, asimov={"c": theta})
    assert res.asimov and res.ok
    assert get_model(path).var("lumi_In").getVal() == 0.0
    # the unbinned channel's simulation has finite statistics: the truth within a fraction of σ
    assert res.parameters["c"].value == pytest.approx(theta, abs=0.3 * res.parameters["c"].error)
    assert res.parameters["lumi"].value == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize("engine", ["kernel", "roofit"])
def test_failed_minos_is_reported_not_hidden(
    ROOT: Any, mixed: tuple[Path, dict[str, Any]], tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Minos error that runs into the POI's range limit fails: the parameter is flagged (JSON,
    table) and `rooeft fit` exits 3 instead of printing the Hesse error as if it were Minos'."""
    from rooeft.cli import main

    path, info = mixed
    xhat, cov = _numpy_fit(info)
    sig = float(np.sqrt(cov[0, 0]))
    f = ROOT.TFile.Open(str(path))
    w = f.Get("w")
    w.var("c").setRange(xhat[0] - 0.3 * sig, xhat[0] + 5 * sig)  # the lower crossing is outside
    w.var("c").setVal(xhat[0])
    cut = tmp_path / "cut.root"
    w.writeToFile(str(cut))
    f.Close()
    res = fit(cut, minos=["c"], engine=engine)
    assert res.ok
    assert res.minos_failed == ["c"] and res.parameters["c"].minos is False
    assert res.parameters["c"].error_lo == pytest.approx(-res.parameters["c"].error)
    raw = res.to_dict()
    assert raw["minos_failed"] == ["c"] and raw["parameters"]["c"]["minos"] is False
    assert "[Minos failed: Hesse]" in res.table()
    good = fit(path, minos=["c"], engine=engine)
    assert good.minos_failed == [] and good.parameters["c"].minos is True
    assert good.parameters["lumi"].minos is None
    code = main(["fit", str(cut), "--minos", "c", "--engine", engine, "-o", str(tmp_path / f"f_{engine}.json")])
    assert code == 3
    assert "Minos failed for c" in capsys.readouterr().err
    assert json.loads((tmp_path / f"f_{engine}.json").read_text())["minos_failed"] == ["c"]


def test_kernel_minimisers_belong_to_python(mixed: tuple[Path, dict[str, Any]]) -> None:
    """``ROOT.Math.Factory.CreateMinimizer`` returns an object cppyy does not own: without taking
    ownership every fit leaves ~45 kB of Minuit2 state behind (GBs over a Neyman construction)."""
    import weakref

    from rooeft.infer.kernel import run_minuit
    from rooeft.infer.model import DataSpec

    path, _ = mixed
    model = get_model(path, engine="kernel")
    knll = model.likelihood(DataSpec())
    floating = list(model.pois)
    start = {n: model.var(n).getVal() for n in knll.names}
    run = run_minuit(knll, floating, start, model._steps(floating), strategy=1, tolerance=0.01, max_calls=None)
    assert run.status == 0
    assert run.minimizer.__python_owns__
    gone = weakref.ref(run.minimizer)
    del run
    assert gone() is None
