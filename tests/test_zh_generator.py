"""ZH generator: reproducibility, files, weights, systematics, truth API, pseudo-data, CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import correctionlib
import numpy as np
import pytest
import uproot

from rooeft.cli import main
from rooeft.examples.zh import background, btag, truth
from rooeft.examples.zh.dataset import generate_sample
from rooeft.examples.zh.generator import (
    TAIL_ENHANCEMENT,
    GeneratorConfig,
    SignalProposal,
    generate_chunks,
    pseudo_data,
    sample_signal,
    sample_signal_importance,
    structure_constant_names,
)
from rooeft.examples.zh.io import write_root
from rooeft.examples.zh.kinematics import final_state, reconstruct
from rooeft.examples.zh.model import MZ, S_HAT_HI, S_HAT_MIN, structure_constants, y_max

DATA = Path(__file__).resolve().parents[1] / "data" / "zh"
CFG = GeneratorConfig(chunk_size=20_000)


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _n_eff(w: np.ndarray) -> float:
    w = np.asarray(w, dtype=np.float64)
    return float(w.sum() ** 2 / np.dot(w, w)) if len(w) else 0.0


def _pt_slices_n_eff(events: dict[str, np.ndarray]) -> list[float]:
    """n_eff of the SM yield in the 100 GeV slices of reconstructed pT(Z) below 1 TeV."""
    w, pt = events["weight"], events["pt_z"]
    return [_n_eff(w[(pt >= lo) & (pt < lo + 100.0)]) for lo in range(0, 1000, 100)]


@pytest.fixture(scope="module")
def signal() -> dict[str, np.ndarray]:
    return _concat(list(generate_chunks("signal", 50_000, seed=42, config=CFG)))


@pytest.fixture(scope="module")
def bkg() -> dict[str, np.ndarray]:
    return _concat(list(generate_chunks("background", 30_000, seed=42, config=CFG)))


def test_reproducible_with_seed() -> None:
    a = _concat(list(generate_chunks("signal", 5_000, seed=3, config=CFG)))
    b = _concat(list(generate_chunks("signal", 5_000, seed=3, config=CFG)))
    c = _concat(list(generate_chunks("signal", 5_000, seed=4, config=CFG)))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["truth_sqrt_s_hat"][:100], c["truth_sqrt_s_hat"][:100])


def test_branches_and_normalisation(signal: dict[str, np.ndarray], bkg: dict[str, np.ndarray]) -> None:
    names = structure_constant_names()
    assert names == [
        "w_sm",
        "w_cHQ3",
        "w_cHW",
        "w_cHWtil",
        "w_cHQ3_cHQ3",
        "w_cHQ3_cHW",
        "w_cHQ3_cHWtil",
        "w_cHW_cHW",
        "w_cHW_cHWtil",
        "w_cHWtil_cHWtil",
    ]
    assert set(names) <= signal.keys() and not set(names) & bkg.keys()
    assert np.array_equal(signal["w_sm"], signal["weight"])
    for key in ("weight_btagUp", "weight_btagDown", "truth_process", "pT", "m_bb", "b1_pt", "lm_eta"):
        assert key in signal and key in bkg
    assert np.all(signal["truth_process"] == 0) and np.all(bkg["truth_process"] == 1)
    # realistic yields at 300/fb after acceptance and b-tagging (MC precision ~1-2 %)
    assert 1650 < signal["weight"].sum(dtype=np.float64) < 2000
    assert 2200 < bkg["weight"].sum(dtype=np.float64) < 2700
    # acceptance cuts hold on the reconstructed objects
    assert signal["lm_pt"].min() > 20 and signal["b2_pt"].min() > 25
    assert np.abs(np.concatenate([signal["b1_eta"], signal["lp_eta"]])).max() < 2.5
    assert np.all(signal["b1_pt"] >= signal["b2_pt"])


def test_stored_structure_constants_are_the_model(signal: dict[str, np.ndarray]) -> None:
    sc_file = np.stack([signal[k].astype(np.float64) for k in structure_constant_names()], axis=1)
    sc_model = truth.signal_structure_constants(signal)
    scale = sc_file[:, 0] / sc_model[:, 0]  # per-event factor: lumi, norm, b-tag
    diff = np.abs(sc_file - sc_model * scale[:, None])
    assert np.all(diff <= 1e-6 * np.abs(sc_file) + 1e-6 * sc_file[:, :1])


def test_truth_ratio_and_score(signal: dict[str, np.ndarray]) -> None:
    events = {k: v[:2000] for k, v in signal.items()}
    sc_file = np.stack([events[k].astype(np.float64) for k in structure_constant_names()], axis=1)
    rng = np.random.default_rng(0)
    for theta in rng.normal(0.0, [0.02, 0.3, 0.3], size=(3, 3)):
        r = truth.ratio(events, theta)
        direct = structure_constants(
            *(events[f"truth_{v}"] for v in ("sqrt_s_hat", "y", "cos_theta", "phi_hat", "cos_theta_hat"))
        )
        w_theta = direct @ np.concatenate([[1.0], theta, [theta[a] * theta[b] for a in range(3) for b in range(a, 3)]])
        np.testing.assert_allclose(r, w_theta / direct[:, 0], rtol=1e-12)
        np.testing.assert_allclose(r, truth.ratio_from_structure_constants(sc_file, theta), rtol=2e-5)
    theta0 = np.array([0.01, -0.2, 0.15])
    t = truth.score(events, theta0)
    h = 1e-6
    for a in range(3):
        step = np.zeros(3)
        step[a] = h
        fd = (np.log(truth.ratio(events, theta0 + step)) - np.log(truth.ratio(events, theta0 - step))) / (2 * h)
        np.testing.assert_allclose(t[:, a], fd, rtol=1e-5, atol=1e-6 * np.abs(t[:, a]).max())
    with pytest.raises(ValueError, match="theta0"):
        truth.score(events, [0.0, 0.0])


def test_reconstruction_inverts_final_state() -> None:
    rng = np.random.default_rng(1)
    tr = sample_signal(rng, 2000)
    lm, lp, b, bbar = final_state(
        **{
            k: tr[k]
            for k in ("sqrt_s_hat", "y", "cos_theta", "phi_hat", "cos_theta_hat", "Phi", "cos_theta_b", "phi_b", "m_bb")
        }
    )
    reco = reconstruct(lm, lp, b, bbar)
    for key in ("sqrt_s_hat", "y", "cos_theta", "cos_theta_hat"):
        np.testing.assert_allclose(reco[key], tr[key], atol=1e-8)
    dphi = np.angle(np.exp(1j * (reco["phi_hat"] - tr["phi_hat"])))
    assert np.abs(dphi).max() < 1e-7
    np.testing.assert_allclose(reco["m_ll"], MZ, rtol=1e-10)
    np.testing.assert_allclose(reco["m_bb"], 125.1, rtol=1e-10)
    # the Z pT is invariant under the longitudinal boost: lab pt_z equals the Zh-frame pT
    np.testing.assert_allclose(reco["pt_z"], reco["pT"], rtol=1e-8, atol=1e-8)


def test_background_density_is_normalised_and_matches_sampling() -> None:
    rng = np.random.default_rng(8)
    n = 400_000
    lo, hi = background.M_BB_RANGE
    box = {
        "m_bb": (lo, hi),
        "sqrt_s_hat": (0.0, 2262.0),
        "y": (-5.0, 5.0),
        "cos_theta": (-1.0, 1.0),
        "cos_theta_hat": (-1.0, 1.0),
        "phi_hat": (-np.pi, np.pi),
    }
    points = {k: rng.uniform(a, b, n) for k, (a, b) in box.items()}
    volume = np.prod([b - a for a, b in box.values()])
    dens = truth.background_density(points)
    integral, err = volume * dens.mean(), volume * dens.std() / np.sqrt(n)
    assert abs(integral - 1.0) < 4 * err and err < 0.01
    ev = background.sample(rng, 200_000)
    # marginal of cos(Theta): (1 + 2c^2) / (2 (1 + 2/3)), compare in 10 bins
    counts, edges = np.histogram(ev["cos_theta"], bins=10, range=(-1, 1))
    cdf = lambda c: (c + 2 * c**3 / 3) / (2 * (1 + 2 / 3))  # noqa: E731
    expected = 200_000 * (cdf(edges[1:]) - cdf(edges[:-1]))
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 30  # 10 dof
    assert np.all(ev["sqrt_s_hat"] >= MZ + ev["m_bb"])


def test_correctionlib_factors_match_branches(tmp_path: Path, bkg: dict[str, np.ndarray]) -> None:
    path = tmp_path / "btag_sf.json"
    path.write_text(btag.correction_json())
    corr = correctionlib.CorrectionSet.from_file(str(path))[btag.CORRECTION_NAME]

    def sf(variation: str) -> np.ndarray:
        out = np.ones(len(bkg["weight"]))
        for jet in ("b1", "b2"):
            pt = bkg[f"{jet}_pt"].astype(np.float64)
            abseta = np.abs(bkg[f"{jet}_eta"].astype(np.float64))
            out *= corr.evaluate(variation, abseta, pt)
            # direct lookup in the tables, clamped like the JSON's flow="clamp"
            i_eta = np.clip(np.searchsorted(btag.ABSETA_EDGES, abseta, side="right") - 1, 0, 1)
            i_pt = np.clip(np.searchsorted(btag.PT_EDGES, pt, side="right") - 1, 0, len(btag.PT_EDGES) - 2)
            np.testing.assert_array_equal(corr.evaluate(variation, abseta, pt), btag.table(variation)[i_eta, i_pt])
        return out

    nominal = sf("nominal")
    w = bkg["weight"].astype(np.float64)
    for variation, branch in (("up", "weight_btagUp"), ("down", "weight_btagDown")):
        np.testing.assert_allclose(bkg[branch] / w, sf(variation) / nominal, rtol=1e-6)
    # background: weight = L sigma eps^2 SF SF / N exactly
    np.testing.assert_allclose(w, 300.0 * 60.0 * 0.49 * nominal / 30_000, rtol=1e-6)
    assert 0.0 < np.mean(bkg["weight_btagUp"] / w - 1) < 0.15


def test_root_round_trip_bit_for_bit(tmp_path: Path) -> None:
    chunks = list(generate_chunks("signal", 6_000, seed=9, config=GeneratorConfig(chunk_size=2_500)))
    path = write_root(tmp_path / "sig.root", chunks)
    with uproot.open(path) as f:
        tree = f["Events"]
        back = tree.arrays(library="np")
        assert tree.num_entries == sum(len(c["weight"]) for c in chunks)
    ref = _concat(chunks)
    assert list(back) == list(ref)
    for key, values in ref.items():
        assert back[key].dtype == values.dtype, key
        assert np.array_equal(back[key], values), key
    # an existing file is never replaced silently, an input never written; no temp files are left
    with pytest.raises(FileExistsError):
        write_root(path, chunks)
    with pytest.raises(ValueError, match="input"):
        write_root(path, chunks, overwrite=True, inputs=[path])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sig.root"]


def test_pseudo_data(signal: dict[str, np.ndarray]) -> None:
    cfg = GeneratorConfig(chunk_size=50_000, luminosity=30.0)  # 1/10 of the samples' luminosity
    data = pseudo_data(seed=5, config=cfg, min_pool=100_000)
    again = pseudo_data(seed=5, config=cfg, min_pool=100_000)
    other = pseudo_data(seed=5, replica=1, config=cfg, min_pool=100_000)
    assert all(np.array_equal(data.columns[k], again.columns[k]) for k in data.columns)
    assert not np.array_equal(data.columns["pT"][:50], other.columns["pT"][:50])
    cols = data.columns
    assert np.all(cols["weight"] == 1.0)
    n_sig = int(np.sum(cols["truth_process"] == 0))
    assert (n_sig, len(cols["weight"]) - n_sig) == (data.observed["signal"], data.observed["background"])
    # expected yields agree with the weighted samples; counts are Poisson around them
    w_sig = signal["weight"].astype(np.float64)
    mc_err = np.sqrt(np.sum(w_sig**2))
    assert abs(10 * data.expected["signal"] - w_sig.sum()) < 4 * mc_err
    for process, n_obs in data.observed.items():
        nu = data.expected[process]
        assert abs(n_obs - nu) < 5 * np.sqrt(nu)
    # BSM point: the signal expectation follows sigma(theta)
    theta = np.array([0.02, 0.3, 0.3])
    bsm = pseudo_data(theta, seed=5, config=cfg, min_pool=100_000)
    sc = np.stack([signal[k].astype(np.float64) for k in structure_constant_names()], axis=1)
    sigma = np.sum(truth.ratio_from_structure_constants(sc, theta) * sc[:, 0])
    w_bsm = truth.ratio_from_structure_constants(sc, theta) * sc[:, 0]
    assert abs(10 * bsm.expected["signal"] - sigma) < 4 * np.sqrt(np.sum(w_bsm**2))
    assert bsm.expected["signal"] / data.expected["signal"] == pytest.approx(sigma / w_sig.sum(), rel=0.03)
    assert bsm.expected["background"] == pytest.approx(data.expected["background"], rel=1e-12)
    # unweighted events follow the weighted distribution: mean of sqrt_s_hat agrees
    w_mean = np.average(signal["sqrt_s_hat"], weights=signal["weight"])
    d_sig = cols["sqrt_s_hat"][cols["truth_process"] == 0]
    assert abs(d_sig.mean() - w_mean) < 5 * d_sig.std() / np.sqrt(d_sig.size)
    with pytest.raises(ValueError, match="theta"):
        pseudo_data([0.0], seed=1)


def test_default_sampling_is_efficient(signal: dict[str, np.ndarray]) -> None:
    """The issue-9 targets on 50k generated events (the shipped set has 140k, so this is stricter)."""
    assert GeneratorConfig().sampling == "importance" and TAIL_ENHANCEMENT == 0.3
    w = signal["weight"]
    n = len(w)
    assert 0.42 < n / 50_000 < 0.49  # acceptance of the default proposal
    assert 0.55 < _n_eff(w) / n < 0.72  # target >= 0.3; flat sampling: 0.011
    slices = _pt_slices_n_eff(signal)
    assert min(slices) > 400, slices  # target: >= 100 per 100 GeV slice below 1 TeV
    # the high-sqrt(s_hat) tail stays populated: the growing EFT terms are well sampled too
    for term in ("w_cHQ3", "w_cHW", "w_cHQ3_cHQ3", "w_cHQ3_cHW", "w_cHW_cHW", "w_cHWtil_cHWtil"):
        assert _n_eff(signal[term]) > 0.3 * n, term
    # the phase-space weight is bounded: accept-reject unweighting keeps ~1 / (max/mean) of a pool
    assert w.max() / w.mean() < 6.0


def test_tail_enhancement_trades_bulk_for_tail() -> None:
    sm_only = _concat(list(generate_chunks("signal", 30_000, seed=8, config=GeneratorConfig(tail_enhancement=0.0))))
    tail = _concat(list(generate_chunks("signal", 30_000, seed=8, config=GeneratorConfig(tail_enhancement=0.6))))
    assert _n_eff(sm_only["weight"]) / len(sm_only["weight"]) > 0.85  # near-unweighted at the SM
    assert _n_eff(tail["weight"]) / len(tail["weight"]) < 0.5
    assert _pt_slices_n_eff(sm_only)[-1] < 0.1 * _pt_slices_n_eff(tail)[-1]  # 900-1000 GeV


def _term_sums(events: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the yield and the ten structure constants and their covariance (sum w_a w_b)."""
    cols = np.stack([events[k].astype(np.float64) for k in structure_constant_names()[1:]], axis=1)
    cols = np.concatenate([events["weight"].astype(np.float64)[:, None], cols], axis=1)
    return cols.sum(axis=0), cols.T @ cols


