"""Statistical inference on a rooeft workspace: fits, profile-likelihood scans and intervals,
limits, Asimov expectations, toys and coverage, run in parallel on a local Dask cluster or an
existing one. Every function takes one :class:`FitOptions` (or its fields as keywords) and returns
a typed result that :func:`write_json`/:func:`read_json` store and read.

>>> from rooeft.infer import intervals_1d
>>> intervals_1d([-2.0, -1.0, 0.0, 1.0, 2.0], [2.0, 0.5, 0.0, 0.5, 2.0])["68"]
[(-1.0, 1.0)]
"""

from __future__ import annotations

from rooeft.infer.fit import FitResult, ParameterResult, fit
from rooeft.infer.limits import LimitsResult, limits
from rooeft.infer.model import DataSpec, FitAttempt, InferenceError, Model, ToySpec, get_model
from rooeft.infer.neyman import NeymanPoint, NeymanResult, NeymanScan, neyman_intervals
from rooeft.infer.options import FitOptions
from rooeft.infer.output import (
    RESULT_KINDS,
    ResultFileError,
    read_document,
    read_json,
    result_class,
    write_fit_diagnostics,
    write_json,
    write_limit_tree,
)
from rooeft.infer.scan import LEVELS_1D, LEVELS_2D, Scan1D, Scan2D, ScanPoint, intervals_1d, scan1d, scan2d
from rooeft.infer.toys import ToyFit, ToysResult, toys

__all__ = [
    "LEVELS_1D",
    "LEVELS_2D",
    "RESULT_KINDS",
    "DataSpec",
    "FitAttempt",
    "FitOptions",
    "FitResult",
    "InferenceError",
    "LimitsResult",
    "Model",
    "NeymanPoint",
    "NeymanResult",
    "NeymanScan",
    "ParameterResult",
    "ResultFileError",
    "Scan1D",
    "Scan2D",
    "ScanPoint",
    "ToyFit",
    "ToySpec",
    "ToysResult",
    "asimov_dataset",
    "fit",
    "get_model",
    "intervals_1d",
    "limits",
    "neyman_intervals",
    "read_document",
    "read_json",
    "result_class",
    "scan1d",
    "scan2d",
    "toys",
    "write_fit_diagnostics",
    "write_json",
    "write_limit_tree",
]


def asimov_dataset(workspace: object, theta: dict[str, float] | None = None, *, name: str = "asimov") -> object:
    """The Asimov ``RooDataSet`` of a workspace at POI values ``theta`` (others nominal): binned
    channels hold the expected counts at the bin centres, unbinned channels the simulation
    ``sim_<ch>`` weighted by ``Σ_t m_t(θ) w_t``; ``CMS_channel`` and ``_weight_`` as in
    ``data_obs``. The dataset belongs to the cached :class:`Model` of the file."""
    from pathlib import Path

    if not isinstance(workspace, str | Path | Model):
        raise TypeError(f"workspace must be a path or a Model, got {type(workspace).__name__}")
    return get_model(workspace).asimov_dataset(dict(theta or {}), name=name)
