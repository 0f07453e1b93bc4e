"""RooEFTUnbinnedPdf: extended unbinned likelihood against an independent numpy computation,
fits, caching per dataset, error handling."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rooeft.testing.onnx_toys import column_values

from reference import code4_mult, exp_interp, quad_poly

# A two-process, two-coefficient model with one per-event shape systematic (closed forms of x).
TWO_PROC = [
    ("frac:sig", "sigmoid", [0.5, 0.8]),
    ("frac:bkg", "1-sigmoid", [0.5, 0.8]),
    ("lin:sig:c1", "poly", [0.0, 0.6]),
    ("lin:sig:c2", "poly", [0.2, 0.3]),
    ("quad:sig:c1:c1", "poly", [0.0, 0.0, 0.09]),
    ("quad:sig:c1:c2", "poly", [0.0, 0.1, 0.1]),
    ("quad:sig:c2:c2", "poly", [0.05, 0.0, 0.05]),
    ("sysup:sig:jes", "exp", [0.05, 0.1]),
    ("sysdown:sig:jes", "exp", [-0.04, -0.08]),
    ("sysup:bkg:jes", "exp", [0.0, 0.02]),
    ("sysdown:bkg:jes", "exp", [0.0, -0.03]),
]
XSEC_SIG = [1.0, 0.4, 0.25, 0.3, 0.05, 0.12]
YIELDS = {"sig": 800.0, "bkg": 1200.0}
KAPPA_JES = {"sig": (1.03, 0.96), "bkg": (1.01, 0.985)}
KAPPA_LUMI = (1.025, 1 / 1.025)


def numpy_nll(x: np.ndarray, w: np.ndarray, c1: float, c2: float, jes: float, lumi: float, mu: float) -> float:
    """ν_tot − Σ w_i ln R(x_i) of the TWO_PROC model, event by event from the closed forms."""
    cols = {name: column_values(kind, coefs, x) for name, kind, coefs in TWO_PROC}
    f_lumi = code4_mult(lumi, *KAPPA_LUMI)
    nll_sum = 0.0
    for i in range(x.size):
        r_sig = quad_poly(
            [c1, c2],
            [cols["lin:sig:c1"][i], cols["lin:sig:c2"][i]],
            {(0, 0): cols["quad:sig:c1:c1"][i], (0, 1): cols["quad:sig:c1:c2"][i], (1, 1): cols["quad:sig:c2:c2"][i]},
        )
        s_sig = exp_interp(jes, cols["sysup:sig:jes"][i], cols["sysdown:sig:jes"][i])
        s_bkg = exp_interp(jes, cols["sysup:bkg:jes"][i], cols["sysdown:bkg:jes"][i])
        R = f_lumi * cols["frac:sig"][i] * r_sig * s_sig + f_lumi * mu * cols["frac:bkg"][i] * s_bkg
        nll_sum -= w[i] * np.log(R)
    xs = quad_poly([c1, c2], XSEC_SIG[1:3], {(0, 0): XSEC_SIG[3], (0, 1): XSEC_SIG[4], (1, 1): XSEC_SIG[5]})
    nu_sig = YIELDS["sig"] * f_lumi * xs * exp_interp(jes, *KAPPA_JES["sig"])
    nu_bkg = YIELDS["bkg"] * f_lumi * mu * exp_interp(jes, *KAPPA_JES["bkg"])
    return float(nu_sig + nu_bkg + nll_sum)


class TwoProc:
    """The TWO_PROC pdf with its parameters (kept alive together)."""

    def __init__(self, ROOT: Any, path: Path) -> None:
        self.x = ROOT.RooRealVar("x", "x", 0, -10, 10)
        self.c1 = ROOT.RooRealVar("c1", "c1", 0, -3, 3)
        self.c2 = ROOT.RooRealVar("c2", "c2", 0, -3, 3)
        self.jes = ROOT.RooRealVar("jes", "jes", 0, -5, 5)
        self.lumi = ROOT.RooRealVar("lumi", "lumi", 0, -5, 5)
        self.mu = ROOT.RooRealVar("mu_bkg", "mu_bkg", 1, 0, 5)
        self.pdf = ROOT.RooEFTUnbinnedPdf(
            "pdf",
            "pdf",
            str(path),
            ROOT.RooArgList(self.x),
            ROOT.RooArgList(self.c1, self.c2),
            ROOT.RooArgList(self.jes),
        )
        for p, n in YIELDS.items():
            self.pdf.setYield(p, n)
        self.pdf.setCrossSection("sig", XSEC_SIG)
        for p, (up, down) in KAPPA_JES.items():
            self.pdf.setShapeNormEffect(p, "jes", up, down)
        self.pdf.addNormSystematic(self.lumi, [KAPPA_LUMI[0]] * 2, [KAPPA_LUMI[1]] * 2, 4)
        self.pdf.setRateModifier("bkg", self.mu)

    def set(self, c1: float, c2: float, jes: float, lumi: float, mu: float) -> None:
        for v, val in ((self.c1, c1), (self.c2, c2), (self.jes, jes), (self.lumi, lumi), (self.mu, mu)):
            v.setVal(val)


@pytest.fixture
def two_proc_path(columns_model: Any) -> Path:
    return columns_model(TWO_PROC, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])


POINTS = [
    (0.0, 0.0, 0.0, 0.0, 1.0),
    (0.3, -0.2, 0.5, -0.7, 1.1),
    (-0.4, 0.5, -1.3, 1.2, 0.9),
    (0.1, 0.1, 2.0, -2.0, 1.0),
]


@pytest.mark.parametrize("backend", ["cpu", "legacy"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_equals_numpy(ROOT: Any, two_proc_path: Path, backend: str, weighted: bool) -> None:
    m = TwoProc(ROOT, two_proc_path)
    rng = np.random.default_rng(5)
    x = rng.normal(0.3, 1.5, size=400)
    w = rng.uniform(0.5, 1.5, size=x.size) if weighted else np.ones_like(x)
    cols = {"x": x, "w": w} if weighted else {"x": x}
    wvar = ROOT.RooRealVar("w", "w", 1, 0, 10)
    obs = ROOT.RooArgSet(m.x, wvar) if weighted else ROOT.RooArgSet(m.x)
    data = ROOT.RooDataSet.from_numpy(cols, obs, weight_name="w" if weighted else None)
    if backend == "legacy":
        m.pdf.precompute(data)
    nll = m.pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend(backend))
    m.set(*POINTS[0])
    base_root = nll.getVal()
    base_np = numpy_nll(x, w, *POINTS[0])
    for pt in POINTS[1:]:
        m.set(*pt)
        assert nll.getVal() - base_root == pytest.approx(numpy_nll(x, w, *pt) - base_np, rel=1e-7, abs=1e-7)
    # cpu: one batched call; legacy: precompute() plus at most one single-event probe that RooFit
    # makes at the observable's current value when it builds the likelihood
    assert m.pdf.networkCalls() == (1 if backend == "cpu" else 2)


def test_expected_events_and_normalisation(ROOT: Any, two_proc_path: Path) -> None:
    m = TwoProc(ROOT, two_proc_path)
    pt = (0.3, -0.2, 0.5, -0.7, 1.1)
    m.set(*pt)
    c1, c2, jes, lumi, mu = pt
    f_lumi = code4_mult(lumi, *KAPPA_LUMI)
    xs = quad_poly([c1, c2], XSEC_SIG[1:3], {(0, 0): XSEC_SIG[3], (0, 1): XSEC_SIG[4], (1, 1): XSEC_SIG[5]})
    expected = YIELDS["sig"] * f_lumi * xs * exp_interp(jes, *KAPPA_JES["sig"]) + YIELDS[
        "bkg"
    ] * f_lumi * mu * exp_interp(jes, *KAPPA_JES["bkg"])
    assert m.pdf.expectedEvents(ROOT.RooArgSet(m.x)) == pytest.approx(expected, rel=1e-12)
    # analytic integral over x: ν_tot / N_0, so pdf(x) = R(x) N_0 / ν_tot
    m.x.setVal(0.7)
    raw = m.pdf.getVal()
    normed = m.pdf.getVal(ROOT.RooArgSet(m.x))
    assert normed == pytest.approx(raw * sum(YIELDS.values()) / expected, rel=1e-12)


def _sample_single(rng: np.random.Generator, c: float, n_mean: float) -> np.ndarray:
    """Events from p(x|c) ∝ N(x; 0, 1) (1 + c x / 2)² (accept-reject), Poisson count."""
    n = rng.poisson(n_mean * (1 + c * c / 4))
    out: list[np.ndarray] = []
    while sum(a.size for a in out) < n:
        x = rng.normal(size=4 * n + 100)
        w = (1 + c * x / 2) ** 2
        out.append(x[rng.uniform(size=x.size) * w.max() < w])
    return np.concatenate(out)[:n]


SINGLE = [("lin:sig:c", "poly", [0.0, 1.0]), ("quad:sig:c:c", "poly", [0.0, 0.0, 0.25])]


@pytest.fixture
def single(ROOT: Any, columns_model: Any) -> tuple[Any, Any, Any]:
    path = columns_model(SINGLE, coefficients=["c"], nominal_rates={"sig": 2000.0})
    x = ROOT.RooRealVar("x", "x", 0, -10, 10)
    c = ROOT.RooRealVar("c", "c", 0, -3, 3)
    pdf = ROOT.RooEFTUnbinnedPdf("pdf", "pdf", str(path), ROOT.RooArgList(x), ROOT.RooArgList(c), ROOT.RooArgList())
    pdf.setCrossSection("sig", [1.0, 0.0, 0.25])
    return pdf, x, c


@pytest.mark.parametrize("backend", ["cpu", "legacy"])
def test_fit_recovers_true_theta(ROOT: Any, single: tuple[Any, Any, Any], backend: str) -> None:
    pdf, x, c = single
    assert pdf.expectedYield() == pytest.approx(2000.0)  # from the model's nominal_rates metadata
    truth = 0.6
    xs = _sample_single(np.random.default_rng(42), truth, 2000.0)
    data = ROOT.RooDataSet.from_numpy({"x": xs}, ROOT.RooArgSet(x))
    if backend == "legacy":
        pdf.precompute(data)
    c.setVal(0.0)
    res = pdf.fitTo(
        data,
        ROOT.RooFit.Extended(True),
        ROOT.RooFit.Save(),
        ROOT.RooFit.PrintLevel(-1),
        ROOT.RooFit.EvalBackend(backend),
        ROOT.RooFit.Minimizer("Minuit2"),
    )
    assert res.status() == 0 and res.covQual() == 3
    assert abs(c.getVal() - truth) < 3 * c.getError()
    assert 0.01 < c.getError() < 0.1
    assert pdf.networkCalls() == (1 if backend == "cpu" else 2)


def test_cache_follows_the_dataset(ROOT: Any, single: tuple[Any, Any, Any], columns_model: Any) -> None:
    pdf, x, c = single
    rng = np.random.default_rng(3)
    d1 = ROOT.RooDataSet.from_numpy({"x": _sample_single(rng, 0.2, 500)}, ROOT.RooArgSet(x))
    d2 = ROOT.RooDataSet.from_numpy({"x": _sample_single(rng, -0.4, 500)}, ROOT.RooArgSet(x))
    nll = pdf.createNLL(d1, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
    for val in np.linspace(-1, 1, 15):
        c.setVal(val)
        nll.getVal()
    assert pdf.networkCalls() == 1  # θ changes never re-run the network
    c.setVal(0.3)
    nll.setData(d2)
    v2 = nll.getVal()
    assert pdf.networkCalls() == 2
    # a fresh pdf on d2 gives the same value: nothing stale was reused
    path = columns_model(SINGLE, coefficients=["c"], nominal_rates={"sig": 2000.0})
    fresh = ROOT.RooEFTUnbinnedPdf("fresh", "f", str(path), ROOT.RooArgList(x), ROOT.RooArgList(c), ROOT.RooArgList())
    fresh.setCrossSection("sig", [1.0, 0.0, 0.25])
    nll_fresh = fresh.createNLL(d2, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
    assert v2 == pytest.approx(nll_fresh.getVal(), rel=1e-12)


def test_nonpositive_ratio_is_an_evaluation_error(ROOT: Any, columns_model: Any) -> None:
    path = columns_model([("lin:sig:c", "poly", [0.0, 1.0])], coefficients=["c"], nominal_rates={"sig": 100.0})
    x = ROOT.RooRealVar("x", "x", 0, -10, 10)
    c = ROOT.RooRealVar("c", "c", 0, -3, 3)
    pdf = ROOT.RooEFTUnbinnedPdf("pdf", "pdf", str(path), ROOT.RooArgList(x), ROOT.RooArgList(c), ROOT.RooArgList())
    ROOT.RooAbsReal.setEvalErrorLoggingMode(ROOT.RooAbsReal.CollectErrors)
    ROOT.RooAbsReal.clearEvalErrorLog()
    c.setVal(2.0)
    x.setVal(-1.0)  # R = 1 + c x = -1
    assert pdf.getVal() == pytest.approx(-1.0)
    assert ROOT.RooAbsReal.numEvalErrors() >= 1
    ROOT.RooAbsReal.clearEvalErrorLog()
    ROOT.RooAbsReal.setEvalErrorLoggingMode(ROOT.RooAbsReal.PrintErrors)
    data = ROOT.RooDataSet.from_numpy({"x": np.array([-1.0, 0.5, 2.0])}, ROOT.RooArgSet(x))
    nll = pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
    assert not np.isfinite(nll.getVal())  # NaN-packed: Minuit backs off from such points
    c.setVal(0.1)
    assert np.isfinite(nll.getVal())


def test_construction_errors_name_the_problem(ROOT: Any, two_proc_path: Path, columns_model: Any) -> None:
    x = ROOT.RooRealVar("x", "x", 0, -10, 10)
    y = ROOT.RooRealVar("y", "y", 0, -10, 10)
    c1 = ROOT.RooRealVar("c1", "c1", 0, -3, 3)
    c2 = ROOT.RooRealVar("c2", "c2", 0, -3, 3)
    jes = ROOT.RooRealVar("jes", "jes", 0, -5, 5)
    with pytest.raises(Exception, match=r"mismatched observables: given \[y\] but the model's rooeft.observables"):
        ROOT.RooEFTUnbinnedPdf(
            "p", "p", str(two_proc_path), ROOT.RooArgList(y), ROOT.RooArgList(c1, c2), ROOT.RooArgList(jes)
        )
    with pytest.raises(Exception, match=r"mismatched coefficients: given \[c2, c1\]"):
        ROOT.RooEFTUnbinnedPdf(
            "p", "p", str(two_proc_path), ROOT.RooArgList(x), ROOT.RooArgList(c2, c1), ROOT.RooArgList(jes)
        )
    with pytest.raises(Exception, match="mismatched shape nuisances"):
        ROOT.RooEFTUnbinnedPdf(
            "p", "p", str(two_proc_path), ROOT.RooArgList(x), ROOT.RooArgList(c1, c2), ROOT.RooArgList()
        )
    pdf = ROOT.RooEFTUnbinnedPdf(
        "p", "p", str(two_proc_path), ROOT.RooArgList(x), ROOT.RooArgList(c1, c2), ROOT.RooArgList(jes)
    )
    with pytest.raises(Exception, match="needs 6 term ratios"):
        pdf.setCrossSection("sig", [1.0, 0.2])
    with pytest.raises(Exception, match="unknown process 'ttbar'"):
        pdf.setYield("ttbar", 3.0)
    with pytest.raises(Exception, match="must be finite"):
        pdf.setYield("sig", float("nan"))
    no_frac = columns_model([("lin:a:c1", "poly", [0, 1])], coefficients=["c1"], processes=["a", "b"])
    with pytest.raises(Exception, match="no 'frac:a' column"):
        ROOT.RooEFTUnbinnedPdf("p", "p", str(no_frac), ROOT.RooArgList(x), ROOT.RooArgList(c1), ROOT.RooArgList())


def test_workspace_round_trip_in_fresh_process(ROOT: Any, two_proc_path: Path, tmp_path: Path) -> None:
    import rooeft._roofit as rr

    m = TwoProc(ROOT, two_proc_path)
    rng = np.random.default_rng(9)
    data = ROOT.RooDataSet.from_numpy({"x": rng.normal(0.3, 1.5, size=2000)}, ROOT.RooArgSet(m.x))
    data.SetName("data_obs")
    ws = ROOT.RooWorkspace("w")
    ws.Import(m.pdf)
    ws.Import(data)
    path = tmp_path / "ws.root"
    ws.writeToFile(str(path))
    probe = [-1.0, 0.0, 0.4, 2.5]
    pt = (0.2, -0.1, 0.3, 0.2, 1.05)
    pdf = ws.pdf("pdf")
    for name, val in zip(("c1", "c2", "jes", "lumi", "mu_bkg"), pt, strict=True):
        ws.var(name).setVal(val)
    here = []
    for v in probe:
        ws.var("x").setVal(v)
        here.append(pdf.getVal(ROOT.RooArgSet(ws.var("x"))))
    nexp = pdf.expectedEvents(ROOT.RooArgSet(ws.var("x")))
    script = textwrap.dedent(
        f"""
        import json, ROOT
        assert ROOT.gSystem.Load({str(rr.library_path())!r}) >= 0
        f = ROOT.TFile.Open({str(path)!r})
        w = f.Get("w")
        pdf = w.pdf("pdf")
        for name, val in zip(("c1", "c2", "jes", "lumi", "mu_bkg"), {pt!r}):
            w.var(name).setVal(val)
        vals = []
        for v in {probe!r}:
            w.var("x").setVal(v)
            vals.append(pdf.getVal(ROOT.RooArgSet(w.var("x"))))
        nexp = pdf.expectedEvents(ROOT.RooArgSet(w.var("x")))
        for name in ("jes", "lumi", "mu_bkg"):
            w.var(name).setConstant(True)
        for name in ("c1", "c2"):
            w.var(name).setVal(0)
        r = pdf.fitTo(w.data("data_obs"), ROOT.RooFit.Extended(True), ROOT.RooFit.Save(),
                      ROOT.RooFit.PrintLevel(-1), ROOT.RooFit.EvalBackend("cpu"))
        print(json.dumps({{"vals": vals, "nexp": nexp, "status": r.status(),
                          "c1": w.var("c1").getVal(), "c2": w.var("c2").getVal()}}))
        """
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(got["vals"], here, rtol=1e-12)
    assert got["nexp"] == pytest.approx(nexp, rel=1e-12)
    # the same fit here
    for name in ("jes", "lumi", "mu_bkg"):
        ws.var(name).setConstant(True)
    for name in ("c1", "c2"):
        ws.var(name).setVal(0)
    r = pdf.fitTo(
        ws.data("data_obs"),
        ROOT.RooFit.Extended(True),
        ROOT.RooFit.Save(),
        ROOT.RooFit.PrintLevel(-1),
        ROOT.RooFit.EvalBackend("cpu"),
    )
    assert got["status"] == r.status() == 0
    assert got["c1"] == pytest.approx(ws.var("c1").getVal(), abs=1e-6)
    assert got["c2"] == pytest.approx(ws.var("c2").getVal(), abs=1e-6)


def test_normalisation_sample_keeps_asimov_at_truth(ROOT: Any, single: tuple[Any, Any, Any]) -> None:
    """Shape × rate: normalising the shape by the learned ratio integrated over the SM simulation
    (the normalisation sample) makes the Asimov fit return the truth even when the exact rate
    disagrees with the network's mean; the normalised pdf then integrates to one over the sample."""
    pdf, x, c = single
    rng = np.random.default_rng(8)
    xs = rng.normal(size=20_000).astype(np.float32).astype(np.float64)  # SM simulation
    w = np.full(xs.size, 2000.0 / xs.size)
    # a rate polynomial that the network does not reproduce (its mean of r_c is 0, here 0.3)
    pdf.setCrossSection("sig", [1.0, 0.3, 0.25])
    wvar = ROOT.RooRealVar("w", "w", 1, 0, 10)
    data = ROOT.RooDataSet.from_numpy({"x": xs, "w": w}, ROOT.RooArgSet(x, wvar), weight_name="w")

    def asimov_fit() -> float:
        c.setVal(0.0)
        pdf.fitTo(data, Extended=True, PrintLevel=-1, EvalBackend="cpu", SumW2Error=False)
        return float(c.getVal())

    biased = asimov_fit()
    pdf.setNormalisationSample(ROOT.std.vector["float"](xs.astype(np.float32)), ROOT.std.vector["double"](w))
    fixed = asimov_fit()
    assert abs(biased) > 0.05  # the exact-rate normalisation is pulled by the inconsistency
    assert abs(fixed) < 0.01
    lin = column_values("poly", [0.0, 1.0], xs)
    quad = column_values("poly", [0.0, 0.0, 0.25], xs)
    for val in (-0.8, 0.4):
        c.setVal(val)
        r = 1 + val * lin + val * val * quad
        x.setVal(float(xs[0]))
        assert pdf.getVal(ROOT.RooArgSet(x)) == pytest.approx(r[0] / np.average(r, weights=w), rel=1e-6)


