"""The demo's interval table, summary text and plots."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.examples.demo.settings import COEFFICIENTS, OBSERVABLES, PTZ_EDGES, DemoSettings


def interval_text(scan: Mapping[str, Any], level: str) -> str:
    ivs = scan["intervals"].get(level) or []
    return " ∪ ".join(f"[{lo:+.3g}, {hi:+.3g}]" for lo, hi in ivs) or "—"


def width(scan: Mapping[str, Any], level: str) -> float:
    return float(sum(hi - lo for lo, hi in scan["intervals"].get(level) or []))


def interval_summary(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> tuple[str, dict[str, Any]]:
    rows = [
        "| coefficient | analysis | expected 68% | expected 95% | observed 68% | observed 95%"
        " | expected 95% width / exact |",
        "|---|---|---|---|---|---|---|",
    ]
    table: dict[str, Any] = {}
    for coef in COEFFICIENTS:
        exact_w = width(results["exact parton-level ratio (optimal)"][coef]["expected"], "95")
        for name, res in results.items():
            e, o = res[coef]["expected"], res[coef]["observed"]
            ratio = width(e, "95") / exact_w if exact_w > 0 else float("nan")
            rows.append(
                f"| {coef} | {name} | {interval_text(e, '68')} | {interval_text(e, '95')} | {interval_text(o, '68')}"
                f" | {interval_text(o, '95')} | {ratio:.2f} |"
            )
            table.setdefault(coef, {})[name] = {
                "expected": e["intervals"], "observed": o["intervals"], "expected_width_ratio_to_exact": ratio,
            }  # fmt: skip
    return "\n".join(rows), table


def ladder_section(ladders: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[list[str], dict[str, Any]]:
    """The summary's "Where the sensitivity goes" section from the sensitivity ladders
    (:class:`rooeft.ladder.LadderResult` by analysis) and the like-with-like comparison of the
    learned and the optimal analysis (both signal only, no systematics)."""
    lines = [
        "",
        "## Where the sensitivity goes",
        "",
        "The sensitivity ladder (`rooeft ladder`, docs/ladder.md) of each analysis: expected 95% CL width (Asimov at"
        " the SM, the other coefficients at the SM) of the exact ratio (optimal), then the learned analysis with the"
        " signal alone (the same ONNX model with the background masked, nuisances held at nominal), + the background,"
        " + each systematic (profiled from its step on), + the MC statistics (the full analysis). In brackets: the"
        " width relative to the exact ratio. Plots: plots/ladder_<analysis>.png; results:"
        " results/ladder_<analysis>.json.",
    ]
    table: dict[str, Any] = {}
    for name, res in ladders.items():
        rel = res.relative_widths("95")
        coefs = list(res.coefficients)
        lines += [
            "",
            f"**{labels[name]}**",
            "",
            "| step | " + " | ".join(coefs) + " |",
            "|---" * (len(coefs) + 1) + "|",
        ]
        for i, step in enumerate(res.steps):
            cells = [f"{step.width(c):.3g} ({rel[c][i]:.2f}×)" for c in coefs]
            lines.append(f"| {step.name} | " + " | ".join(cells) + " |")
        table[name] = {s.name: {c: {"width_95": s.width(c), "relative_to_exact": rel[c][i]} for c in coefs}
                       for i, s in enumerate(res.steps)}  # fmt: skip
    first = next(iter(ladders.values()), None)
    if first is not None and len(first.steps) > 1:
        rel = first.relative_widths("95")
        k = first.index("signal only")
        like = ", ".join(f"{c} {rel[c][k]:.2f}" for c in first.coefficients)
        full = ", ".join(f"{c} {rel[c][-1]:.2f}" for c in first.coefficients)
        lines += [
            "",
            f"Learned vs optimal, like with like (signal only, no systematics, same events): {like} × the exact width."
            f" The full learned unbinned analysis ({full} ×) adds the background, the systematics and the MC"
            " statistics, which the exact ratio does not have.",
        ]
        table["learned_vs_optimal_signal_only"] = {c: rel[c][k] for c in first.coefficients}
    return lines, table


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def plots(
    settings: DemoSettings,
    files: Mapping[str, Path],
    models: Mapping[str, Path],
    plots: Path,
    results: Mapping[str, Any],
    fit: Mapping[str, Any],
    contours: Sequence[Mapping[str, Any]],
) -> None:
    import hist

    from rooeft.nn import evaluate_onnx
    from rooeft.plot import (
        plot_closure,
        plot_contours,
        plot_loss_curves,
        plot_pulls,
        plot_scan1d,
        plot_templates,
        save_figure,
    )
    from rooeft.samples import read_sample
    from rooeft.terms import monomials

    obs = [*list(OBSERVABLES), "pt_z"]
    sig = read_sample([str(files["sig"])], observables=obs)
    bkg = read_sample([str(files["bkg"])], observables=obs)
    dat = read_sample([str(files["data"])], observables=obs)
    axis = hist.axis.Variable(PTZ_EDGES, name="ptz", label="pT(Z)")

    def h(values: np.ndarray, weights: np.ndarray) -> Any:
        return hist.Hist(axis, storage=hist.storage.Weight()).fill(values, weight=weights)

    theta = np.array([0.0, 0.5, 0.0])
    fig = plot_templates(
        templates={"Z+bb": h(bkg.observables["pt_z"], bkg.weights), "Zh (SM)": h(sig.observables["pt_z"], sig.weights)},
        data=np.histogram(dat.observables["pt_z"], bins=PTZ_EDGES)[0],
        variations={"cHW = 0.5": h(bkg.observables["pt_z"], bkg.weights).values()
                    + h(sig.observables["pt_z"], sig.weights_at(theta)).values()},
        xlabel="p_{T}(Z)", unit="GeV", logy=True, lumi=300,
    )  # fmt: skip
    save_figure(fig, plots / "templates_ptz")
    # closure at reco level: learned r(x|θ) of the signal model against the exact parton-level ratio
    x = np.column_stack([sig.observables[o] for o in OBSERVABLES])
    out, iface = evaluate_onnx(models["unbinned"], x, observables=OBSERVABLES)
    learned, true, labels = [], [], []
    W = np.asarray(sig.structure_constants)
    for a, coef in enumerate(COEFFICIENTS):
        th = np.zeros(3)
        th[a] = {"cHQ3": 0.05, "cHW": 0.5, "cHWtil": 0.5}[coef]
        m = monomials(th)
        cols = [iface.outputs.index(f"lin:sig:{c}") for c in COEFFICIENTS]
        qcols = [
            iface.outputs.index(f"quad:sig:{COEFFICIENTS[i]}:{COEFFICIENTS[j]}") for i in range(3) for j in range(i, 3)
        ]
        r_hat = m[0] + out[:, cols] @ m[1:4] + out[:, qcols] @ m[4:]
        learned.append(r_hat)
        true.append((W @ m) / W[:, 0])
        labels.append(f"{coef} = {th[a]:g}")
    fig = plot_closure(learned=np.column_stack(learned), true=np.column_stack(true), labels=labels, weights=sig.weights)
    save_figure(fig, plots / "closure_reco_vs_parton")
    histories = {}
    for path in sorted((settings.output_dir / "models" / "training").glob("*.loss_history.json")):
        histories[path.name.split(".")[0]] = json.loads(path.read_text())
    if histories:
        save_figure(plot_loss_curves(history=histories), plots / "loss_curves")
    for coef in COEFFICIENTS:
        scans = [res[coef]["expected"] for res in results.values()] + [results["learned unbinned"][coef]["observed"]]
        labels = [f"{n} (expected)" for n in results] + ["learned unbinned (observed)"]
        save_figure(plot_scan1d(scans=scans, labels=labels, lumi=300), plots / f"scan1d_{coef}")
    save_figure(
        plot_contours(scans=list(contours), labels=["observed", "expected"], lumi=300), plots / "contours_cHW_cHWtil"
    )
    save_figure(plot_pulls(fit=fit), plots / "pulls")
