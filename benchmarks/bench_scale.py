#!/usr/bin/env python3
"""Fits, scans and toys at the scale of a real analysis: 10^6 unbinned events, 3 Wilson
coefficients, 10 profiled nuisances (lumi, b-tag, 8 further lnN), side by side with stock
RooFit (RooMinimizer on RooFit's NLL of the same workspace, numerical gradients) and, where a
``combine`` executable is on PATH, CMS Combine on the same workspace and points.

The case is built the way a user would build it, with the rooeft commands:

1. ``rooeft generate`` twice at 70 ab⁻¹: the simulation the workspace is built on (seed 1) and an
   independent weighted simulation sample used as the data (seed 2, ~10^6 selected events);
2. ``rooeft train`` (a short training: the benchmark measures inference, not the network);
3. ``rooeft build`` of a YAML config with the 10 nuisances.

Then it measures (wall time, likelihood calls, convergence, memory peak):

* one full profiled fit (Migrad + Hesse) with the kernel engine and with RooFit;
* a 21-point 1D profile scan (1 and 2 workers) and a 30×30 2D scan with 2 workers;
* fits of 100 toys at 10^6 events (convergence rate);
* the cost of one likelihood evaluation against the numpy floor;
* how time and memory grow from 10^4 to 10^7 events (each size in a fresh process).

Results go to ``benchmarks/RESULTS_scale.md`` (and a JSON beside it)::

    python benchmarks/bench_scale.py --workdir /tmp/scale           # full run, ~30 min on 2 cores
    python benchmarks/bench_scale.py --workdir /tmp/scale --quick   # 10^5 events, small scans
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

OBSERVABLES = (
    "sqrt_s_hat", "pT", "y", "cos_theta", "phi_hat", "cos_theta_hat", "fLL", "f1TT", "f2TT", "f1LT", "f2LT",
    "f1tildeLT", "f2tildeLT", "fTTprime", "ftildeTTprime", "m_bb",
)  # fmt: skip
LUMI = 25000.0  # 1/fb: ~10^6 expected events, so toys (unweighted) have ~10^6 events like the data
EXTRA_LNN = [(f"norm{k}", 1.01 + 0.01 * k, "sig" if k % 2 == 0 else "bkg") for k in range(8)]
TARGETS = {
    "fit_s": 10.0,
    "scan1d_s": 60.0,
    "scan2d_s": 300.0,
    "toy_convergence": 0.99,
    "nll_vs_numpy": 1.5,
}


def run(cmd: list[str], log: Path) -> float:
    """Run a rooeft command, appending its output to ``log``; returns the wall time."""
    t0 = time.perf_counter()
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0


def prepare(work: Path, n_events: float, log: Path) -> dict[str, Any]:
    """Generate, train and build the benchmark workspace (skipped where outputs exist)."""
    exe = [sys.executable, "-m", "rooeft.cli"]
    sim, data, models = work / "sim", work / "data", work / "models"
    info: dict[str, Any] = {}
    # ~63% of the signal and ~30% of the background pass the selection
    n_sig, n_bkg = int(0.6 * n_events / 0.63), int(0.4 * n_events / 0.30)
    if not (sim / "zh_signal.root").exists():
        info["generate_sim_s"] = run(
            [*exe, "generate", "--output-dir", str(sim), "--n-signal", str(max(20000, n_sig // 5)), "--n-background",
             str(max(20000, n_bkg // 5)), "--seed", "1", "--theta", "none", "--luminosity", str(LUMI),
             "--no-progress"],
            log,
        )  # fmt: skip
    if not (data / "zh_signal.root").exists():
        info["generate_data_s"] = run(
            [*exe, "generate", "--output-dir", str(data), "--n-signal", str(n_sig), "--n-background", str(n_bkg),
             "--seed", "2", "--theta", "none", "--luminosity", str(LUMI), "--no-progress"],
            log,
        )  # fmt: skip
    model = models / "zh.onnx"
    if not model.exists():
        info["train_s"] = run(
            [*exe, "train", "--process", f"sig={sim / 'zh_signal.root'}", "--process",
             f"bkg={sim / 'zh_background.root'}", "--observables", ",".join(OBSERVABLES), "--systematics", "btag",
             "--epochs", "8", "--seed", "1", "--quiet", "-o", str(model)],
            log,
        )  # fmt: skip
    ws = work / "ws_scale.root"
    if not ws.exists():
        cfg = work / "scale.yaml"
        cfg.write_text(config_yaml(model, sim, data))
        info["build_s"] = run([*exe, "build", str(cfg), "-o", str(ws), "-q"], log)
    info["workspace"] = str(ws)
    return info


def config_yaml(model: Path, sim: Path, data: Path) -> str:
    lnn = "".join(
        f"- name: {name}\n  type: lnN\n  kappa: {kappa:.2f}\n  processes: [{proc}]\n" for name, kappa, proc in EXTRA_LNN
    )
    return f"""version: 1
