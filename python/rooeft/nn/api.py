"""One call from numpy arrays to a validated ONNX model in the rooeft convention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rooeft.nn._common import (
    check_features,
    check_names,
    check_structure_constants,
    process_indices,
)
from rooeft.nn.calibration import CalibrationConfig
from rooeft.nn.compose import ComposedModel, EFTEstimator, compose
from rooeft.nn.export import ExportResult
from rooeft.nn.fractions import FractionConfig, FractionEstimator, train_process_fractions
from rooeft.nn.per_term import PerTermConfig, train_per_term
from rooeft.nn.quadratic import QuadraticConfig, train_joint_quadratic
from rooeft.nn.reliability import apply_calibration, reliability_report, test_split, write_reliability
from rooeft.nn.systematics import SystematicConfig, SystematicEstimator, train_systematic_ratios

__all__ = ["TrainResult", "train_from_arrays"]


@dataclass
class TrainResult:
    """Everything :func:`train_from_arrays` trained, the composed model and (if written) the export."""

    model: ComposedModel
    eft: dict[str, EFTEstimator] = field(default_factory=dict)
    fractions: FractionEstimator | None = None
    systematics: SystematicEstimator | None = None
    export: ExportResult | None = None
    reliability: dict[str, Any] | None = None
    """The reliability report (:func:`rooeft.nn.reliability.reliability_report`), if made."""
    reliability_paths: list[Path] = field(default_factory=list)
    """``<stem>_reliability.json`` and ``.png`` next to the exported model, if written."""


def train_from_arrays(
    x: npt.ArrayLike,
    structure_constants: npt.ArrayLike,
    *,
    observables: Sequence[str],
    coefficients: Sequence[str],
    processes: Sequence[str] = ("signal",),
    process: npt.ArrayLike | None = None,
    eft_processes: Sequence[str] | None = None,
    variations: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]] | None = None,
    estimator: Literal["quadratic", "per_term"] = "quadratic",
    eft_config: QuadraticConfig | PerTermConfig | None = None,
    fraction_config: FractionConfig | None = None,
    systematic_config: SystematicConfig | None = None,
    output: str | Path | None = None,
    calibration: CalibrationConfig | bool = True,
) -> TrainResult:
    """Train every network of an unbinned EFT model from arrays, compose and (optionally) export it.

    ``x``: raw observables ``[N, d]`` of all events of all processes; ``structure_constants``:
    ``[N, T]`` per-event term weights (column 0, the SM weight, is also the nominal weight of the
    fractions and systematics); ``process``: per-event labels (names or indices; optional for one
    process); ``eft_processes``: processes with EFT dependence (default: those whose EFT terms are not
    all zero); ``variations``: ``{nuisance: (sm_weights_up, sm_weights_down)}``; ``estimator``:
    ``quadratic`` (joint positive model) or ``per_term`` (classifiers with replicas). With ``output``
    (a ``.onnx`` path) the model is exported and validated; training bookkeeping (loss curves,
    checkpoints) follows the configs' ``output_dir``/``checkpoint_dir``.

    ``calibration`` (``docs/calibration.md``): a seeded test split (``test_fraction`` of all
    events) is held out from every network; the fraction classifier (and the ``per_term``
    classifiers) get a monotone post-hoc calibration fitted on their validation split and
    exported inside the graph; the reliability report (predicted vs true fractions and ratios in
    bins, before and after calibration, on the test split) is returned in ``TrainResult.reliability``
    and, with ``output``, written as ``<stem>_reliability.json``/``.png``. ``False`` (or
    ``CalibrationConfig(enabled=False)``) skips the calibration; ``CalibrationConfig(enabled=False,
    reliability=False)`` trains on all events as without calibration support.
    """
    obs = check_names("observables", observables)
    coefs = check_names("coefficients", coefficients)
    procs = check_names("processes", processes)
    arr = check_features(x, obs)
    w = check_structure_constants(structure_constants, arr.shape[0], coefs, name="structure_constants")
    label = process_indices(process, procs, arr.shape[0])
    if eft_processes is None:
        eft_procs = [p for i, p in enumerate(procs) if np.any(w[label == i, 1:])]
    else:
        eft_procs = list(check_names("eft_processes", eft_processes, allow_empty=True))
        unknown = [p for p in eft_procs if p not in procs]
        if unknown:
            raise ValueError(f"eft_processes {unknown} are not among the processes {list(procs)}")
    if estimator not in ("quadratic", "per_term"):
        raise ValueError(f"estimator must be 'quadratic' or 'per_term', got {estimator!r}")
    if eft_config is not None:
        expected = QuadraticConfig if estimator == "quadratic" else PerTermConfig
        if not isinstance(eft_config, expected):
            raise ValueError(f"eft_config must be a {expected.__name__} for estimator={estimator!r}")

    cal = calibration if isinstance(calibration, CalibrationConfig) else CalibrationConfig(enabled=bool(calibration))
    use = np.ones(arr.shape[0], dtype=bool)
    test_rows = np.zeros(0, dtype=np.int64)
    if cal.active:
        test_rows = test_split(arr.shape[0], cal)
        use[test_rows] = False

    result_eft: dict[str, EFTEstimator] = {}
    for p in eft_procs:
        mask = (label == procs.index(p)) & use
        if estimator == "quadratic":
            qcfg = eft_config if isinstance(eft_config, QuadraticConfig) else QuadraticConfig()
            result_eft[p] = train_joint_quadratic(
                arr, w, observables=obs, coefficients=coefs, config=qcfg, events=mask, name=f"quadratic_{p}"
            )
        else:
            pcfg = eft_config if isinstance(eft_config, PerTermConfig) else PerTermConfig()
            result_eft[p] = train_per_term(
                arr, w, observables=obs, coefficients=coefs, config=pcfg, events=mask, name=f"per_term_{p}"
            )
    fractions = None
    if len(procs) > 1:
        fractions = train_process_fractions(
            arr, label, w[:, 0], observables=obs, processes=procs, config=fraction_config, events=use
        )
    systematics = None
    if variations:
        systematics = train_systematic_ratios(
            arr,
            w[:, 0],
            variations,
            observables=obs,
            processes=procs,
            process=label,
            config=systematic_config,
            events=use,
        )
    calibration_record = apply_calibration(arr, w, label, fractions=fractions, eft=result_eft, config=cal)
    rates = {p: float(np.sum(w[label == i, 0])) for i, p in enumerate(procs)}
    model = compose(
        observables=obs,
        coefficients=coefs,
        processes=procs,
        eft=result_eft,
        fractions=fractions,
        systematics=systematics,
        nominal_rates=rates,
        provenance={"calibration": calibration_record},
    )
    report = None
    if cal.reliability:
        report = reliability_report(
            arr,
            w,
            label,
            test_rows,
            processes=procs,
            coefficients=coefs,
            observables=obs,
            fractions=fractions,
            eft=result_eft,
            eft_config=eft_config,
            config=cal,
            calibration_record=calibration_record,
        )
    exported = model.export(output) if output is not None else None
    paths = write_reliability(report, Path(output)) if report is not None and output is not None else []
    return TrainResult(
        model=model,
        eft=result_eft,
        fractions=fractions,
        systematics=systematics,
        export=exported,
        reliability=report,
        reliability_paths=paths,
    )
