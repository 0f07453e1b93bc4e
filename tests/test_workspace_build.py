"""End-to-end `rooeft build`: synthetic ROOT samples + hand-written ONNX models → workspace;
yields and templates against numpy sums, Combine conventions, and a round trip in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rooeft.terms import monomials
from rooeft.testing.onnx_toys import build_columns_model, column_values

COEFS = ["c1", "c2"]
# the unbinned model: two processes, one weight-based (jes) and one learned (scale) shape systematic
UNB_COLUMNS = [
    ("frac:sig", "sigmoid", [0.2, 0.7]),
    ("frac:bkg", "1-sigmoid", [0.2, 0.7]),
    ("lin:sig:c1", "poly", [0.0, 0.6]),
    ("lin:sig:c2", "poly", [0.2, 0.3]),
    ("quad:sig:c1:c1", "poly", [0.0, 0.0, 0.09]),
    ("quad:sig:c1:c2", "poly", [0.0, 0.1, 0.1]),
    ("quad:sig:c2:c2", "poly", [0.05, 0.0, 0.05]),
    ("sysup:sig:jes", "exp", [0.05, 0.1]),
    ("sysdown:sig:jes", "exp", [-0.04, -0.08]),
    ("sysup:bkg:jes", "exp", [0.0, 0.02]),
    ("sysdown:bkg:jes", "exp", [0.0, -0.03]),
    ("sysup:sig:scale", "exp", [0.02, 0.05]),
    ("sysdown:sig:scale", "exp", [-0.02, -0.05]),
    ("sysup:bkg:scale", "exp", [0.0, 0.0]),
    ("sysdown:bkg:scale", "exp", [0.0, 0.0]),
]
SCORE_COLUMNS = [("score:sig:c1", "sigmoid", [0.0, 1.5])]
SCORE_EDGES = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
PT_EDGES = [0.0, 50.0, 100.0, 200.0, 400.0]
LUMI = 1.5


def _lin(x: np.ndarray) -> dict[str, np.ndarray]:
    cols = {name: column_values(kind, c, x) for name, kind, c in UNB_COLUMNS}
    return {
        "w_c1": cols["lin:sig:c1"],
        "w_c2": cols["lin:sig:c2"],
        "w_c1_c1": cols["quad:sig:c1:c1"],
        "w_c1_c2": cols["quad:sig:c1:c2"],
        "w_c2_c2": cols["quad:sig:c2:c2"],
    }


def write_tree(path: Path, columns: dict[str, np.ndarray]) -> Path:
    import uproot

    with uproot.recreate(path) as f:
        t = f.mktree("Events", {k: np.float64 for k in columns})
        t.extend({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()})
    return path


def make_inputs(d: Path, *, seed: int = 1) -> dict[str, Any]:
    """Samples, data, models and correctionlib file; returns the raw columns for reference sums."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    # signal: EFT weights consistent with the model's lin/quad columns
    n = 1500
    x = rng.normal(0.3, 1.0, n)
    pt = rng.exponential(80.0, n)
    w = rng.uniform(0.3, 0.7, n)
    sig = {"x": x, "pt": pt, "weight": w, "w_sm": w}
    sig.update({k: w * v for k, v in _lin(x).items()})
    sig["weight_jesUp"] = w * np.exp(0.05 + 0.1 * x)
    sig["weight_jesDown"] = w * np.exp(-0.04 - 0.08 * x)
    write_tree(d / "sig.root", sig)
    # background: no EFT
    m = 2000
    xb = rng.normal(-0.5, 1.5, m)
    ptb = rng.exponential(50.0, m)
    wb = rng.uniform(0.8, 1.2, m)
    bkg = {"x": xb, "pt": ptb, "weight": wb}
    bkg["weight_jesUp"] = wb * np.exp(0.02 * xb)
    bkg["weight_jesDown"] = wb * np.exp(-0.03 * xb)
    write_tree(d / "bkg.root", bkg)
    write_tree(d / "data.root", {"x": rng.normal(0.0, 1.3, 2400), "pt": rng.exponential(60.0, 2400)})
    build_columns_model(
        d / "unb.onnx", UNB_COLUMNS, coefficients=COEFS, processes=["sig", "bkg"], systematics=["jes", "scale"]
    )
    build_columns_model(d / "score.onnx", SCORE_COLUMNS, coefficients=COEFS, processes=["sig"])
    import correctionlib.schemav2 as cs

    corr = cs.Correction(
        name="trig_sf",
        version=1,
        inputs=[cs.Variable(name="pt", type="real"), cs.Variable(name="systematic", type="string")],
        output=cs.Variable(name="factor", type="real"),
        data=cs.Category(
            nodetype="category",
            input="systematic",
            content=[
                cs.CategoryItem(
                    key=key,
                    value=cs.Binning(nodetype="binning", input="pt", edges=[0, 100, 1e9], content=vals, flow="clamp"),
                )
                for key, vals in (("nominal", [0.95, 1.05]), ("up", [1.0, 1.1]), ("down", [0.9, 1.0]))
            ],
        ),
    )
    (d / "sf.json").write_text(
        cs.CorrectionSet(schema_version=2, corrections=[corr]).model_dump_json(exclude_unset=True)
    )
    out["sig"], out["bkg"] = sig, bkg
    return out