def test_normalisation_sample_integrates_the_learned_ratio_exactly(ROOT: Any, two_proc_path: Path) -> None:
    """With a normalisation sample, Σ_j w_j pdf(x_j) = Σ_j w_j for any θ and ν (shape nuisances too,
    beyond |ν| = 1 where a closed-form κ approximation fails), and the network ran once for it."""
    m = TwoProc(ROOT, two_proc_path)
    rng = np.random.default_rng(21)
    xs = rng.normal(0.3, 1.5, size=300)
    w = rng.uniform(0.5, 1.5, size=xs.size)
    calls = m.pdf.networkCalls()
    m.pdf.setNormalisationSample(ROOT.std.vector["float"](xs.astype(np.float32)), ROOT.std.vector["double"](w))
    assert m.pdf.networkCalls() == calls + 1 and m.pdf.normalisationSampleSize() == xs.size
    norm = ROOT.RooArgSet(m.x)
    for pt in [(0.0, 0.0, 0.0, 0.0, 1.0), (0.4, -0.3, 2.5, 0.7, 1.2), (-0.2, 0.5, -3.0, -1.5, 0.8)]:
        m.set(*pt)
        vals = []
        for v in xs:
            m.x.setVal(float(np.float32(v)))
            vals.append(m.pdf.getVal(norm))
        assert np.average(vals, weights=w) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(Exception, match="input values for"):
        m.pdf.setNormalisationSample(ROOT.std.vector["float"]([1.0, 2.0]), ROOT.std.vector["double"]([1.0]))


