"""Neural estimators of rooeft (needs PyTorch): train on arrays, compose, export to ONNX.

Every estimator takes numpy arrays (raw observables, per-event structure constants or weights),
trains with :func:`rooeft.nn.training.fit` (seeded, mini-batched, early stopping, checkpoints) and
returns a trained object whose ``module`` maps raw observables to columns of the rooeft ONNX
convention (``docs/onnx_convention.md``):

=============================  ==========================================  =====================
estimator                      learns                                      columns
=============================  ==========================================  =====================
:func:`train_joint_quadratic`  positive quadratic r̂(x|θ), all terms jointly  ``lin:``, ``quad:``
:func:`train_per_term`         one classifier per term, bootstrap replicas  ``lin:``, ``quad:``
:func:`train_local_score`      local score t(x) at θ0 (SALLY)               (Python only)
:func:`train_process_fractions` process fractions π_p(x)                   ``frac:``
:func:`train_systematic_ratios` s^±_{p,k}(x) = dσ_±/dσ_nom                 ``sysup:``, ``sysdown:``
:func:`train_boosted_trees`    positive quadratic r̂(x|θ) from boosted trees  ``lin:``, ``quad:``
=============================  ==========================================  =====================

:func:`compose` joins them into one model, :meth:`ComposedModel.export` writes a validated ONNX
file; :func:`train_from_arrays` does all of it in one call, including the post-hoc calibration of
the classifier outputs and the reliability report on held-out events (:class:`CalibrationConfig`,
``docs/calibration.md``). The boosted information trees (``docs/trees.md``) export to ONNX-ML with
the same interface: :meth:`TreeEstimator.export`, or :func:`train_trees_from_arrays` in one call.
"""

from __future__ import annotations

from rooeft.nn._common import ACTIVATIONS, NetworkConfig, TrainingConfig
from rooeft.nn.api import TrainResult, train_from_arrays
from rooeft.nn.base import TrainedEstimator
from rooeft.nn.calibration import CalibrationConfig
from rooeft.nn.compose import ComposedModel, compose
from rooeft.nn.export import ExportResult, ExportValidationError, evaluate_onnx, export_onnx
from rooeft.nn.fractions import FractionConfig, FractionEstimator, train_process_fractions
from rooeft.nn.per_term import PerTermConfig, PerTermEstimator, train_per_term
from rooeft.nn.quadratic import QuadraticConfig, QuadraticEstimator, theta_gram, train_joint_quadratic
from rooeft.nn.score import ScoreConfig, ScoreEstimator, train_local_score
from rooeft.nn.systematics import SystematicConfig, SystematicEstimator, train_systematic_ratios
from rooeft.nn.training import TrainingHistory
from rooeft.nn.trees import TreeConfig, TreeEstimator, TreeHistory, train_boosted_trees
from rooeft.nn.trees_api import TreeTrainResult, train_trees_from_arrays
from rooeft.nn.trees_onnx import export_trees

__all__ = [
    "ACTIVATIONS",
    "CalibrationConfig",
    "ComposedModel",
    "ExportResult",
    "ExportValidationError",
    "FractionConfig",
    "FractionEstimator",
    "NetworkConfig",
    "PerTermConfig",
    "PerTermEstimator",
    "QuadraticConfig",
    "QuadraticEstimator",
    "ScoreConfig",
    "ScoreEstimator",
    "SystematicConfig",
    "SystematicEstimator",
    "TrainResult",
    "TrainedEstimator",
    "TrainingConfig",
    "TrainingHistory",
    "TreeConfig",
    "TreeEstimator",
    "TreeHistory",
    "TreeTrainResult",
    "compose",
    "evaluate_onnx",
    "export_onnx",
    "export_trees",
    "theta_gram",
    "train_boosted_trees",
    "train_from_arrays",
    "train_joint_quadratic",
    "train_local_score",
    "train_per_term",
    "train_process_fractions",
    "train_systematic_ratios",
    "train_trees_from_arrays",
]
