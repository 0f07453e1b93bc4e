"""Phase 1 of a workspace build: read samples and data, evaluate networks, fill templates, check.

Every sample is read with the configuration's recipe (:func:`sample_config`: tree, cut, weight,
scale × luminosity scale, weight and correctionlib systematics); network observables and unbinned
models are evaluated once per event with the build's :class:`~rooeft.onnx.OnnxModels` (each
model's metadata read once); binned channels get their templates. The physics checks of
:mod:`rooeft.workspace.checks` run here, before any RooFit object exists. Toy pools
(:mod:`rooeft.workspace.pool`) read independent simulation with the same public functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.config import (
    BinnedChannel,
    Config,
    CorrectionSystematic,
    LearnedSystematic,
    Process,
    UnbinnedChannel,
    WeightSystematic,
)
from rooeft.onnx import OnnxModels
from rooeft.samples import CorrectionSpec, Sample, SampleConfig, SampleError, StructureConstantBranches, read_sample
from rooeft.templates import ProcessTemplates, fill_process, new_hist
from rooeft.terms import n_terms
from rooeft.workspace.checks import (
    CheckError,
    check_bins,
    check_network_outputs,
    check_positive_over_box,
    check_w_sm,
)

__all__ = [
    "MAX_OBSERVABLES",
    "MAX_OUTPUTS",
    "BuildError",
    "ChannelInput",
    "ProcessInput",
    "binned_values",
    "channel_observables",
    "check_eft_sample",
    "coefficient_box",
    "read_channel",
    "read_sample_files",
    "sample_config",
]

F64 = npt.NDArray[np.float64]
MAX_OBSERVABLES = 1000
"""Most observables (network inputs) a channel may have; checked before any RooFit object is made."""
MAX_OUTPUTS = 100_000
"""Most output columns of a network."""


class BuildError(ValueError):
    """The workspace cannot be built from these inputs (message names channel/process/file)."""


@dataclass
class ProcessInput:
    """One process of a channel as read: its sample and what was computed from it."""

    cfg: Process
    sample: Sample
    values: F64 | None = None  # binned observable per event
    templates: ProcessTemplates | None = None
    learned_kappas: dict[str, tuple[float, float]] = field(default_factory=dict)
    net: F64 | None = None  # network outputs per event (unbinned channels)

    @property
    def name(self) -> str:
        """The process name."""
        return self.cfg.name

    @property
    def sum_weights(self) -> float:
        """Nominal expected events (exactly rounded sum of the weights)."""
        return float(self.sample.sums().sum_weights)


@dataclass
class ChannelInput:
    """One channel as read: its processes, observables and data."""

    cfg: BinnedChannel | UnbinnedChannel
    procs: list[ProcessInput]
    observables: tuple[str, ...]
    data_obs: dict[str, F64] | None = None  # observed events: observable → values
    data_weights: F64 | None = None
    data_hist: Any = None
    interface: Any = None


def sample_config(config: Config, ch: str, proc: Process, observables: dict[str, str]) -> SampleConfig:
    """The reading recipe of process ``proc`` in channel ``ch`` (observable name → expression)."""
    weights: dict[str, tuple[str, str]] = {}
    corrections: list[CorrectionSpec] = []
    for s in config.systematics_for(ch, proc.name):
        if isinstance(s, WeightSystematic):
            up, down = s.branches()
            if s.relative:
                up, down = (e if proc.weight is None else f"({proc.weight})*({e})" for e in (up, down))
            weights[s.name] = (up, down)
        elif isinstance(s, CorrectionSystematic):
            corrections.append(
                CorrectionSpec(
                    source=Path(s.file),
                    correction=s.correction,
                    inputs=dict(s.inputs),
                    systematic_input=s.systematic_input,
                    variations=s.variations,
                    systematic=s.name,
                )
            )
    return SampleConfig(
        name=proc.name,
        tree=proc.tree,
        observables=observables,
        spectators={},
        weight=proc.weight,
        scale=proc.scale * config.luminosity_scale,
        cut=proc.cut,
        eft=StructureConstantBranches(coefficients=config.coefficient_names) if proc.eft else None,
        systematics=weights or None,
        corrections=tuple(corrections),
    )


def read_sample_files(files: Sequence[str], cfg: SampleConfig, where: str) -> Sample:
    """:func:`rooeft.samples.read_sample`, its errors as :class:`BuildError` prefixed by ``where``."""
    try:
        return read_sample(list(files), cfg)
    except SampleError as err:
        raise BuildError(f"{where}: {err}") from None


def binned_values(ch: BinnedChannel, sample: Sample, where: str, models: OnnxModels | None = None) -> F64:
    """The binned observable of every event (a branch expression, or a network column)."""
    obs = ch.observable
    if obs.model is None:
        return np.asarray(sample.observables[obs.name], dtype=np.float64)
    model = (models if models is not None else OnnxModels())[obs.model]
    out = model.run(sample.observable_matrix(list(model.interface.observables)))
    values = out[:, model.column(str(obs.column))]
    if not np.all(np.isfinite(values)):
        raise BuildError(f"{where}: network observable '{obs.name}' ({obs.column}) is NaN or inf for some events")
    return values


def coefficient_box(config: Config) -> dict[str, tuple[float, float]]:
    """Coefficient name → its range."""
    return {c.name: (float(c.range[0]), float(c.range[1])) for c in config.coefficients}


def _check_interface_size(iface: Any, where: str) -> None:
    if len(iface.observables) > MAX_OBSERVABLES or len(iface.outputs) > MAX_OUTPUTS:
        raise BuildError(
            f"{where}: the model has {len(iface.observables)} inputs and {len(iface.outputs)} outputs; "
            f"rooeft accepts at most {MAX_OBSERVABLES} inputs and {MAX_OUTPUTS} outputs"
        )


def check_eft_sample(config: Config, proc: Process, sample: Sample, where: str) -> Sample:
    """w_sm against the nominal weight; returns the sample to use (rescaled if the config says so)."""
    if not proc.eft or sample.structure_constants is None:
        return sample
    sum_w = float(sample.sums().sum_weights)
    sum_sm = float(sample.term_sums()[0])
    if proc.w_sm_mismatch == "error":
        try:
            check_w_sm(sum_w, sum_sm, what=where)
        except CheckError as err:
            raise BuildError(str(err)) from None
    return sample


def _check_dtypes(sample: Sample, where: str) -> None:
    for name, values in sample.observables.items():
        kind = np.asarray(values).dtype
        if kind.kind in "biu":
            raise BuildError(
                f"{where}: observable '{name}' is read as {kind} (an integer/boolean branch); an unbinned density "
                "needs continuous observables: bin it in a binned channel, or map it to a float expression"
            )


def channel_observables(
    ch: BinnedChannel | UnbinnedChannel, models: OnnxModels
) -> tuple[Any, dict[str, str], tuple[str, ...]]:
    """(unbinned model interface or None, observable → expression to read, workspace observables)."""
    if isinstance(ch, BinnedChannel):
        obs = ch.observable
        if obs.model is None:
            read_obs = {obs.name: obs.branch}
        else:
            model_obs = list(models[obs.model].interface.observables)
            read_obs = {n: obs.inputs.get(n, n) for n in model_obs}
        return None, read_obs, (obs.name,)
    iface = models[ch.model].interface
    _check_interface_size(iface, f"channel '{ch.name}', model {ch.model}")
    return iface, ch.observable_expressions(list(iface.observables)), tuple(iface.observables)


def read_channel(
    config: Config,
    ch: BinnedChannel | UnbinnedChannel,
    tick: Callable[[str], None],
    allow_negative_process_bins: bool = False,
    models: OnnxModels | None = None,
) -> ChannelInput:
    """Read, evaluate and check one channel's processes and data (``tick`` after each sample)."""
    models = models if models is not None else OnnxModels()
    iface, read_obs, observables = channel_observables(ch, models)
    procs = []
    for p in ch.processes:
        procs.append(_read_process(config, ch, p, iface, read_obs, observables, models))
        tick(f"{ch.name}/{p.name}")
    out = ChannelInput(ch, procs, observables, interface=iface)
    try:
        _check_yields(config, ch, procs, allow_negative_process_bins)
    except CheckError as err:
        raise BuildError(str(err)) from None
    if ch.data.files is not None:
        _read_data(config, ch, out, read_obs, models)
        tick(f"{ch.name}/data")
    return out


