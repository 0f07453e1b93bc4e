"""The training loop shared by all estimators of :mod:`rooeft.nn`.

Events stay in numpy arrays; each optimiser step gathers one mini-batch (``array[rows]``) and turns
only that batch into tensors, so memory is bounded by the batch size, not by the sample. The loop
is deterministic for a given seed: the train/validation split, the initialisation and the
per-epoch shuffle (drawn from ``(seed, epoch)``) do not depend on the history, so a run resumed
from a checkpoint continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rooeft.nn._common import TrainingConfig

__all__ = ["LossFunction", "TrainingHistory", "fit", "pick_device"]

#: ``loss(module, batch, training) -> per-event losses [B]`` (weights already applied).
LossFunction = Callable[[nn.Module, dict[str, torch.Tensor], bool], torch.Tensor]


@dataclass
class TrainingHistory:
    """Per-epoch losses of one training run (what ``loss_history.json`` holds)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = math.inf
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        """Number of epochs trained."""
        return len(self.train_loss)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary."""
        out = asdict(self)
        out["epochs"] = self.epochs
        return out


def pick_device(device: str | None) -> torch.device:
    """The requested device, or CUDA if available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a torch device: {err}") from None


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)``; restore the previous value afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _to_tensor(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    if np.issubdtype(arr.dtype, np.signedinteger):
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64)).to(device)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(device)


def batches(
    arrays: Mapping[str, np.ndarray], rows: np.ndarray, batch_size: int, device: torch.device
) -> Iterator[dict[str, torch.Tensor]]:
    """Mini-batches of ``arrays[rows]`` in the given row order, converted one batch at a time."""
    n_batches = max(1, math.ceil(rows.size / batch_size))
    for part in np.array_split(rows, n_batches):
        idx = np.sort(part)  # order inside a batch is irrelevant; sorted gathers are faster
        yield {key: _to_tensor(arr[idx], device) for key, arr in arrays.items()}


def evaluate_loss(
    module: nn.Module,
    loss_fn: LossFunction,
    arrays: Mapping[str, np.ndarray],
    rows: np.ndarray,
    batch_size: int,
    device: torch.device,
) -> float:
    """Mean per-event loss over ``rows`` (no gradients)."""
    total = 0.0
    module.eval()
    with torch.no_grad():
        for batch in batches(arrays, rows, batch_size, device):
            total += float(loss_fn(module, batch, False).double().sum())
    return total / rows.size


def fit(
    module: nn.Module,
    loss_fn: LossFunction,
    arrays: Mapping[str, np.ndarray],
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    config: TrainingConfig,
    *,
    name: str,
) -> TrainingHistory:
    """Train ``module`` in place by minimising the mean of ``loss_fn`` over ``train_rows``.

    Adam(W) with the configured schedule, early stopping on the validation loss (the best weights
    are restored at the end), a checkpoint after every epoch when ``config.checkpoint_dir`` is set
    (``config.resume`` continues from it), and the loss history written to ``config.output_dir``.
    The module ends on the CPU in eval mode.
    """
    device = pick_device(config.device)
    module.to(device)
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler: Any = None
    if config.lr_schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=config.lr_patience, threshold=config.min_delta, threshold_mode="abs"
        )
    elif config.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.max_epochs)

    history = TrainingHistory()
    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    bad_epochs = 0
    start_epoch = 0
    ckpt_path = Path(config.checkpoint_dir) / f"{name}.ckpt.pt" if config.checkpoint_dir is not None else None
    if ckpt_path is not None and config.resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        try:
            module.load_state_dict(ckpt["model"])
        except RuntimeError as err:
            raise ValueError(f"checkpoint {ckpt_path} does not fit this model (architecture changed?): {err}") from None
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        best_state = ckpt["best_state"]
        bad_epochs = int(ckpt["bad_epochs"])
        history = TrainingHistory(**ckpt["history"])
        start_epoch = history.epochs

    t0 = time.perf_counter()
    n_train = train_rows.size
    with torch_threads(config.threads()):
        from tqdm.auto import tqdm

        bar = tqdm(
            total=config.max_epochs,
            initial=start_epoch,
            desc=name,
            unit="epoch",
            disable=not config.progress,
            dynamic_ncols=True,
            leave=True,
        )
        try:
            epoch = start_epoch
            while epoch < config.max_epochs and not history.stopped_early:
                rng = np.random.default_rng([config.seed, 1, epoch])
                order = train_rows[rng.permutation(n_train)]
                module.train()
                running, seen = 0.0, 0
                for batch in batches(arrays, order, config.batch_size, device):
                    per_event = loss_fn(module, batch, True)
                    loss = per_event.mean()
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            f"{name}: training loss became {float(loss.detach())} in epoch {epoch}; "
                            "lower the learning rate or check the weights"
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
                    running += float(loss.detach()) * per_event.shape[0]
                    seen += per_event.shape[0]
                    bar.set_postfix(loss=f"{running / seen:.5g}", refresh=False)
                train_loss = running / max(seen, 1)
                val_loss = evaluate_loss(module, loss_fn, arrays, val_rows, config.batch_size, device)
                lr = float(optimizer.param_groups[0]["lr"])
                history.train_loss.append(train_loss)
                history.val_loss.append(val_loss)
                history.learning_rate.append(lr)
                if val_loss < history.best_val_loss - config.min_delta:
                    history.best_val_loss = val_loss
                    history.best_epoch = epoch
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                    bad_epochs = 0
                else:
                    bad_epochs += 1
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(val_loss)
                elif scheduler is not None:
                    scheduler.step()
                if bad_epochs >= config.patience:
                    history.stopped_early = True
                epoch += 1
                bar.set_postfix(loss=f"{train_loss:.5g}", val=f"{val_loss:.5g}", lr=f"{lr:.2g}", refresh=False)
                bar.update(1)
                if ckpt_path is not None:
                    _save_checkpoint(ckpt_path, module, optimizer, scheduler, best_state, bad_epochs, history)
        finally:
            bar.close()

    history.seconds += time.perf_counter() - t0
    module.load_state_dict(best_state)
    module.to("cpu")
    module.eval()
    if config.output_dir is not None:
        save_history(history, Path(config.output_dir), name)
    return history


def _save_checkpoint(
    path: Path,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    best_state: dict[str, torch.Tensor],
    bad_epochs: int,
    history: TrainingHistory,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "best_state": best_state,
        "bad_epochs": bad_epochs,
        "history": asdict(history),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def save_history(history: TrainingHistory, directory: Path, name: str) -> tuple[Path, Path]:
    """Write ``<name>.loss_history.json`` and ``<name>.loss_curve.png`` into ``directory``."""
    from matplotlib.figure import Figure

    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.loss_history.json"
    json_path.write_text(json.dumps(history.to_dict(), indent=1))
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    epochs = np.arange(1, history.epochs + 1)
    ax.plot(epochs, history.train_loss, label="training")
    ax.plot(epochs, history.val_loss, label="validation")
    if history.best_epoch >= 0:
        ax.axvline(history.best_epoch + 1, color="grey", ls=":", label="best")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (up to a model-independent constant)")
    ax.set_title(name)
    ax.legend()
    png_path = directory / f"{name}.loss_curve.png"
    fig.savefig(png_path, dpi=100)
    return json_path, png_path
