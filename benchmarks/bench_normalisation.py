#!/usr/bin/env python3
"""Cost of the normalisation integral of RooEFTUnbinnedPdf over its normalisation sample, per
likelihood evaluation (results: benchmarks/RESULTS_normalisation.md).

Two cases, each timed per evaluation with the RooFit NLL (cpu backend) and with RooEFT::NLLKernel
(value and gradient, one thread), and for one fit of θ and the shape nuisances (other parameters
fixed) from 0 with each (Minuit2 Migrad; numerical gradient for RooFit, exact for the kernel):

  synthetic  the model of bench_unbinned_nll.py with 3 coefficients (10 terms), signal and
             background, 5000 data events and a 200k-event normalisation sample, without (K=0)
             and with (K=1) a per-event shape nuisance
  demo       the learned unbinned workspace of the demo (``--workspace``; 200k-event sample, 16
             observables, one learned shape nuisance ``btag``)

A RooFit call is timed after changing θ only, and after changing θ and the shape nuisance. If
the library has ``setFactorisedNormalisation`` (the factorised integral, issue 12), every case
is also timed with it switched off (the per-event pass of the earlier library) and the two NLLs
are compared.

    ROOEFT_NUM_THREADS=1 python benchmarks/bench_normalisation.py \
        --workspace build/baseline-demo/workspaces/ws_unbinned.root
"""

from __future__ import annotations

import argparse
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
from rooeft.testing.onnx_toys import build_columns_model

sys.path.insert(0, str(Path(__file__).parent))
from bench_unbinned_nll import KAPPA, YIELD_BKG, YIELD_SIG, model_columns, xsec_terms

N_COEF, N_DATA, N_NORM = 3, 5000, 200_000


def median_time(call: Callable[[int], float], reps: int) -> tuple[float, list[float]]:
    """Median wall time of ``call(i)`` for i = 1..reps (after one warm-up call) and the values."""
    call(0)
    times, values = [], []
    for i in range(1, reps + 1):
        t0 = time.perf_counter()
        values.append(call(i))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), values


class Case:
    """A pdf, its data, a RooFit NLL and a kernel on the same events."""

    def __init__(self, ROOT: Any, pdf: Any, data: Any, theta: list[Any], shape: list[Any], inputs: np.ndarray) -> None:
        self.ROOT, self.pdf, self.data, self.theta, self.shape = ROOT, pdf, data, theta, shape
        self.nll = pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.EvalBackend("cpu"))
        self.nll.getVal()
        self.inputs = inputs
        self.params = list(pdf.getParameters(data))  # every parameter the kernel needs by name

    def set_point(self, i: int, move_shape: bool) -> list[float]:
        rng = np.random.default_rng(i)
        vals = []
        for v in self.theta:
            lo, hi = v.getMin(), v.getMax()
            vals.append(float(rng.uniform(lo + 0.4 * (hi - lo), hi - 0.4 * (hi - lo))))
            v.setVal(vals[-1])
        for v in self.shape:
            if move_shape:
                v.setVal(float(rng.uniform(-0.8, 0.8)))
            vals.append(v.getVal())
        return vals

    def roofit(self, move_shape: bool) -> Callable[[int], float]:
        def call(i: int) -> float:
            self.set_point(i, move_shape)
            return float(self.nll.getVal())

        return call

    def make_kernel(self) -> Any:
        R = self.ROOT
        names = R.std.vector["std::string"]()
        for v in self.params:
            names.push_back(v.GetName())
        k = R.RooEFT.NLLKernel(names)
        k.setThreads(1)
        k.addUnbinned(
            self.pdf, R.std.vector["float"](self.inputs.ravel()), R.std.vector["double"](np.ones(len(self.inputs)))
        )
        return k

    def reset(self) -> None:
        for v in self.theta + self.shape:
            v.setVal(0.0)

    def fits(self) -> tuple[float, float, int]:
        """Wall time of a RooFit fit (Minuit2, numerical gradient) and of a kernel fit (Minuit2,
        exact gradient), θ and the shape nuisances floating, everything else fixed, from 0; and
        the kernel fit's objective evaluations."""
        R = self.ROOT
        floating = {v.GetName() for v in self.theta + self.shape}
        others = [v for v in self.params if v.GetName() not in floating]
        saved = [(v, v.isConstant()) for v in others]
        for v in others:
            v.setConstant(True)
        self.reset()
        t0 = time.perf_counter()
        self.pdf.fitTo(self.data, Extended=True, EvalBackend="cpu", PrintLevel=-1, Minimizer=("Minuit2", "migrad"))
        t_roofit = time.perf_counter() - t0
        for v, c in saved:
            v.setConstant(c)
        self.reset()
        k = self.make_kernel()
        fcn = R.RooEFT.NLLFunction(k)
        m = R.Math.Factory.CreateMinimizer("Minuit2", "Migrad")
        m.SetFunction(fcn)
        m.SetErrorDef(0.5)
        m.SetStrategy(1)
        m.SetPrintLevel(-1)
        for i, v in enumerate(self.params):
            if v.GetName() in floating:
                m.SetLimitedVariable(
                    i, v.GetName(), v.getVal(), 0.01 * (v.getMax() - v.getMin()), v.getMin(), v.getMax()
                )
            else:
                m.SetFixedVariable(i, v.GetName(), v.getVal())
        t0 = time.perf_counter()
        m.Minimize()
        return t_roofit, time.perf_counter() - t0, int(fcn.passes())

    def kernel(self) -> Callable[[int], float]:
        R = self.ROOT
        k = self.make_kernel()
        grad = R.std.vector["double"](np.zeros(len(self.params)))

        def call(i: int) -> float:
            self.set_point(i, True)
            x = R.std.vector["double"]([v.getVal() for v in self.params])
            return float(k.valueAndGradient(x.data(), grad.data()))

        return call


