"""Independent simulation for validation toys: a *pool* of events read with a workspace's recipe.

A validation toy study (``rooeft toys WS --config CONFIG --pool PROC=FILE``) draws its
pseudo-experiments from simulation the workspace never saw: another seed of the same generator,
in the same format as the configuration's process files. :func:`read_pool` reads those files per
channel and process with exactly the configuration's recipe for that process (tree, cut, weight,
scale × luminosity scale, the nominal factors of correctionlib corrections, observable
expressions; for binned channels the binned observable, network columns included), using the
workspace builder's own reading functions, into one :class:`PoolChannel` per channel:

* the observable columns the workspace's channel pdf reads (unbinned: the model's inputs; binned:
  the binned observable, with the bin index of every event; events outside the edges are dropped
  as the templates drop them);
* the per-event term-weight matrix in canonical term order (:mod:`rooeft.terms`): expected events
  of the event at θ are ``Σ_t w_t m_t(θ)``. EFT processes carry their structure constants,
  normalised as the builder normalises the workspace's own simulation (``sim_<ch>``: the SM term
  sums to the nominal weight sum); other processes have their weight in the ``w_sm`` column.

A pool is written to (and read from) one compressed ``.npz`` file without pickles
(:meth:`ToyPool.write`, :func:`load_pool`), so worker processes load it by path. It records the
hash of the configuration it was read with; :func:`check_workspace` compares it with the
workspace's ``rooeft_metadata``.

.. note:: The reading uses the builder's own functions of :mod:`rooeft.workspace.reading`
   (:func:`~rooeft.workspace.reading.sample_config`, ``read_sample_files``, ``binned_values``,
   ``check_eft_sample``) and the term matrix of :func:`rooeft.workspace.expected.process_terms`,
   so that the recipe is the builder's by construction.
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

from rooeft.config import BinnedChannel, Config, Process, UnbinnedChannel, config_hash
from rooeft.onnx import OnnxModels
from rooeft.terms import n_terms
from rooeft.workspace.expected import expected_weights, process_terms

__all__ = [
    "POOL_FORMAT",
    "PoolChannel",
    "PoolError",
    "ToyPool",
    "bin_index",
    "check_workspace",
    "generate_zh_pool",
    "load_pool",
    "parse_pool_args",
    "read_pool",
]

F64 = npt.NDArray[np.float64]
#: version of the ``.npz`` layout written by :meth:`ToyPool.write`
POOL_FORMAT = 1


class PoolError(ValueError):
    """A pool that cannot be read or does not match the workspace (the message names the culprit)."""


def bin_index(edges: Sequence[float] | F64, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Bin of every value with the templates' convention (``hist`` variable axis without flow:
    bins are ``[lo, hi)``, the last one ``[lo, hi]``); −1 outside (such events are dropped).

    >>> bin_index([0.0, 1.0, 2.0], [-0.5, 0.0, 0.99, 1.0, 1.99, 2.0, 7.0]).tolist()
    [-1, 0, 0, 1, 1, 1, -1]
    """
    import hist

    e = [float(v) for v in edges]
    axis = hist.axis.Variable(e, flow=False)
    x = np.asarray(values, dtype=np.float64)
    idx = np.asarray(axis.index(x), dtype=np.int64)  # type: ignore[arg-type]  # vectorised in hist
    idx[(idx < 0) | (idx >= len(e) - 1) | ~np.isfinite(x)] = -1
    return idx


