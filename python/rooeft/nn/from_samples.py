"""From :class:`rooeft.samples.Sample` objects to training arrays, trained models and ONNX files.

The samples layer gives, per process, raw observables, nominal weights, per-event structure
constants (EFT processes) and absolute systematic weight variations. Training wants one array of
events with process labels; this module builds it and exports the trained networks in the rooeft
ONNX convention, including the local-score (SALLY) network as ``score:<p>:<a>`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rooeft.nn.api import TrainResult, train_from_arrays
from rooeft.nn.calibration import CalibrationConfig
from rooeft.nn.export import ExportResult, export_onnx
from rooeft.nn.fractions import FractionConfig
from rooeft.nn.per_term import PerTermConfig
from rooeft.nn.quadratic import QuadraticConfig
from rooeft.nn.score import ScoreConfig, ScoreEstimator, train_local_score
from rooeft.nn.systematics import SystematicConfig
from rooeft.onnx_convention import ModelInterface
from rooeft.samples import Sample
from rooeft.terms import n_terms

__all__ = ["TrainingArrays", "arrays_from_samples", "export_score", "train_from_samples", "train_score_from_sample"]


@dataclass(frozen=True)
class TrainingArrays:
    """All processes' events in one array: what :func:`rooeft.nn.train_from_arrays` takes."""

    x: np.ndarray  # [N, d] raw observables
    structure_constants: np.ndarray  # [N, T]; background rows are [w, 0, ...]
    process: np.ndarray  # [N] process index
    processes: tuple[str, ...]
    observables: tuple[str, ...]
    coefficients: tuple[str, ...]
    eft_processes: tuple[str, ...]
    variations: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def sample_weights(self) -> np.ndarray:
        """Nominal (SM) weight of every event."""
        return self.structure_constants[:, 0]


def _common_observables(samples: Mapping[str, Sample]) -> tuple[str, ...]:
    first = next(iter(samples.values()))
    names = [n for n in first.observables if all(n in s.observables for s in samples.values())]
    if not names:
        raise ValueError("the samples share no observable")
    return tuple(names)


def arrays_from_samples(
    samples: Mapping[str, Sample],
    *,
    observables: Sequence[str] | None = None,
    systematics: Sequence[str] | None = None,
) -> TrainingArrays:
    """Stack the events of several processes for training.

    ``samples`` maps process names to samples (at least one with EFT structure constants, all EFT
    samples with the same coefficients). ``observables`` default to those all samples share, in the
    first sample's order. ``systematics`` default to every weight variation found in any sample; a
    process without a variation keeps its nominal weight for it (no effect).

    >>> import numpy as np
    >>> from rooeft.samples import Sample
    >>> sig = Sample(name="sig", observables={"x": np.array([0.1, 0.2])}, weights=np.array([1.0, 2.0]),
    ...              coefficients=("c",), structure_constants=np.array([[1.0, 0.5, 0.1], [2.0, 0.2, 0.3]]))
    >>> bkg = Sample(name="bkg", observables={"x": np.array([0.3])}, weights=np.array([4.0]))
    >>> arr = arrays_from_samples({"sig": sig, "bkg": bkg})
    >>> arr.structure_constants.tolist()
    [[1.0, 0.5, 0.1], [2.0, 0.2, 0.3], [4.0, 0.0, 0.0]]
    >>> arr.process.tolist(), arr.eft_processes
    ([0, 0, 1], ('sig',))
    """
    if not samples:
        raise ValueError("no samples given")
    procs = tuple(samples)
    eft = [p for p, s in samples.items() if s.structure_constants is not None]
    if not eft:
        raise ValueError(f"none of the samples {list(procs)} has EFT structure constants")
    coefs = tuple(samples[eft[0]].coefficients)
    for p in eft:
        if tuple(samples[p].coefficients) != coefs:
            raise ValueError(
                f"sample {p!r} has coefficients {list(samples[p].coefficients)}, sample {eft[0]!r} has {list(coefs)}"
            )
    obs = tuple(observables) if observables is not None else _common_observables(samples)
    for p, s in samples.items():
        missing = [o for o in obs if o not in s.observables]
        if missing:
            raise ValueError(f"sample {p!r} has no observable(s) {missing}")
    n_t = n_terms(len(coefs))
    xs, ws, labels = [], [], []
    for i, (_, s) in enumerate(samples.items()):
        xs.append(np.column_stack([np.asarray(s.observables[o], dtype=np.float64) for o in obs]))
        if s.structure_constants is not None:
            ws.append(np.asarray(s.structure_constants, dtype=np.float64))
        else:
            w = np.zeros((s.n_events, n_t))
            w[:, 0] = s.weights
            ws.append(w)
        labels.append(np.full(s.n_events, i, dtype=np.int64))
    names = (
        list(systematics) if systematics is not None else sorted({k for s in samples.values() for k in s.systematics})
    )
    variations: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for k in names:
        ups, downs = [], []
        for s in samples.values():
            up, down = s.systematics.get(k, (s.weights, s.weights))
            ups.append(np.asarray(up, dtype=np.float64))
            downs.append(np.asarray(down, dtype=np.float64))
        variations[k] = (np.concatenate(ups), np.concatenate(downs))
    return TrainingArrays(
        x=np.concatenate(xs),
        structure_constants=np.concatenate(ws),
        process=np.concatenate(labels),
        processes=procs,
        observables=obs,
        coefficients=coefs,
        eft_processes=tuple(eft),
        variations=variations,
    )


