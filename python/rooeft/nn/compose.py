"""Compose trained estimators into ONE model with every per-event column of the unbinned pdf.

The composed torch module evaluates every component on the same raw observables (each keeps its
own standardisation), concatenates their columns and reorders them into the canonical order of
:func:`rooeft.onnx_convention.output_columns`::

    frac:<p>...,  lin:<p>:<a>..., quad:<p>:<a>:<b>... (per EFT process),  sysup/sysdown:<p>:<k>...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from rooeft.nn._common import check_features, check_names, check_observables_match
from rooeft.nn.base import N_REFERENCE, TrainedEstimator, run_module
from rooeft.nn.export import ExportResult, export_onnx
from rooeft.nn.fractions import FractionEstimator
from rooeft.nn.per_term import PerTermEstimator
from rooeft.nn.quadratic import QuadraticEstimator
from rooeft.nn.systematics import SystematicEstimator
from rooeft.onnx_convention import ModelInterface, output_columns

__all__ = ["ComposedModel", "ComposedModule", "compose"]

EFTEstimator = QuadraticEstimator | PerTermEstimator


class ComposedModule(nn.Module):
    """Concatenate the outputs of several modules and pick the columns in canonical order."""

    order: torch.Tensor

    def __init__(self, parts: Sequence[nn.Module], order: Sequence[int]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.register_buffer("order", torch.as_tensor(list(order), dtype=torch.int64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cols = torch.cat([part(x) for part in self.parts], dim=1)
        return torch.index_select(cols, 1, self.order)


@dataclass
class ComposedModel:
    """The composed torch module, its convention interface and held-out reference inputs."""

    module: ComposedModule
    interface: ModelInterface
    reference_inputs: np.ndarray

    @property
    def columns(self) -> tuple[str, ...]:
        """Output column names."""
        return self.interface.outputs

    def predict(self, x: npt.ArrayLike, *, observables: Sequence[str] | None = None) -> np.ndarray:
        """All output columns for raw observables ``x``, ``[N, n_out]`` (float64)."""
        if observables is not None:
            check_observables_match(self.interface.observables, observables)
        return run_module(self.module, check_features(x, self.interface.observables))

    def export(self, path: str | Path, *, rtol: float = 1e-4, atol: float = 1e-5) -> ExportResult:
        """Write the validated ONNX model, its metadata JSON and reference ``.npz`` (see :mod:`export`)."""
        return export_onnx(
            self.module, path, interface=self.interface, reference_inputs=self.reference_inputs, rtol=rtol, atol=atol
        )


def compose(
    *,
    observables: Sequence[str],
    coefficients: Sequence[str],
    processes: Sequence[str],
    eft: Mapping[str, EFTEstimator] | None = None,
    fractions: FractionEstimator | None = None,
    systematics: SystematicEstimator | None = None,
    nominal_rates: Mapping[str, float] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> ComposedModel:
    """Build the single convention model from trained components.

    ``eft`` maps EFT process names to their coefficient model (processes not in it have no EFT
    dependence); ``fractions`` is required for more than one process; ``systematics`` must cover
    all processes. ``nominal_rates`` default to the yields the fraction classifier was trained
    with. Every component must have been trained on ``observables`` (same names, same order).
    """
    obs = check_names("observables", observables)
    coefs = check_names("coefficients", coefficients, allow_empty=True)
    procs = check_names("processes", processes)
    eft = dict(eft or {})
    unknown = [p for p in eft if p not in procs]
    if unknown:
        raise ValueError(f"eft processes {unknown} are not among the processes {list(procs)}")
    if eft and not coefs:
        raise ValueError("coefficients must not be empty when EFT models are given")

    parts: list[nn.Module] = []
    names: list[str] = []
    components: dict[str, TrainedEstimator] = {}
    if len(procs) > 1:
        if fractions is None:
            raise ValueError(f"fractions: a fraction model is required for several processes {list(procs)}")
        if fractions.processes != procs:
            raise ValueError(f"fractions model has processes {list(fractions.processes)}, expected {list(procs)}")
        components["fractions"] = fractions
        names += fractions.column_names()
        parts.append(fractions.module)
    elif fractions is not None:
        raise ValueError("fractions: a single-process model has no fraction columns; pass fractions=None")
    eft_procs = [p for p in procs if p in eft]
    for p in eft_procs:
        est = eft[p]
        if est.coefficients != coefs:
            raise ValueError(f"eft[{p!r}] has coefficients {list(est.coefficients)}, expected {list(coefs)}")
        components[f"eft[{p!r}]"] = est
        names += est.column_names(p)
        parts.append(est.module)
    systs: tuple[str, ...] = ()
    if systematics is not None:
        if systematics.processes != procs:
            raise ValueError(f"systematics model has processes {list(systematics.processes)}, expected {list(procs)}")
        systs = systematics.systematics
        components["systematics"] = systematics
        names += systematics.column_names()
        parts.append(systematics.module)
    if not parts:
        raise ValueError("nothing to compose: give eft, fractions or systematics models")
    for what, comp in components.items():
        check_observables_match(comp.observables, obs, what=f"{what} model")

    wanted = output_columns(processes=procs, coefficients=coefs, eft_processes=eft_procs, systematics=systs)
    missing = [c for c in wanted if c not in names]
    if missing:  # pragma: no cover - guarded by the checks above
        raise ValueError(f"no component provides column(s) {missing}")
    order = [names.index(c) for c in wanted]

    rates = dict(nominal_rates) if nominal_rates is not None else dict(fractions.rates) if fractions else {}
    prov: dict[str, Any] = {
        "torch_version": torch.__version__,
        "components": {what: comp.provenance for what, comp in components.items()},
    }
    if provenance:
        prov.update(provenance)
    interface = ModelInterface(
        observables=obs,
        outputs=tuple(wanted),
        coefficients=coefs,
        processes=procs,
        systematics=systs,
        nominal_rates=rates,
        provenance=prov,
    )
    interface.validate()
    refs = [c.reference_inputs for c in components.values() if c.reference_inputs.size]
    reference = np.unique(np.concatenate(refs), axis=0)[:N_REFERENCE] if refs else np.zeros((0, len(obs)))
    return ComposedModel(ComposedModule(parts, order), interface, np.ascontiguousarray(reference, np.float32))
