"""RooEFT::NLLKernel: the closed-form NLL and its exact gradient against an independent numpy
likelihood and against RooFit's NLL of the same pdfs, its numerical robustness at 10^6 events,
determinism across thread counts, and fits with it (rooeft.infer engines)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reference import code4_add, code4_mult
from test_cpp_unbinned import NO_SHAPE, POINTS, TWO_PROC, YIELDS, NoShape, TwoProc, numpy_nll

NAMES = ["c1", "c2", "jes", "lumi", "mu_bkg"]


def _vec(ROOT: Any, values: Sequence[float], kind: str = "double") -> Any:
    return ROOT.std.vector[kind](np.asarray(values, dtype=np.float64 if kind == "double" else np.float32))


def _kernel(ROOT: Any, names: Sequence[str]) -> Any:
    v = ROOT.std.vector["std::string"]()
    for n in names:
        v.push_back(n)
    return ROOT.RooEFT.NLLKernel(v)


@pytest.fixture
def two_proc_path(columns_model: Any) -> Path:
    return columns_model(TWO_PROC, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])


def _events(n: int, seed: int = 5, weighted: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 1.5, size=n).astype(np.float32).astype(np.float64)
    w = rng.uniform(0.5, 1.5, size=n) if weighted else np.ones(n)
    return x, w


def test_kernel_equals_numpy(ROOT: Any, two_proc_path: Path) -> None:
    """Kernel value = numpy's ν_tot − Σ w ln R − N ln N_0 (exact normalisation, so I = ν_tot/N_0)."""
    m = TwoProc(ROOT, two_proc_path)
    x, w = _events(400)
    k = _kernel(ROOT, NAMES)
    k.addUnbinned(m.pdf, _vec(ROOT, x, "float"), _vec(ROOT, w))
    n0 = sum(YIELDS.values())
    for pt in POINTS:
        expected = numpy_nll(x, w, *pt) - w.sum() * np.log(n0)
        # (float32 network outputs against float64 numpy columns: ~1e-9 relative)
        assert k.value(_vec(ROOT, pt)) == pytest.approx(expected, rel=1e-8, abs=1e-5)
    assert k.nEvents() == x.size and m.pdf.networkCalls() == 1


@pytest.mark.parametrize("shape", [True, False], ids=["shape-systematics", "no-shape-systematics"])
def test_factorised_normalisation_in_the_kernel(ROOT: Any, columns_model: Any, shape: bool) -> None:
    """Without per-event shape systematics the kernel takes I and its gradient from the pdf's
    per-term sums over the normalisation sample (O(processes × terms) per call): value and
    gradient equal the per-event pass to 1e-12 and RooFit's NLL up to its constant."""
    if shape:
        path = columns_model(TWO_PROC, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])
        m: Any = TwoProc(ROOT, path)
    else:
        m = NoShape(ROOT, columns_model(NO_SHAPE, coefficients=["c1", "c2"], processes=["sig", "bkg"]))
    names = NAMES if shape else [n for n in NAMES if n != "jes"]
    xs, ws = _events(30_000, seed=9)
    m.pdf.setNormalisationSample(_vec(ROOT, xs, "float"), _vec(ROOT, ws))
    x, w = _events(700, seed=3)

    def kernel() -> Any:
        k = _kernel(ROOT, names)
        k.addUnbinned(m.pdf, _vec(ROOT, x, "float"), _vec(ROOT, w))
        return k

    fast = kernel()
    m.pdf.setFactorisedNormalisation(False)
    slow = kernel()
    m.pdf.setFactorisedNormalisation(True)
    wvar = ROOT.RooRealVar("w", "w", 1, 0, 10)
    data = ROOT.RooDataSet.from_numpy({"x": x, "w": w}, ROOT.RooArgSet(m.x, wvar), weight_name="w")
    nll = m.pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
    offset = None
    for pt in [*POINTS, (0.4, -0.3, 1.5, 0.2, 1.3)]:
        v = _vec(ROOT, [p for n, p in zip(NAMES, pt, strict=True) if n in names])
        assert fast.value(v) == pytest.approx(slow.value(v), rel=1e-12, abs=0)
        np.testing.assert_allclose(list(fast.gradient(v)), list(slow.gradient(v)), rtol=1e-11, atol=1e-9)
        m.set(*pt)
        if offset is None:
            offset = nll.getVal() - fast.value(v)
        assert nll.getVal() - fast.value(v) == pytest.approx(offset, abs=1e-7)


