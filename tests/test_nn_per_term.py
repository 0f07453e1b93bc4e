"""Per-term classifiers with bootstrap replicas on the analytic one-coefficient toy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rooeft.nn import NetworkConfig, PerTermConfig, PerTermEstimator, TrainingConfig, train_per_term  # noqa: E402
from rooeft.nn.per_term import choose_probes  # noqa: E402
from test_nn_toys import toy_1d, toy_2d, truth_1d, truth_2d  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

FAST = TrainingConfig(max_epochs=30, batch_size=512, learning_rate=3e-3, progress=False, num_threads=1, patience=5)
SMALL = NetworkConfig(hidden_layers=2, width=32)


@pytest.fixture(scope="module")
def trained() -> PerTermEstimator:
    x, w = toy_1d(40_000, noise=0.3)
    return train_per_term(
        x,
        w,
        observables=["x"],
        coefficients=["c"],
        config=PerTermConfig(network=SMALL, training=FAST, n_replicas=3),
    )


def test_recovers_known_coefficients_with_spread(trained: PerTermEstimator) -> None:
    x = np.linspace(-2, 2, 201)[:, None]
    mean, spread = trained.predict_with_spread(x)
    want = truth_1d(x)
    rms = np.sqrt(np.mean((mean - want) ** 2, axis=0))
    assert np.all(rms < 0.08), rms
    assert mean.shape == spread.shape == (201, 2)
    assert np.all(spread > 0)
    assert np.all(spread.mean(axis=0) < 0.1)
    reps = trained.predict_replicas(x)
    assert reps.shape == (3, 201, 2)
    np.testing.assert_allclose(reps.mean(axis=0), trained.predict(x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(reps[0], reps[1])  # bootstrap replicas differ


def test_probe_values_keep_the_term_class_physical(trained: PerTermEstimator) -> None:
    _, w = toy_1d(40_000, noise=0.3)
    ratios = np.abs(w[:, 1:] / w[:, :1])
    frac_above = np.mean(trained.probes * ratios > 0.5, axis=0)
    assert np.all(frac_above < 0.02)
    assert trained.provenance["probes"] == pytest.approx(trained.probes.tolist())


def test_two_coefficients_single_replica() -> None:
    x, w = toy_2d(20_000, noise=0.2)
    est = train_per_term(
        x, w, observables=["x1", "x2"], coefficients=["c1", "c2"], config=PerTermConfig(network=SMALL, training=FAST)
    )
    xt = np.random.default_rng(3).uniform(-1.5, 1.5, size=(500, 2))
    mean, spread = est.predict_with_spread(xt)
    assert np.all(spread == 0)
    rms = np.sqrt(np.mean((mean - truth_2d(xt)) ** 2, axis=0))
    assert np.all(rms < 0.12), rms


def test_explicit_probes_and_refusal_of_negative_class_total() -> None:
    _, w = toy_1d(2000)
    rows = np.arange(2000)
    np.testing.assert_allclose(choose_probes(w, rows, PerTermConfig(probes=(0.1, -0.2))), [0.1, -0.2])
    with pytest.raises(ValueError, match="probes has 1 values for 2 terms"):
        choose_probes(w, rows, PerTermConfig(probes=(0.1,)))
    w_neg = w.copy()
    w_neg[:, 2] = -5 * np.abs(w[:, 0])  # a term that drives the class total negative
    with pytest.raises(ValueError, match=r"term\(s\) \[2\].*non-positive total"):
        choose_probes(w_neg, rows, PerTermConfig(probes=(0.1, 1.0)))


def test_invalid_per_term_configs() -> None:
    with pytest.raises(ValueError, match="n_replicas"):
        PerTermConfig(n_replicas=0)
    with pytest.raises(ValueError, match="probe_fraction"):
        PerTermConfig(probe_fraction=1.5)
    with pytest.raises(ValueError, match="probes"):
        PerTermConfig(probes=(0.0, 1.0))
