"""Reading samples from ROOT TTrees with uproot, chunk by chunk.

Files are iterated with :func:`uproot.iterate` in chunks of ``step_size`` events, so
:func:`stream_sums` needs memory for one chunk only, whatever the file size. Every refusal is a
:class:`~rooeft.samples.errors.SampleError` naming the file, tree and branch.

>>> import numpy as np, tempfile, pathlib
>>> from rooeft.samples import Sample
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> s = Sample(name="bkg", observables={"pt": np.array([10.0, 20.0, 30.0])}, weights=np.ones(3))
>>> path = s.to_root(d / "bkg.root")
>>> r = read_sample(path, cut="pt > 15")
>>> r.name, r.n_events, r.observables["pt"].tolist(), r.has_eft
('bkg', 2, [20.0, 30.0], False)
>>> stream_sums(path, step_size=1).sum_weights
3.0
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.expr import Expression, ExpressionError, compile_expression
from rooeft.samples._exactsum import ExactSum
from rooeft.samples.config import BenchmarkWeights, SampleConfig, StructureConstantBranches
from rooeft.samples.corrections import CorrectionEvaluator
from rooeft.samples.errors import SampleError
from rooeft.samples.morphing import Morphing
from rooeft.samples.naming import DEFAULT_SM
from rooeft.samples.sample import Sample, SampleSums
from rooeft.terms import n_terms

__all__ = ["FileArg", "iter_chunks", "read_sample", "read_variations", "stream_sums"]

log = logging.getLogger(__name__)

FileArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
F64 = npt.NDArray[np.float64]
Array = npt.NDArray[Any]


# ---------------------------------------------------------------------------------------- setup
def _config(config: SampleConfig | None, options: Mapping[str, Any]) -> SampleConfig:
    cfg = config if config is not None else SampleConfig()
    if options:
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(SampleConfig)})
        if unknown:
            raise TypeError(f"unknown SampleConfig options {unknown}")
        cfg = dataclasses.replace(cfg, **options)
    return cfg


def _paths(files: FileArg) -> list[Path]:
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not items:
        raise SampleError("no input files given")
    return [Path(p) for p in items]


def _template_regex(template: str) -> re.Pattern[str]:
    parts = template.split("{0}")
    if len(parts) != 2:
        raise SampleError(f"name template {template!r} must contain '{{0}}' exactly once")
    return re.compile("^" + re.escape(parts[0]) + "(.+)" + re.escape(parts[1]) + "$")


def _open_tree(path: Path, tree: str) -> Any:
    import uproot

    if not path.is_file():
        raise SampleError("input file not found", file=path, tree=tree)
    try:
        f = uproot.open(path)
    except Exception as exc:  # not a ROOT file, truncated, ...
        raise SampleError(f"cannot open as a ROOT file: {exc}", file=path, tree=tree) from exc
    try:
        obj = f[tree]
    except Exception as exc:
        raise SampleError(f"no tree '{tree}' in file (keys {f.keys(cycle=False)})", file=path, tree=tree) from exc
    if not isinstance(obj, uproot.behaviors.TTree.TTree):
        raise SampleError(
            f"object '{tree}' is a {type(obj).__name__}, not a TTree (uproot writes RNTuples for "
            "`file[name] = dict`; write TTrees with `file.mktree`)",
            file=path,
            tree=tree,
        )
    return obj


@dataclass
class _Plan:
    """Resolved expressions for every role (from the first file and the configuration)."""

    tree: str
    observables: dict[str, str]
    spectators: dict[str, str]
    weight: str | None
    coefficients: tuple[str, ...]
    structure_constants: list[str] | None
    benchmarks: BenchmarkWeights | None
    morphing: Morphing | None
    systematics: dict[str, tuple[str, str]]
    corrections: list[CorrectionEvaluator]
    expressions: list[str] = field(default_factory=list)

    def finish(self) -> None:
        exprs: list[str] = []
        exprs += self.observables.values()
        exprs += self.spectators.values()
        if self.weight is not None:
            exprs.append(self.weight)
        exprs += self.structure_constants or []
        if self.benchmarks is not None:
            exprs += self.benchmarks.branches or [str(self.benchmarks.array_branch)]
        for up, down in self.systematics.values():
            exprs += [up, down]
        for ev in self.corrections:
            exprs += ev.expressions.values()
        self.expressions = list(dict.fromkeys(exprs))


def _infer_coefficients(keys: list[str], sc: StructureConstantBranches, path: Path, tree: str) -> tuple[str, ...]:
    lin = _template_regex(sc.linear)
    keyset = set(keys)
    coeffs = []
    for k in keys:
        m = lin.match(k)
        if k != sc.sm and m and sc.quadratic.format(m.group(1), m.group(1)) in keyset:
            coeffs.append(m.group(1))
    if not coeffs:
        raise SampleError(
            f"cannot infer the EFT coefficients: no branches '{sc.linear.format('<c>')}' with "
            f"'{sc.quadratic.format('<c>', '<c>')}'; give StructureConstantBranches(coefficients=...)",
            file=path,
            tree=tree,
        )
    for name in sc.branch_names(coeffs):
        if name not in keyset:
            raise SampleError(
                f"structure-constant branch missing for inferred coefficients {coeffs}",
                file=path,
                tree=tree,
                branch=name,
            )
    return tuple(coeffs)


def _as_mapping(spec: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    if isinstance(spec, str):
        return {spec: spec}
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items()}
    return {str(v): str(v) for v in spec}


def _plan(cfg: SampleConfig, path: Path) -> _Plan:
    tree = _open_tree(path, cfg.tree)
    keys: list[str] = list(tree.keys(recursive=True))
    keyset = set(keys)
    # EFT information
    eft = cfg.eft
    if eft == "auto":
        eft = StructureConstantBranches() if DEFAULT_SM in keyset else None
    coefficients: tuple[str, ...] = ()
    sc_branches: list[str] | None = None
    bench: BenchmarkWeights | None = None
    morphing: Morphing | None = None
    if isinstance(eft, StructureConstantBranches):
        coefficients = (
            tuple(eft.coefficients) if eft.coefficients is not None else _infer_coefficients(keys, eft, path, cfg.tree)
        )
        sc_branches = eft.branch_names(coefficients)
    elif isinstance(eft, BenchmarkWeights):
        bench = eft
        coefficients = tuple(eft.coefficients)
        try:
            morphing = Morphing(
                eft.points, coefficients=coefficients, max_condition=eft.max_condition, holdout=eft.holdout
            )
        except SampleError as exc:
            raise exc.where(file=path, tree=cfg.tree, branch=eft.array_branch) from None
        log.info("morphing %s: condition number %.3g", path, morphing.condition_number)
    # systematics
    up_re, down_re = _template_regex(cfg.systematic_up), _template_regex(cfg.systematic_down)
    systs: dict[str, tuple[str, str]] = {}
    if cfg.systematics == "auto":
        for k in keys:
            m = up_re.match(k)
            if m and cfg.systematic_down.format(m.group(1)) in keyset:
                systs[m.group(1)] = (k, cfg.systematic_down.format(m.group(1)))
    elif isinstance(cfg.systematics, Mapping):
        systs = {str(s): (str(u), str(d)) for s, (u, d) in cfg.systematics.items()}
    elif cfg.systematics is not None:
        names = [cfg.systematics] if isinstance(cfg.systematics, str) else list(cfg.systematics)
        systs = {s: (cfg.systematic_up.format(s), cfg.systematic_down.format(s)) for s in names}
    corrections = []
    for spec in cfg.corrections:
        ev = CorrectionEvaluator(spec)
        if spec.systematic_input is not None and spec.systematic_name in systs:
            raise SampleError(f"systematic '{spec.systematic_name}' is defined twice (weights and correction)")
        corrections.append(ev)
    # columns
    spectators = (
        _as_mapping(cfg.spectators)
        if cfg.spectators is not None
        else {k: k for k in keys if k.startswith(cfg.spectator_prefix) and _is_flat(tree[k])}
    )
    if cfg.observables is not None:
        observables = _as_mapping(cfg.observables)
    else:
        reserved = set(spectators.values()) | set(sc_branches or [])
        reserved |= {cfg.weight} if cfg.weight else set()
        if bench is not None:
            reserved |= set(bench.branches or [str(bench.array_branch)])
        if DEFAULT_SM in keyset or isinstance(eft, StructureConstantBranches):
            sm = eft.sm if isinstance(eft, StructureConstantBranches) else DEFAULT_SM
            lin = (
                _template_regex(eft.linear) if isinstance(eft, StructureConstantBranches) else _template_regex("w_{0}")
            )
            reserved |= {k for k in keys if k == sm or lin.match(k)}
        reserved |= {k for k in keys if up_re.match(k) or down_re.match(k)}
        for k in keys:
            count = getattr(tree[k], "count_branch", None)
            if count is not None:
                reserved.add(count.name)
        observables = {k: k for k in keys if k not in reserved and _is_flat(tree[k])}
    plan = _Plan(
        tree=cfg.tree,
        observables=observables,
        spectators=spectators,
        weight=cfg.weight,
        coefficients=coefficients,
        structure_constants=sc_branches,
        benchmarks=bench,
        morphing=morphing,
        systematics=systs,
        corrections=corrections,
    )
    plan.finish()
    return plan


def _is_flat(branch: Any) -> bool:
    import uproot

    interp = branch.interpretation
    return (
        isinstance(interp, uproot.interpretation.numerical.AsDtype)
        and interp.to_dtype.shape == ()
        and interp.to_dtype.kind in "biuf"
    )


# ---------------------------------------------------------------------------------------- chunks
@dataclass
class _Chunk:
    n: int
    observables: dict[str, Array]
    spectators: dict[str, Array]
    weights: F64
    structure_constants: F64 | None
    systematics: dict[str, tuple[F64, F64]]
    fit_residual: float = 0.0
    holdout_residual: float | None = None


@dataclass(frozen=True)
class _Report:
    """The tree entries of one chunk (before the cut)."""

    tree_entry_start: int
    tree_entry_stop: int


class _Columns:
    """One chunk of branches read by name; ``columns[text]`` computes an expression of the plan.

    Plain branch names give the branch as read (jagged branches stay awkward arrays); any other
    expression is computed by :mod:`rooeft.expr` from flat branches.
    """

    def __init__(self, raw: dict[str, Any], n: int, compiled: Mapping[str, Expression]) -> None:
        self.raw = raw
        self.n = n
        self.compiled = compiled
        self._cache: dict[str, Array] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, text: str) -> Any:
        if text in self.raw:
            return self.raw[text]
        if text not in self._cache:
            self._cache[text] = self.compiled[text].evaluate(self.raw, n_events=self.n)
        return self._cache[text]

    def select(self, mask: npt.NDArray[np.bool_]) -> _Columns:
        return _Columns({k: v[mask] for k, v in self.raw.items()}, int(np.count_nonzero(mask)), self.compiled)


def _compile_plan(plan: _Plan, cfg: SampleConfig) -> tuple[dict[str, Expression], Expression | None]:
    """Parse every expression of the plan (and the cut) with rooeft's expression grammar."""
    roles: dict[str, str] = {}
    for k, e in plan.observables.items():
        roles.setdefault(e, f"observable '{k}'")
    for k, e in plan.spectators.items():
        roles.setdefault(e, f"spectator '{k}'")
    if plan.weight is not None:
        roles.setdefault(plan.weight, "weight")
    for s, (up, down) in plan.systematics.items():
        roles.setdefault(up, f"systematic '{s}' up weight")
        roles.setdefault(down, f"systematic '{s}' down weight")
    for ev in plan.corrections:
        for n, e in ev.expressions.items():
            roles.setdefault(e, f"correction '{ev.spec.correction}' input '{n}'")
    compiled = {}
    for text in plan.expressions:
        try:
            compiled[text] = compile_expression(text, field=roles.get(text, "branch"))
        except ExpressionError as exc:
            raise SampleError(str(exc), tree=plan.tree) from None
    cut = None
    if cfg.cut is not None:
        try:
            cut = compile_expression(cfg.cut, field="cut")
        except ExpressionError as exc:
            raise SampleError(str(exc), tree=plan.tree) from None
    return compiled, cut


