"""Build the RooWorkspace of ``docs/workspace_convention.md`` from a validated configuration.

Two phases: (1) read every sample and data set (:mod:`rooeft.samples`), evaluate network
observables once per event, fill binned templates (:mod:`rooeft.templates`); (2) create the RooFit
objects (coefficients, channel pdfs, nuisances with ``<nu>_Pdf``/``<nu>_In``, ``model_s``,
``data_obs``, ``sim_<ch>``, ``ModelConfig``, ``rooeft_metadata``) and write the file atomically.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
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
    LnNSystematic,
    Process,
    RateSystematic,
    UnbinnedChannel,
    WeightSystematic,
    config_hash,
    load_config,
)
from rooeft.samples import CorrectionSpec, Sample, SampleConfig, SampleError, StructureConstantBranches, read_sample
from rooeft.templates import ProcessTemplates, fill_process, new_hist, term_names, write_templates
from rooeft.terms import monomials, n_terms
from rooeft.workspace.checks import (
    CheckError,
    check_bins,
    check_network_outputs,
    check_positive_over_box,
    check_w_sm,
)

__all__ = ["WORKSPACE_CONVENTION", "BuildError", "BuildResult", "ChannelSummary", "build_workspace", "templates_path"]

WORKSPACE_CONVENTION = 1
NUISANCE_RANGE = (-5.0, 5.0)
DATA_OBS = "data_obs"
#: the Asimov dataset at the SM (nominal nuisances) stored in every workspace, for Combine's ``-D``
ASIMOV_DATA = "data_asimov"
#: the global observable of a constraint extends this many σ beyond its nuisance's range, so that
#: RooFit's normalisation of the Gaussian over that range is 1 to double precision for every
#: allowed nuisance value: the constraint is the untruncated Gaussian of Combine's convention
GLOBAL_MARGIN_SIGMAS = 10.0
F64 = npt.NDArray[np.float64]


class BuildError(ValueError):
    """The workspace cannot be built from these inputs (message names channel/process/file)."""


@dataclass(frozen=True)
class ChannelSummary:
    """What was built for one channel."""

    name: str
    kind: str
    observables: tuple[str, ...]
    yields: Mapping[str, float]
    """Nominal expected events per process (SM, nuisances at nominal)."""
    n_data: int
    """Entries of the channel in ``data_obs`` (events, or bins for binned channels)."""
    data_sum: float
    """Sum of the data weights (observed events or Asimov expectation)."""
    asimov: bool


@dataclass(frozen=True)
class BuildResult:
    """The written workspace and a summary of its contents."""

    output: Path
    templates: Path | None
    config_hash: str
    pois: tuple[str, ...]
    nuisances: tuple[str, ...]
    global_observables: tuple[str, ...]
    channels: tuple[ChannelSummary, ...]


def input_files(config: Config) -> list[Path]:
    """Every file a configuration reads: samples, data, ONNX models and correctionlib files."""
    files: list[str] = []
    for ch in config.channels:
        files += [f for p in ch.processes for f in p.files]
        files += list(ch.data.files or [])
        if isinstance(ch, UnbinnedChannel):
            files.append(ch.model)
        elif ch.observable.model is not None:
            files.append(ch.observable.model)
    files += [s.file for s in config.systematics if isinstance(s, CorrectionSystematic)]
    return [Path(f) for f in dict.fromkeys(files)]


MAX_OBSERVABLES = 1000
"""Most observables (network inputs) a channel may have; checked before any RooFit object is made."""
MAX_OUTPUTS = 100_000
"""Most output columns of a network."""


def templates_path(output: str | os.PathLike[str]) -> Path:
    """Where the templates of a workspace file go: ``<dir>/<stem>_templates.root``.

    >>> templates_path("out/ws.root").as_posix()
    'out/ws_templates.root'
    """
    p = Path(output)
    return p.with_name(f"{p.stem}_templates.root")


# ----------------------------------------------------------------------------------------- reading
@dataclass
class _Proc:
    cfg: Process
    sample: Sample
    values: F64 | None = None  # binned observable per event
    templates: ProcessTemplates | None = None
    learned_kappas: dict[str, tuple[float, float]] = field(default_factory=dict)
    net: F64 | None = None  # network outputs per event (unbinned channels)

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def sum_weights(self) -> float:
        return float(self.sample.sums().sum_weights)


@dataclass
class _Channel:
    cfg: BinnedChannel | UnbinnedChannel
    procs: list[_Proc]
    observables: tuple[str, ...]
    data_obs: dict[str, F64] | None = None  # observed events: observable → values
    data_weights: F64 | None = None
    data_hist: Any = None
    interface: Any = None


def _run_onnx(model: str, matrix: F64) -> F64:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(matrix, dtype=np.float32)
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return np.asarray(out, dtype=np.float64)


def _sample_config(config: Config, ch: str, proc: Process, observables: dict[str, str]) -> SampleConfig:
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


def _read(files: Sequence[str], cfg: SampleConfig, where: str) -> Sample:
    try:
        return read_sample(list(files), cfg)
    except SampleError as err:
        raise BuildError(f"{where}: {err}") from None


def _binned_values(ch: BinnedChannel, sample: Sample, where: str) -> F64:
    obs = ch.observable
    if obs.model is None:
        return np.asarray(sample.observables[obs.name], dtype=np.float64)
    from rooeft.onnx_convention import read_interface

    iface = read_interface(obs.model)
    out = _run_onnx(obs.model, sample.observable_matrix(list(iface.observables)))
    values = out[:, list(iface.outputs).index(str(obs.column))]
    if not np.all(np.isfinite(values)):
        raise BuildError(f"{where}: network observable '{obs.name}' ({obs.column}) is NaN or inf for some events")
    return values


def _box(config: Config) -> dict[str, tuple[float, float]]:
    return {c.name: (float(c.range[0]), float(c.range[1])) for c in config.coefficients}


def _check_interface_size(iface: Any, where: str) -> None:
    if len(iface.observables) > MAX_OBSERVABLES or len(iface.outputs) > MAX_OUTPUTS:
        raise BuildError(
            f"{where}: the model has {len(iface.observables)} inputs and {len(iface.outputs)} outputs; "
            f"rooeft accepts at most {MAX_OBSERVABLES} inputs and {MAX_OUTPUTS} outputs"
        )


def _check_eft_sample(config: Config, proc: Process, sample: Sample, where: str) -> Sample:
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


def _check_dtypes(ch: UnbinnedChannel, sample: Sample, where: str) -> None:
    for name, values in sample.observables.items():
        kind = np.asarray(values).dtype
        if kind.kind in "biu":
            raise BuildError(
                f"{where}: observable '{name}' is read as {kind} (an integer/boolean branch); an unbinned density "
                "needs continuous observables: bin it in a binned channel, or map it to a float expression"
            )


def _read_channel(
    config: Config, ch: BinnedChannel | UnbinnedChannel, tick: Any, allow_negative_process_bins: bool = False
) -> _Channel:
    from rooeft.onnx_convention import read_interface

    iface = None
    if isinstance(ch, BinnedChannel):
        obs = ch.observable
        if obs.model is None:
            read_obs = {obs.name: obs.branch}
        else:
            model_obs = list(read_interface(obs.model).observables)
            read_obs = {n: obs.inputs.get(n, n) for n in model_obs}
        observables: tuple[str, ...] = (obs.name,)
    else:
        iface = read_interface(ch.model)
        _check_interface_size(iface, f"channel '{ch.name}', model {ch.model}")
        read_obs = ch.observable_expressions(list(iface.observables))
        observables = tuple(iface.observables)
    procs = []
    for p in ch.processes:
        where = f"channel '{ch.name}', process '{p.name}'"
        sample = _read(p.files, _sample_config(config, ch.name, p, read_obs), where)
        sample = _check_eft_sample(config, p, sample, where)
        proc = _Proc(p, sample)
        if proc.sum_weights <= 0:
            raise BuildError(f"{where}: the sum of weights is {proc.sum_weights}, need a positive expected yield")
        if isinstance(ch, UnbinnedChannel):
            _check_dtypes(ch, sample, where)
            proc.net = _checked_network(config, ch, iface, sample, f"{where} (model {Path(ch.model).name})")
        if isinstance(ch, BinnedChannel):
            proc.values = _binned_values(ch, sample, where)
            systs = {k: v for k, v in sample.systematics.items()}
            proc.templates = fill_process(
                p.name,
                proc.values,
                sample.weights,
                ch.edges,
                observable=ch.observable.name,
                structure_constants=sample.structure_constants,
                coefficients=sample.coefficients,
                systematics=systs,
            )
        else:
            proc.learned_kappas = _learned_kappas(config, ch, proc, observables)
        procs.append(proc)
        tick(f"{ch.name}/{p.name}")
    out = _Channel(ch, procs, observables, interface=iface)
    try:
        _check_yields(config, ch, procs, allow_negative_process_bins)
    except CheckError as err:
        raise BuildError(str(err)) from None
    if ch.data.files is not None:
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
        data = _read(ch.data.files, dcfg, f"channel '{ch.name}', data")
        if isinstance(ch, UnbinnedChannel):
            _check_dtypes(ch, data, f"channel '{ch.name}', data")
            _checked_network(config, ch, iface, data, f"channel '{ch.name}', data (model {Path(ch.model).name})")
        if isinstance(ch, BinnedChannel):
            values = _binned_values(ch, data, f"channel '{ch.name}', data")
            out.data_hist = new_hist(ch.edges, ch.observable.name)
            out.data_hist.fill(values, weight=np.asarray(data.weights))
        else:
            out.data_obs = {n: np.asarray(data.observables[n], dtype=np.float64) for n in observables}
            out.data_weights = np.asarray(data.weights, dtype=np.float64)
        tick(f"{ch.name}/data")
    return out


def _checked_network(config: Config, ch: UnbinnedChannel, iface: Any, sample: Sample, where: str) -> F64:
    """The model's outputs on every event of ``sample``, checked (finite, fractions, ratios)."""
    names = list(iface.observables)
    net = _run_onnx(ch.model, sample.observable_matrix(names))
    obs = {n: np.asarray(sample.observables[n]) for n in names}
    try:
        check_network_outputs(net, list(iface.outputs), obs, _box(config), list(iface.coefficients), what=where)
    except CheckError as err:
        raise BuildError(str(err)) from None
    return net