def _template(ROOT: Any, keep: dict[str, Any]) -> Any:
    """A binned pdf with every feature: EFT and plain processes, additive code-4 shape systematic,
    code-1 and code-4 normalisation systematics, a rate modifier and Barlow-Beeston γ's."""
    x = ROOT.RooRealVar("xb", "xb", 0.5, 0.0, 4.0)
    keep["xb"] = x
    tpl = ROOT.RooEFTTemplatePdf("tpl", "", x, [0.0, 1.0, 2.5, 4.0], ROOT.RooArgList(keep["c1"], keep["c2"]))
    terms = np.array([[1, 0.2, 0.1, 0.05, 0.01, 0.02], [1, 0.5, -0.2, 0.1, 0.03, 0.04], [1, 0.9, 0.3, 0.3, 0.1, 0.05]])
    tpl.addProcess("sig", [30.0, 20.0, 10.0], terms.ravel().tolist())
    tpl.addProcess("bkg", [60.0, 30.0, 15.0])
    tpl.addShapeSystematic(keep["jes"], "sig", [33.0, 21.0, 9.0], [28.0, 19.5, 10.5])
    tpl.addNormSystematic(keep["lumi"], "sig", 1.05, 0.95, 4)
    tpl.addNormSystematic(keep["lumi"], "bkg", 1.05, 0.95, 1)
    tpl.setRateModifier("bkg", keep["mu_bkg"])
    keep["gammas"] = [ROOT.RooRealVar(f"g{b}", "", 1.0, 0.5, 1.5) for b in range(3)]
    tpl.setBinParameters(ROOT.RooArgList(*keep["gammas"]))
    return tpl


def _binned_numpy(pt: Sequence[float], gammas: Sequence[float], counts: np.ndarray) -> float:
    """Σ_b n_b − d_b ln n_b of :func:`_template`, written out with the reference interpolations."""
    c1, c2, jes, lumi, mu = pt
    terms = np.array([[1, 0.2, 0.1, 0.05, 0.01, 0.02], [1, 0.5, -0.2, 0.1, 0.03, 0.04], [1, 0.9, 0.3, 0.3, 0.1, 0.05]])
    mono = np.array([1, c1, c2, c1 * c1, c1 * c2, c2 * c2])
    sig_nom, up, down = [30.0, 20.0, 10.0], [33.0, 21.0, 9.0], [28.0, 19.5, 10.5]
    bkg = np.array([60.0, 30.0, 15.0])
    sig = np.array([sig_nom[b] + code4_add(jes, sig_nom[b], up[b], down[b]) for b in range(3)]) * (terms @ mono)
    lumi_up = 1.05**lumi if lumi >= 0 else 0.95 ** (-lumi)
    n = np.asarray(gammas) * (code4_mult(lumi, 1.05, 0.95) * sig + lumi_up * mu * bkg)
    return float(np.sum(n - counts * np.log(n)))


