"""``run_demo``: the stages of the demo in order (see :mod:`rooeft.examples.demo`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rooeft.examples.demo import analyses as an
from rooeft.examples.demo import report as rp
from rooeft.examples.demo import validation as vd
from rooeft.examples.demo.settings import BSM_ANALYSES, DemoSettings, Stage, pseudo_data

__all__ = ["run_demo"]


def run_demo(settings: DemoSettings, *, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole demo; returns the summary (also written to ``summary.json``)."""
    from rooeft.infer import fit as fit_ws
    from rooeft.infer import scan2d, write_json

    # the generated YAML configs resolve relative paths against their own folder: use absolute ones
    settings = replace(settings, data_dir=settings.data_dir.resolve(), output_dir=settings.output_dir.resolve())
    pseudo = pseudo_data(settings)
    out = settings.output_dir
    simdir, pooldir, models, wsdir, resdir, plots = (
        out / d for d in ("simulation", "pool", "models", "workspaces", "results", "plots")
    )
    for d in (simdir, pooldir, models, wsdir, resdir, plots):
        d.mkdir(parents=True, exist_ok=True)
    stage = Stage(10 if settings.n_toys else 9)
    t0 = time.perf_counter()
    stage(f"simulating a fresh sample ({settings.n_signal:,} signal, {settings.n_background:,} background generated)")
    sim = an.simulate(settings, simdir, settings.n_signal, settings.n_background, seed=100 + settings.seed)
    files = {"sig": sim["sig"], "bkg": sim["bkg"], "data": pseudo}
    stage("training the unbinned model (EFT terms, calibrated fractions, b-tag ratios) and the cHW score")
    model_paths, reliability = an.train(settings, files, models)
    stage("building the workspaces (main: unbinned + score-binned; learned unbinned; binned pT(Z))")
    ws, cfgs = an.build(files, model_paths, wsdir)
    stage("fitting the pseudo-data with the main workspace")
    fit = fit_ws(ws["main"], label="main analysis, pseudo-data at SM")
    write_json(resdir / "fit_main.json", fit)
    stage(f"2D profile scan of (cHW, cHWtil), observed and expected, {settings.scan2d_points}² points each")
    contours = []
    for kind, asimov in (("observed", None), ("expected", True)):
        s2 = scan2d(
            ws["main"], ("cHW", "cHWtil"), points=settings.scan2d_points, asimov=asimov, workers=settings.workers,
            ranges={"cHW": (-0.5, 0.5), "cHWtil": (-0.8, 0.8)},
            progress=settings.progress, label=f"main analysis ({kind})",
        )  # fmt: skip
        write_json(resdir / f"scan2d_cHW_cHWtil_{kind}.json", s2)
        contours.append(s2.to_dict())
    stage("1D intervals: exact parton-level ratio (optimal)")
    results: dict[str, Any] = {"exact parton-level ratio (optimal)": an.exact_scans(files, settings.scan_points)}
    stage("1D intervals: learned unbinned, main analysis, binned pT(Z)")
    results["learned unbinned"] = an.scans(ws["unbinned"], settings, "learned unbinned")
    results["main (unbinned + score-binned)"] = an.scans(ws["main"], settings, "main")
    results["binned pT(Z)"] = an.scans(ws["ptz"], settings, "binned pT(Z)")
    for name, res in results.items():
        tag = name.split(" (")[0].replace(" ", "_")
        for coef, kinds in res.items():
            for kind, scan in kinds.items():
                write_json(resdir / f"scan1d_{tag}_{coef}_{kind}.json", scan)
    stage("sensitivity ladders of the learned unbinned and the main analysis, from the exact ratio on")
    t_ladder = time.perf_counter()
    ladders = an.ladders(settings, cfgs, ws, results["exact parton-level ratio (optimal)"], resdir, plots)
    t_ladder = time.perf_counter() - t_ladder
    ladder_md, ladder_table = rp.ladder_section(ladders, an.LADDERS)
    validation: dict[str, Any] = {}
    if settings.n_toys:
        stage(
            f"validation: {settings.n_toys} toys per analysis and coefficient (SM; BSM for {', '.join(BSM_ANALYSES)})"
            f" from an independent pool ({settings.pool_signal:,} signal, {settings.pool_background:,} background"
            " generated)"
        )
        pool = an.simulate(settings, pooldir, settings.pool_signal, settings.pool_background, seed=200 + settings.seed)
        validation = vd.validate(settings, ws, cfgs, sim, pool, pooldir, resdir)
        for f in pooldir.iterdir():  # 1-2 GB, regenerated bit for bit from the seed
            f.unlink()
        pooldir.rmdir()
    stage("summary and plots")
    table_md, table = rp.interval_summary(results)
    rp.plots(settings, files, model_paths, plots, results, fit.to_dict(), contours)
    elapsed = time.perf_counter() - t0
    text = "\n".join([
        "# rooeft demo: pp → Zh → ℓℓbb at 300 fb⁻¹, pseudo-data at the SM",
        "",
        "1D intervals of each coefficient with the other two at the SM; nuisances (lumi, b-tag, MC stats) profiled"
        " in the workspace analyses; the exact analysis uses the parton-level truth of the same signal events"
        " (observed: signal events of the pseudo-data identified by their truth label) and has no systematics.",
        "",
        table_md,
        "",
        "The last column compares each full analysis (background, systematics, MC statistics) with the signal-only"
        " optimum; the like-with-like comparison is in *Where the sensitivity goes* below.",
        "",
        f"Main fit: status {fit.status}, covariance quality {fit.cov_quality}. Wall time {elapsed:.0f} s.",
        *ladder_md,
        "",
        f"Simulation (fresh, seed {100 + settings.seed}): {sim['sig_info']['events']:,} signal events with"
        f" n_eff = {sim['sig_info']['n_eff']['yield']:,.0f}, {sim['bkg_info']['events']:,} background events with"
        f" n_eff = {sim['bkg_info']['n_eff']['yield']:,.0f}; its MC statistics are profiled"
        " (one γ per process in unbinned channels, Barlow–Beeston per bin in binned ones).",
        "",
        "Networks: the signal/background fractions are calibrated on a held-out split; their reliability on a test"
        " split nothing else saw (models/zh_unbinned_reliability.json, .png):",
        "",
        "```",
        reliability,
        "```",
        *(vd.validation_section(settings, validation) if validation else []),
        "Outputs: models/ (ONNX), workspaces/ (ROOT files, YAML configs), results/ (JSON), plots/ (PNG, PDF).",
        "",
    ])  # fmt: skip
    rp.write_text(out / "summary.md", text)
    summary = {
        "intervals": table,
        "ladders": ladder_table,
        "validation": validation,
        "simulation": {k: sim[f"{k}_info"] for k in ("sig", "bkg")},
        "fit_status": fit.status,
        "wall_time_s": elapsed,
        "ladder_time_s": t_ladder,
        "settings": {
            "epochs": settings.epochs,
            "scan_points": settings.scan_points,
            "scan2d_points": settings.scan2d_points,
            "n_signal": settings.n_signal,
            "n_background": settings.n_background,
            "pool_signal": settings.pool_signal,
            "pool_background": settings.pool_background,
            "n_toys": settings.n_toys,
            "ladder_points": settings.ladder_points,
        },
    }
    rp.write_text(out / "summary.json", json.dumps(summary, indent=1))
    print(text)
    return summary