name: zh_scale
coefficients:
- {{name: cHQ3, range: [-0.3, 0.3], sm: 0.0}}
- {{name: cHW, range: [-1.5, 1.5], sm: 0.0}}
- {{name: cHWtil, range: [-1.5, 1.5], sm: 0.0}}
channels:
- name: unbinned
  kind: unbinned
  model: {model}
  processes:
  - {{name: sig, files: [{sim / "zh_signal.root"}], eft: true}}
  - {{name: bkg, files: [{sim / "zh_background.root"}]}}
  data:
    files: [{data / "zh_signal.root"}, {data / "zh_background.root"}]
    weight: weight
systematics:
- {{name: lumi, type: lnN, kappa: 1.02}}
- {{name: btag, type: weight}}
{lnn}"""


def peak_mb() -> float:
    """Peak resident memory of this process and its finished children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_fits(ws: str, engines: list[str]) -> dict[str, Any]:
    from rooeft.infer import fit
    from rooeft.infer.model import Model

    out: dict[str, Any] = {}
    for engine in engines:
        model = Model(ws, engine=engine)
        res, secs = timed(lambda m=model, e=engine: fit(m, label=e))
        out[engine] = {
            "seconds": secs,
            "status": res.status,
            "cov_quality": res.cov_quality,
            "calls": sum(a.calls for a in res.attempts),
            "attempts": [a.name for a in res.attempts],
            "min_nll": res.min_nll,
            "pois": {p: [res.parameters[p].value, res.parameters[p].error] for p in res.pois},
            "network_calls": sum(int(model.channel_pdfs[c].networkCalls()) for c in model.channels),
        }
        print(f"fit [{engine}]: {secs:.1f} s, status {res.status}, covQual {res.cov_quality}", flush=True)
    return out


def bench_scans(ws: str, quick: bool, best: dict[str, list[float]]) -> dict[str, Any]:
    from rooeft.infer import scan1d, scan2d

    n1, n2 = (7, 6) if quick else (21, 30)
    # ± 3 Hesse σ around the best fit (the points a user would scan), inside the POI ranges
    lim = {"cHW": (-1.5, 1.5), "cHWtil": (-1.5, 1.5)}
    ranges = {
        p: (max(lim[p][0], best[p][0] - 3 * best[p][1]), min(lim[p][1], best[p][0] + 3 * best[p][1])) for p in lim
    }
    out: dict[str, Any] = {}
    for workers in (1, 2):
        s, secs = timed(lambda w=workers: scan1d(ws, "cHW", points=n1, range=ranges["cHW"], workers=w))
        out[f"scan1d_workers{workers}"] = {
            "seconds": secs,
            "points": n1,
            "failed": sum(p.status != 0 for p in s.points),
            "calls": sum(p.calls for p in s.points),
            "interval68": [list(iv) for iv in s.intervals["68"]],
            "attempts": sorted({p.attempt for p in s.points}),
        }
        print(f"scan1d {n1} points, {workers} worker(s): {secs:.1f} s", flush=True)
    # 1 against 2 workers on the full grid (1 worker: in this process, both cores in each evaluation)
    s, secs = timed(lambda: scan2d(ws, ("cHW", "cHWtil"), points=n2, ranges=ranges, workers=1))
    out["scan2d_workers1"] = {"seconds": secs, "points": n2 * n2, "failed": sum(p.status != 0 for p in s.points)}
    print(f"scan2d {n2}x{n2}, 1 worker: {secs:.1f} s", flush=True)
    s2, secs = timed(lambda: scan2d(ws, ("cHW", "cHWtil"), points=n2, ranges=ranges, workers=2))
    out["scan2d_workers2"] = {
        "seconds": secs,
        "points": n2 * n2,
        "failed": sum(p.status != 0 for p in s2.points),
        "calls": sum(p.calls for p in s2.points),
        "attempts": sorted({p.attempt for p in s2.points}),
    }
    print(f"scan2d {n2}x{n2}, 2 workers: {secs:.1f} s", flush=True)
    return out


