"""Calibration of trained estimators and their reliability report on a held-out test split.

Used by :func:`rooeft.nn.train_from_arrays` (and so by ``rooeft train``); see
``docs/calibration.md``. Three disjoint sets of events take part:

* the **test split** (``CalibrationConfig.test_fraction`` of all events, seeded), never seen by
  any network or calibration: the reliability report is measured on it;
* each network's **validation split** (``TrainingConfig.validation_fraction`` of the rest), used
  for early stopping and to fit the calibration maps;
* the **training split**: everything else, the gradient steps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from rooeft.nn.calibration import (
    CalibratedFractionModule,
    CalibratedPerTermModule,
    CalibrationConfig,
    calibrate_fractions,
    calibrate_per_term,
    n_effective,
    reliability_table,
    summarise,
)
from rooeft.nn.fractions import FractionEstimator
from rooeft.nn.per_term import PerTermConfig, PerTermEstimator
from rooeft.nn.quadratic import QuadraticConfig, QuadraticEstimator, quadratic_from_columns
from rooeft.terms import monomials

__all__ = [
    "apply_calibration",
    "format_report",
    "reliability_report",
    "test_split",
    "theta_points",
    "write_reliability",
]

REPORT_KIND = "reliability"
CALIBRATION_SPLIT = "validation split of each network (held out from the gradient steps, used for early stopping)"


def test_split(n_events: int, config: CalibrationConfig) -> np.ndarray:
    """Sorted indices of the held-out test events (seeded by ``config.seed``; at least one event,
    never all of them)."""
    if n_events < 3:
        raise ValueError(f"need at least 3 events for training, validation and test splits, got {n_events}")
    rng = np.random.default_rng([config.seed, 0x7E57])
    n_test = min(max(1, round(config.test_fraction * n_events)), n_events - 2)
    return np.sort(rng.permutation(n_events)[:n_test])


def _forward(module: torch.nn.Module, x: np.ndarray, method: str = "forward") -> np.ndarray:
    from rooeft.nn.base import run_module

    return run_module(module, x, method=method)


def apply_calibration(
    x: np.ndarray,
    w: np.ndarray,
    label: np.ndarray,
    *,
    fractions: FractionEstimator | None,
    eft: Mapping[str, Any],
    config: CalibrationConfig,
) -> dict[str, Any]:
    """Fit the calibration maps on each estimator's validation split and wrap its module in place.

    Fractions are calibrated one process against the rest; ``per_term`` estimators per term; a
    joint quadratic model is left as it is (the record says why). Returns the provenance record.
    """
    record: dict[str, Any] = {"enabled": bool(config.enabled), "components": {}}
    if not config.enabled:
        return record
    record.update(
        method="histogram + isotonic (PAV) + centred piecewise-linear interpolation",
        fitted_on=CALIBRATION_SPLIT,
        n_bins=config.n_bins,
        min_effective_events=config.min_effective_events,
    )
    if fractions is not None:
        rows = fractions.validation_rows
        module, maps = calibrate_fractions(
            fractions.module, x[rows], label[rows], w[rows, 0],
            n_bins=config.n_bins, min_effective=config.min_effective_events,
        )  # fmt: skip
        fractions.module = module
        entry = {
            "what": "one-vs-rest logit of each fraction, then renormalised",
            "n_events": int(rows.size),
            "maps": {p: m.to_dict() for p, m in zip(fractions.processes, maps, strict=True)},
        }
        fractions.provenance["calibration"] = entry
        record["components"]["fractions"] = {"calibrated": True, "n_events": int(rows.size)}
    for p, est in eft.items():
        if isinstance(est, PerTermEstimator):
            rows = est.validation_rows
            term_module, maps = calibrate_per_term(
                est.module, x[rows], w[rows], n_bins=config.n_bins, min_effective=config.min_effective_events
            )
            est.module = term_module
            est.provenance["calibration"] = {
                "what": "replica-mean coefficient function of each term (Σw_t/Σw_0 in bins of r̂_t)",
                "n_events": int(rows.size),
                "maps": [m.to_dict() for m in maps],
            }
            record["components"][f"eft[{p!r}]"] = {"calibrated": True, "n_events": int(rows.size)}
        else:
            record["components"][f"eft[{p!r}]"] = {
                "calibrated": False,
                "reason": "joint positive quadratic regression: no classifier output to calibrate; a θ-independent "
                "monotone map of its columns would break the built-in positivity of r(x|θ); reliability is "
                "reported at θ points instead",
            }
    return record


def theta_points(coefficients: Sequence[str], estimator: Any, eft_config: Any, config: CalibrationConfig) -> np.ndarray:
    """θ points ``[K, n]`` of the ratio reliability: the configured ones, or each coefficient at ±
    its typical value (``theta_scale`` of a quadratic model, linear probe values of per-term ones)."""
    n = len(coefficients)
    if config.theta_points is not None:
        pts = np.asarray(config.theta_points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != n:
            raise ValueError(f"theta_points must be a list of points with {n} values ({list(coefficients)})")
        return pts
    if isinstance(estimator, PerTermEstimator):
        scales = np.abs(np.asarray(estimator.probes[:n], dtype=float))
    elif isinstance(eft_config, QuadraticConfig):
        scales = eft_config.scales(n)
    else:
        scales = QuadraticConfig().scales(n)
    points: list[np.ndarray] = []
    for a in range(n):
        for sign in (+1.0, -1.0):
            t = np.zeros(n)
            t[a] = sign * scales[a]
            points.append(t)
    return np.array(points)


def _eft_columns(est: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(uncalibrated, calibrated or None) coefficient columns of an EFT estimator."""
    if isinstance(est.module, CalibratedPerTermModule):
        return _forward(est.module, x, "uncalibrated"), _forward(est.module, x)
    return _forward(est.module, x), None


