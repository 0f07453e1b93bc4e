"""Coverage of toy-based (Neyman) intervals where the asymptotics fail, beside Wilks' intervals.

Cases (docs/neyman.md):

1. one bin, quadratic-only coefficient: n ~ Pois(b + s(1 + θ²)), b = 1000, s = 200, θ in
   [−2, 2], no nuisance; truths θ = 0 and 0.3. No approximation: without nuisances the toys of the
   construction at θ_true do not depend on the data, so the critical value from ``--crit`` toys
   at θ_true is the one every experiment would get; coverage is the fraction of ``--experiments``
   independent experiments with p(θ_true) ≥ 1 − CL. The exact coverage (Poisson sums) is shown too.
2. the binned pT(Z) ZH analysis (3 coefficients floating, lumi, b-tag and MC-statistics nuisances
   profiled), truth at the SM, each coefficient tested with the other two profiled.
   (a) *Asimov approximation*: the critical value from toys generated at the conditional fit of
       the Asimov dataset at the truth (= the nominal nuisances), shared by all experiments.
   (b) *per-experiment profile construction* for cHWtil (what ``rooeft limits --method toys`` does
       on each experiment): the experiment is fitted with θ fixed at the truth, ``--per-exp-toys``
       toys are generated at its (η̂, ν̂) and its p-value is computed from them.

Coverage errors: binomial over the experiments, and (a, 1) the finite number of toys behind the
shared critical value (√(CL(1−CL)/N_crit)), added in quadrature.

Run (the recorded results; about 7 minutes on 2 cores)::

    python benchmarks/bench_neyman.py --workers 2 --crit 20000 --experiments 20000 --zh-toys 12000 \
        --per-exp 1600 --per-exp-toys 100 --output benchmarks/RESULTS_neyman.md
"""

from __future__ import annotations

import argparse
import math
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CL = {"68": 0.6827, "95": 0.95}
ASYMPTOTIC = {"68": 1.00, "95": 3.84}
TIE = 1e-3

#: how to read the table (written under it)
NOTES = [
    "How to read it: *toy coverage* is the fraction of independent experiments whose toy-based interval",
    "contains the truth (p(θ_true) ≥ 1 − CL); *asymptotic* the fraction with 2ΔNLL(θ_true) below 1.00 / 3.84;",
    "errors are binomial over the experiments and, for a shared critical value, include √(CL(1−CL)/N_crit).",
    "Targets: 0.683 and 0.950 within ±0.02. Rows (a) share one critical value computed at the nuisances'",
    "Asimov conditional fit (the nominal values) and so test the toy machinery and the test statistic, not",
    "the profile construction's dependence on ν̂; row (b) runs the full per-experiment construction (toys at",
    "each experiment's own (η̂, ν̂)) with 100 toys per experiment: with a continuous t and p ~ U(0, 1), deciding",
    "on K/100 toys covers (101 − ⌈100α⌉)/101 = 0.683 (68%) and 0.950 (95%), so finite toys add no bias there.",
    "The exact column of the one-bin rows is the coverage of the exact Neyman construction and of Wilks'",
    "intervals from Poisson sums (no toys).",
]


def one_bin_workspace(path: Path) -> Path:
    """The one-bin quadratic-only model as a rooeft workspace (the tests' hand-built convention)."""
    sys.path.insert(0, str(REPO / "tests"))
    import rooeft

    from test_infer_workspaces import binned_workspace

    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    return binned_workspace(
        ROOT,
        path,
        edges=[0.0, 1.0],
        pois={"theta": (-2.0, 2.0)},
        processes={"sig": ([200.0], np.array([[1.0, 0.0, 1.0]])), "bkg": ([1000.0], None)},
        data=[1200.0],
    )


def zh_workspace(folder: Path) -> Path:
    """The demo's binned pT(Z) analysis of the shipped ZH sample (data/zh)."""
    import yaml

    from rooeft.examples.demo.analyses import config_dict, data_block, processes
    from rooeft.examples.demo.settings import PTZ_EDGES
    from rooeft.workspace import build_workspace

    zh = REPO / "data" / "zh"
    files = {"sig": zh / "zh_signal.root", "bkg": zh / "zh_background.root", "data": zh / "pseudodata_sm.root"}
    channel = {"name": "ptz", "kind": "binned", "observable": {"name": "ptz", "expression": "pt_z"},
               "edges": list(PTZ_EDGES), "processes": processes(files), "data": data_block(files),
               "mc_stats": {"threshold": 0.0}}  # fmt: skip
    cfg = folder / "ptz.yaml"
    cfg.write_text(yaml.safe_dump(config_dict([channel]), sort_keys=False))
    build_workspace(cfg, output=folder / "ws_ptz.root")
    return folder / "ws_ptz.root"


