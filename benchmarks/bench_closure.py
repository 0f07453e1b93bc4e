#!/usr/bin/env python3
"""Closure of the learned EFT ratio against the exact truth of the analytic ZH model (issue 4).

Everything is generated in memory with :mod:`rooeft.examples.zh` (seeded) and nothing is read from disk:

1. **Coefficient functions.** The joint positive quadratic model (and, unless
   ``--per-term-epochs 0``, the per-term classifiers with fewer epochs) is trained on parton-level
   features (the spec's 15 features computed from the generated truth variables) of the accepted
   signal events. On held-out events the learned ``r_a(x), r_ab(x)`` are compared with the exact
   ``w_a / w_0``, ``w_ab / w_0`` (structure constants of :mod:`rooeft.examples.zh.model`): w0-weighted
   quantiles of the relative error ``(learned - true) / |true|`` and of the error in units of the
   weighted RMS of the true function; closure plots with :func:`rooeft.plot.plot_closure`.
2. **Expected 95% CL intervals** per coefficient (others fixed at the SM), Asimov at the SM, from
   the weighted held-out events (signal only, 300/fb, after acceptance and b-tagging):

   ``q(θ) = 2 [ν(θ) − ν(0) − Σ_i w_i(0) ln(r̂(x_i|θ) / r̂(x_i|0))]``

   with ``ν(θ)`` exact (the structure-constant sums, as ``setCrossSection`` does in a workspace) and

   (a) the exact parton-level ratio (the optimal bound),
   (b) the learned ratio at parton level (quadratic model; (b') per-term classifiers),
   (c) the learned ratio at reco level (trained on the 15 spec features recomputed from the
       smeared objects),
   (d) binned Poisson Asimov fits of one reco observable, ``pT(Z)`` and ``sqrt(s_hat)``
       (SM-quantile binnings with 5...40 bins; the best is reported).

   Intervals are where ``q − min q < 3.84`` (cubic-spline crossing on a fine grid,
   :func:`rooeft.infer.intervals_1d`); widths are total lengths (a union of intervals if disjoint).

Run (about 5 minutes on 2 cores)::

    python benchmarks/bench_closure.py                    # defaults of the recorded results
    python benchmarks/bench_closure.py --n-signal 100000 --epochs 5 --per-term-epochs 0   # smoke test

Writes ``closure_results.json`` and PNG plots into ``--output-dir`` (default ``benchmarks/closure``)
and prints the markdown tables of ``benchmarks/RESULTS_closure.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
#: 2ΔNLL thresholds, i.e. thresholds of q
LEVELS = {"68": 1.0, "95": 3.84}
QUANTILES = (0.025, 0.16, 0.5, 0.84, 0.975)


# ============================================================================ q(θ) machinery
def single_monomials(n_coefficients: int, index: int, values: npt.ArrayLike) -> F64:
    """Canonical monomials ``[1, θ_a, θ_aθ_b]`` (shape ``(K, T)``) for θ = values · e_index."""
    from rooeft.terms import monomials

    v = np.asarray(values, dtype=np.float64)
    theta = np.zeros((v.size, n_coefficients))
    theta[:, index] = v
    return np.asarray(monomials(theta), dtype=np.float64)


def ratio_on_grid(columns: npt.ArrayLike, mono: npt.ArrayLike, *, chunk: int = 64) -> F64:
    """``r(x_i|θ_k) = 1 + Σ_t columns[i, t] m_t(θ_k)``, shape ``(N, K)``; ``columns`` ``(N, T-1)``."""
    c = np.asarray(columns, dtype=np.float64)
    m = np.asarray(mono, dtype=np.float64)[:, 1:]
    out = np.empty((c.shape[0], m.shape[0]))
    for start in range(0, m.shape[0], chunk):
        out[:, start : start + chunk] = 1.0 + c @ m[start : start + chunk].T
    return out


def asimov_q_unbinned(w0: npt.ArrayLike, columns: npt.ArrayLike, term_sums: npt.ArrayLike, mono: npt.ArrayLike) -> F64:
    """Unbinned Asimov ``q(θ_k)`` at the SM for a ratio given by coefficient ``columns``.

    ``w0``: SM weights ``(N,)`` of the Asimov events; ``columns``: ``(N, T-1)`` coefficient
    functions ``r_t(x_i)`` (exact or learned) so that ``r(x|θ) = 1 + Σ_t r_t(x) m_t(θ)``;
    ``term_sums``: ``(T,)`` exact ``Σ_i w_it`` (gives ``ν(θ) = term_sums · m(θ)``); ``mono``:
    ``(K, T)`` monomials of the scan points. Points where some ``r ≤ 0`` give ``+inf``.

    >>> w0 = np.array([1.0, 1.0]); cols = np.array([[2.0, 1.0], [-2.0, 1.0]])  # r = (1 ± c)²
    >>> q = asimov_q_unbinned(w0, cols, w0 @ np.column_stack([np.ones(2), cols]), [[1.0, 0.5, 0.25]])
    >>> bool(abs(q[0] - 2 * (2 * 0.25 - 2 * np.log(0.75))) < 1e-9)
    True
    """
    w = np.asarray(w0, dtype=np.float64)
    m = np.asarray(mono, dtype=np.float64)
    nu = m @ np.asarray(term_sums, dtype=np.float64) - float(np.asarray(term_sums)[0])
    r = ratio_on_grid(columns, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(r > 0, np.log(np.where(r > 0, r, 1.0)), -np.inf)
    return np.asarray(2.0 * (nu - w @ logs), dtype=np.float64)


def asimov_q_shape_rate(
    w0: npt.ArrayLike, columns: npt.ArrayLike, term_sums: npt.ArrayLike, mono: npt.ArrayLike
) -> F64:
    """Asimov ``q(θ_k)`` of the shape × rate likelihood: exact Poisson rate ``ν(θ)``, per-event shape
    ``r̂(x|θ) / ν̂(θ)`` normalised with the learned ratio's own mean ``ν̂(θ) = Σ_i w_i(0) r̂(x_i|θ)``
    (what ``RooEFTUnbinnedPdf`` does with the same events as its normalisation sample)::

        q = 2 [ν − ν0 − ν0 ln(ν/ν0)] + 2 [ν0 ln(ν̂/ν0) − Σ_i w_i(0) ln r̂(x_i|θ)]

    Equal to :func:`asimov_q_unbinned` when the columns are exact (then ``ν̂ = ν``).

    >>> w0 = np.array([1.0, 1.0]); cols = np.array([[2.0, 1.0], [-2.0, 1.0]])
    >>> sums = w0 @ np.column_stack([np.ones(2), cols]); m = [[1.0, 0.5, 0.25]]
    >>> bool(abs(asimov_q_shape_rate(w0, cols, sums, m)[0] - asimov_q_unbinned(w0, cols, sums, m)[0]) < 1e-12)
    True
    """
    w = np.asarray(w0, dtype=np.float64)
    c = np.asarray(columns, dtype=np.float64)
    m = np.asarray(mono, dtype=np.float64)
    sums = np.asarray(term_sums, dtype=np.float64)
    nu0 = float(sums[0])
    nu = m @ sums
    nu_hat = m @ (w @ np.column_stack([np.ones(c.shape[0]), c]))
    r = ratio_on_grid(c, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(r > 0, np.log(np.where(r > 0, r, 1.0)), -np.inf)
        rate = nu - nu0 - nu0 * np.log(nu / nu0)
        shape = nu0 * np.log(nu_hat / float(np.sum(w))) - w @ logs
    return np.asarray(2.0 * (rate + shape), dtype=np.float64)


def asimov_q_binned(bin_term_sums: npt.ArrayLike, mono: npt.ArrayLike) -> F64:
    """Binned Poisson Asimov ``q(θ_k) = 2 Σ_b [n_b(θ) − n_b(0) − n_b(0) ln(n_b(θ)/n_b(0))]``.

    ``bin_term_sums``: ``(B, T)`` per-bin sums of the structure constants; ``mono``: ``(K, T)``.

    >>> q = asimov_q_binned([[10.0, 0.0, 10.0]], [[1.0, 0.5, 0.25]])  # n = 10 (1 + c²)
    >>> bool(abs(q[0] - 2 * (2.5 - 10 * np.log(1.25))) < 1e-9)
    True
    """
    s = np.asarray(bin_term_sums, dtype=np.float64)
    n = np.asarray(mono, dtype=np.float64) @ s.T  # (K, B)
    n0 = s[:, 0]
    ok = n0 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n[:, ok] > 0, n[:, ok] - n0[ok] - n0[ok] * np.log(np.abs(n[:, ok]) / n0[ok]), np.inf)
    extra = (n[:, ~ok] - n0[~ok]).sum(axis=1)  # empty SM bins: only the expected events count
    return np.asarray(2.0 * (terms.sum(axis=1) + extra), dtype=np.float64)


def intervals_from_q(grid: npt.ArrayLike, q: npt.ArrayLike) -> dict[str, Any]:
    """Intervals where ``q − min q`` is below 1 and 3.84, their total widths and the minimum.

    >>> g = np.linspace(-3, 3, 121)
    >>> iv = intervals_from_q(g, g**2)
    >>> round(iv["width"]["95"], 4), round(iv["width"]["68"], 4)
    (3.9192, 2.0)
    """
    from rooeft.infer import intervals_1d

    g = np.asarray(grid, dtype=np.float64)
    qa = np.asarray(q, dtype=np.float64)
    finite = np.isfinite(qa)
    qmin = float(np.min(qa[finite]))
    ivs = intervals_1d(g[finite], 0.5 * (qa[finite] - qmin), levels=LEVELS)
    edge = {k: any(lo <= g[0] or hi >= g[-1] for lo, hi in v) for k, v in ivs.items()}
    return {
        "intervals": {k: [list(iv) for iv in v] for k, v in ivs.items()},
        "width": {k: float(sum(hi - lo for lo, hi in v)) for k, v in ivs.items()},
        "touches_edge": edge,
        "q_min": qmin,
        "theta_at_min": float(g[finite][np.argmin(qa[finite])]),
    }


def scan_interval(
    q_of: Callable[[F64], F64], *, start: float = 1e-3, level: float = 6.0, points: int = 401
) -> tuple[F64, F64, dict[str, Any]]:
    """Symmetric grid ``[-R, R]`` wide enough that ``q(±R) > level`` (R doubled from ``start``),
    ``q`` on ``points`` grid values and the intervals."""
    r = start
    for _ in range(40):
        edges = q_of(np.array([-r, r]))
        if np.all(~np.isfinite(edges) | (edges > level)):
            break
        r *= 2.0
    else:
        raise RuntimeError(f"q(θ) stays below {level} up to |θ| = {r:g}")
    grid = np.linspace(-r, r, points)
    q = q_of(grid)
    return grid, q, intervals_from_q(grid, q)


# ============================================================================ statistics helpers
def weighted_quantiles(values: npt.ArrayLike, weights: npt.ArrayLike, quantiles: Sequence[float]) -> F64:
    """Quantiles of a weighted distribution (midpoint interpolation of the weighted CDF).

    >>> weighted_quantiles([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], [0.5]).tolist()
    [2.5]
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(v)
    v, w = v[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.asarray(np.interp(quantiles, cdf, v), dtype=np.float64)


def closure_table(learned: F64, true: F64, w0: F64, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Per term: w0-weighted quantiles of the relative error and of the error / RMS(true)."""
    rows = []
    for t, label in enumerate(labels):
        nonzero = true[:, t] != 0
        rel = (learned[nonzero, t] - true[nonzero, t]) / np.abs(true[nonzero, t])
        rms = float(np.sqrt(np.average(true[:, t] ** 2, weights=w0)))
        norm = (learned[:, t] - true[:, t]) / rms
        rows.append(
            {
                "term": label,
                "rel_quantiles": weighted_quantiles(rel, w0[nonzero], QUANTILES).tolist(),
                "rms_true": rms,
                "norm_quantiles": weighted_quantiles(norm, w0, QUANTILES).tolist(),
            }
        )
    return rows


# ============================================================================ data
def generate(n_signal: int, seed: int) -> dict[str, np.ndarray]:
    """Accepted signal events (float64 weights) with reco features, truth and structure constants."""
    from rooeft.examples.zh.generator import GeneratorConfig, generate_chunks

    cfg = GeneratorConfig(weight_dtype="float64")
    chunks = list(generate_chunks("signal", n_signal, seed=seed, config=cfg))
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def parton_features(ev: Mapping[str, np.ndarray]) -> tuple[np.ndarray, tuple[str, ...]]:
    """The spec's 15 features from the truth variables."""
    from rooeft.examples.zh.model import FEATURES, features

    f = features(
        ev["truth_sqrt_s_hat"],
        ev["truth_y"],
        ev["truth_cos_theta"],
        ev["truth_phi_hat"],
        ev["truth_cos_theta_hat"],
        ev["truth_m_bb"],
    )
    return np.column_stack([f[n] for n in FEATURES]), FEATURES


def reco_features(ev: Mapping[str, np.ndarray]) -> tuple[np.ndarray, tuple[str, ...]]:
    """The spec's 15 features recomputed from the smeared objects."""
    from rooeft.examples.zh.model import FEATURES

    return np.column_stack([np.asarray(ev[n], dtype=np.float64) for n in FEATURES]), FEATURES


def check_truth(ev: Mapping[str, np.ndarray], sc: np.ndarray, n: int = 2000) -> float:
    """Largest relative deviation of the stored ratio structure from :mod:`rooeft.examples.zh.truth`."""
    from rooeft.examples.zh.truth import signal_structure_constants

    exact = signal_structure_constants({k: v[:n] for k, v in ev.items()})
    a, b = sc[:n, 1:] / sc[:n, :1], exact[:, 1:] / exact[:, :1]
    return float(np.max(np.abs(a - b) / (np.abs(b) + 1e-12 * np.max(np.abs(b)))))


# ============================================================================ main
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-signal", type=int, default=400_000, help="generated signal events (before acceptance)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--train-fraction", type=float, default=0.6, help="accepted events used for training")
    ap.add_argument("--epochs", type=int, default=60, help="max epochs of the quadratic models")
    ap.add_argument("--per-term-epochs", type=int, default=40, help="max epochs of the per-term classifiers (0: skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--output-dir", type=Path, default=Path(__file__).resolve().parent / "closure")
    args = ap.parse_args(argv)

    import torch

    from rooeft.examples.zh.generator import structure_constant_names
    from rooeft.examples.zh.model import COEFFICIENTS, TERM_LABELS
    from rooeft.nn import (
        NetworkConfig,
        PerTermConfig,
        QuadraticConfig,
        TrainingConfig,
        train_joint_quadratic,
        train_per_term,
    )
    from rooeft.plot import plot_closure, plot_scan1d, save_figure

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    coefs = COEFFICIENTS
    n_c = len(coefs)
    term_labels = list(TERM_LABELS[1:])

    t0 = time.perf_counter()
    ev = generate(args.n_signal, args.seed)
    sc = np.column_stack([ev[n] for n in structure_constant_names()]).astype(np.float64)
    truth_dev = check_truth(ev, sc)
    n_acc = sc.shape[0]
    perm = np.random.default_rng([args.seed, 17]).permutation(n_acc)
    n_train = int(args.train_fraction * n_acc)
    train, test = np.sort(perm[:n_train]), np.sort(perm[n_train:])
    # held-out events stand for the full expectation at 300/fb
    sc_test = sc[test] * (n_acc / test.size)
    w0_test = sc_test[:, 0]
    exact_cols = sc_test[:, 1:] / sc_test[:, :1]
    term_sums = sc_test.sum(axis=0)
    x_parton, names = parton_features(ev)
    x_reco, _ = reco_features(ev)
    timings["generate"] = time.perf_counter() - t0
    print(
        f"generated {args.n_signal} signal events, {n_acc} accepted ({term_sums[0]:.1f} expected SM events), "
        f"{n_train} for training, {test.size} held out; truth check max rel. dev. {truth_dev:.2e}",
        flush=True,
    )

    # ----------------------------------------------------------------- exact intervals (a)
    def exact_q(index: int, rows_sc: np.ndarray) -> Callable[[F64], F64]:
        cols = rows_sc[:, 1:] / rows_sc[:, :1]
        sums = rows_sc.sum(axis=0)
        return lambda g: asimov_q_unbinned(rows_sc[:, 0], cols, sums, single_monomials(n_c, index, g))

    # prior width of the quadratic loss: the exact expected 95% half-widths on the training events
    sc_train = sc[train] * (n_acc / train.size)
    half = []
    for a in range(n_c):
        _, _, iv = scan_interval(exact_q(a, sc_train), points=201)
        half.append(0.5 * iv["width"]["95"])
    theta_scale = tuple(float(h) for h in half)
    print("theta_scale (exact 95% half-widths on the training events):", [f"{h:.4g}" for h in theta_scale])

    def training(max_epochs: int, seed: int = 0) -> TrainingConfig:
        return TrainingConfig(max_epochs=max_epochs, progress=False, seed=seed, num_threads=args.threads, device="cpu")

    estimators: dict[str, Any] = {}
    columns: dict[str, np.ndarray] = {"exact": exact_cols}
    t0 = time.perf_counter()
    q_parton = train_joint_quadratic(
        x_parton,
        sc,
        observables=names,
        coefficients=coefs,
        events=train,
        name="quadratic_parton",
        config=QuadraticConfig(network=NetworkConfig(), training=training(args.epochs), theta_scale=theta_scale),
    )
    timings["train quadratic parton"] = time.perf_counter() - t0
    estimators["quadratic_parton"] = q_parton
    columns["quadratic_parton"] = q_parton.predict(x_parton[test])
    print(
        f"quadratic parton: {q_parton.history.epochs} epochs, best {q_parton.history.best_epoch}, "
        f"{timings['train quadratic parton']:.0f} s",
        flush=True,
    )

    t0 = time.perf_counter()
    q_reco = train_joint_quadratic(
        x_reco,
        sc,
        observables=names,
        coefficients=coefs,
        events=train,
        name="quadratic_reco",
        config=QuadraticConfig(network=NetworkConfig(), training=training(args.epochs), theta_scale=theta_scale),
    )
    timings["train quadratic reco"] = time.perf_counter() - t0
    estimators["quadratic_reco"] = q_reco
    columns["quadratic_reco"] = q_reco.predict(x_reco[test])
    print(
        f"quadratic reco: {q_reco.history.epochs} epochs, best {q_reco.history.best_epoch}, "
        f"{timings['train quadratic reco']:.0f} s",
        flush=True,
    )

    if args.per_term_epochs > 0:
        t0 = time.perf_counter()
        pt = train_per_term(
            x_parton,
            sc,
            observables=names,
            coefficients=coefs,
            events=train,
            name="per_term_parton",
            config=PerTermConfig(network=NetworkConfig(), training=training(args.per_term_epochs)),
        )
        timings["train per-term parton"] = time.perf_counter() - t0
        estimators["per_term_parton"] = pt
        columns["per_term_parton"] = pt.predict(x_parton[test])
        print(f"per-term parton: {pt.history.epochs} epochs, {timings['train per-term parton']:.0f} s", flush=True)

    # ----------------------------------------------------------------- closure of coefficient functions
    t0 = time.perf_counter()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    closure: dict[str, list[dict[str, Any]]] = {}
    for key in ("quadratic_parton", "per_term_parton", "quadratic_reco"):
        if key not in columns:
            continue
        closure[key] = closure_table(columns[key], exact_cols, w0_test, term_labels)
        # integral closure: Σ w0 r̂_t / Σ w0 against the exact σ_t / σ_0 = Σ w_t / Σ w0
        learned_int = (w0_test @ columns[key]) / term_sums[0]
        for row, li, ei in zip(closure[key], learned_int, term_sums[1:] / term_sums[0], strict=True):
            row["integral_learned"], row["integral_exact"] = float(li), float(ei)
        if key == "quadratic_reco":
            continue  # reco-level functions are E[r|x_reco], not the parton truth: table only
        sub = np.random.default_rng(3).choice(test.size, size=min(test.size, 60_000), replace=False)
        for part, sl in (("linear", slice(0, n_c)), ("quadratic", slice(n_c, None))):
            fig = plot_closure(
                learned=columns[key][sub, sl],
                true=exact_cols[sub, sl],
                labels=term_labels[sl],
                weights=w0_test[sub],
                bins=50,
            )
            save_figure(fig, args.output_dir / f"closure_{key}_{part}", formats=("png",), dpi=40)
    timings["closure"] = time.perf_counter() - t0

    # ----------------------------------------------------------------- intervals
    t0 = time.perf_counter()
    x_pt = np.asarray(ev["pt_z"], dtype=np.float64)[test]
    x_rs = np.asarray(ev["sqrt_s_hat"], dtype=np.float64)[test]
    methods: dict[str, str] = {
        "exact_parton": "(a) exact ratio, parton level",
        "quadratic_parton": "(b) learned quadratic, parton level",
        "per_term_parton": "(b') learned per-term, parton level",
        "quadratic_reco": "(c) learned quadratic, reco level",
    }
    intervals: dict[str, dict[str, Any]] = {}
    scans: dict[str, list[dict[str, Any]]] = {c: [] for c in coefs}
    for a, c in enumerate(coefs):
        intervals[c] = {}
        for key, label in methods.items():
            source = "exact" if key == "exact_parton" else key
            if source not in columns:
                continue
            cols = columns[source]

            def q_of(g: F64, cols: np.ndarray = cols, a: int = a) -> F64:
                return asimov_q_unbinned(w0_test, cols, term_sums, single_monomials(n_c, a, g))

            grid, q, iv = scan_interval(q_of)
            intervals[c][key] = iv
            scans[c].append(_scan_dict(c, label, grid, q, iv))
            if key != "exact_parton":
                # diagnostic: the learned ratio with its own normalisation ν̂(θ) = Σ w0 r̂(θ) (shape only)
                sums_hat = w0_test @ np.column_stack([np.ones(len(cols)), cols])

                def q_hat(g: F64, cols: np.ndarray = cols, a: int = a, sums: F64 = sums_hat) -> F64:
                    return asimov_q_unbinned(w0_test, cols, sums, single_monomials(n_c, a, g))

                intervals[c][f"{key}_selfnorm"] = scan_interval(q_hat)[2]

                def q_sr(g: F64, cols: np.ndarray = cols, a: int = a) -> F64:
                    return asimov_q_shape_rate(w0_test, cols, term_sums, single_monomials(n_c, a, g))

                intervals[c][f"{key}_shaperate"] = scan_interval(q_sr)[2]
        for obs_key, values, obs_label in (("binned_ptz", x_pt, "pT(Z)"), ("binned_sqrts", x_rs, "sqrt(s_hat)")):
            best: tuple[float, int, F64, F64, dict[str, Any]] | None = None
            per_binning = {}
            for n_bins in (5, 10, 20, 40):
                edges = weighted_quantiles(values, w0_test, np.linspace(0, 1, n_bins + 1))
                edges[0], edges[-1] = -np.inf, np.inf
                idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
                bin_sums = np.stack([sc_test[idx == b].sum(axis=0) for b in range(n_bins)])

                def qb(g: F64, bin_sums: np.ndarray = bin_sums, a: int = a) -> F64:
                    return asimov_q_binned(bin_sums, single_monomials(n_c, a, g))

                grid, q, iv = scan_interval(qb)
                per_binning[n_bins] = iv["width"]["95"]
                if best is None or iv["width"]["95"] < best[0]:
                    best = (iv["width"]["95"], n_bins, grid, q, iv)
            assert best is not None
            _, n_bins, grid, q, iv = best
            iv = {**iv, "n_bins": n_bins, "width_95_per_binning": per_binning}
            intervals[c][obs_key] = iv
            scans[c].append(_scan_dict(c, f"(d) binned {obs_label}, reco ({n_bins} bins)", grid, q, iv))
        fig = plot_scan1d(scans=scans[c], ymax=8.0, lumi=300)
        save_figure(fig, args.output_dir / f"scan_{c}", formats=("png",), dpi=60)
    timings["intervals"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start

    result = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''} "
        f"{os.cpu_count()} CPUs, python {platform.python_version()}, torch {torch.__version__}",
        "n_generated": args.n_signal,
        "n_accepted": n_acc,
        "n_train": n_train,
        "n_heldout": int(test.size),
        "expected_sm_events": float(term_sums[0]),
        "truth_check_max_rel_dev": truth_dev,
        "theta_scale": list(theta_scale),
        "training": {
            k: {
                "epochs": e.history.epochs,
                "best_epoch": e.history.best_epoch,
                "seconds": e.history.seconds,
                "best_val_loss": e.history.best_val_loss,
            }
            for k, e in estimators.items()
        },
        "timings_seconds": timings,
        "closure": closure,
        "intervals": intervals,
        "scans": scans,
    }
    _write_json(args.output_dir / "closure_results.json", result)
    print(markdown(result))
    return 0


def _scan_dict(poi: str, label: str, grid: F64, q: F64, iv: Mapping[str, Any]) -> dict[str, Any]:
    """A ``scan1d`` result dictionary (for :func:`rooeft.plot.plot_scan1d`); deltaNLL = q/2."""
    keep = np.isfinite(q)
    qmin = float(np.min(q[keep]))
    step = max(1, grid.size // 100)
    return {
        "kind": "scan1d",
        "poi": poi,
        "profiled": False,
        "asimov": True,
        "label": label,
        "bestfit": {poi: iv["theta_at_min"], "nll": 0.0},
        "points": [
            {poi: float(g), "deltaNLL": 0.5 * (float(v) - qmin), "status": 0}
            for g, v, k in zip(grid[::step], q[::step], keep[::step], strict=True)
            if k
        ],
        "intervals": iv["intervals"],
    }


def _write_json(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(obj, handle, indent=1)
    Path(tmp).chmod(0o644)
    Path(tmp).replace(path)


def markdown(result: Mapping[str, Any]) -> str:
    """The tables of RESULTS_closure.md."""
    out = []
    for key, rows in result["closure"].items():
        out.append(
            f"\n**{key}**: relative error (learned − true)/|true|, w0-weighted quantiles "
            "2.5/16/50/84/97.5 %, and error/RMS(true)\n"
        )
        out.append(
            "| term | rel 2.5% | rel 16% | rel 50% | rel 84% | rel 97.5% | RMS(true) | "
            "err/RMS 2.5% | 16% | 50% | 84% | 97.5% |"
        )
        out.append("|---|" + "---:|" * 11)
        for r in rows:
            rel = " | ".join(f"{v:+.3f}" for v in r["rel_quantiles"])
            nrm = " | ".join(f"{v:+.3f}" for v in r["norm_quantiles"])
            out.append(f"| {r['term']} | {rel} | {r['rms_true']:.3g} | {nrm} |")
    out.append(
        "\nIntegral closure: Σ_i w_i(0) r̂_t(x_i) / Σ_i w_i(0) (learned) against σ_t/σ_0 = Σ_i w_it / Σ_i w_i0 "
        "(exact), held-out events\n"
    )
    keys_c = list(result["closure"])
    out.append("| term | exact | " + " | ".join(keys_c) + " |")
    out.append("|---|---:|" + "---:|" * len(keys_c))
    for t, row0 in enumerate(next(iter(result["closure"].values()))):
        cells = [f"{result['closure'][k][t]['integral_learned']:+.4g}" for k in keys_c]
        out.append(f"| {row0['term']} | {row0['integral_exact']:+.4g} | " + " | ".join(cells) + " |")
    ivs = result["intervals"]
    keys = [
        k
        for k in ("exact_parton", "quadratic_parton", "per_term_parton", "quadratic_reco", "binned_ptz", "binned_sqrts")
        if k in next(iter(ivs.values()))
    ]
    out.append(
        "\nExpected 95% CL intervals (others at the SM; Asimov at the SM; signal only, 300/fb): "
        "width and ratio to (a)\n"
    )
    out.append("| coefficient | " + " | ".join(keys) + " |")
    out.append("|---|" + "---|" * len(keys))
    for c, per in ivs.items():
        ref = per["exact_parton"]["width"]["95"]
        cells = []
        for k in keys:
            iv = per[k]
            w = iv["width"]["95"]
            nb = f", {iv['n_bins']} bins" if "n_bins" in iv else ""
            edge = " (edge!)" if iv["touches_edge"]["95"] else ""
            cells.append(f"{w:.4g} ({w / ref:.3f}{nb}){edge}")
        out.append(f"| {c} | " + " | ".join(cells) + " |")
    learned = [k for k in ("quadratic_parton", "per_term_parton", "quadratic_reco") if k in keys]
    for suffix, title in (
        (
            "shaperate",
            "Shape × rate likelihood (exact Poisson rate ν(θ), per-event shape r̂(x|θ)/ν̂(θ) with the learned "
            "mean ν̂(θ) = Σ_i w_i(0) r̂(x_i|θ); as RooEFTUnbinnedPdf with this sample as its normalisation sample)",
        ),
        (
            "selfnorm",
            "Diagnostic: learned ratio with its own normalisation ν̂(θ) as the rate too (shape information only)",
        ),
    ):
        out.append(f"\n{title}: 95% width (ratio to (a)) and Asimov minimum\n")
        out.append("| coefficient | " + " | ".join(learned) + " |")
        out.append("|---|" + "---|" * len(learned))
        for c, per in ivs.items():
            ref = per["exact_parton"]["width"]["95"]
            cells = []
            for k in learned:
                iv = per[f"{k}_{suffix}"]
                w95 = iv["width"]["95"]
                cells.append(f"{w95:.4g} ({w95 / ref:.3f}; min at {iv['theta_at_min']:+.2g})")
            out.append(f"| {c} | " + " | ".join(cells) + " |")
    out.append("\nIntervals:\n")
    for c, per in ivs.items():
        for k in keys:
            segs = ", ".join(f"[{lo:+.4g}, {hi:+.4g}]" for lo, hi in per[k]["intervals"]["95"])
            out.append(f"- {c} {k}: 95% {segs}; min q = {per[k]['q_min']:+.3g} at {per[k]['theta_at_min']:+.3g}")
    out.append("\nTimings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result["timings_seconds"].items()))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