def train_from_samples(
    samples: Mapping[str, Sample],
    *,
    output: str | Path | None = None,
    observables: Sequence[str] | None = None,
    systematics: Sequence[str] | None = None,
    estimator: Literal["quadratic", "per_term"] = "quadratic",
    eft_config: QuadraticConfig | PerTermConfig | None = None,
    fraction_config: FractionConfig | None = None,
    systematic_config: SystematicConfig | None = None,
    calibration: CalibrationConfig | bool = True,
) -> TrainResult:
    """Train the unbinned model (EFT terms, fractions, systematic ratios) on samples; export if
    ``output`` is given. See :func:`rooeft.nn.train_from_arrays` for the estimators, the
    calibration and the reliability report."""
    arr = arrays_from_samples(samples, observables=observables, systematics=systematics)
    return train_from_arrays(
        arr.x,
        arr.structure_constants,
        observables=arr.observables,
        coefficients=arr.coefficients,
        processes=arr.processes,
        process=arr.process,
        eft_processes=arr.eft_processes,
        variations=arr.variations or None,
        estimator=estimator,
        eft_config=eft_config,
        fraction_config=fraction_config,
        systematic_config=systematic_config,
        output=output,
        calibration=calibration,
    )


def train_score_from_sample(
    sample: Sample, *, observables: Sequence[str] | None = None, config: ScoreConfig | None = None
) -> ScoreEstimator:
    """Train the local score t(x|θ0) (SALLY) on one EFT sample."""
    if sample.structure_constants is None:
        raise ValueError(f"sample {sample.name!r} has no EFT structure constants: no score to learn")
    obs = tuple(observables) if observables is not None else tuple(sample.observables)
    x = np.column_stack([np.asarray(sample.observables[o], dtype=np.float64) for o in obs])
    return train_local_score(
        x, sample.structure_constants, observables=obs, coefficients=sample.coefficients, config=config
    )


def export_score(estimator: ScoreEstimator, path: str | Path, *, process: str, **provenance: Any) -> ExportResult:
    """Export a score network with ``score:<process>:<a>`` columns (an observable for templates)."""
    interface = ModelInterface(
        observables=estimator.observables,
        outputs=tuple(f"score:{process}:{c}" for c in estimator.coefficients),
        coefficients=estimator.coefficients,
        processes=(process,),
        provenance={**estimator.provenance, "theta0": list(estimator.theta0), **provenance},
    )
    return export_onnx(estimator.module, path, interface=interface, reference_inputs=estimator.reference_inputs)
