"""Composition into one convention model, ONNX export validated by onnxruntime, metadata round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from rooeft.nn import (  # noqa: E402
    ExportValidationError,
    FractionConfig,
    NetworkConfig,
    PerTermConfig,
    QuadraticConfig,
    SystematicConfig,
    TrainingConfig,
    compose,
    evaluate_onnx,
    train_from_arrays,
    train_joint_quadratic,
    train_process_fractions,
)
from rooeft.onnx_convention import output_columns, read_interface  # noqa: E402
from test_nn_toys import toy_2d  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

NET = NetworkConfig(hidden_layers=2, width=16)
TR = TrainingConfig(max_epochs=3, batch_size=512, progress=False, num_threads=1, seed=11)
OBS = ["x1", "x2"]
COEFS = ["cHW", "cHWtil"]


def two_process_sample(n: int = 6000) -> dict[str, Any]:
    x, w = toy_2d(n)
    label = np.where(np.arange(n) % 3 == 0, "bkg", "sig")
    w[label == "bkg", 1:] = 0.0  # the background has no EFT dependence
    w[label == "bkg", 0] = np.abs(w[label == "bkg", 0]) * 2
    rng = np.random.default_rng(0)
    jes = (w[:, 0] * np.exp(0.1 * x[:, 0]) * rng.choice([0.8, 1.2], n), w[:, 0] * np.exp(-0.1 * x[:, 0]))
    return {"x": x, "w": w, "label": label, "variations": {"jes": jes}}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = two_process_sample()
    out = tmp_path_factory.mktemp("export") / "model.onnx"
    return train_from_arrays(
        s["x"],
        s["w"],
        observables=OBS,
        coefficients=COEFS,
        processes=["sig", "bkg"],
        process=s["label"],
        variations=s["variations"],
        eft_config=QuadraticConfig(network=NET, training=TR),
        fraction_config=FractionConfig(network=NET, training=TR),
        systematic_config=SystematicConfig(network=NET, training=TR),
        output=out,
    )


def test_exported_file_follows_the_convention(result: Any) -> None:
    exp = result.export
    iface = read_interface(exp.onnx_path)
    assert iface.observables == tuple(OBS)
    assert iface.coefficients == tuple(COEFS)
    assert iface.processes == ("sig", "bkg")
    assert iface.systematics == ("jes",)
    assert list(iface.outputs) == output_columns(
        processes=["sig", "bkg"], coefficients=COEFS, eft_processes=["sig"], systematics=["jes"]
    )
    assert set(iface.nominal_rates) == {"sig", "bkg"} and all(v > 0 for v in iface.nominal_rates.values())
    prov = iface.provenance
    assert prov["torch_version"] == torch.__version__
    comps = prov["components"]
    assert comps["eft['sig']"]["estimator"] == "joint_positive_quadratic"
    assert comps["eft['sig']"]["seed"] == 11
    assert comps["eft['sig']"]["config"]["network"]["width"] == 16
    assert comps["fractions"]["estimator"] == "process_fractions"
    assert comps["systematics"]["estimator"] == "systematic_ratios"
    model = onnx.load(str(exp.onnx_path))
    assert model.opset_import[0].version == 17
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert not list(exp.onnx_path.parent.glob("*.data"))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == 2
    meta = json.loads(exp.metadata_path.read_text())
    assert meta["rooeft.outputs"] == list(iface.outputs)


def test_onnx_reproduces_torch_on_new_events(result: Any) -> None:
    x = np.random.default_rng(99).normal(scale=1.5, size=(3000, 2))
    ort_out, iface = evaluate_onnx(result.export.onnx_path, x, observables=OBS)
    torch_out = result.model.predict(x)
    np.testing.assert_allclose(ort_out, torch_out, rtol=1e-5, atol=1e-6)
    cols = list(iface.outputs)
    np.testing.assert_allclose(ort_out[:, cols.index("frac:sig")] + ort_out[:, cols.index("frac:bkg")], 1, atol=1e-6)
    assert np.all(ort_out[:, [c.startswith("sys") for c in cols]] > 0)
    # the columns are those of the components
    np.testing.assert_allclose(ort_out[:, 2:7], result.eft["sig"].predict(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ort_out[:, :2], result.fractions.predict(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ort_out[:, 7:], result.systematics.predict(x), rtol=1e-5, atol=1e-6)


def test_reference_npz_for_cpp_tests(result: Any) -> None:
    ref = np.load(result.export.reference_path)
    assert ref["inputs"].dtype == np.float32 and ref["outputs"].dtype == np.float32
    assert ref["inputs"].shape[1] == 2 and 0 < ref["inputs"].shape[0] <= 256
    assert list(ref["columns"]) == list(read_interface(result.export.onnx_path).outputs)
    assert list(ref["observables"]) == OBS
    got, _ = evaluate_onnx(result.export.onnx_path, ref["inputs"], observables=OBS)
    np.testing.assert_allclose(got, ref["outputs"], rtol=1e-5, atol=1e-6)
    assert result.export.max_abs_diff < 1e-5


def test_evaluate_onnx_refuses_mismatched_observables(result: Any) -> None:
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"observables \['x2', 'x1'\] do not match the model's observables"):
        evaluate_onnx(result.export.onnx_path, x, observables=["x2", "x1"])
    with pytest.raises(ValueError, match="empty"):
        evaluate_onnx(result.export.onnx_path, np.zeros((0, 2)), observables=OBS)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_onnx(result.export.onnx_path, np.full((1, 2), np.nan), observables=OBS)
    with pytest.raises(ValueError, match=r"observables .* do not match"):
        result.model.predict(x, observables=["a", "b"])


def test_export_fails_loudly_when_onnxruntime_disagrees(
    result: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rooeft.nn.export as export

    real = export._ort_session

    class Skewed:
        def __init__(self, raw: bytes) -> None:
            self.sess = real(raw)

        def run(self, names: Any, feeds: Any) -> list[np.ndarray]:
            out = self.sess.run(names, feeds)[0]
            out[:, 3] += 1e-3
            return [out]

    monkeypatch.setattr(export, "_ort_session", Skewed)
    with pytest.raises(ExportValidationError, match=r"onnxruntime disagrees with torch.*'lin:sig:cHWtil'"):
        result.model.export(tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_compose_refusals() -> None:
    s = two_process_sample(1500)
    q = train_joint_quadratic(
        s["x"],
        s["w"],
        observables=OBS,
        coefficients=COEFS,
        config=QuadraticConfig(network=NET, training=TR),
        events=s["label"] == "sig",
    )
    f = train_process_fractions(
        s["x"],
        s["label"],
        s["w"][:, 0],
        observables=OBS,
        processes=["sig", "bkg"],
        config=FractionConfig(network=NET, training=TR),
    )
    with pytest.raises(ValueError, match="fractions: a fraction model is required"):
        compose(observables=OBS, coefficients=COEFS, processes=["sig", "bkg"], eft={"sig": q})
    with pytest.raises(ValueError, match=r"observables \['x2', 'x1'\] do not match the eft\['sig'\] model's"):
        compose(observables=["x2", "x1"], coefficients=COEFS, processes=["sig"], eft={"sig": q})
    with pytest.raises(ValueError, match="has coefficients"):
        compose(observables=OBS, coefficients=["cHW", "cW"], processes=["sig"], eft={"sig": q})
    with pytest.raises(ValueError, match=r"eft processes \['ttbar'\] are not among"):
        compose(observables=OBS, coefficients=COEFS, processes=["sig"], eft={"ttbar": q})
    with pytest.raises(ValueError, match="fractions model has processes"):
        compose(observables=OBS, coefficients=COEFS, processes=["bkg", "sig"], eft={"sig": q}, fractions=f)
    with pytest.raises(ValueError, match="nothing to compose"):
        compose(observables=OBS, coefficients=COEFS, processes=["sig"])
    single = compose(
        observables=OBS, coefficients=COEFS, processes=["sig"], eft={"sig": q}, nominal_rates={"sig": 12.5}
    )
    assert single.columns[0] == "lin:sig:cHW" and len(single.columns) == 5
    assert single.interface.nominal_rates == {"sig": 12.5}


def test_per_term_estimator_exports_replica_mean(tmp_path: Path) -> None:
    x, w = toy_2d(3000)
    res = train_from_arrays(
        x,
        w,
        observables=OBS,
        coefficients=COEFS,
        estimator="per_term",
        eft_config=PerTermConfig(network=NET, training=TR, n_replicas=2),
        output=tmp_path / "pt.onnx",
    )
    iface = read_interface(tmp_path / "pt.onnx")
    assert list(iface.outputs) == output_columns(processes=["signal"], coefficients=COEFS)
    assert iface.provenance["components"]["eft['signal']"]["estimator"] == "per_term_classifiers"
    got, _ = evaluate_onnx(tmp_path / "pt.onnx", x[:100], observables=OBS)
    mean, _ = res.eft["signal"].predict_with_spread(x[:100])
    np.testing.assert_allclose(got, mean, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="eft_config must be a PerTermConfig"):
        train_from_arrays(x, w, observables=OBS, coefficients=COEFS, estimator="per_term", eft_config=QuadraticConfig())