@dataclass
class PoolChannel:
    """The pool events of one channel: observable columns, term weights, process and bin index."""

    name: str
    kind: str
    observables: dict[str, F64]
    terms: F64
    """(events, terms): expected events of event i at θ are ``Σ_t m_t(θ) terms[i, t]``
    (:func:`rooeft.workspace.expected.expected_weights`)."""
    process: npt.NDArray[np.int32]
    """Index into :attr:`processes` of every event."""
    processes: tuple[str, ...]
    edges: tuple[float, ...] | None = None
    """Binned channels: the bin edges of the binned observable."""
    bins: npt.NDArray[np.int64] | None = None
    """Binned channels: the bin of every event (all inside the edges)."""
    workspace_edges: tuple[float, ...] | None = None
    """Binned channels: the edges of the channel's observable in the workspace (the physical
    edges, or ``0..n`` for a bin-index observable); default: :attr:`edges`."""

    @property
    def n_events(self) -> int:
        return int(self.terms.shape[0])


def _theta_vector(coefficients: Sequence[str], theta: Mapping[str, float]) -> F64:
    unknown = sorted(set(theta) - set(coefficients))
    if unknown:
        raise PoolError(f"unknown coefficient(s) {unknown}; the pool's coefficients are {list(coefficients)}")
    return np.array([float(theta.get(c, 0.0)) for c in coefficients])