def test_binned_kernel_equals_numpy_and_roofit(ROOT: Any, two_proc_path: Path) -> None:
    m = TwoProc(ROOT, two_proc_path)
    keep = {"c1": m.c1, "c2": m.c2, "jes": m.jes, "lumi": m.lumi, "mu_bkg": m.mu}
    tpl = _template(ROOT, keep)
    counts = np.array([95.0, 47.0, 30.0])
    names = [*NAMES, "g0", "g1", "g2"]
    k = _kernel(ROOT, names)
    k.addBinned(tpl, _vec(ROOT, counts))
    widths = np.array([1.0, 1.5, 1.5])
    wvar = ROOT.RooRealVar("w", "w", 1.0)
    data = ROOT.RooDataSet.from_numpy(
        {"xb": np.array([0.5, 1.7, 3.2]), "w": counts}, ROOT.RooArgSet(keep["xb"], wvar), weight_name="w"
    )
    nll = tpl.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
    for pt, gam in zip(POINTS, [(1.0, 1.0, 1.0), (1.1, 0.9, 1.05), (0.95, 1.2, 0.8), (1.0, 1.3, 1.0)], strict=True):
        m.set(*pt)
        for g, v in zip(keep["gammas"], gam, strict=True):
            g.setVal(v)
        value = k.value(_vec(ROOT, [*pt, *gam]))
        assert value == pytest.approx(_binned_numpy(pt, gam, counts), rel=1e-12, abs=1e-9)
        # RooFit's density is n_b / width_b: its NLL differs by the constant Σ d_b ln width_b
        assert nll.getVal() == pytest.approx(value + float(counts @ np.log(widths)), rel=1e-12, abs=1e-9)


def _full_kernel(ROOT: Any, two_proc_path: Path, n: int, keep: dict[str, Any]) -> tuple[Any, list[str]]:
    """Unbinned TwoProc (with a normalisation sample and an extra code-1 norm nuisance) + the
    binned template + Gaussian constraints (one truncated by a global-observable range)."""
    m = TwoProc(ROOT, two_proc_path)
    keep["m"] = m
    keep["extra"] = ROOT.RooRealVar("extra", "extra", 0.0, -5, 5)
    m.pdf.addNormSystematic(keep["extra"], [1.1, 1.0], [0.93, 1.0], 1)
    xs, ws = _events(500, seed=9)
    m.pdf.setNormalisationSample(_vec(ROOT, xs, "float"), _vec(ROOT, ws))
    keep.update({"c1": m.c1, "c2": m.c2, "jes": m.jes, "lumi": m.lumi, "mu_bkg": m.mu})
    tpl = _template(ROOT, keep)
    keep["tpl"] = tpl
    names = [*NAMES, "extra", "g0", "g1", "g2"]
    k = _kernel(ROOT, names)
    x, w = _events(n, seed=3)
    k.addUnbinned(m.pdf, _vec(ROOT, x, "float"), _vec(ROOT, w))
    k.addBinned(tpl, _vec(ROOT, [95.0, 47.0, 30.0]))
    k.addGaussianConstraint("jes", 0.2, 1.0, -5.0, 5.0)
    k.addGaussianConstraint("lumi", 0.0, 1.0, -float("inf"), float("inf"))
    k.addGaussianConstraint("g1", 1.0, 0.1, -float("inf"), float("inf"))
    return k, names


FULL_POINTS = [
    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0],
    [0.3, -0.2, 0.5, -0.7, 1.1, 0.4, 1.05, 0.95, 1.1],
    [-0.4, 0.5, -1.3, 1.2, 0.9, -1.5, 0.9, 1.1, 1.0],
    [0.1, 0.1, 2.0, -2.0, 1.0, 2.2, 1.0, 1.2, 0.8],
]


def test_gradient_is_exact(ROOT: Any, two_proc_path: Path) -> None:
    """The gradient equals central differences of the value (every kind of parameter, in range
    and beyond |ν| = 1 where the interpolations change branch)."""
    keep: dict[str, Any] = {}
    k, names = _full_kernel(ROOT, two_proc_path, 600, keep)
    for pt in FULL_POINTS:
        g = np.asarray(k.gradient(_vec(ROOT, pt)))
        for j in range(len(names)):
            if names[j] in ("lumi", "extra") and pt[j] == 0.0:
                continue  # code-1 interpolation: a kink at 0 (left and right slopes differ)
            h = 1e-6
            up, dn = list(pt), list(pt)
            up[j] += h
            dn[j] -= h
            fd = (k.value(_vec(ROOT, up)) - k.value(_vec(ROOT, dn))) / (2 * h)
            assert g[j] == pytest.approx(fd, rel=2e-6, abs=2e-5), (names[j], pt)