def _iter_arrays(paths: list[Path], plan: _Plan, cfg: SampleConfig) -> Iterator[tuple[Path, Any, Any]]:
    """Read the branches the plan needs, by name, chunk by chunk; apply the cut with numpy."""
    compiled, cut = _compile_plan(plan, cfg)
    used: dict[str, str] = {}  # branch -> an expression that reads it
    for e in [*compiled.values(), *([cut] if cut is not None else [])]:
        for b in e.branches:
            used.setdefault(b, "" if e.is_branch else f" (used in {e.field} {e.text!r})")
    raw_only = set()
    if plan.benchmarks is not None and plan.benchmarks.array_branch is not None:
        raw_only.add(str(plan.benchmarks.array_branch))
    for path in paths:
        tree = _open_tree(path, plan.tree)
        keyset = set(tree.keys(recursive=True))
        for b, where in used.items():
            if b not in keyset:
                raise SampleError(f"missing branch{where}", file=path, tree=plan.tree, branch=b)
            if b not in raw_only and not _is_flat(tree[b]):
                raise SampleError(
                    f"not one value per event (jagged or object branch){where}",
                    file=path,
                    tree=plan.tree,
                    branch=b,
                )
        n_entries = int(tree.num_entries)
        for start in range(0, n_entries, cfg.step_size):
            stop = min(start + cfg.step_size, n_entries)
            raw: dict[str, Any] = {}
            for b in used:
                try:
                    raw[b] = tree[b].array(entry_start=start, entry_stop=stop, library="ak" if b in raw_only else "np")
                except Exception as exc:  # truncated or corrupt baskets surface as many exception types
                    raise SampleError(
                        f"cannot read entries {start}-{stop} ({type(exc).__name__}: {exc}); the file may be "
                        "truncated or corrupt",
                        file=path,
                        tree=plan.tree,
                        branch=b,
                    ) from None
            cols = _Columns(raw, stop - start, compiled)
            if cut is not None:
                cols = cols.select(cut.selects(raw, n_events=stop - start))
            yield path, cols, _Report(start, stop)


