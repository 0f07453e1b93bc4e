"""Toy-based (Neyman) intervals: exact Poisson reference, profile construction with a nuisance,
the command and bad inputs. Real workspaces and fits, no mocks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm, poisson

from rooeft.cli import main
from rooeft.infer import InferenceError, NeymanResult, get_model, neyman_intervals, read_json, write_json
from rooeft.infer.neyman import CONFIDENCE_LEVELS, accepted_intervals
from rooeft.infer.neyman_toys import draw_toy, expected_at

from reference import code4_mult
from test_infer_workspaces import binned_workspace

# one bin: n ~ Pois(b + s (1 + a θ + c θ²)), θ in [-2, 2]
B, S, A, C, N_OBS, RANGE = 5.0, 10.0, 0.5, 1.0, 12, (-2.0, 2.0)


def one_bin(ROOT: Any, path: Path, *, a: float = A, n_obs: int = N_OBS, kappa: float | None = None) -> Path:
    """The one-bin counting model as a real rooeft workspace (optionally a lnN nuisance ``lumi``)."""
    return binned_workspace(
        ROOT,
        path,
        edges=[0.0, 1.0],
        pois={"theta": RANGE},
        processes={"sig": ([S], np.array([[1.0, a, C]])), "bkg": ([B], None)},
        data=[float(n_obs)],
        norm={"lumi": {"sig": (kappa, 1 / kappa), "bkg": (kappa, 1 / kappa)}} if kappa else None,
    )


def mu(theta: float, a: float = A) -> float:
    return B + S * (1.0 + a * theta + C * theta * theta)


def exact_p_value(theta: float, n_obs: int, a: float = A, tie: float = 1e-3) -> tuple[float, float]:
    """Exact Neyman/FC p-value of the PLR ordering with θ̂ restricted to RANGE, by Poisson sums:
    P(t_θ(n) ≥ t_θ(n_obs)) under n ~ Pois(μ(θ)); and t_θ(n_obs)."""
    grid = np.linspace(*RANGE, 40001)
    mus = B + S * (1.0 + a * grid + C * grid**2)
    n = np.arange(0, 300)
    mu_hat = np.clip(n, mus.min(), mus.max())  # the Poisson NLL in μ is minimal at n, μ restricted to its range

    def nll(m: Any) -> Any:
        return m - n * np.log(m)

    t = 2.0 * (nll(mu(theta, a)) - nll(mu_hat))
    return float(poisson.pmf(n, mu(theta, a))[t >= t[n_obs] - tie].sum()), float(t[n_obs])


def test_one_bin_reproduces_the_exact_neyman_interval(ROOT: Any, tmp_path: Path) -> None:
    ws = one_bin(ROOT, tmp_path / "one.root")
    res = neyman_intervals(ws, "theta", points=17, n_toys=200, max_toys=800, seed=3, workers=1)
    scan = res.scan("theta")
    x = np.array([p.values["theta"] for p in scan.points])
    exact = [exact_p_value(v, N_OBS) for v in x]
    for point, (p_exact, t_exact) in zip(scan.points, exact, strict=True):
        assert point.status == 0 and point.n_failed == 0
        assert point.t_obs == pytest.approx(t_exact, abs=1e-5)
        sigma = math.sqrt(max(p_exact * (1 - p_exact), 1e-4) / point.n_toys)
        assert abs(point.p_value - p_exact) < 4 * sigma, (point.values, point.p_value, p_exact, point.n_toys)
    # the adaptive rule spent more toys only near the boundary
    near = [any(abs(pe - (1 - cl)) < 0.05 for cl in CONFIDENCE_LEVELS.values()) for pe, _ in exact]
    assert all(p.n_toys == 200 for p, n in zip(scan.points, near, strict=True) if not n and p.p_value < 0.01)
    assert max(p.n_toys for p in scan.points) == 800
    # intervals: same construction on the exact p-values, endpoints within toy precision (a grid step)
    step = x[1] - x[0]
    toy_ivs = scan.intervals()
    for key, cl in CONFIDENCE_LEVELS.items():
        ref = accepted_intervals(x, [pe for pe, _ in exact], 1 - cl)
        assert len(toy_ivs[key]) == len(ref) == 1, (key, toy_ivs[key], ref)
        assert np.allclose(toy_ivs[key][0], ref[0], atol=step), (key, toy_ivs[key], ref)
    assert res.problems() == []
    # asymptotic intervals from the same observed t beside them; round trip through the registry
    assert scan.asymptotic_intervals()["68"]
    out = write_json(tmp_path / "neyman.json", res)
    back = read_json(out)
    assert isinstance(back, NeymanResult) and back.to_dict() == json.loads(json.dumps(res.to_dict()))
    assert "theta 95% CL: toys [" in res.table()


def test_profile_construction_with_a_nuisance(ROOT: Any, tmp_path: Path) -> None:
    """Toys are generated at the conditional fit (θ, ν̂_θ) with the global observable around ν̂_θ;
    at large counts with a linear term the toy p-values approach Wilks' (χ²₁)."""
    kappa, n_obs = 1.1, 215
    ws = binned_workspace(
        ROOT,
        tmp_path / "nu.root",
        edges=[0.0, 1.0],
        pois={"theta": (-1.0, 1.0)},
        processes={"sig": ([100.0], np.array([[1.0, 1.0, 0.0]])), "bkg": ([100.0], None)},
        data=[float(n_obs)],
        norm={"lumi": {"sig": (kappa, 1 / kappa), "bkg": (kappa, 1 / kappa)}},
    )
    res = neyman_intervals(ws, "theta", points=5, ranges={"theta": (-0.3, 0.5)}, n_toys=300, max_toys=300, workers=1)
    scan = res.scan("theta")

    def profile(theta: float) -> tuple[float, float]:  # independent numpy profile over ν
        def f(nu: float) -> float:  # the constraint is normalised over the global observable's range [-5, 5]
            m = (100.0 * (1 + theta) + 100.0) * code4_mult(nu, kappa, 1 / kappa)
            return m - n_obs * math.log(m) + 0.5 * nu * nu + math.log(norm.cdf(5 - nu) - norm.cdf(-5 - nu))

        r = minimize_scalar(f, bounds=(-4.0, 4.0), method="bounded", options={"xatol": 1e-9})
        return float(r.x), float(r.fun)

    model = get_model(ws)
    for point in scan.points:
        nu_hat, _ = profile(point.values["theta"])
        assert point.generation["lumi"] == pytest.approx(nu_hat, abs=2e-3)
        # the toys of this point: counts around the yield at (θ, ν̂_θ), globals around ν̂_θ
        chans = expected_at(model, point.generation)
        m_expected = (100.0 * (1 + point.values["theta"]) + 100.0) * code4_mult(nu_hat, kappa, 1 / kappa)
        assert chans["bin"][1][0] == pytest.approx(m_expected, rel=1e-4)
        rng = np.random.default_rng(5)
        draws = [draw_toy(model, chans, point.generation, rng) for _ in range(2000)]
        globs = np.array([g["lumi_In"] for _, g in draws])
        counts = np.array([per["bin"][1][0] for per, _ in draws])
        assert abs(globs.mean() - nu_hat) < 4 / math.sqrt(2000) and globs.std() == pytest.approx(1.0, rel=0.06)
        assert abs(counts.mean() - m_expected) < 4 * math.sqrt(m_expected / 2000)
        # asymptotic regime: toy p-value ≈ χ²₁ p-value, critical value at 68% ≈ 1
        assert abs(point.p_value - point.p_asymptotic(1)) < 4 * max(point.p_error, 0.01), point
        assert point.critical["68"] == pytest.approx(1.0, abs=0.25)
    t0 = np.array([p.t_obs for p in scan.points])
    assert np.all(np.isfinite(t0)) and t0.min() < 0.5


