"""Phase 2a of a workspace build: the RooFit parameters and channel pdfs.

:class:`RooObjects` creates and keeps alive the coefficients, nuisances (each with its Gaussian
constraint ``<nu>_Pdf`` and global observable ``<nu>_In``), rate parameters and observables;
:func:`binned_pdf` makes a channel's ``RooEFTTemplatePdf`` from its templates and
:func:`unbinned_pdf` a channel's ``RooEFTUnbinnedPdf`` from its model and simulation sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.config import (
    BinnedChannel,
    Config,
    CorrectionSystematic,
    LearnedSystematic,
    LnNSystematic,
    RateSystematic,
    UnbinnedChannel,
    WeightSystematic,
)
from rooeft.workspace import expected
from rooeft.workspace.reading import BuildError, ChannelInput, ProcessInput

__all__ = [
    "GLOBAL_MARGIN_SIGMAS",
    "NORM_SAMPLE_MAX",
    "NUISANCE_RANGE",
    "RooObjects",
    "binned_pdf",
    "effective_size",
    "process_yield",
    "template_counts",
    "unbinned_pdf",
]

F64 = npt.NDArray[np.float64]
NUISANCE_RANGE = (-5.0, 5.0)
#: the global observable of a constraint extends this many σ beyond its nuisance's range, so that
#: RooFit's normalisation of the Gaussian over that range is 1 to double precision for every
#: allowed nuisance value: the constraint is the untruncated Gaussian of Combine's convention
GLOBAL_MARGIN_SIGMAS = 10.0
NORM_SAMPLE_MAX = 200_000
"""Events of the simulation kept for the shape normalisation of an unbinned pdf."""


class RooObjects:
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
        """Keep ``obj`` alive as long as the build; returns it."""
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
        """The rate parameter or constrained nuisance ``name`` (created on first use)."""
        if name in self.rates:
            return self.rates[name]
        return self.constrained(name, lo=NUISANCE_RANGE[0], hi=NUISANCE_RANGE[1])

    def rate(self, s: RateSystematic) -> Any:
        """The free rate parameter of ``s`` (created on first use)."""
        if s.name not in self.rates:
            v = self.own(self.ROOT.RooRealVar(s.name, s.name, s.init, s.range[0], s.range[1]))
            self.rates[s.name] = v
        return self.rates[s.name]

    def mc_stats_gamma(self, name: str, rel: float) -> Any:
        """A Barlow-Beeston-lite parameter ``name`` of relative width ``rel``."""
        lo, hi = max(1e-3, 1.0 - 5.0 * rel), 1.0 + 5.0 * rel
        return self.constrained(name, nominal=1.0, sigma=rel, lo=lo, hi=hi)


def binned_pdf(b: RooObjects, ch: ChannelInput) -> tuple[Any, dict[str, float]]:
    """The ``RooEFTTemplatePdf`` of a binned channel and its nominal yields per process."""
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
        pdf.setBinParameters(R.RooArgList(*_bin_gammas(b, cfg, ch.procs, len(edges) - 1)))
    return pdf, yields


def _bin_gammas(b: RooObjects, cfg: BinnedChannel, procs: list[ProcessInput], n_bins: int) -> list[Any]:
    """Per bin a ``prop_bin<ch>_bin<i>`` parameter, or the constant 1 below the threshold."""
    assert cfg.mc_stats is not None
    sumw = np.sum([np.asarray(p.templates.nominal.values()) for p in procs if p.templates], axis=0)
    sumw2 = np.sum([np.asarray(p.templates.nominal.variances()) for p in procs if p.templates], axis=0)
    gammas = []
    for i in range(n_bins):
        rel = float(np.sqrt(sumw2[i]) / sumw[i]) if sumw[i] > 0 else 0.0
        if sumw[i] > 0 and rel > cfg.mc_stats.threshold and rel > 0:
            gammas.append(b.mc_stats_gamma(f"prop_bin{cfg.name}_bin{i}", rel))
        else:
            gammas.append(b.own(b.ROOT.RooConstVar(f"one_{cfg.name}_bin{i}", "1", 1.0)))
    return gammas


def unbinned_pdf(b: RooObjects, ch: ChannelInput) -> tuple[Any, dict[str, float]]:
    """The ``RooEFTUnbinnedPdf`` of an unbinned channel and its nominal yields per process.

    A masked process (``masked: true``) gets the constant rate modifier 0 and no MC-statistics
    parameter; its events still normalise the shape (:func:`_set_normalisation_sample`). The
    closed-form kernel reads the constant as a fixed rate (no gradient)."""
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
        yields[p.name] = _unbinned_process(b, cfg, pdf, p, order, lnn)
        if p.cfg.masked:  # zero expected events; its events stay in the normalisation sample
            mask = b.own(R.RooConstVar(f"mask_{cfg.name}_{p.name}", f"{p.name} masked in {cfg.name}", 0.0))
            pdf.setRateModifier(p.name, mask)
            yields[p.name] = 0.0
    for name, (ups, downs) in lnn.items():
        pdf.addNormSystematic(b.nuisance(name), ups, downs, 4)
    if cfg.mc_stats is not None:
        for p in ch.procs:
            if p.cfg.masked:
                continue
            rel = 1.0 / math.sqrt(effective_size(p.sample.weights))
            if rel > cfg.mc_stats.threshold:
                pdf.setRateModifier(p.name, b.mc_stats_gamma(f"prop_bin{cfg.name}_proc_{p.name}", rel))
    _set_normalisation_sample(R, pdf, ch, list(iface.observables))
    return pdf, yields


def _unbinned_process(
    b: RooObjects,
    cfg: UnbinnedChannel,
    pdf: Any,
    p: ProcessInput,
    order: Sequence[str],
    lnn: dict[str, tuple[list[float], list[float]]],
) -> float:
    """Yield, cross-section polynomial and systematics of one process (lnN effects collected in
    ``lnn`` per nuisance, in the pdf's process ``order``); returns the nominal yield."""
    n0 = p.sum_weights
    pdf.setYield(p.name, n0)
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
    return n0


def _set_normalisation_sample(R: Any, pdf: Any, ch: ChannelInput, observables: list[str]) -> None:
    """shape × rate: the shape is normalised by the learned R integrated over the channel's
    simulation (an unbiased subsample of at most :data:`NORM_SAMPLE_MAX` events, weights rescaled)."""
    x = np.concatenate([p.sample.observable_matrix(observables) for p in ch.procs])
    w = np.concatenate([np.asarray(p.sample.weights, dtype=np.float64) for p in ch.procs])
    if x.shape[0] > NORM_SAMPLE_MAX:
        keep = np.random.default_rng(12345).choice(x.shape[0], NORM_SAMPLE_MAX, replace=False)
        x, w = x[keep], w[keep] * (w.sum() / w[keep].sum())
    pdf.setNormalisationSample(
        R.std.vector["float"](np.ascontiguousarray(x, dtype=np.float32).ravel()), R.std.vector["double"](w)
    )


def effective_size(weights: npt.ArrayLike) -> float:
    """Kish's effective sample size ``(Σw)²/Σw²`` of weighted events (0 for no events).

    >>> effective_size([1.0, 1.0, 1.0, 1.0]), effective_size([1.0, 3.0])
    (4.0, 1.6)
    """
    w = np.asarray(weights, dtype=np.float64)
    w2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / w2 if w2 > 0 else 0.0


def template_counts(b: RooObjects, pdf: Any, theta: Sequence[float]) -> F64:
    """Expected counts per bin of a template pdf at ``theta`` (nuisances at their current, nominal values)."""
    saved = [v.getVal() for v in b.coefs.values()]
    try:
        for v, val in zip(b.coefs.values(), theta, strict=True):
            v.setVal(val)
        return np.asarray(list(pdf.binYields()), dtype=np.float64)
    finally:
        for v, val in zip(b.coefs.values(), saved, strict=True):
            v.setVal(val)


def process_yield(b: RooObjects, ch: ChannelInput, pdf: Any, proc: ProcessInput) -> Any:
    """``n_exp_final_bin<channel>_proc_<process>``: the process's expected events (Combine's name),
    with Combine's ``combine.channel``/``combine.process``/``combine.signal`` attributes."""
    name = expected.yield_name(ch.cfg.name, proc.name)
    y = b.own(b.ROOT.RooEFTYield(name, f"expected {proc.name} events in {ch.cfg.name}", pdf, proc.name))
    y.setStringAttribute("combine.channel", ch.cfg.name)
    y.setStringAttribute("combine.process", proc.name)
    y.setAttribute("combine.signal", bool(proc.cfg.eft))
    return y
