"""Joint positive quadratic model: loss, expansion, positivity, recovery of a known answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rooeft.nn import (  # noqa: E402
    NetworkConfig,
    QuadraticConfig,
    QuadraticEstimator,
    TrainingConfig,
    theta_gram,
    train_joint_quadratic,
)
from rooeft.nn._modules import EnsembleMLP, Standardize  # noqa: E402
from rooeft.nn.quadratic import PositiveQuadraticModule, quadratic_from_columns  # noqa: E402
from rooeft.terms import monomials  # noqa: E402
from test_nn_toys import toy_2d, truth_2d  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

FAST = TrainingConfig(max_epochs=40, batch_size=512, learning_rate=3e-3, progress=False, num_threads=1, patience=5)
SMALL = NetworkConfig(hidden_layers=2, width=32)


@pytest.fixture(scope="module")
def trained() -> QuadraticEstimator:
    x, w = toy_2d(30_000)
    return train_joint_quadratic(
        x,
        w,
        observables=["x1", "x2"],
        coefficients=["c1", "c2"],
        config=QuadraticConfig(network=SMALL, training=FAST, theta_scale=1.0),
    )


def test_gram_matches_monte_carlo() -> None:
    scales = np.array([0.7, 1.5, 2.0])
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(400_000, 3)) * scales
    m = monomials(theta)
    mc = m.T @ m / theta.shape[0]
    np.testing.assert_allclose(theta_gram(scales), mc, atol=0.05 * np.abs(mc).max())


def test_closed_form_loss_equals_mean_over_theta_draws() -> None:
    """ĉᵀG(w0 ĉ − 2W) + WᵀGW/w0 is the average of w0 (r̂(θ) − w(θ)/w0)² over θ ~ prior."""
    rng = np.random.default_rng(1)
    c_hat = np.concatenate([[1.0], rng.normal(size=5)])
    w = np.concatenate([[0.7], rng.normal(size=5)])
    scales = np.array([0.5, 1.3])
    g = theta_gram(scales)
    closed = c_hat @ g @ (w[0] * c_hat - 2 * w) + w @ g @ w / w[0]
    theta = rng.normal(size=(400_000, 2)) * scales
    m = monomials(theta)
    mc = np.mean(w[0] * (m @ c_hat - m @ w / w[0]) ** 2)
    assert closed == pytest.approx(mc, rel=0.02)


def _random_module(n: int, scale: float) -> PositiveQuadraticModule:
    gen = torch.Generator().manual_seed(n)
    mlp = EnsembleMLP(2, n + n * (n + 1) // 2, NetworkConfig(hidden_layers=1, width=8), generator=gen)
    with torch.no_grad():
        for p in mlp.parameters():
            p.mul_(scale)
    return PositiveQuadraticModule(Standardize(np.zeros(2), np.ones(2)), mlp, n, 1e-3)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_expansion_reproduces_factorised_ratio(n: int) -> None:
    module = _random_module(n, scale=3.0)
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    theta = np.random.default_rng(n).uniform(-5, 5, size=(30, n))
    with torch.no_grad():
        cols = module(x).double().numpy()
        direct = module.ratio(x, torch.as_tensor(theta, dtype=torch.float32)).double().numpy()
    expanded = quadratic_from_columns(cols, theta)
    np.testing.assert_allclose(expanded, direct, rtol=2e-4, atol=1e-4)
    # explicit formulas of the expansion for the first coefficient
    with torch.no_grad():
        nvec, umat = module.factors(x)
    np.testing.assert_allclose(cols[:, 0], 2 * nvec[:, 0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(cols[:, n], (nvec[:, 0] ** 2 + umat[:, 0, 0] ** 2).numpy(), rtol=1e-5)


def test_recovers_known_coefficients(trained: QuadraticEstimator) -> None:
    x = np.random.default_rng(10).normal(size=(4000, 2))
    x = x[np.all(np.abs(x) < 2, axis=1)]
    got, want = trained.predict(x), truth_2d(x)
    rms = np.sqrt(np.mean((got - want) ** 2, axis=0))
    assert np.all(rms < 0.06), rms  # trained: ~0.02; after one epoch: up to 0.15
    assert trained.history.best_epoch >= 0
    assert trained.provenance["estimator"] == "joint_positive_quadratic"


def test_positive_for_wide_theta_range(trained: QuadraticEstimator) -> None:
    x = np.random.default_rng(11).normal(scale=2.0, size=(2000, 2))
    theta = np.random.default_rng(12).uniform(-100, 100, size=(200, 2))
    theta = np.vstack([theta, [[0, 0], [100, -100], [-100, 100], [1e-3, 0]]])
    direct = trained.ratio(x, theta)
    assert np.all(direct > 0)
    expanded = quadratic_from_columns(trained.predict(x).astype(np.float32), theta)
    assert np.all(expanded > 0)
    np.testing.assert_allclose(expanded, direct, rtol=1e-3, atol=1e-3)


def test_column_names(trained: QuadraticEstimator) -> None:
    assert trained.column_names("sig") == [
        "lin:sig:c1",
        "lin:sig:c2",
        "quad:sig:c1:c1",
        "quad:sig:c1:c2",
        "quad:sig:c2:c2",
    ]


def test_events_selection_uses_only_those_events() -> None:
    x, w = toy_2d(4000)
    w_bad = w.copy()
    w_bad[2000:, 1:] = 1e3  # garbage outside the selection
    cfg: Any = QuadraticConfig(network=SMALL, training=TrainingConfig(max_epochs=2, progress=False, num_threads=1))
    a = train_joint_quadratic(
        x, w, observables=["x1", "x2"], coefficients=["c1", "c2"], config=cfg, events=np.arange(2000)
    )
    b = train_joint_quadratic(
        x, w_bad, observables=["x1", "x2"], coefficients=["c1", "c2"], config=cfg, events=np.arange(4000) < 2000
    )
    np.testing.assert_array_equal(a.predict(x[:50]), b.predict(x[:50]))


def test_theta_scale_per_coefficient_must_match() -> None:
    x, w = toy_2d(200)
    with pytest.raises(ValueError, match="theta_scale"):
        train_joint_quadratic(
            x,
            w,
            observables=["x1", "x2"],
            coefficients=["c1", "c2"],
            config=QuadraticConfig(theta_scale=(1.0, 2.0, 3.0)),
        )