def bench_toys(ws: str, n_toys: int) -> dict[str, Any]:
    from rooeft.infer import toys

    res, secs = timed(lambda: toys(ws, {}, n_toys=n_toys, seed=7, interval="hesse", workers=2))
    ok = sum(f.ok for f in res.fits)
    print(f"toys: {ok}/{n_toys} converged in {secs:.1f} s", flush=True)
    return {"seconds": secs, "n": n_toys, "converged": ok, "rate": ok / n_toys}


def bench_nll(ws: str, repeats: int = 15) -> dict[str, Any]:
    """Cost of one likelihood evaluation at 10^6 events: the kernel (value, value+gradient) and
    RooFit's NLL of the same workspace, against the numpy floor of the same closed form."""
    from rooeft.infer.model import DataSpec, Model

    model = Model(ws, engine="kernel")
    knll = model.likelihood(DataSpec())
    ROOT = model.ROOT
    rng = np.random.default_rng(3)
    names = knll.names
    base = knll.vector({})
    points = [base + rng.normal(0, 0.01, base.size) for _ in range(repeats)]
    vecs = [ROOT.std.vector["double"](p) for p in points]
    grad = ROOT.std.vector["double"](np.zeros(len(names)))

    def med(f: Any) -> float:
        ts = []
        for v in vecs:
            t0 = time.perf_counter()
            f(v)
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    n_events = int(knll.kernel.nEvents())
    out: dict[str, Any] = {"events": n_events}
    for threads in (1, 2):
        knll.kernel.setThreads(threads)
        out[f"kernel_value_t{threads}_ms"] = 1e3 * med(lambda v: knll.kernel.value(v))
        out[f"kernel_grad_t{threads}_ms"] = 1e3 * med(lambda v: knll.kernel.valueAndGradient(v.data(), grad.data()))
    # numpy floor: the same closed form on float64 columns (signal EFT polynomial, b-tag exponent)
    out["numpy_ms"] = 1e3 * numpy_floor(model, repeats)
    roofit = model.nll(DataSpec())
    ts = []
    for p in points[:5]:
        model.set_values({n: float(np.clip(v, *model.ranges[n])) for n, v in zip(names, p, strict=True)})
        t0 = time.perf_counter()
        roofit.getVal()
        ts.append(time.perf_counter() - t0)
    out["roofit_ms"] = 1e3 * statistics.median(ts)
    return out


def numpy_floor(model: Any, repeats: int) -> float:
    """Median time of the numpy evaluation of Σ ln R over cached float64 columns with the layout of
    the workspace's model (2 processes, 10 EFT terms for the signal, one per-event shape nuisance
    on each): the least work any implementation must do."""
    from rooeft.infer.model import DataSpec

    per, _ = model.dataset_arrays(DataSpec())
    n = sum(w.size for _, w in per.values())
    rng = np.random.default_rng(5)
    cols_sig = rng.uniform(0.5, 1.5, (10, n))
    cols_bkg = rng.uniform(0.5, 1.5, (1, n))
    sys_sig, sys_bkg = rng.normal(0, 0.05, (2, n)), rng.normal(0, 0.05, (2, n))
    w = np.ones(n)
    ts = []
    for _ in range(repeats):
        coef = rng.normal(1, 0.01, 10)
        nu = rng.normal(0, 0.1, 2)
        t0 = time.perf_counter()
        r = (coef @ cols_sig) * np.exp(nu @ sys_sig) + cols_bkg[0] * np.exp(nu @ sys_bkg)
        float(np.dot(w, np.log(r)))
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def scaling_child(ws: str, n: int) -> dict[str, Any]:
    """In a fresh process: a kernel on n events resampled from the data, one full fit, memory."""
    from rooeft.infer.fit import fit_spec
    from rooeft.infer.kernel import KernelNLL
    from rooeft.infer.model import DataSpec, Model

    model = Model(ws, engine="kernel")
    per, globs = model.dataset_arrays(DataSpec())
    rng = np.random.default_rng(11)
    sub: dict[str, tuple[dict[str, Any], Any]] = {}
    total = sum(w.size for _, w in per.values())
    for ch, (obs, w) in per.items():
        k = rng.choice(w.size, size=max(1, round(n * w.size / total)), replace=n > w.size)
        sub[ch] = ({o: v[k] for o, v in obs.items()}, w[k] * (w.sum() / w[k].sum()))
    t0 = time.perf_counter()
    knll = KernelNLL(model, sub, globs)
    build = time.perf_counter() - t0
    res, secs = timed(lambda: fit_spec(model, DataSpec(), nll=knll))
    x = model.ROOT.std.vector["double"](knll.vector({}))
    g = model.ROOT.std.vector["double"](np.zeros(len(knll.names)))
    ts = []
    for _ in range(7):
        t1 = time.perf_counter()
        knll.kernel.valueAndGradient(x.data(), g.data())
        ts.append(time.perf_counter() - t1)
    return {
        "events": int(knll.kernel.nEvents()),
        "cache_build_s": build,
        "fit_s": secs,
        "status": res.status,
        "cov_quality": res.cov_quality,
        "calls": sum(a.calls for a in res.attempts),
        "call_ms": 1e3 * statistics.median(ts),
        "peak_mb": peak_mb(),
    }