def test_generation_is_refused_with_a_clear_error(ROOT: Any, two_proc_path: Path) -> None:
    """RooFit's generate() (and any client's toy generator) gets a std::logic_error naming the way
    to make pseudo-data, instead of running TFoam on a density ratio (which crashed)."""
    m = TwoProc(ROOT, two_proc_path)
    with pytest.raises(Exception, match="cannot generate events: the pdf is a per-event ratio"):
        m.pdf.generate(ROOT.RooArgSet(m.x), 10)


def test_model_size_ceiling(ROOT: Any, tmp_path: Path) -> None:
    """A model beyond the documented ceiling (1000 inputs) is refused when its metadata is read."""
    from rooeft.testing.onnx_toys import build_mlp_model

    path = build_mlp_model(tmp_path / "wide.onnx", 1001, 1)
    x = ROOT.RooRealVar("x", "x", 0, -1, 1)
    with pytest.raises(Exception, match=r"1001 inputs and 1 outputs; at most 1000 inputs"):
        ROOT.RooEFTUnbinnedPdf("p", "p", str(path), ROOT.RooArgList(x), ROOT.RooArgList(), ROOT.RooArgList())


def _ratio_per_event(x: np.ndarray, c1: float, c2: float, jes: float, lumi: float, mu: float) -> np.ndarray:
    """R(x) of the TWO_PROC model per event, from the closed forms (as numpy_nll)."""
    cols = {name: column_values(kind, coefs, x) for name, kind, coefs in TWO_PROC}
    f_lumi = code4_mult(lumi, *KAPPA_LUMI)
    out = np.empty(x.size)
    for i in range(x.size):
        r_sig = quad_poly(
            [c1, c2],
            [cols["lin:sig:c1"][i], cols["lin:sig:c2"][i]],
            {(0, 0): cols["quad:sig:c1:c1"][i], (0, 1): cols["quad:sig:c1:c2"][i], (1, 1): cols["quad:sig:c2:c2"][i]},
        )
        s_sig = exp_interp(jes, cols["sysup:sig:jes"][i], cols["sysdown:sig:jes"][i])
        s_bkg = exp_interp(jes, cols["sysup:bkg:jes"][i], cols["sysdown:bkg:jes"][i])
        out[i] = f_lumi * (cols["frac:sig"][i] * r_sig * s_sig + mu * cols["frac:bkg"][i] * s_bkg)
    return out


