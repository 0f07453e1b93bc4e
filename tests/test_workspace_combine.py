"""Combine-native workspaces: bin-index observables whose generated Asimov/toys are the expected
counts, the stored SM Asimov dataset, per-process yields under Combine's names, and the
MC-statistical yield parameters of unbinned channels."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from test_workspace_build import PT_EDGES, config_dict, make_inputs


def _build(d: Path, cfg: dict[str, Any], name: str = "ws.root") -> Path:
    from rooeft.config import load_config
    from rooeft.workspace import build_workspace

    (d / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return build_workspace(load_config(d / f"{name}.yaml"), output=d / name).output


def _open(path: Path) -> Any:
    import rooeft

    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    f = ROOT.TFile.Open(str(path))
    w = f.Get("w")
    w._file = f
    return w


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("combine")
    make_inputs(d)
    return d


@pytest.fixture(scope="module")
def ws(inputs: Path) -> Any:
    return _open(_build(inputs, config_dict()))


@pytest.fixture(scope="module")
def ws_physical(inputs: Path) -> Any:
    cfg = config_dict()
    for ch in cfg["channels"]:
        if ch["kind"] == "binned":
            ch["index_observable"] = False
    return _open(_build(inputs, cfg, "ws_physical.root"))


def _generated_counts(ROOT: Any, pdf: Any, x: Any, *, expected: bool, seed: int = 0) -> np.ndarray:
    ROOT.RooRandom.randomGenerator().SetSeed(seed + 1)
    hist = pdf.generateBinned(ROOT.RooArgSet(x), ExpectedData=expected) if expected else None
    if hist is None:
        hist = pdf.generateBinned(ROOT.RooArgSet(x), Extended=True)
    return np.array([hist.weight(i) for i in range(hist.numEntries())])


def test_generated_asimov_is_expected_counts(ws: Any) -> None:
    """RooFit's Asimov generation (what Combine's ``-t -1`` runs) on the bin-index observable gives
    the expected counts of every bin to 1e-9, at the SM and at a BSM point."""
    import rooeft

    ROOT = rooeft.load_library()
    pdf, x = ws.pdf("pdf_cnt"), ws.var("CMS_th1x_cnt")
    assert x.getMin() == 0 and x.getMax() == len(PT_EDGES) - 1 and x.getBins() == len(PT_EDGES) - 1
    for c1 in (0.0, 0.7):
        ws.var("c1").setVal(c1)
        try:
            expected = np.array(list(pdf.binYields()))
            counts = _generated_counts(ROOT, pdf, x, expected=True)
        finally:
            ws.var("c1").setVal(0.0)
        np.testing.assert_allclose(counts, expected, rtol=1e-9)


def test_generated_toys_fluctuate_around_expected_counts(ws: Any) -> None:
    """Toys (Combine's ``-t N``) are Poisson around the expected counts: the mean over 400 toys is
    within 4 standard errors of the expectation in every bin, and the variance matches."""
    import rooeft

    ROOT = rooeft.load_library()
    pdf, x = ws.pdf("pdf_cnt"), ws.var("CMS_th1x_cnt")
    expected = np.array(list(pdf.binYields()))
    toys = np.array([_generated_counts(ROOT, pdf, x, expected=False, seed=i) for i in range(400)])
    err = np.sqrt(expected / len(toys))
    assert np.all(np.abs(toys.mean(axis=0) - expected) < 4 * err), (toys.mean(axis=0), expected)
    np.testing.assert_allclose(toys.var(axis=0, ddof=1), expected, rtol=0.35)


def _densities(ROOT: Any, pdf: Any, x: Any, centres: np.ndarray) -> np.ndarray:
    nset = ROOT.RooArgSet(x)
    out = []
    for c in centres:
        x.setVal(float(c))
        out.append(pdf.getVal(nset) * pdf.expectedEvents(nset))
    return np.array(out)


def test_physical_binning_is_the_opt_out(ws: Any, ws_physical: Any) -> None:
    """On the bin index, the extended density at a bin centre *is* the expected count, so a
    generator that evaluates the pdf at bin centres (as Combine's toy code does for binned data)
    without bin volumes is exact. ``index_observable: false`` keeps the physical edges, where the
    density is count/width (and RooFit's own generateBinned still integrates correctly)."""
    import rooeft

    ROOT = rooeft.load_library()
    pdf, x = ws.pdf("pdf_cnt"), ws.var("CMS_th1x_cnt")
    counts = np.array(list(pdf.binYields()))
    np.testing.assert_allclose(_densities(ROOT, pdf, x, np.arange(counts.size) + 0.5), counts, rtol=1e-12)
    pdf_p, x_p = ws_physical.pdf("pdf_cnt"), ws_physical.var("ptz")
    assert x_p and not ws_physical.var("CMS_th1x_cnt")
    edges = np.asarray(PT_EDGES)
    dens = _densities(ROOT, pdf_p, x_p, 0.5 * (edges[1:] + edges[:-1]))
    np.testing.assert_allclose(dens, np.array(list(pdf_p.binYields())) / np.diff(edges), rtol=1e-12)
    np.testing.assert_allclose(_generated_counts(ROOT, pdf_p, x_p, expected=True), counts, rtol=1e-9)


def test_stored_asimov_equals_model_asimov_and_fits_to_sm(ws: Any, inputs: Path) -> None:
    """``data_asimov`` (for Combine's ``-D data_asimov``) is the SM expectation: binned channels the
    expected counts at the bin-index centres, unbinned channels the weighted simulation; a fit to
    it returns the SM with the nuisances at nominal."""
    from rooeft.infer.model import DataSpec, Model

    data = ws.data("data_asimov")
    assert data and data.isWeighted() and data.weightVar().GetName() == "_weight_"
    arr = data.to_numpy()
    model = Model(inputs / "ws.root")
    reference = model.asimov_dataset({}).to_numpy()
    for col in ("CMS_channel", "_weight_", "x", "CMS_th1x_cnt", "CMS_th1x_bin"):
        np.testing.assert_allclose(arr[col], reference[col], rtol=1e-12, atol=1e-12)
    ch = arr["CMS_channel"]
    np.testing.assert_allclose(arr["_weight_"][ch == 2], list(ws.pdf("pdf_cnt").binYields()), rtol=1e-12)
    spec = DataSpec(name="data_asimov")
    fit = model.minimize(model.likelihood(spec), [*model.pois, *model.nuisances], start=dict(model.nominal))
    assert fit.status == 0
    for poi in model.pois:
        assert fit.values[poi] == pytest.approx(0.0, abs=2e-3), poi
    for nu in model.nuisances:
        assert fit.values[nu] == pytest.approx(model.nominal[nu], abs=2e-3), nu


def test_process_yields_use_combine_names(ws: Any) -> None:
    """``n_exp_final_bin<ch>_proc_<p>`` exist for every channel and process, carry Combine's
    attributes, follow the parameters and add up to the channel's expected events."""
    meta = json.loads(ws.obj("rooeft_metadata").GetTitle())
    for ch in meta["channels"]:
        pdf = ws.pdf(f"pdf_{ch['name']}")
        for c1 in (0.0, -0.6):
            ws.var("c1").setVal(c1)
            ws.var("lumi").setVal(0.5 if c1 else 0.0)
            try:
                total = 0.0
                for p in ch["processes"]:
                    y = ws.function(f"n_exp_final_bin{ch['name']}_proc_{p}")
                    assert y and y.InheritsFrom("RooEFTYield"), (ch["name"], p)
                    assert y.getStringAttribute("combine.channel") == ch["name"]
                    assert y.getStringAttribute("combine.process") == p
                    assert bool(y.getAttribute("combine.signal")) == (p in ch["eft_processes"])
                    total += y.getVal()
                assert total == pytest.approx(pdf.expectedEvents(ws.set("ModelConfig_Observables")), rel=1e-12)
            finally:
                ws.var("c1").setVal(0.0)
                ws.var("lumi").setVal(0.0)
    sig0 = ws.function("n_exp_final_bincnt_proc_sig").getVal()
    ws.var("c1").setVal(0.5)
    try:
        assert ws.function("n_exp_final_bincnt_proc_sig").getVal() != pytest.approx(sig0, rel=1e-6)
        assert ws.function("n_exp_final_bincnt_proc_bkg").getVal() == pytest.approx(
            ws.pdf("pdf_cnt").processYield("bkg"), rel=1e-14
        )
    finally:
        ws.var("c1").setVal(0.0)


def _counting_like(d: Path, n_sim: int, mc_stats: bool) -> dict[str, Any]:
    """One EFT process whose ratio r = 1 + 0.6·c1 does not depend on x: only the yield measures c1."""
    from rooeft.testing.onnx_toys import build_columns_model
    from test_workspace_build import write_tree

    rng = np.random.default_rng(7)
    w = rng.uniform(0.2, 1.8, n_sim) * (2000.0 / n_sim)  # ~2000 expected events whatever n_sim
    write_tree(d / f"sim{n_sim}.root", {"x": rng.normal(0, 1, n_sim), "weight": w, "w_sm": w, "w_c1": 0.6 * w,
                                          "w_c1_c1": 0.0 * w})  # fmt: skip
    build_columns_model(d / "flat.onnx", [("lin:sig:c1", "poly", [0.6]), ("quad:sig:c1:c1", "poly", [0.0])],
                        coefficients=["c1"], processes=["sig"])  # fmt: skip
    channel: dict[str, Any] = {
        "name": "unb", "kind": "unbinned", "model": "flat.onnx",
        "processes": [{"name": "sig", "files": [f"sim{n_sim}.root"], "eft": True}],
        "data": {"asimov": {"c1": 0.0}},
    }  # fmt: skip
    if mc_stats:
        channel["mc_stats"] = {"threshold": 0.0}
    return {"version": 1, "name": "flat", "coefficients": [{"name": "c1", "range": [-1, 1]}], "channels": [channel]}


@pytest.mark.parametrize("n_sim", [300, 3000])
def test_unbinned_mc_stats_widen_interval_by_the_expected_amount(inputs: Path, n_sim: int) -> None:
    """γ ~ Gauss(1, σ = 1/√n_eff) multiplies the process's yield and per-event term. When only the
    yield ν(c1) = ν₀(1 + a·c1) measures c1, profiling γ on Asimov data gives exactly
    σ(c1)² = (1 + ν₀σ²)/(ν₀a²), i.e. the stat-only width times √(1 + ν₀/n_eff)."""
    from rooeft.infer.fit import fit
    from rooeft.infer.model import Model

    plain = Model(_build(inputs, _counting_like(inputs, n_sim, False), f"flat{n_sim}.root"))
    with_mc = Model(_build(inputs, _counting_like(inputs, n_sim, True), f"flat{n_sim}_mc.root"))
    meta = json.loads(with_mc.w.obj("rooeft_metadata").GetTitle())["channels"][0]
    n_eff, nu0 = meta["n_eff"]["sig"], meta["yields"]["sig"]
    assert with_mc.nuisances == ["prop_binunb_proc_sig"] and plain.nuisances == []
    rel = with_mc.constraints["prop_binunb_proc_sig"][1]
    assert rel == pytest.approx(1.0 / math.sqrt(n_eff), rel=1e-12)
    r0, r1 = fit(plain), fit(with_mc)
    assert r0.status == 0 and r1.status == 0
    s0, s1 = r0.parameters["c1"].error, r1.parameters["c1"].error
    assert s0 == pytest.approx(1.0 / math.sqrt(nu0 * 0.6**2), rel=1e-3)
    assert s1 / s0 == pytest.approx(math.sqrt(1.0 + nu0 * rel**2), rel=1e-2), (s0, s1, n_eff)


def test_fit_reports_pre_and_post_fit_process_yields(inputs: Path) -> None:
    """``fit`` reports every process's expected events before and after the fit with a propagated
    error (what FitDiagnostics' normalisations give): pre-fit at the nominal parameters, post-fit
    adding up to the channel's fitted expectation, errors from the covariance."""
    from rooeft.infer.fit import FitResult, fit
    from rooeft.infer.model import Model

    model = Model(inputs / "ws.root")
    res = fit(model, data="data_asimov")
    assert res.ok
    by = {(y.channel, y.process): y for y in res.yields}
    assert sorted(by) == sorted((c, p) for c in ("unb", "bin", "cnt") for p in ("sig", "bkg"))
    model.reset()
    for (c, p), y in by.items():
        assert y.prefit == pytest.approx(model.w.function(f"n_exp_final_bin{c}_proc_{p}").getVal(), rel=1e-12)
        assert math.isfinite(y.postfit_error) and y.postfit_error > 0, (c, p)
    model.set_values({n: q.value for n, q in res.parameters.items()})
    try:
        for c in ("unb", "bin", "cnt"):
            total = by[(c, "sig")].postfit + by[(c, "bkg")].postfit
            assert total == pytest.approx(model.channel_pdfs[c].expectedEvents(model.mc.GetObservables()), rel=1e-12)
    finally:
        model.reset()
    # the fitted totals reproduce the (SM Asimov) data of each binned channel
    data = model.w.data("data_asimov").to_numpy()
    for index, c in ((1, "bin"), (2, "cnt")):
        n_data = data["_weight_"][data["CMS_channel"] == index].sum()
        assert by[(c, "sig")].postfit + by[(c, "bkg")].postfit == pytest.approx(n_data, rel=1e-4), c
        assert by[(c, "sig")].postfit == pytest.approx(by[(c, "sig")].prefit, rel=1e-3), c
    # the propagated error agrees with sampling the parameters from the fit covariance
    names = list(res.correlation_names)
    sig = np.array([res.parameters[n].error for n in names])
    cov = np.array(res.correlation) * np.outer(sig, sig)
    centre = np.array([res.parameters[n].value for n in names])
    draws = np.random.default_rng(3).multivariate_normal(centre, cov, size=400)
    f = model.w.function("n_exp_final_bincnt_proc_bkg")
    values = []
    try:
        for d in draws:
            model.set_values(dict(zip(names, d, strict=True)), extend=False)
            values.append(f.getVal())
    finally:
        model.reset()
    assert by[("cnt", "bkg")].postfit_error == pytest.approx(np.std(values, ddof=1), rel=0.1)
    again = FitResult.from_dict(res.to_dict())
    assert again.yields == res.yields
    assert "cnt / bkg" in res.table()


def test_nll_equals_numpy_with_plain_gaussian_constraints_across_a_2d_scan(inputs: Path) -> None:
    """Combine's convention for the constraints: the workspace NLL (RooFit's and the kernel's)
    equals an independent numpy NLL with plain, untruncated Gaussians −ln N(ν; 0, 1) across a 2D
    grid of the coefficients, with the nuisances up to 4.5σ (where a ±5 truncation would show)."""
    import uproot

    from rooeft.infer.model import DataSpec, Model
    from rooeft.terms import monomials

    from reference import code4_mult

    cfg = config_dict()
    cnt = next(c for c in cfg["channels"] if c["name"] == "cnt")
    cnt["data"] = {"asimov": {"c1": 0.4, "c2": -0.2}}
    cfg["channels"] = [cnt]
    cfg["systematics"] = [
        {"name": "lumi", "type": "lnN", "kappa": 1.025},
        {"name": "xs_bkg", "type": "lnN", "kappa_up": 1.1, "kappa_down": 0.92, "processes": ["bkg"]},
    ]
    model = Model(_build(inputs, cfg, "cnt_only.root"))
    assert sorted(model.nuisances) == ["lumi", "xs_bkg"]
    raw = {p: uproot.open(inputs / f"{p}.root")["Events"].arrays(library="np") for p in ("sig", "bkg")}
    cols = ["w_sm", "w_c1", "w_c2", "w_c1_c1", "w_c1_c2", "w_c2_c2"]
    w_sig = np.stack([raw["sig"][c] for c in cols], axis=1) * 1.5  # luminosity_scale
    sig_terms = np.stack([np.histogram(raw["sig"]["pt"], PT_EDGES, weights=w_sig[:, t])[0] for t in range(6)], 1)
    bkg = np.histogram(raw["bkg"]["pt"], PT_EDGES, weights=raw["bkg"]["weight"] * 1.5)[0]

    def expected(theta: list[float], lumi: float, xs: float) -> np.ndarray:
        return code4_mult(lumi, 1.025, 1 / 1.025) * (sig_terms @ monomials(theta) + code4_mult(xs, 1.1, 0.92) * bkg)

    counts = expected([0.4, -0.2], 0.0, 0.0)

    def numpy_nll(c1: float, c2: float, lumi: float, xs: float) -> float:
        n = expected([c1, c2], lumi, xs)
        gauss = sum(0.5 * v * v + 0.5 * math.log(2 * math.pi) for v in (lumi, xs))
        return float(np.sum(n - counts * np.log(n))) + gauss

    rf = model.nll(DataSpec())
    kernel = model.likelihood(DataSpec())
    values = lambda p: dict(zip(["c1", "c2", "lumi", "xs_bkg"], p, strict=True))  # noqa: E731
    ref = (0.0, 0.0, 0.0, 0.0)
    model.set_values(values(ref))
    rf0, np0 = rf.getVal(), numpy_nll(*ref)
    k0 = kernel.value(values(ref))
    for c1 in np.linspace(-1.5, 1.5, 5):
        for c2 in np.linspace(-1.5, 1.5, 5):
            for lumi, xs in ((4.5, -4.5), (-4.5, 4.5), (0.7, 2.0)):
                p = (float(c1), float(c2), lumi, xs)
                model.set_values(values(p))
                d_np = numpy_nll(*p) - np0
                assert rf.getVal() - rf0 == pytest.approx(d_np, rel=1e-9, abs=1e-7), p
                assert kernel.value(values(p)) - k0 == pytest.approx(d_np, rel=1e-9, abs=1e-7), p
    model.reset()


def test_fit_diagnostics_file_has_combines_layout(inputs: Path, tmp_path: Path) -> None:
    """``rooeft fit --diagnostics`` writes norm_prefit/norm_fit_s like Combine's fitDiagnostics.root:
    RooRealVars named <channel>/<process> holding the yields of the fit JSON, with the pre-fit
    error from the constraints."""
    import rooeft
    from rooeft.cli import main
    from rooeft.infer import read_json

    out, diag = tmp_path / "fit.json", tmp_path / "fitDiagnostics.root"
    assert (
        main(["fit", str(inputs / "ws.root"), "--data", "data_asimov", "-o", str(out), "--diagnostics", str(diag)]) == 0
    )
    res = read_json(out)
    ROOT = rooeft.load_library()
    f = ROOT.TFile.Open(str(diag))
    try:
        for name, value, error in (
            ("norm_prefit", "prefit", "prefit_error"),
            ("norm_fit_s", "postfit", "postfit_error"),
        ):
            norms = f.Get(name)
            assert norms and norms.getSize() == len(res.yields) == 6
            for y in res.yields:
                v = norms.find(f"{y.channel}/{y.process}")
                assert v.getVal() == pytest.approx(getattr(y, value), rel=1e-12)
                assert v.getError() == pytest.approx(getattr(y, error), rel=1e-12) and v.getError() > 0
    finally:
        f.Close()
    # the pre-fit error agrees with sampling the constrained nuisances from their constraints
    from rooeft.infer.model import Model

    model = Model(inputs / "ws.root")
    sig = next(y for y in res.yields if (y.channel, y.process) == ("cnt", "sig"))
    func = model.w.function("n_exp_final_bincnt_proc_sig")
    rng = np.random.default_rng(4)
    values = []
    try:
        for _ in range(400):
            model.reset()
            draw = {n: model.nominal[n] + s * rng.normal() for n, (_, s) in model.constraints.items()}
            lo_hi = {n: model.ranges[n] for n in draw}
            model.set_values({n: min(max(v, lo_hi[n][0]), lo_hi[n][1]) for n, v in draw.items()})
            values.append(func.getVal())
    finally:
        model.reset()
    assert sig.prefit_error == pytest.approx(np.std(values, ddof=1), rel=0.12)
    assert main(["fit", str(inputs / "ws.root"), "--diagnostics", str(inputs / "ws.root")]) != 0  # never the input
