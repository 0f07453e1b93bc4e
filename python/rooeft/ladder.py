"""The sensitivity ladder: where an analysis's sensitivity goes, step by step.

From one analysis configuration, :func:`ladder` derives a chain of analyses and gives, for each
step and each coefficient, the expected (Asimov, SM) 68%/95% interval with the other coefficients
at the SM and the nuisances profiled:

1. ``signal only``: the EFT processes alone, no systematics, no MC statistics;
2. ``+ <background>``: each background process (by name, in all channels that have it) in config order;
3. ``+ <systematic>``: each systematic of the config in config order (entries sharing a name form
   one group);
4. ``+ MC stats``: the ``mc_stats`` blocks of the config (if any).

The last step is the original analysis (on Asimov data at the SM). Every step is an ordinary
configuration written to a work directory, built with :func:`rooeft.workspace.build_workspace`
and scanned with :func:`rooeft.infer.scan1d` (``asimov=True, profile_others=False``).

The chain starts at the *learned* signal-only analysis: the exact (parton-level truth) analysis
needs the truth of the example and is not part of the ladder. Unbinned channels are not supported:
their processes and shape systematics are fixed by their ONNX model, so no step can drop them.

>>> step = LadderStep("signal only", "signal", (), {"c": {"68": ((-1.0, 1.0),), "95": ((-2.0, 2.0),)}})
>>> step.width("c"), step.width("c", "68")
(4.0, 2.0)
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LADDER_NOTE", "LadderResult", "LadderStep", "ladder", "ladder_configs", "ladder_table"]

#: the note every ladder result carries
LADDER_NOTE = (
    "The chain starts at the learned signal-only analysis; the exact (parton-level truth) analysis is not part of "
    "the ladder. Intervals: Asimov data at the SM, one coefficient scanned, the others fixed at the SM, "
    "nuisances profiled."
)

#: the step kinds, in chain order
STEP_KINDS = ("signal", "background", "systematic", "mc_stats")


@dataclass(frozen=True)
class LadderStep:
    """One analysis of the chain: its name, what it adds, and per coefficient the intervals
    (``{"68": ((lo, hi), ...), "95": (...)}``; several disjoint intervals are possible)."""

    name: str
    kind: str
    added: tuple[str, ...]
    intervals: Mapping[str, Mapping[str, tuple[tuple[float, float], ...]]]
    fit_status: Mapping[str, int] = field(default_factory=dict)
    """Per coefficient: the status of the scan's reference fit (0: converged)."""

    def width(self, coefficient: str, level: str = "95") -> float:
        """Total length of the intervals of ``coefficient`` at ``level`` (NaN if there are none)."""
        ivs = self.intervals[coefficient].get(level, ())
        return float(sum(hi - lo for lo, hi in ivs)) if ivs else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON document of the step."""
        return {
            "name": self.name,
            "kind": self.kind,
            "added": list(self.added),
            "intervals": {c: {k: [list(iv) for iv in v] for k, v in lv.items()} for c, lv in self.intervals.items()},
            "fit_status": dict(self.fit_status),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LadderStep:
        """Inverse of :meth:`to_dict`."""
        ivs = {
            c: {k: tuple((float(a), float(b)) for a, b in v) for k, v in lv.items()} for c, lv in d["intervals"].items()
        }
        return cls(
            str(d["name"]),
            str(d["kind"]),
            tuple(str(a) for a in d.get("added", ())),
            ivs,
            {str(k): int(v) for k, v in d.get("fit_status", {}).items()},
        )


@dataclass(frozen=True)
class LadderResult:
    """The sensitivity ladder (``kind: ladder`` JSON): the steps in chain order, the last one being
    the original analysis."""

    config: str
    coefficients: tuple[str, ...]
    steps: tuple[LadderStep, ...]
    ranges: Mapping[str, tuple[float, float]]
    points: int
    note: str = LADDER_NOTE

    def widths(self, level: str = "95") -> dict[str, list[float]]:
        """Per coefficient: the interval width of every step."""
        return {c: [s.width(c, level) for s in self.steps] for c in self.coefficients}

    def relative_widths(self, level: str = "95") -> dict[str, list[float]]:
        """Per coefficient: every step's width divided by the first step's width."""
        out = {}
        for c, ws in self.widths(level).items():
            first = ws[0]
            out[c] = [w / first if first > 0 else math.nan for w in ws]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON document (``kind: ladder``); widths are included for readers without rooeft."""
        rel = self.relative_widths("95")
        steps = []
        for i, s in enumerate(self.steps):
            d = s.to_dict()
            d["width_95"] = {c: s.width(c, "95") for c in self.coefficients}
            d["width_68"] = {c: s.width(c, "68") for c in self.coefficients}
            d["relative_width_95"] = {c: rel[c][i] for c in self.coefficients}
            steps.append(d)
        return {
            "kind": "ladder",
            "config": self.config,
            "note": self.note,
            "coefficients": list(self.coefficients),
            "ranges": {c: list(r) for c, r in self.ranges.items()},
            "points": self.points,
            "steps": steps,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> LadderResult:
        """Inverse of :meth:`to_dict` (``source``: the file it came from, unused)."""
        if d.get("kind") != "ladder":
            raise ValueError(f"not a ladder result: kind={d.get('kind')!r}")
        return cls(
            config=str(d["config"]),
            coefficients=tuple(str(c) for c in d["coefficients"]),
            steps=tuple(LadderStep.from_dict(s) for s in d["steps"]),
            ranges={str(c): (float(r[0]), float(r[1])) for c, r in d["ranges"].items()},
            points=int(d["points"]),
            note=str(d.get("note", LADDER_NOTE)),
        )


def _dump(config: Any) -> dict[str, Any]:
    """The validated configuration as a plain mapping (resolved absolute paths, unset defaults left out)."""
    data: dict[str, Any] = config.model_dump(mode="json", exclude_unset=True)
    data["version"] = 1
    return data


def ladder_configs(config: Any) -> list[tuple[str, str, tuple[str, ...], dict[str, Any]]]:
    """The chain of derived configurations of a validated :class:`~rooeft.config.Config`:
    ``(step name, kind, added names, configuration mapping)`` per step, in chain order.

    Every channel's data becomes Asimov at the SM. Raises ``ValueError`` for a configuration with
    an unbinned channel or without an EFT process.
    """
    unbinned = [ch.name for ch in config.channels if ch.kind != "binned"]
    if unbinned:
        raise ValueError(
            f"the ladder needs binned channels only; {unbinned} are unbinned (their processes and shape systematics "
            "are fixed by their ONNX model, so no step can drop them)"
        )
    if not any(p.eft for ch in config.channels for p in ch.processes):
        raise ValueError("the configuration has no EFT process (eft: true): there is no signal to start the ladder")
    full = _dump(config)
    for ch in full["channels"]:
        ch["data"] = {"asimov": {}}
    backgrounds: list[str] = []
    for ch in config.channels:
        for p in ch.processes:
            if not p.eft and p.name not in backgrounds:
                backgrounds.append(p.name)
    groups: list[str] = []
    for s in config.systematics:
        if s.name not in groups:
            groups.append(s.name)
    has_mc_stats = any(ch.mc_stats is not None for ch in config.channels)

    def derive(present: set[str], systematics: set[str], mc_stats: bool) -> dict[str, Any]:
        d = {k: v for k, v in full.items() if k not in ("channels", "systematics")}
        channels = []
        for ch, orig in zip(full["channels"], config.channels, strict=True):
            procs = [p for p, po in zip(ch["processes"], orig.processes, strict=True) if po.eft or po.name in present]
            if not procs:
                continue
            c = {k: v for k, v in ch.items() if k not in ("processes", "mc_stats")}
            c["processes"] = procs
            if mc_stats and "mc_stats" in ch:
                c["mc_stats"] = ch["mc_stats"]
            channels.append(c)
        d["channels"] = channels
        d["systematics"] = [s for s in full.get("systematics", []) if s["name"] in systematics]
        return d

    steps: list[tuple[str, str, tuple[str, ...], dict[str, Any]]] = [
        ("signal only", "signal", (), derive(set(), set(), False))
    ]
    present: set[str] = set()
    for b in backgrounds:
        present.add(b)
        steps.append((f"+ {b}", "background", (b,), derive(set(present), set(), False)))
    active: set[str] = set()
    for g in groups:
        active.add(g)
        steps.append((f"+ {g}", "systematic", (g,), derive(present, set(active), False)))
    if has_mc_stats:
        steps.append(("+ MC stats", "mc_stats", ("mc_stats",), derive(present, active, True)))
    return steps


def _parse_ranges(config: Any, ranges: Mapping[str, Sequence[float]] | None) -> dict[str, tuple[float, float]]:
    out = {c.name: (float(c.range[0]), float(c.range[1])) for c in config.coefficients}
    for name, r in (ranges or {}).items():
        if name not in out:
            raise ValueError(f"--range: unknown coefficient '{name}' (coefficients: {', '.join(out)})")
        lo, hi = (float(v) for v in r)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"--range {name}: need finite low < high, got {[lo, hi]}")
        out[name] = (lo, hi)
    return out