@pytest.mark.parametrize("jacobian", [False, True])
def test_importance_sampling_keeps_every_expectation(jacobian: bool) -> None:
    """Yield and all ten structure-constant sums agree with the flat sampler: chi2 with covariance."""
    flat = _concat(
        list(
            generate_chunks(
                "signal",
                300_000,
                seed=21,
                config=GeneratorConfig(sampling="flat", jacobian=jacobian, chunk_size=100_000),
            )
        )
    )
    imp = _concat(
        list(generate_chunks("signal", 60_000, seed=22, config=GeneratorConfig(jacobian=jacobian, chunk_size=30_000)))
    )
    (s_flat, c_flat), (s_imp, c_imp) = _term_sums(flat), _term_sums(imp)
    diff = s_imp - s_flat
    cov = c_flat + c_imp  # independent samples: the covariances of the sums add
    names = ["yield", *structure_constant_names()[1:]]
    pulls = diff / np.sqrt(np.diag(cov))
    assert np.all(np.abs(pulls) < 4.5), dict(zip(names, pulls.round(2), strict=True))
    # the yield column equals w_sm, so drop it from the joint test (singular covariance)
    d, c = diff[1:], cov[1:, 1:]
    chi2 = float(d @ np.linalg.solve(c, d))
    assert chi2 < 35.6, chi2  # 10 dof, p = 1e-4
    # the 5x smaller importance sample is ~9x more precise than the flat one (variance ratio)
    assert c_imp[0, 0] < 0.2 * c_flat[0, 0]
    # and the pT(Z) spectrum agrees bin by bin
    edges = np.array([0, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1200.0])
    h = [np.histogram(e["pt_z"], edges, weights=e["weight"].astype(np.float64))[0] for e in (flat, imp)]
    v = [np.histogram(e["pt_z"], edges, weights=e["weight"].astype(np.float64) ** 2)[0] for e in (flat, imp)]
    chi2_pt = float(np.sum((h[0] - h[1]) ** 2 / (v[0] + v[1])))
    assert chi2_pt < 37.6, chi2_pt  # 10 bins, p = 1e-4