def reliability_report(
    x: np.ndarray,
    w: np.ndarray,
    label: np.ndarray,
    test_rows: np.ndarray,
    *,
    processes: Sequence[str],
    coefficients: Sequence[str],
    observables: Sequence[str] = (),
    fractions: FractionEstimator | None,
    eft: Mapping[str, QuadraticEstimator | PerTermEstimator],
    eft_config: QuadraticConfig | PerTermConfig | None,
    config: CalibrationConfig,
    calibration_record: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Predicted vs true fractions and EFT ratios in bins of the prediction, on ``test_rows``.

    Fractions: in bins of π̂_p, the true ``Σ_{i∈p} w_i / Σ_i w_i``; ratios: at each θ point, in
    bins of r̂_p(x|θ), the true ``Σ w_i(θ) / Σ w_i0`` over process-p events. Errors come from the
    sums of squared weights. Each table is given for the raw network (``uncalibrated``) and, where
    a calibration is applied, for the exported model (``calibrated``; else ``None``). With
    ``config.slices``, ``fraction_slices`` compares predicted and true fractions in bins of those
    observables (names from ``observables``, the columns of ``x``).
    """
    unknown = [o for o in config.slices if o not in observables]
    if unknown:
        raise ValueError(f"reliability slices {unknown} are not among the observables {list(observables)}")
    opts: dict[str, Any] = {"n_bins": config.reliability_bins, "min_effective": config.min_effective_events}
    xt, wt, lt = x[test_rows], w[test_rows], label[test_rows]
    report: dict[str, Any] = {
        "kind": REPORT_KIND,
        "test_split": {
            "fraction": config.test_fraction,
            "seed": config.seed,
            "n_events": int(test_rows.size),
            "n_eff": {p: n_effective(wt[lt == i, 0]) for i, p in enumerate(processes)},
        },
        "calibration": dict(calibration_record or {"enabled": False}),
        "fractions": {},
        "fraction_slices": {},
        "ratios": {},
    }
    if fractions is not None:
        if isinstance(fractions.module, CalibratedFractionModule):
            raw = _forward(fractions.module, xt, "uncalibrated")
            cal: np.ndarray | None = _forward(fractions.module, xt)
        else:
            raw, cal = _forward(fractions.module, xt), None
        for i, p in enumerate(fractions.processes):
            num = wt[:, 0] * (lt == i)
            report["fractions"][p] = {
                "uncalibrated": reliability_table(raw[:, i], num, wt[:, 0], fraction=True, **opts),
                "calibrated": reliability_table(cal[:, i], num, wt[:, 0], fraction=True, **opts)
                if cal is not None
                else None,
            }
            for obs in config.slices:
                col = xt[:, list(observables).index(obs)]
                report["fraction_slices"].setdefault(p, {})[obs] = {
                    "uncalibrated": reliability_table(raw[:, i], num, wt[:, 0], binning=col, fraction=True, **opts),
                    "calibrated": (
                        reliability_table(cal[:, i], num, wt[:, 0], binning=col, fraction=True, **opts)
                        if cal is not None
                        else None
                    ),
                }
    for p, est in eft.items():
        sel = lt == list(processes).index(p)
        if not sel.any():
            continue
        xp, wp = xt[sel], wt[sel]
        raw_cols, cal_cols = _eft_columns(est, xp)
        pts = theta_points(coefficients, est, eft_config, config)
        true_w = wp @ monomials(pts).T  # [N, K]: w_i(θ)
        raw_r = quadratic_from_columns(raw_cols, pts)
        cal_r = quadratic_from_columns(cal_cols, pts) if cal_cols is not None else None
        entries = []
        for k, theta in enumerate(pts):
            entries.append({
                "theta": {c: float(v) for c, v in zip(coefficients, theta, strict=True)},
                "uncalibrated": reliability_table(raw_r[:, k], true_w[:, k], wp[:, 0], **opts),
                "calibrated": (
                    reliability_table(cal_r[:, k], true_w[:, k], wp[:, 0], **opts) if cal_r is not None else None
                ),
            })  # fmt: skip
        report["ratios"][p] = entries
    return report


def format_report(report: Mapping[str, Any]) -> str:
    """Short text summary of a reliability report (one line per table)."""
    lines = [f"reliability on {report['test_split']['n_events']} held-out test events:"]
    for p, t in report.get("fractions", {}).items():
        lines.append(f"  frac:{p}  uncalibrated: {summarise(t['uncalibrated'])}")
        if t.get("calibrated"):
            lines.append(f"  frac:{p}  calibrated:   {summarise(t['calibrated'])}")
    for p, per_obs in report.get("fraction_slices", {}).items():
        for obs, t in per_obs.items():
            lines.append(f"  frac:{p} in bins of {obs}  uncalibrated: {summarise(t['uncalibrated'])}")
            if t.get("calibrated"):
                lines.append(f"  frac:{p} in bins of {obs}  calibrated:   {summarise(t['calibrated'])}")
    for p, entries in report.get("ratios", {}).items():
        for e in entries:
            point = ",".join(f"{c}={v:g}" for c, v in e["theta"].items() if v != 0) or "SM"
            lines.append(f"  r:{p}({point})  uncalibrated: {summarise(e['uncalibrated'])}")
            if e.get("calibrated"):
                lines.append(f"  r:{p}({point})  calibrated:   {summarise(e['calibrated'])}")
    return "\n".join(lines)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def reliability_paths(model_path: Path) -> tuple[Path, Path]:
    """``<stem>_reliability.json`` and ``<stem>_reliability.png`` next to ``model_path``."""
    return (
        model_path.with_name(f"{model_path.stem}_reliability.json"),
        model_path.with_name(f"{model_path.stem}_reliability.png"),
    )


def write_reliability(report: Mapping[str, Any], model_path: Path, *, plot: bool = True) -> list[Path]:
    """Write the report as JSON (and its plot) next to the model; return the paths written."""
    from rooeft.safeio import atomic_write

    json_path, png_path = reliability_paths(Path(model_path))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(json_path) as tmp:
        tmp.write_text(json.dumps(_json_safe(report), indent=1))
    written = [json_path]
    if plot:
        from rooeft.plot._common import save_figure
        from rooeft.plot.reliability import plot_reliability

        fig = plot_reliability(cast(dict[str, Any], report))
        written += save_figure(fig, png_path.with_suffix(""), formats=("png",))
    return written
