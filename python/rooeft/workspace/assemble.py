"""Phase 2b of a workspace build: datasets, ``model_s``, ``ModelConfig``, metadata, and the file.

From the channels read by :mod:`rooeft.workspace.reading` and the pdfs of
:mod:`rooeft.workspace.pdfs` this makes ``data_obs`` (observed data, or the configured Asimov
point), ``data_asimov`` (SM, nominal nuisances), ``sim_<ch>`` per unbinned channel, the
``RooSimultaneous`` ``model_s`` with the constraints, Combine's ``n_exp_final_bin…`` functions,
``ModelConfig`` and ``rooeft_metadata``, and writes the workspace atomically. The names and the
expected-weight formula are those of :mod:`rooeft.workspace.expected`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.config import BinnedChannel, Config, config_hash
from rooeft.templates import new_hist, write_templates
from rooeft.terms import n_terms
from rooeft.workspace import expected
from rooeft.workspace.pdfs import (
    RooObjects,
    binned_pdf,
    effective_size,
    process_yield,
    template_counts,
    unbinned_pdf,
)
from rooeft.workspace.reading import BuildError, ChannelInput

__all__ = ["WORKSPACE_CONVENTION", "BuildResult", "ChannelSummary", "assemble", "templates_path", "write_atomic"]

WORKSPACE_CONVENTION = 1
F64 = npt.NDArray[np.float64]
Columns = tuple[dict[str, F64], F64]
"""Per channel: observable columns and weights of a dataset."""


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


def templates_path(output: str | os.PathLike[str]) -> Path:
    """Where the templates of a workspace file go: ``<dir>/<stem>_templates.root``.

    >>> templates_path("out/ws.root").as_posix()
    'out/ws_templates.root'
    """
    p = Path(output)
    return p.with_name(f"{p.stem}_templates.root")


@dataclass
class _Data:
    """The datasets' contents before they become RooFit objects."""

    data: list[Columns]
    asimov: list[Columns]
    sims: dict[str, dict[str, F64]]
    template_data: dict[str, Any]


def assemble(ROOT: Any, cfg: Config, channels: list[ChannelInput], out: Path, write_template_file: bool) -> BuildResult:
    """Create every RooFit object of the workspace from the read channels and write it to ``out``."""
    R = ROOT
    b = RooObjects(R, cfg)
    for n, (lo, hi) in observable_ranges(channels).items():
        b.observables[n] = b.own(R.RooRealVar(n, n, 0.5 * (lo + hi), lo, hi))
    cat = b.own(R.RooCategory(expected.CATEGORY, expected.CATEGORY))
    for i, ch in enumerate(channels):
        cat.defineType(ch.cfg.name, i)
    pdfs, yields = [], []
    for ch in channels:
        pdf, y = binned_pdf(b, ch) if isinstance(ch.cfg, BinnedChannel) else unbinned_pdf(b, ch)
        pdfs.append(pdf)
        yields.append(y)
    contents = _channel_data(b, cfg, channels, pdfs)
    ws = _workspace(b, cat, channels, pdfs, contents)
    pois, nuisances, globs = _model_config(R, b, ws)
    digest = config_hash(cfg)
    meta = _metadata(cfg, b, channels, yields, nuisances, globs, digest)
    ws.Import(b.own(R.TNamed("rooeft_metadata", json.dumps(meta))))
    write_atomic(ws, out)
    tpl_path = None
    binned = {ch.cfg.name: [p.templates for p in ch.procs if p.templates is not None] for ch in channels}
    binned = {k: v for k, v in binned.items() if v}
    if write_template_file and binned:
        tpl_path = write_templates(templates_path(out), binned, data=contents.template_data)
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
        for ch, y, (_, w) in zip(channels, yields, contents.data, strict=True)
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