def test_proposal_is_deterministic_and_normalised() -> None:
    a = SignalProposal.build(0.3)
    SignalProposal.build.cache_clear()
    b = SignalProposal.build(0.3)
    assert a is not b and np.array_equal(a.density, b.density)
    for f in (0.0, 0.3, 1.0):
        p = SignalProposal.build(f)
        assert float(np.sum(0.5 * (p.density[1:] + p.density[:-1]) * np.diff(p.knots))) == pytest.approx(1.0, abs=1e-12)
        assert np.all(p.density > 0)
    np.testing.assert_allclose(SignalProposal.build(1.0).density, 1.0 / np.ptp(a.knots), rtol=1e-5)
    # sampled sqrt_s_hat follows the tabulated density: weighted by 1/q it is flat in sqrt(s_hat)
    rng = np.random.default_rng(4)
    tr = sample_signal_importance(rng, 200_000, a)
    rs = tr["sqrt_s_hat"]
    assert rs.min() >= a.knots[0] and rs.max() <= a.knots[-1]
    counts, edges = np.histogram(rs, bins=20, range=(a.knots[0], a.knots[-1]))
    fine = np.linspace(a.knots[0], a.knots[-1], 200_001)
    q = a.pdf_sqrt_s_hat(fine)
    mass = np.array(
        [
            np.trapezoid(q[(fine >= lo) & (fine <= hi)], fine[(fine >= lo) & (fine <= hi)])
            for lo, hi in itertools.pairwise(edges)
        ]
    )
    expected = 200_000 * mass
    assert float(np.sum((counts - expected) ** 2 / expected)) < 45.3  # 20 bins, p = 1e-3
    # y stays inside |y| <= y_max, and the phase-space weight is the flat/proposal ratio
    v = tr["y"] / y_max(rs)
    assert np.abs(v).max() <= 1.0
    p_v = (1 - 0.9 * v**2) / (2 * (1 - 0.3))
    np.testing.assert_allclose(
        tr["phase_space_weight"], rs / ((S_HAT_HI - S_HAT_MIN) * a.pdf_sqrt_s_hat(rs) * p_v), rtol=1e-9
    )
    with pytest.raises(ValueError, match="tail_enhancement"):
        GeneratorConfig(tail_enhancement=1.5)
    with pytest.raises(ValueError, match="sampling"):
        GeneratorConfig(sampling="vegas")  # type: ignore[arg-type]