def ladder(
    config_path: str | os.PathLike[str],
    *,
    points: int = 21,
    ranges: Mapping[str, Sequence[float]] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
) -> LadderResult:
    """Build and scan every step of the sensitivity ladder of the configuration ``config_path``.

    Parameters
    ----------
    config_path
        The analysis configuration (YAML); it is read, never written.
    points
        Scan points per coefficient and step.
    ranges
        Scan range per coefficient (default: the coefficient's range in the configuration).
    workdir
        Where the derived configurations and workspaces are written (``step<NN>.yaml``,
        ``step<NN>.root``); default: a temporary directory removed afterwards.
    workers
        Dask workers of each scan (see :func:`rooeft.infer.scan1d`; default: in this process).
    log
        Called with a line of progress per step.
    """
    import yaml

    from rooeft.config import load_config
    from rooeft.infer import scan1d
    from rooeft.workspace import build_workspace

    if points < 3:
        raise ValueError(f"points must be at least 3, got {points}")
    source = Path(config_path)
    config = load_config(source)
    scan_ranges = _parse_ranges(config, ranges)
    chain = ladder_configs(config)
    coefs = tuple(config.coefficient_names)

    def run(folder: Path) -> list[LadderStep]:
        folder.mkdir(parents=True, exist_ok=True)
        inputs = {source.resolve()} | {
            Path(f).resolve() for ch in config.channels for p in ch.processes for f in p.files
        }
        out = []
        for i, (name, kind, added, cfg) in enumerate(chain):
            cfg_path, ws_path = folder / f"step{i:02d}.yaml", folder / f"step{i:02d}.root"
            if {cfg_path.resolve(), ws_path.resolve()} & inputs:
                raise ValueError(f"--workdir {folder}: the step files would overwrite the input {source}")
            if log is not None:
                log(f"step {i + 1}/{len(chain)}: {name}")
            cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
            build_workspace(cfg_path, output=ws_path, write_template_file=False)
            intervals, status = {}, {}
            for c in coefs:
                s = scan1d(
                    ws_path, c, points=points, range=scan_ranges[c], profile_others=False, asimov=True,
                    workers=workers, label=f"ladder: {name}",
                )  # fmt: skip
                intervals[c] = dict(s.intervals)
                status[c] = s.fit_status
            out.append(LadderStep(name, kind, added, intervals, status))
        return out

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="rooeft_ladder_") as tmp:
            steps = run(Path(tmp))
    else:
        steps = run(Path(workdir))
    return LadderResult(str(source.resolve()), coefs, tuple(steps), scan_ranges, points)


