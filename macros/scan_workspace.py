#!/usr/bin/env python3
"""Profile-likelihood scan of one parameter of a rooeft workspace with plain PyROOT.

    python macros/scan_workspace.py ws.root --poi cHW [--points 31] [--range -1 1] [--library PATH]

Only the C++ library is needed (no rooeft Python code): its path comes from --library, else
$ROOEFT_LIBRARY (export ROOEFT_LIBRARY=$(rooeft config --library)). It is loaded *before* the
file is opened, or ROOT builds emulated classes for the RooEFT objects.

What it does (the workspace convention: ``w``, ``ModelConfig``, ``data_obs``):

1. the extended NLL of the ModelConfig's pdf on ``data_obs``, with the constraint terms of the
   nuisances and the global observables held at their values in the file (``createNLL(...,
   GlobalObservables=...)``);
2. the best fit with every parameter of interest and nuisance floating (Minuit2 Migrad,
   strategy 1, retried with strategy 2 if it fails);
3. at each scan point the scanned parameter is fixed and all others float (profile scan); the
   points are visited outwards from the best fit, each fit starting from its neighbour's
   solution (restarting every point from the best fit can land in another local minimum of a
   quadratic EFT likelihood);
4. prints ``2*deltaNLL`` per point (deltaNLL relative to the lowest NLL found) and the 68% / 95%
   CL intervals where ``2*deltaNLL < 1 / 3.84``. Crossings come from a cubic through the four
   neighbouring scan points; an interval reaching the end of the scan is marked ``(scan edge)``.
"""

import argparse
import math
import os
import sys

import ROOT

LEVELS = (("68", 1.0), ("95", 3.84))


def minimize(nll, strategy=1):
    """Minuit2 Migrad (strategy 1, then 2 if needed); returns (status, nll value)."""
    status = -1
    for strat in (strategy, 2):
        m = ROOT.RooMinimizer(nll)
        m.setPrintLevel(-1)
        m.setPrintEvalErrors(-1)
        m.setStrategy(strat)
        m.setEps(0.01)
        status = m.minimize("Minuit2", "Migrad")
        if status == 0 and math.isfinite(nll.getVal()):
            break
    return status, nll.getVal()


def _crossing(pts, i, level):
    """x in [x_{i-1}, x_i] where the cubic through the (up to) four surrounding points equals level."""
    lo_i = max(0, min(i - 2, len(pts) - 4))
    sten = pts[lo_i : lo_i + 4]

    def poly(x):  # Lagrange interpolation of q
        total = 0.0
        for j, (xj, vj) in enumerate(sten):
            term = vj
            for k, (xk, _) in enumerate(sten):
                if k != j:
                    term *= (x - xk) / (xj - xk)
            total += term
        return total - level

    a, b = pts[i - 1][0], pts[i][0]
    fa = poly(a)
    for _ in range(60):  # bisection (the endpoints bracket the level)
        m = 0.5 * (a + b)
        fm = poly(m)
        if (fm < 0) == (fa < 0):
            a, fa = m, fm
        else:
            b = m
    return 0.5 * (a + b)