def config_dict() -> dict[str, Any]:
    procs = [
        {"name": "sig", "files": ["sig.root"], "eft": True},
        {"name": "bkg", "files": "bkg.root"},
    ]
    return {
        "version": 1,
        "name": "synthetic",
        "luminosity_scale": LUMI,
        "coefficients": [{"name": "c1", "range": [-2, 2]}, {"name": "c2", "range": [-2, 2], "sm": 0.0}],
        "channels": [
            {
                "name": "unb",
                "kind": "unbinned",
                "model": "unb.onnx",
                "processes": procs,
                "data": {"files": "data.root"},
            },
            {
                "name": "bin",
                "kind": "binned",
                "observable": {"name": "score", "model": "score.onnx", "column": "score:sig:c1"},
                "edges": SCORE_EDGES,
                "processes": procs,
                "data": {"files": ["data.root"]},
                "mc_stats": {"threshold": 0.0},
            },
            {
                "name": "cnt",
                "kind": "binned",
                "observable": {"name": "ptz", "expression": "pt"},
                "edges": PT_EDGES,
                "processes": procs,
                "data": {"asimov": {"c1": 0.4}},
            },
        ],
        "systematics": [
            {"name": "lumi", "type": "lnN", "kappa": 1.025},
            {"name": "xs_bkg", "type": "lnN", "kappa_up": 1.1, "kappa_down": 0.92, "processes": ["bkg"]},
            {"name": "jes", "type": "weight"},
            {"name": "scale", "type": "learned", "processes": ["sig", "bkg"]},
            {
                "name": "trig",
                "type": "correction",
                "file": "sf.json",
                "correction": "trig_sf",
                "inputs": {"pt": "pt"},
                "channels": ["cnt"],
                "processes": ["bkg"],
            },
            {"name": "mu_bkg", "type": "rate", "channels": ["cnt"], "processes": ["bkg"]},
        ],
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from rooeft.config import load_config
    from rooeft.workspace import build_workspace

    d = tmp_path_factory.mktemp("ws")
    raw = make_inputs(d)
    (d / "analysis.yaml").write_text(yaml.safe_dump(config_dict(), sort_keys=False))
    config = load_config(d / "analysis.yaml")
    result = build_workspace(config, output=d / "ws.root")
    return {"dir": d, "raw": raw, "config": config, "result": result}


@pytest.fixture(scope="module")
def ws(built: dict[str, Any]) -> Any:
    import rooeft

    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    f = ROOT.TFile.Open(str(built["result"].output))
    w = f.Get("w")
    w._file = f  # keep the file open as long as the workspace is used
    return w


def _eft_weights(raw: dict[str, np.ndarray], theta: list[float]) -> np.ndarray:
    cols = ["w_sm", "w_c1", "w_c2", "w_c1_c1", "w_c1_c2", "w_c2_c2"]
    return np.stack([raw[c] for c in cols], axis=1) @ monomials(theta) * LUMI


def test_result_and_files(built: dict[str, Any]) -> None:
    res = built["result"]
    d = built["dir"]
    assert res.output == (d / "ws.root").resolve() and res.output.is_file()
    assert res.templates == (d / "ws_templates.root").resolve() and res.templates.is_file()
    assert not list(d.glob(".*tmp*")) and not list(d.glob(".ws.root*"))  # atomic writes left nothing behind
    assert res.pois == ("c1", "c2")
    assert set(res.nuisances) >= {"lumi", "xs_bkg", "jes", "scale", "trig", "mu_bkg", "prop_binbin_bin0"}
    unb = res.channels[0]
    raw = built["raw"]
    assert unb.yields["sig"] == pytest.approx(LUMI * raw["sig"]["weight"].sum(), rel=1e-12)
    assert unb.yields["bkg"] == pytest.approx(LUMI * raw["bkg"]["weight"].sum(), rel=1e-12)
    assert unb.n_data == 2400 and unb.data_sum == pytest.approx(2400)


def test_unbinned_yields_follow_simulation_sums(built: dict[str, Any], ws: Any) -> None:
    raw = built["raw"]
    pdf = ws.pdf("pdf_unb")
    obs = ws.argSet("x")
    theta = [0.7, -0.4]
    for name, val in zip(COEFS, theta, strict=True):
        ws.var(name).setVal(val)
    try:
        expected = _eft_weights(raw["sig"], theta).sum() + LUMI * raw["bkg"]["weight"].sum()
        assert pdf.expectedEvents(obs) == pytest.approx(expected, rel=1e-10)
        # shape-systematic yield effect from weight sums (jes) and from the learned ratios (scale)
        ws.var("jes").setVal(1.0)
        ws.var("scale").setVal(1.0)
        k_jes = raw["sig"]["weight_jesUp"].sum() / raw["sig"]["weight"].sum()
        s_up = column_values("exp", [0.02, 0.05], raw["sig"]["x"])
        k_scale = np.sum(raw["sig"]["weight"] * s_up) / raw["sig"]["weight"].sum()
        assert pdf.processYield("sig") == pytest.approx(
            _eft_weights(raw["sig"], theta).sum() * k_jes * k_scale, rel=1e-7
        )
        k_jes_b = raw["bkg"]["weight_jesUp"].sum() / raw["bkg"]["weight"].sum()
        assert pdf.processYield("bkg") == pytest.approx(LUMI * raw["bkg"]["weight"].sum() * k_jes_b, rel=1e-10)
    finally:
        for name in (*COEFS, "jes", "scale"):
            ws.var(name).setVal(0.0)
    # sim_unb: the Asimov weights at θ reproduce the expected events
    sim = ws.data("sim_unb").to_numpy()
    cols = ["w_sm", "w_c1", "w_c2", "w_c1_c1", "w_c1_c2", "w_c2_c2"]
    mat = np.stack([sim[c] for c in cols], axis=1)
    assert sim["x"].size == 3500
    assert (mat @ monomials(theta)).sum() == pytest.approx(expected, rel=1e-10)


def test_binned_templates_match_numpy(built: dict[str, Any], ws: Any) -> None:
    import uproot

    raw = built["raw"]
    score = {p: column_values("sigmoid", [0.0, 1.5], raw[p]["x"]) for p in ("sig", "bkg")}
    with uproot.open(built["result"].templates) as f:
        for p in ("sig", "bkg"):
            ref, _ = np.histogram(score[p], SCORE_EDGES, weights=LUMI * raw[p]["weight"])
            np.testing.assert_allclose(f[f"bin/{p}"].values(), ref, rtol=1e-6)  # float32 network output
            up, _ = np.histogram(score[p], SCORE_EDGES, weights=LUMI * raw[p]["weight_jesUp"])
            np.testing.assert_allclose(f[f"bin/{p}_jesUp"].values(), up, rtol=1e-6)
        lin, _ = np.histogram(score["sig"], SCORE_EDGES, weights=LUMI * raw["sig"]["w_c1"])
        np.testing.assert_allclose(f["bin/sig_term_c1"].values(), lin, rtol=1e-6)
        assert "bin/sig_term_c1_c2" in f and "bin/data_obs" in f and "cnt/bkg_trigUp" in f
        data_ref, _ = np.histogram(
            column_values(
                "sigmoid", [0.0, 1.5], uproot.open(built["dir"] / "data.root")["Events"]["x"].array(library="np")
            ),
            SCORE_EDGES,
        )
        np.testing.assert_allclose(f["bin/data_obs"].values(), data_ref)
        # the correction's nominal factor scales the background of channel cnt only
        sf = np.where(raw["bkg"]["pt"] < 100, 0.95, 1.05)
        ref_cnt, _ = np.histogram(raw["bkg"]["pt"], PT_EDGES, weights=LUMI * raw["bkg"]["weight"] * sf)
        np.testing.assert_allclose(f["cnt/bkg"].values(), ref_cnt, rtol=1e-12)
    # the template pdf at θ: per-bin Σ w_i(θ) exactly (γ = 1, ν = 0)
    theta = [-0.8, 0.5]
    for name, val in zip(COEFS, theta, strict=True):
        ws.var(name).setVal(val)
    try:
        got = np.array(list(ws.pdf("pdf_cnt").processBinYields("sig")))
        ref, _ = np.histogram(raw["sig"]["pt"], PT_EDGES, weights=_eft_weights(raw["sig"], theta))
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    finally:
        for name in COEFS:
            ws.var(name).setVal(0.0)


def test_data_obs_and_asimov(ws: Any) -> None:
    data = ws.data("data_obs")
    assert data.isWeighted() and data.get().find("CMS_channel") and not data.get().find("_weight_")
    assert data.weightVar().GetName() == "_weight_"
    cat = ws.cat("CMS_channel")
    assert [cat.lookupName(i) for i in range(3)] == ["unb", "bin", "cnt"]
    arr = data.to_numpy()
    ch = arr["CMS_channel"]
    w = arr["_weight_"]
    assert np.sum(ch == 0) == 2400 and np.sum(ch == 1) == len(SCORE_EDGES) - 1 and np.sum(ch == 2) == len(PT_EDGES) - 1
    assert w[ch == 1].sum() == pytest.approx(2400)
    # cnt: Asimov counts at c1 = 0.4 (nuisances nominal)
    ws.var("c1").setVal(0.4)
    try:
        expected = np.array(list(ws.pdf("pdf_cnt").binYields()))
    finally:
        ws.var("c1").setVal(0.0)
    np.testing.assert_allclose(w[ch == 2], expected, rtol=1e-12)
    # Combine's convention: the bin index with unit-width bins; the physical edges are metadata
    np.testing.assert_allclose(arr["CMS_th1x_cnt"][ch == 2], np.arange(len(PT_EDGES) - 1) + 0.5)
    meta = {c["name"]: c for c in json.loads(ws.obj("rooeft_metadata").GetTitle())["channels"]}
    assert meta["cnt"]["edges"] == PT_EDGES and meta["cnt"]["physical_observable"] == "ptz"
    assert meta["cnt"]["workspace_observable"] == "CMS_th1x_cnt"


def test_combine_conventions(built: dict[str, Any], ws: Any) -> None:
    import rooeft

    ROOT = rooeft.load_library()
    mc = ws.obj("ModelConfig")
    assert mc.GetPdf().GetName() == "model_s"
    names = lambda s: sorted(v.GetName() for v in s)  # noqa: E731
    assert names(mc.GetParametersOfInterest()) == ["c1", "c2"]
    assert names(mc.GetObservables()) == sorted(["x", "CMS_th1x_bin", "CMS_th1x_cnt", "CMS_channel"])
    nuis = names(mc.GetNuisanceParameters())
    globs = names(mc.GetGlobalObservables())
    assert "mu_bkg" in nuis and "prop_binbin_bin3" in nuis and "prop_bincnt_bin0" not in nuis
    constrained = [n for n in nuis if n != "mu_bkg"]
    assert globs == sorted(f"{n}_In" for n in constrained)
    for n in constrained:
        pdf = ws.pdf(f"{n}_Pdf")
        assert pdf and pdf.InheritsFrom("RooGaussian") and pdf.dependsOn(ws.var(n))
        assert ws.var(f"{n}_In").isConstant()
    for n in [*nuis, "c1", "c2"]:
        assert not ws.var(n).isConstant()
    assert ws.var("jes").getMin() == -5 and ws.var("jes").getMax() == 5 and ws.var("mu_bkg").getVal() == 1
    sim = ws.pdf("model_s")
    assert sim.InheritsFrom("RooSimultaneous")
    for ch, cls in (("unb", "RooEFTUnbinnedPdf"), ("bin", "RooEFTTemplatePdf"), ("cnt", "RooEFTTemplatePdf")):
        assert ws.pdf(f"pdf_{ch}").ClassName() == cls
        withc = sim.getPdf(ch)
        assert withc.GetName() == f"pdf_{ch}_withc" and withc.InheritsFrom("RooProdPdf")
        assert {p.GetName() for p in withc.pdfList()} >= {f"pdf_{ch}", "lumi_Pdf", "jes_Pdf"}
    meta = json.loads(ws.genobj("rooeft_metadata").GetTitle())
    assert meta["convention"] == 1 and meta["config_hash"] == built["result"].config_hash
    assert [c["name"] for c in meta["channels"]] == ["unb", "bin", "cnt"]
    assert meta["channels"][0]["observables"] == ["x"] and meta["channels"][2]["data"] == {"asimov": {"c1": 0.4}}
    assert ROOT.TClass.GetClass("RooEFTUnbinnedPdf")


POINT = {
    "c1": 0.3,
    "c2": -0.2,
    "jes": 0.4,
    "lumi": -0.5,
    "scale": 0.2,
    "xs_bkg": 0.1,
    "trig": -0.3,
    "mu_bkg": 1.1,
    "prop_binbin_bin2": 1.02,
}

EVAL = """
def evaluate(w, ROOT, point):
    mc = w.obj("ModelConfig")
    pdf = w.pdf("model_s")
    data = w.data("data_obs")
    nll = pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.GlobalObservables(mc.GetGlobalObservables()),
                        ROOT.RooFit.EvalBackend("cpu"))
    for k, v in point.items():
        w.var(k).setVal(v)
    at_point = nll.getVal()
    snapshot = {v.GetName(): v.getVal() for v in pdf.getParameters(data)}
    for v in mc.GetNuisanceParameters():
        v.setVal(1.0 if v.GetName() == "mu_bkg" or v.GetName().startswith("prop_bin") else 0.0)
    for v in mc.GetParametersOfInterest():
        v.setVal(0.0)
    r = pdf.fitTo(data, ROOT.RooFit.Extended(True), ROOT.RooFit.Save(), ROOT.RooFit.PrintLevel(-1),
                  ROOT.RooFit.GlobalObservables(mc.GetGlobalObservables()), ROOT.RooFit.SumW2Error(False),
                  ROOT.RooFit.EvalBackend("cpu"), ROOT.RooFit.Minimizer("Minuit2"), ROOT.RooFit.Strategy(1))
    out = {"nll": at_point, "status": r.status(), "minnll": r.minNll(),
           "fit": {v.GetName(): v.getVal() for v in r.floatParsFinal()}}
    for k, v in snapshot.items():
        w.var(k).setVal(v)
    return out
"""


def test_nll_constraints_counted_once(ws: Any) -> None:
    """model_s NLL differences = Σ channel NLL differences + Gaussian constraint differences."""
    import rooeft

    ROOT = rooeft.load_library()
    data = ws.data("data_obs")
    mc = ws.obj("ModelConfig")
    full = ws.pdf("model_s").createNLL(
        data, ROOT.RooFit.Extended(True), ROOT.RooFit.GlobalObservables(mc.GetGlobalObservables())
    )
    parts = []
    for ch in ("unb", "bin", "cnt"):
        sub = data.reduce(ROOT.RooFit.Cut(f"CMS_channel==CMS_channel::{ch}"))
        parts.append((sub, ws.pdf(f"pdf_{ch}").createNLL(sub, ROOT.RooFit.Extended(True))))

    def values() -> tuple[float, float, float]:
        cons = sum(
            0.5 * ((ws.var(n.GetName()).getVal() - ws.var(f"{n.GetName()}_In").getVal()) / sig) ** 2
            for n, sig in ((v, _sigma(ws, v.GetName())) for v in mc.GetNuisanceParameters() if v.GetName() != "mu_bkg")
        )
        return full.getVal(), sum(p.getVal() for _, p in parts), cons

    f0, c0, k0 = values()
    for k, v in POINT.items():
        ws.var(k).setVal(v)
    try:
        f1, c1, k1 = values()
    finally:
        for k in POINT:
            ws.var(k).setVal(1.0 if k == "mu_bkg" or k.startswith("prop_bin") else 0.0)
    assert k1 - k0 > 0.1
    # summation-order noise of NLLs of O(1e4) is ~1e-5; counting the constraints per channel would add ≥ 0.2
    assert f1 - f0 == pytest.approx((c1 - c0) + (k1 - k0), abs=1e-4)


def test_constraints_are_untruncated_gaussians(ws: Any) -> None:
    """Combine's convention: -ln of each normalised constraint term is (ν - g)²/2σ² + ln(σ√2π) for
    every allowed ν, with no truncation term from the global observable's range (which extends 10σ
    beyond the nuisance's range)."""
    import math

    import rooeft

    ROOT = rooeft.load_library()
    mc = ws.obj("ModelConfig")
    for v in mc.GetNuisanceParameters():
        n = v.GetName()
        if n == "mu_bkg":
            continue
        sig, glob, pdf = _sigma(ws, n), ws.var(f"{n}_In"), ws.pdf(f"{n}_Pdf")
        assert glob.getMin() <= v.getMin() - 10 * sig and glob.getMax() >= v.getMax() + 10 * sig
        nset = ROOT.RooArgSet(glob)
        saved = v.getVal()
        try:
            for frac in (0.0, 0.8, -0.95):  # up to the edge of the nuisance's range
                x = glob.getVal() + frac * (v.getMax() - glob.getVal() if frac > 0 else glob.getVal() - v.getMin())
                v.setVal(x)
                z = (x - glob.getVal()) / sig
                expected = 0.5 * z * z + math.log(sig * math.sqrt(2 * math.pi))
                assert -math.log(pdf.getVal(nset)) == pytest.approx(expected, rel=1e-12, abs=1e-12), (n, x)
        finally:
            v.setVal(saved)


def _sigma(ws: Any, name: str) -> float:
    s = ws.obj(f"{name}_Sigma")
    return float(s.getVal()) if s else 1.0


def test_round_trip_in_fresh_process(built: dict[str, Any], ws: Any) -> None:
    import rooeft
    import rooeft._roofit as rr

    ROOT = rooeft.load_library()
    namespace: dict[str, Any] = {}
    exec(EVAL, namespace)
    here = namespace["evaluate"](ws, ROOT, POINT)
    script = (
        "import json, ROOT\n"
        f"assert ROOT.gSystem.Load({str(rr.library_path())!r}) >= 0\n"
        "ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)\n"
        + EVAL
        + f"f = ROOT.TFile.Open({str(built['result'].output)!r})\n"
        + "w = f.Get('w')\n"
        + f"print(json.dumps(evaluate(w, ROOT, {POINT!r})))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["nll"] == pytest.approx(here["nll"], rel=1e-12, abs=1e-9)
    assert got["status"] == here["status"] == 0
    assert got["minnll"] == pytest.approx(here["minnll"], rel=1e-10, abs=1e-7)
    for k, v in here["fit"].items():
        assert got["fit"][k] == pytest.approx(v, abs=1e-6), k


def test_cli_build_and_check(built: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rooeft.cli import main

    cfg = built["dir"] / "analysis.yaml"
    assert main(["build", "--check", str(cfg)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    raw = config_dict()
    raw["channels"][0]["proceses"] = raw["channels"][0].pop("processes")
    bad.write_text(yaml.safe_dump(raw))
    assert main(["build", "--check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "channels[0].proceses: unknown key" in err and "channels[0].processes: required key missing" in err


def test_asimov_fit_at_sm_returns_sm_with_nuisances_at_nominal(built: dict[str, Any]) -> None:
    """Shape × rate normalisation with the learned means (terms and shape systematics): even for
    networks that do not describe the simulation, the Asimov fit at the training point returns it."""
    from rooeft.infer import fit

    res = fit(built["result"].output, asimov=True)
    assert res.ok
    for name, p in res.parameters.items():
        nominal = 1.0 if name.startswith(("prop_bin", "mu_")) else 0.0
        assert abs(p.value - nominal) < 0.02 * max(p.error, 1e-3), (name, p.value, p.error)
