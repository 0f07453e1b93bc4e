"""``rooeft.onnx``: torch-free sessions and interface reading, one implementation behind
``rooeft.nn.evaluate_onnx`` and the workspace builder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rooeft.testing.onnx_toys import build_columns_model, column_values

COLUMNS = [
    ("frac:sig", "sigmoid", [0.2, 0.7]),
    ("frac:bkg", "1-sigmoid", [0.2, 0.7]),
    ("lin:sig:c1", "poly", [0.0, 0.6]),
]


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, rooeft.onnx, rooeft.onnx_convention, rooeft.workspace.expected; "
        "import onnx; assert hasattr(onnx, 'load_from_string'), 'import onnx must be the library'; "
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.') or m == 'ROOT'); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    src = str(Path(__file__).resolve().parents[1] / "python")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src})
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    build_columns_model(path, COLUMNS, coefficients=["c1"], processes=["sig", "bkg"])
    return path


def test_run_session_and_cache_agree(model: Path) -> None:
    import rooeft.onnx as ro

    x = np.linspace(-2.0, 2.0, 41)[:, None]
    models = ro.OnnxModels()
    m = models[model]
    assert models[str(model)] is m and len(models) == 1  # read once per path
    assert m.interface.observables == ("x",) and m.column("lin:sig:c1") == 2
    got = m.run(x)
    assert got.dtype == np.float64 and got.shape == (41, 3)
    assert np.array_equal(got, ro.run(model, x)) and np.array_equal(got, ro.run(model.read_bytes(), x))
    ref = np.stack([column_values(k, c, x[:, 0]) for _, k, c in COLUMNS], axis=1)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    out, iface = ro.evaluate(model, x, observables=["x"])
    assert iface == m.interface and np.array_equal(out.astype(np.float64), got)
    with pytest.raises(ValueError, match="do not match"):
        ro.evaluate(model, x, observables=["y"])


def test_nn_evaluate_onnx_is_the_same_function() -> None:
    pytest.importorskip("torch")
    import rooeft.onnx as ro
    from rooeft.nn import evaluate_onnx

    assert evaluate_onnx is ro.evaluate
