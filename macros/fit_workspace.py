#!/usr/bin/env python3
"""Fit a rooeft workspace with plain PyROOT: load libRooEFT, open the file, fit data_obs.

    python macros/fit_workspace.py ws.root [--pdf NAME] [--library PATH]

Only the C++ library is needed (no rooeft Python code): its path comes from --library, else
$ROOEFT_LIBRARY (export ROOEFT_LIBRARY=$(rooeft config --library)). Load it *before* opening the
file, or ROOT builds emulated classes for the RooEFT objects.
"""

import argparse
import os
import sys

import ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace_file")
    ap.add_argument("--workspace", default="w")
    ap.add_argument("--pdf", default="", help="pdf name (default: the ModelConfig's pdf)")
    ap.add_argument("--library", default=os.environ.get("ROOEFT_LIBRARY", "libRooEFT"))
    args = ap.parse_args()

    ROOT.gROOT.SetBatch(True)
    if ROOT.gSystem.Load(args.library) < 0:
        print(f"cannot load {args.library}: pass --library or set ROOEFT_LIBRARY", file=sys.stderr)
        return 1
    f = ROOT.TFile.Open(args.workspace_file)
    ws = f.Get(args.workspace)
    mc = ws.obj("ModelConfig")
    pdf = ws.pdf(args.pdf) if args.pdf else mc.GetPdf()
    data = ws.data("data_obs")
    globs = mc.GetGlobalObservables() if mc and mc.GetGlobalObservables() else ROOT.RooArgSet()
    res = pdf.fitTo(
        data,
        Extended=pdf.canBeExtended(),
        Save=True,
        Minimizer="Minuit2",
        PrintLevel=-1,
        EvalBackend="cpu",
        GlobalObservables=globs,
    )
    print(f"fit status {res.status()}, covariance quality {res.covQual()}, -ln L = {res.minNll():.6f}")
    for v in res.floatParsFinal():
        print(f"  {v.GetName()} = {v.getVal():.6g} +/- {v.getError():.6g}")
    return res.status()


if __name__ == "__main__":
    sys.exit(main())
