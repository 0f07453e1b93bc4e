"""Running the ladder: Asimov scans of every step."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.ladder.plan import PlannedStep, ReferenceStep, ladder_plan
from rooeft.ladder.result import (
    EXTEND_LEVEL,
    GRID_SIGMAS,
    MC_STATS,
    Intervals,
    LadderResult,
    LadderStep,
    as_intervals,
)


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
    return as_intervals(ivs), int(status)


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
        ivs = {c: as_intervals(reference.intervals(c, scan_ranges[c])) for c in coefs}
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