def _check_yields(
    config: Config, ch: BinnedChannel | UnbinnedChannel, procs: list[_Proc], allow_negative_process_bins: bool
) -> None:
    """Positive yields over the coefficient box; binned: no empty or negative bins."""
    box = _box(config)
    what = f"channel '{ch.name}'"
    if isinstance(ch, BinnedChannel):  # empty/negative bins first: they explain zero term sums
        nominal = {p.name: np.asarray(p.templates.nominal.values(), dtype=np.float64) for p in procs if p.templates}
        totals = np.sum(list(nominal.values()), axis=0)
        check_bins(ch.edges, totals, nominal, what=what, allow_negative_process_bins=allow_negative_process_bins)
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
    config: Config, ch: UnbinnedChannel, proc: _Proc, observables: tuple[str, ...]
) -> dict[str, tuple[float, float]]:
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
    from rooeft.onnx_convention import read_interface

    columns = list(read_interface(ch.model).outputs)
    net = proc.net if proc.net is not None else _run_onnx(ch.model, proc.sample.observable_matrix(list(observables)))
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


# ----------------------------------------------------------------------------------------- building
class _Builder:
    """Creates and keeps alive the RooFit objects of one workspace."""

    def __init__(self, ROOT: Any, config: Config) -> None:
        self.ROOT = ROOT
        self.config = config
        self.keep: list[Any] = []
        self.coefs = {}
        for c in config.coefficients:
            v = ROOT.RooRealVar(c.name, c.name, c.sm, c.range[0], c.range[1])
            self.coefs[c.name] = v
        self.nuisances: dict[str, Any] = {}
        self.rates: dict[str, Any] = {}
        self.constraints: list[Any] = []
        self.globs: list[Any] = []
        self.observables: dict[str, Any] = {}

    def own(self, obj: Any) -> Any:
        self.keep.append(obj)
        return obj

    def constrained(self, name: str, *, nominal: float = 0.0, sigma: float = 1.0, lo: float, hi: float) -> Any:
        """A nuisance with its Gaussian constraint ``<name>_Pdf`` and global observable ``<name>_In``."""
        R = self.ROOT
        if name in self.nuisances:
            return self.nuisances[name]
        nu = self.own(R.RooRealVar(name, name, nominal, lo, hi))
        margin = GLOBAL_MARGIN_SIGMAS * sigma
        glob = self.own(R.RooRealVar(f"{name}_In", f"{name}_In", nominal, lo - margin, hi + margin))
        glob.setConstant(True)
        width = (
            self.own(R.RooConstVar(f"{name}_Sigma", f"{name}_Sigma", sigma)) if sigma != 1.0 else R.RooFit.RooConst(1.0)
        )
        pdf = self.own(R.RooGaussian(f"{name}_Pdf", f"{name}_Pdf", nu, glob, width))
        self.nuisances[name] = nu
        self.constraints.append(pdf)
        self.globs.append(glob)
        return nu

    def nuisance(self, name: str) -> Any:
        if name in self.rates:
            return self.rates[name]
        return self.constrained(name, lo=NUISANCE_RANGE[0], hi=NUISANCE_RANGE[1])

    def rate(self, s: RateSystematic) -> Any:
        if s.name not in self.rates:
            v = self.own(self.ROOT.RooRealVar(s.name, s.name, s.init, s.range[0], s.range[1]))
            self.rates[s.name] = v
        return self.rates[s.name]