def test_hessian_from_the_gradient(ROOT: Any, two_proc_path: Path) -> None:
    keep: dict[str, Any] = {}
    k, names = _full_kernel(ROOT, two_proc_path, 300, keep)
    pt = FULL_POINTS[1]
    steps = [1e-4] * len(names)
    steps[5] = 0.0  # a "fixed" parameter: its row and column stay zero
    h = np.asarray(k.hessian(_vec(ROOT, pt), _vec(ROOT, steps))).reshape(len(names), len(names))
    assert np.array_equal(h, h.T) and not h[5].any() and not h[:, 5].any()
    d = 1e-3
    for i, j in ((0, 0), (0, 1), (2, 3), (4, 8), (6, 6)):

        def f(a: float, b: float, i: int = i, j: int = j) -> float:
            x = list(pt)
            x[i] += a
            x[j] += b
            return float(k.value(_vec(ROOT, x)))

        num = (f(d, d) - f(d, -d) - f(-d, d) + f(-d, -d)) / (4 * d * d)
        assert h[i, j] == pytest.approx(num, rel=1e-3, abs=1e-3), (names[i], names[j])


def test_threads_do_not_change_the_result(ROOT: Any, two_proc_path: Path) -> None:
    """Fixed blocks and an ordered Kahan reduction: 1 and 2 threads give identical bits."""
    keep: dict[str, Any] = {}
    k, _ = _full_kernel(ROOT, two_proc_path, 70_000, keep)
    pt = _vec(ROOT, FULL_POINTS[2])
    k.setThreads(1)
    v1, g1 = k.value(pt), list(k.gradient(pt))
    k.setThreads(2)
    v2, g2 = k.value(pt), list(k.gradient(pt))
    assert k.threads() == 2 and v1 == v2 and g1 == g2


def test_smooth_at_a_million_events(ROOT: Any, two_proc_path: Path) -> None:
    """At 10^6 events (NLL ~ -10^6) the NLL is smooth to 1e-6 absolute under 1e-8 steps of θ and
    ν: what Minuit needs to see ΔNLL of 1e-3 without noise."""
    m = TwoProc(ROOT, two_proc_path)
    x, w = _events(1_000_000, seed=13, weighted=False)
    k = _kernel(ROOT, NAMES)
    k.addUnbinned(m.pdf, _vec(ROOT, x, "float"), _vec(ROOT, w))
    base = np.array(POINTS[1])
    steps = np.arange(-10, 11) * 1e-8
    for j in (0, 2, 3):
        vals = []
        for s in steps:
            p = base.copy()
            p[j] += s
            vals.append(k.value(_vec(ROOT, p)))
        v = np.asarray(vals) - vals[10]
        resid = v - np.polyval(np.polyfit(steps, v, 2), steps)
        assert abs(vals[10]) > 1e5 and np.max(np.abs(resid)) <= 1e-6, (NAMES[j], np.max(np.abs(resid)))


def test_unsupported_parameters_are_named(ROOT: Any, two_proc_path: Path) -> None:
    m = TwoProc(ROOT, two_proc_path)
    k = _kernel(ROOT, ["c1", "c2", "jes", "lumi"])  # mu_bkg missing
    with pytest.raises(Exception, match="unknown parameter 'mu_bkg'"):
        k.addUnbinned(m.pdf, _vec(ROOT, [0.1], "float"), _vec(ROOT, [1.0]))
    with pytest.raises(Exception, match="listed twice"):
        _kernel(ROOT, ["c1", "c1"])
    k2 = _kernel(ROOT, NAMES)
    with pytest.raises(Exception, match="weight of event 1 is not finite"):
        k2.addUnbinned(m.pdf, _vec(ROOT, [0.1, 0.2], "float"), _vec(ROOT, [1.0, float("nan")]))


