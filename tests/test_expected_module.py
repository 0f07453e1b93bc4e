"""``rooeft.workspace.expected``: the Python mirror of the workspace's names and expected events
against what a built workspace contains, and the one expected-weight formula used by builder,
inference and toy pools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rooeft.terms import monomials
from rooeft.workspace import expected
from test_workspace_build import COEFS, config_dict, make_inputs


def _cols(data: Any) -> dict[str, np.ndarray]:
    return {(k.decode() if isinstance(k, bytes) else str(k)): np.asarray(v) for k, v in data.to_numpy().items()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from rooeft.config import load_config
    from rooeft.workspace import build_workspace

    d = tmp_path_factory.mktemp("ws_expected")
    make_inputs(d)
    cfg = config_dict()
    cfg["channels"][0]["data"] = {"asimov": {"c1": 0.3, "c2": -0.7}}  # unbinned Asimov data off the SM
    (d / "analysis.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    config = load_config(d / "analysis.yaml")
    result = build_workspace(config, output=d / "ws.root", write_template_file=False)
    return {"dir": d, "config": config, "result": result}


@pytest.fixture(scope="module")
def ws(built: dict[str, Any]) -> Any:
    import rooeft

    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    f = ROOT.TFile.Open(str(built["result"].output))
    w = f.Get("w")
    w._file = f
    return w


def test_names_match_the_built_workspace(built: dict[str, Any], ws: Any) -> None:
    meta = json.loads(ws.obj("rooeft_metadata").GetTitle())
    for name in (expected.DATA_OBS, expected.ASIMOV_DATA):
        data = ws.data(name)
        assert data and data.isWeighted() and data.weightVar().GetName() == expected.WEIGHT
        assert data.get().find(expected.CATEGORY)
    assert ws.cat(expected.CATEGORY)
    mc_obs = {v.GetName() for v in ws.obj("ModelConfig").GetObservables()}
    assert expected.CATEGORY in mc_obs
    for ch in meta["channels"]:
        sim = ws.data(expected.sim_name(ch["name"]))
        if ch["kind"] == "unbinned":
            cols = _cols(sim)
            assert list(cols) == [*ch["observables"], *expected.term_columns(COEFS)]
        else:
            assert not sim
        for p in ch["processes"]:
            y = ws.function(expected.yield_name(ch["name"], p))
            assert y and y.getVal() == pytest.approx(ch["yields"][p], rel=1e-12)
    sims = [d.GetName() for d in ws.allData() if d.GetName().startswith(expected.SIM_PREFIX)]
    assert sorted(sims) == [expected.sim_name("unb")]


def test_asimov_and_data_follow_the_expected_weights(built: dict[str, Any], ws: Any) -> None:
    sim = _cols(ws.data(expected.sim_name("unb")))
    matrix = np.stack([sim[c] for c in expected.term_columns(COEFS)], axis=1)
    for name, theta in ((expected.ASIMOV_DATA, [0.0, 0.0]), (expected.DATA_OBS, [0.3, -0.7])):
        cols = _cols(ws.data(name))
        w = cols[expected.WEIGHT][cols[expected.CATEGORY] == 0]
        assert np.array_equal(w, expected.expected_weights(matrix, theta))
        assert np.array_equal(w, expected.column_weights(sim, COEFS, theta))
        np.testing.assert_allclose(w, matrix @ monomials(theta), rtol=1e-13, atol=0)
        assert np.array_equal(cols["x"][cols[expected.CATEGORY] == 0], sim["x"])
    cols = _cols(ws.data(expected.ASIMOV_DATA))
    np.testing.assert_allclose(
        cols["CMS_th1x_cnt"][cols[expected.CATEGORY] == 2], expected.bin_centres(np.arange(5.0)), rtol=0
    )


def test_inference_uses_the_same_weights(built: dict[str, Any], ws: Any) -> None:
    from rooeft.infer.model import Model

    model = Model(built["result"].output)
    sim = _cols(ws.data(expected.sim_name("unb")))
    theta = {"c1": -0.4, "c2": 1.1}
    got = model.sim_weights("unb", theta)
    assert np.array_equal(got, expected.column_weights(sim, COEFS, [-0.4, 1.1]))
    exp = model.expected_channels({})
    asimov = _cols(ws.data(expected.ASIMOV_DATA))
    assert np.array_equal(exp["unb"][1], asimov[expected.WEIGHT][asimov[expected.CATEGORY] == 0])


def test_missing_columns_and_shapes() -> None:
    cols = {"w_sm": np.ones(3), "w_a": np.ones(3)}
    assert expected.column_weights(cols, ["a"], [0.0]).tolist() == [1.0, 1.0, 1.0]  # w_a_a not needed at 0
    with pytest.raises(expected.MissingColumn) as err:
        expected.column_weights(cols, ["a"], [2.0])
    assert err.value.name == "w_a_a"
    with pytest.raises(ValueError, match="terms of a quadratic"):
        expected.expected_weights(np.ones((2, 4)), [1.0])
    with pytest.raises(ValueError, match="theta has 1 values for 2"):
        expected.expected_weights(np.ones((2, 6)), [1.0])
    rng = np.random.default_rng(3)
    m = rng.normal(size=(50, 10))
    th = rng.normal(size=3)
    np.testing.assert_allclose(expected.expected_weights(m, th.tolist()), m @ monomials(th), rtol=1e-12, atol=1e-12)
    blk = expected.process_terms([1.0, 2.0], None, n_terms_=3)
    assert blk.tolist() == [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]


def test_module_is_light(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = str(Path(__file__).resolve().parents[1] / "python")
    code = (
        "import sys, rooeft.workspace.expected; "
        "bad = [m for m in ('ROOT', 'torch', 'rooeft.config', 'rooeft.workspace.builder') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src})
    assert proc.returncode == 0, proc.stdout + proc.stderr