def _column(arrays: Any, expr: str, path: Path, tree: str) -> Array:
    import awkward as ak

    try:
        out = np.asarray(ak.to_numpy(arrays[expr]))
    except (ValueError, TypeError) as exc:
        raise SampleError(
            "not one value per event (jagged or missing values)", file=path, tree=tree, branch=expr
        ) from exc
    if out.ndim != 1:
        raise SampleError(f"{out.shape[1:]} values per event; need one", file=path, tree=tree, branch=expr)
    return out


def _finite64(a: Array, what: str, expr: str, path: Path, tree: str, report: Any) -> F64:
    out = np.asarray(a, dtype=np.float64)
    bad = np.asarray(~np.isfinite(out).reshape(out.shape[0], -1).all(axis=1))
    if bad.any():
        raise SampleError(
            f"{what} is NaN or inf ({int(bad.sum())} events in entries "
            f"{report.tree_entry_start}-{report.tree_entry_stop})",
            file=path,
            tree=tree,
            branch=expr,
        )
    return out


def _benchmark_matrix(arrays: Any, bench: BenchmarkWeights, path: Path, tree: str) -> Array:
    import awkward as ak

    k = len(bench.points)
    if bench.branches is not None:
        return np.stack([_column(arrays, b, path, tree) for b in bench.branches], axis=1)
    name = str(bench.array_branch)
    arr = arrays[name]
    if arr.ndim != 2:
        raise SampleError(f"benchmark weight branch must hold {k} values per event", file=path, tree=tree, branch=name)
    counts = np.asarray(ak.num(arr, axis=1))
    if np.any(counts != k):
        bad = sorted(set(np.unique(counts).tolist()) - {k})
        raise SampleError(
            f"inconsistent benchmark definition: {k} benchmark points but events with {bad} weights",
            file=path,
            tree=tree,
            branch=name,
        )
    return np.asarray(ak.to_numpy(ak.to_regular(arr, axis=1)))


