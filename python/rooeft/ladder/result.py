"""The ladder's result: its steps, the JSON document, the table and the waterfall plot."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

#: the note every ladder result carries
LADDER_NOTE = (
    "Intervals: Asimov data at the SM, one coefficient scanned, the others fixed at the SM; a step profiles the "
    "nuisance parameters it and the steps before it added and holds the later ones at their nominal values. "
    "Relative widths are relative to the first step."
)

#: the step kinds, in chain order
STEP_KINDS = ("exact", "signal", "background", "systematic", "mc_stats")
#: the group of the MC-statistics parameters
MC_STATS = "mc_stats"
#: half-width of the scan grid around the best fit, in Hesse σ
GRID_SIGMAS = 3.0
#: 2ΔNLL a scan must reach at both ends (else it is extended outwards): the 95% level
EXTEND_LEVEL = 3.84

Intervals = dict[str, tuple[tuple[float, float], ...]]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LadderStep:
    """One analysis of the chain: its name, kind, what it adds, and per coefficient the intervals
    (``{"68": ((lo, hi), ...), "95": (...)}``; several disjoint intervals are possible)."""

    name: str
    kind: str
    added: tuple[str, ...]
    intervals: Mapping[str, Mapping[str, tuple[tuple[float, float], ...]]]
    fit_status: Mapping[str, int] = field(default_factory=dict)
    """Per coefficient: 0 if the best fit and every scan point converged, else the first failed status."""
    frozen: tuple[str, ...] = ()
    """Nuisance parameters held at their nominal values in this step."""

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
            "frozen": list(self.frozen),
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
            tuple(str(n) for n in d.get("frozen", ())),
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

    def index(self, step: int | str) -> int:
        """Position of a step given by position or name (``KeyError`` if there is none)."""
        if isinstance(step, int):
            if not -len(self.steps) <= step < len(self.steps):
                raise KeyError(f"no step {step}: the ladder has {len(self.steps)} steps")
            return step % len(self.steps)
        for i, s in enumerate(self.steps):
            if s.name == step:
                return i
        raise KeyError(f"no step '{step}' (steps: {[s.name for s in self.steps]})")

    def widths(self, level: str = "95") -> dict[str, list[float]]:
        """Per coefficient: the interval width of every step."""
        return {c: [s.width(c, level) for s in self.steps] for c in self.coefficients}

    def relative_widths(self, level: str = "95", reference: int | str = 0) -> dict[str, list[float]]:
        """Per coefficient: every step's width divided by the width of the ``reference`` step
        (position or name; default the first)."""
        k = self.index(reference)
        out = {}
        for c, ws in self.widths(level).items():
            ref = ws[k]
            out[c] = [w / ref if ref > 0 else math.nan for w in ws]
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
    """Waterfall plot of the ladder: one panel per coefficient, one bar per step spanning the
    95% width relative to the first step from the previous step's value to this one's (colour:
    the step's kind), the value written above it, and the same ratio at 68% CL as a dot; written
    by :func:`rooeft.plot._common.save_figure`."""
    from rooeft.plot._common import COLORS, new_figure, save_figure, style

    rel95, rel68 = result.relative_widths("95"), result.relative_widths("68")
    n = len(result.coefficients)
    names = [s.name for s in result.steps]
    colours = {k: COLORS[i % len(COLORS)] for i, k in enumerate(STEP_KINDS)}
    with style():
        fig, axes = new_figure(nrows=1, ncols=n, figsize=(4.5 * n + 1, 6.0), squeeze=False, layout="constrained")
        for ax, c in zip(axes[0], result.coefficients, strict=True):
            x = np.arange(len(names))
            values = np.asarray(rel95[c], dtype=np.float64)
            base = np.concatenate([[0.0], values[:-1]])
            base[~np.isfinite(base)] = 0.0
            for i, s in enumerate(result.steps):
                label = s.kind if c == result.coefficients[0] else None
                ax.bar(x[i], values[i] - base[i], bottom=base[i], color=colours.get(s.kind, COLORS[-1]), label=label)
                if np.isfinite(values[i]):
                    ax.annotate(f"{values[i]:.2f}", (x[i], values[i]), ha="center", va="bottom", fontsize="x-small")
            ax.plot(x, rel68[c], "o", color="black", ms=4, label="68% CL" if c == result.coefficients[0] else None)
            ax.axhline(1.0, color="0.4", lw=1, ls="--")
            ax.set_xticks(x, names, rotation=60, ha="right", fontsize="x-small")
            ax.set_title(c, fontsize="medium")
            top = float(np.nanmax(np.concatenate([values, np.asarray(rel68[c], dtype=np.float64)])))
            ax.set_ylim(0, max(1.2, 1.15 * top))
        axes[0][0].set_ylabel("95% CL width / first step", fontsize="small")
        handles, labels = axes[0][0].get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        fig.legend(unique.values(), unique.keys(), fontsize="x-small", loc="outside upper center", ncols=len(unique))
        return save_figure(fig, path_stem)


def as_intervals(raw: Mapping[str, Sequence[Sequence[float]]]) -> Intervals:
    return {str(k): tuple((float(iv[0]), float(iv[1])) for iv in v) for k, v in raw.items()}
