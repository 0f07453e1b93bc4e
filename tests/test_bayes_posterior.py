"""rooeft.bayes on a hand-built binned workspace (one coefficient cHW, a lumi nuisance): nested
sampling against posteriors integrated on a grid with an independent numpy likelihood, the
evidence, JSON/npz round trip, the corner plot and the ``rooeft posterior`` command."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import ndtr

from rooeft.bayes import (
    LOGL_FLOOR,
    Prior,
    PriorError,
    WorkspaceLikelihood,
    comparison_table,
    corner_plot,
    hdi,
    read_posterior,
    sample_posterior,
    write_posterior,
)
from rooeft.bayes.summary import CREDIBILITY
from rooeft.cli import main

from reference import code4_mult

EDGES = [0.0, 1.0, 2.0, 3.0]
SIG = np.array([60.0, 25.0, 8.0])
LIN = np.array([0.05, 0.3, 0.8])
QUAD = np.array([0.02, 0.15, 0.9])
BKG = np.array([200.0, 40.0, 6.0])
KAPPA = 1.1
DATA = np.array([258.0, 63.0, 12.0])  # skewed, flat-topped posterior in cHW
C_RANGE = (-3.0, 3.0)


def expected(c: Any, nu: Any = 0.0) -> Any:
    """Per-bin yields at (c, ν): shape (..., 3)."""
    c = np.asarray(c, dtype=float)[..., None]
    k = np.vectorize(lambda a: code4_mult(float(a), KAPPA, 1 / KAPPA))(np.asarray(nu, dtype=float))[..., None]
    return (SIG * (1 + LIN * c + QUAD * c * c) + BKG) * k


def constraint(nu: Any) -> Any:
    """−ln of the lumi constraint without its constant: RooFit normalises the Gaussian over the
    global observable's range [−5, 5], which adds +ln(Φ(5 − ν) − Φ(−5 − ν))."""
    nu = np.asarray(nu, dtype=float)
    return 0.5 * nu**2 + np.log(ndtr(5.0 - nu) - ndtr(-5.0 - nu))


def nll(c: Any, nu: Any = 0.0, data: np.ndarray = DATA) -> Any:
    """Extended Poisson NLL + Gaussian constraint, without constants."""
    n = expected(c, nu)
    return np.sum(n - data * np.log(n), axis=-1) + constraint(nu)


def build_workspace(ROOT: Any, path: Path) -> Path:
    keep: list[Any] = []
    c = ROOT.RooRealVar("cHW", "cHW", 0.0, *C_RANGE)
    lumi = ROOT.RooRealVar("lumi", "lumi", 0.0, -5.0, 5.0)
    lumi_in = ROOT.RooRealVar("lumi_In", "lumi_In", 0.0, -5.0, 5.0)
    lumi_in.setConstant(True)
    one = ROOT.RooFit.RooConst(1.0)
    cons = ROOT.RooGaussian("lumi_Pdf", "lumi_Pdf", lumi, lumi_in, one)
    x = ROOT.RooRealVar("x_bin", "x", 0.0, EDGES[0], EDGES[-1])
    x.setBinning(ROOT.RooBinning(len(EDGES) - 1, np.asarray(EDGES)))
    pdf = ROOT.RooEFTTemplatePdf("pdf_bin", "", x, EDGES, ROOT.RooArgList(c))
    pdf.addProcess("sig", SIG.tolist(), np.stack([np.ones(3), LIN, QUAD], axis=1).ravel().tolist())
    pdf.addProcess("bkg", BKG.tolist())
    for p in ("sig", "bkg"):
        pdf.addNormSystematic(lumi, p, KAPPA, 1 / KAPPA, 4)
    cat = ROOT.RooCategory("CMS_channel", "CMS_channel")
    cat.defineType("bin", 0)
    prod = ROOT.RooProdPdf("pdf_bin_withc", "", ROOT.RooArgList(pdf, cons))
    sim = ROOT.RooSimultaneous("model_s", "model_s", cat)
    sim.addPdf(prod, "bin")
    wvar = ROOT.RooRealVar("_weight_", "_weight_", 1.0)
    centres = 0.5 * (np.asarray(EDGES[1:]) + np.asarray(EDGES[:-1]))
    arrays = {"x_bin": centres, "CMS_channel": np.zeros(3, dtype=np.int32), "_weight_": DATA}
    data = ROOT.RooDataSet.from_numpy(arrays, ROOT.RooArgSet(x, cat, wvar), name="data_obs", weight_name="_weight_")
    keep += [c, lumi, lumi_in, one, cons, x, pdf, cat, prod, sim, wvar, data]
    w = ROOT.RooWorkspace("w")
    w.Import(sim)
    w.Import(data)
    mc = ROOT.RooStats.ModelConfig("ModelConfig", w)
    mc.SetPdf(w.pdf("model_s"))
    mc.SetParametersOfInterest(ROOT.RooArgSet(w.var("cHW")))
    mc.SetObservables(ROOT.RooArgSet(w.var("x_bin"), w.cat("CMS_channel")))
    mc.SetNuisanceParameters(ROOT.RooArgSet(w.var("lumi")))
    mc.SetGlobalObservables(ROOT.RooArgSet(w.var("lumi_In")))
    w.Import(mc)
    meta = {"version": 1, "coefficients": ["cHW"], "channels": [{"name": "bin", "kind": "binned"}]}
    w.Import(ROOT.TNamed("rooeft_metadata", json.dumps(meta)))
    w.writeToFile(str(path))
    return path


