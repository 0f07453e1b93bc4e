"""The declarative analysis configuration (version 1): pydantic models, one per YAML block.

Every model forbids unknown keys. Paths (sample files, ONNX models, correctionlib files) are
resolved relative to the directory passed as validation context ``{"base": dir}`` (the config
file's directory, see :func:`rooeft.config.load_config`). Cross references (a systematic naming a
channel or process, Asimov coefficients, ONNX metadata) are checked by
:func:`rooeft.config.validate_references`, not here.

>>> c = Coefficient(name="cHW", range=(-2, 2))
>>> c.sm, c.range
(0.0, (-2.0, 2.0))
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "CONFIG_VERSION",
    "BinnedChannel",
    "BinnedObservable",
    "Channel",
    "Coefficient",
    "Config",
    "CorrectionSystematic",
    "Data",
    "LearnedSystematic",
    "LnNSystematic",
    "MCStats",
    "Process",
    "RateSystematic",
    "Systematic",
    "UnbinnedChannel",
    "WeightSystematic",
]

CONFIG_VERSION = 1
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=_NAME, description="identifier: letters, digits, underscores")]


def _resolve(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base")
    p = Path(value).expanduser()
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    return str(p)


def _expression(value: str | None) -> str | None:
    """Check an expression against rooeft's grammar (:mod:`rooeft.expr`); nothing is evaluated."""
    if value is not None:
        from rooeft.expr import compile_expression

        compile_expression(value, field="")
    return value


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return value


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coefficient(_Block):
    """A Wilson coefficient (parameter of interest): name, allowed range and SM value."""

    name: Name
    range: tuple[float, float]
    sm: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> Coefficient:
        lo, hi = self.range
        _finite(lo, "range low"), _finite(hi, "range high")
        if not lo < hi:
            raise ValueError(f"range must be [low, high] with low < high, got {list(self.range)}")
        if not lo <= self.sm <= hi:
            raise ValueError(f"sm value {self.sm} outside range {list(self.range)}")
        return self