def _channel_data(b: RooObjects, cfg: Config, channels: list[ChannelInput], pdfs: list[Any]) -> _Data:
    """Per channel the columns of ``data_obs`` (data or the Asimov point) and ``data_asimov``
    (the SM), the ``sim_<ch>`` columns and the data histograms of the template file."""
    contents = _Data([], [], {}, {})
    sm_point = {c.name: c.sm for c in cfg.coefficients}
    for ch, pdf in zip(channels, pdfs, strict=True):
        c = ch.cfg
        if isinstance(c, BinnedChannel):
            centres = expected.bin_centres(c.workspace_edges())
            sm_counts = template_counts(b, pdf, _theta(cfg, sm_point))
            contents.asimov.append(({c.workspace_observable(): centres}, sm_counts))
            if c.data.asimov is not None:
                counts = template_counts(b, pdf, _theta(cfg, c.data.asimov))
                h = new_hist(c.edges, c.observable.name)
                h.fill(expected.bin_centres(c.edges), weight=counts)
            else:
                h = ch.data_hist
                counts = np.asarray(h.values(), dtype=np.float64)
            contents.template_data[c.name] = h
            contents.data.append(({c.workspace_observable(): centres}, counts))
            continue
        cols, matrix = sim_columns(cfg, ch)
        contents.sims[c.name] = cols
        sim_obs = {n: cols[n] for n in ch.observables}
        contents.asimov.append((sim_obs, expected.expected_weights(matrix, _theta(cfg, sm_point))))
        if c.data.asimov is not None:
            contents.data.append((sim_obs, expected.expected_weights(matrix, _theta(cfg, c.data.asimov))))
        else:
            assert ch.data_obs is not None and ch.data_weights is not None
            contents.data.append((ch.data_obs, ch.data_weights))
    return contents


def _theta(config: Config, point: Mapping[str, float]) -> list[float]:
    """θ at ``point`` in the configuration's coefficient order (others at their SM values)."""
    return expected.theta_vector(config.coefficient_names, point, {c.name: c.sm for c in config.coefficients})


def sim_columns(config: Config, ch: ChannelInput) -> tuple[dict[str, F64], F64]:
    """Observables and per-term weight columns (expected events) of an unbinned channel's
    simulation; masked processes (no expected events) are left out."""
    t = n_terms(len(config.coefficient_names))
    blocks = []
    for p in ch.procs:
        if p.cfg.masked:
            continue
        eft = p.cfg.eft and p.sample.structure_constants is not None
        terms = expected.process_terms(
            p.sample.weights,
            p.sample.structure_constants if eft else None,
            n_terms_=t,
            sum_weights=p.sum_weights if eft else None,
            sm_term_sum=float(p.sample.term_sums()[0]) if eft else None,
        )
        blocks.append((p.sample.observables, terms))
    return expected.sim_columns(config.coefficient_names, ch.observables, blocks)


def _workspace(b: RooObjects, cat: Any, channels: list[ChannelInput], pdfs: list[Any], contents: _Data) -> Any:
    """The workspace with ``model_s``, ``data_obs``, ``data_asimov``, ``sim_<ch>`` and the yields."""
    R = b.ROOT
    weight = b.own(R.RooRealVar(expected.WEIGHT, expected.WEIGHT, 1.0))
    data = dataset(R, b, cat, weight, expected.DATA_OBS, contents.data)
    asimov = dataset(R, b, cat, weight, expected.ASIMOV_DATA, contents.asimov)
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
        b.own(R.RooRealVar(name, name, 0.0, -R.RooNumber.infinity(), R.RooNumber.infinity()))
        for name in expected.term_columns(b.config.coefficient_names)
    ]
    by_name = {c.cfg.name: c for c in channels}
    for name, cols in contents.sims.items():
        ch_obs = [b.observables[n] for n in by_name[name].observables]
        sim_name = expected.sim_name(name)
        sim_data = R.RooDataSet.from_numpy(cols, R.RooArgSet(*ch_obs, *term_vars), name=sim_name)
        sim_data.SetName(sim_name)
        ws.Import(sim_data, Silence=True)
    for ch, pdf in zip(channels, pdfs, strict=True):
        for p in ch.procs:
            ws.Import(process_yield(b, ch, pdf, p), RecycleConflictNodes=True, Silence=True)
    return ws


def _model_config(R: Any, b: RooObjects, ws: Any) -> tuple[list[str], list[str], list[str]]:
    """Import ``ModelConfig``; returns the POIs, nuisances and global observables."""
    pois = list(b.coefs)
    nuisances = list(b.nuisances) + list(b.rates)
    globs = [g.GetName() for g in b.globs]
    mc = R.RooStats.ModelConfig("ModelConfig", ws)
    mc.SetPdf("model_s")
    mc.SetParametersOfInterest(ws.argSet(",".join(pois)))
    mc.SetObservables(ws.argSet(",".join([*b.observables, expected.CATEGORY])))
    if nuisances:
        mc.SetNuisanceParameters(ws.argSet(",".join(nuisances)))
    if globs:
        mc.SetGlobalObservables(ws.argSet(",".join(globs)))
    ws.Import(mc)
    return pois, nuisances, globs


