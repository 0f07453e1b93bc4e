#!/usr/bin/env python3
"""Unbinned-NLL evaluation cost per event, side by side on the same events and the same model.

Compared (DESIGN.md §2; issues "C++ core" and "fits at scale"):
  kernel     rooeft's closed-form NLL (RooEFT::NLLKernel) on the same pdf: value, and value+gradient
  ours       RooEFTUnbinnedPdf in a RooFit NLL, cpu backend, cache warm
  stock-cpu  stock RooFit: per-event coefficient columns in a RooDataSet, RooFormulaVar R/norm(θ,ν) in a
             self-normalised RooWrapperPdf × RooExtendPdf, cpu backend
  stock-leg  the same, legacy backend
  net-call   a θ-parametrised network (3×64 tanh MLP, inputs x and θ) run by onnxruntime at every call
  numpy      numpy floor: the same closed form on cached float64 columns

Model: signal (EFT, n coefficients, K per-event shape nuisances) + background, one observable x.
Every NLL is checked against a numpy evaluation of the same formula at two parameter points.

    python benchmarks/bench_unbinned_nll.py                      # full table (10^4..10^7; ~15 min)
    python benchmarks/bench_unbinned_nll.py --sizes 1e4 1e5 --coefficients 2 --no-fit   # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import rooeft
from rooeft.terms import monomials, quadratic_pairs
from rooeft.testing.onnx_toys import build_columns_model, column_values

YIELD_SIG, YIELD_BKG = 3000.0, 7000.0
KAPPA = (1.02, 0.985)  # yield effect of every shape nuisance on the signal


def model_columns(n: int, k_nuis: int) -> list[tuple[str, str, list[float]]]:
    """Closed-form output columns of the benchmark model with n coefficients."""
    names = [f"c{a}" for a in range(n)]
    cols: list[tuple[str, str, list[float]]] = [
        ("frac:sig", "sigmoid", [0.3, 0.5]),
        ("frac:bkg", "1-sigmoid", [0.3, 0.5]),
    ]
    cols += [(f"lin:sig:{names[a]}", "poly", [0.1 * a, 0.3 + 0.1 * a]) for a in range(n)]
    cols += [
        (f"quad:sig:{names[a]}:{names[b]}", "poly", [0.02, 0.0, 0.05 if a == b else 0.01])
        for a, b in quadratic_pairs(n)
    ]
    for k in range(k_nuis):
        cols += [
            (f"sysup:sig:nu{k}", "exp", [0.02 * (k + 1), 0.01]),
            (f"sysdown:sig:nu{k}", "exp", [-0.02 * (k + 1), -0.012]),
        ]
    return cols


def xsec_terms(n: int) -> list[float]:
    t = [1.0] + [0.3 + 0.1 * a for a in range(n)]
    t += [0.05 if a == b else 0.01 for a, b in quadratic_pairs(n)]
    return t


def smooth_step(nu: float) -> float:
    return float(np.clip((15 * nu - 10 * nu**3 + 3 * nu**5) / 8, -1, 1)) if abs(nu) < 1 else float(np.sign(nu))


class Columns:
    """Exact per-event columns (float64) of the model, for the stock-RooFit and numpy versions."""

    def __init__(self, x: np.ndarray, n: int, k_nuis: int) -> None:
        cols = {name: column_values(kind, c, x) for name, kind, c in model_columns(n, k_nuis)}
        self.fs, self.fb = cols["frac:sig"], cols["frac:bkg"]
        self.r = np.stack(
            [cols[f"lin:sig:c{a}"] for a in range(n)] + [cols[f"quad:sig:c{a}:c{b}"] for a, b in quadratic_pairs(n)],
            axis=1,
        )
        up = np.stack([cols[f"sysup:sig:nu{k}"] for k in range(k_nuis)] or [np.ones_like(x)], axis=1)[:, :k_nuis]
        down = np.stack([cols[f"sysdown:sig:nu{k}"] for k in range(k_nuis)] or [np.ones_like(x)], axis=1)[:, :k_nuis]
        self.A = 0.5 * (np.log(up) - np.log(down))
        self.B = 0.5 * (np.log(up) + np.log(down))
        self.n = n
        self.k = k_nuis


def nu_tot(theta: np.ndarray, nus: np.ndarray) -> float:
    a = 0.5 * (np.log(KAPPA[0]) - np.log(KAPPA[1]))
    b = 0.5 * (np.log(KAPPA[0]) + np.log(KAPPA[1]))
    f = np.exp(sum(v * a + v * smooth_step(v) * b for v in nus))
    return float(YIELD_SIG * (monomials(theta) @ np.array(xsec_terms(theta.size))) * f + YIELD_BKG)


def numpy_nll(c: Columns, theta: np.ndarray, nus: np.ndarray) -> float:
    m = monomials(theta)
    sig = c.fs * (m[0] + c.r @ m[1:])
    if c.k:
        sc_a, sc_b = nus, np.array([v * smooth_step(v) for v in nus])
        sig = sig * np.exp(c.A @ sc_a + c.B @ sc_b)
    R = sig + c.fb
    return nu_tot(theta, nus) - float(np.sum(np.log(R)))


def median_time(call: Callable[[int], float], reps: int) -> tuple[float, list[float]]:
    call(0)  # warm up
    times, values = [], []
    for i in range(1, reps + 1):
        t0 = time.perf_counter()
        values.append(call(i))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), values


def point(i: int, n: int, k_nuis: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(i)
    return rng.uniform(-0.3, 0.3, size=n), rng.uniform(-0.8, 0.8, size=k_nuis)


class Ours:
    def __init__(self, ROOT: Any, x: np.ndarray, n: int, k_nuis: int, tmp: Path) -> None:
        path = build_columns_model(
            tmp / f"bench{n}_{k_nuis}.onnx",
            model_columns(n, k_nuis),
            coefficients=[f"c{a}" for a in range(n)],
            processes=["sig", "bkg"],
            systematics=[f"nu{k}" for k in range(k_nuis)],
        )
        self.xv = ROOT.RooRealVar("x", "x", 0, -50, 50)
        self.th = [ROOT.RooRealVar(f"c{a}", f"c{a}", 0, -5, 5) for a in range(n)]
        self.nu = [ROOT.RooRealVar(f"nu{k}", f"nu{k}", 0, -5, 5) for k in range(k_nuis)]
        self.pdf = ROOT.RooEFTUnbinnedPdf(
            "pdf", "pdf", str(path), ROOT.RooArgList(self.xv), ROOT.RooArgList(*self.th), ROOT.RooArgList(*self.nu)
        )
        self.pdf.setYield("sig", YIELD_SIG)
        self.pdf.setYield("bkg", YIELD_BKG)
        self.pdf.setCrossSection("sig", xsec_terms(n))
        for k in range(k_nuis):
            self.pdf.setShapeNormEffect("sig", f"nu{k}", *KAPPA)
        self.data = ROOT.RooDataSet.from_numpy({"x": x}, ROOT.RooArgSet(self.xv))
        t0 = time.perf_counter()
        self.nll = self.pdf.createNLL(self.data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
        self.nll.getVal()
        self.first_call = time.perf_counter() - t0  # includes the one network evaluation

    def __call__(self, i: int) -> float:
        theta, nus = point(i, len(self.th), len(self.nu))
        for v, val in zip(self.th + self.nu, [*theta, *nus], strict=True):
            v.setVal(float(val))
        return float(self.nll.getVal())


class Kernel:
    """RooEFT::NLLKernel on the pdf of :class:`Ours` (the engine rooeft's fits use): value-only and
    value+gradient calls, one thread (the numpy floor is single-threaded too)."""

    def __init__(self, ROOT: Any, ours: Ours, x: np.ndarray) -> None:
        names = ROOT.std.vector["std::string"]()
        for v in ours.th + ours.nu:
            names.push_back(v.GetName())
        self.ROOT = ROOT
        self.k = ROOT.RooEFT.NLLKernel(names)
        self.k.setThreads(1)
        self.k.addUnbinned(
            ours.pdf, ROOT.std.vector["float"](x.astype(np.float32)), ROOT.std.vector["double"](np.ones(x.size))
        )
        self.n, self.k_nuis = len(ours.th), len(ours.nu)
        self.grad = ROOT.std.vector["double"](np.zeros(self.n + self.k_nuis))

    def _x(self, i: int) -> Any:
        theta, nus = point(i, self.n, self.k_nuis)
        return self.ROOT.std.vector["double"](np.concatenate([theta, nus]))

    def __call__(self, i: int) -> float:
        return float(self.k.value(self._x(i)))

    def with_gradient(self, i: int) -> float:
        x = self._x(i)
        return float(self.k.valueAndGradient(x.data(), self.grad.data()))


class Stock:
    def __init__(self, ROOT: Any, c: Columns, backend: str) -> None:
        n, k_nuis = c.n, c.k
        self.th = [ROOT.RooRealVar(f"c{a}", f"c{a}", 0, -5, 5) for a in range(n)]
        self.nu = [ROOT.RooRealVar(f"nu{k}", f"nu{k}", 0, -5, 5) for k in range(k_nuis)]
        cols: dict[str, np.ndarray] = {"fs": c.fs, "fb": c.fb}
        cols |= {f"r{t}": c.r[:, t] for t in range(c.r.shape[1])}
        cols |= {f"A{k}": c.A[:, k] for k in range(k_nuis)} | {f"B{k}": c.B[:, k] for k in range(k_nuis)}
        self.obs = [ROOT.RooRealVar(k, k, 0, -1e6, 1e6) for k in cols]
        self.data = ROOT.RooDataSet.from_numpy(cols, ROOT.RooArgSet(*self.obs))
        mono = [f"c{a}" for a in range(n)] + [f"c{a}*c{b}" for a, b in quadratic_pairs(n)]
        step = [f"((15*nu{k}-10*nu{k}^3+3*nu{k}^5)/8)" for k in range(k_nuis)]
        poly = "1+" + "+".join(f"{m}*r{t}" for t, m in enumerate(mono))
        expo = "+".join(f"nu{k}*A{k}+nu{k}*{step[k]}*B{k}" for k in range(k_nuis)) or "0"
        xs = xsec_terms(n)
        xs_poly = "1+" + "+".join(f"{xs[t + 1]}*{m}" for t, m in enumerate(mono))
        a = float(0.5 * (np.log(KAPPA[0]) - np.log(KAPPA[1])))
        b = float(0.5 * (np.log(KAPPA[0]) + np.log(KAPPA[1])))
        kexp = "+".join(f"nu{k}*{a!r}+nu{k}*{step[k]}*{b!r}" for k in range(k_nuis)) or "0"
        ntot = f"({YIELD_SIG}*({xs_poly})*exp({kexp})+{YIELD_BKG})"
        params = ROOT.RooArgList(*self.th, *self.nu)
        allv = ROOT.RooArgList(*self.obs, *self.th, *self.nu)
        self.func = ROOT.RooFormulaVar(
            "Rn", "R/norm", f"(fs*({poly})*exp({expo})+fb)/({ntot}/{YIELD_SIG + YIELD_BKG})", allv
        )
        self.wrap = ROOT.RooWrapperPdf("wrap", "wrap", self.func, True)
        self.ntot = ROOT.RooFormulaVar("ntot", "ntot", ntot, params)
        self.ext = ROOT.RooExtendPdf("ext", "ext", self.wrap, self.ntot)
        self.nll = self.ext.createNLL(self.data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend(backend))

    def __call__(self, i: int) -> float:
        theta, nus = point(i, len(self.th), len(self.nu))
        for v, val in zip(self.th + self.nu, [*theta, *nus], strict=True):
            v.setVal(float(val))
        return float(self.nll.getVal())


class NetPerCall:
    """A θ-parametrised network (inputs x, θ; output log r) evaluated on every event at every call."""

    def __init__(self, x: np.ndarray, n: int, tmp: Path) -> None:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        rng = np.random.default_rng(0)
        sizes = [1 + n, 64, 64, 64, 1]
        nodes, inits, prev = [], [], "inp"
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            inits += [
                numpy_helper.from_array((rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32), f"w{i}"),
                numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}"),
            ]
            nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"]))
            prev = f"h{i}"
            if i < len(sizes) - 2:
                nodes.append(helper.make_node("Tanh", [prev], [f"t{i}"]))
                prev = f"t{i}"
        graph = helper.make_graph(
            nodes,
            "net",
            [helper.make_tensor_value_info("inp", TensorProto.FLOAT, ["N", 1 + n])],
            [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["N", 1])],
            initializer=inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        path = tmp / f"net{n}.onnx"
        onnx.save(model, str(path))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inp = np.zeros((x.size, 1 + n), np.float32)
        self.inp[:, 0] = x
        self.n = n

    def __call__(self, i: int) -> float:
        theta, _ = point(i, self.n, 0)
        self.inp[:, 1:] = theta
        logr = self.sess.run(None, {"inp": self.inp})[0]
        return float(-np.sum(logr, dtype=np.float64))


def _ns(res: dict[str, float], key: str, size: int) -> float:
    return res[key] / size * 1e9 if key in res else float("nan")


def bench_one(ROOT: Any, n: int, k_nuis: int, size: int, tmp: Path, checks: list[str]) -> str:
    """One table row: all methods on the same events."""
    x = np.random.default_rng(size + n).normal(0.2, 1.5, size=size)
    cols = Columns(x, n, k_nuis)
    reps = max(3, min(50, int(3e7 / size)))
    res: dict[str, float] = {}
    ours = Ours(ROOT, x, n, k_nuis, tmp)
    res["ours"], vals = median_time(ours, reps)
    # correctness: NLL differences against numpy between two parameter points
    p1, p2 = point(1, n, k_nuis), point(2, n, k_nuis)
    d_np = numpy_nll(cols, *p2) - numpy_nll(cols, *p1)
    tag = f"n={n}, K={k_nuis}, N={size:.0e}"
    checks.append(f"{tag}: ours ΔNLL relative difference to numpy {abs(vals[1] - vals[0] - d_np) / abs(d_np):.1e}")
    kern = Kernel(ROOT, ours, x)
    res["kernel"], kvals = median_time(kern, reps)
    res["kernel-grad"], _ = median_time(kern.with_gradient, reps)
    checks.append(f"{tag}: kernel ΔNLL relative difference to numpy {abs(kvals[1] - kvals[0] - d_np) / abs(d_np):.1e}")
    del kern, ours

    def numpy_call(i: int) -> float:
        return numpy_nll(cols, *point(i, n, k_nuis))

    res["numpy"], _ = median_time(numpy_call, reps)
    for backend, key in (("cpu", "stock-cpu"), ("legacy", "stock-leg")):
        if key == "stock-leg" and size > 1_000_000:
            continue  # minutes per call
        st = Stock(ROOT, cols, backend)
        res[key], svals = median_time(st, max(3, reps // 5) if key == "stock-leg" else reps)
        checks.append(
            f"{tag}: {key} ΔNLL relative difference to numpy {abs(svals[1] - svals[0] - d_np) / abs(d_np):.1e}"
        )
        del st
    if size <= 1_000_000:
        res["net-call"], _ = median_time(NetPerCall(x, n, tmp), 3)
    o, np_, sc, sl, nc = (_ns(res, k, size) for k in ("ours", "numpy", "stock-cpu", "stock-leg", "net-call"))
    kv, kg = _ns(res, "kernel", size), _ns(res, "kernel-grad", size)
    return (
        f"| {n} | {k_nuis} | {size:.0e} | {kv:.1f} | {kg:.1f} | {o:.1f} | {np_:.1f} | {sc:.0f} | {sl:.0f} | {nc:.0f}"
        f" | {kv / np_:.2f} | {o / np_:.2f} | {sc / kv:.1f} | {sl / kv:.0f} | {nc / kv:.0f} |"
    )


def run(sizes: list[int], coefs: list[int], nuisances: list[int], do_fit: bool, out: Path | None) -> None:
    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    rows: list[str] = []
    checks: list[str] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for k_nuis in nuisances:
            for n in coefs:
                for size in sizes:
                    rows.append(bench_one(ROOT, n, k_nuis, size, tmp, checks))
                    print(rows[-1], flush=True)
        fit_lines = full_fit(ROOT, tmp, max(nuisances)) if do_fit else []
    header = (
        "| coefficients | shape nuisances | events | kernel | kernel+grad | ours in RooFit | numpy | stock cpu"
        " | stock legacy | net per call | kernel/numpy | ours-in-RooFit/numpy | stock-cpu/kernel"
        " | stock-legacy/kernel | net-per-call/kernel |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    text = "\n".join(
        [
            f"## Unbinned NLL evaluation ({dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores,"
            f" ROOT {ROOT.gROOT.GetVersion()}, Python {platform.python_version()})",
            "",
            f"Command: `python benchmarks/bench_unbinned_nll.py {' '.join(sys.argv[1:])}`",
            "",
            "Model: signal with n coefficients and K per-event shape nuisances, plus background; one observable."
            " Times are ns per event for one NLL evaluation (median; parameters changed before each call; the"
            " network ran once, before timing). `kernel` is rooeft's closed-form NLL (the engine of its fits,"
            " one thread, value only; `kernel+grad` adds the exact gradient in the same pass); `ours in RooFit`"
            " is the same pdf in RooFit's own NLL (what plain RooFit and Combine evaluate). `stock legacy` is"
            " skipped above 10^6 events and `net per call` above 10^6 (minutes per call).",
            "",
            header,
            *rows,
            "",
            "Correctness (NLL difference between two parameter points against numpy):",
            "",
            *[f"- {c}" for c in checks],
            "",
            *fit_lines,
            "",
        ]
    )
    print(text)
    if out:
        tmp_out = out.with_suffix(out.suffix + ".tmp")
        tmp_out.write_text(text)
        tmp_out.replace(out)


def full_fit(ROOT: Any, tmp: Path, k_nuis: int) -> list[str]:
    """Wall time and NLL calls of a full Minuit2 fit (all nuisances profiled) at 10^6 events."""
    n, size = 2, 1_000_000
    x = np.random.default_rng(7).normal(0.2, 1.5, size=size)
    ours = Ours(ROOT, x, n, k_nuis, tmp)
    cons, globs = [], []
    for k, nu in enumerate(ours.nu):
        g = ROOT.RooRealVar(f"g{k}", f"g{k}", 0, -5, 5)
        g.setConstant(True)
        globs.append(g)
        cons.append(ROOT.RooGaussian(f"con{k}", "c", nu, g, ROOT.RooFit.RooConst(1.0)))
    model = ROOT.RooProdPdf("model", "model", ROOT.RooArgList(ours.pdf, *cons))
    t0 = time.perf_counter()
    nll = model.createNLL(
        ours.data,
        ROOT.RooFit.Extended(True),
        ROOT.RooFit.EvalBackend("cpu"),
        ROOT.RooFit.GlobalObservables(ROOT.RooArgSet(*globs)),
    )
    m = ROOT.RooMinimizer(nll)
    m.setMinimizerType("Minuit2")
    m.setPrintLevel(-1)
    status = m.migrad()
    m.hesse()
    wall = time.perf_counter() - t0
    return [
        f"Full fit at 10^6 events, {n} coefficients + {k_nuis} constrained shape nuisances (Minuit2 migrad + hesse,"
        f" cpu backend, NLL creation included): {wall:.1f} s wall, {m.evalCounter()} NLL calls, status {status};"
        f" the network ran {ours.pdf.networkCalls()} time(s)."
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6, 1e7])
    ap.add_argument("--coefficients", nargs="+", type=int, default=[2, 5])
    ap.add_argument("--nuisances", nargs="+", type=int, default=[0, 5], help="per-event shape nuisances")
    ap.add_argument("--no-fit", action="store_true", help="skip the full-fit timing")
    ap.add_argument("--output", type=Path, default=None, help="write the markdown table here")
    args = ap.parse_args()
    run([int(s) for s in args.sizes], args.coefficients, args.nuisances, not args.no_fit, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
