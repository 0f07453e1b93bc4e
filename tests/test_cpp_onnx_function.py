"""RooEFTONNXFunction: C++ ONNX Runtime vs Python onnxruntime, batch vs scalar, shape checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from rooeft.testing.onnx_toys import build_mlp_model


def run_batch(ROOT: Any, func: Any, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluate ``func`` with RooFit's vectorised evaluator on numpy columns."""
    ev = ROOT.RooFit.Evaluator(func)
    keep = []
    for name, col in columns.items():
        col = np.ascontiguousarray(col, dtype=np.float64)
        keep.append(col)
        ev.setInput(name, ROOT.std.span["const double"](col, col.size), False)
    out = ev.run()
    return np.fromiter((out[i] for i in range(out.size())), dtype=np.float64, count=out.size())


@pytest.fixture
def mlp(tmp_path: Path) -> Path:
    return build_mlp_model(tmp_path / "mlp.onnx", n_in=3, n_out=4, seed=3)


def test_cpp_equals_python_onnxruntime_batch_and_scalar(ROOT: Any, mlp: Path) -> None:
    xs = [ROOT.RooRealVar(f"x{i}", f"x{i}", 0, -10, 10) for i in range(3)]
    rng = np.random.default_rng(11)
    X = rng.normal(scale=2.0, size=(10_000, 3))
    ref = ort.InferenceSession(str(mlp)).run(None, {"x": X.astype(np.float32)})[0]
    for k in range(4):
        f = ROOT.RooEFTONNXFunction(f"f{k}", "f", str(mlp), ROOT.RooArgList(*xs), k)
        batch = run_batch(ROOT, f, {f"x{i}": X[:, i] for i in range(3)})
        np.testing.assert_allclose(batch, ref[:, k], rtol=2e-6, atol=2e-6)
        assert f.networkCalls() == 1
        scalar = []
        for row in X[:300]:
            for v, val in zip(xs, row, strict=True):
                v.setVal(val)
            scalar.append(f.getVal())
        np.testing.assert_allclose(scalar, batch[:300], rtol=1e-7, atol=1e-7)


def test_batch_cache_is_reused_and_invalidated(ROOT: Any, mlp: Path) -> None:
    xs = [ROOT.RooRealVar(f"x{i}", f"x{i}", 0, -10, 10) for i in range(3)]
    f = ROOT.RooEFTONNXFunction("f", "f", str(mlp), ROOT.RooArgList(*xs), 1)
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 3))
    b = rng.normal(size=(500, 3))
    va = run_batch(ROOT, f, {f"x{i}": a[:, i] for i in range(3)})
    vb = run_batch(ROOT, f, {f"x{i}": b[:, i] for i in range(3)})
    assert not np.allclose(va, vb)
    ref = ort.InferenceSession(str(mlp)).run(None, {"x": b.astype(np.float32)})[0][:, 1]
    np.testing.assert_allclose(vb, ref, rtol=2e-6, atol=2e-6)


def test_output_by_name_and_metadata(ROOT: Any, columns_model: Any) -> None:
    path = columns_model([("lin:sig:c", "poly", [0, 2]), ("quad:sig:c:c", "poly", [0, 0, 0.5])], coefficients=["c"])
    x = ROOT.RooRealVar("x", "x", 1.5, -5, 5)
    f = ROOT.RooEFTONNXFunction("f", "f", str(path), ROOT.RooArgList(x), "quad:sig:c:c")
    assert f.outputIndex() == 1
    assert f.getVal() == pytest.approx(0.5 * 1.5**2, rel=1e-6)
    assert '"c"' in str(f.modelMetadata("rooeft.coefficients"))


def test_shape_errors_are_clear(ROOT: Any, mlp: Path, tmp_path: Path) -> None:
    x = ROOT.RooRealVar("x", "x", 0, -1, 1)
    with pytest.raises(Exception, match="takes 3 input columns but 1 RooFit inputs"):
        ROOT.RooEFTONNXFunction("f", "f", str(mlp), ROOT.RooArgList(x), 0)
    xs = [ROOT.RooRealVar(f"y{i}", "y", 0, -1, 1) for i in range(3)]
    with pytest.raises(Exception, match="output index 4 is out of range: the model has 4 output columns"):
        ROOT.RooEFTONNXFunction("f", "f", str(mlp), ROOT.RooArgList(*xs), 4)
    with pytest.raises(Exception, match="cannot open ONNX model file"):
        ROOT.RooEFTONNXFunction("f", "f", str(tmp_path / "missing.onnx"), ROOT.RooArgList(*xs), 0)
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(Exception, match="CreateSessionFromArray"):
        ROOT.RooEFTONNXFunction("f", "f", str(bad), ROOT.RooArgList(*xs), 0)
    with pytest.raises(Exception, match="no output column named 'nope'"):
        ROOT.RooEFTONNXFunction("f", "f", str(mlp), ROOT.RooArgList(*xs), "nope")