# ------------------------------------------------------------------ fits with the engines
def test_engines_agree_on_the_mixed_workspace(ROOT: Any, tmp_path: Path) -> None:
    """Model.likelihood gives the kernel; its absolute NLL equals RooFit's (constraint truncation,
    bin widths and category normalisation included) and both engines fit the same minimum."""
    from rooeft.infer import fit
    from rooeft.infer.kernel import KernelNLL
    from rooeft.infer.model import DataSpec, Model

    from test_infer_workspaces import mixed_workspace

    path, _ = mixed_workspace(ROOT, tmp_path / "mixed.root", tmp_path)
    model = Model(path)
    knll = model.likelihood(DataSpec())
    assert isinstance(knll, KernelNLL) and model.kernel_fallback is None
    rnll = model.nll(DataSpec())
    for c, lumi in ((0.0, 0.0), (0.4, 3.0), (-0.5, -4.2)):
        model.set_values({"c": c, "lumi": lumi})
        assert knll.value({"c": c, "lumi": lumi}) == pytest.approx(rnll.getVal(), rel=1e-11, abs=1e-8)
    fk = fit(Model(path, engine="kernel"), minos=["c"])
    fr = fit(Model(path, engine="roofit"), minos=["c"])
    assert fk.ok and fr.ok
    assert fk.min_nll == pytest.approx(fr.min_nll, abs=1e-4)
    for n in ("c", "lumi"):
        pk, pr = fk.parameters[n], fr.parameters[n]
        assert pk.value == pytest.approx(pr.value, abs=0.02 * pr.error)
        assert pk.error == pytest.approx(pr.error, rel=0.02)
    assert fk.parameters["c"].error_lo == pytest.approx(fr.parameters["c"].error_lo, rel=0.02)
    assert fk.attempts[0].calls < fr.attempts[0].calls  # exact derivatives: fewer evaluations


def test_auto_engine_falls_back_to_roofit(ROOT: Any, tmp_path: Path, two_proc_path: Path) -> None:
    """A pdf parameter that is a function (here a RooFormulaVar rate modifier) is outside the
    kernel: engine "auto" says why and fits with RooFit; engine "kernel" refuses."""
    from rooeft.infer import InferenceError, fit
    from rooeft.infer.model import DataSpec, Model

    from test_infer_workspaces import _finish, _ws_common

    keep = _ws_common(ROOT, {"c1": (-3, 3), "c2": (-3, 3)}, ["jes"])
    x = ROOT.RooRealVar("x", "x", 0, -10, 10)
    pdf = ROOT.RooEFTUnbinnedPdf(
        "pdf_unb", "", str(two_proc_path), ROOT.RooArgList(x), ROOT.RooArgList(*keep["pois"].values()),
        ROOT.RooArgList(keep["nu"]["jes"]),
    )  # fmt: skip
    keep["mu"] = ROOT.RooFormulaVar("mu_f", "1 + 0*c1", ROOT.RooArgList(keep["pois"]["c1"]))
    pdf.setRateModifier("bkg", keep["mu"])
    keep["cat"].defineType("unb", 0)
    xs, _ = _events(300)
    meta = {"version": 1, "coefficients": ["c1", "c2"], "channels": [{"name": "unb", "kind": "unbinned"}]}
    path = _finish(ROOT, tmp_path / "f.root", keep, [("unb", pdf, x)], {"unb": ({"x": xs}, np.ones(xs.size))}, {}, meta)
    model = Model(path)
    assert not hasattr(model.likelihood(DataSpec()), "kernel")
    assert "mu_f" in str(model.kernel_fallback) and "function" in str(model.kernel_fallback)
    assert fit(model, hesse=False).status == 0
    with pytest.raises(InferenceError, match="kernel engine cannot evaluate"):
        Model(path, engine="kernel").likelihood(DataSpec())
    with pytest.raises(InferenceError, match="unknown engine"):
        Model(path, engine="fast")


