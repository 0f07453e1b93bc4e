"""Simulate, train, build and scan: the demo's analyses from a fresh simulation to 1D intervals."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.examples.demo.settings import (
    COEFFICIENTS,
    LUMI_KAPPA,
    OBSERVABLES,
    PTZ_EDGES,
    RANGES,
    SCAN_RANGES,
    SPLIT_PTZ,
    THETA_SCALE,
    DemoSettings,
)


def simulate(settings: DemoSettings, folder: Path, n_signal: int, n_background: int, seed: int) -> dict[str, Any]:
    """A fresh weighted ZH sample (importance-sampled signal) in ``folder``: paths and summaries."""
    from rooeft.examples.zh.dataset import generate_sample

    out: dict[str, Any] = {}
    for key, process, n in (("sig", "signal", n_signal), ("bkg", "background", n_background)):
        path = folder / f"zh_{process}.root"
        info = generate_sample(path, process, n, seed=seed, overwrite=True, progress=settings.progress)  # type: ignore[arg-type]
        out[key] = path
        out[f"{key}_info"] = info
    return out


# --- 1. training ------------------------------------------------------------------------------
def train(settings: DemoSettings, files: Mapping[str, Path], models: Path) -> tuple[dict[str, Path], str]:
    """The unbinned model (calibrated fractions) and the score; returns their paths and the
    reliability report as text (the JSON and plot are written next to the model)."""
    from rooeft.nn import (
        CalibrationConfig,
        FractionConfig,
        NetworkConfig,
        QuadraticConfig,
        ScoreConfig,
        SystematicConfig,
        TrainingConfig,
    )
    from rooeft.nn.from_samples import export_score, train_from_samples, train_score_from_sample
    from rooeft.nn.reliability import format_report
    from rooeft.samples import read_sample

    samples = {p: read_sample([str(files[p])], name=p, observables=list(OBSERVABLES)) for p in ("sig", "bkg")}
    if settings.max_train_events:
        rng = np.random.default_rng(settings.seed)
        for p, s in samples.items():
            if s.n_events > settings.max_train_events:
                keep = np.zeros(s.n_events, dtype=bool)
                keep[rng.choice(s.n_events, settings.max_train_events, replace=False)] = True
                samples[p] = s.select(keep)
    network = NetworkConfig()

    def training(name: str, epochs: int) -> TrainingConfig:
        return TrainingConfig(
            max_epochs=epochs, seed=settings.seed, progress=settings.progress, output_dir=models / "training",
            checkpoint_dir=models / "training" / "checkpoints" / name,
        )  # fmt: skip

    unbinned = models / "zh_unbinned.onnx"
    result = train_from_samples(
        samples,
        output=unbinned,
        systematics=["btag"],
        eft_config=QuadraticConfig(network=network, training=training("eft", settings.epochs), theta_scale=THETA_SCALE),
        fraction_config=FractionConfig(network=network, training=training("fractions", settings.aux_epochs)),
        systematic_config=SystematicConfig(network=network, training=training("systematics", settings.aux_epochs)),
        calibration=CalibrationConfig(seed=settings.seed, slices=("pT",)),
    )
    reliability = format_report(result.reliability) if result.reliability else "(no reliability report)"
    score = train_score_from_sample(
        samples["sig"], config=ScoreConfig(network=network, training=training("score", settings.score_epochs))
    )
    score_path = models / "zh_score.onnx"
    export_score(score, score_path, process="sig")
    return {"unbinned": unbinned, "score": score_path}, reliability


# --- 2. workspaces ----------------------------------------------------------------------------
def score_edges(score_model: Path, signal: Path, n_bins: int = 6) -> list[float]:
    """Bin edges of the learned cHW score: equal expected signal per bin above the pT(Z) split."""
    from rooeft.nn import evaluate_onnx
    from rooeft.samples import read_sample

    s = read_sample([str(signal)], observables=[*list(OBSERVABLES), "pt_z"])
    x = np.column_stack([s.observables[o] for o in OBSERVABLES])
    out, iface = evaluate_onnx(score_model, x, observables=OBSERVABLES)
    t = out[:, iface.outputs.index("score:sig:cHW")]
    sel = s.observables["pt_z"] >= SPLIT_PTZ
    order = np.argsort(t[sel])
    cum = np.cumsum(s.weights[sel][order])
    inner = [float(t[sel][order][np.searchsorted(cum, q * cum[-1])]) for q in np.linspace(0, 1, n_bins + 1)[1:-1]]
    lo, hi = float(t.min()) - 1e-3, float(t.max()) + 1e-3
    edges = [lo, *sorted(set(inner)), hi]
    return [round(e, 6) for e in edges]


def config_dict(channels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "zh_demo",
        "coefficients": [{"name": c, "range": list(RANGES[c]), "sm": 0.0} for c in COEFFICIENTS],
        "channels": channels,
        "systematics": [
            {"name": "lumi", "type": "lnN", "kappa": LUMI_KAPPA},
            {"name": "btag", "type": "weight"},
        ],
    }


def processes(files: Mapping[str, Path], cut: str | None = None) -> list[dict[str, Any]]:
    extra = {"cut": cut} if cut else {}
    return [
        {"name": "sig", "files": [str(files["sig"])], "eft": True, **extra},
        {"name": "bkg", "files": [str(files["bkg"])], **extra},
    ]


def data_block(files: Mapping[str, Path], cut: str | None = None) -> dict[str, Any]:
    return {"files": [str(files["data"])], **({"cut": cut} if cut else {})}


def build(files: Mapping[str, Path], models: Mapping[str, Path], out: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """The three workspaces and their YAML configs (name → path each)."""
    import yaml

    from rooeft.workspace import build_workspace

    low, high = f"pt_z < {SPLIT_PTZ}", f"pt_z >= {SPLIT_PTZ}"
    edges = score_edges(models["score"], files["sig"])
    mc_stats = {"threshold": 0.0}  # the simulation's finite size, profiled
    unbinned_all = {"name": "unbinned", "kind": "unbinned", "model": str(models["unbinned"]),
                    "processes": processes(files), "data": data_block(files), "mc_stats": mc_stats}  # fmt: skip
    configs = {
        "main": config_dict([
            {"name": "unbinned_lowpt", "kind": "unbinned", "model": str(models["unbinned"]),
             "processes": processes(files, low), "data": data_block(files, low), "mc_stats": mc_stats},
            {"name": "score_highpt", "kind": "binned",
             "observable": {"name": "score_cHW", "model": str(models["score"]), "column": "score:sig:cHW"},
             "edges": edges, "processes": processes(files, high), "data": data_block(files, high),
             "mc_stats": {"threshold": 0.0}},
        ]),
        "unbinned": config_dict([unbinned_all]),
        "ptz": config_dict([
            {"name": "ptz", "kind": "binned", "observable": {"name": "ptz", "expression": "pt_z"},
             "edges": list(PTZ_EDGES), "processes": processes(files), "data": data_block(files),
             "mc_stats": {"threshold": 0.0}},
        ]),
    }  # fmt: skip
    paths, cfg_paths = {}, {}
    for name, cfg in configs.items():
        cfg_path = out / f"{name}.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        ws = out / f"ws_{name}.root"
        build_workspace(cfg_path, output=ws)
        paths[name] = ws
        cfg_paths[name] = cfg_path
    return paths, cfg_paths


# --- 3. inference -----------------------------------------------------------------------------
def exact_scans(files: Mapping[str, Path], points: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Profile-free 1D scans (other coefficients at the SM) with the exact parton-level ratio.

    Expected: Asimov from the weighted signal simulation (its exact per-event structure constants).
    Observed: the signal events of the pseudo-data, identified by their truth label (an oracle: the
    background term is then constant in θ), with structure constants from the truth variables.
    """
    import uproot

    from rooeft.examples.zh.truth import signal_structure_constants
    from rooeft.infer import intervals_1d
    from rooeft.terms import monomials, term_labels

    names = ["w_" + lab.replace("*", "_") for lab in term_labels(COEFFICIENTS)]
    names[0] = "w_sm"
    with uproot.open(files["sig"]) as f:
        sim = f["Events"].arrays(names, library="np")
    W = np.column_stack([sim[n].astype(np.float64) for n in names])
    with uproot.open(files["data"]) as f:
        t = f["Events"]
        data = t.arrays(filter_name="truth_*", library="np")
    sig = data["truth_process"] == 0
    D = signal_structure_constants({k: v[sig] for k, v in data.items()})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for a, coef in enumerate(COEFFICIENTS):
        lo, hi = SCAN_RANGES[coef]
        grid = np.linspace(lo, hi, max(4 * points, 201))
        thetas = np.zeros((grid.size, len(COEFFICIENTS)))
        thetas[:, a] = grid
        m = monomials(thetas)  # (G, T)
        nu = W.sum(axis=0) @ m.T  # expected signal at θ
        ratio_sim = (W @ m.T) / W[:, :1]
        ratio_dat = (D @ m.T) / D[:, :1]
        nll_exp = nu - W[:, 0] @ np.log(np.clip(ratio_sim, 1e-300, None))
        nll_obs = nu - np.sum(np.log(np.clip(ratio_dat, 1e-300, None)), axis=0)
        out[coef] = {}
        for kind, nll in (("expected", nll_exp), ("observed", nll_obs)):
            d = nll - nll.min()
            ivs = intervals_1d(grid, d)
            out[coef][kind] = {
                "kind": "scan1d", "poi": coef, "profiled": False, "asimov": kind == "expected",
                "label": f"exact ratio ({kind})", "bestfit": {coef: float(grid[np.argmin(d)]), "nll": float(nll.min())},
                "points": [{coef: float(g), "deltaNLL": float(v), "status": 0} for g, v in zip(grid, d, strict=True)],
                "intervals": {k: [list(map(float, iv)) for iv in v] for k, v in ivs.items()},
            }  # fmt: skip
    return out