def test_limits_command_with_toys(ROOT: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = one_bin(ROOT, tmp_path / "one.root", a=0.0, n_obs=20)  # quadratic only: two minima ±θ̂
    out, plots = tmp_path / "n.json", tmp_path / "plots"
    args = ["limits", str(ws), "--method", "toys", "--points", "9", "--toys", "60", "--max-toys", "120"]
    code = main([*args, "--workers", "1", "--no-progress", "-o", str(out), "--plot-dir", str(plots)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "theta 68% CL: toys [" in cap.out and "p_asym" in cap.out
    doc = json.loads(out.read_text())
    assert doc["kind"] == "neyman" and doc["scans"][0]["pois"] == ["theta"]
    assert (plots / "neyman_theta.png").is_file() and (plots / "neyman_theta.pdf").is_file()
    # `rooeft plot` reads the same JSON
    assert main(["plot", str(out), "--output-dir", str(tmp_path / "p2"), "--formats", "png"]) == 0
    assert (tmp_path / "p2" / "neyman_theta_n.png").is_file()
    # the same toys on two Dask workers (toy j of point i: seed [seed, i, j])
    par = neyman_intervals(ws, "theta", points=9, n_toys=60, max_toys=120, workers=2)
    got = read_json(out)
    assert isinstance(got, NeymanResult)
    for a, b in zip(got.scans[0].points, par.scans[0].points, strict=True):
        assert a.t_toys == pytest.approx(b.t_toys, abs=1e-6)
    # an interval reaching the grid's edge is not printed as a result: exit code 3
    narrow = ["--range", "theta=-0.5:0.5", "--points", "3", "--toys", "20", "--max-toys", "20", "--workers", "1"]
    assert main(["limits", str(ws), "--method", "toys", *narrow, "--no-progress"]) == 3
    assert "reaches the edge of the grid inside the POI's range" in capsys.readouterr().err


def test_two_dimensional_grid(ROOT: Any, tmp_path: Path) -> None:
    sig, bkg = np.array([20.0, 10.0]), np.array([30.0, 5.0])
    terms = np.array([[1.0, 0.4, 0.2, 0.3, 0.0, 0.2], [1.0, 1.0, -0.5, 0.9, 0.2, 0.6]])
    ws = binned_workspace(
        ROOT,
        tmp_path / "two.root",
        edges=[0.0, 1.0, 2.0],
        pois={"cHW": (-2.0, 2.0), "cHWtil": (-2.0, 2.0)},
        processes={"sig": (sig, terms), "bkg": (bkg, None)},
        data=[52.0, 16.0],
    )
    res = neyman_intervals(ws, ["cHW", "cHWtil"], grid2d=True, points=(4, 3), n_toys=25, max_toys=25, workers=1)
    scan = res.scans[0]
    assert scan.pois == ("cHW", "cHWtil") and len(scan.points) == 12
    assert [p.values["cHWtil"] for p in scan.points[:4]] == [-2.0] * 4  # grid order: rows of the second POI
    assert all(p.n_toys + p.n_failed == 25 for p in scan.points)
    from rooeft.plot.neyman import plot_neyman

    assert plot_neyman(scan=res.to_dict()).axes
    with pytest.raises(ValueError, match="intervals are 1D"):
        scan.intervals()
    # one at a time: the other POI stays at the SM in the fits and in the generation
    fixed = neyman_intervals(ws, "cHW", fix_others=True, points=3, n_toys=10, max_toys=10, workers=1).scans[0]
    profiled = neyman_intervals(ws, "cHW", points=3, n_toys=10, max_toys=10, workers=1).scans[0]
    assert not fixed.profiled and profiled.profiled
    assert all(p.generation["cHWtil"] == 0.0 for p in fixed.points)
    assert any(abs(p.generation["cHWtil"]) > 1e-3 for p in profiled.points)


def test_bad_inputs(ROOT: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = one_bin(ROOT, tmp_path / "one.root")
    with pytest.raises(InferenceError, match="unknown tested POI 'nope'"):
        neyman_intervals(ws, "nope", workers=1)
    with pytest.raises(InferenceError, match="max_toys must be at least 100"):
        neyman_intervals(ws, "theta", n_toys=100, max_toys=50, workers=1)
    with pytest.raises(InferenceError, match="2D construction needs two different POIs"):
        neyman_intervals(ws, "theta", grid2d=True, workers=1)
    with pytest.raises(InferenceError, match=r"grid range \[-5, 1\] of theta"):
        neyman_intervals(ws, "theta", ranges={"theta": (-5.0, 1.0)}, workers=1)
    with pytest.raises(InferenceError, match="max_failed"):
        neyman_intervals(ws, "theta", max_failed=1.5, workers=1)
    for extra, text in (
        (["--method", "toys", "--expected-only"], "observed intervals only"),
        (["--grid2d"], "only apply to --method toys"),
        (["--method", "toys", "--toys", "0"], "--toys must be at least 1"),
        (["--method", "toys", "--grid2d", "--pois", "theta"], "--grid2d needs exactly two POIs"),
    ):
        assert main(["limits", str(ws), *extra]) == 1
        assert text in capsys.readouterr().err
    with pytest.raises(ValueError, match="not a neyman result"):
        NeymanResult.from_dict({"kind": "limits"})


def test_roofit_engine_gives_the_same_toys(ROOT: Any, tmp_path: Path) -> None:
    """The toys of the RooFit likelihood (a RooDataSet per toy) and of the closed-form kernel agree."""
    ws = binned_workspace(
        ROOT,
        tmp_path / "two_bins.root",
        edges=[0.0, 1.0, 2.0],
        pois={"theta": (-2.0, 2.0)},
        processes={"sig": ([10.0, 5.0], np.array([[1.0, 0.5, 1.0], [1.0, 1.0, 0.5]])), "bkg": ([5.0, 5.0], None)},
        data=[14.0, 12.0],
        norm={"lumi": {"sig": (1.1, 1 / 1.1), "bkg": (1.1, 1 / 1.1)}},
    )
    kw: dict[str, Any] = {"points": 3, "ranges": {"theta": (-1.0, 1.0)}, "n_toys": 20, "max_toys": 20, "workers": 1}
    rf, kernel = (neyman_intervals(ws, "theta", engine=e, **kw).scans[0] for e in ("roofit", "kernel"))
    for a, b in zip(rf.points, kernel.points, strict=True):
        assert a.t_obs == pytest.approx(b.t_obs, abs=1e-3)
        assert a.generation["lumi"] == pytest.approx(b.generation["lumi"], abs=2e-3)
        assert a.n_failed == b.n_failed == 0
        np.testing.assert_allclose(a.t_toys, b.t_toys, atol=2e-3)