@pytest.fixture(scope="module")
def workspace(ROOT: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workspace(ROOT, tmp_path_factory.mktemp("bayes") / "ws.root")


# ---------------------------------------------------------------- grid references
C_GRID = np.linspace(*C_RANGE, 3001)
NU_GRID = np.linspace(-5.0, 5.0, 801)


def grid_marginal(data: np.ndarray = DATA) -> tuple[np.ndarray, float]:
    """Marginal posterior weights of c on C_GRID (ν marginalised, flat priors) and −ln of the
    unnormalised integral ∫∫ e^{−nll} dc dν (for the evidence)."""
    nn = NU_GRID[None, :]
    # code-4 factor on the ν grid once (it is the expensive part of expected())
    k = np.array([code4_mult(float(a), KAPPA, 1 / KAPPA) for a in NU_GRID])
    base = SIG * (1 + LIN * C_GRID[:, None] + QUAD * C_GRID[:, None] ** 2) + BKG  # (nc, 3)
    n = base[:, None, :] * k[None, :, None]
    val = np.sum(n - data * np.log(n), axis=-1) + constraint(nn)
    m = val.min()
    like = np.exp(-(val - m))
    dc, dnu = C_GRID[1] - C_GRID[0], NU_GRID[1] - NU_GRID[0]
    integral = np.trapezoid(np.trapezoid(like, dx=dnu, axis=1), dx=dc)
    return np.trapezoid(like, dx=dnu, axis=1), m - math.log(integral)


def grid_intervals(weights: np.ndarray) -> dict[str, tuple[float, float]]:
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (weights[1:] + weights[:-1]))])
    cdf /= cdf[-1]
    out = {}
    for key, cl in CREDIBILITY.items():
        out[key] = (float(np.interp((1 - cl) / 2, cdf, C_GRID)), float(np.interp((1 + cl) / 2, cdf, C_GRID)))
        out[f"hdi{key}"] = hdi(C_GRID, cl, weights)
    return out


@pytest.fixture(scope="module")
def result(workspace: Path) -> Any:
    return sample_posterior(workspace, live_points=800, seed=7, max_calls=60_000, label="test")


# ---------------------------------------------------------------- tests
def test_loglike_is_minus_roofit_nll_and_matches_numpy(workspace: Path) -> None:
    like = WorkspaceLikelihood(workspace)
    assert like.names == ("cHW", "lumi") and like.pois == ("cHW",)
    pts = np.array([[0.0, 0.0], [0.7, -1.3], [-2.1, 0.4], [1.5, 2.2]])
    ll = like.loglike(pts)
    ref = -nll(pts[:, 0], pts[:, 1])
    # RooFit adds only a constant (the constraint's normalisation): differences agree
    np.testing.assert_allclose(ll - ll[0], ref - ref[0], rtol=1e-9, atol=1e-7)
    assert like.loglike(pts[1]) == pytest.approx(ll[1])
    # a point outside the variables' ranges is an impossible point, not a crash
    assert like.loglike(np.array([[9.0, 0.0]]))[0] == LOGL_FLOOR and like.failed_calls == 1
    like.restore()