def _asimov_theta(config: Config, point: Mapping[str, float]) -> list[float]:
    return [float(point.get(c.name, c.sm)) for c in config.coefficients]


def _binned_pdf(b: _Builder, ch: _Channel) -> tuple[Any, dict[str, float]]:
    R = b.ROOT
    cfg = ch.cfg
    assert isinstance(cfg, BinnedChannel)
    edges = cfg.workspace_edges()
    title = f"{cfg.observable.name} bin index" if cfg.index_observable else cfg.observable.name
    x = b.own(R.RooRealVar(cfg.workspace_observable(), title, edges[0], edges[-1]))
    x.setBinning(b.own(R.RooBinning(len(edges) - 1, np.asarray(edges, dtype=np.float64))))
    b.observables[x.GetName()] = x
    pdf = b.own(R.RooEFTTemplatePdf(f"pdf_{cfg.name}", f"pdf_{cfg.name}", x, edges, R.RooArgList(*b.coefs.values())))
    yields = {}
    for p in ch.procs:
        t = p.templates
        assert t is not None
        nominal = np.asarray(t.nominal.values(), dtype=np.float64)
        terms = t.coefficients().ravel().tolist() if t.is_eft else []
        pdf.addProcess(p.name, nominal.tolist(), terms)
        yields[p.name] = float(nominal.sum())
        for s in b.config.systematics_for(cfg.name, p.name):
            if isinstance(s, (WeightSystematic, CorrectionSystematic)):
                up, down = t.systematics[s.name]
                pdf.addShapeSystematic(b.nuisance(s.name), p.name, list(up.values()), list(down.values()))
            elif isinstance(s, LnNSystematic):
                ku, kd = s.kappas() or (1.0, 1.0)
                pdf.addNormSystematic(b.nuisance(s.name), p.name, ku, kd, 4)
            elif isinstance(s, RateSystematic):
                pdf.setRateModifier(p.name, b.rate(s))
    if cfg.mc_stats is not None:
        sumw = np.sum([np.asarray(p.templates.nominal.values()) for p in ch.procs if p.templates], axis=0)
        sumw2 = np.sum([np.asarray(p.templates.nominal.variances()) for p in ch.procs if p.templates], axis=0)
        gammas = []
        for i in range(len(edges) - 1):
            rel = float(np.sqrt(sumw2[i]) / sumw[i]) if sumw[i] > 0 else 0.0
            if sumw[i] > 0 and rel > cfg.mc_stats.threshold and rel > 0:
                lo, hi = max(1e-3, 1.0 - 5.0 * rel), 1.0 + 5.0 * rel
                gammas.append(b.constrained(f"prop_bin{cfg.name}_bin{i}", nominal=1.0, sigma=rel, lo=lo, hi=hi))
            else:
                gammas.append(b.own(R.RooConstVar(f"one_{cfg.name}_bin{i}", "1", 1.0)))
        pdf.setBinParameters(R.RooArgList(*gammas))
    return pdf, yields