def test_flat_option_reproduces_the_spec_sampling() -> None:
    cfg = GeneratorConfig(sampling="flat", chunk_size=3_000)
    chunks = list(generate_chunks("signal", 3_000, seed=6, config=cfg))
    rng = np.random.default_rng(np.random.SeedSequence(6, spawn_key=(0, 0)))
    tr = sample_signal(rng, 3_000)
    sel = np.isin(tr["sqrt_s_hat"], chunks[0]["truth_sqrt_s_hat"])
    assert sel.sum() == len(chunks[0]["weight"])
    np.testing.assert_array_equal(tr["sqrt_s_hat"][sel], chunks[0]["truth_sqrt_s_hat"])
    # flat: weight = constant x model weight x b-tag factor; importance: times the phase-space weight
    imp = next(generate_chunks("signal", 3_000, seed=6, config=GeneratorConfig(chunk_size=3_000)))
    for events, constant in ((chunks[0], True), (imp, False)):
        sf = np.ones(len(events["weight"]))
        for jet in ("b1", "b2"):
            sf *= btag.evaluate(
                events[f"{jet}_pt"].astype(np.float64), np.abs(events[f"{jet}_eta"].astype(np.float64)), "nominal"
            )
        ratio = events["w_sm"].astype(np.float64) / truth.signal_structure_constants(events)[:, 0] / sf
        assert (np.ptp(ratio) / ratio.mean() < 1e-6) == constant