def _process(arrays: Any, report: Any, plan: _Plan, cfg: SampleConfig, path: Path) -> _Chunk:
    tree = plan.tree
    n = len(arrays)
    obs = {k: _column(arrays, e, path, tree) for k, e in plan.observables.items()}
    spec = {k: _column(arrays, e, path, tree) for k, e in plan.spectators.items()}
    w0 = (
        np.ones(n)
        if plan.weight is None
        else _finite64(_column(arrays, plan.weight, path, tree), "nominal weight", plan.weight, path, tree, report)
    )
    if cfg.scale != 1.0:
        w0 = w0 * cfg.scale
    factors = []
    for ev in plan.corrections:
        cols = {e: _column(arrays, e, path, tree) for e in ev.expressions.values()}
        try:
            factors.append(ev.evaluate(cols, n_events=n))
        except SampleError as exc:
            raise exc.where(file=path, tree=tree) from None
    prod = np.prod([f.nominal for f in factors], axis=0) if factors else np.ones(n)
    weights = w0 * prod
    sc: F64 | None = None
    fit_res, hold_res = 0.0, None
    if plan.structure_constants is not None:
        sc = np.stack(
            [
                _finite64(_column(arrays, b, path, tree), "structure constant", b, path, tree, report)
                for b in plan.structure_constants
            ],
            axis=1,
        )
    elif plan.benchmarks is not None and plan.morphing is not None:
        label = plan.benchmarks.array_branch or ",".join(plan.benchmarks.branches or [])
        bw = _finite64(
            _benchmark_matrix(arrays, plan.benchmarks, path, tree), "benchmark weight", label, path, tree, report
        )
        try:
            res = plan.morphing.solve_verified(bw, max_residual=plan.benchmarks.max_residual)
        except SampleError as exc:
            raise exc.where(file=path, tree=tree, branch=label) from None
        sc, fit_res, hold_res = res.structure_constants, res.fit_residual, res.residual
    if sc is not None:
        sc = sc * (cfg.scale * prod)[:, None]
    systs: dict[str, tuple[F64, F64]] = {}
    for name, (up_e, down_e) in plan.systematics.items():
        pair = []
        for e in (up_e, down_e):
            v = _finite64(_column(arrays, e, path, tree), f"systematic '{name}' weight", e, path, tree, report)
            v = v * w0 if cfg.systematics_are_factors else v * cfg.scale
            pair.append(v * prod)
        systs[name] = (pair[0], pair[1])
    for j, (ev, f) in enumerate(zip(plan.corrections, factors, strict=True)):
        if f.up is None or f.down is None:
            continue
        others = np.prod([g.nominal for i, g in enumerate(factors) if i != j], axis=0) if len(factors) > 1 else 1.0
        systs[ev.spec.systematic_name] = (w0 * f.up * others, w0 * f.down * others)
    return _Chunk(n, obs, spec, weights, sc, systs, fit_res, hold_res)