NORM_SAMPLE_MAX = 200_000  # events of the simulation kept for the shape normalisation


def _unbinned_pdf(b: _Builder, ch: _Channel) -> tuple[Any, dict[str, float]]:
    R = b.ROOT
    cfg = ch.cfg
    assert isinstance(cfg, UnbinnedChannel)
    iface = ch.interface
    obs = R.RooArgList(*[b.observables[n] for n in iface.observables])
    coefs = R.RooArgList(*[b.coefs[n] for n in iface.coefficients])
    shapes = R.RooArgList(*[b.nuisance(n) for n in iface.systematics])
    try:
        pdf = b.own(R.RooEFTUnbinnedPdf(f"pdf_{cfg.name}", f"pdf_{cfg.name}", cfg.model, obs, coefs, shapes))
    except Exception as err:  # cppyy re-raises std::invalid_argument
        raise BuildError(f"channel '{cfg.name}': {err}") from None
    order = [str(p) for p in pdf.processes()]
    lnn: dict[str, tuple[list[float], list[float]]] = {}
    yields = {}
    for p in ch.procs:
        n0 = p.sum_weights
        pdf.setYield(p.name, n0)
        yields[p.name] = n0
        if p.cfg.eft:
            ts = p.sample.term_sums()
            if ts[0] <= 0:
                raise BuildError(f"channel '{cfg.name}', process '{p.name}': SM term sum {ts[0]} is not positive")
            pdf.setCrossSection(p.name, (ts / ts[0]).tolist())
        sums = p.sample.sums().systematic_sums
        for s in b.config.systematics_for(cfg.name, p.name):
            if isinstance(s, (WeightSystematic, CorrectionSystematic)):
                up, down = sums[s.name]
                pdf.setShapeNormEffect(p.name, s.name, up / n0, down / n0)
            elif isinstance(s, LearnedSystematic):
                ku, kd = p.learned_kappas[s.name]
                pdf.setShapeNormEffect(p.name, s.name, ku, kd)
            elif isinstance(s, LnNSystematic):
                ku, kd = s.kappas() or (1.0, 1.0)
                ups, downs = lnn.setdefault(s.name, ([1.0] * len(order), [1.0] * len(order)))
                ups[order.index(p.name)] = ku
                downs[order.index(p.name)] = kd
            elif isinstance(s, RateSystematic):
                pdf.setRateModifier(p.name, b.rate(s))
    for name, (ups, downs) in lnn.items():
        pdf.addNormSystematic(b.nuisance(name), ups, downs, 4)
    if cfg.mc_stats is not None:
        for p in ch.procs:
            rel = 1.0 / math.sqrt(effective_size(p.sample.weights))
            if rel > cfg.mc_stats.threshold:
                lo, hi = max(1e-3, 1.0 - 5.0 * rel), 1.0 + 5.0 * rel
                gamma = b.constrained(f"prop_bin{cfg.name}_proc_{p.name}", nominal=1.0, sigma=rel, lo=lo, hi=hi)
                pdf.setRateModifier(p.name, gamma)
    # shape × rate: the shape is normalised by the learned R integrated over the channel's simulation
    x = np.concatenate([p.sample.observable_matrix(list(iface.observables)) for p in ch.procs])
    w = np.concatenate([np.asarray(p.sample.weights, dtype=np.float64) for p in ch.procs])
    if x.shape[0] > NORM_SAMPLE_MAX:  # an unbiased subsample, weights rescaled
        keep = np.random.default_rng(12345).choice(x.shape[0], NORM_SAMPLE_MAX, replace=False)
        x, w = x[keep], w[keep] * (w.sum() / w[keep].sum())
    pdf.setNormalisationSample(
        R.std.vector["float"](np.ascontiguousarray(x, dtype=np.float32).ravel()), R.std.vector["double"](w)
    )
    return pdf, yields