def test_generation_resamples_the_normalisation_sample(ROOT: Any, two_proc_path: Path) -> None:
    """With a normalisation sample, RooFit's generate() draws its events with probability
    ∝ w_j R(x_j|θ,ν) at the current parameters: the generated histogram agrees with the weighted
    sample (χ² p-value not tiny), and differs from the SM one at a BSM point."""
    from scipy.stats import chi2

    m = TwoProc(ROOT, two_proc_path)
    rng = np.random.default_rng(8)
    xs = rng.normal(0.3, 1.5, size=3000).astype(np.float32)
    w = rng.uniform(0.5, 1.5, size=xs.size)
    m.pdf.setNormalisationSample(ROOT.std.vector["float"](xs), ROOT.std.vector["double"](w))
    pt = (0.8, -0.5, 0.7, 0.3, 1.2)
    m.set(*pt)
    ROOT.RooRandom.randomGenerator().SetSeed(5)
    n_gen = 20000
    data = m.pdf.generate(ROOT.RooArgSet(m.x), n_gen)
    gen = np.asarray(data.to_numpy()["x"], dtype=np.float64)
    assert gen.size == n_gen and np.all(np.isin(gen.astype(np.float32), xs))
    p = w * _ratio_per_event(xs.astype(np.float64), *pt)
    edges = np.quantile(xs, np.linspace(0, 1, 21))
    edges[-1] += 1e-6
    expected = n_gen * np.histogram(xs, edges, weights=p)[0] / p.sum()
    observed = np.histogram(gen, edges)[0]
    stat = float(np.sum((observed - expected) ** 2 / expected))
    assert chi2.sf(stat, len(expected) - 1) > 1e-3, stat
    sm = n_gen * np.histogram(xs, edges, weights=w * _ratio_per_event(xs.astype(np.float64), 0, 0, 0, 0, 1))[0]
    sm /= (w * _ratio_per_event(xs.astype(np.float64), 0, 0, 0, 0, 1)).sum()
    assert chi2.sf(float(np.sum((observed - sm) ** 2 / sm)), len(sm) - 1) < 1e-6  # the BSM point is not the SM