def bench_scaling(ws: str, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--scaling-child", ws, str(n)], check=True, capture_output=True, text=True
        ).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(f"scaling n={n}: {row}", flush=True)
        rows.append(row)
    return rows


def bench_combine(ws: str, work: Path, quick: bool) -> dict[str, Any] | None:
    """Combine on the same workspace and points (only where a ``combine`` executable exists)."""
    exe = shutil.which("combine")
    if exe is None:
        return None
    from rooeft._roofit import library_path

    n1 = 7 if quick else 21
    cmd = [
        exe, "-M", "MultiDimFit", ws, "-L", str(library_path()), "--optimizeSimPdf", "0", "--algo", "grid",
        "--points", str(n1), "-P", "cHW", "--floatOtherPOIs", "1", "--setParameterRanges", "cHW=-0.15,0.15",
        "-n", ".rooeft_bench",
    ]  # fmt: skip
    t = run(cmd, work / "combine.log")
    return {"scan1d_seconds": t, "points": n1}


def report(results: dict[str, Any], path: Path) -> None:
    fits, scans, nll, toys = results["fits"], results["scans"], results["nll"], results.get("toys")
    k = fits["kernel"]
    lines = [
        f"## Fits at scale ({results['date']}, {results['machine']})",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Case: `rooeft generate` at {LUMI / 1000:g} ab⁻¹ (the expected yield, like the data, is ~10⁶ events; "
        "simulation seed 1; an independent weighted simulation sample as data, seed 2), `rooeft train` "
        "(8 epochs), `rooeft build` with 3 coefficients and 10 profiled "
        "nuisances (lumi, b-tag as a learned per-event shape, 8 further lnN). Data events: "
        f"**{nll['events']:,}**. Engines: `kernel` = rooeft's closed-form NLL with exact gradients (the default, "
        "`engine=auto`); `roofit` = RooFit's NLL of the same workspace with RooMinimizer and numerical gradients "
        "(`Offset(initial)`), which is what a user would otherwise run.",
        "",
        "| what | target | rooeft (kernel) | stock RooFit | met? |",
        "|---|---|---|---|---|",
    ]
    r = fits.get("roofit")

    def fitcell(f: dict[str, Any] | None) -> str:
        if f is None:
            return "not run"
        return f"{f['seconds']:.1f} s, status {f['status']}, covQual {f['cov_quality']}, {f['calls']} calls"

    fit_met = k["seconds"] <= TARGETS["fit_s"] and k["status"] == 0 and k["cov_quality"] == 3
    lines.append(
        f"| full profiled fit (Migrad + Hesse) | ≤ {TARGETS['fit_s']:g} s, status 0, covQual 3 | {fitcell(k)} | "
        f"{fitcell(r)} | {'yes' if fit_met else 'no'} |"
    )
    s1, s1b = scans["scan1d_workers1"], scans["scan1d_workers2"]
    lines.append(
        f"| 1D profile scan, {s1['points']} points | ≤ {TARGETS['scan1d_s']:g} s | {s1['seconds']:.1f} s (1 worker), "
        f"{s1b['seconds']:.1f} s (2 workers); {s1['failed']} failed | — | "
        f"{'yes' if min(s1['seconds'], s1b['seconds']) <= TARGETS['scan1d_s'] and s1['failed'] == 0 else 'no'} |"
    )
    s2 = scans["scan2d_workers2"]
    a, b = scans["scan2d_workers1"], scans["scan2d_workers2"]
    lines.append(
        f"| 2 workers faster than 1 (2D scan {math.isqrt(a['points'])}²) | faster | {a['seconds']:.1f} s (1 worker, "
        f"both cores in each evaluation) → {b['seconds']:.1f} s (2 workers) | — | "
        f"{'yes' if b['seconds'] < a['seconds'] else 'no'} |"
    )
    lines.append(
        f"| 2D profile scan {math.isqrt(s2['points'])}², 2 workers | ≤ {TARGETS['scan2d_s']:g} s | "
        f"{s2['seconds']:.1f} s, {s2['failed']} failed, {s2['calls']} calls | — | "
        f"{'yes' if s2['seconds'] <= TARGETS['scan2d_s'] and s2['failed'] == 0 else 'no'} |"
    )
    if toys:
        lines.append(
            f"| convergence on {toys['n']} toys | ≥ {100 * TARGETS['toy_convergence']:g}% | "
            f"{100 * toys['rate']:.0f}% ({toys['seconds']:.0f} s, 2 workers) | — | "
            f"{'yes' if toys['rate'] >= TARGETS['toy_convergence'] else 'no'} |"
        )
    ratio = nll["kernel_value_t1_ms"] / nll["numpy_ms"]
    lines.append(
        f"| NLL evaluation vs numpy floor | ≤ {TARGETS['nll_vs_numpy']:g}× | value {nll['kernel_value_t1_ms']:.2f} ms "
        f"(1 thread), {nll['kernel_value_t2_ms']:.2f} ms (2); value+gradient {nll['kernel_grad_t1_ms']:.2f} / "
        f"{nll['kernel_grad_t2_ms']:.2f} ms; numpy {nll['numpy_ms']:.2f} ms → {ratio:.2f}× | RooFit NLL "
        f"{nll['roofit_ms']:.1f} ms | {'yes' if ratio <= TARGETS['nll_vs_numpy'] else 'no'} |"
    )
    comb = results.get("combine")
    lines.append(
        "| Combine on the same workspace and points | rooeft faster | — | "
        + (f"{comb['scan1d_seconds']:.1f} s for the 1D scan" if comb else "not run: no `combine` on PATH")
        + " | "
        + ("yes" if comb and comb["scan1d_seconds"] > s1["seconds"] else "not measured")
        + " |"
    )
    lines += [
        "",
        "Growth with the number of events (a fresh process per size; events resampled from the data; one full fit "
        "with the kernel engine, Migrad + Hesse):",
        "",
        "| events | cache (network) s | NLL+gradient call ms | fit s | calls | status / covQual | peak memory MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["scaling"]:
        lines.append(
            f"| {row['events']:,} | {row['cache_build_s']:.2f} | {row['call_ms']:.2f} | {row['fit_s']:.2f} | "
            f"{row['calls']} | {row['status']} / {row['cov_quality']} | {row['peak_mb']:.0f} |"
        )
    lines += [
        "",
        f"Fit values (kernel): {json.dumps({p: [round(v, 5) for v in pe] for p, pe in k['pois'].items()})}; "
        + (
            f"RooFit: {json.dumps({p: [round(v, 5) for v in pe] for p, pe in r['pois'].items()})}; "
            f"min NLL kernel {k['min_nll']:.4f}, RooFit {r['min_nll']:.4f}."
            if r
            else ""
        ),
        f"Scan retry-ladder steps used: 1D {s1['attempts']}, 2D {s2['attempts']}. Peak memory of the run "
        f"(main process and workers): {results['peak_mb']:.0f} MB.",
        "",
    ]
    path.write_text("\n".join(lines))
    path.with_suffix(".json").write_text(json.dumps(results, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("bench-scale"))
    ap.add_argument("--events", type=float, default=1e6)
    ap.add_argument("--quick", action="store_true", help="10^5 events, small scans, 10 toys")
    ap.add_argument("--toys", type=int, default=100)
    ap.add_argument("--no-roofit", action="store_true", help="skip the stock-RooFit fit")
    ap.add_argument("--sizes", type=float, nargs="*", default=[1e4, 1e5, 1e6, 1e7])
    ap.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS_scale.md"))
    ap.add_argument("--scaling-child", nargs=2, metavar=("WS", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scaling_child:
        print(json.dumps(scaling_child(args.scaling_child[0], int(args.scaling_child[1]))))
        return
    if args.quick:
        args.events, args.toys, args.sizes = 1e5, 10, [1e4, 1e5]
    args.workdir.mkdir(parents=True, exist_ok=True)
    log = args.workdir / "bench_scale.log"
    results: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
    }
    results["prepare"] = prepare(args.workdir, args.events, log)
    ws = results["prepare"]["workspace"]
    results["fits"] = bench_fits(ws, ["kernel"] + ([] if args.no_roofit else ["roofit"]))
    results["nll"] = bench_nll(ws)
    results["scans"] = bench_scans(ws, args.quick, results["fits"]["kernel"]["pois"])
    results["toys"] = bench_toys(ws, args.toys) if args.toys else None
    results["combine"] = bench_combine(ws, args.workdir, args.quick)
    results["scaling"] = bench_scaling(ws, [int(s) for s in args.sizes])
    results["peak_mb"] = peak_mb()
    report(results, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