def test_prior_transform_maps_the_unit_cube(workspace: Path) -> None:
    like = WorkspaceLikelihood(workspace, priors={"cHW": Prior.gaussian(0.0, 1.0)})
    u1 = (ndtr(1.0) - ndtr(-3.0)) / (ndtr(3.0) - ndtr(-3.0))  # cube coordinate of cHW = 1 (truncated at ±3)
    corners = like.transform(np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [u1, 0.75]]))
    np.testing.assert_allclose(corners[0], [-3.0, -5.0])  # truncated to the range; lumi: 0 ± 5σ
    np.testing.assert_allclose(corners[1], [3.0, 5.0])
    np.testing.assert_allclose(corners[2], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(corners[3], [1.0, 2.5], atol=1e-9)
    assert like.priors["lumi"] == Prior.uniform(-5.0, 5.0)
    like.restore()
    fixed = WorkspaceLikelihood(workspace, nuisances="fixed", priors={"cHW": Prior.uniform(-1, 2)})
    assert fixed.names == ("cHW",) and fixed.fixed == {"lumi": 0.0}
    np.testing.assert_allclose(fixed.transform([0.25]), [-0.25])
    fixed.restore()


def test_bad_requests_give_clear_errors(workspace: Path) -> None:
    with pytest.raises(ValueError, match="unknown POI 'cX'"):
        WorkspaceLikelihood(workspace, pois=["cX"])
    with pytest.raises(PriorError, match="prior given for 'lumi', which is a nuisance and nuisances='fixed'"):
        WorkspaceLikelihood(workspace, nuisances="fixed", priors={"lumi": Prior.uniform()})
    with pytest.raises(PriorError, match=r"extends beyond the parameter's range \[-3, 3\]"):
        WorkspaceLikelihood(workspace, priors={"cHW": Prior.uniform(-4, 4)})
    with pytest.raises(ValueError, match="nuisances='marginal'"):
        WorkspaceLikelihood(workspace, nuisances="marginal")
    with pytest.raises(ValueError, match="sampled and cannot also be fixed"):
        WorkspaceLikelihood(workspace, fixed={"lumi": 0.0})
    with pytest.raises(ValueError, match="live_points"):
        sample_posterior(workspace, live_points=2)


def test_marginal_posterior_and_evidence_match_grid_integration(result: Any) -> None:
    weights, neg_log_int = grid_marginal()
    ref = grid_intervals(weights)
    c = C_GRID
    mean = np.sum(weights * c) / np.sum(weights)
    std = math.sqrt(np.sum(weights * (c - mean) ** 2) / np.sum(weights))
    got = result.intervals["cHW"]
    # equal-tailed end points: within 4 × the standard error of a quantile, sqrt(q(1 − q)/ESS)/p(x_q),
    # with the effective sample size of the weighted dead points
    w = result.weights / result.weights.sum()
    ess = 1.0 / np.sum(w**2)
    assert ess > 1000
    density = weights / np.trapezoid(weights, C_GRID)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(C_GRID))])
    for key in ("68", "95"):
        cl = CREDIBILITY[key]
        for i, q in ((0, (1 - cl) / 2), (1, (1 + cl) / 2)):
            x = ref[key][i]
            tol = 4.0 * math.sqrt(q * (1 - q) / ess) / np.interp(x, C_GRID, density)
            assert tol < 0.2 * std
            assert got[key][i] == pytest.approx(x, abs=tol), key
    # highest-density intervals: the shortest interval's position is ill-conditioned on a flat-topped
    # posterior (any shift along the top changes the width little), so check what defines it: the true
    # probability inside is cl and the width is the minimal one; the end points only loosely
    for key in ("hdi68", "hdi95"):
        cl = CREDIBILITY[key.removeprefix("hdi")]
        lo, hi = got[key]
        inside = np.interp(hi, C_GRID, cdf) - np.interp(lo, C_GRID, cdf)
        assert inside == pytest.approx(cl, abs=4 * math.sqrt(cl * (1 - cl) / ess)), key
        assert hi - lo == pytest.approx(ref[key][1] - ref[key][0], rel=0.06), key
        assert (lo, hi) == pytest.approx(ref[key], abs=0.3 * std), key
    est = result.estimates["cHW"]
    assert est.mean == pytest.approx(mean, abs=4 * std / math.sqrt(ess))
    assert est.std == pytest.approx(std, rel=0.05)
    # equal-weighted samples describe the same posterior
    assert np.mean(result.column("cHW")) == pytest.approx(mean, abs=5 * std / math.sqrt(ess))
    # evidence: ln Z = ln ∫∫ L π with flat priors 1/6 (c) and 1/10 (lumi); RooFit's NLL differs from
    # ours by the constraint normalisation ln √(2π)
    logz_ref = -neg_log_int - math.log(6.0) - math.log(10.0) - 0.5 * math.log(2 * math.pi)
    assert result.logz == pytest.approx(logz_ref, abs=3 * result.logz_err + 0.1)
    assert result.converged and result.failed_calls == 0 and result.ncall < 60_000


def test_json_npz_round_trip(result: Any, tmp_path: Path) -> None:
    jp, _ = write_posterior(result, tmp_path / "out" / "posterior.json")
    d = json.loads(jp.read_text())
    assert d["kind"] == "posterior" and d["pois"] == ["cHW"] and d["samples_file"] == "posterior_samples.npz"
    assert set(d["intervals"]["cHW"]) == {"68", "95", "hdi68", "hdi95"}
    assert {"logz", "logz_err", "ncall"} <= set(d)
    assert d["priors"]["lumi"] == {"kind": "uniform", "low": -5.0, "high": 5.0}
    back = read_posterior(jp)
    np.testing.assert_array_equal(back.samples, result.samples)
    np.testing.assert_array_equal(back.weights, result.weights)
    assert back.intervals == result.intervals and back.estimates == result.estimates
    assert back.priors == result.priors and back.logz == result.logz and back.parameters == ("cHW", "lumi")
    assert not list((tmp_path / "out").glob(".*tmp"))  # atomic writes leave no temp files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "scan1d"}))
    with pytest.raises(ValueError, match="not a posterior result"):
        read_posterior(bad)