def ladder_table(result: LadderResult) -> str:
    """The ladder as a text table: per step and coefficient the 95% width and the width relative
    to the first step."""
    rel = result.relative_widths("95")
    head = ["step"] + [f"{c} 95% width (rel.)" for c in result.coefficients]
    rows = []
    for i, s in enumerate(result.steps):
        rows.append([s.name] + [f"{s.width(c):.4g} ({rel[c][i]:.3f})" for c in result.coefficients])
    cols = list(zip(head, *rows, strict=True))
    sizes = [max(len(v) for v in col) for col in cols]
    lines = ["  ".join(v.ljust(n) for v, n in zip(head, sizes, strict=True))]
    lines.append("  ".join("-" * n for n in sizes))
    lines += ["  ".join(v.ljust(n) for v, n in zip(r, sizes, strict=True)) for r in rows]
    return "\n".join(lines)


def plot_ladder(result: LadderResult, path_stem: str | os.PathLike[str]) -> list[Path]:
    """Bar plot of the ladder: one panel per coefficient, one bar per step (95% width relative to
    the first step; the 68% ratio as a marker); written by :func:`rooeft.plot._common.save_figure`."""
    import numpy as np

    from rooeft.plot._common import COLORS, new_figure, save_figure, style

    rel95, rel68 = result.relative_widths("95"), result.relative_widths("68")
    n = len(result.coefficients)
    names = [s.name for s in result.steps]
    with style():
        fig, axes = new_figure(nrows=1, ncols=n, figsize=(4.5 * n + 1, 5.5), squeeze=False, layout="constrained")
        for ax, c in zip(axes[0], result.coefficients, strict=True):
            x = np.arange(len(names))
            ax.bar(x, rel95[c], color=COLORS[0], label="95% CL")
            ax.plot(x, rel68[c], "o", color=COLORS[1], label="68% CL")
            ax.axhline(1.0, color="0.4", lw=1, ls="--")
            ax.set_xticks(x, names, rotation=60, ha="right", fontsize="x-small")
            ax.set_title(c, fontsize="medium")
            ax.set_ylabel("width / signal-only width", fontsize="small")
            ax.set_ylim(0, max(1.2, 1.15 * float(np.nanmax(rel95[c] + rel68[c]))))
        axes[0][0].legend(fontsize="small", loc="upper left")
        return save_figure(fig, path_stem)
