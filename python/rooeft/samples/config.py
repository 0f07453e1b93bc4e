"""What to read from a tree: :class:`SampleConfig` and the two forms of EFT information.

All defaults follow :mod:`rooeft.samples.naming` (the ZH generator's branch names), so
``SampleConfig()`` reads such a file without further configuration.

>>> cfg = SampleConfig(name="zh", cut="pt_z > 100")
>>> cfg.tree, cfg.weight, cfg.eft, cfg.systematics
('Events', 'weight', 'auto', 'auto')
>>> StructureConstantBranches(coefficients=["cHW"]).branch_names()
['w_sm', 'w_cHW', 'w_cHW_cHW']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rooeft.samples.corrections import CorrectionSpec
from rooeft.samples.errors import SampleError
from rooeft.samples.morphing import DEFAULT_MAX_CONDITION
from rooeft.samples.naming import (
    DEFAULT_DOWN,
    DEFAULT_LINEAR,
    DEFAULT_QUADRATIC,
    DEFAULT_SM,
    DEFAULT_SPECTATOR_PREFIX,
    DEFAULT_TREE,
    DEFAULT_UP,
    DEFAULT_WEIGHT,
    structure_constant_branches,
)
from rooeft.terms import n_terms

__all__ = ["BenchmarkWeights", "SampleConfig", "StructureConstantBranches"]


@dataclass(frozen=True, kw_only=True)
class StructureConstantBranches:
    """EFT form (i): per-event structure constants stored as branches.

    Parameters
    ----------
    coefficients
        Coefficient names; ``None`` infers them from the branch names (every ``c`` with both
        ``w_<c>`` and ``w_<c>_<c>`` present, in the tree's branch order).
    branches
        Explicit branch names/expressions of the ``T`` terms in canonical order (needs
        ``coefficients``); default from the templates below.
    sm, linear, quadratic
        Name templates (``str.format`` with the coefficient names).
    """

    coefficients: Sequence[str] | None = None
    branches: Sequence[str] | None = None
    sm: str = DEFAULT_SM
    linear: str = DEFAULT_LINEAR
    quadratic: str = DEFAULT_QUADRATIC

    def __post_init__(self) -> None:
        if self.branches is not None:
            if self.coefficients is None:
                raise SampleError("explicit structure-constant branches need explicit coefficients")
            t = n_terms(len(self.coefficients))
            if len(self.branches) != t:
                raise SampleError(
                    f"inconsistent structure-constant definition: {len(self.branches)} branches for "
                    f"{len(self.coefficients)} coefficients (need {t})"
                )

    def branch_names(self, coefficients: Sequence[str] | None = None) -> list[str]:
        """Branch names in canonical order for these (or the configured) coefficients."""
        if self.branches is not None:
            return list(self.branches)
        coeffs = self.coefficients if coefficients is None else coefficients
        if coeffs is None:
            raise SampleError("coefficients are not known yet")
        return structure_constant_branches(coeffs, sm=self.sm, linear=self.linear, quadratic=self.quadratic)


@dataclass(frozen=True, kw_only=True)
class BenchmarkWeights:
    """EFT form (ii): event weights at ``K`` benchmark points, morphed into structure constants.

    Give either ``branches`` (one branch/expression per benchmark) or ``array_branch`` (one
    fixed-size or jagged branch with ``K`` entries per event, as MadGraph reweighting writes).

    Parameters
    ----------
    coefficients
        The ``n`` coefficient names.
    points
        ``(K, n)`` benchmark points θ^(k), in the order of the weights.
    branches, array_branch
        Where the ``K`` weights are.
    holdout
        Benchmarks left out of the fit and used to verify it.
    max_condition
        Refuse benchmark sets with a larger (equilibrated) condition number.
    max_residual
        Refuse if the held-out benchmarks are reproduced worse than this (max relative
        residual, see :func:`rooeft.samples.morphing.morphing_residual`); ``None``: only report.
    """

    coefficients: Sequence[str]
    points: Sequence[Sequence[float]]
    branches: Sequence[str] | None = None
    array_branch: str | None = None
    holdout: Sequence[int] = ()
    max_condition: float = DEFAULT_MAX_CONDITION
    max_residual: float | None = 1.0e-3

    def __post_init__(self) -> None:
        if (self.branches is None) == (self.array_branch is None):
            raise SampleError("give exactly one of BenchmarkWeights.branches and .array_branch")
        k = len(self.points)
        n = len(self.coefficients)
        for i, p in enumerate(self.points):
            if len(p) != n:
                raise SampleError(
                    f"inconsistent benchmark definition: point {i} has {len(p)} coordinates for "
                    f"{n} coefficients {list(self.coefficients)}"
                )
        if self.branches is not None and len(self.branches) != k:
            raise SampleError(f"inconsistent benchmark definition: {len(self.branches)} weight branches for {k} points")


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    """How to read one sample from one or several files.

    Parameters
    ----------
    name
        Sample name; default: stem of the first file.
    tree
        TTree name.
    observables
        Observable name → branch/expression, or a list of branch names; ``None``: every flat
        numeric branch that is not a weight, structure constant, benchmark or systematic
        weight, spectator or jagged-array counter.
    spectators
        Extra columns carried along (same forms); ``None``: the branches starting with ``truth_``.
    weight
        Nominal weight branch/expression; ``None``: 1 per event.
    scale
        Constant factor applied to all weights (nominal, structure constants, variations).
    cut
        Selection in rooeft's expression grammar (:mod:`rooeft.expr`), e.g. ``"pt_z > 100 & njet == 0"``.
    eft
        :class:`StructureConstantBranches`, :class:`BenchmarkWeights`, ``None`` (pure
        background) or ``"auto"``: structure-constant branches if the ``w_sm`` branch exists.
    systematics
        Names of weight-based systematics (branches from ``systematic_up``/``systematic_down``),
        or name → (up branch/expression, down branch/expression), ``None``, or ``"auto"``: every
        ``weight_<s>Up`` with a matching ``weight_<s>Down``.
    systematic_up, systematic_down
        Name templates of the variation branches.
    systematics_are_factors
        The variation branches hold factors relative to the nominal weight instead of weights.
    corrections
        correctionlib scale factors (nominal factor + up/down variation each).
    step_size
        Events per chunk when iterating the files.
    """

    name: str | None = None
    tree: str = DEFAULT_TREE
    observables: Mapping[str, str] | Sequence[str] | None = None
    spectators: Mapping[str, str] | Sequence[str] | None = None
    weight: str | None = DEFAULT_WEIGHT
    scale: float = 1.0
    cut: str | None = None
    eft: StructureConstantBranches | BenchmarkWeights | Literal["auto"] | None = "auto"
    systematics: Sequence[str] | Mapping[str, tuple[str, str]] | Literal["auto"] | None = "auto"
    systematic_up: str = DEFAULT_UP
    systematic_down: str = DEFAULT_DOWN
    systematics_are_factors: bool = False
    corrections: Sequence[CorrectionSpec] = ()
    spectator_prefix: str = DEFAULT_SPECTATOR_PREFIX
    step_size: int = 100_000

    def __post_init__(self) -> None:
        if self.step_size < 1:
            raise SampleError(f"step_size must be >= 1, got {self.step_size}")
        if isinstance(self.eft, str) and self.eft != "auto":
            raise SampleError(f"eft must be a config object, None or 'auto', got {self.eft!r}")
        if isinstance(self.systematics, str) and self.systematics != "auto":
            raise SampleError(f"systematics must be names, a mapping, None or 'auto', got {self.systematics!r}")
        if not (self.scale == self.scale and abs(self.scale) != float("inf")):
            raise SampleError(f"scale must be finite, got {self.scale}")
