r"""Boosted information trees (BIT): the per-event EFT coefficients from gradient-boosted trees.

A tree-ensemble estimator of the coefficient functions ``r_t(x)`` of the cross-section ratio
``r(x|θ) = 1 + Σ_a θ_a r_a(x) + Σ_{a≤b} θ_aθ_b r_ab(x)`` (DESIGN.md §1.2), in the spirit of the
*Boosted Information Trees* of Chatterjee, Frohner, Lechner, Schöfbeck and Schwarz
(arXiv:2107.10859, arXiv:2205.12976): every term is learned by a weighted regression of the joint
per-event ratio ``w_it / w_i0`` with weights ``w_i0``, whose minimiser is ``E[w_t|x] / E[w_0|x]``.

**Positivity.** The trees do not regress the coefficients directly: like the network of
:mod:`rooeft.nn.quadratic` they boost the raw factors ``z(x) = (n_a(x), U_ab(x))`` (``a ≤ b``) of the
positive parametrisation

    r̂(x|θ) = (1 + nᵀθ)² + |Uθ|²,   diag U = sqrt(raw² + ε²),

so ``r̂ > 0`` for every θ and every x by construction (``U`` is invertible), and the exported
``lin:``/``quad:`` columns are its expansion ``r_a = 2 n_a``, ``r_aa = M_aa``, ``r_ab = 2 M_ab`` with
``M = n nᵀ + UᵀU``. Projecting per-leaf coefficients onto the positive cone instead would not
survive boosting (a sum of trees is not piecewise constant on any one tree's leaves), so the loss is
boosted through the parametrisation (``docs/trees.md``).

**Loss.** The same closed form as the network's: for θ ~ N(0, diag(s²)) (``theta_scale`` = s),

    L = Σ_i E_θ[ w_i0 (r̂(x_i|θ) − w_i(θ)/w_i0)² ] = Σ_i ĉ_iᵀ G (w_i0 ĉ_i − 2 W_i) + const,

with ``ĉ_i = (1, r_a, r_ab)(x_i)``, ``G`` the Gram matrix of the θ monomials
(:func:`rooeft.nn.theta_gram`) and ``W_i`` the per-event structure constants. For one term and a
point-like prior this is the BIT loss ``Σ_i w_i0 (F(x_i) − w_it/w_i0)²``; ``G`` weighs the terms
against each other at the θ the measurement probes.

**Boosting.** Newton (second-order) gradient boosting on the raw factors: every iteration grows one
histogram-binned regression tree of depth ``max_depth`` with *vector* leaves (all ``K`` factors
share the tree structure), split gain ``Σ_k G_k²/(H_k+λ_k)`` summed over the factors, leaf values
``−η G_k/(H_k+λ_k)``; ``H`` is the Gauss-Newton (always positive) diagonal of the Hessian. It starts
from the constant positive model whose expansion is the integrated ratio ``Σ_i W_i / Σ_i w_i0`` and
stops early on a held-out validation split. Pure numpy/scipy: a few minutes on 10^5-10^6 events on
two cores.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> x = rng.uniform(-1, 1, size=(4000, 1))
>>> w = np.column_stack([np.ones(4000), 0.6 * x[:, 0], 0.09 * x[:, 0] ** 2 + 0.01])  # r = (1 + 0.3xθ)² + 0.01θ²
>>> est = train_boosted_trees(x, w, observables=["x"], coefficients=["c"],
...                           config=TreeConfig(n_trees=40, max_depth=3, seed=1))
>>> cols = est.predict(np.array([[-0.5], [0.5]]))
>>> bool(np.allclose(cols[:, 0], [-0.3, 0.3], atol=0.05))
True
>>> est.column_names("sig")
['lin:sig:c', 'quad:sig:c:c']
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rooeft.nn._common import (
    check_features,
    check_names,
    check_observables_match,
    check_structure_constants,
    select_rows,
)
from rooeft.nn.quadratic import theta_gram
from rooeft.terms import monomials, quadratic_pairs

if TYPE_CHECKING:
    from rooeft.nn.export import ExportResult

__all__ = [
    "TreeConfig",
    "TreeEnsemble",
    "TreeEstimator",
    "TreeHistory",
    "expand_factors",
    "train_boosted_trees",
]

#: Held-out events kept with a trained model to check its ONNX export (as for the networks).
N_REFERENCE = 256
#: Largest number of histogram bins per observable (thresholds are float32 quantiles).
MAX_BINS = 255


@dataclass(frozen=True, kw_only=True)
class TreeConfig:
    """Configuration of the boosted information trees.

    >>> TreeConfig().max_depth
    5
    >>> TreeConfig(learning_rate=0.0)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be in (0, 1], got 0.0
    """

    theta_scale: float | tuple[float, ...] = 1.0
    """Width s of the Gaussian prior on θ that weighs linear against quadratic terms in the loss
    (one value or one per coefficient), as for :class:`rooeft.nn.QuadraticConfig`."""
    positivity_floor: float = 1e-3
    """Smallest diagonal ``|U_aa|``: makes r̂ strictly positive."""
    n_trees: int = 1000
    """Upper limit on the boosting iterations (one tree each)."""
    max_depth: int = 5
    """Depth of every tree (``2**max_depth`` leaves at most)."""
    learning_rate: float = 0.2
    """Shrinkage η of every Newton step."""
    n_bins: int = 64
    """Histogram bins per observable (quantiles of the training events, at most 255)."""
    l2: float = 1.0
    """L2 regularisation of the leaf values, in units of one event's mean curvature."""
    min_leaf_events: int = 50
    """Fewest (unweighted) training events in a leaf."""
    subsample: float = 0.5
    """Fraction of the training events each tree is grown on (stochastic boosting)."""
    validation_fraction: float = 0.2
    """Fraction of the events held out for early stopping (and the export reference)."""
    patience: int = 25
    """Early stopping: iterations without a validation improvement before training stops."""
    min_delta: float = 1e-7
    """Smallest relative decrease of the validation loss that counts as an improvement."""
    max_seconds: float | None = None
    """Wall-clock budget of the boosting loop (``None``: none): equal-time comparisons."""
    seed: int = 0
    """Seeds the split and the subsampling: equal seeds, equal trees."""
    progress: bool = False
    """Print one line every 25 iterations."""

    def __post_init__(self) -> None:
        scales = np.atleast_1d(np.asarray(self.theta_scale, dtype=float))
        if scales.size == 0 or not np.all(np.isfinite(scales) & (scales > 0)):
            raise ValueError(f"theta_scale must be positive and finite, got {self.theta_scale}")
        if not (math.isfinite(self.positivity_floor) and self.positivity_floor > 0):
            raise ValueError(f"positivity_floor must be positive, got {self.positivity_floor}")
        for name in ("n_trees", "max_depth", "min_leaf_events", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_depth > 12:
            raise ValueError(f"max_depth must be at most 12, got {self.max_depth}")
        if not isinstance(self.n_bins, int) or not 2 <= self.n_bins <= MAX_BINS:
            raise ValueError(f"n_bins must be an integer in [2, {MAX_BINS}], got {self.n_bins!r}")
        if not (0.0 < self.learning_rate <= 1.0):
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        if not (0.0 < self.subsample <= 1.0):
            raise ValueError(f"subsample must be in (0, 1], got {self.subsample}")
        if not (0.0 < self.validation_fraction < 1.0):
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        if self.max_seconds is not None and not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise ValueError(f"max_seconds must be positive, got {self.max_seconds}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def scales(self, n_coefficients: int) -> np.ndarray:
        """``theta_scale`` as one value per coefficient."""
        s = np.atleast_1d(np.asarray(self.theta_scale, dtype=float))
        if s.size == 1:
            return np.full(n_coefficients, float(s[0]))
        if s.size != n_coefficients:
            raise ValueError(f"theta_scale has {s.size} values for {n_coefficients} coefficients")
        return s


@dataclass
class TreeHistory:
    """Per-iteration losses of one boosting run (normalised by the SM weight sum)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_iteration: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False
    stopped_by_time: bool = False
    seconds: float = 0.0

    @property
    def iterations(self) -> int:
        """Number of trees grown (the model keeps the first ``best_iteration``)."""
        return len(self.train_loss)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary."""
        return {**asdict(self), "iterations": self.iterations}


@dataclass
class TreeEnsemble:
    """Regression trees with vector leaves, flattened: node ``j`` of tree ``t`` is row ``start[t] + j``.

    An inner node sends an event to ``left`` if ``x[feature] <= threshold`` (float32 comparison,
    ONNX ``BRANCH_LEQ``), else to ``right`` (tree-local node ids); a leaf has ``feature == -1`` and
    adds ``value`` (``[K]``, learning rate included) to the raw factors, which start at ``base``.
    """

    feature: np.ndarray  # int64 [nodes]
    threshold: np.ndarray  # float32 [nodes]
    left: np.ndarray  # int64 [nodes], tree-local
    right: np.ndarray  # int64 [nodes], tree-local
    value: np.ndarray  # float64 [nodes, K]
    start: np.ndarray  # int64 [trees + 1]
    base: np.ndarray  # float64 [K]

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self.start.size - 1)

    @property
    def n_outputs(self) -> int:
        """Number of raw factors ``K`` each leaf holds."""
        return int(self.base.size)

    def raw(self, x: npt.ArrayLike) -> np.ndarray:
        """The raw factors ``[N, K]`` (float64) for raw observables ``x`` (compared as float32)."""
        x32 = np.ascontiguousarray(np.asarray(x), dtype=np.float32)
        out = np.tile(self.base, (x32.shape[0], 1))
        rows = np.arange(x32.shape[0])
        for t in range(self.n_trees):
            s = int(self.start[t])
            node = np.zeros(x32.shape[0], dtype=np.int64)
            while True:
                feat = self.feature[s + node]
                inner = feat >= 0
                if not inner.any():
                    break
                go_left = x32[rows, np.where(inner, feat, 0)] <= self.threshold[s + node]
                node = np.where(inner, np.where(go_left, self.left[s + node], self.right[s + node]), node)
            out += self.value[s + node]
        return out


# ------------------------------------------------------------------ the positive parametrisation
def _unpack(z: np.ndarray, n: int, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` ``[N, n]``, upper-triangular ``U`` ``[N, n, n]`` and ``d u/d raw`` ``[N, P]`` of raw factors."""
    pairs = quadratic_pairs(n)
    nvec = z[:, :n]
    u = z[:, n:].copy()
    du = np.ones_like(u)
    diag = np.array([a == b for a, b in pairs])
    raw_d = u[:, diag]
    d = np.sqrt(raw_d * raw_d + floor * floor)
    u[:, diag] = d
    du[:, diag] = raw_d / d
    umat = np.zeros((z.shape[0], n, n))
    for k, (a, b) in enumerate(pairs):
        umat[:, a, b] = u[:, k]
    return nvec, umat, du


def expand_factors(z: npt.ArrayLike, n_coefficients: int, floor: float) -> np.ndarray:
    """The ``lin`` then ``quad`` coefficient columns ``[N, n + n(n+1)/2]`` of raw factors ``z``.

    ``z = (n_1..n_n, raw U_ab for a ≤ b)`` (order of :func:`rooeft.terms.quadratic_pairs`); the
    diagonal of ``U`` is ``sqrt(raw² + floor²)``. Columns ``r_a = 2 n_a``, ``r_aa = M_aa``,
    ``r_ab = 2 M_ab`` with ``M = n nᵀ + UᵀU``.

    >>> expand_factors([[0.5, 0.0]], 1, 0.3).round(12).tolist()  # r = (1 + 0.5θ)² + 0.09θ²
    [[1.0, 0.34]]
    """
    arr = np.atleast_2d(np.asarray(z, dtype=np.float64))
    n = n_coefficients
    nvec, umat, _ = _unpack(arr, n, floor)
    m = nvec[:, :, None] * nvec[:, None, :] + np.einsum("nca,ncb->nab", umat, umat)
    quad = [m[:, a, b] * (1.0 if a == b else 2.0) for a, b in quadratic_pairs(n)]
    return np.column_stack([2.0 * nvec, *quad])


def _loss_terms(z: np.ndarray, w: np.ndarray, gram: np.ndarray, floor: float) -> np.ndarray:
    """Per-event loss ``ĉᵀ G (w0 ĉ − 2 W)`` of raw factors ``z`` for structure constants ``w``."""
    n = round((math.sqrt(8 * w.shape[1] + 1) - 3) / 2)
    chat = np.column_stack([np.ones(z.shape[0]), expand_factors(z, n, floor)])
    return np.asarray(np.einsum("nt,nt->n", chat @ gram, w[:, :1] * chat - 2.0 * w))


def _jacobian_pattern(n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Where ``d M_bd / d U_ca = δ_ab U_cd + δ_ad U_cb`` is non-zero, as two lists without repeated
    entries (the ``δ_ab`` and the ``δ_ad`` part): (row q, factor k, flat index of U, g_q) each."""
    pairs = quadratic_pairs(n)
    parts = []
    for first in (True, False):
        rows, cols, flat, coef = [], [], [], []
        for q, (b, d) in enumerate(pairs):
            for k, (c, a) in enumerate(pairs):
                if a == (b if first else d):
                    rows.append(q)
                    cols.append(k)
                    flat.append(c * n + (d if first else b))
                    coef.append(1.0 if b == d else 2.0)
        parts.append((np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(flat), np.array(coef)))
    return parts


def _gradients(
    z: np.ndarray, w: np.ndarray, gram: np.ndarray, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-event loss, its gradient and its Gauss-Newton Hessian diagonal ``[N, K]`` in the raw factors."""
    n_events, k_out = z.shape
    n = round((math.sqrt(8 * w.shape[1] + 1) - 3) / 2)
    pairs = quadratic_pairs(n)
    n_pairs = len(pairs)
    nvec, umat, du = _unpack(z, n, floor)
    chat = np.column_stack([np.ones(n_events), expand_factors(z, n, floor)])
    chat_g = chat @ gram
    loss = np.einsum("nt,nt->n", chat_g, w[:, :1] * chat - 2.0 * w)
    dl_dc = 2.0 * (w[:, :1] * chat_g - w @ gram)[:, 1:]  # G is symmetric
    # d ĉ_t / d z_k (t without the constant) as [T-1, K, N]: the event axis last keeps every
    # operation a long vector operation (small matrices per event are slow in numpy)
    jac = np.zeros((n + n_pairs, k_out, n_events))
    for a in range(n):
        jac[a, a] = 2.0
    for q, (b, d) in enumerate(pairs):  # d M_bd / d n_k = δ_bk n_d + n_b δ_dk
        g = 1.0 if b == d else 2.0
        jac[n + q, b] += g * nvec[:, d]
        jac[n + q, d] += g * nvec[:, b]
    uflat = umat.reshape(n_events, -1).T  # [n*n, N]
    du_t = du.T
    for rows, cols, flat, coef in _jacobian_pattern(n):
        for q, k, f, g in zip(rows, cols, flat, coef, strict=True):
            jac[n + q, n + k] += g * uflat[f] * du_t[k]
    grad = np.einsum("tn,tkn->kn", dl_dc.T, jac, optimize=False).T
    g_jac = (gram[1:, 1:] @ jac.reshape(jac.shape[0], -1)).reshape(jac.shape)
    hess = (2.0 * np.abs(w[:, 0]) * np.einsum("tkn,tkn->kn", jac, g_jac, optimize=False)).T
    return loss, grad, hess


def _initial_factors(w: np.ndarray, n: int, floor: float) -> np.ndarray:
    """Constant raw factors whose expansion is (close to) the integrated ratio ``Σ W / Σ w0``."""
    mean = w.sum(axis=0) / w[:, 0].sum()
    pairs = quadratic_pairs(n)
    n0 = 0.5 * mean[1 : n + 1]
    mat = np.zeros((n, n))
    for q, (a, b) in enumerate(pairs):
        mat[a, b] = mat[b, a] = mean[1 + n + q] * (1.0 if a == b else 0.5)
    rest = mat - np.outer(n0, n0)
    vals, vecs = np.linalg.eigh(0.5 * (rest + rest.T))
    rest = (vecs * np.maximum(vals, 2.0 * floor * floor)) @ vecs.T
    upper = np.linalg.cholesky(rest).T  # rest = UᵀU, U upper triangular
    raw = []
    for a, b in pairs:
        raw.append(math.sqrt(max(upper[a, a] ** 2 - floor * floor, 0.0)) if a == b else upper[a, b])
    return np.concatenate([n0, raw])


# ------------------------------------------------------------------ histogram trees
@dataclass
class _Binned:
    """Observables as bin indices and the float32 thresholds between the bins."""

    bins: np.ndarray  # int32 [N, d]
    thresholds: list[np.ndarray]  # per observable, float32; x <= thresholds[j]  <=>  bin <= j
    n_bins: int


def _bin_observables(x32: np.ndarray, rows: np.ndarray, n_bins: int, rng: np.random.Generator) -> _Binned:
    sample = rows if rows.size <= 200_000 else rng.choice(rows, 200_000, replace=False)
    thresholds = []
    bins = np.empty(x32.shape, dtype=np.int32)
    for f in range(x32.shape[1]):
        values = np.unique(x32[sample, f])
        if values.size > n_bins:
            values = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1]).astype(np.float32))
            thr = values
        else:
            thr = values[:-1]  # every distinct value gets its own bin
        thr = np.asarray(thr, dtype=np.float32)
        thresholds.append(thr)
        bins[:, f] = np.searchsorted(thr, x32[:, f], side="left")
    width = max(1, max(t.size for t in thresholds) + 1)
    return _Binned(bins, thresholds, width)


def _histograms(bins: np.ndarray, node: np.ndarray, stats: np.ndarray, n_nodes: int, n_bins: int) -> np.ndarray:
    """Sums of ``stats`` ``[N, C]`` per (node, observable, bin): ``[n_nodes, d, n_bins, C]``."""
    import scipy.sparse as sp

    n_events, d = bins.shape
    key = ((node[:, None] * d + np.arange(d)) * n_bins + bins).ravel()
    onehot = sp.csc_matrix(
        (np.ones(key.size), key, np.arange(0, key.size + 1, d)), shape=(n_nodes * d * n_bins, n_events)
    )
    return np.asarray(onehot @ stats).reshape(n_nodes, d, n_bins, stats.shape[1])


def _grow_tree(
    bins: np.ndarray, n_bins: int, grad: np.ndarray, hess: np.ndarray, lam: np.ndarray, config: TreeConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One tree on binned events ``bins`` ``[N, d]`` with per-event gradients and Hessians ``[N, K]``:
    (feature, split bin, left, right, leaf value) per tree-local node (feature -1: leaf)."""
    k_out = grad.shape[1]
    stats = np.column_stack([grad, hess, np.ones(bins.shape[0])])
    feature, split, left, right, value = [-1], [-1], [-1], [-1], [np.zeros(k_out)]
    node = np.zeros(bins.shape[0], dtype=np.int64)  # tree-local id of each event's node
    level = [0]
    hist = _histograms(bins, np.zeros(bins.shape[0], dtype=np.int64), stats, 1, n_bins)
    for depth in range(config.max_depth + 1):
        tot = hist[:, 0].sum(axis=1)  # [L, C]
        g_tot, h_tot = tot[:, :k_out], tot[:, k_out : 2 * k_out]
        for i, nid in enumerate(level):
            value[nid] = -config.learning_rate * g_tot[i] / (h_tot[i] + lam)
        if depth == config.max_depth:
            break
        cum = np.cumsum(hist, axis=2)[:, :, :-1]  # left part of the split after bin j
        right_stats = tot[:, None, None, :] - cum
        gl, hl, cl = cum[..., :k_out], cum[..., k_out : 2 * k_out], cum[..., -1]
        gr, hr, cr = right_stats[..., :k_out], right_stats[..., k_out : 2 * k_out], right_stats[..., -1]
        parent = (g_tot * g_tot / (h_tot + lam)).sum(axis=1)
        gain = (gl * gl / (hl + lam)).sum(axis=-1) + (gr * gr / (hr + lam)).sum(axis=-1) - parent[:, None, None]
        ok = (cl >= config.min_leaf_events) & (cr >= config.min_leaf_events)
        gain = np.where(ok, gain, -np.inf)
        flat = gain.reshape(len(level), -1)
        best = np.argmax(flat, axis=1)
        best_gain = flat[np.arange(len(level)), best]
        new_level: list[int] = []
        small_of: dict[int, tuple[int, int]] = {}
        child_pos: list[tuple[int, int, int]] = []  # (level index of parent, left id, right id)
        for i, nid in enumerate(level):
            if not (np.isfinite(best_gain[i]) and best_gain[i] > 1e-12 * max(1.0, abs(parent[i]))):
                continue
            f, j = divmod(int(best[i]), n_bins - 1)
            lid, rid = len(feature), len(feature) + 1
            for _ in range(2):
                feature.append(-1)
                split.append(-1)
                left.append(-1)
                right.append(-1)
                value.append(np.zeros(k_out))
            feature[nid], split[nid], left[nid], right[nid] = f, j, lid, rid
            n_left = float(cl[i, f, j])
            small_of[i] = (lid, rid) if n_left <= float(cr[i, f, j]) else (rid, lid)
            child_pos.append((i, lid, rid))
            new_level += [lid, rid]
        if not new_level:
            break
        feat_arr, split_arr = np.array(feature), np.array(split)
        left_arr, right_arr = np.array(left), np.array(right)
        f_ev = feat_arr[node]
        splitting = f_ev >= 0
        go_left = bins[np.arange(node.size), np.where(splitting, f_ev, 0)] <= split_arr[node]
        node = np.where(splitting, np.where(go_left, left_arr[node], right_arr[node]), node)
        # histograms of the smaller children; the larger ones by subtraction from the parent
        small_ids = np.array([small_of[i][0] for i, _, _ in child_pos])
        pos = np.full(len(feature), -1, dtype=np.int64)
        pos[small_ids] = np.arange(small_ids.size)
        sel = pos[node] >= 0
        small_hist = _histograms(bins[sel], pos[node[sel]], stats[sel], small_ids.size, n_bins)
        next_hist = np.empty((len(new_level), *hist.shape[1:]))
        index = {nid: m for m, nid in enumerate(new_level)}
        for m, (i, _, _) in enumerate(child_pos):
            small, large = small_of[i]
            next_hist[index[small]] = small_hist[m]
            next_hist[index[large]] = hist[i] - small_hist[m]
        hist, level = next_hist, new_level
    return np.array(feature), np.array(split), np.array(left), np.array(right), np.array(value)


def _apply_tree(
    binned_rows: np.ndarray, feature: np.ndarray, split: np.ndarray, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Tree-local leaf id of every event (binned observables: ``bin <= split`` goes left)."""
    node = np.zeros(binned_rows.shape[0], dtype=np.int64)
    rows = np.arange(binned_rows.shape[0])
    while True:
        feat = feature[node]
        inner = feat >= 0
        if not inner.any():
            return node
        go_left = binned_rows[rows, np.where(inner, feat, 0)] <= split[node]
        node = np.where(inner, np.where(go_left, left[node], right[node]), node)


def _next_tree(
    bins: np.ndarray, n_bins: int, z: np.ndarray, w: np.ndarray, gram: np.ndarray, config: TreeConfig
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """One boosting step on the events of ``bins`` (current factors ``z``, structure constants ``w``):
    their per-event loss before the step, and the tree (feature, split bin, left, right, leaf value)
    with leaf values rounded to float32 (what the ONNX model stores)."""
    floor = config.positivity_floor
    loss, grad, hess = _gradients(z, w, gram, floor)
    lam = config.l2 * np.maximum(hess.mean(axis=0), 1e-300)
    feature, split, left, right, value = _grow_tree(bins, n_bins, grad, hess, lam, config)
    # backtracking: the Gauss-Newton step of a quartic loss can overshoot; halve it until the loss
    # on the tree's own events decreases (at most 4 times, else keep the smallest step)
    leaf = _apply_tree(bins, feature, split, left, right)
    before = float(loss.sum())
    for _ in range(4):
        if float(_loss_terms(z + value[leaf], w, gram, floor).sum()) < before:
            break
        value = 0.5 * value
    return loss, (feature, split, left, right, value.astype(np.float32).astype(np.float64))


# ------------------------------------------------------------------ the estimator
@dataclass
class TreeEstimator:
    """Trained boosted information trees; ``predict`` gives the ``lin`` + ``quad`` columns."""

    ensemble: TreeEnsemble
    observables: tuple[str, ...]
    coefficients: tuple[str, ...]
    config: TreeConfig
    history: TreeHistory
    provenance: dict[str, Any] = field(default_factory=dict)
    reference_inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    validation_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def column_names(self, process: str) -> list[str]:
        """Convention names of the output columns for ``process``."""
        coefs = self.coefficients
        cols = [f"lin:{process}:{c}" for c in coefs]
        return cols + [f"quad:{process}:{coefs[a]}:{coefs[b]}" for a, b in quadratic_pairs(len(coefs))]

    def raw(self, x: npt.ArrayLike) -> np.ndarray:
        """The boosted raw factors ``[N, K]`` (before the positive expansion)."""
        return self.ensemble.raw(check_features(x, self.observables))

    def predict(self, x: npt.ArrayLike, *, observables: Sequence[str] | None = None) -> np.ndarray:
        """The ``lin`` + ``quad`` columns ``[N, T-1]`` for raw observables ``x`` (float64)."""
        if observables is not None:
            check_observables_match(self.observables, observables)
        return expand_factors(self.raw(x), len(self.coefficients), self.config.positivity_floor)

    def ratio(self, x: npt.ArrayLike, theta: npt.ArrayLike) -> np.ndarray:
        """r̂(x|θ) ``[N, K]`` for ``theta`` ``[K, n]``, from the factorised (positive) form."""
        n = len(self.coefficients)
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        nvec, umat, _ = _unpack(self.raw(x), n, self.config.positivity_floor)
        lin = 1.0 + nvec @ th.T
        u_theta = np.einsum("nac,kc->nka", umat, th)
        return np.asarray(lin * lin + (u_theta * u_theta).sum(axis=2))

    def columns_ratio(self, x: npt.ArrayLike, theta: npt.ArrayLike) -> np.ndarray:
        """``1 + Σ θ_t r_t(x)`` from the expanded columns (equal to :meth:`ratio` up to rounding)."""
        mono = monomials(np.atleast_2d(np.asarray(theta, dtype=float)))
        return np.asarray(1.0 + self.predict(x) @ mono[:, 1:].T)

    def export(
        self,
        path: str | Path,
        *,
        process: str = "signal",
        nominal_rates: dict[str, float] | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> ExportResult:
        """Write the validated ONNX-ML model, its metadata and reference files (:mod:`trees_onnx`)."""
        from rooeft.nn.trees_onnx import export_trees

        return export_trees(self, path, process=process, nominal_rates=nominal_rates, provenance=provenance)


def _split(rows: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if rows.size < 2:
        raise ValueError(f"need at least 2 events for a train/validation split, got {rows.size}")
    perm = np.random.default_rng([seed, 0x7BEE]).permutation(rows.size)
    n_val = min(max(1, round(fraction * rows.size)), rows.size - 1)
    return np.sort(rows[perm[n_val:]]), np.sort(rows[perm[:n_val]])


def train_boosted_trees(
    x: npt.ArrayLike,
    structure_constants: npt.ArrayLike,
    *,
    observables: Sequence[str],
    coefficients: Sequence[str],
    config: TreeConfig | None = None,
    events: npt.ArrayLike | None = None,
    name: str = "trees",
) -> TreeEstimator:
    """Boost the positive quadratic model of the EFT ratio with regression trees.

    ``x``: raw observables ``[N, d]``; ``structure_constants``: ``[N, T]`` per-event weights of the
    canonical terms (``rooeft.terms``; column 0 is the SM weight, may be negative); ``events``:
    optional mask or indices of the events to use (e.g. one process). Raises ``ValueError`` for
    inputs of the wrong shape, NaN/inf, or SM weights that do not sum to a positive total.
    """
    config = config or TreeConfig()
    obs = check_names("observables", observables)
    coefs = check_names("coefficients", coefficients)
    arr = check_features(x, obs)
    w = check_structure_constants(structure_constants, arr.shape[0], coefs, name="structure_constants")
    rows = select_rows(arr.shape[0], events)
    if not float(np.sum(w[rows, 0])) > 0:
        raise ValueError(f"structure_constants[:, 0] (SM weights) of the selected events sum to {np.sum(w[rows, 0])}")
    n = len(coefs)
    floor = config.positivity_floor
    gram = theta_gram(config.scales(n))
    train_rows, val_rows = _split(rows, config.validation_fraction, config.seed)
    if train_rows.size < 2 * config.min_leaf_events:
        raise ValueError(
            f"{train_rows.size} training events cannot fill two leaves of min_leaf_events={config.min_leaf_events}"
        )
    rng = np.random.default_rng([config.seed, 0xB17])
    x32 = np.ascontiguousarray(arr, dtype=np.float32)
    binned = _bin_observables(x32, train_rows, config.n_bins, rng)
    norm = float(np.mean(np.abs(w[train_rows, 0])))
    w_train, w_val = w[train_rows] / norm, w[val_rows] / norm
    sum_val = float(w_val[:, 0].sum())
    base = _initial_factors(w[train_rows], n, floor).astype(np.float32).astype(np.float64)
    z_train = np.tile(base, (train_rows.size, 1))
    z_val = np.tile(base, (val_rows.size, 1))
    bins_train, bins_val = binned.bins[train_rows], binned.bins[val_rows]

    history = TreeHistory()
    trees: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    history.best_val_loss = float(_loss_terms(z_val, w_val, gram, floor).sum() / sum_val)
    start = time.perf_counter()
    n_sub = max(2 * config.min_leaf_events, round(config.subsample * train_rows.size))
    for it in range(config.n_trees):
        sub = (
            np.arange(train_rows.size)
            if n_sub >= train_rows.size
            else np.sort(rng.choice(train_rows.size, n_sub, replace=False))
        )
        sub_loss, (feature, split_bins, left, right, value) = _next_tree(
            bins_train[sub], binned.n_bins, z_train[sub], w_train[sub], gram, config
        )
        thr = np.array(
            [binned.thresholds[f][j] if f >= 0 else 0.0 for f, j in zip(feature, split_bins, strict=True)],
            dtype=np.float32,
        )
        z_train += value[_apply_tree(bins_train, feature, split_bins, left, right)]
        z_val += value[_apply_tree(bins_val, feature, split_bins, left, right)]
        trees.append((feature, thr, left, right, value))
        train_loss = float(sub_loss.sum() / w_train[sub, 0].sum())  # before this tree, on its events
        val_loss = float(_loss_terms(z_val, w_val, gram, floor).sum() / sum_val)
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        if val_loss < history.best_val_loss - config.min_delta * abs(history.best_val_loss):
            history.best_val_loss, history.best_iteration = val_loss, it + 1
        if config.progress and (it + 1) % 25 == 0:
            print(f"{name}: tree {it + 1}, train loss {train_loss:.6g}, validation loss {val_loss:.6g}", flush=True)
        if it + 1 - history.best_iteration >= config.patience:
            history.stopped_early = True
            break
        if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
            history.stopped_by_time = True
            break
    history.seconds = time.perf_counter() - start
    ensemble = _flatten(trees[: history.best_iteration], base)
    reference = np.ascontiguousarray(arr[val_rows[:N_REFERENCE]], dtype=np.float32)
    import rooeft

    prov = {
        "estimator": "boosted_information_trees",
        "config": asdict(config),
        "seed": config.seed,
        "numpy_version": np.__version__,
        "rooeft_version": rooeft.__version__,
        "trees": ensemble.n_trees,
        "iterations": history.iterations,
        "best_val_loss": history.best_val_loss,
        "stopped_early": history.stopped_early,
        "train_seconds": round(history.seconds, 3),
        "n_train": int(train_rows.size),
        "n_validation": int(val_rows.size),
    }
    return TreeEstimator(
        ensemble=ensemble,
        observables=obs,
        coefficients=coefs,
        config=config,
        history=history,
        provenance=prov,
        reference_inputs=reference,
        validation_rows=val_rows,
    )


def _flatten(trees: Sequence[tuple[np.ndarray, ...]], base: np.ndarray) -> TreeEnsemble:
    k_out = base.size
    if not trees:
        return TreeEnsemble(
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros((0, k_out)),
            np.zeros(1, np.int64),
            base.astype(np.float64),
        )
    sizes = [t[0].size for t in trees]
    return TreeEnsemble(
        feature=np.concatenate([t[0] for t in trees]).astype(np.int64),
        threshold=np.concatenate([t[1] for t in trees]).astype(np.float32),
        left=np.concatenate([t[2] for t in trees]).astype(np.int64),
        right=np.concatenate([t[3] for t in trees]).astype(np.int64),
        value=np.concatenate([t[4] for t in trees]).reshape(-1, k_out),
        start=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        base=base.astype(np.float64),
    )