def synthetic(ROOT: Any, k_nuis: int, tmp: Path) -> Case:
    path = build_columns_model(
        tmp / f"norm{k_nuis}.onnx",
        model_columns(N_COEF, k_nuis),
        coefficients=[f"c{a}" for a in range(N_COEF)],
        processes=["sig", "bkg"],
        systematics=[f"nu{k}" for k in range(k_nuis)],
    )
    x = ROOT.RooRealVar("x", "x", 0, -50, 50)
    th = [ROOT.RooRealVar(f"c{a}", f"c{a}", 0, -0.5, 0.5) for a in range(N_COEF)]
    nu = [ROOT.RooRealVar(f"nu{k}", f"nu{k}", 0, -5, 5) for k in range(k_nuis)]
    pdf = ROOT.RooEFTUnbinnedPdf(
        "pdf", "pdf", str(path), ROOT.RooArgList(x), ROOT.RooArgList(*th), ROOT.RooArgList(*nu)
    )
    pdf.setYield("sig", YIELD_SIG)
    pdf.setYield("bkg", YIELD_BKG)
    pdf.setCrossSection("sig", xsec_terms(N_COEF))
    for k in range(k_nuis):
        pdf.setShapeNormEffect("sig", f"nu{k}", *KAPPA)
    rng = np.random.default_rng(1)
    xs = rng.normal(0.3, 1.5, size=N_NORM).astype(np.float32)
    pdf.setNormalisationSample(ROOT.std.vector["float"](xs), ROOT.std.vector["double"](rng.uniform(0.5, 1.5, N_NORM)))
    xd = rng.normal(0.3, 1.5, size=N_DATA).astype(np.float32).astype(np.float64)
    data = ROOT.RooDataSet.from_numpy({"x": xd}, ROOT.RooArgSet(x))
    case = Case(ROOT, pdf, data, th, nu, xd.astype(np.float32)[:, None])
    case.keep = [x, th, nu]  # type: ignore[attr-defined]
    return case


def demo(ROOT: Any, path: Path) -> Case:
    f = ROOT.TFile.Open(str(path))
    w = f.Get("w")
    pdf = next(p for p in w.allPdfs() if p.ClassName() == "RooEFTUnbinnedPdf")
    obs = [str(n) for n in pdf.observableNames()]
    data = w.data("data_obs")
    cols = data.to_numpy()
    inputs = np.stack([np.asarray(cols[n], dtype=np.float32) for n in obs], axis=1)
    theta = [w.var(str(n)) for n in ("cHQ3", "cHW", "cHWtil")]
    shape = [w.var("btag")]
    case = Case(ROOT, pdf, data, theta, shape, inputs)
    case.keep = [f, w]  # type: ignore[attr-defined]
    return case


def run(case: Case, label: str, reps: int, rows: list[str]) -> None:
    modes: list[tuple[str, bool | None]] = [("", None)]
    if hasattr(case.pdf, "setFactorisedNormalisation"):
        modes = [("factorised", True), ("per-event", False)]
    values: dict[str, list[float]] = {}
    for mode, flag in modes:
        for v in case.shape:
            v.setVal(0.0)
        if flag is not None:
            case.pdf.setFactorisedNormalisation(flag)
            case.nll = case.pdf.createNLL(
                case.data, case.ROOT.RooFit.Extended(True), case.ROOT.RooFit.EvalBackend("cpu")
            )
        t_theta, v1 = median_time(case.roofit(False), reps)
        t_all, v2 = median_time(case.roofit(True), reps)
        t_kernel, v3 = median_time(case.kernel(), reps)
        values[mode] = v1 + v2 + v3
        fit_roofit, fit_kernel, passes = case.fits()
        rows.append(
            f"| {label} | {mode or 'before'} | {1e3 * t_theta:.2f} | {1e3 * t_all:.2f} | {1e3 * t_kernel:.2f} "
            f"| {fit_roofit:.2f} | {fit_kernel:.3f} ({passes}) |"
        )
        print(rows[-1], flush=True)
    if len(values) == 2:
        a, b = np.array(values["factorised"]), np.array(values["per-event"])
        print(f"  {label}: max |ΔNLL|/|NLL| factorised vs per-event = {np.max(np.abs(a - b) / np.abs(b)):.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, default=None, help="the demo's ws_unbinned.root")
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    rows = [
        "| case | normalisation | RooFit NLL, θ changed (ms) | RooFit NLL, θ and ν changed (ms) "
        "| kernel value+gradient (ms) | RooFit fit (s) | kernel fit (s) (evaluations) |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for k in (0, 1):
            run(synthetic(ROOT, k, Path(tmp)), f"synthetic K={k}", args.reps, rows)
    if args.workspace is not None:
        run(demo(ROOT, args.workspace), "demo ws_unbinned", args.reps, rows)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
