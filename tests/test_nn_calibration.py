"""Post-hoc calibration of the classifier outputs and the reliability report (docs/calibration.md).

The toy: two Gaussian classes with known densities and yields, sig ~ N(+1, 1) with 100 expected
events and bkg ~ N(-1, 1) with 300, so the true signal fraction is π(x) = 1 / (1 + 3 e^{-2x}).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

torch = pytest.importorskip("torch")

from rooeft.cli import main  # noqa: E402
from rooeft.nn import (  # noqa: E402
    CalibrationConfig,
    FractionConfig,
    NetworkConfig,
    PerTermConfig,
    TrainingConfig,
    evaluate_onnx,
    train_from_arrays,
    train_process_fractions,
)
from rooeft.nn.calibration import (  # noqa: E402
    MonotoneMap,
    PiecewiseLinear,
    calibrate_fractions,
    calibrate_per_term,
    fit_monotone_map,
    isotonic,
    reliability_table,
)
from rooeft.nn.export import export_onnx  # noqa: E402
from rooeft.onnx_convention import ModelInterface, read_interface  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

NET = NetworkConfig(hidden_layers=1, width=8)
TR = TrainingConfig(max_epochs=3, batch_size=512, progress=False, num_threads=1, seed=2)


def two_gaussians(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal MC statistics per class, weights = expected yield / events (with noise)."""
    rng = np.random.default_rng(seed)
    label = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, 1)) + np.where(label == 0, 1.0, -1.0)[:, None]
    w = np.where(label == 0, 100.0, 300.0) / (n // 2) * rng.uniform(0.5, 1.5, n)
    return x, label, w


def true_fraction(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + 3.0 * np.exp(-2.0 * x[:, 0]))


def deviation_from_truth(pred: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """Weighted mean |predicted − analytic| fraction in 10 quantile bins of the prediction
    (the analytic truth has no statistical error)."""
    table = reliability_table(pred, w * true_fraction(x), w, n_bins=10, min_effective=50)
    return float(table["mean_abs_deviation"])


@pytest.fixture(scope="module")
def miscalibrated() -> object:
    """A briefly trained classifier made overconfident: its last layer (the logits) times 3."""
    x, label, w = two_gaussians(6000, seed=1)
    est = train_process_fractions(
        x, label, w, observables=["x"], processes=["sig", "bkg"], config=FractionConfig(network=NET, training=TR)
    )
    with torch.no_grad():
        last = est.module.mlp.layers[-1]
        last.weight.mul_(3.0)
        last.bias.mul_(3.0)
    return est


def test_isotonic_and_piecewise_linear_map() -> None:
    fit, block = isotonic(np.array([0.1, 0.5, 0.3, 0.9, 0.8]), np.array([1.0, 1.0, 3.0, 1.0, 1.0]))
    np.testing.assert_allclose(fit, [0.1, 0.35, 0.35, 0.85, 0.85])
    assert block.tolist() == [0, 1, 1, 2, 2]
    m = MonotoneMap(np.array([-1.0, 0.0, 2.0]), np.array([-3.0, 0.5, 1.0]), 0.25, 2.0)
    s = np.linspace(-4.0, 5.0, 37)
    want = np.where(s < -1, -3.0 + 0.25 * (s + 1), np.where(s > 2, 1.0 + 2.0 * (s - 2), np.interp(s, m.x, m.y)))
    np.testing.assert_allclose(m(s), want, atol=1e-12)
    # two maps with different knot counts in one module (padding) reproduce the numpy maps
    other = MonotoneMap(np.array([0.3]), np.array([-0.2]))
    got = PiecewiseLinear([m, other])(torch.tensor(np.c_[s, s], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got[:, 0], want, atol=1e-5)
    np.testing.assert_allclose(got[:, 1], s - 0.5, atol=1e-5)


def test_histogram_fit_recovers_a_known_monotone_relation() -> None:
    """Events with score s are 'signal' with probability σ(2s + 1): the logit map is 2s + 1."""
    rng = np.random.default_rng(5)
    s = rng.normal(0.0, 1.5, 40_000)
    is_sig = rng.uniform(size=s.size) < 1.0 / (1.0 + np.exp(-(2.0 * s + 1.0)))
    w = rng.uniform(0.5, 1.5, s.size)
    m = fit_monotone_map(s, w * is_sig, w, n_bins=40, min_effective=200, target="logit")
    inside = np.linspace(-1.5, 1.5, 7)  # true fractions 0.12 to 0.98: well measured
    np.testing.assert_allclose(m(inside), 2.0 * inside + 1.0, atol=0.25)
    assert np.all(np.diff(m.y) > 0)


def test_calibration_corrects_a_miscalibrated_classifier(miscalibrated: object) -> None:
    est = miscalibrated
    xc, lc, wc = two_gaussians(20_000, seed=2)  # calibration sample, independent of the training
    module, maps = calibrate_fractions(est.module, xc, lc, wc, n_bins=40, min_effective=50)  # type: ignore[attr-defined]
    assert len(maps) == 2
    xt, lt, wt = two_gaussians(40_000, seed=3)  # test sample
    with torch.no_grad():
        xb = torch.from_numpy(xt.astype(np.float32))
        raw = module.uncalibrated(xb).double().numpy()
        cal = module(xb).double().numpy()
    np.testing.assert_allclose(cal.sum(axis=1), 1.0, atol=1e-6)
    before = deviation_from_truth(raw[:, 0], xt, wt)
    after = deviation_from_truth(cal[:, 0], xt, wt)
    assert before > 0.08, before  # the scaled logits are far off
    assert after < 0.012, after
    # against the labels of the test sample: consistent with the diagonal within the weight errors
    table = reliability_table(cal[:, 0], wt * (lt == 0), wt, n_bins=10, min_effective=50)
    assert table["ndf"] == 10
    assert table["chi2"] < 30.0, table["chi2"]  # P(χ²_10 > 30) < 1e-3
    raw_table = reliability_table(raw[:, 0], wt * (lt == 0), wt, n_bins=10, min_effective=50)
    assert raw_table["chi2"] > 1000.0
    # the calibrated map stays monotone in the network output
    order = np.argsort(raw[:, 0])
    assert np.all(np.diff(cal[order, 0]) >= -1e-6)


def test_exported_onnx_reproduces_the_calibrated_fractions(miscalibrated: object, tmp_path: Path) -> None:
    est = miscalibrated
    xc, lc, wc = two_gaussians(8000, seed=4)
    module, _ = calibrate_fractions(est.module, xc, lc, wc)  # type: ignore[attr-defined]
    iface = ModelInterface(
        observables=("x",), outputs=("frac:sig", "frac:bkg"), coefficients=(), processes=("sig", "bkg")
    )
    ref = np.linspace(-6, 6, 200, dtype=np.float32)[:, None]  # reaches far beyond the knots
    export_onnx(module, tmp_path / "cal.onnx", interface=iface, reference_inputs=ref)
    got, _ = evaluate_onnx(tmp_path / "cal.onnx", ref, observables=["x"])
    with torch.no_grad():
        want = module(torch.from_numpy(ref)).double().numpy()
    np.testing.assert_allclose(got, want, atol=2e-6)
    uncal = est.predict(ref)  # type: ignore[attr-defined]
    assert np.max(np.abs(got[:, 0] - uncal[:, 0])) > 0.05  # the graph really holds the calibration


def toy_eft(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One coefficient, r_1(x) = 0.8 x, r_11(x) = 0.3 x²: structure constants [w0, 0.8 x w0, 0.3 x² w0]."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    w0 = rng.uniform(0.5, 1.5, n)
    return x, np.column_stack([w0, 0.8 * x[:, 0] * w0, 0.3 * x[:, 0] ** 2 * w0])


def test_per_term_calibration_matches_the_true_coefficient_functions() -> None:
    x, w = toy_eft(6000, seed=7)
    res = train_from_arrays(
        x, w, observables=["x"], coefficients=["c"], estimator="per_term",
        eft_config=PerTermConfig(network=NET, training=TR), calibration=False,
    )  # fmt: skip
    module = res.eft["signal"].module
    with torch.no_grad():  # miscalibrate: halve the logits of every term
        module.mlp.layers[-1].weight.mul_(0.5)
        module.mlp.layers[-1].bias.mul_(0.5)
    xc, wc = toy_eft(30_000, seed=8)
    cal_module, maps = calibrate_per_term(module, xc, wc, min_effective=100)
    assert len(maps) == 2
    xt = np.linspace(-1.5, 1.5, 31, dtype=np.float32)[:, None]
    with torch.no_grad():
        raw = cal_module.uncalibrated(torch.from_numpy(xt)).double().numpy()
        cal = cal_module(torch.from_numpy(xt)).double().numpy()
        reps = cal_module.replicas(torch.from_numpy(xt)).double().numpy()
    np.testing.assert_allclose(reps.mean(axis=0), cal, atol=1e-6)
    truth = np.column_stack([0.8 * xt[:, 0], 0.3 * xt[:, 0] ** 2])
    err_raw = np.sqrt(np.mean((raw[:, 0] - truth[:, 0]) ** 2))
    err_cal = np.sqrt(np.mean((cal[:, 0] - truth[:, 0]) ** 2))
    assert err_cal < 0.5 * err_raw, (err_raw, err_cal)
    assert err_cal < 0.12, err_cal


def test_train_from_arrays_reports_reliability_and_records_the_calibration(tmp_path: Path) -> None:
    x, label, w = two_gaussians(6000, seed=11)
    sc = np.zeros((x.shape[0], 3))
    sc[:, 0] = w
    sig = label == 0
    sc[sig, 1] = 0.5 * x[sig, 0] * w[sig]
    sc[sig, 2] = 0.1 * x[sig, 0] ** 2 * w[sig]
    res = train_from_arrays(
        x, sc, observables=["x"], coefficients=["c"], processes=["sig", "bkg"], process=label,
        estimator="per_term", eft_config=PerTermConfig(network=NET, training=TR),
        fraction_config=FractionConfig(network=NET, training=TR),
        calibration=CalibrationConfig(test_fraction=0.2, seed=3, slices=("x",)), output=tmp_path / "m.onnx",
    )  # fmt: skip
    rep = res.reliability
    assert rep is not None and rep["test_split"]["n_events"] == 1200
    assert set(rep["fractions"]) == {"sig", "bkg"}
    assert rep["fractions"]["sig"]["calibrated"]["ndf"] >= 5
    # in bins of x: the true signal fraction rises with x, and the calibrated model follows it
    sliced = rep["fraction_slices"]["sig"]["x"]["calibrated"]["bins"]
    assert len(sliced) >= 5
    assert sliced[-1]["true"] > sliced[0]["true"] + 0.5
    for b in sliced:
        assert abs(b["predicted"] - b["true"]) < 4 * b["error"] + 0.02
    # the ratio tables: ± the linear probe for the one coefficient, calibrated per term
    thetas = [e["theta"]["c"] for e in rep["ratios"]["sig"]]
    assert len(thetas) == 2 and thetas[0] == pytest.approx(-thetas[1]) and thetas[0] > 0
    assert rep["ratios"]["sig"][0]["calibrated"] is not None
    # the held-out test events were seen by no network
    n_fit = res.fractions.history  # type: ignore[union-attr]
    assert n_fit.epochs >= 1
    prov = res.fractions.provenance  # type: ignore[union-attr]
    assert prov["n_train"] + prov["n_validation"] == 6000 - 1200
    iface = read_interface(tmp_path / "m.onnx")
    assert iface.provenance["calibration"]["enabled"] is True
    assert iface.provenance["calibration"]["components"]["fractions"]["calibrated"] is True
    assert [p.name for p in res.reliability_paths] == ["m_reliability.json", "m_reliability.png"]
    on_disk = json.loads((tmp_path / "m_reliability.json").read_text())
    assert on_disk["fractions"]["sig"]["uncalibrated"]["bins"][0]["n_eff"] > 0
    got, _ = evaluate_onnx(tmp_path / "m.onnx", x[:300], observables=["x"])
    np.testing.assert_allclose(got, res.model.predict(x[:300]), atol=1e-5)
    # `rooeft plot` knows the report's kind
    from rooeft.plot import plot_result_files

    written = plot_result_files([tmp_path / "m_reliability.json"], tmp_path / "plots", formats=("png",))
    assert [p.name for p in written] == ["reliability_m_reliability.png"] and written[0].stat().st_size > 10_000


def _write(path: Path, columns: dict[str, np.ndarray]) -> None:
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in columns.items()})
        f["Events"].extend(columns)


def test_cli_writes_reliability_and_no_calibration_opts_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    n = 2000
    xs = rng.normal(1.0, 1.0, n)
    w0 = np.full(n, 0.05)
    _write(tmp_path / "sig.root", {"x": xs, "weight": w0, "w_sm": w0, "w_c": w0 * 0.4 * xs, "w_c_c": w0 * 0.1 * xs**2})
    _write(tmp_path / "bkg.root", {"x": rng.normal(-1.0, 1.0, n), "weight": np.full(n, 0.15)})
    common = ["train", "--process", f"sig={tmp_path / 'sig.root'}", "--process", f"bkg={tmp_path / 'bkg.root'}",
              "--quick", "--width", "8", "--hidden-layers", "1", "--quiet", "--theta-scale", "0.5",
              "--reliability-slices", "x"]  # fmt: skip
    assert main([*common, "-o", str(tmp_path / "cal" / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "frac:sig  calibrated:" in out and "m_reliability.json" in out
    assert "frac:sig in bins of x  calibrated:" in out
    rep = json.loads((tmp_path / "cal" / "m_reliability.json").read_text())
    assert rep["calibration"]["enabled"] is True
    assert rep["test_split"]["n_events"] == round(0.15 * 2 * n)
    assert [e["theta"]["c"] for e in rep["ratios"]["sig"]] == [0.5, -0.5]
    assert (tmp_path / "cal" / "m_reliability.png").stat().st_size > 1000
    iface = read_interface(tmp_path / "cal" / "m.onnx")
    assert iface.provenance["calibration"]["enabled"] is True
    fit = iface.provenance["components"]["fractions"]
    assert fit["epochs"] <= 3 and "maps" in fit["calibration"]

    assert main([*common, "--no-calibration", "-o", str(tmp_path / "raw" / "m.onnx")]) == 0
    assert "frac:sig  calibrated:" not in capsys.readouterr().out
    rep_raw = json.loads((tmp_path / "raw" / "m_reliability.json").read_text())
    assert rep_raw["calibration"]["enabled"] is False
    assert rep_raw["fractions"]["sig"]["calibrated"] is None
    iface_raw = read_interface(tmp_path / "raw" / "m.onnx")
    assert iface_raw.provenance["calibration"]["enabled"] is False
    assert "calibration" not in iface_raw.provenance["components"]["fractions"]
    # same seed, same network: the two models differ by the calibration only
    assert rep_raw["fractions"]["sig"]["uncalibrated"] == rep["fractions"]["sig"]["uncalibrated"]
    grid = np.linspace(-3, 3, 61)[:, None]
    cal, _ = evaluate_onnx(tmp_path / "cal" / "m.onnx", grid, observables=["x"])
    raw, _ = evaluate_onnx(tmp_path / "raw" / "m.onnx", grid, observables=["x"])
    assert np.max(np.abs(cal[:, 0] - raw[:, 0])) > 1e-3
    np.testing.assert_allclose(cal[:, 0] + cal[:, 1], 1.0, atol=1e-5)