def test_fit_converges_with_ten_nuisances_at_scale(ROOT: Any, tmp_path: Path, columns_model: Any) -> None:
    """2×10^5 events, 2 coefficients, a per-event shape nuisance, lumi and 8 further code-4 rate
    nuisances (degenerate directions constrained only by their priors): the kernel fit converges
    with an accurate covariance and matches the constraint algebra of the degenerate block."""
    from rooeft.infer import fit
    from rooeft.infer.model import Model

    from test_infer_workspaces import _finish, _ws_common

    model_path = columns_model(TWO_PROC, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])
    norms = [f"n{k}" for k in range(8)]
    keep = _ws_common(ROOT, {"c1": (-3, 3), "c2": (-3, 3)}, ["jes", "lumi", *norms])
    x = ROOT.RooRealVar("x", "x", 0, -12, 12)
    pdf = ROOT.RooEFTUnbinnedPdf(
        "pdf_unb", "", str(model_path), ROOT.RooArgList(x), ROOT.RooArgList(*keep["pois"].values()),
        ROOT.RooArgList(keep["nu"]["jes"]),
    )  # fmt: skip
    n_sig, n_bkg = 80_000.0, 120_000.0
    pdf.setYield("sig", n_sig)
    pdf.setYield("bkg", n_bkg)
    pdf.setCrossSection("sig", [1.0, 0.4, 0.25, 0.3, 0.05, 0.12])
    pdf.setShapeNormEffect("sig", "jes", 1.03, 0.96)
    pdf.addNormSystematic(keep["nu"]["lumi"], [1.02, 1.02], [1 / 1.02, 1 / 1.02], 4)
    for i, nu in enumerate(norms):
        k = 1.01 + 0.01 * i
        pdf.addNormSystematic(
            keep["nu"][nu], [k, 1.0] if i % 2 == 0 else [1.0, k], [1 / k, 1.0] if i % 2 == 0 else [1.0, 1 / k], 4
        )
    keep["cat"].defineType("unb", 0)
    rng = np.random.default_rng(17)
    # the SM density of x is whatever the simulation says: a normalisation sample from it makes
    # the learned shape consistent, so data drawn from the same density are SM-like
    xsim = rng.normal(0.3, 1.5, size=50_000)
    pdf.setNormalisationSample(
        ROOT.std.vector["float"](xsim.astype(np.float32)), ROOT.std.vector["double"](np.ones(xsim.size))
    )
    n = rng.poisson(n_sig + n_bkg)
    xs = rng.normal(0.3, 1.5, size=n)
    meta = {"version": 1, "coefficients": ["c1", "c2"], "channels": [{"name": "unb", "kind": "unbinned"}]}
    path = _finish(
        ROOT, tmp_path / "big.root", keep, [("unb", pdf, x)], {"unb": ({"x": xs}, np.ones(xs.size))}, {}, meta
    )
    res = fit(Model(path, engine="kernel"))
    assert res.status == 0 and res.cov_quality == 3 and res.ok, res.table()
    assert res.attempts[0].name == "migrad" and len(res.attempts) == 1
    assert not res.at_limit
    errs = {nm: p.error for nm, p in res.parameters.items()}
    assert all(0 < errs[nu] <= 1.0 + 1e-6 for nu in ["lumi", *norms])  # constrained at most by their priors
    # SM-like data: the POIs are compatible with 0
    assert all(abs(res.parameters[c].value) < 4 * errs[c] for c in ("c1", "c2"))
