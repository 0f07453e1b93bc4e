"""RooEFTTemplatePdf: binned EFT templates against hand-computed Poisson likelihoods."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from reference import code4_add, code4_mult

EDGES = [0.0, 50.0, 100.0, 200.0, 400.0, 800.0]
SIG = np.array([120.0, 80.0, 40.0, 12.0, 3.0])
LIN = np.array([0.05, 0.2, 0.6, 1.5, 4.0])
QUAD = np.array([0.01, 0.05, 0.3, 1.2, 6.0])
BKG = np.array([400.0, 200.0, 60.0, 10.0, 1.0])


class Template:
    def __init__(self, ROOT: Any) -> None:
        self.x = ROOT.RooRealVar("ptz", "p_{T}(Z)", 0, EDGES[0], EDGES[-1])
        self.x.setBinning(ROOT.RooBinning(len(EDGES) - 1, np.array(EDGES)))
        self.c = ROOT.RooRealVar("cHW", "cHW", 0, -5, 5)
        self.pdf = ROOT.RooEFTTemplatePdf("tpl", "tpl", self.x, EDGES, ROOT.RooArgList(self.c))
        terms = np.stack([np.ones_like(LIN), LIN, QUAD], axis=1).ravel()
        self.pdf.addProcess("sig", SIG.tolist(), terms.tolist())
        self.pdf.addProcess("bkg", BKG.tolist())

    def data(self, ROOT: Any, counts: np.ndarray) -> Any:
        h = ROOT.TH1D("h", "h", len(EDGES) - 1, np.array(EDGES))
        for b, n in enumerate(counts):
            h.SetBinContent(b + 1, float(n))
        return ROOT.RooDataHist("data_obs", "data", ROOT.RooArgList(self.x), h)


def expected(c: float) -> np.ndarray:
    return SIG * (1 + LIN * c + QUAD * c * c) + BKG


def poisson_nll(c: float, d: np.ndarray) -> float:
    n = expected(c)
    return float(np.sum(n - d * np.log(n)))


@pytest.mark.parametrize("backend", ["cpu", "legacy"])
def test_binned_fit_matches_hand_computed_poisson(ROOT: Any, backend: str) -> None:
    t = Template(ROOT)
    d = np.random.default_rng(7).poisson(expected(0.4)).astype(float)
    data = t.data(ROOT, d)
    res = t.pdf.fitTo(
        data,
        ROOT.RooFit.Extended(True),
        ROOT.RooFit.Save(),
        ROOT.RooFit.PrintLevel(-1),
        ROOT.RooFit.EvalBackend(backend),
    )
    assert res.status() == 0
    ref = minimize_scalar(poisson_nll, args=(d,), bounds=(-1, 2), method="bounded", options={"xatol": 1e-10})
    h = 1e-4
    curv = (poisson_nll(ref.x + h, d) - 2 * poisson_nll(ref.x, d) + poisson_nll(ref.x - h, d)) / h**2
    sigma = 1 / np.sqrt(curv)
    # Minuit stops at EDM < 1e-3: the minimum agrees to a few percent of σ
    assert t.c.getVal() == pytest.approx(ref.x, abs=0.05 * sigma)
    assert t.c.getError() == pytest.approx(sigma, rel=1e-2)
    # the NLL differences themselves
    nll = t.pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend(backend))
    t.c.setVal(0.0)
    v0 = nll.getVal()
    for c in (-0.5, 0.3, 1.1):
        t.c.setVal(c)
        assert nll.getVal() - v0 == pytest.approx(poisson_nll(c, d) - poisson_nll(0.0, d), rel=1e-9, abs=1e-8)


def test_asimov_fit_returns_truth(ROOT: Any) -> None:
    t = Template(ROOT)
    data = t.data(ROOT, expected(-0.25))
    t.pdf.fitTo(data, ROOT.RooFit.Extended(True), ROOT.RooFit.PrintLevel(-1))
    assert t.c.getVal() == pytest.approx(-0.25, abs=0.05 * t.c.getError())


def test_systematics_and_bin_parameters_match_reference(ROOT: Any) -> None:
    t = Template(ROOT)
    jes = ROOT.RooRealVar("jes", "jes", 0, -5, 5)
    lumi = ROOT.RooRealVar("lumi", "lumi", 0, -5, 5)
    xsb = ROOT.RooRealVar("xs_bkg", "xs_bkg", 0, -5, 5)
    mu = ROOT.RooRealVar("mu", "mu", 1, 0, 5)
    gammas = [ROOT.RooRealVar(f"gamma_{b}", "g", 1, 0, 3) for b in range(len(SIG))]
    up_s, down_s = SIG * np.array([1.02, 1.04, 1.08, 1.1, 1.2]), SIG * np.array([0.99, 0.97, 0.93, 0.9, 0.85])
    up_b, down_b = BKG * 1.05, BKG * 0.97
    t.pdf.addShapeSystematic(jes, "sig", up_s.tolist(), down_s.tolist())
    t.pdf.addShapeSystematic(jes, "bkg", up_b.tolist(), down_b.tolist())
    t.pdf.addNormSystematic(lumi, "sig", 1.025, 1 / 1.025)
    t.pdf.addNormSystematic(lumi, "bkg", 1.025, 1 / 1.025)
    t.pdf.addNormSystematic(xsb, "bkg", 1.1, 0.92, 1)
    t.pdf.setRateModifier("sig", mu)
    t.pdf.setBinParameters(ROOT.RooArgList(*gammas))
    rng = np.random.default_rng(2)
    for _ in range(6):
        c, j, lu, xb, m = (
            rng.uniform(-1.5, 1.5),
            rng.uniform(-2, 2),
            rng.uniform(-2, 2),
            rng.uniform(-2, 2),
            rng.uniform(0.5, 2),
        )
        g = rng.uniform(0.8, 1.2, size=len(SIG))
        for var, val in ((t.c, c), (jes, j), (lumi, lu), (xsb, xb), (mu, m)):
            var.setVal(val)
        for gv, val in zip(gammas, g, strict=True):
            gv.setVal(val)
        ref = []
        for b in range(len(SIG)):
            s = (SIG[b] + code4_add(j, SIG[b], up_s[b], down_s[b])) * (1 + LIN[b] * c + QUAD[b] * c * c)
            s *= code4_mult(lu, 1.025, 1 / 1.025) * m
            bk = (BKG[b] + code4_add(j, BKG[b], up_b[b], down_b[b])) * code4_mult(lu, 1.025, 1 / 1.025)
            bk *= 1.1**xb if xb >= 0 else 0.92 ** (-xb)
            ref.append(g[b] * (s + bk))
        np.testing.assert_allclose(list(t.pdf.binYields()), ref, rtol=1e-12)
        assert t.pdf.expectedEvents(ROOT.RooArgSet(t.x)) == pytest.approx(sum(ref), rel=1e-12)
        t.x.setVal(150.0)  # bin 2, width 100
        assert t.pdf.getVal() == pytest.approx(ref[2] / 100.0, rel=1e-12)


def test_template_errors(ROOT: Any) -> None:
    x = ROOT.RooRealVar("x", "x", 0, 0, 1)
    c = ROOT.RooRealVar("c", "c", 0, -1, 1)
    with pytest.raises(Exception, match="bin edges must increase strictly"):
        ROOT.RooEFTTemplatePdf("t", "t", x, [0.0, 0.5, 0.5, 1.0], ROOT.RooArgList(c))
    t = ROOT.RooEFTTemplatePdf("t", "t", x, [0.0, 0.5, 1.0], ROOT.RooArgList(c))
    with pytest.raises(Exception, match="has 3 nominal yields for 2 bins"):
        t.addProcess("sig", [1.0, 2.0, 3.0])
    with pytest.raises(Exception, match="needs nBins × nTerms = 6"):
        t.addProcess("sig", [1.0, 2.0], [1.0, 0.1])
    t.addProcess("sig", [1.0, 2.0])
    with pytest.raises(Exception, match="added twice"):
        t.addProcess("sig", [1.0, 2.0])
    with pytest.raises(Exception, match="non-finite"):
        t.addProcess("bkg", [1.0, float("inf")])
