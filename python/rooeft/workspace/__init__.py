"""Workspace building: a validated configuration → the RooWorkspace of docs/workspace_convention.md.

The builder is imported on first use, so that light submodules (:mod:`rooeft.workspace.expected`)
import without the configuration and sample readers.

>>> from rooeft.workspace import templates_path
>>> templates_path("ws.root").name
'ws_templates.root'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rooeft.workspace.builder import (
        WORKSPACE_CONVENTION,
        BuildError,
        BuildResult,
        ChannelSummary,
        build_workspace,
        templates_path,
    )

__all__ = ["WORKSPACE_CONVENTION", "BuildError", "BuildResult", "ChannelSummary", "build_workspace", "templates_path"]


def __getattr__(name: str) -> Any:
    """The builder's public names, imported from :mod:`rooeft.workspace.builder` on first use."""
    if name in __all__:
        return getattr(importlib.import_module("rooeft.workspace.builder"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