def test_comparison_table_and_corner_plot(result: Any, tmp_path: Path) -> None:
    scan = {
        "kind": "scan1d",
        "poi": "cHW",
        "profiled": True,
        "asimov": False,
        "label": "",
        "bestfit": {"cHW": 0.3, "nll": 0.0},
        "points": [],
        "intervals": {"68": [[-0.2, 0.6]], "95": [[-1.9, -1.2], [-0.5, 0.9]]},
    }
    table = comparison_table(result, [scan])
    assert "PL 68%" in table and "[-0.2, 0.6]" in table and "[-1.9, -1.2] ∪ [-0.5, 0.9]" in table
    with pytest.raises(ValueError, match="not a scan1d result"):
        comparison_table(result, [{"kind": "fit"}])
    paths = corner_plot(result, tmp_path / "corner", scans=[scan])
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)


def test_fixed_nuisance_is_reproducible_and_matches_1d_grid(workspace: Path) -> None:
    kw: dict[str, Any] = {"nuisances": "fixed", "live_points": 150, "seed": 11, "priors": ["cHW=uniform:-2:2"]}
    r1 = sample_posterior(workspace, **kw)
    r2 = sample_posterior(workspace, **kw)
    np.testing.assert_array_equal(r1.samples, r2.samples)
    assert r1.logz == r2.logz and r1.parameters == ("cHW",)
    g = np.linspace(-2, 2, 4001)
    v = nll(g)
    w = np.exp(-(v - v.min()))
    cdf = np.cumsum(w) / np.sum(w)
    lo, hi = np.interp([0.025, 0.975], cdf, g)
    std = math.sqrt(np.sum(w * g * g) / np.sum(w) - (np.sum(w * g) / np.sum(w)) ** 2)
    assert r1.intervals["cHW"]["95"] == pytest.approx((lo, hi), abs=0.1 * std)


def test_cli_posterior_asimov(workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "post"
    scan = tmp_path / "scan.json"
    scan.write_text(
        json.dumps(
            {
                "kind": "scan1d",
                "poi": "cHW",
                "bestfit": {"cHW": 0.5},
                "intervals": {"68": [[0.2, 0.7]], "95": [[-0.1, 0.9]]},
            }
        )
    )
    args = ["posterior", str(workspace), "--poi", "cHW", "--asimov", "cHW=0.5", "--nuisances", "fixed"]
    args += [
        "--prior",
        "cHW=uniform:-1.5:2",
        "--live-points",
        "100",
        "--seed",
        "3",
        "--scan",
        str(scan),
        "--output-dir",
        str(out),
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "68% HDI" in text and "PL 68%" in text and "ln Z =" in text
    d = json.loads((out / "posterior.json").read_text())
    assert d["asimov"] is True and d["asimov_values"] == {"cHW": 0.5}
    assert (out / "posterior_samples.npz").is_file()
    assert (out / "posterior_corner.png").is_file() and (out / "posterior_corner.pdf").is_file()
    # Asimov data at cHW = 0.5: the likelihood peaks there, inside the 68% interval
    lo, hi = d["intervals"]["cHW"]["hdi68"]
    assert lo < 0.5 < hi
    # invalid prior spec: exit code 1 and a clear message
    assert main(["posterior", str(workspace), "--prior", "cHW=flat", "--output-dir", str(out)]) == 1
    assert "unknown prior kind 'flat'" in capsys.readouterr().err


def test_profiled_nuisance_mode_matches_profile_grid(workspace: Path) -> None:
    from scipy.optimize import minimize_scalar

    r = sample_posterior(workspace, nuisances="profile", live_points=100, seed=1, priors={"cHW": "uniform:-2:1.5"})
    assert r.parameters == ("cHW",) and r.failed_calls == 0
    g = np.linspace(-2, 1.5, 351)
    v = np.array([minimize_scalar(lambda n, c=c: float(nll(c, n)), bounds=(-5, 5), method="bounded").fun for c in g])
    w = np.exp(-(v - v.min()))
    lo, hi = np.interp([0.025, 0.975], np.cumsum(w) / w.sum(), g)
    assert r.intervals["cHW"]["95"] == pytest.approx((lo, hi), abs=0.15)  # 100 live points: a smoke test
