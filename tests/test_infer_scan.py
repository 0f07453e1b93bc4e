"""Profile scans: numpy profiles, analytic Asimov intervals, 2D vs fixed-point fits, parallel
backends, range handling and outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import brentq

from rooeft.infer import (
    InferenceError,
    Scan1D,
    Scan2D,
    fit,
    intervals_1d,
    read_json,
    scan1d,
    scan2d,
    write_json,
    write_limit_tree,
)

from test_infer_workspaces import binned_workspace, counting_expected, mixed_numpy_nll, mixed_workspace, profile_numpy


@pytest.fixture
def mixed(ROOT: Any, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return mixed_workspace(ROOT, tmp_path / "mixed.root", tmp_path)


S, A, B, BKG = 20.0, 1.0, 1.0, 5.0  # one bin: n(c) = S (1 + A c + B c²) + BKG


@pytest.fixture
def counting(ROOT: Any, tmp_path: Path) -> Path:
    """A single-bin counting experiment whose data are the SM expectation."""
    return binned_workspace(
        ROOT,
        tmp_path / "counting.root",
        edges=[0.0, 1.0],
        pois={"c": (-3.0, 3.0)},
        processes={"sig": ([S], np.array([[1.0, A, B]])), "bkg": ([BKG], None)},
        data=[S + BKG],
    )


def analytic_dnll(c: float) -> float:
    n0, n = S + BKG, counting_expected(c, S, A, B, BKG)
    return float(n - n0 - n0 * np.log(n / n0))


def test_asimov_intervals_of_a_counting_experiment_are_analytic(counting: Path) -> None:
    s = scan1d(counting, "c", points=81, range=(-2.0, 1.0), asimov=True, workers=1)
    assert s.asimov and s.profiled and s.bestfit["c"] == pytest.approx(0.0, abs=0.02)
    x, d = s.arrays()
    np.testing.assert_allclose(d, [analytic_dnll(v) for v in x], atol=2e-5)
    # ΔNLL = 0 at c = 0 and c = -A/B, with a bump of 2ΔNLL = 1.157 between: the 68% CL set is two
    # disjoint intervals, the 95% CL one interval
    g = {lvl: (lambda c, lvl=lvl: 2 * analytic_dnll(c) - lvl) for lvl in (1.0, 3.84)}
    c68 = [brentq(g[1.0], -2, -1), brentq(g[1.0], -1, -0.5), brentq(g[1.0], -0.5, 0), brentq(g[1.0], 0, 1)]
    c95 = [brentq(g[3.84], -2, -1), brentq(g[3.84], 0, 1)]
    got68 = [v for iv in s.intervals["68"] for v in iv]
    got95 = [v for iv in s.intervals["95"] for v in iv]
    assert len(s.intervals["68"]) == 2 and len(s.intervals["95"]) == 1
    np.testing.assert_allclose(got68, c68, atol=2e-3)
    np.testing.assert_allclose(got95, c95, atol=2e-3)


def test_scan_equals_numpy_profile(mixed: tuple[Path, dict[str, Any]]) -> None:
    path, info = mixed
    s = scan1d(path, "c", points=9, range=(0.1, 0.4), workers=1, label="obs")
    nll = lambda c, lumi: mixed_numpy_nll(c, lumi, info)  # noqa: E731
    prof = np.array([profile_numpy(nll, p.values["c"]) for p in s.points])
    cmin = s.bestfit["c"]
    ref = prof - profile_numpy(nll, cmin)
    assert all(p.status == 0 for p in s.points)
    np.testing.assert_allclose([p.delta_nll for p in s.points], ref, atol=2e-4)
    lo, hi = s.intervals["68"][0]
    assert lo < cmin < hi and len(s.intervals["68"]) == 1
    # open at neither edge: 2ΔNLL > 3.84 at both ends of [0.1, 0.4]
    assert s.points[0].delta_nll > 1.92 and s.points[-1].delta_nll > 1.92


@pytest.fixture
def two_poi(ROOT: Any, tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    sig = np.array([40.0, 25.0, 10.0])
    terms = np.array([[1, 0.3, -0.2, 0.2, 0.1, 0.15], [1, 0.6, 0.1, 0.5, -0.1, 0.3], [1, 1.2, 0.5, 1.0, 0.3, 0.8]])
    bkg = np.array([80.0, 30.0, 8.0])
    theta = (0.3, -0.2)
    m = np.array([1, theta[0], theta[1], theta[0] ** 2, theta[0] * theta[1], theta[1] ** 2])
    data = rng.poisson(sig * (terms @ m) + bkg).astype(float)
    return binned_workspace(
        ROOT,
        tmp_path / "two.root",
        edges=[0.0, 1.0, 2.0, 3.0],
        pois={"c1": (-3.0, 3.0), "c2": (-3.0, 3.0)},
        processes={"sig": (sig, terms), "bkg": (bkg, None)},
        data=data,
        norm={"lumi": {"sig": (1.05, 1 / 1.05), "bkg": (1.05, 1 / 1.05)}},
    )


def test_2d_scan_profile_matches_fixed_point_fits(two_poi: Path, tmp_path: Path) -> None:
    s = scan2d(two_poi, ("c1", "c2"), points=4, ranges={"c1": (-0.5, 1.0), "c2": (-1.0, 0.5)}, workers=1)
    assert len(s.points) == 16 and all(p.status == 0 for p in s.points)
    best = fit(two_poi, hesse=False)
    assert s.bestfit["nll"] == pytest.approx(min(best.min_nll, *[p.nll for p in s.points]), abs=1e-6)
    for p in (s.points[0], s.points[6], s.points[13]):
        cond = fit(two_poi, fixed=dict(p.values), hesse=False)
        assert cond.status == 0
        assert p.delta_nll == pytest.approx(cond.min_nll - s.bestfit["nll"], abs=1e-4)
    _, _, z = s.grid()
    assert z.shape == (4, 4) and np.nanmin(z) >= -1e-6
    # other POI fixed at SM instead of profiled
    f = scan1d(two_poi, "c1", points=5, range=(-0.5, 1.0), profile_others=False, workers=1)
    ref0 = fit(two_poi, fixed={"c2": 0.0}, hesse=False).min_nll
    for p in f.points:
        assert p.delta_nll == pytest.approx(
            fit(two_poi, fixed={"c1": p.values["c1"], "c2": 0.0}, hesse=False).min_nll - ref0, abs=1e-4
        )
    assert not f.profiled
    # JSON and limit-tree round trips
    for res, name in ((s, "s2"), (f, "s1")):
        out = write_json(tmp_path / f"{name}.json", res)
        back = read_json(out)
        assert isinstance(back, Scan2D | Scan1D) and back.to_dict() == res.to_dict()
    raw = json.loads((tmp_path / "s2.json").read_text())
    assert (
        raw["kind"] == "scan2d"
        and raw["pois"] == ["c1", "c2"]
        and set(raw["points"][0]) == {"c1", "c2", "deltaNLL", "status", "attempt", "calls"}
    )
    # every point records the ladder step that converged and what it cost
    assert all(p["attempt"].startswith("migrad") and p["calls"] > 0 for p in raw["points"])
    import uproot

    tree_path = write_limit_tree(tmp_path / "higgsCombine.scan.root", s)
    with uproot.open(tree_path) as fh:
        t = fh["limit"].arrays(library="np")
    assert {
        "limit",
        "limitErr",
        "mh",
        "syst",
        "iToy",
        "iSeed",
        "iChannel",
        "t_cpu",
        "t_real",
        "quantileExpected",
        "deltaNLL",
        "c1",
        "c2",
    } <= set(t)
    assert t["quantileExpected"][0] == -1 and t["deltaNLL"][0] == 0 and t["iToy"][0] == 0
    np.testing.assert_allclose(t["deltaNLL"][1:], [p.delta_nll for p in s.points], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(t["c1"][1:], [p.values["c1"] for p in s.points], rtol=1e-6)
    from scipy.stats import chi2

    np.testing.assert_allclose(t["quantileExpected"][1:], chi2.sf(2 * t["deltaNLL"][1:], 2), rtol=1e-5, atol=1e-7)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_scan_range_is_checked_deliberately(counting: Path) -> None:
    with pytest.raises(InferenceError, match=r"scan range \[-4, 1\] of c exceeds its range \[-3, 3\]"):
        scan1d(counting, "c", points=5, range=(-4.0, 1.0), workers=1)
    with pytest.raises(InferenceError, match="unknown scanned POI 'lumi'"):
        scan1d(counting, "lumi", points=5, workers=1)
    s = scan1d(counting, "c", points=6, range=(-4.0, 1.0), asimov=True, workers=1, extend_ranges=True)
    assert s.points[0].values["c"] == -4.0 and s.points[0].status == 0
    assert s.points[0].delta_nll == pytest.approx(analytic_dnll(-4.0), abs=1e-5)


def test_parallel_scan_equals_serial(mixed: tuple[Path, dict[str, Any]]) -> None:
    path, _ = mixed
    kw: dict[str, Any] = {"points": 6, "range": (0.0, 0.5)}
    serial = scan1d(path, "c", workers=1, **kw)
    # a dask.distributed LocalCluster of 2 worker processes, each opening the file itself
    parallel = scan1d(path, "c", workers=2, **kw)
    assert [p.values for p in parallel.points] == [p.values for p in serial.points]
    np.testing.assert_allclose([p.delta_nll for p in parallel.points], [p.delta_nll for p in serial.points], atol=1e-8)
    np.testing.assert_allclose(parallel.intervals["68"], serial.intervals["68"], atol=1e-8)


def test_parallel_2d_scan_follows_paths(two_poi: Path) -> None:
    """A 2D scan on a LocalCluster of 2 workers (serpentine paths, warm starts) gives the serial
    scan's profile; every point converged at the first ladder step."""
    kw: dict[str, Any] = {"points": 5, "ranges": {"c1": (-0.5, 1.0), "c2": (-1.0, 0.5)}}
    serial = scan2d(two_poi, ("c1", "c2"), workers=1, **kw)
    parallel = scan2d(two_poi, ("c1", "c2"), workers=2, **kw)
    assert [p.values for p in parallel.points] == [p.values for p in serial.points]
    np.testing.assert_allclose([p.delta_nll for p in parallel.points], [p.delta_nll for p in serial.points], atol=1e-5)
    assert {p.attempt for p in parallel.points} == {"migrad"}


