"""``rooeft ladder``: the chain of analyses derived from one configuration (binned and unbinned
channels), masked processes, the exact reference step, its Asimov intervals, the JSON result and
the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rooeft.testing.onnx_toys import column_values
from test_workspace_build import LUMI, UNB_COLUMNS, config_dict, make_inputs

POINTS = 9


def small_config() -> dict[str, Any]:
    """The synthetic analysis restricted to the binned pT channel (no ONNX model), with MC stats."""
    cfg = config_dict()
    cfg["channels"] = [c for c in cfg["channels"] if c["name"] == "cnt"]
    cfg["channels"][0]["mc_stats"] = {"threshold": 0.0}
    cfg["systematics"] = [s for s in cfg["systematics"] if s["name"] != "scale"]  # learned: unbinned only
    return cfg


#: the calibrated unbinned model: signal x ~ N(0.5, 1) with weight 0.5 (3000 events), background
#: x ~ N(-0.5, 1) with weight 1 (4000 events), so the true signal fraction is
#: sigmoid(ln(1500/4000) + x) and the EFT columns are the signal's per-event ratios
FRACTION = [float(np.log(1500.0 / 4000.0)), 1.0]
CAL_COLUMNS = [
    ("frac:sig", "sigmoid", FRACTION),
    ("frac:bkg", "1-sigmoid", FRACTION),
    *[c for c in UNB_COLUMNS if not c[0].startswith("frac:")],
]


def make_calibrated_inputs(d: Path) -> None:
    """Samples and the calibrated model of :data:`CAL_COLUMNS` (file names as in ``config_dict``)."""
    from rooeft.testing.onnx_toys import build_columns_model
    from test_workspace_build import write_tree

    rng = np.random.default_rng(7)
    x = rng.normal(0.5, 1.0, 3000)
    w = np.full(x.size, 0.5)
    cols = {name: column_values(kind, c, x) for name, kind, c in CAL_COLUMNS}
    sig = {"x": x, "pt": rng.exponential(80.0, x.size), "weight": w, "w_sm": w}
    sig.update(
        {f"w_{k.split(':', 2)[2].replace(':', '_')}": w * v for k, v in cols.items() if k[:4] in ("lin:", "quad")}
    )
    sig["weight_jesUp"], sig["weight_jesDown"] = w * np.exp(0.05 + 0.1 * x), w * np.exp(-0.04 - 0.08 * x)
    write_tree(d / "sig.root", sig)
    xb = rng.normal(-0.5, 1.0, 4000)
    wb = np.ones(xb.size)
    bkg = {"x": xb, "pt": rng.exponential(50.0, xb.size), "weight": wb}
    bkg["weight_jesUp"], bkg["weight_jesDown"] = wb * np.exp(0.02 * xb), wb * np.exp(-0.03 * xb)
    write_tree(d / "bkg.root", bkg)
    build_columns_model(
        d / "unb.onnx", CAL_COLUMNS, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes", "scale"]
    )


def unbinned_config() -> dict[str, Any]:
    """The synthetic analysis restricted to its unbinned channel (learned and weight shape
    systematics in the model), on Asimov data, with MC stats."""
    cfg = config_dict()
    cfg["channels"] = [c for c in cfg["channels"] if c["name"] == "unb"]
    cfg["channels"][0]["mc_stats"] = {"threshold": 0.0}
    cfg["channels"][0]["data"] = {"asimov": {}}
    cfg["systematics"] = [s for s in cfg["systematics"] if s["name"] in ("lumi", "xs_bkg", "jes", "scale")]
    return cfg


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ladder")
    make_inputs(d)
    (d / "analysis.yaml").write_text(yaml.safe_dump(small_config(), sort_keys=False))
    (d / "cal").mkdir()
    make_calibrated_inputs(d / "cal")
    (d / "cal" / "unbinned.yaml").write_text(yaml.safe_dump(unbinned_config(), sort_keys=False))
    return d


@pytest.fixture(scope="module")
def result(inputs: Path) -> Any:
    from rooeft.ladder import ladder

    return ladder(inputs / "analysis.yaml", points=POINTS, workdir=inputs / "steps")


@pytest.fixture(scope="module")
def unbinned(inputs: Path) -> Any:
    from rooeft.config import load_config
    from rooeft.ladder import exact_ratio_step, ladder

    exact = exact_ratio_step(load_config(inputs / "cal" / "unbinned.yaml"))
    return ladder(inputs / "cal" / "unbinned.yaml", points=POINTS, workdir=inputs / "cal" / "steps", reference=exact)


def assert_monotone(result: Any, skip: int = 0) -> None:
    """Asimov intervals: a background, a constrained nuisance or a free rate can only widen them."""
    for c, widths in result.widths("95").items():
        w = np.asarray(widths)[skip:]
        assert np.all(np.isfinite(w)) and np.all(w > 0), (c, widths)
        assert np.all(np.diff(w) >= -2e-3 * w[:-1]), (c, widths)
        assert w[-1] > 1.05 * w[0], (c, widths)
    for c, widths in result.widths("68").items():
        w = np.asarray(widths)[skip:]
        assert np.all(np.diff(w) >= -5e-3 * w[:-1]), (c, widths)


def test_steps_in_chain_order(result: Any, inputs: Path) -> None:
    assert [s.name for s in result.steps] == [
        "signal only", "+ bkg", "+ lumi", "+ xs_bkg", "+ jes", "+ trig", "+ mu_bkg", "+ MC stats",
    ]  # fmt: skip
    assert [s.kind for s in result.steps] == ["signal", "background"] + ["systematic"] * 5 + ["mc_stats"]
    assert result.coefficients == ("c1", "c2")
    assert "nominal values" in result.note
    first = yaml.safe_load((inputs / "steps" / "stage00.yaml").read_text())
    ch = first["channels"][0]
    assert [p["name"] for p in ch["processes"]] == ["sig"] and ch["data"] == {"asimov": {}}
    # systematics of the background alone are left out with it; the others stay and are held fixed
    assert [s["name"] for s in first["systematics"]] == ["lumi", "jes"]
    assert sorted(result.steps[0].frozen) == sorted(["lumi", "jes", *[f"prop_bincnt_bin{i}" for i in range(4)]])
    assert result.steps[1].frozen and result.steps[-1].frozen == ()
    assert "lumi" not in result.steps[2].frozen and "xs_bkg" in result.steps[2].frozen


def test_last_step_is_the_original_analysis(result: Any, inputs: Path) -> None:
    from rooeft.infer import scan1d
    from rooeft.workspace import build_workspace

    ws = inputs / "original.root"
    build_workspace(inputs / "analysis.yaml", output=ws, write_template_file=False)
    for c in result.coefficients:
        s = scan1d(ws, c, points=81, range=(-2.0, 2.0), profile_others=False, asimov=True)
        for level in ("68", "95"):
            direct = sum(b - a for a, b in s.intervals[level])
            assert result.steps[-1].width(c, level) == pytest.approx(direct, rel=5e-3)


def test_widths_never_shrink_along_the_chain(result: Any) -> None:
    assert_monotone(result)
    rel = result.relative_widths()
    assert all(r[0] == 1.0 for r in rel.values())
    rel_last = result.relative_widths("95", reference="+ MC stats")
    assert all(r[-1] == 1.0 for r in rel_last.values())


def test_json_round_trip(result: Any, tmp_path: Path) -> None:
    from rooeft.infer import read_json, write_json
    from rooeft.ladder import LadderResult

    path = write_json(tmp_path / "ladder.json", result)
    doc = json.loads(path.read_text())
    assert doc["kind"] == "ladder" and doc["steps"][0]["name"] == "signal only"
    assert doc["steps"][0]["relative_width_95"] == {"c1": 1.0, "c2": 1.0}
    back = read_json(path)
    assert isinstance(back, LadderResult) and back == result


# ----------------------------------------------------------------------- unbinned channels
def test_unbinned_ladder_masks_the_background(unbinned: Any, inputs: Path) -> None:
    names = [s.name for s in unbinned.steps]
    assert names == [
        "exact ratio (optimal)", "signal only", "+ bkg", "+ lumi", "+ xs_bkg", "+ jes", "+ scale", "+ MC stats",
    ]  # fmt: skip
    assert unbinned.steps[0].kind == "exact"
    stage = yaml.safe_load((inputs / "cal" / "steps" / "stage00.yaml").read_text())
    procs = stage["channels"][0]["processes"]
    assert [(p["name"], p.get("masked", False)) for p in procs] == [("sig", False), ("bkg", True)]
    # learned and weight shape systematics stay in the model; they are held at nominal until added
    assert [s["name"] for s in stage["systematics"]] == ["lumi", "xs_bkg", "jes", "scale"]
    assert set(unbinned.steps[1].frozen) == {"lumi", "xs_bkg", "jes", "scale", "prop_binunb_proc_sig"}
    assert unbinned.steps[-1].frozen == ()
    assert all(st == 0 for s in unbinned.steps for st in s.fit_status.values())


def test_unbinned_widths_are_monotone(unbinned: Any) -> None:
    assert_monotone(unbinned, skip=1)  # the exact step is a different analysis: no order with the learned one


def test_exact_step_is_the_optimum_of_an_exact_model(unbinned: Any) -> None:
    # the toy model's fractions are calibrated and its lin/quad columns are the per-event ratios of
    # the signal's structure constants: the learned signal-only analysis is the exact one up to the
    # finite simulation in the normalisation
    rel = unbinned.relative_widths("95")
    for c in unbinned.coefficients:
        assert 0.9 < rel[c][1] < 1.15, (c, rel[c])
        assert rel[c][-1] > rel[c][1]


def test_masked_nll_is_the_signal_only_likelihood(inputs: Path, unbinned: Any) -> None:
    """The masked stage's NLL against numpy: ν_sig(θ) − Σ_i w_i ln(ν_sig(θ) R_i(θ) / I(θ)) with
    R = π_sig r_sig (the background's rate is 0), the Asimov data = the signal events alone, and I
    the mean of R over the whole simulation (signal and background events)."""
    import uproot

    from rooeft.infer import DataSpec, Model
    from rooeft.terms import monomials

    model = Model(inputs / "cal" / "steps" / "stage00.root")
    assert model.metadata["channels"][0]["masked_processes"] == ["bkg"]
    assert model.metadata["channels"][0]["yields"]["bkg"] == 0.0
    spec = DataSpec.make(asimov=True)
    data, _ = model.dataset_arrays(spec)
    with uproot.open(inputs / "cal" / "sig.root") as f:
        sig = f["Events"].arrays(library="np")
    with uproot.open(inputs / "cal" / "bkg.root") as f:
        bkg = f["Events"].arrays(library="np")
    assert data["unb"][1].size == sig["x"].size  # the background's events are not in the Asimov data
    cols = {name: column_values(kind, c, sig["x"]) for name, kind, c in CAL_COLUMNS}
    cols_all = {name: column_values(kind, c, np.concatenate([sig["x"], bkg["x"]])) for name, kind, c in CAL_COLUMNS}
    w_sig, w_all = LUMI * sig["weight"], LUMI * np.concatenate([sig["weight"], bkg["weight"]])
    terms = ["w_sm", "w_c1", "w_c2", "w_c1_c1", "w_c1_c2", "w_c2_c2"]
    xs = np.array([np.sum(sig[t]) for t in terms]) / np.sum(sig["w_sm"])
    asimov = w_sig * np.sum(sig["weight"]) / np.sum(sig["w_sm"]) * sig["w_sm"] / sig["weight"]

    def ratio(c: dict[str, np.ndarray], m: np.ndarray) -> np.ndarray:
        lin = [c["lin:sig:c1"], c["lin:sig:c2"]]
        quad = [c["quad:sig:c1:c1"], c["quad:sig:c1:c2"], c["quad:sig:c2:c2"]]
        return np.asarray(
            c["frac:sig"] * (m[0] + m[1] * lin[0] + m[2] * lin[1] + sum(m[3 + k] * quad[k] for k in range(3)))
        )

    def nll_numpy(theta: list[float]) -> float:
        m = monomials(np.asarray(theta))
        nu = np.sum(w_sig) * float(xs @ m)
        integral = np.sum(w_all * ratio(cols_all, m)) / np.sum(w_all)
        return float(nu - np.sum(asimov * np.log(nu * ratio(cols, m) / integral)))

    # RooFit's NLL and the closed-form kernel (the masked rate is a constant slot of the kernel)
    roofit = Model(inputs / "cal" / "steps" / "stage00.root", engine="roofit")
    nll = roofit.nll(spec)
    knll = model.likelihood(spec)
    assert model.kernel_fallback is None and hasattr(knll, "kernel")
    nominal = {n: model.var(n).getVal() for n in knll.names}

    def nll_workspace(theta: list[float]) -> float:
        roofit.set_values({"c1": theta[0], "c2": theta[1]})
        return float(nll.getVal())

    def nll_kernel(theta: list[float]) -> float:
        return float(knll.value({**nominal, "c1": theta[0], "c2": theta[1]}))

    ref_np, ref_ws, ref_k = nll_numpy([0.0, 0.0]), nll_workspace([0.0, 0.0]), nll_kernel([0.0, 0.0])
    for theta in ([0.3, 0.0], [0.0, -0.4], [0.5, 0.5], [-1.0, 0.7]):
        expected = nll_numpy(theta) - ref_np
        assert nll_workspace(theta) - ref_ws == pytest.approx(expected, rel=1e-6, abs=1e-6), theta
        assert nll_kernel(theta) - ref_k == pytest.approx(expected, rel=1e-6, abs=1e-6), theta
    # the kernel's gradient in θ is exact: central differences of its value
    g = knll.gradient({**nominal, "c1": 0.3, "c2": -0.2})
    h = 1e-5
    for k, name in enumerate(("c1", "c2")):
        i = knll.names.index(name)
        up = {**nominal, "c1": 0.3, "c2": -0.2}
        dn = dict(up)
        up[name] += h
        dn[name] -= h
        assert g[i] == pytest.approx((knll.value(up) - knll.value(dn)) / (2 * h), rel=1e-5, abs=1e-6), k


def test_masking_is_validated(inputs: Path) -> None:
    from rooeft.config import ConfigError, parse_config

    cfg = small_config()
    cfg["channels"][0]["processes"][1]["masked"] = True
    with pytest.raises(ConfigError, match=r"processes\[1\]\.masked: only processes of unbinned channels"):
        parse_config(cfg, base_dir=inputs)
    cfg = unbinned_config()
    for p in cfg["channels"][0]["processes"]:
        p["masked"] = True
    with pytest.raises(ConfigError, match="every process is masked"):
        parse_config(cfg, base_dir=inputs)


def test_reference_step_comes_first(inputs: Path) -> None:
    from rooeft.ladder import ReferenceStep, ladder

    calls: list[tuple[str, tuple[float, float]]] = []

    def intervals(poi: str, scan_range: tuple[float, float]) -> dict[str, list[tuple[float, float]]]:
        calls.append((poi, scan_range))
        return {"68": [(-0.1, 0.1)], "95": [(-0.2, 0.2)]}

    res = ladder(inputs / "analysis.yaml", points=5, ranges={"c1": (-1.0, 1.0)},
                 reference=ReferenceStep("known", intervals, kind="exact"))  # fmt: skip
    assert calls == [("c1", (-1.0, 1.0)), ("c2", (-2.0, 2.0))]
    assert res.steps[0].name == "known" and res.steps[0].width("c1") == pytest.approx(0.4)
    rel = res.relative_widths()
    assert rel["c1"][0] == 1.0 and rel["c1"][1] == pytest.approx(res.steps[1].width("c1") / 0.4)


def test_configs_without_signal_are_refused(inputs: Path) -> None:
    from rooeft.config import parse_config
    from rooeft.ladder import ladder, ladder_plan

    cfg = small_config()
    for p in cfg["channels"][0]["processes"]:
        p["eft"] = False
    with pytest.raises(ValueError, match="no EFT process"):
        ladder_plan(parse_config(cfg, base_dir=inputs))
    with pytest.raises(ValueError, match="unknown coefficient 'nope'"):
        ladder(inputs / "analysis.yaml", ranges={"nope": (0.0, 1.0)})
    with pytest.raises(ValueError, match="configuration hash differs"):
        ladder(inputs / "analysis.yaml", workspace=inputs / "cal" / "steps" / "stage00.root")


def test_command(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rooeft import cli

    out = tmp_path / "ladder.json"
    cfg = str(inputs / "analysis.yaml")
    args = ["ladder", cfg, "-o", str(out), "--points", "5", "--range", "c1=-1.5,1.5", "--plot-dir", str(tmp_path / "p")]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "signal only" in text and "+ MC stats" in text and "c1 95% width" in text
    doc = json.loads(out.read_text())
    assert doc["ranges"]["c1"] == [-1.5, 1.5] and doc["points"] == 5
    assert (tmp_path / "p" / "ladder.png").is_file() and (tmp_path / "p" / "ladder.pdf").is_file()
    assert cli.main(args) == 1  # the outputs exist: no overwrite without --force
    assert "exists" in capsys.readouterr().err
    assert cli.main(["ladder", cfg, "-o", cfg, "--force"]) == 1  # never the input
    assert "input" in capsys.readouterr().err
    assert cli.main(["ladder", cfg, "--range", "nope=0,1", "--points", "5"]) == 1
    assert "unknown coefficient 'nope'" in capsys.readouterr().err
    assert cli.main(["ladder", cfg, "--range", "c1"]) == 1
    assert cli.main(["ladder", str(tmp_path / "missing.yaml")]) == 1
    with pytest.raises(SystemExit) as err:
        cli.main(["ladder"])
    assert err.value.code == 2


def test_command_unbinned_with_exact_step(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rooeft import cli
    from rooeft.workspace import build_workspace

    ws = tmp_path / "ws.root"
    build_workspace(inputs / "cal" / "unbinned.yaml", output=ws, write_template_file=False)
    out = tmp_path / "ladder.json"
    args = [
        "ladder",
        str(inputs / "cal" / "unbinned.yaml"),
        "--exact",
        "--workspace",
        str(ws),
        "--points",
        "5",
        "-o",
        str(out),
    ]
    assert cli.main(args) == 0
    doc = json.loads(out.read_text())
    assert [s["kind"] for s in doc["steps"]][:2] == ["exact", "signal"]
    assert doc["steps"][0]["relative_width_95"] == {"c1": 1.0, "c2": 1.0}