def test_ranged_integral_over_the_normalisation_sample(ROOT: Any, two_proc_path: Path) -> None:
    """A named range integrates the ratio over the normalisation-sample events inside it (not the
    full-range normalisation, the bug of the earlier pdf)."""
    m = TwoProc(ROOT, two_proc_path)
    rng = np.random.default_rng(9)
    xs = rng.normal(0.3, 1.5, size=2000).astype(np.float32)
    w = rng.uniform(0.5, 1.5, size=xs.size)
    m.pdf.setNormalisationSample(ROOT.std.vector["float"](xs), ROOT.std.vector["double"](w))
    m.x.setRange("window", -1.0, 1.0)
    pt = (0.4, -0.3, 1.5, -0.6, 0.9)
    m.set(*pt)
    r = w * _ratio_per_event(xs.astype(np.float64), *pt) / w.sum()
    inside = (xs >= -1.0) & (xs <= 1.0)
    full = m.pdf.createIntegral(ROOT.RooArgSet(m.x)).getVal()
    window = m.pdf.createIntegral(ROOT.RooArgSet(m.x), ROOT.RooFit.Range("window")).getVal()
    assert full == pytest.approx(r.sum(), rel=1e-6)
    assert window == pytest.approx(r[inside].sum(), rel=1e-6) and window < 0.8 * full