def test_unreachable_scheduler_is_a_clear_error() -> None:
    from rooeft.infer import InferenceError
    from rooeft.infer.parallel import run_tasks

    with pytest.raises(InferenceError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 1 s"):
        run_tasks(abs, [1, 2], [1, 1], scheduler="tcp://127.0.0.1:9", connect_timeout=1.0)


def test_dask_scan_equals_serial(mixed: tuple[Path, dict[str, Any]]) -> None:
    distributed = pytest.importorskip("distributed")
    path, _ = mixed
    kw: dict[str, Any] = {"points": 4, "range": (0.0, 0.5)}
    serial = scan1d(path, "c", workers=1, **kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = scan1d(path, "c", scheduler=cluster.scheduler_address, **kw)
    np.testing.assert_allclose([p.delta_nll for p in dask.points], [p.delta_nll for p in serial.points], atol=1e-8)


def test_intervals_open_at_the_scan_edge() -> None:
    x = np.linspace(0, 2, 11)
    iv = intervals_1d(x, 0.5 * x**2)
    assert iv["68"] == [(0.0, pytest.approx(1.0, abs=1e-9))]
    assert iv["95"][0][1] == pytest.approx(1.959964, abs=1e-3)
    assert intervals_1d([0.0], [0.0]) == {"68": [], "95": []}
