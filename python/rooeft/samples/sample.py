"""The in-memory :class:`Sample` and the streamed :class:`SampleSums`.

>>> import numpy as np
>>> s = Sample(
...     name="zh",
...     observables={"pt": np.array([10.0, 20.0, 30.0])},
...     weights=np.array([1.0, 1.0, 2.0]),
...     coefficients=("cHW",),
...     structure_constants=np.array([[1.0, 0.25, 0.125], [1.0, -0.5, 0.25], [2.0, 0.75, 0.0]]),
...     systematics={"lumi": (np.full(3, 1.02), np.full(3, 0.98))},
... )
>>> s.n_events, s.term_labels
(3, ['sm', 'cHW', 'cHW*cHW'])
>>> s.term_sums().tolist()
[4.0, 0.5, 0.375]
>>> s.sigma([1.0]), s.sigma([[0.0], [1.0]]).tolist()
(4.875, [4.0, 4.875])
>>> s.weights_at([2.0]).tolist()
[2.0, 1.0, 3.5]
>>> s.select(s.observables["pt"] > 15).n_events
2
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.samples._exactsum import ExactSum
from rooeft.samples.errors import SampleError
from rooeft.samples.naming import DEFAULT_TREE, DEFAULT_WEIGHT, structure_constant_branches, systematic_branches
from rooeft.terms import monomials, n_terms, term_labels

__all__ = ["Sample", "SampleSums"]

F64 = npt.NDArray[np.float64]
Array = npt.NDArray[Any]


def _readonly(a: Array) -> Array:
    v = a.view()
    v.flags.writeable = False
    return v


def _finite(arr: Array, what: str, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr).reshape(arr.shape[0], -1).all(axis=1))[0])
        raise SampleError(f"{what} of sample '{name}' contain NaN or inf (first at event {bad})")


def _theta_points(theta: npt.ArrayLike, n: int, name: str) -> tuple[F64, bool]:
    t = np.asarray(theta, dtype=np.float64)
    single = t.ndim <= 1
    t2 = t.reshape(1, -1) if single else t
    if t2.ndim != 2 or t2.shape[1] != n:
        raise SampleError(f"sample '{name}' has {n} coefficients, got θ of shape {t.shape}")
    return t2, single


@dataclass(frozen=True)
class SampleSums:
    """Sums over the events of a sample (computed in memory or streamed chunk by chunk).

    All sums are exactly rounded (independent of event order and chunking).
    """

    name: str
    n_events: int
    sum_weights: float
    sum_weights2: float
    coefficients: tuple[str, ...]
    term_sums: F64 | None
    """Per-term sums of the structure constants, canonical order, or ``None`` (no EFT)."""
    systematic_sums: Mapping[str, tuple[float, float]]
    """Systematic name → (sum of up weights, sum of down weights)."""

    def sigma(self, theta: npt.ArrayLike) -> float | F64:
        """Cross-section polynomial Σ_i w_i(θ); ``θ`` of shape ``(n,)`` or ``(m, n)``.

        Without structure constants the sum of nominal weights (independent of θ).
        """
        if self.term_sums is None:
            t = np.asarray(theta, dtype=np.float64)
            return self.sum_weights if t.ndim <= 1 else np.full(t.shape[0], self.sum_weights)
        pts, single = _theta_points(theta, len(self.coefficients), self.name)
        out = monomials(pts) @ self.term_sums
        return float(out[0]) if single else np.asarray(out, dtype=np.float64)


@dataclass(frozen=True, kw_only=True, eq=False)
class Sample:
    """Events of one process: observables, weights, EFT structure constants and systematics.

    Arrays are stored as read-only views (inputs are never copied nor modified); all columns
    have one entry per event. Observables may be given as a dict or a structured array.

    Parameters
    ----------
    name
        Process name.
    observables
        Observable name → 1D array (any numeric dtype), or a structured array with named fields.
    weights
        Nominal per-event weights (negative allowed, finite).
    coefficients
        Names of the Wilson coefficients (empty without EFT information).
    structure_constants
        ``(N, T)`` per-event structure constants in canonical order, or ``None``.
    systematics
        Systematic name → (up weights, down weights), absolute weights at the nominal θ.
    spectators
        Extra per-event columns carried along (e.g. ``truth_*``), not used as observables.
    sources
        Files the sample was read from (:meth:`to_root` refuses to overwrite them).
    tree
        Tree the sample was read from.
    metadata
        Free-form provenance (e.g. the morphing condition number); not written by :meth:`to_root`.
    """

    name: str
    observables: Mapping[str, Array]
    weights: F64
    coefficients: tuple[str, ...] = ()
    structure_constants: F64 | None = None
    systematics: Mapping[str, tuple[F64, F64]] = field(default_factory=dict)
    spectators: Mapping[str, Array] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    tree: str = DEFAULT_TREE
    metadata: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.name
        w = np.asarray(self.weights)
        if w.ndim != 1:
            raise SampleError(f"weights of sample '{name}' must be 1D, got shape {w.shape}")
        n = w.shape[0]
        if n == 0:
            raise SampleError(f"sample '{name}' has no events")
        w = w.astype(np.float64, copy=False)
        _finite(w, "weights", name)
        obs_in: Any = self.observables
        if isinstance(obs_in, np.ndarray) and obs_in.dtype.names is not None:
            obs_in = {k: obs_in[k] for k in obs_in.dtype.names}
        obs = self._columns(obs_in, n, "observable")
        spec = self._columns(self.spectators, n, "spectator")
        clash = set(obs) & set(spec)
        if clash:
            raise SampleError(f"sample '{name}': names both observable and spectator: {sorted(clash)}")
        coeffs = tuple(str(c) for c in self.coefficients)
        sc = self.structure_constants
        if sc is not None:
            sc = np.asarray(sc).astype(np.float64, copy=False)
            t = n_terms(len(coeffs))
            if sc.shape != (n, t):
                raise SampleError(
                    f"structure constants of sample '{name}' have shape {sc.shape}, expected ({n}, {t}) "
                    f"for coefficients {list(coeffs)}"
                )
            _finite(sc, "structure constants", name)
            sc = _readonly(sc)
        elif coeffs:
            raise SampleError(f"sample '{name}' names coefficients {list(coeffs)} but has no structure constants")
        systs: dict[str, tuple[F64, F64]] = {}
        for syst, pair in self.systematics.items():
            if len(pair) != 2:
                raise SampleError(f"systematic '{syst}' of sample '{name}' must be an (up, down) pair")
            ud = []
            for label, arr in zip(("Up", "Down"), pair, strict=True):
                a = np.asarray(arr)
                if a.shape != (n,):
                    raise SampleError(
                        f"systematic '{syst}{label}' of sample '{name}' has shape {a.shape}, expected ({n},)"
                    )
                a = a.astype(np.float64, copy=False)
                _finite(a, f"systematic '{syst}{label}' weights", name)
                ud.append(_readonly(a))
            systs[str(syst)] = (ud[0], ud[1])
        object.__setattr__(self, "weights", _readonly(w))
        object.__setattr__(self, "observables", MappingProxyType(obs))
        object.__setattr__(self, "spectators", MappingProxyType(spec))
        object.__setattr__(self, "coefficients", coeffs)
        object.__setattr__(self, "structure_constants", sc)
        object.__setattr__(self, "systematics", MappingProxyType(systs))
        object.__setattr__(self, "sources", tuple(str(s) for s in self.sources))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def _columns(self, cols: Mapping[str, Any], n: int, what: str) -> dict[str, Array]:
        out: dict[str, Array] = {}
        for key, arr in cols.items():
            a = np.asarray(arr)
            if a.shape != (n,):
                raise SampleError(f"{what} '{key}' of sample '{self.name}' has shape {a.shape}, expected ({n},)")
            if a.dtype.kind not in "biuf":
                raise SampleError(f"{what} '{key}' of sample '{self.name}' is not numeric (dtype {a.dtype})")
            out[str(key)] = _readonly(a)
        return out

    # ------------------------------------------------------------------ basic properties
    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.weights.shape[0])

    @property
    def n_terms(self) -> int:
        """Number of polynomial terms ``T`` (1 without EFT information)."""
        return n_terms(len(self.coefficients))

    @property
    def term_labels(self) -> list[str]:
        """Labels of the terms in canonical order (``['sm', 'c', 'c*c', ...]``)."""
        return term_labels(self.coefficients)

    @property
    def has_eft(self) -> bool:
        """Whether the sample carries structure constants."""
        return self.structure_constants is not None

    def observable_matrix(self, names: list[str] | None = None) -> F64:
        """``(N, n_obs)`` float64 matrix of the observables ``names`` (default: all, in order)."""
        keys = list(self.observables) if names is None else names
        missing = [k for k in keys if k not in self.observables]
        if missing:
            raise SampleError(f"sample '{self.name}' has no observables {missing}")
        return np.stack([np.asarray(self.observables[k], dtype=np.float64) for k in keys], axis=1)

    # ------------------------------------------------------------------ EFT
    def weights_at(self, theta: npt.ArrayLike) -> F64:
        """Per-event weights at θ: shape ``(N,)`` for one point, ``(m, N)`` for ``m`` points.

        Without structure constants the nominal weights (the sample does not depend on θ).
        """
        if self.structure_constants is None:
            t = np.asarray(theta, dtype=np.float64)
            return np.array(self.weights) if t.ndim <= 1 else np.tile(self.weights, (t.shape[0], 1))
        pts, single = _theta_points(theta, len(self.coefficients), self.name)
        out = monomials(pts) @ self.structure_constants.T
        return np.asarray(out[0] if single else out, dtype=np.float64)

    @cached_property
    def _sums(self) -> SampleSums:
        acc = ExactSum(2)
        acc.add(np.stack([self.weights, self.weights * self.weights], axis=1))
        sw, sw2 = acc.result().tolist()
        ts = None
        if self.structure_constants is not None:
            tacc = ExactSum(self.n_terms)
            tacc.add(self.structure_constants)
            ts = _readonly(tacc.result())
        systs: dict[str, tuple[float, float]] = {}
        if self.systematics:
            sacc = ExactSum(2 * len(self.systematics))
            sacc.add(np.stack([a for pair in self.systematics.values() for a in pair], axis=1))
            r = sacc.result().tolist()
            systs = {k: (r[2 * i], r[2 * i + 1]) for i, k in enumerate(self.systematics)}
        return SampleSums(
            name=self.name,
            n_events=self.n_events,
            sum_weights=sw,
            sum_weights2=sw2,
            coefficients=self.coefficients,
            term_sums=ts,
            systematic_sums=MappingProxyType(systs),
        )

    def sums(self) -> SampleSums:
        """Yield, sum of squared weights, per-term and systematic sums (exactly rounded)."""
        return self._sums

    def term_sums(self) -> F64:
        """Per-term sums Σ_i w_i,t in canonical order (``[Σw]`` without EFT information)."""
        ts = self._sums.term_sums
        return np.array([self._sums.sum_weights]) if ts is None else np.array(ts)

    def sigma(self, theta: npt.ArrayLike) -> float | F64:
        """Cross-section polynomial Σ_i w_i(θ): a float for θ of shape ``(n,)``, an array for ``(m, n)``."""
        return self._sums.sigma(theta)

    # ------------------------------------------------------------------ derived samples
    def select(self, mask: npt.ArrayLike) -> Sample:
        """A new sample with the events where the boolean ``mask`` is true (or at the given indices)."""
        m = np.asarray(mask)
        if m.dtype == np.bool_ and m.shape != (self.n_events,):
            raise SampleError(f"mask of shape {m.shape} does not match {self.n_events} events of '{self.name}'")
        if m.dtype != np.bool_ and m.dtype.kind not in "iu":
            raise SampleError(f"mask must be boolean or integer indices, got dtype {m.dtype}")
        if (np.count_nonzero(m) if m.dtype == np.bool_ else m.size) == 0:
            raise SampleError(f"empty selection: no event of sample '{self.name}' passes")
        sc = None if self.structure_constants is None else self.structure_constants[m]
        return Sample(
            name=self.name,
            observables={k: v[m] for k, v in self.observables.items()},
            weights=self.weights[m],
            coefficients=self.coefficients,
            structure_constants=sc,
            systematics={k: (u[m], d[m]) for k, (u, d) in self.systematics.items()},
            spectators={k: v[m] for k, v in self.spectators.items()},
            sources=self.sources,
            tree=self.tree,
            metadata=self.metadata,
        )

    # ------------------------------------------------------------------ output
    def branches(self) -> dict[str, Array]:
        """All columns under the branch names :meth:`to_root` writes (default reader naming)."""
        out: dict[str, Array] = {}

        def put(key: str, arr: Array) -> None:
            if key in out:
                raise SampleError(f"sample '{self.name}': two columns would both be written as branch", branch=key)
            out[key] = arr

        for k, v in self.observables.items():
            put(k, v)
        for k, v in self.spectators.items():
            put(k, v)
        put(DEFAULT_WEIGHT, self.weights)
        if self.structure_constants is not None:
            for j, b in enumerate(structure_constant_branches(self.coefficients)):
                put(b, self.structure_constants[:, j])
        for syst, (up, down) in self.systematics.items():
            bu, bd = systematic_branches(syst)
            put(bu, up)
            put(bd, down)
        return out

    def to_root(self, path: str | os.PathLike[str], *, tree: str = DEFAULT_TREE, chunk: int = 1_000_000) -> Path:
        """Write the sample as a TTree with uproot, atomically (temporary file + :func:`os.replace`).

        Branch names follow :mod:`rooeft.samples.naming`, so :func:`~rooeft.samples.read_sample`
        with default settings reads the file back. Refuses to overwrite a file the sample was
        read from.
        """
        import uproot

        target = Path(path).resolve()
        for src in self.sources:
            s = Path(src)
            if s.resolve() == target or (s.exists() and target.exists() and s.samefile(target)):
                raise SampleError(f"refusing to overwrite the input file of sample '{self.name}'", file=target)
        if not target.parent.is_dir():
            raise SampleError("output directory does not exist", file=target)
        cols = {k: np.ascontiguousarray(v) for k, v in self.branches().items()}
        fd, tmp = tempfile.mkstemp(suffix=".root.tmp", prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            with uproot.recreate(tmp) as f:
                t = f.mktree(tree, {k: v.dtype for k, v in cols.items()})
                for start in range(0, self.n_events, chunk):
                    t.extend({k: v[start : start + chunk] for k, v in cols.items()})
            Path(tmp).chmod(0o644)
            Path(tmp).replace(target)  # atomic rename (os.replace)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
