"""The chain of analyses derived from one configuration (which workspace, which nuisances float)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rooeft.ladder.result import MC_STATS


@dataclass(frozen=True)
class ReferenceStep:
    """A first step computed outside the ladder's workspaces, e.g. the optimal analysis.

    ``intervals(coefficient, scan_range)`` returns ``{"68": [(lo, hi), ...], "95": [...]}`` for
    Asimov data at the SM with the other coefficients at the SM. The library never imports the
    examples: a caller that knows the truth (the ``rooeft ladder --exact`` command, the demo)
    builds the step, e.g. with :func:`exact_ratio_step`."""

    name: str
    intervals: Callable[[str, tuple[float, float]], Mapping[str, Sequence[tuple[float, float]]]]
    kind: str = "exact"


@dataclass(frozen=True)
class PlannedStep:
    """One step of a :class:`LadderPlan`: the stage (process content) whose workspace it uses,
    the systematic groups it profiles and whether the MC-statistics parameters float."""

    name: str
    kind: str
    added: tuple[str, ...]
    stage: int
    profiled: frozenset[str]
    mc_stats: bool


@dataclass(frozen=True)
class LadderPlan:
    """The derived configurations (one per process content, the last one the full analysis on
    Asimov data) and the steps in chain order."""

    stages: tuple[dict[str, Any], ...]
    steps: tuple[PlannedStep, ...]
    groups: tuple[str, ...]
    """The systematic groups (names) in config order."""


def _dump(config: Any) -> dict[str, Any]:
    """The validated configuration as a plain mapping (resolved absolute paths, unset defaults left out)."""
    data: dict[str, Any] = config.model_dump(mode="json", exclude_unset=True)
    data["version"] = 1
    return data


def _prune_systematics(full: Mapping[str, Any], channels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The systematics of ``full`` restricted to ``channels`` and their processes; a systematic
    left without a channel or a process is dropped."""
    kinds = {c["name"]: c["kind"] for c in channels}
    out = []
    for s in full.get("systematics", []):
        s = dict(s)
        selected = [c for c in (s.get("channels") or list(kinds)) if c in kinds]
        if s.get("type") == "learned":
            selected = [c for c in selected if kinds[c] == "unbinned"]
        if s.get("channels") is not None:
            s["channels"] = selected
        available = {p["name"] for c in channels if c["name"] in selected for p in c["processes"]}
        if s.get("processes") is not None:
            s["processes"] = [p for p in s["processes"] if p in available]
            if not s["processes"]:
                continue
        if not selected:
            continue
        out.append(s)
    return out


def ladder_plan(config: Any) -> LadderPlan:
    """The chain of a validated :class:`~rooeft.config.Config` (see the module docstring).

    Every stage's data are Asimov at the SM. Raises ``ValueError`` for a configuration without
    an EFT process.
    """
    if not any(p.eft and not p.masked for ch in config.channels for p in ch.processes):
        raise ValueError("the configuration has no EFT process (eft: true): there is no signal to start the ladder")
    full = _dump(config)
    for ch in full["channels"]:
        ch["data"] = {"asimov": {}}
    backgrounds: list[str] = []
    for ch in config.channels:
        for p in ch.processes:
            if not p.eft and not p.masked and p.name not in backgrounds:
                backgrounds.append(p.name)
    groups: list[str] = []
    for s in config.systematics:
        if s.name not in groups:
            groups.append(s.name)
    has_mc_stats = any(ch.mc_stats is not None for ch in config.channels)

    def stage(present: set[str]) -> dict[str, Any]:
        d = {k: v for k, v in full.items() if k not in ("channels", "systematics")}
        channels = []
        for ch, orig in zip(full["channels"], config.channels, strict=True):
            procs = []
            for p, po in zip(ch["processes"], orig.processes, strict=True):
                keep = po.eft or po.name in present
                if orig.kind == "unbinned":  # the model fixes the processes: mask instead of removing
                    procs.append({**p, "masked": True} if not keep else p)
                elif keep:
                    procs.append(p)
            if not [p for p in procs if not p.get("masked", False)]:
                continue
            channels.append({**ch, "processes": procs})
        d["channels"] = channels
        d["systematics"] = _prune_systematics(full, channels)
        return d

    stages = [stage(set())]
    steps = [PlannedStep("signal only", "signal", (), 0, frozenset(), False)]
    present: set[str] = set()
    for b in backgrounds:
        present.add(b)
        stages.append(stage(set(present)))
        steps.append(PlannedStep(f"+ {b}", "background", (b,), len(stages) - 1, frozenset(), False))
    last = len(stages) - 1
    active: set[str] = set()
    for g in groups:
        active.add(g)
        steps.append(PlannedStep(f"+ {g}", "systematic", (g,), last, frozenset(active), False))
    if has_mc_stats:
        steps.append(PlannedStep("+ MC stats", "mc_stats", (MC_STATS,), last, frozenset(active), True))
    return LadderPlan(tuple(stages), tuple(steps), tuple(groups))