def test_generate_sample_api(tmp_path: Path) -> None:
    info = generate_sample(
        tmp_path / "sub" / "sig.root", "signal", 12_000, seed=13, config=GeneratorConfig(chunk_size=5_000)
    )
    with uproot.open(tmp_path / "sub" / "sig.root") as f:
        arr = f["Events"].arrays(["weight", *structure_constant_names()], library="np")
    assert info["file"] == "sig.root" and info["generated"] == 12_000 and info["events"] == len(arr["weight"])
    assert info["expected_events"] == pytest.approx(arr["weight"].sum(dtype=np.float64), rel=1e-9)
    assert info["n_eff"]["yield"] == pytest.approx(_n_eff(arr["weight"]), rel=1e-9)
    for name in structure_constant_names():
        assert info["n_eff"][name] == pytest.approx(_n_eff(arr[name]), rel=1e-9)
        assert info["sum_weights"][name] == pytest.approx(arr[name].sum(dtype=np.float64), rel=1e-9)
    with pytest.raises(FileExistsError):
        generate_sample(tmp_path / "sub" / "sig.root", "signal", 100, seed=1)
    with pytest.raises(ValueError, match="process"):
        generate_sample(tmp_path / "x.root", "ttbar", 100, seed=1)  # type: ignore[arg-type]


