"""Validation toys drawn from an independent simulation pool (``rooeft toys --pool``).

A small analysis whose model is exact: signal and background are Gaussians in x (so the signal
fraction is an exact sigmoid) and the signal's EFT weights are closed forms of x that a
hand-written ONNX model reproduces; one unbinned channel (x) and one binned channel (y). The
workspace is built from simulation with seed 1; the pool is independent simulation of the same
generator with seed 2. Toys from it show no bias and nominal coverage; a pool whose "SM" is in
truth the point c1 = δ shows the bias δ/σ.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rooeft.infer import InferenceError, ToySpec, ToysResult, get_model, read_json, toys, write_json
from rooeft.testing.onnx_toys import build_columns_model
from rooeft.workspace.pool import PoolError, ToyPool, load_pool, read_pool

# signal N(1, 1), background N(-0.5, 1) in x: log-odds linear in x
MU_S, MU_B = 1.0, -0.5
N_SIG, N_BKG = 50.0, 50.0  # expected events per channel
LIN1 = (0.0, 0.5)  # lin:sig:c1 = 0.5 x
QUAD11 = (0.02, 0.0, 0.07)  # quad:sig:c1:c1 = 0.02 + 0.07 x² (1 + c1 lin + c1² quad > 0 for all x)
LIN2, QUAD22 = 0.3, 0.2  # constant in x
EDGES = [-3.0, -1.0, 0.0, 1.0, 2.0, 4.0]
SIM_EVENTS, POOL_EVENTS = 100_000, 200_000


def _columns() -> list[tuple[str, str, list[float]]]:
    c0 = math.log(N_SIG / N_BKG) - 0.5 * (MU_S**2 - MU_B**2)
    return [
        ("frac:sig", "sigmoid", [c0, MU_S - MU_B]),
        ("frac:bkg", "1-sigmoid", [c0, MU_S - MU_B]),
        ("lin:sig:c1", "poly", list(LIN1)),
        ("lin:sig:c2", "poly", [LIN2]),
        ("quad:sig:c1:c1", "poly", list(QUAD11)),
        ("quad:sig:c1:c2", "poly", [0.0]),
        ("quad:sig:c2:c2", "poly", [QUAD22]),
    ]


def _write(path: Path, cols: dict[str, np.ndarray]) -> Path:
    import uproot

    with uproot.recreate(path) as f:
        f.mktree("Events", {k: np.float64 for k in cols})
        f["Events"].extend({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()})
    return path


def _signal(rng: np.random.Generator, n: int, *, shift: float = 0.0, drop: str | None = None) -> dict[str, np.ndarray]:
    """Signal events with exact EFT weights; ``shift``: the sample's SM is in truth c1 = shift."""
    x = rng.normal(MU_S, 1.0, n)
    y = rng.normal(0.8, 1.0, n)
    w = np.full(n, N_SIG / n)
    a = LIN1[0] + LIN1[1] * x
    b = QUAD11[0] + QUAD11[2] * x * x
    # w(θ + δ e1) as a polynomial in θ (the c1 terms re-expanded around δ)
    w_sm = w * (1 + shift * a + shift**2 * b)
    cols = {
        "x": x,
        "y": y,
        "weight": w_sm,
        "w_sm": w_sm,
        "w_c1": w * (a + 2 * shift * b),
        "w_c2": w * LIN2,
        "w_c1_c1": w * b,
        "w_c1_c2": np.zeros(n),
        "w_c2_c2": w * QUAD22,
    }
    if drop:
        del cols[drop]
    return cols


def _background(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "x": rng.normal(MU_B, 1.0, n),
        "y": rng.normal(-0.5, 1.2, n),
        "weight": np.full(n, N_BKG / n),
    }


