"""Local score (SALLY) regression against the analytic score of the one-coefficient toy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rooeft.nn import NetworkConfig, ScoreConfig, TrainingConfig, train_local_score  # noqa: E402
from rooeft.nn.score import monomial_gradient  # noqa: E402
from rooeft.terms import monomials  # noqa: E402
from test_nn_toys import toy_1d, truth_1d  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)


def test_monomial_gradient_matches_finite_differences() -> None:
    theta0 = np.array([0.3, -1.2, 2.0])
    eps = 1e-6
    fd = np.column_stack([(monomials(theta0 + eps * e) - monomials(theta0 - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(monomial_gradient(theta0), fd, atol=1e-6)


@pytest.mark.parametrize("theta0", [0.0, 0.5])
def test_recovers_analytic_score(theta0: float) -> None:
    x, w = toy_1d(30_000, noise=0.3)
    cfg = ScoreConfig(
        theta0=(theta0,),
        network=NetworkConfig(hidden_layers=2, width=32),
        training=TrainingConfig(
            max_epochs=30, batch_size=512, learning_rate=3e-3, progress=False, num_threads=1, patience=5
        ),
    )
    est = train_local_score(x, w, observables=["x"], coefficients=["c"], config=cfg)
    xt = np.linspace(-2, 2, 101)[:, None]
    r1, r11 = truth_1d(xt).T
    want = (r1 + 2 * theta0 * r11) / (1 + theta0 * r1 + theta0**2 * r11)
    got = est.predict(xt)[:, 0]
    rms = np.sqrt(np.mean((got - want) ** 2))
    assert rms < 0.06, rms
    assert est.theta0 == (theta0,)


def test_theta0_length_must_match() -> None:
    x, w = toy_1d(100)
    with pytest.raises(ValueError, match="theta0 has 2 values for 1 coefficients"):
        train_local_score(x, w, observables=["x"], coefficients=["c"], config=ScoreConfig(theta0=(0.0, 1.0)))