def test_unweighting_is_exact_with_importance_weights(signal: dict[str, np.ndarray]) -> None:
    """Unweighted SM pseudo-data signal follows the weighted sample's pT(Z) spectrum (chi2)."""
    data = pseudo_data(seed=17, config=GeneratorConfig(chunk_size=100_000))
    assert data.generated["signal"] == 200_000  # the minimal pool suffices (flat sampling: 1.1 M)
    pt = data.columns["pt_z"][data.columns["truth_process"] == 0]
    edges = np.array([0, 40, 80, 120, 160, 200, 250, 300, 400, 600, 1200.0])
    w = signal["weight"].astype(np.float64)
    frac = np.histogram(signal["pt_z"], edges, weights=w)[0] / w.sum()
    frac_var = np.histogram(signal["pt_z"], edges, weights=w**2)[0] / w.sum() ** 2
    counts = np.histogram(pt, edges)[0]
    expected = len(pt) * frac
    chi2 = float(np.sum((counts - expected) ** 2 / (expected + len(pt) ** 2 * frac_var)))
    assert chi2 < 33.7, chi2  # 10 bins (9 dof after the normalisation), p = 1e-4


def test_cli_generate(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "zh"
    args = [
        "generate",
        "--output-dir",
        str(out),
        "--n-signal",
        "4000",
        "--n-background",
        "3000",
        "--seed",
        "2",
        "--theta",
        "sm",
        "--theta",
        "cHW=0.3",
        "--luminosity",
        "30",
        "--chunk-size",
        "2000",
        "--no-progress",
    ]
    assert main(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "btag_sf.json",
        "metadata.json",
        "pseudodata_cHW_0p3.root",
        "pseudodata_sm.root",
        "zh_background.root",
        "zh_signal.root",
    ]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["systematics"]["lumi"] == {"type": "lnN", "value": 1.02, "processes": ["signal", "background"]}
    with uproot.open(out / "zh_signal.root") as f:
        w = f["Events"]["weight"].array(library="np")
    assert meta["samples"]["signal"]["events"] == len(w)
    assert meta["samples"]["signal"]["expected_events"] == pytest.approx(w.sum(dtype=np.float64))
    assert main(args) == 1  # files exist: refused
    assert "exist" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert main(["generate", "--output-dir", str(out), "--theta", "cXX=1"]) == 1
    assert "theta" in capsys.readouterr().err
    # n_eff and sums per column in the metadata
    signal = meta["samples"]["signal"]
    assert set(signal["n_eff"]) == {"yield", *structure_constant_names()}
    assert signal["n_eff"]["yield"] == pytest.approx(_n_eff(w), rel=1e-9)
    assert signal["sum_weights"]["yield"] == pytest.approx(signal["expected_events"])
    assert meta["samples"]["background"]["n_eff"]["yield"] > 0.99 * meta["samples"]["background"]["events"]
    assert meta["config"]["sampling"] == "importance" and meta["config"]["tail_enhancement"] == TAIL_ENHANCEMENT


def test_cli_sampling_options(tmp_path: Path, capsys: Any) -> None:
    base = [
        "generate",
        "--n-signal",
        "6000",
        "--n-background",
        "0",
        "--theta",
        "none",
        "--seed",
        "4",
        "--chunk-size",
        "3000",
        "--no-progress",
    ]
    runs = {}
    for label, extra in (
        ("default", []),
        ("flat", ["--flat"]),
        ("tail0", ["--tail-enhancement", "0"]),
        ("tail03", ["--tail-enhancement", "0.3"]),
    ):
        out = tmp_path / label
        assert main([*base, "--output-dir", str(out), *extra]) == 0
        meta = json.loads((out / "metadata.json").read_text())
        with uproot.open(out / "zh_signal.root") as f:
            runs[label] = (meta, f["Events"].arrays(["weight", "pt_z"], library="np"))
        assert " ".join(extra) in meta["command"]
    printed = capsys.readouterr().out
    assert "n_eff" in printed
    (m_def, a_def), (m_flat, a_flat) = runs["default"], runs["flat"]
    assert m_flat["config"]["sampling"] == "flat" and "tail_enhancement" not in m_flat["config"]
    assert m_flat["samples"]["signal"]["n_eff"]["yield"] < 0.05 * m_flat["samples"]["signal"]["events"]
    assert m_def["samples"]["signal"]["n_eff"]["yield"] > 0.5 * m_def["samples"]["signal"]["events"]
    # the explicit default value reproduces the default bit for bit; F = 0 differs
    assert np.array_equal(runs["tail03"][1]["weight"], a_def["weight"])
    assert runs["tail0"][0]["config"]["tail_enhancement"] == 0.0
    assert not np.array_equal(runs["tail0"][1]["weight"][:100], a_def["weight"][:100])
    # flat reproduces the generator's flat mode exactly
    flat = _concat(
        list(generate_chunks("signal", 6000, seed=4, config=GeneratorConfig(sampling="flat", chunk_size=3000)))
    )
    assert np.array_equal(flat["weight"], a_flat["weight"])
    for bad, message in ((["--flat", "--tail-enhancement", "0.2"], "exclude"), (["--tail-enhancement", "1.5"], "0, 1")):
        assert main([*base, "--output-dir", str(tmp_path / "bad"), *bad]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad" / "zh_signal.root").exists()


@pytest.mark.skipif(not (DATA / "metadata.json").is_file(), reason="shipped data/zh not generated")
def test_shipped_dataset() -> None:
    total = sum(p.stat().st_size for p in DATA.iterdir() if p.is_file())
    assert total <= 20e6
    meta = json.loads((DATA / "metadata.json").read_text())
    with uproot.open(DATA / "zh_signal.root") as f:
        arr = f["Events"].arrays(["weight", "w_sm", "truth_process"], library="np")
    assert np.array_equal(arr["weight"], arr["w_sm"]) and np.all(arr["truth_process"] == 0)
    assert len(arr["weight"]) == meta["samples"]["signal"]["events"]
    assert "sm" in meta["pseudodata"]
    # the issue-9 targets on the shipped signal, and the recorded n_eff
    with uproot.open(DATA / "zh_signal.root") as f:
        events = f["Events"].arrays(["weight", "pt_z"], library="np")
    n_eff = _n_eff(events["weight"])
    assert n_eff / len(events["weight"]) >= 0.3
    assert min(_pt_slices_n_eff(events)) >= 100
    assert meta["samples"]["signal"]["n_eff"]["yield"] == pytest.approx(n_eff, rel=1e-9)
