"""The sensitivity ladder: where an analysis's sensitivity goes, step by step.

From one analysis configuration, :func:`ladder` derives a chain of analyses and gives, for each
step and each coefficient, the expected (Asimov, SM) 68%/95% interval with the other coefficients
at the SM:

0. optionally a *reference* step computed outside the workspaces (:class:`ReferenceStep`), e.g.
   the exact per-event ratio of the simulation's own structure constants (:func:`exact_ratio_step`);
1. ``signal only``: the EFT processes alone; every nuisance parameter held at its nominal value;
2. ``+ <background>``: each background process (by name, in all channels that have it) in config
   order. Binned channels drop a background that is not yet added; unbinned channels *mask* it
   (``masked: true``: the same ONNX model, zero expected events, its events out of the Asimov data);
3. ``+ <systematic>``: each systematic of the config in config order (entries sharing a name form
   one group): its nuisance parameter is profiled from this step on;
4. ``+ MC stats``: the MC-statistics parameters (``mc_stats`` blocks) are profiled too.

The last step is the original analysis (on Asimov data at the SM). A workspace is built per
process content (``stage<NN>.yaml``/``.root`` in the work directory); the systematics steps reuse
the last one and differ only in which nuisance parameters float: a nuisance not yet added is held
at its nominal value, which is the same likelihood as leaving it out (for a correctionlib
systematic it keeps the nominal scale factor, as it should).

Intervals come from profile-likelihood scans on the Asimov data whose grid is placed around the
best fit at ±3 Hesse σ (``points`` points, extended outwards until the 95% level is crossed or the
scan range ends).

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

import numpy as np
import numpy.typing as npt

__all__ = [
    "LADDER_NOTE",
    "STEP_KINDS",
    "LadderPlan",
    "LadderResult",
    "LadderStep",
    "PlannedStep",
    "ReferenceStep",
    "asimov_intervals",
    "exact_ratio_intervals",
    "exact_ratio_step",
    "exact_ratio_terms",
    "ladder",
    "ladder_plan",
    "ladder_table",
    "plot_ladder",
]

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


def _frozen(model: Any, step: PlannedStep, groups: Sequence[str]) -> list[str]:
    """The nuisance parameters of ``model`` that ``step`` holds at their nominal values."""
    kinds = {str(n["name"]): str(n["kind"]) for n in model.metadata.get("nuisances", [])}
    frozen = []
    for n in model.nuisances:
        if kinds.get(n) == MC_STATS or n.startswith("prop_bin"):
            if not step.mc_stats:
                frozen.append(n)
        elif n in groups:
            if n not in step.profiled:
                frozen.append(n)
        else:
            raise ValueError(f"{model.path}: nuisance parameter '{n}' is neither a systematic of the configuration "
                             "nor an MC-statistics parameter")  # fmt: skip
    return frozen


def _as_intervals(raw: Mapping[str, Sequence[Sequence[float]]]) -> Intervals:
    return {str(k): tuple((float(iv[0]), float(iv[1])) for iv in v) for k, v in raw.items()}


def asimov_intervals(
    model: Any,
    poi: str,
    *,
    fixed: Mapping[str, float],
    scan_range: tuple[float, float],
    points: int,
) -> tuple[Intervals, int]:
    """68%/95% intervals of ``poi`` from a profile scan on the SM Asimov data of an opened
    :class:`~rooeft.infer.Model`, with the parameters ``fixed`` held at their values.

    The grid has ``points`` points at ±:data:`GRID_SIGMAS` Hesse σ around the best fit (the whole
    ``scan_range`` if Hesse fails), inside ``scan_range``, and is extended outwards by the same
    spacing until 2ΔNLL reaches :data:`EXTEND_LEVEL` at both ends (or the range ends). Returns the
    intervals and a status: 0 if the best fit and every point converged."""
    from rooeft.infer import DataSpec, intervals_1d
    from rooeft.infer.fit import fit_spec

    lo, hi = float(scan_range[0]), float(scan_range[1])
    spec = DataSpec.make(asimov=True)
    nll = model.likelihood(spec)
    best = fit_spec(model, spec, fixed=fixed, hesse=True, nll=nll)
    centre = min(max(best.parameters[poi].value, lo), hi)
    sigma = best.parameters[poi].error
    if best.status == 0 and math.isfinite(sigma) and sigma > 0:
        spacing = 2.0 * GRID_SIGMAS * sigma / (points - 1)
        grid = centre + spacing * (np.arange(points) - 0.5 * (points - 1))
    else:
        grid = np.linspace(lo, hi, points)
        spacing = float(grid[1] - grid[0])
    grid = np.unique(np.clip(grid, lo, hi))
    start = {n: p.value for n, p in best.parameters.items()}
    results: dict[float, tuple[float, int]] = {}
    status = best.status

    def walk(values: Sequence[float], warm: dict[str, float]) -> None:
        nonlocal status
        for v in values:
            r = fit_spec(model, spec, fixed={**fixed, poi: float(v)}, start=warm, hesse=False, strategy=0, nll=nll)
            results[float(v)] = (r.min_nll, r.status)
            if r.status == 0:
                warm = {n: p.value for n, p in r.parameters.items()}
            elif status == 0:
                status = r.status

    walk([v for v in grid if v >= centre], dict(start))
    walk([v for v in grid[::-1] if v < centre], dict(start))
    nll0 = min([best.min_nll] + [n for n, s in results.values() if s == 0 and math.isfinite(n)])
    for side in (1.0, -1.0):  # extend until the 95% level is crossed
        for _ in range(points):
            edge = max(results) if side > 0 else min(results)
            n_edge, s_edge = results[edge]
            if (s_edge == 0 and 2.0 * (n_edge - nll0) >= EXTEND_LEVEL) or edge in (lo, hi):
                break
            walk([min(max(edge + side * spacing, lo), hi)], dict(start))
    xs = np.array(sorted(results))
    d = np.array([results[x][0] - nll0 if results[x][1] == 0 else np.nan for x in xs])
    ivs = intervals_1d(xs, d)
    return _as_intervals(ivs), int(status)


# --------------------------------------------------------------------------- the exact ratio
def exact_ratio_terms(config: Any) -> F64:
    """Per-event structure constants (expected events, canonical term order) of every EFT process
    of every channel of a validated configuration, read with the workspace builder's recipe (cut,
    weight, scale, luminosity scale; binned channels keep the events inside their edges).

    They define the *exact per-event ratio* ``r_i(θ) = W_i·m(θ) / W_i·m(θ_SM)``: the optimal
    analysis of these events when the structure constants are the parton-level truth (as in the
    ZH example's simulation)."""
    from rooeft.config import BinnedChannel
    from rooeft.onnx import OnnxModels
    from rooeft.workspace.expected import process_terms
    from rooeft.workspace.reading import (
        binned_values,
        channel_observables,
        check_eft_sample,
        read_sample_files,
        sample_config,
    )

    models = OnnxModels()
    blocks = []
    for ch in config.channels:
        procs = [p for p in ch.processes if p.eft and not p.masked]
        if not procs:
            continue
        read_obs = channel_observables(ch, models)[1] if isinstance(ch, BinnedChannel) else {}
        for p in procs:
            where = f"channel '{ch.name}', process '{p.name}'"
            sample = read_sample_files(p.files, sample_config(config, ch.name, p, read_obs), where)
            sample = check_eft_sample(config, p, sample, where)
            if sample.structure_constants is None:
                raise ValueError(f"{where}: no per-event structure constants for the exact ratio")
            block = process_terms(
                sample.weights,
                sample.structure_constants,
                sum_weights=float(sample.sums().sum_weights),
                sm_term_sum=float(sample.term_sums()[0]),
            )
            if isinstance(ch, BinnedChannel):
                v = binned_values(ch, sample, where, models)
                block = block[(v >= ch.edges[0]) & (v < ch.edges[-1])]
            blocks.append(block)
    if not blocks:
        raise ValueError("the configuration has no EFT process with structure constants")
    return np.concatenate(blocks, axis=0)


def exact_ratio_intervals(
    terms: npt.ArrayLike,
    coefficients: Sequence[str],
    poi: str,
    *,
    sm: Mapping[str, float],
    scan_range: tuple[float, float],
    points: int = 201,
) -> Intervals:
    """68%/95% intervals of ``poi`` for SM Asimov data with the exact per-event ratio of
    ``terms`` (``(N, T)`` structure constants in expected events; the other coefficients at
    ``sm``): ``NLL(θ) = Σ_i W_i·m(θ) − Σ_i W_i·m(θ_SM) ln W_i·m(θ)`` on ``points`` points,
    first at ±5 σ (:func:`rooeft.infer.oracle.asimov_sigma`) around the SM, widened until the 95%
    level is crossed or ``scan_range`` ends.

    >>> a = np.random.default_rng(1).normal(0.0, 1.0, 20000)
    >>> W = np.column_stack([np.full(a.size, 0.1), 0.1 * a, np.full(a.size, 1e-4)])
    >>> iv = exact_ratio_intervals(W, ["c"], "c", sm={"c": 0.0}, scan_range=(-1.0, 1.0))
    >>> round(iv["68"][0][1], 3)  # ≈ 1/√(Σ w a²) = 1/√2000
    0.022
    """
    from rooeft.infer import intervals_1d
    from rooeft.infer.oracle import asimov_sigma
    from rooeft.terms import monomials

    W = np.asarray(terms, dtype=np.float64)
    names = list(coefficients)
    a = names.index(poi)
    t0 = np.array([float(sm.get(c, 0.0)) for c in names])
    asimov = W @ monomials(t0)
    sigma = asimov_sigma(W, names, {c: float(v) for c, v in zip(names, t0, strict=True)}, poi)
    lo, hi = float(scan_range[0]), float(scan_range[1])
    half = 5.0 * sigma if math.isfinite(sigma) and sigma > 0 else 0.5 * (hi - lo)
    while True:
        grid = np.linspace(max(lo, t0[a] - half), min(hi, t0[a] + half), points)
        thetas = np.repeat(t0[None, :], grid.size, axis=0)
        thetas[:, a] = grid
        m = monomials(thetas)
        nll = np.full(grid.size, np.nan)
        for k in range(0, grid.size, 16):
            v = W @ m[k : k + 16].T
            with np.errstate(divide="ignore", invalid="ignore"):
                vals = v.sum(axis=0) - asimov @ np.log(v)
            ok = np.all(v > 0, axis=0)
            nll[k : k + 16] = np.where(ok, vals, np.nan)
        d = nll - np.nanmin(nll)
        ends = 2.0 * d[[0, -1]]
        at_bounds = grid[0] <= lo and grid[-1] >= hi
        if at_bounds or (np.all(np.isfinite(ends)) and np.all(ends >= EXTEND_LEVEL)):
            return _as_intervals(intervals_1d(grid, d))
        half *= 2.0


def exact_ratio_step(config: Any, *, name: str = "exact ratio (optimal)", points: int = 201) -> ReferenceStep:
    """The reference step of the exact per-event ratio of the configuration's EFT processes
    (:func:`exact_ratio_terms`, :func:`exact_ratio_intervals`): signal only, no detector model
    beyond the simulation's, no background, no systematics."""
    terms = exact_ratio_terms(config)
    coefs = list(config.coefficient_names)
    sm = {c.name: float(c.sm) for c in config.coefficients}

    def intervals(poi: str, scan_range: tuple[float, float]) -> Intervals:
        return exact_ratio_intervals(terms, coefs, poi, sm=sm, scan_range=scan_range, points=points)

    return ReferenceStep(name, intervals, kind="exact")


# --------------------------------------------------------------------------- the ladder
def ladder(
    config_path: str | os.PathLike[str],
    *,
    points: int = 9,
    ranges: Mapping[str, Sequence[float]] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    workspace: str | os.PathLike[str] | None = None,
    reference: ReferenceStep | None = None,
    log: Callable[[str], None] | None = None,
) -> LadderResult:
    """Build and scan every step of the sensitivity ladder of the configuration ``config_path``.

    Parameters
    ----------
    config_path
        The analysis configuration (YAML); it is read, never written.
    points
        Scan points per coefficient and step (the grid spans ±3 Hesse σ and is extended if needed).
    ranges
        Scan limits per coefficient (default: the coefficient's range in the configuration).
    workdir
        Where the derived configurations and workspaces are written (``stage<NN>.yaml``,
        ``stage<NN>.root``); default: a temporary directory removed afterwards.
    workspace
        The workspace built from ``config_path`` (e.g. by ``rooeft build``): used for the steps
        with every process instead of building it again; its configuration hash must match.
    reference
        A first step computed outside the workspaces (:class:`ReferenceStep`, e.g.
        :func:`exact_ratio_step`); the relative widths are then relative to it.
    log
        Called with a line of progress per step.
    """
    import yaml

    from rooeft.config import config_hash, load_config
    from rooeft.infer import Model, get_model
    from rooeft.workspace import build_workspace

    if points < 3:
        raise ValueError(f"points must be at least 3, got {points}")
    source = Path(config_path)
    config = load_config(source)
    scan_ranges = _parse_ranges(config, ranges)
    plan = ladder_plan(config)
    coefs = tuple(config.coefficient_names)
    full_ws: Path | None = None
    if workspace is not None:
        full_ws = Path(workspace)
        if not full_ws.is_file():
            raise FileNotFoundError(f"workspace file {full_ws} does not exist")
        meta = get_model(full_ws).metadata
        if meta.get("config_hash") != config_hash(config):
            raise ValueError(f"{full_ws} was not built from {source} (its configuration hash differs)")
    n_steps = len(plan.steps) + (reference is not None)
    steps: list[LadderStep] = []
    if reference is not None:
        if log is not None:
            log(f"step 1/{n_steps}: {reference.name}")
        ivs = {c: _as_intervals(reference.intervals(c, scan_ranges[c])) for c in coefs}
        steps.append(LadderStep(reference.name, reference.kind, (), ivs, dict.fromkeys(coefs, 0)))

    def run(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        inputs = {source.resolve()} | {
            Path(f).resolve() for ch in config.channels for p in ch.processes for f in p.files
        }
        if full_ws is not None:
            inputs.add(full_ws.resolve())
        models: dict[int, Any] = {}
        for step in plan.steps:
            if log is not None:
                log(f"step {len(steps) + 1}/{n_steps}: {step.name}")
            if step.stage not in models:
                models.clear()  # one opened stage at a time: its network outputs are large
                if full_ws is not None and step.stage == len(plan.stages) - 1:
                    models[step.stage] = get_model(full_ws)
                else:
                    cfg_path, ws_path = folder / f"stage{step.stage:02d}.yaml", folder / f"stage{step.stage:02d}.root"
                    if {cfg_path.resolve(), ws_path.resolve()} & inputs:
                        raise ValueError(f"--workdir {folder}: the stage files would overwrite the input {source}")
                    cfg_path.write_text(yaml.safe_dump(plan.stages[step.stage], sort_keys=False))
                    build_workspace(cfg_path, output=ws_path, write_template_file=False)
                    models[step.stage] = Model(ws_path)
            model = models[step.stage]
            frozen = _frozen(model, step, plan.groups)
            held = {n: model.prefit_value(n) for n in frozen}
            intervals, status = {}, {}
            for c in coefs:
                fixed = {**{p: model.nominal[p] for p in model.pois if p != c}, **held}
                intervals[c], status[c] = asimov_intervals(
                    model, c, fixed=fixed, scan_range=scan_ranges[c], points=points
                )
            steps.append(LadderStep(step.name, step.kind, step.added, intervals, status, tuple(frozen)))

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="rooeft_ladder_") as tmp:
            run(Path(tmp))
    else:
        run(Path(workdir))
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