def intervals(xs, q, level):
    """Intervals where q < level: (lo, hi, lo at scan edge, hi at scan edge); crossings from a local
    cubic interpolation of q (four neighbouring points)."""
    pts = sorted((x, v) for x, v in zip(xs, q, strict=True) if math.isfinite(v))
    out, lo = [], None
    for i, (x, v) in enumerate(pts):
        inside = v < level
        if i == 0:
            lo = x if inside else None
            continue
        if (pts[i - 1][1] < level) != inside:
            cross = _crossing(pts, i, level)
            if inside:
                lo = cross
            else:
                out.append((lo, cross, lo == pts[0][0], False))
                lo = None
    if lo is not None:
        out.append((lo, pts[-1][0], lo == pts[0][0], True))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace_file")
    ap.add_argument("--poi", required=True, help="parameter to scan")
    ap.add_argument("--points", type=int, default=31)
    ap.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"), help="default: the parameter's range")
    ap.add_argument("--workspace", default="w")
    ap.add_argument("--data", default="data_obs")
    ap.add_argument("--library", default=os.environ.get("ROOEFT_LIBRARY", "libRooEFT"))
    args = ap.parse_args()
    if args.points < 2:
        ap.error("--points must be at least 2")

    ROOT.gROOT.SetBatch(True)
    if ROOT.gSystem.Load(args.library) < 0:
        print(f"cannot load {args.library}: pass --library or set ROOEFT_LIBRARY", file=sys.stderr)
        return 1
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    try:
        f = ROOT.TFile.Open(args.workspace_file)
    except OSError:
        f = None
    if not f or f.IsZombie():
        print(f"cannot open {args.workspace_file}", file=sys.stderr)
        return 1
    ws = f.Get(args.workspace)
    if not ws:
        print(f"no workspace {args.workspace!r} in {args.workspace_file}", file=sys.stderr)
        return 1
    mc = ws.obj("ModelConfig")
    data = ws.data(args.data)
    if not mc or not data:
        print(f"workspace {args.workspace!r} needs a ModelConfig and a dataset {args.data!r}", file=sys.stderr)
        return 1
    pdf = mc.GetPdf()
    poi = ws.var(args.poi)
    if not poi:
        print(f"no parameter {args.poi!r} in the workspace", file=sys.stderr)
        return 1

    globs = mc.GetGlobalObservables() or ROOT.RooArgSet()
    for g in globs:
        g.setConstant(True)
    params = [p for p in (mc.GetParametersOfInterest() or [])] + [p for p in (mc.GetNuisanceParameters() or [])]
    if args.poi not in [p.GetName() for p in params]:
        params.append(poi)
    for p in params:
        p.setConstant(False)
    nll = pdf.createNLL(data, Extended=True, GlobalObservables=globs, EvalBackend="cpu")

    status, best_nll = minimize(nll)
    best = {p.GetName(): p.getVal() for p in params}
    print(f"best fit: status {status}, NLL = {best_nll:.6f}, {args.poi} = {poi.getVal():.6g}")

    lo, hi = args.range if args.range else (poi.getMin(), poi.getMax())
    if lo < poi.getMin() or hi > poi.getMax():  # ROOT 6.40 throws on setVal outside the range
        poi.setRange(min(lo, poi.getMin()), max(hi, poi.getMax()))
    xs = [lo + (hi - lo) * i / (args.points - 1) for i in range(args.points)]
    # walk outwards from the best fit, each point starting from its neighbour's solution (a
    # restart from the best fit can end in another local minimum of a quadratic EFT likelihood)
    k = min(range(len(xs)), key=lambda i: abs(xs[i] - best[args.poi]))
    found = {}
    poi.setConstant(True)
    for path in (xs[k:], xs[:k][::-1]):
        for p in params:
            p.setVal(best[p.GetName()])
        for x in path:
            poi.setVal(x)
            found[x] = minimize(nll)
            if found[x][0] != 0:  # a failed point must not seed the next one
                for p in params:
                    p.setVal(best[p.GetName()])
    poi.setConstant(False)
    results = [(x, found[x][1], found[x][0]) for x in xs]

    good = [v for _, v, st in results if st == 0 and math.isfinite(v)]
    nll_min = min([best_nll, *good]) if status == 0 else min(good)
    q = [2.0 * (v - nll_min) if st == 0 and math.isfinite(v) else float("nan") for _, v, st in results]
    print(f"\n{args.poi:>14s} {'2*deltaNLL':>14s} status")
    for (x, _, st), qv in zip(results, q, strict=True):
        print(f"{x:14.6g} {qv:14.6f} {st:6d}")
    print()
    for name, level in LEVELS:
        segs = intervals(xs, q, level)
        text = (
            " U ".join(f"[{a:.6g}, {b:.6g}]" + (" (scan edge)" if ea or eb else "") for a, b, ea, eb in segs) or "none"
        )
        print(f"{name}% CL (2*deltaNLL < {level}): {text}")
    return 0 if status == 0 and all(st == 0 for _, _, st in results) else 2


if __name__ == "__main__":
    sys.exit(main())