def _read_process(
    config: Config,
    ch: BinnedChannel | UnbinnedChannel,
    p: Process,
    iface: Any,
    read_obs: dict[str, str],
    observables: tuple[str, ...],
    models: OnnxModels,
) -> ProcessInput:
    where = f"channel '{ch.name}', process '{p.name}'"
    sample = read_sample_files(p.files, sample_config(config, ch.name, p, read_obs), where)
    sample = check_eft_sample(config, p, sample, where)
    proc = ProcessInput(p, sample)
    if proc.sum_weights <= 0:
        raise BuildError(f"{where}: the sum of weights is {proc.sum_weights}, need a positive expected yield")
    if isinstance(ch, UnbinnedChannel):
        _check_dtypes(sample, where)
        proc.net = _checked_network(config, ch, iface, sample, f"{where} (model {Path(ch.model).name})", models)
        proc.learned_kappas = _learned_kappas(config, ch, proc, observables, models)
        return proc
    proc.values = binned_values(ch, sample, where, models)
    proc.templates = fill_process(
        p.name,
        proc.values,
        sample.weights,
        ch.edges,
        observable=ch.observable.name,
        structure_constants=sample.structure_constants,
        coefficients=sample.coefficients,
        systematics=dict(sample.systematics.items()),
    )
    return proc