def _chunks(files: FileArg, cfg: SampleConfig) -> tuple[_Plan, list[Path], Iterator[_Chunk]]:
    paths = _paths(files)
    plan = _plan(cfg, paths[0])

    def gen() -> Iterator[_Chunk]:
        for path, arrays, report in _iter_arrays(paths, plan, cfg):
            if len(arrays) == 0:
                continue
            yield _process(arrays, report, plan, cfg, path)

    return plan, paths, gen()


def _empty(paths: list[Path], cfg: SampleConfig) -> SampleError:
    what = f"the cut {cfg.cut!r} selects no event" if cfg.cut else "no events"
    return SampleError(f"empty selection: {what}", file=", ".join(map(str, paths)), tree=cfg.tree)


def _name(cfg: SampleConfig, paths: list[Path]) -> str:
    return cfg.name if cfg.name is not None else paths[0].name.split(".")[0]


def _metadata(plan: _Plan, paths: list[Path], cfg: SampleConfig, fit: float, hold: float | None) -> dict[str, object]:
    meta: dict[str, object] = {"files": [str(p) for p in paths], "tree": plan.tree, "cut": cfg.cut}
    if plan.morphing is not None:
        meta.update(
            morphing_condition_number=plan.morphing.condition_number,
            morphing_raw_condition_number=plan.morphing.raw_condition_number,
            morphing_fit_residual=fit,
            morphing_holdout_residual=hold,
        )
    return meta


