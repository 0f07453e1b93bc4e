"""Input layer: events, weights, EFT structure constants and systematics from ROOT files.

* :func:`read_sample` / :func:`stream_sums` / :func:`iter_chunks` read TTrees with uproot
  (chunked; several files per sample) as configured by :class:`SampleConfig`;
* EFT information as structure-constant branches (:class:`StructureConstantBranches`, the
  default ``w_sm``, ``w_<c>``, ``w_<c>_<d>`` naming) or benchmark weights morphed into structure
  constants (:class:`BenchmarkWeights`, :class:`Morphing`);
* correctionlib scale factors (:class:`CorrectionSpec`);
* the in-memory :class:`Sample` (σ(θ), per-event weights at θ, selection, writing back to ROOT).

>>> from rooeft.samples import SampleConfig
>>> SampleConfig().weight
'weight'
"""

from __future__ import annotations

from rooeft.samples.config import BenchmarkWeights, SampleConfig, StructureConstantBranches
from rooeft.samples.corrections import CorrectionEvaluator, CorrectionFactors, CorrectionSpec
from rooeft.samples.errors import SampleError
from rooeft.samples.morphing import (
    DEFAULT_MAX_CONDITION,
    Morphing,
    MorphingResult,
    morphing_residual,
    solve_morphing,
)
from rooeft.samples.naming import structure_constant_branches, systematic_branches
from rooeft.samples.reader import iter_chunks, read_sample, read_variations, stream_sums
from rooeft.samples.sample import Sample, SampleSums

__all__ = [
    "DEFAULT_MAX_CONDITION",
    "BenchmarkWeights",
    "CorrectionEvaluator",
    "CorrectionFactors",
    "CorrectionSpec",
    "Morphing",
    "MorphingResult",
    "Sample",
    "SampleConfig",
    "SampleError",
    "SampleSums",
    "StructureConstantBranches",
    "iter_chunks",
    "morphing_residual",
    "read_sample",
    "read_variations",
    "solve_morphing",
    "stream_sums",
    "structure_constant_branches",
    "systematic_branches",
]