def effective_size(weights: npt.ArrayLike) -> float:
    """Kish's effective sample size ``(Σw)²/Σw²`` of weighted events (0 for no events).

    >>> effective_size([1.0, 1.0, 1.0, 1.0]), effective_size([1.0, 3.0])
    (4.0, 1.6)
    """
    w = np.asarray(weights, dtype=np.float64)
    w2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / w2 if w2 > 0 else 0.0


def _sim_columns(config: Config, ch: _Channel) -> tuple[dict[str, F64], F64]:
    """Observables and per-term weight columns (expected events) of an unbinned channel's simulation."""
    labels = [f"w_{t}" for t in term_names(config.coefficient_names)]
    t = n_terms(len(config.coefficient_names))
    obs: dict[str, list[F64]] = {n: [] for n in ch.observables}
    terms: list[F64] = []
    for p in ch.procs:
        for n in ch.observables:
            obs[n].append(np.asarray(p.sample.observables[n], dtype=np.float64))
        w = np.asarray(p.sample.weights, dtype=np.float64)
        if p.cfg.eft and p.sample.structure_constants is not None:
            sc = np.asarray(p.sample.structure_constants, dtype=np.float64)
            terms.append(sc * (p.sum_weights / float(p.sample.term_sums()[0])))
        else:
            block = np.zeros((w.size, t))
            block[:, 0] = w
            terms.append(block)
    matrix = np.concatenate(terms, axis=0)
    cols = {n: np.concatenate(v) for n, v in obs.items()}
    cols.update({label: matrix[:, j] for j, label in enumerate(labels)})
    return cols, matrix