def _config(sig: Path, bkg: Path, model: Path, *, lumi: float = 1.0) -> dict[str, Any]:
    procs = [{"name": "sig", "files": [str(sig)], "eft": True}, {"name": "bkg", "files": [str(bkg)]}]
    return {
        "version": 1,
        "name": "pool-toys",
        "luminosity_scale": lumi,
        "coefficients": [{"name": "c1", "range": [-2, 2]}, {"name": "c2", "range": [-2, 2]}],
        "channels": [
            {"name": "unb", "kind": "unbinned", "model": str(model), "processes": procs, "data": {"asimov": {}}},
            {
                "name": "bin",
                "kind": "binned",
                "observable": {"name": "ybin", "expression": "y"},
                "edges": EDGES,
                "processes": procs,
                "data": {"asimov": {}},
            },
        ],
        "systematics": [{"name": "lumi", "type": "lnN", "kappa": 1.02}],
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from rooeft.config import load_config
    from rooeft.workspace import build_workspace

    d = tmp_path_factory.mktemp("pool")
    model = build_columns_model(
        d / "unb.onnx", _columns(), coefficients=["c1", "c2"], processes=["sig", "bkg"], observable="x"
    )
    rng = np.random.default_rng(1)
    sim_sig = _write(d / "sig.root", _signal(rng, SIM_EVENTS))
    sim_bkg = _write(d / "bkg.root", _background(rng, SIM_EVENTS))
    prng = np.random.default_rng(2)  # independent simulation: another seed of the same generator
    pool_sig = _write(d / "pool_sig.root", _signal(prng, POOL_EVENTS))
    pool_bkg = _write(d / "pool_bkg.root", _background(prng, POOL_EVENTS))
    shifted_sig = _write(d / "shifted_sig.root", _signal(np.random.default_rng(3), POOL_EVENTS, shift=0.3))
    (d / "analysis.yaml").write_text(yaml.safe_dump(_config(sim_sig, sim_bkg, model)))
    config = load_config(d / "analysis.yaml")
    ws = build_workspace(config, output=d / "ws.root", write_template_file=False).output
    pool = read_pool(config, {"sig": [pool_sig], "bkg": [pool_bkg]})
    shifted = read_pool(config, {"sig": [shifted_sig], "bkg": [pool_bkg]})
    return {
        "dir": d,
        "config": config,
        "ws": ws,
        "pool": pool.write(d / "pool.npz"),
        "shifted": shifted.write(d / "shifted.npz"),
        "files": {"sig": pool_sig, "bkg": pool_bkg},
    }


@pytest.fixture(scope="module")
def validation(study: dict[str, Any]) -> ToysResult:
    return toys(study["ws"], {"c1": 0.0}, n_toys=200, seed=5, workers=1, pool=study["pool"], pois=["c1"])


def test_pool_contents(study: dict[str, Any]) -> None:
    pool = load_pool(study["pool"])
    assert isinstance(pool, ToyPool) and pool.coefficients == ("c1", "c2")
    unb, binned = pool.channels["unb"], pool.channels["bin"]
    assert unb.n_events == 2 * POOL_EVENTS and unb.terms.shape == (2 * POOL_EVENTS, 6)
    # background: weight in the w_sm column, zeros elsewhere; signal: the structure constants
    bkg = unb.process == unb.processes.index("bkg")
    assert np.all(unb.terms[bkg, 1:] == 0) and unb.terms[bkg, 0].sum() == pytest.approx(N_BKG)
    assert pool.weights("unb", {}).sum() == pytest.approx(N_SIG + N_BKG)
    sig = ~bkg
    np.testing.assert_allclose(unb.terms[sig, 1], unb.terms[sig, 0] * LIN1[1] * unb.observables["x"][sig], rtol=1e-12)
    # binned channel: events outside the edges dropped (as the templates drop them), bin of every event
    assert binned.edges == tuple(EDGES) and binned.n_events < 2 * POOL_EVENTS
    assert binned.bins is not None and binned.bins.min() >= 0 and binned.bins.max() == len(EDGES) - 2
    # n_eff = (Σw)²/Σw²: unweighted events at the SM -> the number of events
    desc = pool.describe({"c1": 0.0})
    assert desc["channels"]["unb"]["n_eff"] == pytest.approx(2 * POOL_EVENTS, rel=1e-9)
    assert desc["files"]["sig"] == [str(study["files"]["sig"].resolve())]
    assert pool.n_eff({"c1": 1.0})["unb"] < 2 * POOL_EVENTS  # EFT weights spread at c1 = 1


def test_pool_toys_are_reproducible_and_follow_the_pool(study: dict[str, Any]) -> None:
    model = get_model(study["ws"])
    spec = ToySpec((("c1", 0.5), ("c2", 0.0)), seed=3, index=4, pool=str(study["pool"]))
    a, ga = model.toy_arrays(spec)
    b, gb = model.toy_arrays(spec)
    np.testing.assert_array_equal(a["unb"][0]["x"], b["unb"][0]["x"])
    assert ga == gb and set(a) == {"unb", "bin"}
    pool = load_pool(study["pool"])
    # every unbinned toy event is a pool event; binned: counts per bin at the bin centres
    assert np.all(np.isin(a["unb"][0]["x"], pool.channels["unb"].observables["x"]))
    kind, ws_edges, (name,) = model.pool_layout()["bin"]  # the workspace may bin in the bin index
    assert kind == "binned" and ws_edges is not None and len(ws_edges) == len(EDGES)
    np.testing.assert_allclose(a["bin"][0][name], 0.5 * (np.array(ws_edges[1:]) + np.array(ws_edges[:-1])))
    # Poisson means over toys: the pool's expectation at the truth (not the workspace's)
    truth = {"c1": 0.5, "c2": 0.0}
    counts = np.array([model.toy_arrays(ToySpec(spec.truth, 9, i, pool=spec.pool))[0]["bin"][1] for i in range(200)])
    ch = pool.channels["bin"]
    assert ch.bins is not None
    expected = np.bincount(ch.bins, weights=pool.weights("bin", truth), minlength=len(EDGES) - 1)
    assert np.all(np.abs(counts.mean(axis=0) - expected) < 4 * np.sqrt(expected / 200)), (counts.mean(0), expected)
    # different from the closure toys of the same seed
    c, _ = model.toy_arrays(ToySpec(spec.truth, 3, 4))
    assert not np.array_equal(np.sort(c["unb"][0]["x"]), np.sort(a["unb"][0]["x"]))


def test_independent_pool_no_bias_and_nominal_coverage(validation: ToysResult) -> None:
    res = validation
    assert res.source == "validation" and res.pois == ("c1",)
    good = [f for f in res.fits if f.ok]
    assert len(good) >= 0.98 * res.n_toys
    # c2 fixed at the truth: no pulls or coverage for it
    assert set(res.coverage) == {"c1"} and "c2" not in res.pulls and all(f.values["c2"] == 0.0 for f in good)
    s = res.summary()["c1"]
    print(
        f"\nindependent pool: bias {s.bias:+.3f} ± {s.bias_error:.3f} σ, pull width {s.pull_width:.3f}, "
        f"68% {s.coverage68:.3f} ± {s.coverage68_error:.3f}, 95% {s.coverage95:.3f} ± {s.coverage95_error:.3f}, "
        f"std {s.std_fit:.4f}, median Hesse {s.median_hesse:.4f}, Asimov {s.asimov_width:.4f}"
    )
    assert abs(s.bias) < 3 * s.bias_error
    for cov, p, n in ((s.coverage68, 0.6827, res.coverage["c1"]["n"]), (s.coverage95, 0.95, res.coverage["c1"]["n"])):
        assert abs(cov - p) < 3 * math.sqrt(p * (1 - p) / n), (cov, p)
    # true sensitivity, median Hesse σ and the Asimov width agree for an exact model
    assert s.asimov_width == pytest.approx(s.median_hesse, rel=0.1)
    assert s.std_fit == pytest.approx(s.asimov_width, rel=0.15)


def test_pool_from_another_distribution_shows_the_bias(study: dict[str, Any], validation: ToysResult) -> None:
    res = toys(study["ws"], {"c1": 0.0}, n_toys=60, seed=5, workers=1, pool=study["shifted"], pois=["c1"])
    s = res.summary()["c1"]
    expected = 0.3 / s.asimov_width  # the pool's "SM" is c1 = 0.3
    print(f"\nshifted pool: bias {s.bias:+.3f} ± {s.bias_error:.3f} σ (expected about {expected:+.2f}), "
          f"95% coverage {s.coverage95:.3f}")  # fmt: skip
    assert s.bias > 5 * s.bias_error and s.bias == pytest.approx(expected, rel=0.3)
    assert s.coverage95 < 0.8


def test_mismatches_and_bad_pools(study: dict[str, Any], tmp_path: Path) -> None:
    from rooeft.config import load_config

    d: Path = study["dir"]
    # a configuration that is not the workspace's (another luminosity scale)
    other = _config(d / "sig.root", d / "bkg.root", d / "unb.onnx", lumi=2.0)
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    pool = read_pool(load_config(tmp_path / "other.yaml"), study["files"]).write(tmp_path / "other.npz")
    with pytest.raises(InferenceError, match="configuration does not match"):
        toys(study["ws"], {}, n_toys=1, workers=1, pool=pool)
    # a pool file without a structure-constant branch: the message names the branch
    bad = _signal(np.random.default_rng(7), 100, drop="w_c1_c1")
    _write(tmp_path / "bad.root", bad)
    with pytest.raises(PoolError, match="w_c1_c1") as err:
        read_pool(study["config"], {"sig": [tmp_path / "bad.root"], "bkg": [study["files"]["bkg"]]})
    assert "process 'sig'" in str(err.value)
    with pytest.raises(PoolError, match=r"no pool files for process\(es\) \['bkg'\]"):
        read_pool(study["config"], {"sig": [study["files"]["sig"]]})
    with pytest.raises(PoolError, match="unknown process"):
        read_pool(study["config"], {**study["files"], "ttbar": [study["files"]["bkg"]]})
    np.savez(tmp_path / "junk.npz", a=np.zeros(3))
    with pytest.raises(PoolError, match="cannot read the toy pool"):
        load_pool(tmp_path / "junk.npz")


def test_cli_labels_and_json(study: dict[str, Any], validation: ToysResult, tmp_path: Path, capsys: Any) -> None:
    from rooeft.cli import main

    # the JSON round trip keeps the source, the pool description and the Asimov width
    back = read_json(write_json(tmp_path / "v.json", validation))
    assert isinstance(back, ToysResult) and back.to_dict() == validation.to_dict()
    raw = json.loads((tmp_path / "v.json").read_text())
    assert raw["source"] == "validation" and raw["floating"] == ["c1"]
    assert raw["pool"]["channels"]["unb"]["events"] == 2 * POOL_EVENTS and raw["pool"]["config_hash"]
    assert raw["summary"]["c1"]["asimov_width"] > 0 and raw["asimov_width"]["c1"] > 0
    ws, cfg = str(study["ws"]), str(study["dir"] / "analysis.yaml")
    pools = [f"--pool=sig={study['files']['sig']}", f"--pool=bkg={study['files']['bkg']}"]
    code = main(["toys", ws, "--config", cfg, *pools, "-n", "4", "--workers", "1", "--poi", "c1",
                 "--no-progress", "-o", str(tmp_path / "cli.json")])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "validation on independent toys" in out.out and f"pool unb: {2 * POOL_EVENTS} events" in out.out
    assert json.loads((tmp_path / "cli.json").read_text())["source"] == "validation"
    code = main(["toys", ws, "-n", "2", "--workers", "1", "--no-progress", "-o", str(tmp_path / "closure.json")])
    out = capsys.readouterr()
    assert code == 0 and "closure (toys from the workspace's own simulation" in out.out
    closure = json.loads((tmp_path / "closure.json").read_text())
    assert closure["source"] == "closure" and closure["pool"] is None
    # a configuration that is not the workspace's: a clear error before any pool is read
    other = _config(study["dir"] / "sig.root", study["dir"] / "bkg.root", study["dir"] / "unb.onnx", lumi=3.0)
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    code = main(["toys", ws, "--config", str(tmp_path / "other.yaml"), *pools, "-n", "2", "--no-progress"])
    assert code == 1 and "does not match" in capsys.readouterr().err
    code = main(["toys", ws, "--pool", "sig=x.root", "-n", "2", "--no-progress"])
    assert code == 1 and "need --config" in capsys.readouterr().err