def toy_payloads(
    ws: Path, poi: str, truth: Mapping[str, float], seed: int, n: int, n_tasks: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """Payloads of :func:`rooeft.infer.neyman_toys.toy_statistics`: ``n`` toys at the truth (other
    POIs floating, nuisances at their nominal values, i.e. the Asimov conditional fit)."""
    from rooeft.infer import get_model
    from rooeft.infer.neyman_toys import expected_at

    model = get_model(ws)
    gen = {**model._nominal_start({}), **truth}
    lo, hi = model.ranges[poi]
    shift = 0.05 * (hi - lo)
    base = {
        "workspace": str(ws), "engine": "auto", "threads": 1, "tested": {poi: truth[poi]}, "generation": gen,
        "fixed": {}, "channels": expected_at(model, gen), "seed": seed, "strategy": 0, "tolerance": 0.01, "point": 0,
        "free_starts": [{}, {poi: truth[poi] + shift if truth[poi] + shift <= hi else truth[poi] - shift}],
    }  # fmt: skip
    pieces = [list(c) for c in np.array_split(np.arange(n), n_tasks) if c.size]
    return [{**base, "indices": [int(i) for i in c]} for c in pieces], [len(c) for c in pieces]


def per_experiment_task(payload: Mapping[str, Any]) -> list[tuple[float, float]]:
    """Experiments at the truth, each with its own profile construction: (t_exp, p-value)."""
    from rooeft.infer import get_model
    from rooeft.infer.neyman_toys import owned_minimizers

    model = get_model(payload["workspace"], threads=1)
    with owned_minimizers(model.ROOT):
        return _per_experiment(model, payload)


def _per_experiment(model: Any, payload: Mapping[str, Any]) -> list[tuple[float, float]]:
    from rooeft.infer.neyman_toys import best_minimum, draw_toy, expected_at, toy_likelihood, toy_statistics

    poi, truth = payload["poi"], dict(payload["truth"])
    gen = {**model._nominal_start({}), **truth}
    nominal = expected_at(model, gen)
    floating = [*model.pois, *model.nuisances]
    out = []
    for e in payload["indices"]:
        rng = np.random.default_rng([payload["seed"], 0, e])
        per, globs = draw_toy(model, nominal, gen, rng)
        nll = toy_likelihood(model, per, globs)
        cond = model.minimize(nll, [n for n in floating if n != poi], start=gen, strategy=0, tolerance=0.01)
        starts = [gen, {**gen, poi: truth[poi] + payload["shift"]}]
        free = best_minimum(model, nll, floating, starts, strategy=0, tolerance=0.01)
        if not (cond.ok and free.ok):
            out.append((math.nan, math.nan))
            continue
        t_exp = max(0.0, 2.0 * (cond.nll - free.nll))
        toys = toy_statistics({
            "workspace": model, "engine": model.engine, "threads": 1, "tested": {poi: truth[poi]},
            "generation": dict(cond.values), "fixed": {}, "channels": expected_at(model, cond.values),
            "free_starts": [{}, {poi: truth[poi] + payload["shift"]}], "seed": payload["seed"] + 1000 + e,
            "strategy": 0, "tolerance": 0.01, "point": 0, "indices": list(range(payload["toys"])),
        })  # fmt: skip
        t = np.array([x for _, x, s in toys if s == 0])
        out.append((t_exp, float(np.mean(t >= t_exp - TIE)) if t.size else math.nan))
    return out


def coverage_row(crit_t: np.ndarray, exp_t: np.ndarray) -> dict[str, Any]:
    """Coverage of the toy intervals (critical value from ``crit_t``) and of the asymptotic ones."""
    row: dict[str, Any] = {"n_crit": int(crit_t.size), "n_exp": int(exp_t.size)}
    for key, cl in CL.items():
        p = np.array([np.mean(crit_t >= t - TIE) for t in exp_t])
        cov = float(np.mean(p >= 1 - cl))
        err = math.sqrt(cov * (1 - cov) / exp_t.size + cl * (1 - cl) / crit_t.size)
        asym = float(np.mean(exp_t <= ASYMPTOTIC[key]))
        row[key] = (float(np.quantile(crit_t, cl, method="inverted_cdf")), cov, err, asym,
                    math.sqrt(asym * (1 - asym) / exp_t.size))  # fmt: skip
    return row


def exact_one_bin(theta: float) -> dict[str, float]:
    """Exact coverage of the Neyman and of the asymptotic intervals at ``theta`` (Poisson sums)."""
    from scipy.stats import poisson

    n = np.arange(0, 3000)
    mu = 1200.0 + 200.0 * theta**2
    mu_hat = np.clip(n, 1200.0, 2000.0)
    t = 2.0 * ((mu - n * np.log(mu)) - (mu_hat - n * np.log(mu_hat)))
    pmf = poisson.pmf(n, mu)
    out = {}
    for key, cl in CL.items():
        p = np.array([pmf[t >= ti - TIE].sum() for ti in t])
        out[key] = float(pmf[p >= 1 - cl].sum())
        out[f"asym{key}"] = float(pmf[t <= ASYMPTOTIC[key]].sum())
    return out


def run(runner: Any, payloads: Sequence[Any], sizes: Sequence[int], desc: str) -> np.ndarray:
    from rooeft.infer.neyman_toys import toy_statistics

    raw = runner.run(toy_statistics, payloads, sizes, progress=True, desc=desc)
    t = [x for chunk in raw for _, x, s in chunk]
    failed = sum(1 for chunk in raw for _, _, s in chunk if s != 0)
    if failed:
        print(f"  {desc}: {failed} failed toy fits left out", flush=True)
    return np.array([x for x in t if math.isfinite(x)])


def fmt(row: Mapping[str, Any], key: str) -> str:
    crit, cov, err, asym, aerr = row[key]
    return f"{crit:.2f} | {cov:.3f} ± {err:.3f} | {asym:.3f} ± {aerr:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crit", type=int, default=20000, help="toys behind a shared critical value")
    parser.add_argument("--experiments", type=int, default=20000, help="independent experiments per row")
    parser.add_argument("--zh-toys", type=int, default=12000, help="ZH (a): toys and experiments per coefficient")
    parser.add_argument("--per-exp", type=int, default=1600, help="ZH (b): experiments")
    parser.add_argument("--per-exp-toys", type=int, default=100, help="ZH (b): toys per experiment")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    from rooeft.infer.parallel import TaskRunner

    start = time.time()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_neyman_") as tmp, TaskRunner(workers=args.workers) as runner:
        folder = Path(tmp)
        one = one_bin_workspace(folder / "one_bin.root")
        zh = zh_workspace(folder)
        nt = 4 * args.workers
        lines += ["| case | truth | N_crit | N_exp | t_crit 68% | toy coverage 68% | asymptotic 68% | t_crit 95% "
                  "| toy coverage 95% | asymptotic 95% | exact (Poisson sums) 68% / 95%; asymptotic |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for theta in (0.0, 0.3):
            crit = run(runner, *toy_payloads(one, "theta", {"theta": theta}, 11, args.crit, nt), f"crit θ={theta}")
            exp = run(runner, *toy_payloads(one, "theta", {"theta": theta}, 12, args.experiments, nt), "experiments")
            row, ex = coverage_row(crit, exp), exact_one_bin(theta)
            lines.append(
                f"| one bin, θ² only | θ = {theta} | {row['n_crit']} | {row['n_exp']} | {fmt(row, '68')} | "
                f"{fmt(row, '95')} | {ex['68']:.3f} / {ex['95']:.3f}; {ex['asym68']:.3f} / {ex['asym95']:.3f} |"
            )
            print(lines[-1], flush=True)
        sm = {"cHQ3": 0.0, "cHW": 0.0, "cHWtil": 0.0}
        for poi in sm:
            crit = run(runner, *toy_payloads(zh, poi, sm, 21, args.zh_toys, nt), f"ZH {poi} crit")
            exp = run(runner, *toy_payloads(zh, poi, sm, 22, args.zh_toys, nt), f"ZH {poi} experiments")
            row = coverage_row(crit, exp)
            lines.append(
                f"| ZH pT(Z), 3 coefficients, (a) Asimov ν̂ | {poi} = 0 | {row['n_crit']} | {row['n_exp']} | "
                f"{fmt(row, '68')} | {fmt(row, '95')} | |"
            )
            print(lines[-1], flush=True)
        chunks = [list(map(int, c)) for c in np.array_split(np.arange(args.per_exp), nt) if c.size]
        payloads = [{"workspace": str(zh), "poi": "cHWtil", "truth": sm, "seed": 31, "indices": c,
                     "toys": args.per_exp_toys, "shift": 0.15} for c in chunks]  # fmt: skip
        raw = runner.run(per_experiment_task, payloads, [len(c) for c in chunks], progress=True, desc="per-exp")
        res = np.array([r for chunk in raw for r in chunk])
        good = res[np.isfinite(res[:, 1])]
        cells = []
        for key, cl in CL.items():
            cov = float(np.mean(good[:, 1] >= 1 - cl))
            asym = float(np.mean(good[:, 0] <= ASYMPTOTIC[key]))
            n = good.shape[0]
            cells.append(f"— | {cov:.3f} ± {math.sqrt(cov * (1 - cov) / n):.3f} | "
                         f"{asym:.3f} ± {math.sqrt(asym * (1 - asym) / n):.3f}")  # fmt: skip
        lines.append(
            f"| ZH pT(Z), 3 coefficients, (b) per-experiment construction | cHWtil = 0 | {args.per_exp_toys} per "
            f"experiment | {good.shape[0]} | {cells[0]} | {cells[1]} | |"
        )
        print(lines[-1], flush=True)
    elapsed = time.time() - start
    report = render(lines, args, elapsed)
    if args.output:
        Path(args.output).write_text(report)
    print(report)
    return 0


def render(lines: Sequence[str], args: argparse.Namespace, elapsed: float) -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())  # fmt: skip
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    import ROOT

    cmd = " ".join(["python", "benchmarks/bench_neyman.py", *sys.argv[1:]])
    return "\n".join([
        "# Coverage of toy-based (Neyman) intervals",
        "",
        f"Command: `{cmd}` (commit {commit.stdout.strip()}), {elapsed / 60:.1f} min on {cpu}, "
        f"{args.workers} Dask workers, Python {platform.python_version()}, ROOT {ROOT.gROOT.GetVersion()}.",
        "",
        *lines,
        "",
        *NOTES,
    ])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
