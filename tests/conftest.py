"""Shared fixtures: ROOT with libRooEFT loaded, and a factory of hand-written ONNX models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from rooeft.testing.onnx_toys import ColumnSpec, build_columns_model


@pytest.fixture(scope="session")
def ROOT() -> Any:
    """ROOT with libRooEFT loaded."""
    import rooeft

    root = rooeft.load_library()
    root.RooMsgService.instance().setGlobalKillBelow(root.RooFit.WARNING)
    return root


@pytest.fixture
def columns_model(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``columns_model(columns, **metadata)`` writes a hand-written model in tmp_path."""
    counter = iter(range(1000))

    def make(columns: Sequence[ColumnSpec], **kwargs: Any) -> Path:
        return build_columns_model(tmp_path / f"model{next(counter)}.onnx", columns, **kwargs)

    return make
