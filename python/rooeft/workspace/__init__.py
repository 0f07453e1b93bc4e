"""Workspace building: a validated configuration → the RooWorkspace of docs/workspace_convention.md.

>>> from rooeft.workspace import templates_path
>>> templates_path("ws.root").name
'ws_templates.root'
"""

from __future__ import annotations

from rooeft.workspace.builder import (
    WORKSPACE_CONVENTION,
    BuildError,
    BuildResult,
    ChannelSummary,
    build_workspace,
    templates_path,
)

__all__ = ["WORKSPACE_CONVENTION", "BuildError", "BuildResult", "ChannelSummary", "build_workspace", "templates_path"]
