"""One FitOptions for every inference function; limits as a library function; one typed result
layer (registry, reader, atomic writer) for fit, scans, toys, limits and posteriors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rooeft.infer import (
    RESULT_KINDS,
    FitOptions,
    FitResult,
    LimitsResult,
    ResultFileError,
    Scan1D,
    ToysResult,
    fit,
    limits,
    read_document,
    read_json,
    result_class,
    scan1d,
    toys,
    write_json,
)

from test_infer_workspaces import binned_workspace


@pytest.fixture
def ws(ROOT: Any, tmp_path: Path) -> Path:
    sig, bkg = np.array([20.0, 10.0]), np.array([30.0, 5.0])
    terms = np.array([[1.0, 0.4, 0.2, 0.3, 0.0, 0.2], [1.0, 1.0, -0.5, 0.9, 0.2, 0.6]])
    return binned_workspace(
        ROOT,
        tmp_path / "ws.root",
        edges=[0.0, 1.0, 2.0],
        pois={"cHW": (-2.0, 2.0), "cHWtil": (-2.0, 2.0)},
        processes={"sig": (sig, terms), "bkg": (bkg, None)},
        data=[55.0, 17.0],
        norm={"lumi": {"sig": (1.02, 0.98), "bkg": (1.02, 0.98)}},
    )


def test_fit_options_merge_and_defaults() -> None:
    opts = FitOptions()
    assert (opts.strategy, opts.tolerance, opts.max_calls, opts.hesse, opts.engine) == (1, 0.01, None, True, "auto")
    assert opts.merged(strategy=None) is opts
    assert FitOptions.resolve(FitOptions(strategy=2), tolerance=0.5) == FitOptions(strategy=2, tolerance=0.5)
    with pytest.raises(TypeError, match="unknown fit option"):
        opts.merged(stratgy=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.strategy = 2  # type: ignore[misc]


def test_options_equal_keywords(ws: Path) -> None:
    """An options object gives the same results as the same keywords (and keywords override it)."""
    opts = FitOptions(strategy=2, tolerance=0.001, engine="roofit", workers=1)
    a = fit(ws, options=opts)
    b = fit(ws, strategy=2, tolerance=0.001, engine="roofit")
    assert a.min_nll == pytest.approx(b.min_nll, abs=1e-9)
    assert a.parameters["cHW"].value == pytest.approx(b.parameters["cHW"].value, abs=1e-6)
    assert [x.strategy for x in a.attempts] == [2] == [x.strategy for x in b.attempts]
    c = fit(ws, options=opts, strategy=0, hesse=False)  # keywords override the options
    assert c.attempts[0].strategy == 0 and c.cov_quality == -1
    s1 = scan1d(ws, "cHW", points=5, options=opts)
    s2 = scan1d(ws, "cHW", points=5, workers=1, strategy=2, tolerance=0.001, engine="roofit")
    np.testing.assert_allclose(s1.arrays()[1], s2.arrays()[1], atol=1e-6)
    t1 = toys(ws, {"cHW": 0.2}, n_toys=2, options=opts, asimov_width=False)
    t2 = toys(ws, {"cHW": 0.2}, n_toys=2, workers=1, strategy=2, tolerance=0.001, engine="roofit", asimov_width=False)
    assert [f.values["cHW"] for f in t1.fits] == pytest.approx([f.values["cHW"] for f in t2.fits], abs=1e-6)


def test_limits_library_function_and_round_trip(ws: Path, tmp_path: Path) -> None:
    res = limits(ws, points=7, workers=1, pois=["cHW"])
    assert isinstance(res, LimitsResult)
    assert [(s.poi, s.label, s.asimov) for s in res.scans] == [("cHW", "observed", False), ("cHW", "expected", True)]
    assert "observed 68% CL" in res.table() and "expected 95% CL" in res.table()
    assert res.scan("cHW", "expected").intervals["68"]
    out = write_json(tmp_path / "limits.json", res)
    assert json.loads(out.read_text())["kind"] == "limits"
    back = read_json(out)
    assert isinstance(back, LimitsResult) and [s.poi for s in back.scans] == ["cHW", "cHW"]
    assert back.scans[1].intervals == res.scans[1].intervals
    only = limits(ws, points=5, options=FitOptions(workers=1), observed=False, expected_at={"cHW": 0.1}, pois=["cHW"])
    assert [s.label for s in only.scans] == ["expected"]
    with pytest.raises(ValueError, match="unknown POI"):
        limits(ws, pois=["nope"], workers=1)


def test_one_reader_one_writer(ws: Path, tmp_path: Path) -> None:
    assert sorted(RESULT_KINDS) == ["fit", "ladder", "limits", "neyman", "posterior", "scan1d", "scan2d", "toys"]
    assert result_class("toys") is ToysResult and result_class("fit") is FitResult
    r = fit(ws)
    path = write_json(tmp_path / "sub" / "fit.json", r)  # the writer creates the folder
    assert isinstance(read_json(path), FitResult)
    assert not list((tmp_path / "sub").glob(".*"))  # atomic: no temporary file left
    s = scan1d(ws, "cHW", points=4, workers=1)
    assert isinstance(read_json(write_json(tmp_path / "s.json", s)), Scan1D)
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(ResultFileError, match="expected a JSON object"):
        read_document(bad)
    bad.write_text('{"kind": "nope"}')
    with pytest.raises(ResultFileError, match="unknown result kind"):
        read_json(bad)


def test_posterior_goes_through_the_registry(tmp_path: Path) -> None:
    from rooeft.bayes import Estimates, PosteriorResult, Prior, write_posterior

    rng = np.random.default_rng(1)
    samples = rng.normal(size=(50, 1))
    post = PosteriorResult(
        pois=("cHW",),
        parameters=("cHW",),
        samples=samples,
        points=samples,
        weights=np.full(50, 1 / 50),
        logl=np.zeros(50),
        logz=float("nan"),  # a non-finite number is written as null and read back as NaN
        logz_err=0.1,
        ncall=10,
        intervals={"cHW": {"68": (-1.0, 1.0), "95": (-2.0, 2.0), "hdi68": (-1.0, 1.0), "hdi95": (-2.0, 2.0)}},
        estimates={"cHW": Estimates(mean=0.0, median=0.0, mode=0.0, std=1.0)},
        priors={"cHW": Prior.uniform(-3.0, 3.0)},
    )
    jp, _ = write_posterior(post, tmp_path / "post" / "posterior.json")
    assert json.loads(jp.read_text())["logz"] is None
    back = read_json(jp)
    assert isinstance(back, PosteriorResult) and np.isnan(back.logz)
    np.testing.assert_array_equal(back.samples, samples)