def _read_data(
    config: Config, ch: BinnedChannel | UnbinnedChannel, out: ChannelInput, read_obs: dict[str, str], models: OnnxModels
) -> None:
    """Read the channel's observed data into ``out`` (unbinned: events; binned: a histogram)."""
    assert ch.data.files is not None
    dcfg = SampleConfig(
        name=f"data_{ch.name}",
        tree=ch.data.tree,
        observables=read_obs,
        spectators={},
        weight=ch.data.weight,
        cut=ch.data.cut,
        eft=None,
        systematics=None,
    )
    where = f"channel '{ch.name}', data"
    data = read_sample_files(ch.data.files, dcfg, where)
    if isinstance(ch, UnbinnedChannel):
        _check_dtypes(data, where)
        _checked_network(config, ch, out.interface, data, f"{where} (model {Path(ch.model).name})", models)
        out.data_obs = {n: np.asarray(data.observables[n], dtype=np.float64) for n in out.observables}
        out.data_weights = np.asarray(data.weights, dtype=np.float64)
        return
    values = binned_values(ch, data, where, models)
    out.data_hist = new_hist(ch.edges, ch.observable.name)
    out.data_hist.fill(values, weight=np.asarray(data.weights))


def _checked_network(
    config: Config, ch: UnbinnedChannel, iface: Any, sample: Sample, where: str, models: OnnxModels
) -> F64:
    """The model's outputs on every event of ``sample``, checked (finite, fractions, ratios)."""
    names = list(iface.observables)
    net = models[ch.model].run(sample.observable_matrix(names))
    obs = {n: np.asarray(sample.observables[n]) for n in names}
    box = coefficient_box(config)
    try:
        check_network_outputs(net, list(iface.outputs), obs, box, list(iface.coefficients), what=where)
    except CheckError as err:
        raise BuildError(str(err)) from None
    return net


def _term_polynomials(procs: list[ProcessInput], what: str) -> dict[str, F64]:
    """Per EFT process its cross-section polynomial relative to the SM (term sums / SM term sum)."""
    polys: dict[str, F64] = {}
    for p in procs:
        if not p.cfg.eft:
            continue
        if p.templates is not None and p.templates.is_eft:
            ts = np.asarray(p.templates.term_sums(), dtype=np.float64).sum(axis=0)
        elif p.sample.structure_constants is not None:
            ts = np.asarray(p.sample.term_sums(), dtype=np.float64)
        else:
            continue
        if not ts[0] > 0:
            raise CheckError(f"{what}, process '{p.name}': SM term sum {ts[0]:.6g} is not positive")
        polys[f"process '{p.name}'"] = ts / ts[0]
    return polys


def _check_yields(
    config: Config, ch: BinnedChannel | UnbinnedChannel, procs: list[ProcessInput], allow_negative_process_bins: bool
) -> None:
    """Positive yields over the coefficient box; binned: no empty or negative bins."""
    box = coefficient_box(config)
    what = f"channel '{ch.name}'"
    nominal: dict[str, F64] = {}
    if isinstance(ch, BinnedChannel):  # empty/negative bins first: they explain zero term sums
        nominal = {p.name: np.asarray(p.templates.nominal.values(), dtype=np.float64) for p in procs if p.templates}
        totals = np.sum(list(nominal.values()), axis=0)
        check_bins(ch.edges, totals, nominal, what=what, allow_negative_process_bins=allow_negative_process_bins)
    polys = _term_polynomials(procs, what)
    if isinstance(ch, BinnedChannel):
        n = n_terms(len(config.coefficients))
        per_bin = np.zeros((len(ch.edges) - 1, n))
        for p in procs:
            t = p.templates
            if t is None:
                continue
            if t.is_eft:
                per_bin += np.asarray(t.coefficients(), dtype=np.float64) * nominal[p.name][:, None]
            else:
                per_bin[:, 0] += nominal[p.name]
        for i in range(per_bin.shape[0]):
            polys[f"bin {i} [{ch.edges[i]:g}, {ch.edges[i + 1]:g})"] = per_bin[i] / per_bin[i, 0]
    check_positive_over_box(polys, box, what=what)


def _learned_kappas(
    config: Config, ch: UnbinnedChannel, proc: ProcessInput, observables: tuple[str, ...], models: OnnxModels
) -> dict[str, tuple[float, float]]:
    """Normalisation effects of learned systematics: given κ, or the weighted mean of the
    network's ``sysup``/``sysdown`` columns over the process's simulation."""
    learned = [s for s in config.systematics_for(ch.name, proc.name) if isinstance(s, LearnedSystematic)]
    out: dict[str, tuple[float, float]] = {}
    need = []
    for s in learned:
        k = s.kappas()
        if k is not None:
            out[s.name] = k
        else:
            need.append(s.name)
    if not need:
        return out
    model = models[ch.model]
    columns = list(model.interface.outputs)
    net = proc.net if proc.net is not None else model.run(proc.sample.observable_matrix(list(observables)))
    w = np.asarray(proc.sample.weights)
    for name in need:
        pair = []
        for kind in ("sysup", "sysdown"):
            col = f"{kind}:{proc.name}:{name}"
            if col not in columns:
                raise BuildError(
                    f"channel '{ch.name}': model {ch.model} has no column '{col}' for learned systematic '{name}'"
                )
            pair.append(float(np.sum(w * net[:, columns.index(col)]) / np.sum(w)))
        out[name] = (pair[0], pair[1])
    return out
