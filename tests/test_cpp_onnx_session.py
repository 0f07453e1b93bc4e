"""OnnxSession validation error paths (every ONNX Runtime handle is RAII-owned) and doEval reading
derived parameters through the evaluation context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

EDGES = [0.0, 50.0, 100.0, 200.0, 400.0]
SIG = np.array([120.0, 80.0, 40.0, 12.0])
LIN = np.array([0.05, 0.2, 0.6, 1.5])
QUAD = np.array([0.01, 0.05, 0.3, 1.2])
BKG = np.array([400.0, 200.0, 60.0, 10.0])


def _save(path: Path, inputs: list[Any], outputs: list[Any], nodes: list[Any]) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _identity(path: Path, elem: int = TensorProto.FLOAT, shape: list[Any] | None = None) -> Path:
    shape = shape if shape is not None else ["batch", 2]
    return _save(
        path,
        [helper.make_tensor_value_info("x", elem, shape)],
        [helper.make_tensor_value_info("y", elem, shape)],
        [helper.make_node("Identity", ["x"], ["y"])],
    )


def test_session_rejects_unsupported_models_and_keeps_working(ROOT: Any, tmp_path: Path) -> None:
    svars = [ROOT.RooRealVar(f"s{i}", "s", 0.5 * i, -5, 5) for i in range(2)]
    xs = ROOT.RooArgList(*svars)
    two_inputs = _save(
        tmp_path / "two_inputs.onnx",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_node("Add", ["a", "b"], ["y"])],
    )
    bad = [
        (two_inputs, "exactly one input and one output, it has 2 input"),
        (_identity(tmp_path / "double.onnx", TensorProto.DOUBLE), "input must be float32"),
        (_identity(tmp_path / "dynamic.onnx", shape=["batch", "n"]), "fixed n"),
        (_identity(tmp_path / "rank3.onnx", shape=["batch", 2, 2]), "rank 3"),
    ]
    # each error is thrown after the session (and its type infos) exist: they must be released
    for _ in range(3):
        for path, message in bad:
            with pytest.raises(Exception, match=message):
                ROOT.RooEFTONNXFunction("f", "f", str(path), xs, 0)
    good = ROOT.RooEFTONNXFunction("f", "f", str(_identity(tmp_path / "good.onnx")), xs, 1)
    assert good.getVal() == pytest.approx(0.5)
    assert good.modelMetadata("rooeft.absent") == ""
    assert list(good.evaluateRows([1.0, 2.0, 3.0, 4.0])) == [1.0, 2.0, 3.0, 4.0]


def test_template_doeval_reads_derived_parameters_like_the_scalar_path(ROOT: Any) -> None:
    """A rate modifier that is a function of a parameter, a shared nuisance and γ's: the vectorised
    backend (values through the evaluation context) and the legacy one (getVal) give the same
    NLL differences as the hand-computed Poisson sum over the scalar path's bin yields."""
    x = ROOT.RooRealVar("ptz_ctx", "ptz", 0, EDGES[0], EDGES[-1])
    x.setBinning(ROOT.RooBinning(len(EDGES) - 1, np.array(EDGES)))
    c = ROOT.RooRealVar("cHW_ctx", "cHW", 0, -5, 5)
    pdf = ROOT.RooEFTTemplatePdf("tpl_ctx", "tpl", x, EDGES, ROOT.RooArgList(c))
    pdf.addProcess("sig", SIG.tolist(), np.stack([np.ones_like(LIN), LIN, QUAD], axis=1).ravel().tolist())
    pdf.addProcess("bkg", BKG.tolist())
    jes = ROOT.RooRealVar("jes_ctx", "jes", 0, -5, 5)
    lumi = ROOT.RooRealVar("lumi_ctx", "lumi", 0, -5, 5)
    r = ROOT.RooRealVar("r_ctx", "r", 1, 0, 5)
    mu = ROOT.RooFormulaVar("mu_ctx", "mu", "0.5 + 0.5 * r_ctx * r_ctx", ROOT.RooArgList(r))
    gammas = [ROOT.RooRealVar(f"gamma_ctx_{b}", "g", 1, 0, 3) for b in range(len(SIG))]
    pdf.addShapeSystematic(jes, "sig", (SIG * 1.05).tolist(), (SIG * 0.97).tolist())
    pdf.addNormSystematic(lumi, "sig", 1.025, 1 / 1.025)
    pdf.addNormSystematic(lumi, "bkg", 1.03, 0.98, 1)
    pdf.setRateModifier("sig", mu)
    pdf.setBinParameters(ROOT.RooArgList(*gammas))
    counts = np.array([530.0, 300.0, 95.0, 25.0])
    h = ROOT.TH1D("h_ctx", "h", len(EDGES) - 1, np.array(EDGES))
    for b, n in enumerate(counts):
        h.SetBinContent(b + 1, float(n))
    data = ROOT.RooDataHist("data_ctx", "data", ROOT.RooArgList(x), h)
    nlls = {
        be: pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend(be)) for be in ("cpu", "legacy")
    }
    rng = np.random.default_rng(5)
    params = [c, jes, lumi, r, *gammas]
    points = [
        [rng.uniform(-1, 1), rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(0.5, 2), *rng.uniform(0.8, 1.2, 4)]
        for _ in range(5)
    ]
    values: dict[str, list[float]] = {"cpu": [], "legacy": [], "ref": []}
    for point in points:
        for var, val in zip(params, point, strict=True):
            var.setVal(val)
        n = np.array(list(pdf.binYields()))
        values["ref"].append(float(np.sum(n - counts * np.log(n))))
        for be, nll in nlls.items():
            values[be].append(nll.getVal())
    ref = np.array(values["ref"]) - values["ref"][0]
    for be in ("cpu", "legacy"):
        np.testing.assert_allclose(np.array(values[be]) - values[be][0], ref, rtol=1e-9, atol=1e-9)