NO_SHAPE = TWO_PROC[:7]  # TWO_PROC without its per-event shape systematic


class NoShape:
    """The TWO_PROC model without per-event shape systematics (lnN and rate modifier kept)."""

    def __init__(self, ROOT: Any, path: Path) -> None:
        self.x = ROOT.RooRealVar("x", "x", 0, -10, 10)
        self.c1 = ROOT.RooRealVar("c1", "c1", 0, -3, 3)
        self.c2 = ROOT.RooRealVar("c2", "c2", 0, -3, 3)
        self.jes = ROOT.RooRealVar("jes", "jes", 0, -5, 5)  # unused: keeps the TwoProc parameter order
        self.lumi = ROOT.RooRealVar("lumi", "lumi", 0, -5, 5)
        self.mu = ROOT.RooRealVar("mu_bkg", "mu_bkg", 1, 0, 5)
        self.pdf = ROOT.RooEFTUnbinnedPdf(
            "pdf", "pdf", str(path), ROOT.RooArgList(self.x), ROOT.RooArgList(self.c1, self.c2), ROOT.RooArgList()
        )
        for p, n in YIELDS.items():
            self.pdf.setYield(p, n)
        self.pdf.setCrossSection("sig", XSEC_SIG)
        self.pdf.addNormSystematic(self.lumi, [KAPPA_LUMI[0]] * 2, [KAPPA_LUMI[1]] * 2, 4)
        self.pdf.setRateModifier("bkg", self.mu)

    set = TwoProc.set


