"""Systematic ratios s^±(x) from weight variations against known closed forms."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rooeft.nn import NetworkConfig, SystematicConfig, TrainingConfig, train_systematic_ratios  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)


def test_recovers_ratios_and_constant_for_unaffected_process() -> None:
    rng = np.random.default_rng(7)
    n = 30_000
    label = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 1))
    w = (1 + rng.uniform(-0.5, 0.5, n)) / n
    # per-event noise of mean one: only the conditional ratio exp(±a x) is learnable
    noise_up, noise_down = rng.choice([0.6, 1.4], n), rng.choice([0.7, 1.3], n)
    up = w * np.exp(0.2 * x[:, 0]) * noise_up
    down = w * np.exp(-0.15 * x[:, 0]) * noise_down
    up = np.where(label == 1, w, up)  # the variation does not affect process "b"
    down = np.where(label == 1, w, down)
    lumi_like = (w * 1.05, w * 0.95)
    cfg = SystematicConfig(
        network=NetworkConfig(hidden_layers=2, width=16),
        training=TrainingConfig(
            max_epochs=25, batch_size=512, learning_rate=3e-3, progress=False, num_threads=1, patience=4
        ),
    )
    est = train_systematic_ratios(
        x,
        w,
        {"jes": (up, down), "flat": lumi_like},
        observables=["x"],
        processes=["a", "b"],
        process=label,
        config=cfg,
    )
    assert est.column_names() == [
        "sysup:a:jes",
        "sysdown:a:jes",
        "sysup:a:flat",
        "sysdown:a:flat",
        "sysup:b:jes",
        "sysdown:b:jes",
        "sysup:b:flat",
        "sysdown:b:flat",
    ]
    xt = np.linspace(-2, 2, 81)[:, None]
    s = est.predict(xt)
    assert np.all(s > 0)
    for j, want in enumerate([np.exp(0.2 * xt[:, 0]), np.exp(-0.15 * xt[:, 0]), 1.05, 0.95]):
        rms = np.sqrt(np.mean((s[:, j] - want) ** 2))
        assert rms < 0.04, (j, rms)
    np.testing.assert_array_equal(s[:, 4:6], 1.0)  # unaffected: exactly one
    np.testing.assert_allclose(s[:, 6], 1.05, atol=0.04)


def test_refusals() -> None:
    x = np.zeros((10, 1))
    w = np.ones(10)
    with pytest.raises(ValueError, match="variations must not be empty"):
        train_systematic_ratios(x, w, {}, observables=["x"])
    with pytest.raises(ValueError, match=r"variations\['jes'\] up contains NaN"):
        train_systematic_ratios(x, w, {"jes": (np.full(10, np.nan), w)}, observables=["x"])
    with pytest.raises(ValueError, match=r"variations\['jes'\] down has 3 entries for 10 events"):
        train_systematic_ratios(x, w, {"jes": (w, np.ones(3))}, observables=["x"])
    with pytest.raises(ValueError, match=r"variations\['jes'\] down, process 'nominal': non-positive total"):
        train_systematic_ratios(x, w, {"jes": (w, -w)}, observables=["x"])