# ---------------------------------------------------------------------------------------- public
def read_sample(files: FileArg, config: SampleConfig | None = None, **options: Any) -> Sample:
    """Read one sample (all selected events of all ``files``) into memory.

    ``options`` override fields of ``config`` (see :class:`~rooeft.samples.config.SampleConfig`).
    """
    cfg = _config(config, options)
    plan, paths, chunks = _chunks(files, cfg)
    parts = list(chunks)
    if not parts:
        raise _empty(paths, cfg)

    def cat(get: Any) -> Any:
        return np.concatenate([get(c) for c in parts]) if len(parts) > 1 else get(parts[0])

    sc = None if plan.morphing is None and plan.structure_constants is None else cat(lambda c: c.structure_constants)
    holds = [c.holdout_residual for c in parts if c.holdout_residual is not None]
    return Sample(
        name=_name(cfg, paths),
        observables={k: cat(lambda c, k=k: c.observables[k]) for k in plan.observables},
        spectators={k: cat(lambda c, k=k: c.spectators[k]) for k in plan.spectators},
        weights=cat(lambda c: c.weights),
        coefficients=plan.coefficients,
        structure_constants=sc,
        systematics={
            s: (cat(lambda c, s=s: c.systematics[s][0]), cat(lambda c, s=s: c.systematics[s][1]))
            for s in parts[0].systematics
        },
        sources=tuple(str(p.resolve()) for p in paths),
        tree=plan.tree,
        metadata=_metadata(plan, paths, cfg, max(c.fit_residual for c in parts), max(holds) if holds else None),
    )


def iter_chunks(files: FileArg, config: SampleConfig | None = None, **options: Any) -> Iterator[Sample]:
    """Yield the selected events chunk by chunk as :class:`Sample` objects (empty chunks skipped)."""
    cfg = _config(config, options)
    plan, paths, chunks = _chunks(files, cfg)
    name = _name(cfg, paths)
    for c in chunks:
        yield Sample(
            name=name,
            observables=c.observables,
            spectators=c.spectators,
            weights=c.weights,
            coefficients=plan.coefficients,
            structure_constants=c.structure_constants,
            systematics=c.systematics,
            sources=tuple(str(p.resolve()) for p in paths),
            tree=plan.tree,
        )


def stream_sums(files: FileArg, config: SampleConfig | None = None, **options: Any) -> SampleSums:
    """Yield, per-term and systematic sums over ``files`` without holding more than one chunk.

    The sums are exactly rounded, so they equal ``read_sample(...).sums()`` bit for bit,
    whatever ``step_size`` and however the events are split into files.
    """
    cfg = _config(config, options)
    plan, paths, chunks = _chunks(files, cfg)
    has_eft = plan.structure_constants is not None or plan.morphing is not None
    t = n_terms(len(plan.coefficients))
    acc_w = ExactSum(2)
    acc_t = ExactSum(t) if has_eft else None
    acc_s: ExactSum | None = None
    syst_names: list[str] = []
    n = 0
    for c in chunks:
        n += c.n
        acc_w.add(np.stack([c.weights, c.weights * c.weights], axis=1))
        if acc_t is not None and c.structure_constants is not None:
            acc_t.add(c.structure_constants)
        if acc_s is None:
            syst_names = list(c.systematics)
            acc_s = ExactSum(2 * len(syst_names))
        if syst_names:
            acc_s.add(np.stack([a for s in syst_names for a in c.systematics[s]], axis=1))
    if n == 0:
        raise _empty(paths, cfg)
    sw, sw2 = acc_w.result().tolist()
    r = acc_s.result().tolist() if acc_s is not None else []
    return SampleSums(
        name=_name(cfg, paths),
        n_events=n,
        sum_weights=sw,
        sum_weights2=sw2,
        coefficients=plan.coefficients,
        term_sums=acc_t.result() if acc_t is not None else None,
        systematic_sums={s: (r[2 * i], r[2 * i + 1]) for i, s in enumerate(syst_names)},
    )


def read_variations(
    variations: Mapping[str, tuple[FileArg, FileArg]],
    config: SampleConfig | None = None,
    **options: Any,
) -> dict[str, tuple[Sample, Sample]]:
    """Read sample-based systematic variations: name → (up files, down files).

    Each varied sample is read like the nominal one (same configuration) and named
    ``<name>_<syst>Up`` / ``<name>_<syst>Down``.
    """
    cfg = _config(config, options)
    out: dict[str, tuple[Sample, Sample]] = {}
    for syst, (up_files, down_files) in variations.items():
        pair = []
        for label, files in (("Up", up_files), ("Down", down_files)):
            base = cfg.name if cfg.name is not None else _paths(files)[0].name.split(".")[0]
            pair.append(read_sample(files, dataclasses.replace(cfg, name=f"{base}_{syst}{label}")))
        out[syst] = (pair[0], pair[1])
    return out
