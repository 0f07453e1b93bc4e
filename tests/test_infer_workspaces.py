"""Hand-built workspaces in the rooeft convention for the inference tests, with independent numpy
likelihoods (and a check that the two agree)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize

from rooeft.testing.onnx_toys import build_columns_model, column_values

from reference import code4_mult

# the single-coefficient unbinned model of test_cpp_unbinned: r(x|c) = (1 + c x / 2)², x ~ N(0, 1)
SINGLE = [("lin:sig:c", "poly", [0.0, 1.0]), ("quad:sig:c:c", "poly", [0.0, 0.0, 0.25])]


def _ws_common(ROOT: Any, pois: Mapping[str, tuple[float, float]], nuisances: Sequence[str]) -> dict[str, Any]:
    keep: dict[str, Any] = {"pois": {}, "nu": {}, "in": {}, "pdf": {}}
    for name, (lo, hi) in pois.items():
        keep["pois"][name] = ROOT.RooRealVar(name, name, 0.0, lo, hi)
    keep["one"] = ROOT.RooFit.RooConst(1.0)
    for nu in nuisances:
        keep["nu"][nu] = ROOT.RooRealVar(nu, nu, 0.0, -5.0, 5.0)
        keep["in"][nu] = ROOT.RooRealVar(f"{nu}_In", f"{nu}_In", 0.0, -5.0, 5.0)
        keep["in"][nu].setConstant(True)
        keep["pdf"][nu] = ROOT.RooGaussian(f"{nu}_Pdf", f"{nu}_Pdf", keep["nu"][nu], keep["in"][nu], keep["one"])
    keep["cat"] = ROOT.RooCategory("CMS_channel", "CMS_channel")
    return keep


def _finish(
    ROOT: Any,
    path: Path,
    keep: dict[str, Any],
    channels: list[tuple[str, Any, Any]],
    data_rows: dict[str, tuple[dict[str, np.ndarray], np.ndarray]],
    sims: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """channels: (name, channel pdf, observable var); data_rows: per channel (columns, weights)."""
    constraints = list(keep["pdf"].values())
    sim = ROOT.RooSimultaneous("model_s", "model_s", keep["cat"])
    withc = []
    for ch, pdf, _ in channels:
        prod = ROOT.RooProdPdf(f"pdf_{ch}_withc", "", ROOT.RooArgList(pdf, *constraints))
        withc.append(prod)
        sim.addPdf(prod, ch)
    obs = [o for _, _, o in channels]
    wvar = ROOT.RooRealVar("_weight_", "_weight_", 1.0)
    cols: dict[str, list[np.ndarray]] = {o.GetName(): [] for o in obs}
    cols["CMS_channel"], cols["_weight_"] = [], []
    for i, (ch, _, _) in enumerate(channels):
        c, w = data_rows[ch]
        for o in obs:
            cols[o.GetName()].append(c.get(o.GetName(), np.full(w.size, o.getVal())))
        cols["CMS_channel"].append(np.full(w.size, i, dtype=np.int32))
        cols["_weight_"].append(w)
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    data = ROOT.RooDataSet.from_numpy(
        arrays, ROOT.RooArgSet(*obs, keep["cat"], wvar), name="data_obs", weight_name="_weight_"
    )
    assert data.numEntries() == arrays["_weight_"].size
    w = ROOT.RooWorkspace("w")
    w.Import(sim)
    w.Import(data)
    for s in sims.values():
        w.Import(s)
    mc = ROOT.RooStats.ModelConfig("ModelConfig", w)
    mc.SetPdf(w.pdf("model_s"))
    mc.SetParametersOfInterest(ROOT.RooArgSet(*[w.var(p) for p in keep["pois"]]))
    mc.SetObservables(ROOT.RooArgSet(*[w.var(o.GetName()) for o in obs], w.cat("CMS_channel")))
    if keep["nu"]:
        mc.SetNuisanceParameters(ROOT.RooArgSet(*[w.var(n) for n in keep["nu"]]))
        mc.SetGlobalObservables(ROOT.RooArgSet(*[w.var(f"{n}_In") for n in keep["nu"]]))
    w.Import(mc)
    w.Import(ROOT.TNamed("rooeft_metadata", json.dumps(meta)))
    w.writeToFile(str(path))
    return path


def binned_workspace(
    ROOT: Any,
    path: Path,
    *,
    edges: Sequence[float],
    pois: Mapping[str, tuple[float, float]],
    processes: Mapping[str, tuple[Sequence[float], np.ndarray | None]],
    data: Sequence[float],
    norm: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
    channel: str = "bin",
) -> Path:
    """One binned channel: ``processes[p] = (nominal per bin, nBins×nTerms terms or None)``,
    ``norm[nu][p] = (κup, κdown)`` (code 4)."""
    norm = norm or {}
    keep = _ws_common(ROOT, pois, list(norm))
    x = ROOT.RooRealVar(f"x_{channel}", "x", float(edges[0]), float(edges[0]), float(edges[-1]))
    x.setBinning(ROOT.RooBinning(len(edges) - 1, np.asarray(edges, dtype=float)))
    pdf = ROOT.RooEFTTemplatePdf(f"pdf_{channel}", "", x, list(edges), ROOT.RooArgList(*keep["pois"].values()))
    for p, (nom, terms) in processes.items():
        if terms is None:
            pdf.addProcess(p, list(nom))
        else:
            pdf.addProcess(p, list(nom), np.asarray(terms, dtype=float).ravel().tolist())
    for nu, effects in norm.items():
        for p, (up, down) in effects.items():
            pdf.addNormSystematic(keep["nu"][nu], p, up, down, 4)
    keep["cat"].defineType(channel, 0)
    centres = 0.5 * (np.asarray(edges[1:], dtype=float) + np.asarray(edges[:-1], dtype=float))
    rows = {channel: ({x.GetName(): centres}, np.asarray(data, dtype=float))}
    meta = {"version": 1, "coefficients": list(pois), "channels": [{"name": channel, "kind": "binned"}]}
    return _finish(ROOT, path, keep, [(channel, pdf, x)], rows, {}, meta)


def counting_expected(c: np.ndarray | float, s: float, a: float, b: float, bkg: float) -> Any:
    return s * (1 + a * np.asarray(c) + b * np.asarray(c) ** 2) + bkg


def mixed_workspace(
    ROOT: Any,
    path: Path,
    onnx_dir: Path,
    *,
    data_c: float = 0.3,
    n_sig: float = 400.0,
    n_sim: int = 4000,
    seed: int = 1,
) -> tuple[Path, dict[str, Any]]:
    """A binned channel ``bin`` (3 bins, coefficient c) plus an unbinned channel ``unb`` (the
    SINGLE model in observable x) and a lumi nuisance on both. Returns the path and the inputs."""
    rng = np.random.default_rng(seed)
    onnx_path = build_columns_model(onnx_dir / "single.onnx", SINGLE, coefficients=["c"], nominal_rates={"sig": n_sig})
    keep = _ws_common(ROOT, {"c": (-3.0, 3.0)}, ["lumi"])
    c = keep["pois"]["c"]
    edges = [0.0, 1.0, 2.0, 3.0]
    sig, lin, quad, bkg = (
        np.array([30.0, 20.0, 10.0]),
        np.array([0.2, 0.5, 1.0]),
        np.array([0.1, 0.3, 0.8]),
        np.array([60.0, 30.0, 10.0]),
    )
    xb = ROOT.RooRealVar("x_bin", "x_bin", 0.0, 0.0, 3.0)
    xb.setBinning(ROOT.RooBinning(3, np.asarray(edges)))
    tpl = ROOT.RooEFTTemplatePdf("pdf_bin", "", xb, edges, ROOT.RooArgList(c))
    tpl.addProcess("sig", sig.tolist(), np.stack([np.ones(3), lin, quad], 1).ravel().tolist())
    tpl.addProcess("bkg", bkg.tolist())
    kappa = (1.05, 1 / 1.05)
    for p in ("sig", "bkg"):
        tpl.addNormSystematic(keep["nu"]["lumi"], p, *kappa, 4)
    x = ROOT.RooRealVar("x", "x", 0.0, -8.0, 8.0)
    unb = ROOT.RooEFTUnbinnedPdf(
        "pdf_unb", "", str(onnx_path), ROOT.RooArgList(x), ROOT.RooArgList(c), ROOT.RooArgList()
    )
    unb.setCrossSection("sig", [1.0, 0.0, 0.25])
    unb.addNormSystematic(keep["nu"]["lumi"], [kappa[0]], [kappa[1]], 4)
    keep["cat"].defineType("bin", 0)
    keep["cat"].defineType("unb", 1)
    # observed data: binned Poisson at data_c, unbinned accept-reject from (1 + c x/2)² N(x;0,1)
    counts = rng.poisson(sig * (1 + lin * data_c + quad * data_c**2) + bkg).astype(float)
    n = rng.poisson(n_sig * (1 + data_c**2 / 4))
    xs: list[np.ndarray] = []
    while sum(a.size for a in xs) < n:
        cand = rng.normal(size=4 * n + 100)
        wgt = (1 + data_c * cand / 2) ** 2
        xs.append(cand[rng.uniform(size=cand.size) * wgt.max() < wgt])
    xdata = np.clip(np.concatenate(xs)[:n], -7.9, 7.9)
    # weighted simulation for Asimov/toys: SM-distributed x with the exact term weights
    xsim = np.clip(rng.normal(size=n_sim), -7.9, 7.9)
    w_sm = np.full(n_sim, n_sig / n_sim)
    sim_cols = {"x": xsim, "w_sm": w_sm, "w_c": w_sm * xsim, "w_c_c": w_sm * xsim**2 / 4}
    wv = {k: ROOT.RooRealVar(k, k, 0.0) for k in ("w_sm", "w_c", "w_c_c")}
    simds = ROOT.RooDataSet.from_numpy(sim_cols, ROOT.RooArgSet(x, *wv.values()), name="sim_unb")
    rows = {
        "bin": ({"x_bin": 0.5 * (np.asarray(edges[1:]) + np.asarray(edges[:-1]))}, counts),
        "unb": ({"x": xdata}, np.ones(xdata.size)),
    }
    meta = {
        "version": 1,
        "coefficients": ["c"],
        "channels": [{"name": "bin", "kind": "binned"}, {"name": "unb", "kind": "unbinned"}],
    }
    _finish(ROOT, path, keep, [("bin", tpl, xb), ("unb", unb, x)], rows, {"unb": simds}, meta)
    info = {
        "sig": sig,
        "lin": lin,
        "quad": quad,
        "bkg": bkg,
        "kappa": kappa,
        "counts": counts,
        "x": xdata,
        "n_sig": n_sig,
        "sim": sim_cols,
    }
    return path, info


def mixed_numpy_nll(c: float, lumi: float, info: Mapping[str, Any]) -> float:
    """Independent NLL of :func:`mixed_workspace` (up to a constant)."""
    f = code4_mult(lumi, *info["kappa"])
    n = f * (info["sig"] * (1 + info["lin"] * c + info["quad"] * c * c) + info["bkg"])
    binned = float(np.sum(n - info["counts"] * np.log(n)))
    x = info["x"]
    r = 1 + c * column_values("poly", [0.0, 1.0], x) + c * c * column_values("poly", [0.0, 0.0, 0.25], x)
    unbinned = f * info["n_sig"] * (1 + c * c / 4) - float(np.sum(np.log(f * r)))
    return binned + unbinned + 0.5 * lumi * lumi


def profile_numpy(nll: Any, c: float) -> float:
    """min over lumi of nll(c, lumi)."""
    res = minimize(
        lambda v: nll(c, float(v[0])), x0=[0.0], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10}
    )
    return float(res.fun)


@pytest.fixture
def mixed(ROOT: Any, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return mixed_workspace(ROOT, tmp_path / "mixed.root", tmp_path)


def test_mixed_workspace_likelihood_equals_numpy(mixed: tuple[Path, dict[str, Any]]) -> None:
    from rooeft.infer.model import DataSpec, Model

    path, info = mixed
    model = Model(path)
    assert model.channels == ["bin", "unb"]
    assert model.channel_kind == {"bin": "binned", "unb": "unbinned"}
    assert model.pois == ["c"] and model.nuisances == ["lumi"]
    nll = model.nll(DataSpec())
    model.set_values({"c": 0.0, "lumi": 0.0})
    ref0, np0 = nll.getVal(), mixed_numpy_nll(0.0, 0.0, info)
    # (points where no event sits near a zero of R = (1 + c x/2)²: the ONNX columns are float32)
    for c, lumi in ((0.4, 0.3), (-0.5, -1.2), (0.6, 0.0)):
        model.set_values({"c": c, "lumi": lumi})
        assert nll.getVal() - ref0 == pytest.approx(mixed_numpy_nll(c, lumi, info) - np0, rel=1e-6, abs=1e-5)