def scans(ws: Path, settings: DemoSettings, label: str) -> dict[str, dict[str, dict[str, Any]]]:
    from rooeft.infer import scan1d

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for coef in COEFFICIENTS:
        out[coef] = {}
        for kind, asimov in (("expected", True), ("observed", None)):
            s = scan1d(
                ws, coef, points=settings.scan_points, range=SCAN_RANGES[coef], profile_others=False, asimov=asimov,
                workers=settings.workers,
                progress=settings.progress, label=f"{label} ({kind})",
            )  # fmt: skip
            out[coef][kind] = s.to_dict()
    return out


# --- 4. the sensitivity ladders -------------------------------------------------------------------
#: the analyses whose sensitivity ladder the demo runs (workspace name → label)
LADDERS = {"unbinned": "learned unbinned", "main": "main (unbinned + score-binned)"}
EXACT_STEP = "exact ratio (optimal)"


def ladders(
    settings: DemoSettings,
    cfgs: Mapping[str, Path],
    ws: Mapping[str, Path],
    exact: Mapping[str, Mapping[str, Mapping[str, Any]]],
    results_dir: Path,
    plots_dir: Path,
) -> dict[str, Any]:
    """The sensitivity ladder (:func:`rooeft.ladder.ladder`) of the learned unbinned and the main
    analysis, each starting at the exact ratio: its expected intervals from :func:`exact_scans`
    (the same signal events, which both analyses use in full) are the reference step, so every
    width is relative to the optimum. Writes ``results/ladder_<name>.json`` and
    ``plots/ladder_<name>.png``/``.pdf``; returns the results by workspace name."""
    from rooeft.infer import write_json
    from rooeft.ladder import ReferenceStep, ladder, plot_ladder

    def intervals(poi: str, scan_range: tuple[float, float]) -> Mapping[str, Any]:
        return {k: [tuple(iv) for iv in v] for k, v in exact[poi]["expected"]["intervals"].items()}

    reference = ReferenceStep(EXACT_STEP, intervals, kind="exact")
    out: dict[str, Any] = {}
    for name in LADDERS:
        res = ladder(
            cfgs[name], points=settings.ladder_points, ranges=SCAN_RANGES, workspace=ws[name], reference=reference
        )
        write_json(results_dir / f"ladder_{name}.json", res)
        plot_ladder(res, plots_dir / f"ladder_{name}")
        out[name] = res
    return out
