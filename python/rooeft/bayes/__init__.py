"""Bayesian inference on the same workspace likelihood as :mod:`rooeft.infer`: nested sampling
(UltraNest) of the posterior of the POIs with configurable priors, nuisances marginalised (or fixed,
or profiled), credible intervals, evidence, a corner plot and a comparison with profile-likelihood
intervals.

>>> from rooeft.bayes import Prior, parse_prior
>>> parse_prior("cHW=gaussian:0:1")[1] == Prior.gaussian(0.0, 1.0)
True
"""

from __future__ import annotations

from rooeft.bayes.likelihood import LOGL_FLOOR, NUISANCE_MODES, WINDOW_SIGMAS, SampledParameter, WorkspaceLikelihood
from rooeft.bayes.plot import corner_plot
from rooeft.bayes.priors import Prior, PriorError, parse_prior, parse_priors
from rooeft.bayes.result import (
    PosteriorResult,
    ResultError,
    comparison_table,
    load_scan,
    read_posterior,
    write_posterior,
)
from rooeft.bayes.sampler import sample_posterior
from rooeft.bayes.summary import Estimates, equal_tailed, estimates, hdi, interval_table, mode, weighted_quantile

__all__ = [
    "LOGL_FLOOR",
    "NUISANCE_MODES",
    "WINDOW_SIGMAS",
    "Estimates",
    "PosteriorResult",
    "Prior",
    "PriorError",
    "ResultError",
    "SampledParameter",
    "WorkspaceLikelihood",
    "comparison_table",
    "corner_plot",
    "equal_tailed",
    "estimates",
    "hdi",
    "interval_table",
    "load_scan",
    "mode",
    "parse_prior",
    "parse_priors",
    "read_posterior",
    "sample_posterior",
    "weighted_quantile",
    "write_posterior",
]
