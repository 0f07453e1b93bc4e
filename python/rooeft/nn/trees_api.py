"""One call from numpy arrays (or a sample) to a validated tree model in the rooeft convention.

:func:`train_trees_from_arrays` is the tree counterpart of :func:`rooeft.nn.train_from_arrays` for
a single EFT process: it holds out the same seeded test split (:class:`~rooeft.nn.CalibrationConfig`),
boosts the trees on the rest (:func:`~rooeft.nn.train_boosted_trees`), exports the ONNX-ML model
(:func:`~rooeft.nn.trees_onnx.export_trees`) and writes the reliability report of the ratio at
θ points (predicted vs true ``Σ w(θ) / Σ w0`` in bins of r̂, ``docs/calibration.md``) next to it.
There is nothing to calibrate: like the joint quadratic network, the trees output a positive
quadratic form that a θ-independent monotone map would break.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.nn._common import check_features, check_names, check_structure_constants
from rooeft.nn.calibration import CalibrationConfig, n_effective, reliability_table
from rooeft.nn.export import ExportResult
from rooeft.nn.trees import TreeConfig, TreeEstimator, train_boosted_trees
from rooeft.terms import monomials

__all__ = ["TreeTrainResult", "train_trees_from_arrays", "tree_reliability_report"]


@dataclass
class TreeTrainResult:
    """The trained trees, the export (if written) and the reliability report."""

    estimator: TreeEstimator
    export: ExportResult | None = None
    reliability: dict[str, Any] | None = None
    reliability_paths: list[Path] = field(default_factory=list)


def _theta_points(n: int, config: TreeConfig, calibration: CalibrationConfig) -> np.ndarray:
    if calibration.theta_points is not None:
        pts = np.asarray(calibration.theta_points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != n:
            raise ValueError(f"theta_points must be a list of points with {n} values")
        return pts
    scales = config.scales(n)
    points = []
    for a in range(n):
        for sign in (1.0, -1.0):
            t = np.zeros(n)
            t[a] = sign * scales[a]
            points.append(t)
    return np.array(points)


def tree_reliability_report(
    estimator: TreeEstimator,
    x: np.ndarray,
    w: np.ndarray,
    *,
    process: str,
    calibration: CalibrationConfig,
    test_rows: np.ndarray,
) -> dict[str, Any]:
    """The reliability report (the layout of :func:`rooeft.nn.reliability.reliability_report`) of
    the trees on ``test_rows``: per θ point, the true ``Σ w_i(θ) / Σ w_i0`` in bins of r̂(x|θ)."""
    xt, wt = x[test_rows], w[test_rows]
    pts = _theta_points(len(estimator.coefficients), estimator.config, calibration)
    predicted = estimator.columns_ratio(xt, pts)
    true_w = wt @ monomials(pts).T
    opts: dict[str, Any] = {"n_bins": calibration.reliability_bins, "min_effective": calibration.min_effective_events}
    entries = [
        {
            "theta": {c: float(v) for c, v in zip(estimator.coefficients, theta, strict=True)},
            "uncalibrated": reliability_table(predicted[:, k], true_w[:, k], wt[:, 0], **opts),
            "calibrated": None,
        }
        for k, theta in enumerate(pts)
    ]
    return {
        "kind": "reliability",
        "test_split": {
            "fraction": calibration.test_fraction,
            "seed": calibration.seed,
            "n_events": int(test_rows.size),
            "n_eff": {process: n_effective(wt[:, 0])},
        },
        "calibration": {
            "enabled": False,
            "components": {
                f"eft[{process!r}]": {
                    "calibrated": False,
                    "reason": "boosted trees of the positive quadratic form: no classifier output to calibrate",
                }
            },
        },
        "fractions": {},
        "fraction_slices": {},
        "ratios": {process: entries},
    }


def train_trees_from_arrays(
    x: npt.ArrayLike,
    structure_constants: npt.ArrayLike,
    *,
    observables: Sequence[str],
    coefficients: Sequence[str],
    process: str = "signal",
    config: TreeConfig | None = None,
    output: str | Path | None = None,
    calibration: CalibrationConfig | bool = True,
    nominal_rates: Mapping[str, float] | None = None,
) -> TreeTrainResult:
    """Boost the trees of one EFT process, export them (with ``output``, a ``.onnx`` path) and
    report their reliability on a held-out test split.

    ``calibration``: a :class:`~rooeft.nn.CalibrationConfig` (or ``True``/``False``) that sets the
    test split (``test_fraction``, ``seed``), the θ points and the bins of the reliability report;
    ``CalibrationConfig(enabled=False, reliability=False)`` (or ``False``) trains on every event
    and writes no report. ``nominal_rates`` default to ``{process: Σ w0}`` over all events.
    """
    from rooeft.nn.reliability import test_split, write_reliability

    (proc,) = check_names("process", [process])
    obs = check_names("observables", observables)
    coefs = check_names("coefficients", coefficients)
    arr = check_features(x, obs)
    w = check_structure_constants(structure_constants, arr.shape[0], coefs, name="structure_constants")
    cal = calibration if isinstance(calibration, CalibrationConfig) else CalibrationConfig(enabled=bool(calibration))
    use = np.ones(arr.shape[0], dtype=bool)
    test_rows = np.zeros(0, dtype=np.int64)
    if cal.reliability:
        test_rows = test_split(arr.shape[0], cal)
        use[test_rows] = False
    estimator = train_boosted_trees(arr, w, observables=obs, coefficients=coefs, config=config, events=use)
    report = None
    if cal.reliability:
        report = tree_reliability_report(estimator, arr, w, process=proc, calibration=cal, test_rows=test_rows)
    rates = dict(nominal_rates) if nominal_rates is not None else {proc: float(np.sum(w[:, 0]))}
    exported = None
    paths: list[Path] = []
    if output is not None:
        exported = estimator.export(output, process=proc, nominal_rates=rates)
        if report is not None:
            paths = write_reliability(report, Path(output))
    return TreeTrainResult(estimator=estimator, export=exported, reliability=report, reliability_paths=paths)