class Process(_Block):
    """One simulated process of a channel: its samples and whether it depends on the coefficients."""

    name: Name
    files: list[str] = Field(min_length=1)
    eft: bool = False
    tree: str = "Events"
    weight: str | None = "weight"
    cut: str | None = None
    scale: float = 1.0
    w_sm_mismatch: Literal["error", "use_weight"] = "error"
    """What to do when the sum of ``w_sm`` differs from the sum of ``weight`` (EFT processes):
    ``error`` (default; tolerance :data:`rooeft.workspace.checks.W_SM_TOLERANCE`), or
    ``use_weight``: the nominal weight is the truth and the EFT weights are rescaled to it."""
    masked: bool = False
    """Unbinned channels only: the process stays in the channel's model (its network columns, and
    its events in the shape normalisation, which integrates over the whole SM simulation) but has
    zero expected events: its rate is the constant 0 and its events are left out of ``sim_<ch>``
    and hence of Asimov data and toys. This is the analysis of the other processes alone with the
    same model (the sensitivity ladder's signal-only step); ``scale: 0`` is not the same, because
    it also removes the events from the normalisation."""

    @field_validator("weight", "cut")
    @classmethod
    def _expr(cls, v: str | None) -> str | None:
        return _expression(v)

    @field_validator("files", mode="before")
    @classmethod
    def _one_file(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("files")
    @classmethod
    def _paths(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_resolve(p, info) for p in v]

    @field_validator("scale")
    @classmethod
    def _scale(cls, v: float) -> float:
        return _finite(v, "scale")


class Data(_Block):
    """Observed events (``files``) or an Asimov data set at a coefficient point (``asimov``)."""

    files: list[str] | None = None
    tree: str = "Events"
    weight: str | None = None
    cut: str | None = None
    asimov: dict[str, float] | None = None

    @field_validator("weight", "cut")
    @classmethod
    def _expr(cls, v: str | None) -> str | None:
        return _expression(v)

    @field_validator("files", mode="before")
    @classmethod
    def _one_file(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("files")
    @classmethod
    def _paths(cls, v: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return None if v is None else [_resolve(p, info) for p in v]

    @model_validator(mode="after")
    def _one_kind(self) -> Data:
        if (self.files is None) == (self.asimov is None):
            raise ValueError("give exactly one of 'files' (observed events) and 'asimov' ({coefficient: value})")
        if self.files is not None and not self.files:
            raise ValueError("'files' is empty")
        return self

    @property
    def is_asimov(self) -> bool:
        """Whether the data set is an Asimov data set."""
        return self.asimov is not None


class BinnedObservable(_Block):
    """The binned variable: a branch/expression, or one output column of an ONNX network."""

    name: Name
    expression: str | None = None
    model: str | None = None
    column: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _path(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _resolve(v, info)

    @field_validator("expression")
    @classmethod
    def _expr(cls, v: str | None) -> str | None:
        return _expression(v)

    @field_validator("inputs")
    @classmethod
    def _input_exprs(cls, v: dict[str, str]) -> dict[str, str]:
        for k, e in v.items():
            try:
                _expression(e)
            except ValueError as err:
                raise ValueError(f"inputs.{k}: {err}") from None
        return v

    @model_validator(mode="after")
    def _kind(self) -> BinnedObservable:
        if self.model is not None:
            if self.expression is not None:
                raise ValueError("give either 'expression' or 'model' + 'column', not both")
            if self.column is None:
                raise ValueError("a network observable needs 'column' (an output column name of the model)")
        elif self.column is not None or self.inputs:
            raise ValueError("'column' and 'inputs' need 'model' (an ONNX file)")
        return self

    @property
    def branch(self) -> str:
        """Branch/expression read for an expression observable (default: the name)."""
        return self.expression if self.expression is not None else self.name


class MCStats(_Block):
    """Barlow–Beeston-lite MC statistics: one γ per bin whose relative MC uncertainty exceeds
    ``threshold`` (bins below it, and empty bins, get none)."""

    threshold: float = Field(default=0.0, ge=0.0)


def _check_edges(v: list[float]) -> list[float]:
    if len(v) < 2:
        raise ValueError("need at least two bin edges")
    for e in v:
        _finite(e, "bin edge")
    if any(b <= a for a, b in itertools.pairwise(v)):
        raise ValueError(f"bin edges must increase strictly, got {v}")
    return v


class BinnedChannel(_Block):
    """A channel of binned Poisson templates (RooEFTTemplatePdf)."""

    name: Name
    kind: Literal["binned"]
    observable: BinnedObservable
    edges: list[float]
    processes: list[Process] = Field(min_length=1)
    data: Data
    mc_stats: MCStats | None = None
    index_observable: bool = True
    """Combine's convention (default): the workspace observable is the bin index
    ``CMS_th1x_<channel>`` with unit-width bins ``[0, 1, ..., n]``, so that RooFit's and Combine's
    generators (Asimov ``-t -1``, toys) produce the expected counts per bin; the physical edges are
    kept in the workspace metadata for plots. ``false``: the physical observable with its edges."""

    @field_validator("edges")
    @classmethod
    def _edges(cls, v: list[float]) -> list[float]:
        return _check_edges(v)

    def workspace_observable(self) -> str:
        """Name of the channel's observable in the workspace (``CMS_th1x_<channel>`` by default)."""
        return f"{INDEX_OBSERVABLE_PREFIX}{self.name}" if self.index_observable else self.observable.name

    def workspace_edges(self) -> list[float]:
        """Bin edges of the workspace observable: ``0, 1, ..., n`` (bin index) or the physical edges."""
        return [float(i) for i in range(len(self.edges))] if self.index_observable else list(self.edges)


#: prefix of the bin-index observables of binned channels (Combine's ``CMS_th1x``)
INDEX_OBSERVABLE_PREFIX = "CMS_th1x_"


class UnbinnedChannel(_Block):
    """A channel of per-event likelihood ratios from an ONNX model (RooEFTUnbinnedPdf)."""

    name: Name
    kind: Literal["unbinned"]
    model: str
    observables: dict[str, str] | list[str] | None = None
    processes: list[Process] = Field(min_length=1)
    data: Data
    mc_stats: MCStats | None = None
    """Finite-simulation uncertainty: one Gaussian-constrained yield parameter
    ``prop_bin<channel>_proc_<process>`` per process (nominal 1, σ = 1/√n_eff with
    n_eff = (Σw)²/Σw² of the process's weights), multiplying that process's yield and its
    per-event term, when σ exceeds ``threshold``."""

    @field_validator("model")
    @classmethod
    def _path(cls, v: str, info: ValidationInfo) -> str:
        return _resolve(v, info)

    @field_validator("observables")
    @classmethod
    def _exprs(cls, v: dict[str, str] | list[str] | None) -> dict[str, str] | list[str] | None:
        items = v.items() if isinstance(v, dict) else ((n, n) for n in v or [])
        for k, e in items:
            try:
                _expression(e)
            except ValueError as err:
                raise ValueError(f"observables.{k}: {err}") from None
        return v

    def observable_expressions(self, names: list[str]) -> dict[str, str]:
        """Model observable name → branch/expression (identity unless mapped in ``observables``)."""
        if isinstance(self.observables, dict):
            return {n: self.observables.get(n, n) for n in names}
        return {n: n for n in names}


Channel = Annotated[BinnedChannel | UnbinnedChannel, Field(discriminator="kind")]


class _Systematic(_Block):
    name: Name
    channels: list[str] | None = None
    processes: list[str] | None = None


class _Kappa(_Systematic):
    kappa: float | None = None
    kappa_up: float | None = None
    kappa_down: float | None = None

    def _check_kappa(self, required: bool) -> None:
        given = [k for k in ("kappa", "kappa_up", "kappa_down") if getattr(self, k) is not None]
        if self.kappa is not None and (self.kappa_up is not None or self.kappa_down is not None):
            raise ValueError("give 'kappa' (symmetric) or 'kappa_up' + 'kappa_down', not both")
        if self.kappa is None and (self.kappa_up is None) != (self.kappa_down is None):
            raise ValueError("'kappa_up' and 'kappa_down' go together")
        if required and not given:
            raise ValueError("needs 'kappa' or 'kappa_up' + 'kappa_down'")
        for k in given:
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be a positive finite number, got {v}")

    def kappas(self) -> tuple[float, float] | None:
        """(κ_up, κ_down); a symmetric ``kappa`` gives (κ, 1/κ); ``None`` if not given."""
        if self.kappa is not None:
            return self.kappa, 1.0 / self.kappa
        if self.kappa_up is not None and self.kappa_down is not None:
            return self.kappa_up, self.kappa_down
        return None


class LnNSystematic(_Kappa):
    """Normalisation uncertainty (log-normal-like, code-4 interpolation of κ_up/κ_down)."""

    type: Literal["lnN"]

    @model_validator(mode="after")
    def _check(self) -> LnNSystematic:
        self._check_kappa(required=True)
        return self


class WeightSystematic(_Systematic):
    """Weight-based shape systematic: up/down weight branches (absolute, or factors if ``relative``).

    Binned channels get up/down templates; unbinned channels take the per-event ratio from the
    model's ``sysup``/``sysdown`` columns and the yield effect from the weight sums.
    """

    type: Literal["weight"]
    up: str | None = None
    down: str | None = None
    relative: bool = False

    @field_validator("up", "down")
    @classmethod
    def _expr(cls, v: str | None) -> str | None:
        return _expression(v)

    def branches(self) -> tuple[str, str]:
        """Up and down branch/expression (default ``weight_<name>Up`` / ``weight_<name>Down``)."""
        return (
            self.up if self.up is not None else f"weight_{self.name}Up",
            self.down if self.down is not None else f"weight_{self.name}Down",
        )


class LearnedSystematic(_Kappa):
    """Learned per-event shape systematic of unbinned channels (the model's ``sysup``/``sysdown``
    columns). Yield effect: ``kappa``/``kappa_up``+``kappa_down`` if given, else the mean of the
    learned ratios over the weighted simulation."""

    type: Literal["learned"]

    @model_validator(mode="after")
    def _check(self) -> LearnedSystematic:
        self._check_kappa(required=False)
        return self


class CorrectionSystematic(_Systematic):
    """correctionlib scale factor: its nominal factor multiplies the weights of the processes it
    applies to; its up/down variations form a weight-based systematic."""

    type: Literal["correction"]
    file: str
    correction: str
    inputs: dict[str, str | float | int] = Field(default_factory=dict)
    systematic_input: str = "systematic"
    variations: tuple[str, str, str] = ("nominal", "up", "down")

    @field_validator("file")
    @classmethod
    def _path(cls, v: str, info: ValidationInfo) -> str:
        return _resolve(v, info)

    @field_validator("inputs")
    @classmethod
    def _input_exprs(cls, v: dict[str, str | float | int]) -> dict[str, str | float | int]:
        for k, e in v.items():
            if isinstance(e, str):
                try:
                    _expression(e)
                except ValueError as err:
                    raise ValueError(f"inputs.{k}: {err}") from None
        return v


class RateSystematic(_Systematic):
    """A free, unconstrained rate modifier μ of the processes (nominal ``init``)."""

    type: Literal["rate"]
    init: float = 1.0
    range: tuple[float, float] = (0.0, 5.0)

    @model_validator(mode="after")
    def _check(self) -> RateSystematic:
        lo, hi = self.range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < self.init < hi):
            raise ValueError(f"need low < init < high, got range {list(self.range)} and init {self.init}")
        return self


Systematic = Annotated[
    LnNSystematic | WeightSystematic | LearnedSystematic | CorrectionSystematic | RateSystematic,
    Field(discriminator="type"),
]


class Config(_Block):
    """The whole analysis: coefficients, channels (with processes and data) and systematics."""

    version: Literal[1]
    name: str = "rooeft"
    luminosity_scale: float = 1.0
    coefficients: list[Coefficient] = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    systematics: list[Systematic] = Field(default_factory=list)

    @field_validator("luminosity_scale")
    @classmethod
    def _lumi(cls, v: float) -> float:
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"must be a positive finite number, got {v}")
        return v

    @property
    def coefficient_names(self) -> list[str]:
        """Names of the coefficients in config order (the canonical term order follows it)."""
        return [c.name for c in self.coefficients]

    def channel(self, name: str) -> BinnedChannel | UnbinnedChannel:
        """The channel called ``name`` (KeyError if there is none)."""
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(f"no channel '{name}' (channels: {[c.name for c in self.channels]})")

    def systematics_for(self, channel: str, process: str) -> list[Systematic]:
        """The systematics acting on one process of one channel, in config order."""
        out = []
        for s in self.systematics:
            if s.channels is not None and channel not in s.channels:
                continue
            if isinstance(s, LearnedSystematic) and s.channels is None and self.channel(channel).kind != "unbinned":
                continue
            if s.processes is not None and process not in s.processes:
                continue
            out.append(s)
        return out
