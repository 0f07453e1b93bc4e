#!/usr/bin/env python3
"""Boosted information trees against the joint quadratic network on the ZH example (issue 13).

The events, features, truth and Asimov machinery are those of ``bench_closure.py`` (imported from
it): accepted ZH signal events generated in memory (seeded), the spec's 15 parton-level features,
a seeded 60/40 split, the held-out events scaled to the full 300/fb expectation, and the exact
per-event coefficient functions ``r_t = w_t / w_0`` of the structure constants.

1. The network (``train_joint_quadratic``, default 3×64 SiLU, early stopping, at most ``--epochs``)
   is trained first; its wall time T is the trees' budget (``TreeConfig.max_seconds = T``), so both
   get the same training time on the same events, with ``theta_scale`` = the exact 95% half-widths.
   A third column boosts the trees to early stopping (``--tree-patience``, no time budget).
2. Closure against the exact truth per term: w0-weighted quantiles of (learned − true)/RMS(true)
   and the integral closure Σ w0 r̂_t / Σ w0 (``bench_closure.closure_table``).
3. Expected 95% widths per coefficient (others at the SM, Asimov at the SM, signal only, 300/fb),
   learned/optimal: exact ν(θ) (``asimov_q_unbinned``) and shape × rate with the learned mean
   (``asimov_q_shape_rate``, what ``setLearnedNormalisation`` does).
4. Evaluation time per event: both models exported to ONNX and run by Python onnxruntime (one
   thread, one batched call over the held-out events), and by the C++ ``RooEFTUnbinnedPdf``
   (first NLL evaluation = one ONNX Runtime call plus the cache; later evaluations use the cache).
   The C++ NLL of the tree model is checked against numpy at two θ points.

Run (the recorded numbers; about 4 minutes on 2 cores)::

    python benchmarks/bench_trees.py
    python benchmarks/bench_trees.py --n-signal 60000 --epochs 3     # smoke test

Prints the markdown tables of ``benchmarks/RESULTS_trees.md`` (``--json PATH`` also writes the
raw numbers). ``--no-converged`` skips the third column (the trees boosted to early stopping).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_closure import (
    F64,
    asimov_q_shape_rate,
    asimov_q_unbinned,
    check_truth,
    closure_table,
    generate,
    parton_features,
    scan_interval,
    single_monomials,
)


def onnx_seconds(path: Path, x: np.ndarray, repeat: int = 3) -> float:
    """Best wall time of one batched single-threaded onnxruntime call over ``x``."""
    from rooeft.onnx import run, session

    sess = session(path)
    run(sess, x[:10])
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run(sess, x)
        best = min(best, time.perf_counter() - t0)
    return best


def cpp_pdf_timing(
    path: Path, names: Sequence[str], coefs: Sequence[str], x: np.ndarray, xsec: np.ndarray, yield_: float
) -> dict[str, Any]:
    """First and later NLL evaluations of ``RooEFTUnbinnedPdf`` on ``x``; the NLL at two θ points."""
    import rooeft

    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    obs = [ROOT.RooRealVar(n, n, 0.0, -1e9, 1e9) for n in names]
    pois = [ROOT.RooRealVar(c, c, 0.0, -10, 10) for c in coefs]
    pdf = ROOT.RooEFTUnbinnedPdf(
        "pdf", "pdf", str(path), ROOT.RooArgList(*obs), ROOT.RooArgList(*pois), ROOT.RooArgList()
    )
    if abs(pdf.expectedYield() - yield_) > 1e-6 * yield_:  # the nominal rate comes from the metadata
        raise RuntimeError(f"expected yield {pdf.expectedYield()} != {yield_}")
    pdf.setCrossSection("sig", [float(v) for v in xsec])
    data = ROOT.RooDataSet.from_numpy({n: x[:, j] for j, n in enumerate(names)}, ROOT.RooArgSet(*obs))
    nll = pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
    t0 = time.perf_counter()
    first = nll.getVal()
    t_first = time.perf_counter() - t0
    values = []
    t0 = time.perf_counter()
    for k in range(20):
        pois[0].setVal(1e-4 * (k + 1))
        values.append(nll.getVal())
    t_later = (time.perf_counter() - t0) / 20
    probe = (0.004, -0.03, 0.1)[: len(coefs)]
    for p, v in zip(pois, probe, strict=True):
        p.setVal(v)
    at_probe = nll.getVal()
    for p in pois:
        p.setVal(0.0)
    at_zero = nll.getVal()
    return {
        "first_eval_s": t_first,
        "later_eval_s": t_later,
        "network_calls": int(pdf.networkCalls()),
        "nll_difference": at_probe - at_zero,
        "probe": list(probe),
        "first_value": first,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-signal", type=int, default=400_000, help="generated signal events (before acceptance)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--train-fraction", type=float, default=0.6)
    ap.add_argument("--epochs", type=int, default=60, help="max epochs of the network")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--tree-learning-rate", type=float, default=0.3)
    ap.add_argument("--max-trees", type=int, default=3000, help="upper limit on the trees")
    ap.add_argument("--tree-patience", type=int, default=50, help="early stopping of the trees (iterations)")
    ap.add_argument(
        "--converged",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also boost the trees to early stopping (no time budget)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the raw numbers to this JSON file")
    args = ap.parse_args(argv)

    import torch

    from rooeft.examples.zh.generator import structure_constant_names
    from rooeft.examples.zh.model import COEFFICIENTS, TERM_LABELS
    from rooeft.nn import (
        NetworkConfig,
        QuadraticConfig,
        TrainingConfig,
        TreeConfig,
        compose,
        train_boosted_trees,
        train_joint_quadratic,
    )

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    coefs = COEFFICIENTS
    n_c = len(coefs)
    labels = list(TERM_LABELS[1:])
    ev = generate(args.n_signal, args.seed)
    sc = np.column_stack([ev[n] for n in structure_constant_names()]).astype(np.float64)
    truth_dev = check_truth(ev, sc)
    n_acc = sc.shape[0]
    perm = np.random.default_rng([args.seed, 17]).permutation(n_acc)
    n_train = int(args.train_fraction * n_acc)
    train, test = np.sort(perm[:n_train]), np.sort(perm[n_train:])
    sc_test = sc[test] * (n_acc / test.size)
    w0_test = sc_test[:, 0]
    exact_cols = sc_test[:, 1:] / sc_test[:, :1]
    term_sums = sc_test.sum(axis=0)
    x, names = parton_features(ev)
    print(f"{n_acc} accepted events, {n_train} for training, {test.size} held out", flush=True)

    def exact_q(index: int, rows_sc: np.ndarray) -> Callable[[F64], F64]:
        cols = rows_sc[:, 1:] / rows_sc[:, :1]
        sums = rows_sc.sum(axis=0)
        return lambda g: asimov_q_unbinned(rows_sc[:, 0], cols, sums, single_monomials(n_c, index, g))

    sc_train = sc[train] * (n_acc / train.size)
    theta_scale = tuple(0.5 * scan_interval(exact_q(a, sc_train), points=201)[2]["width"]["95"] for a in range(n_c))
    print("theta_scale:", [f"{s:.4g}" for s in theta_scale], flush=True)

    t0 = time.perf_counter()
    net = train_joint_quadratic(
        x,
        sc,
        observables=names,
        coefficients=coefs,
        events=train,
        name="quadratic",
        config=QuadraticConfig(
            network=NetworkConfig(),
            training=TrainingConfig(
                max_epochs=args.epochs, progress=False, seed=0, num_threads=args.threads, device="cpu"
            ),
            theta_scale=theta_scale,
        ),
    )
    t_net = time.perf_counter() - t0
    print(f"network: {net.history.epochs} epochs (best {net.history.best_epoch}), {t_net:.1f} s", flush=True)

    def boost(max_seconds: float | None) -> tuple[Any, float]:
        t0 = time.perf_counter()
        est = train_boosted_trees(
            x,
            sc,
            observables=names,
            coefficients=coefs,
            events=train,
            config=TreeConfig(
                theta_scale=theta_scale,
                n_trees=args.max_trees,
                max_depth=args.depth,
                learning_rate=args.tree_learning_rate,
                patience=args.tree_patience,
                max_seconds=max_seconds,
                seed=0,
            ),
        )
        seconds = time.perf_counter() - t0
        h = est.history
        print(
            f"trees: {h.iterations} grown, {est.ensemble.n_trees} kept, {seconds:.1f} s "
            f"(stopped by time: {h.stopped_by_time}, early: {h.stopped_early})",
            flush=True,
        )
        return est, seconds

    models: dict[str, Any] = {"network": net}
    seconds = {"network": t_net}
    models["trees"], seconds["trees"] = boost(t_net)
    if args.converged:
        models["trees_converged"], seconds["trees_converged"] = boost(None)
    tree_keys = [k for k in models if k != "network"]

    columns = {key: est.predict(x[test]) for key, est in models.items()}
    closure: dict[str, list[dict[str, Any]]] = {}
    for key, cols in columns.items():
        closure[key] = closure_table(cols, exact_cols, w0_test, labels)
        learned_int = (w0_test @ cols) / term_sums[0]
        for row, li, ei in zip(closure[key], learned_int, term_sums[1:] / term_sums[0], strict=True):
            row["integral_learned"], row["integral_exact"] = float(li), float(ei)
        rms = np.sqrt(np.average((cols - exact_cols) ** 2, weights=w0_test, axis=0))
        for row, r in zip(closure[key], rms, strict=True):
            row["rms_error_over_rms_true"] = float(r / row["rms_true"])

    widths: dict[str, dict[str, Any]] = {}
    for a, c in enumerate(coefs):
        widths[c] = {"exact": scan_interval(exact_q(a, sc_test))[2]}
        for key, cols in columns.items():

            def q_plain(g: F64, cols: np.ndarray = cols, a: int = a) -> F64:
                return asimov_q_unbinned(w0_test, cols, term_sums, single_monomials(n_c, a, g))

            def q_sr(g: F64, cols: np.ndarray = cols, a: int = a) -> F64:
                return asimov_q_shape_rate(w0_test, cols, term_sums, single_monomials(n_c, a, g))

            widths[c][key] = scan_interval(q_plain)[2]
            widths[c][f"{key}_shaperate"] = scan_interval(q_sr)[2]

    timing: dict[str, Any] = {}
    xt = np.ascontiguousarray(x[test], dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {key: Path(tmp) / f"{key}.onnx" for key in models}
        for key in tree_keys:
            models[key].export(paths[key], process="sig", nominal_rates={"sig": float(term_sums[0])})
        compose(
            observables=names,
            coefficients=coefs,
            processes=("sig",),
            eft={"sig": net},
            nominal_rates={"sig": float(term_sums[0])},
        ).export(paths["network"])
        xsec = term_sums / term_sums[0]
        for key, path in paths.items():
            timing[key] = {
                "onnx_bytes": path.stat().st_size,
                "python_ort_s": onnx_seconds(path, xt),
                "cpp_pdf": cpp_pdf_timing(path, names, coefs, x[test], xsec, float(term_sums[0])),
            }
        # the C++ NLL of the tree model against numpy on the same events (unit weights)
        from rooeft.onnx import run
        from rooeft.terms import monomials

        for key in tree_keys:
            cols32 = run(paths[key], xt)
            probe = np.array(timing[key]["cpp_pdf"]["probe"])
            mono = monomials(probe[None, :])[0]
            np_diff = float(term_sums[0] * (xsec @ mono - 1.0) - np.sum(np.log(1.0 + cols32 @ mono[1:])))
            timing[key]["numpy_nll_difference"] = np_diff

    result = {
        "command": " ".join(["python benchmarks/bench_trees.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"numpy {np.__version__}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} at the end",
        "n_accepted": n_acc,
        "n_train": n_train,
        "n_heldout": int(test.size),
        "truth_check_max_rel_dev": truth_dev,
        "theta_scale": list(theta_scale),
        "training": {
            "network": {
                "seconds": t_net,
                "epochs": net.history.epochs,
                "best_epoch": net.history.best_epoch,
                "stopped_early": net.history.stopped_early,
            },
            **{
                key: {
                    "seconds": seconds[key],
                    "grown": models[key].history.iterations,
                    "kept": models[key].ensemble.n_trees,
                    "stopped_by_time": models[key].history.stopped_by_time,
                    "stopped_early": models[key].history.stopped_early,
                    "depth": args.depth,
                    "learning_rate": args.tree_learning_rate,
                }
                for key in tree_keys
            },
        },
        "closure": closure,
        "widths": widths,
        "timing": timing,
        "total_seconds": time.perf_counter() - t_start,
    }
    if args.json is not None:
        from rooeft.safeio import atomic_write

        args.json.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(args.json) as tmp_path:
            tmp_path.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    return 0


def markdown(result: Mapping[str, Any]) -> str:
    """The tables of RESULTS_trees.md."""
    out = []
    tr = result["training"]
    keys = list(tr)
    tm = result["timing"]
    n = result["n_heldout"]
    title = {"network": "network (3×64 SiLU)", "trees": "trees, equal time", "trees_converged": "trees, converged"}

    def row(label: str, cell: Callable[[str], str]) -> str:
        return f"| {label} | " + " | ".join(cell(k) for k in keys) + " |"

    def iterations(k: str) -> str:
        t = tr[k]
        if k == "network":
            return f"{t['epochs']} epochs (best {t['best_epoch']})"
        return f"{t['grown']} trees grown, {t['kept']} kept"

    out.append("| | " + " | ".join(title.get(k, k) for k in keys) + " |")
    out.append("|---|" + "---:|" * len(keys))
    out.append(row("training time (s)", lambda k: f"{tr[k]['seconds']:.1f}"))
    out.append(row("iterations", iterations))
    out.append(row("ONNX size (kB)", lambda k: f"{tm[k]['onnx_bytes'] / 1e3:.0f}"))
    out.append(row("Python ORT, 1 thread (µs/event)", lambda k: f"{1e6 * tm[k]['python_ort_s'] / n:.2f}"))
    out.append(
        row(
            "C++ pdf, first NLL = ORT + cache (µs/event)", lambda k: f"{1e6 * tm[k]['cpp_pdf']['first_eval_s'] / n:.2f}"
        )
    )
    out.append(
        row("C++ pdf, later NLL, cached (µs/event)", lambda k: f"{1e6 * tm[k]['cpp_pdf']['later_eval_s'] / n:.3f}")
    )
    cl = result["closure"]
    out.append(
        "\nClosure per term against the exact truth (held-out events): RMS(learned − true)/RMS(true), w0-weighted\n"
    )
    out.append("| term | " + " | ".join(title.get(k, k) for k in keys) + " |")
    out.append("|---|" + "---:|" * len(keys))
    for t, first in enumerate(cl[keys[0]]):
        out.append(
            f"| {first['term']} | " + " | ".join(f"{cl[k][t]['rms_error_over_rms_true']:.3f}" for k in keys) + " |"
        )
    out.append("\n68% band (16%, 84% quantiles) of (learned − true)/RMS(true), w0-weighted\n")
    out.append("| term | " + " | ".join(title.get(k, k) for k in keys) + " |")
    out.append("|---|" + "---|" * len(keys))
    for t, first in enumerate(cl[keys[0]]):
        cells = [f"[{cl[k][t]['norm_quantiles'][1]:+.3f}, {cl[k][t]['norm_quantiles'][3]:+.3f}]" for k in keys]
        out.append(f"| {first['term']} | " + " | ".join(cells) + " |")
    out.append("\nIntegral closure Σ w0 r̂_t / Σ w0 against the exact σ_t/σ_0\n")
    out.append("| term | exact | " + " | ".join(title.get(k, k) for k in keys) + " |")
    out.append("|---|---:|" + "---:|" * len(keys))
    for t, first in enumerate(cl[keys[0]]):
        cells = [f"{cl[k][t]['integral_learned']:+.4g}" for k in keys]
        out.append(f"| {first['term']} | {first['integral_exact']:+.4g} | " + " | ".join(cells) + " |")
    for suffix, what in (
        ("", "exact ν(θ) normalising the learned shape"),
        ("_shaperate", "shape × rate (learned mean normalises the shape, exact ν(θ) is the rate)"),
    ):
        out.append(
            f"\nExpected 95% width, learned/optimal (exact ratio), one coefficient at a time, Asimov at the SM; "
            f"{what}\n"
        )
        out.append("| coefficient | exact width | " + " | ".join(title.get(k, k) for k in keys) + " |")
        out.append("|---|---:|" + "---:|" * len(keys))
        for c, per in result["widths"].items():
            ref = per["exact"]["width"]["95"]
            cells = []
            for k in keys:
                iv = per[k + suffix]
                edge = " (edge!)" if iv["touches_edge"]["95"] else ""
                cells.append(f"{iv['width']['95'] / ref:.3f} (min at {iv['theta_at_min']:+.2g}){edge}")
            out.append(f"| {c} | {ref:.4g} | " + " | ".join(cells) + " |")
    for k in keys:
        if "numpy_nll_difference" in tm[k]:
            cpp = tm[k]["cpp_pdf"]
            out.append(
                f"\n{title.get(k, k)}: C++ NLL(θ={cpp['probe']}) − NLL(0) = {cpp['nll_difference']:.6f}, "
                f"numpy {tm[k]['numpy_nll_difference']:.6f}; network calls {cpp['network_calls']}"
            )
    out.append(f"\nTotal {result['total_seconds']:.0f} s; {result['machine']}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
