"""The exact per-event ratio as the ladder's reference step (from the EFT processes' own weights)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.ladder.plan import ReferenceStep
from rooeft.ladder.result import EXTEND_LEVEL, F64, Intervals, as_intervals


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
            return as_intervals(intervals_1d(grid, d))
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
