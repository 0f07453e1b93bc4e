"""Process fractions from the multi-class classifier against the analytic two-Gaussian answer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rooeft.nn import FractionConfig, NetworkConfig, TrainingConfig, train_process_fractions  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

YIELDS = {"sig": 100.0, "bkg": 300.0}


def two_gaussians(n: int, seed: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sig ~ N(+1, 1) with 100 expected events, bkg ~ N(-1, 1) with 300, equal MC statistics."""
    rng = np.random.default_rng(seed)
    label = np.repeat(["sig", "bkg"], n // 2)
    x = rng.normal(size=(n, 1)) + np.where(label == "sig", 1.0, -1.0)[:, None]
    w = np.where(label == "sig", YIELDS["sig"], YIELDS["bkg"]) / (n // 2)
    w = w * (1 + rng.uniform(-0.5, 0.5, n))  # weight noise, independent of x
    return x, label, w


@pytest.mark.parametrize("balanced", [False, True])
def test_recovers_analytic_fractions(balanced: bool) -> None:
    x, label, w = two_gaussians(20_000)
    cfg = FractionConfig(
        balanced=balanced,
        network=NetworkConfig(hidden_layers=2, width=16),
        training=TrainingConfig(
            max_epochs=20, batch_size=512, learning_rate=3e-3, progress=False, num_threads=1, patience=4
        ),
    )
    est = train_process_fractions(x, label, w, observables=["x"], processes=["sig", "bkg"], config=cfg)
    xt = np.linspace(-2.5, 2.5, 101)[:, None]
    pi = est.predict(xt)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-6)
    want = 1.0 / (1.0 + 3.0 * np.exp(-2.0 * xt[:, 0]))
    rms = np.sqrt(np.mean((pi[:, 0] - want) ** 2))
    assert rms < 0.03, rms
    assert est.rates == pytest.approx(YIELDS, rel=0.02)
    assert est.column_names() == ["frac:sig", "frac:bkg"]


def test_label_validation() -> None:
    x, label, w = two_gaussians(200)
    with pytest.raises(ValueError, match=r"labels \['sig'\] are not among the processes"):
        train_process_fractions(x, label, w, observables=["x"], processes=["bkg", "other"])
    with pytest.raises(ValueError, match="at least two processes"):
        train_process_fractions(x, label, w, observables=["x"], processes=["sig"])
    with pytest.raises(ValueError, match=r"process\(es\) \['other'\] have no events"):
        train_process_fractions(x, label, w, observables=["x"], processes=["sig", "bkg", "other"])
    with pytest.raises(ValueError, match="indices must be in"):
        train_process_fractions(x, np.full(200, 5), w, observables=["x"], processes=["sig", "bkg"])
