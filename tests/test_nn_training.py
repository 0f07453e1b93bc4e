"""Training practice: determinism, checkpoint/resume, loss curves, and refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rooeft.nn import (  # noqa: E402
    NetworkConfig,
    PerTermConfig,
    QuadraticConfig,
    TrainingConfig,
    train_joint_quadratic,
    train_per_term,
)
from test_nn_toys import toy_1d  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

SMALL = NetworkConfig(hidden_layers=2, width=16)


def _cfg(**kwargs: object) -> QuadraticConfig:
    base: dict[str, object] = {"batch_size": 256, "progress": False, "num_threads": 1, "patience": 50}
    base.update(kwargs)
    return QuadraticConfig(network=SMALL, training=TrainingConfig(**base))  # type: ignore[arg-type]


def _state(est: object) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in est.module.state_dict().items()}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    return toy_1d(3000)


def test_same_seed_same_network_other_seed_other_network(sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, w = sample
    kw = {"observables": ["x"], "coefficients": ["c"]}
    a = train_joint_quadratic(x, w, config=_cfg(max_epochs=3, seed=5), **kw)
    b = train_joint_quadratic(x, w, config=_cfg(max_epochs=3, seed=5), **kw)
    c = train_joint_quadratic(x, w, config=_cfg(max_epochs=3, seed=6), **kw)
    sa, sb, sc = _state(a), _state(b), _state(c)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert not all(np.array_equal(sa[k], sc[k]) for k in sa)
    assert a.history.val_loss == b.history.val_loss


class Interrupted(RuntimeError):
    """Simulated crash of a training job."""


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_resume_continues_identically(
    sample: tuple[np.ndarray, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schedule: str
) -> None:
    x, w = sample
    kw = {"observables": ["x"], "coefficients": ["c"]}
    cfg_a = _cfg(max_epochs=5, lr_schedule=schedule, lr_patience=1, checkpoint_dir=tmp_path / "a")
    straight = train_joint_quadratic(x, w, config=cfg_a, **kw)  # type: ignore[arg-type]

    # the same job crashes during the validation of its third epoch (after two checkpoints) ...
    import rooeft.nn.training as training

    real = training.evaluate_loss
    calls = {"n": 0}

    def crashing(*args: object, **kwargs: object) -> float:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Interrupted
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "evaluate_loss", crashing)
    cfg_b = _cfg(max_epochs=5, lr_schedule=schedule, lr_patience=1, checkpoint_dir=tmp_path / "b")
    with pytest.raises(Interrupted):
        train_joint_quadratic(x, w, config=cfg_b, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(training, "evaluate_loss", real)
    assert (tmp_path / "b" / "quadratic.ckpt.pt").exists()

    # ... and is restarted with resume=True
    cfg_c = _cfg(max_epochs=5, lr_schedule=schedule, lr_patience=1, checkpoint_dir=tmp_path / "b", resume=True)
    resumed = train_joint_quadratic(x, w, config=cfg_c, **kw)  # type: ignore[arg-type]
    assert resumed.history.epochs == 5
    assert resumed.history.train_loss == straight.history.train_loss
    assert resumed.history.val_loss == straight.history.val_loss
    assert resumed.history.learning_rate == straight.history.learning_rate
    sa, sb = _state(straight), _state(resumed)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_resume_of_a_finished_run_does_nothing(sample: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    x, w = sample
    kw = {"observables": ["x"], "coefficients": ["c"]}
    a = train_joint_quadratic(x, w, config=_cfg(max_epochs=2, checkpoint_dir=tmp_path), **kw)
    b = train_joint_quadratic(x, w, config=_cfg(max_epochs=2, checkpoint_dir=tmp_path, resume=True), **kw)
    assert b.history.train_loss == a.history.train_loss
    sa, sb = _state(a), _state(b)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_of_another_architecture_is_refused(sample: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    x, w = sample
    first = _cfg(max_epochs=1, checkpoint_dir=tmp_path)
    train_joint_quadratic(x, w, observables=["x"], coefficients=["c"], config=first)
    wider = QuadraticConfig(
        network=NetworkConfig(hidden_layers=2, width=8),
        training=TrainingConfig(max_epochs=2, progress=False, num_threads=1, checkpoint_dir=tmp_path, resume=True),
    )
    with pytest.raises(ValueError, match="does not fit this model"):
        train_joint_quadratic(x, w, observables=["x"], coefficients=["c"], config=wider)


def test_early_stopping_restores_best_and_writes_curves(sample: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    x, w = sample
    est = train_per_term(
        x,
        w,
        observables=["x"],
        coefficients=["c"],
        config=PerTermConfig(
            network=SMALL,
            training=TrainingConfig(
                max_epochs=200,
                batch_size=256,
                learning_rate=2e-2,
                patience=2,
                progress=True,
                num_threads=1,
                output_dir=tmp_path,
            ),
        ),
    )
    h = est.history
    assert h.stopped_early and h.epochs < 200
    assert h.epochs == h.best_epoch + 1 + 2
    assert h.best_val_loss <= min(h.val_loss) + 1e-5  # improvements below min_delta do not count
    data = json.loads((tmp_path / "per_term.loss_history.json").read_text())
    assert data["epochs"] == h.epochs and len(data["val_loss"]) == h.epochs
    png = (tmp_path / "per_term.loss_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_learning_rate_is_lowered_on_plateau(sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, w = sample
    est = train_joint_quadratic(
        x,
        w,
        observables=["x"],
        coefficients=["c"],
        config=_cfg(max_epochs=12, learning_rate=5e-2, lr_patience=1, min_delta=1e-3),
    )
    assert est.history.learning_rate[-1] < est.history.learning_rate[0]


# ------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": -1}, "width must be a positive integer"),
        ({"width": 0}, "width must be a positive integer"),
        ({"hidden_layers": 0}, "hidden_layers must be a positive integer"),
        ({"activation": "sigmoidal"}, "activation must be one of"),
    ],
)
def test_invalid_network_config(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"validation_fraction": 0.0}, "validation_fraction"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"patience": 0}, "patience"),
        ({"seed": -3}, "seed"),
        ({"num_threads": 0}, "num_threads"),
        ({"resume": True}, "resume=True needs a checkpoint_dir"),
    ],
)
def test_invalid_training_config(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**kwargs)  # type: ignore[arg-type]


def test_invalid_quadratic_config() -> None:
    with pytest.raises(ValueError, match="theta_scale"):
        QuadraticConfig(theta_scale=-1.0)
    with pytest.raises(ValueError, match="positivity_floor"):
        QuadraticConfig(positivity_floor=0.0)


def test_bad_device_is_refused(sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, w = sample
    with pytest.raises(ValueError, match="device 'gpu0' is not a torch device"):
        train_joint_quadratic(x, w, observables=["x"], coefficients=["c"], config=_cfg(max_epochs=1, device="gpu0"))


def test_input_refusals(sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, w = sample
    kw = {"observables": ["x"], "coefficients": ["c"], "config": _cfg(max_epochs=1)}
    with pytest.raises(ValueError, match="X is empty"):
        train_joint_quadratic(np.zeros((0, 1)), w[:0], **kw)  # type: ignore[arg-type]
    x_nan = x.copy()
    x_nan[17, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in observable column\(s\) \['x'\]"):
        train_joint_quadratic(x_nan, w, **kw)  # type: ignore[arg-type]
    x_inf = np.column_stack([x, x])
    x_inf[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"observable column\(s\) \['y'\]"):
        train_joint_quadratic(x_inf, w, observables=["x", "y"], coefficients=["c"], config=_cfg(max_epochs=1))
    w_nan = w.copy()
    w_nan[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"structure_constants contains NaN or inf in term column\(s\) \[2\]"):
        train_joint_quadratic(x, w_nan, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(events, 6\) for coefficients \['c', 'd'\]"):
        train_joint_quadratic(x, w, observables=["x"], coefficients=["c", "d"], config=_cfg(max_epochs=1))
    with pytest.raises(ValueError, match="X has 1 columns but 2 observables"):
        train_joint_quadratic(x, w, observables=["x", "y"], coefficients=["c"], config=_cfg(max_epochs=1))
    with pytest.raises(ValueError, match=r"observables .* contains duplicates"):
        train_joint_quadratic(np.column_stack([x, x]), w, observables=["x", "x"], coefficients=["c"])
    with pytest.raises(ValueError, match="events selects no events"):
        train_joint_quadratic(x, w, events=np.zeros(len(x), bool), **kw)  # type: ignore[arg-type]
    w_neg = w.copy()
    w_neg[:, 0] = -np.abs(w[:, 0])
    with pytest.raises(ValueError, match="SM weights sum to"):
        train_joint_quadratic(x, w_neg, **kw)  # type: ignore[arg-type]


def test_predict_refuses_mismatched_observables(sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, w = sample
    est = train_joint_quadratic(x, w, observables=["x"], coefficients=["c"], config=_cfg(max_epochs=1))
    with pytest.raises(ValueError, match=r"observables \['pt'\] do not match the model's observables \['x'\]"):
        est.predict(x, observables=["pt"])
    with pytest.raises(ValueError, match="NaN"):
        est.predict(np.array([[np.nan]]))
