"""rooeft.bayes without ROOT: priors and their unit-cube transforms, spec parsing and errors,
and the 1D posterior summaries (quantiles, equal-tailed and highest-density intervals, mode)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rooeft.bayes import (
    Prior,
    PriorError,
    equal_tailed,
    estimates,
    hdi,
    interval_table,
    mode,
    parse_prior,
    parse_priors,
    weighted_quantile,
)
from rooeft.cli.posterior import parse_assignments

U = np.linspace(0.0, 1.0, 101)


def test_uniform_and_loguniform_transforms_match_scipy_ppf() -> None:
    p = Prior.uniform(-2.0, 3.0)
    np.testing.assert_allclose(p.transform(U), stats.uniform(-2.0, 5.0).ppf(U), rtol=0, atol=1e-14)
    lg = Prior.log_uniform(0.01, 100.0)
    np.testing.assert_allclose(lg.transform(U), stats.loguniform(0.01, 100.0).ppf(U), rtol=1e-12)
    # the prior's own density integrates to one and agrees with scipy
    x = np.linspace(0.02, 90.0, 7)
    np.testing.assert_allclose(np.exp(lg.log_density(x)), stats.loguniform(0.01, 100.0).pdf(x), rtol=1e-12)
    assert np.isneginf(lg.log_density(200.0))


@pytest.mark.parametrize(
    ("mean", "sigma", "lo", "hi"), [(0.0, 1.0, -5.0, 5.0), (1.0, 0.5, -1.0, 1.5), (0.0, 1.0, 6.0, 9.0)]
)
def test_gaussian_transform_is_the_truncated_normal_ppf(mean: float, sigma: float, lo: float, hi: float) -> None:
    p = Prior.gaussian(mean, sigma).resolved((lo, hi), name="x")
    ref = stats.truncnorm((lo - mean) / sigma, (hi - mean) / sigma, loc=mean, scale=sigma)
    u = np.linspace(0.001, 0.999, 57)
    np.testing.assert_allclose(p.transform(u), ref.ppf(u), rtol=1e-9, atol=1e-9)
    assert p.transform([0.0])[0] == pytest.approx(lo) and p.transform([1.0])[0] == pytest.approx(hi)
    x = np.linspace(lo, hi, 9)
    np.testing.assert_allclose(np.exp(p.log_density(x)), ref.pdf(x), rtol=1e-9)


def test_pushforward_of_uniform_cube_has_the_prior_distribution() -> None:
    rng = np.random.default_rng(0)
    u = rng.uniform(size=40_000)
    p = Prior.gaussian(0.5, 2.0).resolved((-3.0, 3.0), name="c")
    ref = stats.truncnorm(-3.5 / 2.0, 2.5 / 2.0, loc=0.5, scale=2.0)
    assert stats.kstest(p.transform(u), ref.cdf).pvalue > 1e-3


def test_resolved_fills_and_checks_the_parameter_range() -> None:
    assert Prior.uniform().resolved((-1.0, 4.0), name="c") == Prior.uniform(-1.0, 4.0)
    with pytest.raises(PriorError, match=r"prior of 'c' on \[-2, 2\] extends beyond the parameter's range \[-1, 1\]"):
        Prior.uniform(-2, 2).resolved((-1.0, 1.0), name="c")
    with pytest.raises(PriorError, match="loguniform prior of 'mu' needs a positive lower bound"):
        Prior.log_uniform().resolved((0.0, 5.0), name="mu")
    with pytest.raises(PriorError, match="no probability inside"):
        Prior.gaussian(0.0, 1e-3).resolved((50.0, 60.0), name="c")
    with pytest.raises(PriorError, match="call resolved"):
        Prior.uniform().transform([0.5])


def test_parse_prior_grammar() -> None:
    assert parse_prior("cHW=uniform:-1:1") == ("cHW", Prior.uniform(-1, 1))
    assert parse_prior(" cHW = uniform ") == ("cHW", Prior.uniform())
    assert parse_prior("mu=log-uniform:0.1:10")[1] == Prior.log_uniform(0.1, 10)
    assert parse_prior("c=gaussian:0:2:-3:3")[1] == Prior.gaussian(0, 2, -3, 3)
    p = Prior.gaussian(0.25, 1.5, -2, 2)
    assert parse_prior("c=" + p.spec())[1] == p
    assert Prior.from_dict(p.to_dict()) == p
    assert parse_priors(["a=uniform", "b=gaussian:0:1"]) == {"a": Prior.uniform(), "b": Prior.gaussian(0, 1)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cHW", "expected NAME=uniform"),
        ("=uniform", "expected NAME=uniform"),
        ("cHW=", "expected NAME=uniform"),
        ("cHW=flat:-1:1", "unknown prior kind 'flat'"),
        ("cHW=uniform:-1", "uniform takes LOW:HIGH or nothing"),
        ("cHW=uniform:1:-1", "low=1 must be below high=-1"),
        ("cHW=uniform:a:b", "not all numbers"),
        ("cHW=uniform:-inf:1", "must be finite"),
        ("cHW=gaussian:0", "gaussian takes MEAN:SIGMA"),
        ("cHW=gaussian:0:-1", "sigma=-1 must be positive"),
        ("mu=loguniform:0:1", "low=0 must be positive"),
    ],
)
def test_invalid_prior_specs_give_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(PriorError, match=message) as err:
        parse_prior(spec)
    assert spec.split("=")[0] in str(err.value) or "=" not in spec


def test_prior_object_errors_and_duplicates() -> None:
    with pytest.raises(PriorError, match="takes no mean/sigma"):
        Prior("uniform", -1, 1, mean=0.0)
    with pytest.raises(PriorError, match="both low and high"):
        Prior("uniform", -1)
    with pytest.raises(PriorError, match="given twice"):
        parse_priors(["a=uniform", "a=gaussian:0:1"])
    with pytest.raises(PriorError, match="needs 'kind'"):
        Prior.from_dict({"low": 1})


def test_cli_assignments() -> None:
    assert parse_assignments(["a=1", "b=2,c=-3e-1"], option="--asimov") == {"a": 1.0, "b": 2.0, "c": -0.3}
    for bad, msg in (("a", "NAME=VALUE"), ("a=x", "not a number"), ("a=nan", "finite"), ("a=1,a=2", "twice")):
        with pytest.raises(ValueError, match=msg):
            parse_assignments([bad], option="--asimov")


def test_summaries_of_known_distributions() -> None:
    rng = np.random.default_rng(3)
    # exponential: HDI starts at 0, equal-tailed does not
    x = rng.exponential(1.0, 400_000)
    lo, hi = hdi(x, 0.68)
    assert lo == pytest.approx(0.0, abs=1e-3) and hi == pytest.approx(-math.log(0.32), abs=0.01)
    et = equal_tailed(x, 0.68)
    assert et == pytest.approx((-math.log(0.84), -math.log(0.16)), abs=0.01)
    # weighted samples: a uniform grid weighted by a normal density is a normal posterior
    g = np.linspace(-13, 15, 40_001)
    w = stats.norm(1.0, 2.0).pdf(g)
    assert equal_tailed(g, 0.95, w) == pytest.approx((1 - 1.96 * 2, 1 + 1.96 * 2), abs=2e-3)
    assert hdi(g, 0.95, w) == pytest.approx((1 - 1.96 * 2, 1 + 1.96 * 2), abs=0.02)  # flat optimum: 0.01σ
    assert mode(g, w) == pytest.approx(1.0, abs=0.05)
    e = estimates(g, w)
    assert (e.mean, e.median, e.std) == pytest.approx((1.0, 1.0, 2.0), abs=1e-3)
    assert float(weighted_quantile(g, 0.5, w)) == pytest.approx(1.0, abs=1e-3)
    table = interval_table(g, w)
    assert table["68"] == pytest.approx([-1.0, 3.0], abs=2e-3) and table["hdi95"][0] < table["hdi68"][0]


def test_summary_input_errors() -> None:
    with pytest.raises(ValueError, match="no samples"):
        hdi([], 0.68)
    with pytest.raises(ValueError, match="2 weights for 3 samples"):
        equal_tailed([1.0, 2.0, 3.0], 0.68, [1.0, 1.0])
    with pytest.raises(ValueError, match="must be in"):
        hdi([1.0, 2.0], 1.5)
    with pytest.raises(ValueError, match="non-negative"):
        estimates([1.0, 2.0], [1.0, -1.0])