@dataclass
class ToyPool:
    """Independent simulation for validation toys, per channel (see the module docstring)."""

    coefficients: tuple[str, ...]
    config_hash: str
    channels: dict[str, PoolChannel]
    files: dict[str, tuple[str, ...]]
    """Process name → the pool files read for it."""
    info: dict[str, Any] = field(default_factory=dict)
    """Free-form provenance (e.g. the generator command of ``--generate``)."""
    path: Path | None = None
    _cdf: dict[tuple[str, tuple[float, ...]], tuple[F64, F64, float]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ weights
    def weights(self, channel: str, theta: Mapping[str, float]) -> F64:
        """Expected events per pool event of ``channel`` at ``theta`` (missing coefficients: 0)."""
        ch = self._channel(channel)
        return expected_weights(ch.terms, _theta_vector(self.coefficients, theta).tolist())

    def _channel(self, channel: str) -> PoolChannel:
        if channel not in self.channels:
            raise PoolError(f"the pool has no channel '{channel}'; it has {sorted(self.channels)}")
        return self.channels[channel]

    def n_eff(self, theta: Mapping[str, float]) -> dict[str, float]:
        """Effective number of events ``(Σw)²/Σw²`` per channel at ``theta``."""
        out = {}
        for name in self.channels:
            w = self.weights(name, theta)
            s2 = float(np.sum(w * w))
            out[name] = float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0
        return out

    def describe(self, theta: Mapping[str, float]) -> dict[str, Any]:
        """What the toys were drawn from (JSON-ready): files, events, expected events and n_eff
        per channel at ``theta``."""
        n_eff = self.n_eff(theta)
        channels = {}
        for name, ch in self.channels.items():
            counts = np.bincount(ch.process, minlength=len(ch.processes))
            channels[name] = {
                "kind": ch.kind,
                "events": ch.n_events,
                "events_per_process": {p: int(c) for p, c in zip(ch.processes, counts, strict=True)},
                "expected": float(np.sum(self.weights(name, theta))),
                "n_eff": n_eff[name],
            }
        return {
            "path": str(self.path) if self.path is not None else None,
            "config_hash": self.config_hash,
            "files": {p: list(f) for p, f in self.files.items()},
            "truth": {k: float(v) for k, v in theta.items()},
            "channels": channels,
            **({"info": self.info} if self.info else {}),
        }

    # ------------------------------------------------------------------ drawing
    def draw(
        self,
        layout: Mapping[str, tuple[str, Sequence[float] | None, Sequence[str]]],
        theta: Mapping[str, float],
        rng: np.random.Generator,
    ) -> dict[str, tuple[dict[str, F64], F64]]:
        """One pseudo-experiment at ``theta``: per channel (observable columns, weights).

        ``layout`` is the workspace's view per channel: (kind, bin edges or None, observable
        names). Per channel the number of events is Poisson(Σ_i w_i(θ)) and events are drawn with
        replacement with probability ``|w_i|/Σ|w|``; with negative weights present every drawn
        event carries ``sign(w_i) Σ|w|/Σw`` (a weighted toy, as the closure toys do). Binned
        channels return the histogram of the drawn events: one entry per bin at the bin centre
        with the count as weight. The channels are drawn in ``layout`` order from ``rng``.
        """
        out: dict[str, tuple[dict[str, F64], F64]] = {}
        for name, (kind, edges, observables) in layout.items():
            ch = self._channel(name)
            cdf, signs, total = self._sampler(name, theta)
            n = int(rng.poisson(total))
            u = rng.random(n) * cdf[-1]
            idx = np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1)
            w = signs[idx] if signs.size else np.ones(n)
            if kind == "binned":
                assert edges is not None and ch.bins is not None
                e = np.asarray(edges, dtype=np.float64)
                counts = np.bincount(ch.bins[idx], weights=w, minlength=e.size - 1).astype(np.float64)
                out[name] = ({observables[0]: 0.5 * (e[1:] + e[:-1])}, counts)
            else:
                out[name] = ({o: ch.observables[o][idx] for o in observables}, np.asarray(w, dtype=np.float64))
        return out

    def _sampler(self, channel: str, theta: Mapping[str, float]) -> tuple[F64, F64, float]:
        """Cumulative |w| (for inverse-CDF sampling), per-event weights of drawn events (empty
        when all weights are non-negative) and Σw at ``theta`` (cached per point)."""
        key = (channel, tuple(_theta_vector(self.coefficients, theta).tolist()))
        if key not in self._cdf:
            w = self.weights(channel, theta)
            total = float(np.sum(w))
            if not (math.isfinite(total) and total > 0):
                raise PoolError(f"pool channel '{channel}': expected events {total:g} <= 0 at {dict(theta)}")
            absw = np.abs(w)
            cdf = np.cumsum(absw)
            signs = np.sign(w) * (float(cdf[-1]) / total) if np.any(w < 0) else np.zeros(0)
            for k in [k for k in self._cdf if k[1] != key[1]]:  # keep one point: a toy study has one truth
                del self._cdf[k]
            self._cdf[key] = (cdf, signs, total)
        return self._cdf[key]

    def check_layout(self, layout: Mapping[str, tuple[str, Sequence[float] | None, Sequence[str]]], where: str) -> None:
        """The pool has the workspace's channels, kinds, edges and observables (else :class:`PoolError`)."""
        if set(layout) != set(self.channels):
            raise PoolError(
                f"the pool's channels {sorted(self.channels)} are not the channels {sorted(layout)} of {where}"
            )
        for name, (kind, edges, observables) in layout.items():
            ch = self.channels[name]
            if ch.kind != kind:
                raise PoolError(f"channel '{name}' is {kind} in {where} but {ch.kind} in the pool")
            ws_edges = ch.workspace_edges or ch.edges
            if kind == "binned" and (
                ws_edges is None
                or edges is None
                or len(ws_edges) != len(edges)
                or not np.allclose(ws_edges, edges, rtol=1e-9, atol=0.0)
            ):
                raise PoolError(f"channel '{name}': the pool's bin edges {ws_edges} differ from {where}'s {edges}")
            missing = [o for o in observables if o not in ch.observables] if kind == "unbinned" else []
            if missing:
                raise PoolError(f"channel '{name}': the pool lacks observable(s) {missing} of {where}")

    # ------------------------------------------------------------------ file
    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the pool atomically to a compressed ``.npz`` (no pickles); returns the path."""
        from rooeft.safeio import atomic_write

        target = Path(path)
        arrays: dict[str, npt.NDArray[Any]] = {}
        channels = []
        for i, (name, ch) in enumerate(self.channels.items()):
            obs_names = list(ch.observables)
            for j, o in enumerate(obs_names):
                arrays[f"c{i}_obs{j}"] = np.ascontiguousarray(ch.observables[o], dtype=np.float64)
            arrays[f"c{i}_terms"] = np.ascontiguousarray(ch.terms, dtype=np.float64)
            arrays[f"c{i}_process"] = np.ascontiguousarray(ch.process, dtype=np.int32)
            if ch.bins is not None:
                arrays[f"c{i}_bins"] = np.ascontiguousarray(ch.bins, dtype=np.int64)
            channels.append(
                {
                    "name": name,
                    "kind": ch.kind,
                    "observables": obs_names,
                    "processes": list(ch.processes),
                    "edges": list(ch.edges) if ch.edges is not None else None,
                    "workspace_edges": list(ch.workspace_edges) if ch.workspace_edges is not None else None,
                }
            )
        meta = {
            "format": POOL_FORMAT,
            "kind": "rooeft toy pool",
            "coefficients": list(self.coefficients),
            "config_hash": self.config_hash,
            "files": {p: list(f) for p, f in self.files.items()},
            "channels": channels,
            "info": self.info,
        }
        arrays["meta"] = np.array(json.dumps(meta))
        with atomic_write(target, suffix=".npz") as tmp, tmp.open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        self.path = target.resolve()
        return self.path


def _read_npz(path: Path) -> ToyPool:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"][()]))
            if meta.get("kind") != "rooeft toy pool" or meta.get("format") != POOL_FORMAT:
                raise PoolError(f"{path}: not a rooeft toy pool of format {POOL_FORMAT}")
            channels = {}
            for i, c in enumerate(meta["channels"]):
                bins = np.asarray(z[f"c{i}_bins"]) if f"c{i}_bins" in z.files else None
                channels[c["name"]] = PoolChannel(
                    name=c["name"],
                    kind=c["kind"],
                    observables={o: np.asarray(z[f"c{i}_obs{j}"]) for j, o in enumerate(c["observables"])},
                    terms=np.asarray(z[f"c{i}_terms"]),
                    process=np.asarray(z[f"c{i}_process"]),
                    processes=tuple(c["processes"]),
                    edges=tuple(c["edges"]) if c["edges"] is not None else None,
                    bins=bins,
                    workspace_edges=tuple(c["workspace_edges"]) if c.get("workspace_edges") is not None else None,
                )
    except PoolError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PoolError(f"{path}: cannot read the toy pool ({type(err).__name__}: {err})") from None
    return ToyPool(
        coefficients=tuple(meta["coefficients"]),
        config_hash=str(meta["config_hash"]),
        channels=channels,
        files={p: tuple(f) for p, f in meta["files"].items()},
        info=dict(meta.get("info") or {}),
        path=path,
    )


_POOLS: dict[tuple[str, int, int], ToyPool] = {}


def load_pool(path: str | os.PathLike[str]) -> ToyPool:
    """The pool written by :meth:`ToyPool.write` (cached per process while the file is unchanged)."""
    p = Path(path).resolve()
    if not p.is_file():
        raise FileNotFoundError(f"toy pool {p} does not exist")
    st = p.stat()
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _POOLS:
        for k in [k for k in _POOLS if k[0] == key[0]]:
            del _POOLS[k]
        _POOLS[key] = _read_npz(p)
    return _POOLS[key]


# ----------------------------------------------------------------------------------------- reading
def parse_pool_args(items: Sequence[str]) -> dict[str, list[str]]:
    """``["sig=a.root,b.root", "bkg=c.root"]`` → ``{"sig": ["a.root", "b.root"], "bkg": ["c.root"]}``.

    >>> parse_pool_args(["sig=a.root,b.root", "bkg=c.root", "sig=d.root"])
    {'sig': ['a.root', 'b.root', 'd.root'], 'bkg': ['c.root']}
    """
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, files = item.partition("=")
        paths = [f.strip() for f in files.split(",") if f.strip()]
        if not sep or not name.strip() or not paths:
            raise PoolError(f"--pool expects PROCESS=FILE[,FILE...], got {item!r}")
        out.setdefault(name.strip(), []).extend(paths)
    return out


def read_pool(
    config: Config | str | os.PathLike[str],
    pool_files: Mapping[str, Sequence[str | os.PathLike[str]] | str | os.PathLike[str]],
    *,
    info: Mapping[str, Any] | None = None,
) -> ToyPool:
    """Read independent simulation with the configuration's recipe (see the module docstring).

    Parameters
    ----------
    config
        The configuration the workspace was built from (or its YAML path).
    pool_files
        Process name → pool file(s) (same format as the configuration's files of that process);
        every process of the configuration needs files, and a process that appears in several
        channels is read with each channel's recipe.
    info
        Provenance stored with the pool.
    """
    from rooeft.config import load_config

    cfg = config if isinstance(config, Config) else load_config(config)
    files = {
        str(k): [str(v)] if isinstance(v, str | os.PathLike) else [str(f) for f in v] for k, v in pool_files.items()
    }
    needed = list(dict.fromkeys(p.name for ch in cfg.channels for p in ch.processes))
    missing = [p for p in needed if not files.get(p)]
    unknown = sorted(set(files) - set(needed))
    if unknown:
        raise PoolError(f"pool files for unknown process(es) {unknown}; the configuration's processes are {needed}")
    if missing:
        raise PoolError(f"no pool files for process(es) {missing} (give --pool PROCESS=FILE for each of {needed})")
    for p, fs in files.items():
        for f in fs:
            if not Path(f).is_file():
                raise PoolError(f"pool file {f} of process '{p}' does not exist")
    channels = {ch.name: _read_channel(cfg, ch, files) for ch in cfg.channels}
    return ToyPool(
        coefficients=tuple(cfg.coefficient_names),
        config_hash=config_hash(cfg),
        channels=channels,
        files={p: tuple(str(Path(f).resolve()) for f in fs) for p, fs in files.items()},
        info=dict(info or {}),
    )


def _read_channel(cfg: Config, ch: BinnedChannel | UnbinnedChannel, files: Mapping[str, Sequence[str]]) -> PoolChannel:
    from rooeft.workspace.reading import BuildError, channel_observables

    models = OnnxModels()
    try:
        _, read_obs, workspace_observables = channel_observables(ch, models)
    except BuildError as err:
        raise PoolError(str(err)) from None
    observables = list(workspace_observables)
    cols: dict[str, list[F64]] = {o: [] for o in observables}
    terms: list[F64] = []
    process: list[npt.NDArray[np.int32]] = []
    bins: list[npt.NDArray[np.int64]] = []
    for k, p in enumerate(ch.processes):
        where = f"pool for channel '{ch.name}', process '{p.name}' ({', '.join(files[p.name])})"
        sample, values, block = _read_process(cfg, ch, p, files[p.name], read_obs, models, where)
        if p.masked:  # no expected events (as in the workspace's sim_<ch>): never drawn
            block = np.zeros_like(block)
        keep = np.ones(block.shape[0], dtype=bool)
        if values is not None:
            assert isinstance(ch, BinnedChannel)
            idx = bin_index(ch.edges, values)
            keep = idx >= 0
            bins.append(idx[keep])
            cols[observables[0]].append(np.asarray(values, dtype=np.float64)[keep])
        else:
            for o in observables:
                cols[o].append(np.asarray(sample.observables[o], dtype=np.float64))
        if not np.all(np.isfinite(block[keep])):
            raise PoolError(f"{where}: weights or structure constants are NaN or inf")
        terms.append(block[keep])
        process.append(np.full(int(keep.sum()), k, dtype=np.int32))
    return PoolChannel(
        name=ch.name,
        kind=ch.kind,
        observables={o: np.concatenate(v) for o, v in cols.items()},
        terms=np.concatenate(terms, axis=0),
        process=np.concatenate(process),
        processes=tuple(p.name for p in ch.processes),
        edges=tuple(float(e) for e in ch.edges) if isinstance(ch, BinnedChannel) else None,
        bins=np.concatenate(bins) if bins else None,
        workspace_edges=_workspace_edges(ch),
    )


def _read_process(
    cfg: Config,
    ch: BinnedChannel | UnbinnedChannel,
    p: Process,
    files: Sequence[str],
    read_obs: dict[str, str],
    models: OnnxModels,
    where: str,
) -> tuple[Any, F64 | None, F64]:
    """One process's pool sample with the builder's recipe: (sample, binned values or None, term
    matrix normalised as ``sim_<ch>`` is: the SM term sums to the weight sum)."""
    from rooeft.workspace.reading import BuildError, binned_values, check_eft_sample, read_sample_files, sample_config

    try:
        sample = read_sample_files(files, sample_config(cfg, ch.name, p, read_obs), where)
        sample = check_eft_sample(cfg, p, sample, where)
        values = binned_values(ch, sample, where, models) if isinstance(ch, BinnedChannel) else None
    except BuildError as err:
        raise PoolError(str(err)) from None
    w = np.asarray(sample.weights, dtype=np.float64)
    eft = p.eft and sample.structure_constants is not None
    ts0 = float(sample.term_sums()[0]) if eft else None
    if ts0 is not None and not ts0 > 0:
        raise PoolError(f"{where}: SM term sum {ts0:g} is not positive")
    block = process_terms(
        w,
        sample.structure_constants if eft else None,
        n_terms_=n_terms(len(cfg.coefficient_names)),
        sum_weights=float(np.sum(w)) if eft else None,
        sm_term_sum=ts0,
    )
    return sample, values, block


def _workspace_edges(ch: BinnedChannel | UnbinnedChannel) -> tuple[float, ...] | None:
    """The edges of a binned channel's observable in the workspace (a bin-index observable has
    ``0..n``; configurations without that option use the physical edges)."""
    if not isinstance(ch, BinnedChannel):
        return None
    method = getattr(ch, "workspace_edges", None)
    edges = method() if callable(method) else ch.edges
    return tuple(float(e) for e in edges)


def check_workspace(pool_hash: str, metadata: Mapping[str, Any], where: str) -> None:
    """The pool was read with the configuration the workspace was built from (same
    ``config_hash`` as the workspace's ``rooeft_metadata``), else :class:`PoolError`."""
    ws_hash = metadata.get("config_hash")
    if not ws_hash:
        raise PoolError(f"{where} records no config_hash in rooeft_metadata: cannot check the pool's configuration")
    if ws_hash != pool_hash:
        raise PoolError(
            f"the configuration does not match {where}: its hash {pool_hash[:12]}… differs from the workspace's "
            f"{str(ws_hash)[:12]}… (give the YAML the workspace was built from, with the same files and paths)"
        )


# ----------------------------------------------------------------------------------------- ZH example
ZH_FILES = {"zh_signal.root": "signal", "zh_background.root": "background"}
#: default offset of a generated pool's seed from the simulation's seed
POOL_SEED_OFFSET = 1000


def _zh_metadata(path: Path) -> dict[str, Any] | None:
    meta = path.parent / "metadata.json"
    if path.name not in ZH_FILES or not meta.is_file():
        return None
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "ZH" not in str(data.get("description", "")) or "command" not in data:
        return None
    return data


def generate_zh_pool(
    config: Config | str | os.PathLike[str],
    directory: str | os.PathLike[str],
    *,
    n_signal: int = 1_000_000,
    seed: int | None = None,
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Generate independent simulation for a configuration built from ``rooeft generate`` output
    (the ZH example): returns the pool files per process (for :func:`read_pool`) and provenance.

    Every process file must be a ``zh_signal.root``/``zh_background.root`` next to the
    ``metadata.json`` of its generation. Per such folder the recorded command is rerun into
    ``directory`` with only the output folder, the event counts (``n_signal`` generated signal
    events, background in the recorded ratio; samples the configuration does not use are
    skipped), the seed (default: the recorded seed + 1000, plus the folder's index) and no
    pseudo-data changed, so the pool is another seed of the same generator settings.
    """
    import shlex

    from rooeft.config import load_config

    cfg = config if isinstance(config, Config) else load_config(config)
    if n_signal < 1:
        raise PoolError(f"the pool needs at least one generated signal event, got {n_signal}")
    sources: dict[Path, dict[str, Any]] = {}
    uses: dict[tuple[Path, str], set[str]] = {}
    for ch in cfg.channels:
        for p in ch.processes:
            for f in p.files:
                path = Path(f).resolve()
                meta = _zh_metadata(path)
                if meta is None:
                    raise PoolError(
                        f"--generate works for the ZH example only: file {f} of process '{p.name}' is not a "
                        "zh_signal.root/zh_background.root written by 'rooeft generate' (no metadata.json next to "
                        "it); give independent simulation with --pool PROCESS=FILE instead"
                    )
                sources[path.parent] = meta
                uses.setdefault((path.parent, ZH_FILES[path.name]), set()).add(p.name)
    sim_seeds = {int(m.get("seed", -1)) for m in sources.values()}
    out = Path(directory)
    files: dict[str, list[str]] = {}
    info: dict[str, Any] = {"generator": []}
    for k, (folder, meta) in enumerate(sorted(sources.items())):
        s = (int(meta.get("seed", 0)) + POOL_SEED_OFFSET if seed is None else int(seed)) + k
        if s in sim_seeds:
            raise PoolError(
                f"pool seed {s} is the seed of the simulation in {folder}: the pool would not be independent"
            )
        gen = dict(meta.get("samples") or {})
        n_sig_sim = int(gen.get("signal", {}).get("generated", 0) or 0)
        n_bkg_sim = int(gen.get("background", {}).get("generated", 0) or 0)
        want_sig = (folder, "signal") in uses
        want_bkg = (folder, "background") in uses
        n_bkg = (round(n_signal * n_bkg_sim / n_sig_sim) if n_sig_sim and want_sig else n_signal) if want_bkg else 0
        target = (out / f"pool{k}").resolve()
        args = _replace_options(
            shlex.split(str(meta["command"]))[2:],
            {
                "--output-dir": str(target),
                "--n-signal": str(n_signal if want_sig else 0),
                "--n-background": str(n_bkg),
                "--seed": str(s),
            },
        )
        argv = ["generate", *args, "--theta", "none", "--no-progress"]
        from rooeft.cli import main

        try:
            code = main(argv)
        except SystemExit as err:  # argparse: the recorded command no longer parses
            code = int(err.code) if isinstance(err.code, int) else 2
        if code != 0:
            raise PoolError(f"generating the pool failed (exit code {code}): rooeft {shlex.join(argv)}")
        for kind, procs in (
            ("signal", uses.get((folder, "signal"), set())),
            ("background", uses.get((folder, "background"), set())),
        ):
            for proc in procs:
                files.setdefault(proc, []).append(str(target / f"zh_{kind}.root"))
        info["generator"].append({"simulation": str(folder), "command": "rooeft " + shlex.join(argv), "seed": s})
    return files, info


def _replace_options(args: list[str], values: Mapping[str, str]) -> list[str]:
    """Drop ``--opt VALUE``/``--opt=VALUE`` of the given options and ``--theta`` from a
    recorded command line; append the new values.

    >>> _replace_options(["--output-dir", "a", "--seed=1", "--theta", "sm", "--luminosity", "300"], {"--seed": "7"})
    ['--output-dir', 'a', '--luminosity', '300', '--seed', '7']
    """
    drop = {*values, "--theta", "-o"} if "--output-dir" in values else {*values, "--theta"}
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in drop:
            skip = "=" not in a
            continue
        out.append(a)
    for k, v in values.items():
        out += [k, v]
    return out