def _metadata(
    cfg: Config,
    b: RooObjects,
    channels: list[ChannelInput],
    yields: list[dict[str, float]],
    nuisances: list[str],
    globs: list[str],
    digest: str,
) -> dict[str, Any]:
    """The JSON of ``rooeft_metadata``."""
    return {
        "convention": WORKSPACE_CONVENTION,
        "rooeft_version": _version(),
        "config_hash": digest,
        "config_name": cfg.name,
        "coefficients": [{"name": c.name, "range": list(c.range), "sm": c.sm} for c in cfg.coefficients],
        "channels": [_channel_metadata(ch, y) for ch, y in zip(channels, yields, strict=True)],
        "nuisances": [
            {"name": n, "kind": "rate" if n in b.rates else ("mc_stats" if n.startswith("prop_bin") else "constrained")}
            for n in nuisances
        ],
        "global_observables": globs,
    }


def _channel_metadata(ch: ChannelInput, y: dict[str, float]) -> dict[str, Any]:
    """The entry of one channel in ``rooeft_metadata``."""
    return {
        "name": ch.cfg.name,
        "kind": ch.cfg.kind,
        "observables": list(ch.observables),
        "processes": [p.name for p in ch.procs],
        "eft_processes": [p.name for p in ch.procs if p.cfg.eft],
        "masked_processes": [p.name for p in ch.procs if p.cfg.masked],
        "yields": y,
        "n_eff": {p.name: effective_size(p.sample.weights) for p in ch.procs},
        "edges": list(ch.cfg.edges) if isinstance(ch.cfg, BinnedChannel) else None,
        "physical_observable": ch.cfg.observable.name if isinstance(ch.cfg, BinnedChannel) else None,
        "workspace_observable": ch.cfg.workspace_observable() if isinstance(ch.cfg, BinnedChannel) else None,
        "data": {"asimov": ch.cfg.data.asimov} if ch.cfg.data.asimov is not None else "observed",
    }


def observable_ranges(channels: Sequence[ChannelInput]) -> dict[str, tuple[float, float]]:
    """Range of every unbinned observable: all simulated and observed values, padded by 1e-6."""
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


def write_atomic(ws: Any, output: Path) -> None:
    """Write the workspace to ``output`` through a temporary file (never a half-written file)."""
    from rooeft.safeio import atomic_write

    if not output.parent.is_dir():
        raise BuildError(f"output directory does not exist: {output.parent}")
    with atomic_write(output, suffix=".root") as tmp:
        ws.writeToFile(str(tmp), True)  # returns a flag whose meaning changed between ROOT versions
        if tmp.stat().st_size == 0:
            raise BuildError(f"writing the workspace to {output} failed")


def dataset(R: Any, b: RooObjects, cat: Any, weight: Any, name: str, per_channel: Sequence[Columns]) -> Any:
    """A weighted ``RooDataSet`` with every observable, ``CMS_channel`` and ``_weight_`` (channel i = entry i)."""
    columns: dict[str, list[F64]] = {n: [] for n in b.observables}
    columns[expected.CATEGORY] = []
    columns[expected.WEIGHT] = []
    for index, (obs, w) in enumerate(per_channel):
        n_rows = w.size
        for vname, var in b.observables.items():
            columns[vname].append(obs[vname] if vname in obs else np.full(n_rows, var.getVal()))
        columns[expected.CATEGORY].append(np.full(n_rows, float(index)))
        columns[expected.WEIGHT].append(np.asarray(w, dtype=np.float64))
    arrays: dict[str, npt.NDArray[Any]] = {k: np.concatenate(v) for k, v in columns.items()}
    arrays[expected.CATEGORY] = arrays[expected.CATEGORY].astype(np.int32)
    obs_set = R.RooArgSet(*b.observables.values(), cat)
    data = R.RooDataSet.from_numpy(arrays, R.RooArgSet(obs_set, weight), name=name, weight_name=expected.WEIGHT)
    data.SetName(name)
    data.SetTitle(name)
    n = arrays[expected.WEIGHT].size
    if data.numEntries() != n:
        raise BuildError(f"{name} lost {n - data.numEntries()} entries outside observable ranges")
    return data


def _version() -> str:
    from rooeft import __version__

    return __version__