def _observable_ranges(channels: Sequence[_Channel]) -> dict[str, tuple[float, float]]:
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for ch in channels:
        if isinstance(ch.cfg, BinnedChannel):
            continue
        for n in ch.observables:
            arrays = [np.asarray(p.sample.observables[n], dtype=np.float64) for p in ch.procs]
            if ch.data_obs is not None:
                arrays.append(ch.data_obs[n])
            vals = np.concatenate(arrays)
            if not np.all(np.isfinite(vals)):
                raise BuildError(f"channel '{ch.cfg.name}': observable '{n}' has NaN or inf values")
            lo[n] = min(lo.get(n, np.inf), float(vals.min()))
            hi[n] = max(hi.get(n, -np.inf), float(vals.max()))
    out = {}
    for n in lo:
        pad = 1e-6 * max(1.0, hi[n] - lo[n], abs(lo[n]), abs(hi[n]))
        out[n] = (lo[n] - pad, hi[n] + pad)
    return out


def _write_atomic(ws: Any, output: Path) -> None:
    from rooeft.safeio import atomic_write

    if not output.parent.is_dir():
        raise BuildError(f"output directory does not exist: {output.parent}")
    with atomic_write(output, suffix=".root") as tmp:
        ws.writeToFile(str(tmp), True)  # returns a flag whose meaning changed between ROOT versions
        if tmp.stat().st_size == 0:
            raise BuildError(f"writing the workspace to {output} failed")


