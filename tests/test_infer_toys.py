"""Toys: generation, coverage within binomial tolerance, pulls, outputs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rooeft.infer import DataSpec, ToySpec, ToysResult, get_model, read_json, toys, write_json, write_limit_tree

from test_infer_workspaces import binned_workspace, mixed_workspace


@pytest.fixture
def mixed(ROOT: Any, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return mixed_workspace(ROOT, tmp_path / "mixed.root", tmp_path)


SIG = np.array([30.0, 20.0, 10.0])
TERMS = np.array([[1.0, 0.2, 0.1], [1.0, 0.5, 0.3], [1.0, 1.0, 0.8]])
BKG = np.array([60.0, 30.0, 10.0])


@pytest.fixture
def binned(ROOT: Any, tmp_path: Path) -> Path:
    return binned_workspace(
        ROOT,
        tmp_path / "binned.root",
        edges=[0.0, 1.0, 2.0, 3.0],
        pois={"c": (-3.0, 3.0)},
        processes={"sig": (SIG, TERMS), "bkg": (BKG, None)},
        data=(SIG + BKG).tolist(),
        norm={"lumi": {"sig": (1.1, 1 / 1.1), "bkg": (1.1, 1 / 1.1)}},
    )


def test_toy_generation(binned: Path, mixed: tuple[Path, dict[str, Any]]) -> None:
    model = get_model(binned)
    truth = (("c", 0.5),)
    d1, g1 = model.toy_dataset(ToySpec(truth, seed=3, index=7))
    d2, g2 = model.toy_dataset(ToySpec(truth, seed=3, index=7))
    w1 = d1.to_numpy()[b"_weight_"]
    np.testing.assert_array_equal(w1, d2.to_numpy()[b"_weight_"])
    assert g1 == g2 and g1["lumi_In"] != 0.0  # randomised global observable, reproducible
    _, g3 = model.toy_dataset(ToySpec(truth, seed=3, index=7, randomize_globals=False))
    assert g3 == {"lumi_In": 0.0}
    # Poisson means: average counts over many toys ≈ expected yields at the truth
    mean = np.mean([model.toy_dataset(ToySpec(truth, 5, i))[0].to_numpy()[b"_weight_"] for i in range(300)], axis=0)
    expected = SIG * (TERMS @ np.array([1.0, 0.5, 0.25])) + BKG
    assert np.all(np.abs(mean - expected) < 4 * np.sqrt(expected / 300)), (mean, expected)
    # unbinned channel: Poisson(ν_tot) events drawn from the weighted simulation
    mpath, info = mixed
    mm = get_model(mpath)
    counts = []
    for i in range(40):
        d, _ = mm.toy_dataset(ToySpec((("c", 0.4),), 1, i))
        cols = d.to_numpy()
        counts.append(int(np.sum(cols[b"CMS_channel"] == 1)))
        assert np.all(np.isin(cols[b"x"][cols[b"CMS_channel"] == 1], info["sim"]["x"]))
    sim = info["sim"]
    nu = float(np.sum(sim["w_sm"] + 0.4 * sim["w_c"] + 0.16 * sim["w_c_c"]))
    assert np.mean(counts) == pytest.approx(nu, abs=4 * math.sqrt(nu / 40))
    res = toys(mpath, {"c": 0.4}, n_toys=3, seed=2, workers=1, interval="hesse")
    assert res.interval == "hesse" and res.coverage["c"]["n"] == sum(f.ok for f in res.fits)
    assert all(math.isnan(f.q["c"]) for f in res.fits)
    # a toy likelihood uses the toy's global observables; the data likelihood sets them back to nominal
    model.nll(DataSpec(toy=ToySpec(truth, seed=3, index=7)))
    assert model.var("lumi_In").getVal() == g1["lumi_In"]
    model.nll(DataSpec())
    assert model.var("lumi_In").getVal() == 0.0


def test_coverage_of_binned_toys(binned: Path, tmp_path: Path) -> None:
    n = 200
    res = toys(binned, {"c": 0.5}, n_toys=n, seed=11, workers=1)
    good = [f for f in res.fits if f.ok]
    assert len(good) >= 0.98 * n
    cov = res.coverage["c"]
    assert cov["n"] == len([f for f in good if math.isfinite(f.q["c"])]) >= 0.95 * n
    # binomial tolerance (3σ) around 68.27% and 95.45%... with the thresholds 1 and 3.84: 95.0%
    for key, p in (("68", 0.6827), ("95", 0.95)):
        assert abs(cov[key] - p) < 3 * math.sqrt(p * (1 - p) / cov["n"]), (key, cov[key])
    pulls = np.array(res.pulls["c"])
    assert abs(pulls.mean()) < 3 / math.sqrt(pulls.size) + 0.05
    # the quadratic dependence makes some toys' likelihoods bimodal (c and its mirror image); a fit
    # that finds the deeper, mirrored minimum has a huge pull, so the width is the robust one
    # (half the 16-84% quantile range)
    width = 0.5 * float(np.subtract(*np.percentile(pulls, [84.135, 15.865])))
    assert 0.8 < width < 1.2
    # the summary: coverage with binomial errors, bias in σ with its error, true sensitivity
    summary = res.summary()["c"]
    assert summary.coverage68 == cov["68"] and summary.coverage95 == cov["95"]
    assert summary.coverage68_error == pytest.approx(math.sqrt(cov["68"] * (1 - cov["68"]) / cov["n"]))
    assert summary.n == pulls.size and summary.bias == pytest.approx(pulls.mean())
    assert summary.bias_error == pytest.approx(pulls.std(ddof=1) / math.sqrt(pulls.size))
    values = np.array([f.values["c"] for f in good if f.errors["c"] > 0])
    assert summary.std_fit == pytest.approx(values.std(ddof=1))
    assert summary.median_hesse == pytest.approx(np.median([f.errors["c"] for f in good if f.errors["c"] > 0]))
    d = res.to_dict()
    assert d["source"] == "closure" and d["summary"]["c"]["coverage95"] == cov["95"]
    assert d["converged_fraction"] == pytest.approx(len(good) / n)
    lumi = np.array(res.pulls["lumi"])
    assert abs(lumi.mean()) < 3 / math.sqrt(lumi.size) and 0.8 < lumi.std(ddof=1) < 1.2
    # outputs
    back = read_json(write_json(tmp_path / "toys.json", res))
    assert isinstance(back, ToysResult) and back.to_dict() == res.to_dict()
    import json

    raw = json.loads((tmp_path / "toys.json").read_text())
    assert {"kind", "truth", "n_toys", "fits", "coverage", "pulls"} <= set(raw) and raw["truth"] == {"c": 0.5}
    assert {"status", "values", "errors"} <= set(raw["fits"][0])
    import uproot

    with uproot.open(write_limit_tree(tmp_path / "toys.root", res)) as fh:
        t = fh["limit"].arrays(library="np")
    assert t["iToy"].tolist() == [f.index + 1 for f in good]
    np.testing.assert_allclose(t["c"], [f.values["c"] for f in good], rtol=1e-6)
    assert np.all(t["iSeed"] == 11)
