"""The torch bundle written by ``rooeft train`` (``<model>.pt``) and read by ``rooeft export``.

A bundle holds the trained module, the model interface (as the string metadata of the ONNX
convention) and the reference inputs. It is read with ``torch.load(weights_only=True)``: only
tensors, containers and the ``torch.nn``/``rooeft.nn`` module classes listed by
:func:`allowed_classes` can be rebuilt, so a crafted file cannot run code.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BUNDLE_FORMAT", "BundleError", "allowed_classes", "load_bundle", "save_bundle"]

BUNDLE_FORMAT = "rooeft-torch-bundle/1"
_ROOEFT_MODULES = (
    "rooeft.nn._modules",
    "rooeft.nn.compose",
    "rooeft.nn.quadratic",
    "rooeft.nn.per_term",
    "rooeft.nn.fractions",
    "rooeft.nn.systematics",
    "rooeft.nn.score",
    "rooeft.nn.base",
    "rooeft.nn._common",
    "rooeft.nn.calibration",
)


class BundleError(ValueError):
    """A file that is not a readable rooeft torch bundle."""


def allowed_classes() -> list[Any]:
    """The classes a bundle may contain: ``torch.nn`` modules and rooeft's own network modules."""
    import torch
    from torch import nn

    out: list[Any] = [c for c in vars(nn).values() if inspect.isclass(c) and issubclass(c, nn.Module)]
    for name in _ROOEFT_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:  # pragma: no cover - optional module
            continue
        out += [
            c
            for c in vars(mod).values()
            if inspect.isclass(c) and issubclass(c, nn.Module) and c.__module__.startswith("rooeft.")
        ]
    out.append(torch.Size)
    return list(dict.fromkeys(out))


def save_bundle(path: str | Path, module: Any, interface: Any, reference: np.ndarray) -> Path:
    """Write a bundle atomically (see :func:`rooeft.safeio.atomic_write`)."""
    import torch

    from rooeft.safeio import atomic_write

    data = {
        "format": BUNDLE_FORMAT,
        "module": module,
        "interface": dict(interface.metadata()),
        "reference": torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32)),
    }
    target = Path(path)
    with atomic_write(target) as tmp:
        torch.save(data, tmp)
    return target


def load_bundle(path: str | Path) -> tuple[Any, Any, np.ndarray]:
    """Read a bundle safely; returns (module, interface, reference inputs)."""
    import torch

    from rooeft.onnx_convention import ConventionError, ModelInterface

    p = Path(path)
    try:
        with torch.serialization.safe_globals(allowed_classes()):
            data = torch.load(p, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as err:  # torch's weights-only loader raises several types for refused or broken files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BundleError(
            f"{p}: not a rooeft torch bundle that can be loaded safely ({first}); re-run `rooeft train` to write one"
        ) from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{p}: not a rooeft torch bundle (format {BUNDLE_FORMAT!r} expected)")
    try:
        iface = ModelInterface.from_metadata(data["interface"], source=str(p))
    except (ConventionError, KeyError, TypeError) as err:
        raise BundleError(f"{p}: the bundle's model interface is invalid: {err}") from None
    reference = data.get("reference")
    if not isinstance(reference, torch.Tensor):
        raise BundleError(f"{p}: the bundle has no reference inputs")
    return data["module"], iface, reference.numpy().astype(np.float64)