@pytest.mark.parametrize("shape", [True, False], ids=["shape-systematics", "no-shape-systematics"])
def test_factorised_normalisation_equals_the_per_event_pass(ROOT: Any, columns_model: Any, shape: bool) -> None:
    """The integral over the normalisation sample from the cached per-term sums equals the
    per-event pass (setFactorisedNormalisation(false)) to 1e-12, over the full sample and over a
    named range (also after the range is redefined: the bounds are part of the cache key), at
    points that move θ, the shape nuisance, the lnN nuisance and the rate modifier; and the
    RooFit NLLs built on it (full range, and a fit range) agree to 1e-12 too."""
    if shape:
        m: Any = TwoProc(
            ROOT, columns_model(TWO_PROC, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])
        )
    else:
        m = NoShape(ROOT, columns_model(NO_SHAPE, coefficients=["c1", "c2"], processes=["sig", "bkg"]))
    rng = np.random.default_rng(13)
    xs = rng.normal(0.3, 1.5, size=20_000).astype(np.float32)
    w = rng.uniform(-0.2, 1.5, size=xs.size)  # some negative weights (NLO samples)
    m.pdf.setNormalisationSample(ROOT.std.vector["float"](xs), ROOT.std.vector["double"](w))
    assert m.pdf.factorisedNormalisation()
    data = ROOT.RooDataSet.from_numpy({"x": rng.normal(0.3, 1.5, size=500)}, ROOT.RooArgSet(m.x))
    obs = ROOT.RooArgSet(m.x)
    m.x.setRange("window", -1.0, 1.0)
    points = [*POINTS, (0.4, -0.3, 1.5, -0.6, 0.9), (0.4, -0.3, 1.5, 0.2, 1.3), (-1.1, 0.8, 1.5, 0.2, 1.3)]

    def values() -> list[float]:
        nll = m.pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
        ranged = m.pdf.createNLL(
            data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"), ROOT.RooFit.Range("window")
        )
        out = []
        for i, pt in enumerate(points):
            m.set(*pt)
            if i == 3:
                m.x.setRange("window", -0.5, 2.0)  # redefined: a new key
            full = m.pdf.createIntegral(obs).getVal()
            window = m.pdf.createIntegral(obs, ROOT.RooFit.Range("window")).getVal()
            out += [full, window, nll.getVal()] + ([ranged.getVal()] if i < 3 else [])
        m.x.setRange("window", -1.0, 1.0)
        return out

    fast = values()
    m.pdf.setFactorisedNormalisation(False)
    slow = values()
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0)
    # and both are the closed-form integral, here at the last point (window [-0.5, 2])
    r = (
        w
        * _ratio_per_event(xs.astype(np.float64), *(points[-1][:2]), points[-1][2] if shape else 0.0, *points[-1][3:])
        / w.sum()
    )
    inside = (xs >= -0.5) & (xs <= 2.0)
    assert fast[-3] == pytest.approx(r.sum(), rel=1e-6) and fast[-2] == pytest.approx(r[inside].sum(), rel=1e-6)