def build_workspace(
    config: Config | str | os.PathLike[str],
    *,
    output: str | os.PathLike[str],
    write_template_file: bool = True,
    progress: bool = False,
    allow_negative_process_bins: bool = False,
) -> BuildResult:
    """Build the workspace of a configuration and write it (atomically) to ``output``.

    Parameters
    ----------
    config
        A validated :class:`~rooeft.config.Config` or the path of a YAML configuration.
    output
        The ROOT file to write (workspace ``w``); never one of the inputs.
    write_template_file
        Also write the binned templates to ``<output stem>_templates.root`` (see
        :func:`rooeft.templates.write_templates`).
    progress
        Show a progress bar (tqdm) while reading samples.
    allow_negative_process_bins
        Accept negative expected events of single processes in bins whose total stays positive
        (negative-weight NLO samples); see :func:`rooeft.workspace.checks.check_bins`.
    """
    from tqdm import tqdm

    import rooeft

    cfg = config if isinstance(config, Config) else load_config(config)
    out = Path(output).resolve()
    from rooeft.safeio import same_file

    writes = [out] + ([templates_path(out)] if write_template_file else [])
    for target in writes:
        for f in input_files(cfg):
            if same_file(target, f):
                raise BuildError(f"refusing to write {target}: it is the input {f}")
    n_steps = sum(len(ch.processes) + (ch.data.files is not None) for ch in cfg.channels) + 1
    bar = tqdm(total=n_steps, desc="rooeft build", unit="step", disable=not progress, leave=False)

    def tick(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    try:
        channels = [_read_channel(cfg, ch, tick, allow_negative_process_bins) for ch in cfg.channels]
        ROOT = rooeft.load_library()
        msg = ROOT.RooMsgService.instance()
        level = msg.globalKillBelow()
        msg.setGlobalKillBelow(max(int(level), int(ROOT.RooFit.WARNING)))
        try:
            result = _assemble(ROOT, cfg, channels, out, write_template_file)
        finally:
            msg.setGlobalKillBelow(level)
        tick("written")
    finally:
        bar.close()
    return result


def _assemble(ROOT: Any, cfg: Config, channels: list[_Channel], out: Path, write_template_file: bool) -> BuildResult:
    R = ROOT
    b = _Builder(R, cfg)
    for n, (lo, hi) in _observable_ranges(channels).items():
        b.observables[n] = b.own(R.RooRealVar(n, n, 0.5 * (lo + hi), lo, hi))
    cat = b.own(R.RooCategory("CMS_channel", "CMS_channel"))
    for i, ch in enumerate(channels):
        cat.defineType(ch.cfg.name, i)
    pdfs, yields = [], []
    for ch in channels:
        pdf, y = _binned_pdf(b, ch) if isinstance(ch.cfg, BinnedChannel) else _unbinned_pdf(b, ch)
        pdfs.append(pdf)
        yields.append(y)
    # data: per channel columns at the data (or Asimov) values; data_asimov: expectation at the SM
    data_cols: list[tuple[dict[str, F64], F64]] = []
    asimov_cols: list[tuple[dict[str, F64], F64]] = []
    sims: dict[str, dict[str, F64]] = {}
    template_data = {}
    sm_point = {c.name: c.sm for c in cfg.coefficients}
    for ch, pdf in zip(channels, pdfs, strict=True):
        c = ch.cfg
        if isinstance(c, BinnedChannel):
            edges = np.asarray(c.workspace_edges())
            centres = 0.5 * (edges[1:] + edges[:-1])
            sm_counts = _template_counts(b, pdf, _asimov_theta(cfg, sm_point))
            asimov_cols.append(({c.workspace_observable(): centres}, sm_counts))
            if c.data.asimov is not None:
                counts = _template_counts(b, pdf, _asimov_theta(cfg, c.data.asimov))
                h = new_hist(c.edges, c.observable.name)
                h.fill(0.5 * (np.asarray(c.edges[1:]) + np.asarray(c.edges[:-1])), weight=counts)
            else:
                h = ch.data_hist
                counts = np.asarray(h.values(), dtype=np.float64)
            template_data[c.name] = h
            data_cols.append(({c.workspace_observable(): centres}, counts))
        else:
            cols, matrix = _sim_columns(cfg, ch)
            sims[c.name] = cols
            sim_obs = {n: cols[n] for n in ch.observables}
            asimov_cols.append((sim_obs, matrix @ monomials(_asimov_theta(cfg, sm_point))))
            if c.data.asimov is not None:
                w = matrix @ monomials(_asimov_theta(cfg, c.data.asimov))
                data_cols.append((sim_obs, w))
            else:
                assert ch.data_obs is not None and ch.data_weights is not None
                data_cols.append((ch.data_obs, ch.data_weights))
    weight = b.own(R.RooRealVar("_weight_", "_weight_", 1.0))
    data = _dataset(R, b, cat, weight, DATA_OBS, data_cols)
    asimov = _dataset(R, b, cat, weight, ASIMOV_DATA, asimov_cols)
    # model_s
    sim = b.own(R.RooSimultaneous("model_s", "model_s", cat))
    for ch, pdf in zip(channels, pdfs, strict=True):
        withc = b.own(
            R.RooProdPdf(f"pdf_{ch.cfg.name}_withc", f"pdf_{ch.cfg.name}_withc", R.RooArgList(pdf, *b.constraints))
        )
        sim.addPdf(withc, ch.cfg.name)
    ws = R.RooWorkspace("w", "w")
    ws.Import(sim, Silence=True)
    ws.Import(data, Silence=True)
    ws.Import(asimov, Silence=True)
    term_vars = [
        b.own(R.RooRealVar(f"w_{t}", f"w_{t}", 0.0, -R.RooNumber.infinity(), R.RooNumber.infinity()))
        for t in term_names(cfg.coefficient_names)
    ]
    by_name = {c.cfg.name: c for c in channels}
    for name, cols in sims.items():
        ch_obs = [b.observables[n] for n in by_name[name].observables]
        sim_data = R.RooDataSet.from_numpy(cols, R.RooArgSet(*ch_obs, *term_vars), name=f"sim_{name}")
        sim_data.SetName(f"sim_{name}")
        ws.Import(sim_data, Silence=True)
    for ch, pdf in zip(channels, pdfs, strict=True):
        for p in ch.procs:
            ws.Import(_process_yield(R, b, ch, pdf, p), RecycleConflictNodes=True, Silence=True)
    pois = list(b.coefs)
    nuisances = list(b.nuisances) + list(b.rates)
    globs = [g.GetName() for g in b.globs]
    mc = R.RooStats.ModelConfig("ModelConfig", ws)
    mc.SetPdf("model_s")
    mc.SetParametersOfInterest(ws.argSet(",".join(pois)))
    mc.SetObservables(ws.argSet(",".join([*b.observables, "CMS_channel"])))
    if nuisances:
        mc.SetNuisanceParameters(ws.argSet(",".join(nuisances)))
    if globs:
        mc.SetGlobalObservables(ws.argSet(",".join(globs)))
    ws.Import(mc)
    digest = config_hash(cfg)
    meta = {
        "convention": WORKSPACE_CONVENTION,
        "rooeft_version": _version(),
        "config_hash": digest,
        "config_name": cfg.name,
        "coefficients": [{"name": c.name, "range": list(c.range), "sm": c.sm} for c in cfg.coefficients],
        "channels": [
            {
                "name": ch.cfg.name,
                "kind": ch.cfg.kind,
                "observables": list(ch.observables),
                "processes": [p.name for p in ch.procs],
                "eft_processes": [p.name for p in ch.procs if p.cfg.eft],
                "yields": y,
                "n_eff": {p.name: effective_size(p.sample.weights) for p in ch.procs},
                "edges": list(ch.cfg.edges) if isinstance(ch.cfg, BinnedChannel) else None,
                "physical_observable": ch.cfg.observable.name if isinstance(ch.cfg, BinnedChannel) else None,
                "workspace_observable": ch.cfg.workspace_observable() if isinstance(ch.cfg, BinnedChannel) else None,
                "data": {"asimov": ch.cfg.data.asimov} if ch.cfg.data.asimov is not None else "observed",
            }
            for ch, y in zip(channels, yields, strict=True)
        ],
        "nuisances": [
            {"name": n, "kind": "rate" if n in b.rates else ("mc_stats" if n.startswith("prop_bin") else "constrained")}
            for n in nuisances
        ],
        "global_observables": globs,
    }
    named = b.own(R.TNamed("rooeft_metadata", json.dumps(meta)))
    ws.Import(named)
    _write_atomic(ws, out)
    tpl_path = None
    binned = {ch.cfg.name: [p.templates for p in ch.procs if p.templates is not None] for ch in channels}
    binned = {k: v for k, v in binned.items() if v}
    if write_template_file and binned:
        tpl_path = write_templates(templates_path(out), binned, data=template_data)
    summaries = tuple(
        ChannelSummary(
            name=ch.cfg.name,
            kind=ch.cfg.kind,
            observables=ch.observables,
            yields=y,
            n_data=int(w.size),
            data_sum=float(np.sum(w)),
            asimov=ch.cfg.data.asimov is not None,
        )
        for ch, y, (_, w) in zip(channels, yields, data_cols, strict=True)
    )
    return BuildResult(
        output=out,
        templates=tpl_path,
        config_hash=digest,
        pois=tuple(pois),
        nuisances=tuple(nuisances),
        global_observables=tuple(globs),
        channels=summaries,
    )


def _template_counts(b: _Builder, pdf: Any, theta: Sequence[float]) -> F64:
    """Expected counts per bin of a template pdf at ``theta`` (nuisances at their current, nominal values)."""
    saved = [v.getVal() for v in b.coefs.values()]
    try:
        for v, val in zip(b.coefs.values(), theta, strict=True):
            v.setVal(val)
        return np.asarray(list(pdf.binYields()), dtype=np.float64)
    finally:
        for v, val in zip(b.coefs.values(), saved, strict=True):
            v.setVal(val)


def _dataset(
    R: Any, b: _Builder, cat: Any, weight: Any, name: str, per_channel: Sequence[tuple[dict[str, F64], F64]]
) -> Any:
    """A weighted ``RooDataSet`` with every observable, ``CMS_channel`` and ``_weight_`` (channel i = entry i)."""
    columns: dict[str, list[F64]] = {n: [] for n in b.observables}
    columns["CMS_channel"] = []
    columns["_weight_"] = []
    for index, (obs, w) in enumerate(per_channel):
        n_rows = w.size
        for vname, var in b.observables.items():
            columns[vname].append(obs[vname] if vname in obs else np.full(n_rows, var.getVal()))
        columns["CMS_channel"].append(np.full(n_rows, float(index)))
        columns["_weight_"].append(np.asarray(w, dtype=np.float64))
    arrays: dict[str, npt.NDArray[Any]] = {k: np.concatenate(v) for k, v in columns.items()}
    arrays["CMS_channel"] = arrays["CMS_channel"].astype(np.int32)
    obs_set = R.RooArgSet(*b.observables.values(), cat)
    data = R.RooDataSet.from_numpy(arrays, R.RooArgSet(obs_set, weight), name=name, weight_name="_weight_")
    data.SetName(name)
    data.SetTitle(name)
    if data.numEntries() != arrays["_weight_"].size:
        raise BuildError(f"{name} lost {arrays['_weight_'].size - data.numEntries()} entries outside observable ranges")
    return data


def _process_yield(R: Any, b: _Builder, ch: _Channel, pdf: Any, proc: _Proc) -> Any:
    """``n_exp_final_bin<channel>_proc_<process>``: the process's expected events (Combine's name),
    with Combine's ``combine.channel``/``combine.process``/``combine.signal`` attributes."""
    name = f"n_exp_final_bin{ch.cfg.name}_proc_{proc.name}"
    y = b.own(R.RooEFTYield(name, f"expected {proc.name} events in {ch.cfg.name}", pdf, proc.name))
    y.setStringAttribute("combine.channel", ch.cfg.name)
    y.setStringAttribute("combine.process", proc.name)
    y.setAttribute("combine.signal", bool(proc.cfg.eft))
    return y


def _version() -> str:
    from rooeft import __version__

    return __version__
