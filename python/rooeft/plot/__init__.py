"""Plots of rooeft inputs and results (matplotlib + mplhep, headless).

Every plot function takes keyword-only arguments and returns a :class:`matplotlib.figure.Figure`
(created without pyplot); write it with :func:`save_figure` (PNG and PDF, atomically).

==========================  ==================================================================
:func:`plot_templates`      stacked process templates, data, EFT-varied totals, ratio panel
:func:`plot_closure`        learned vs true per-event ratio / coefficient function, per term
:func:`plot_loss_curves`    training/validation loss and learning rate per epoch
:func:`plot_scan1d`         2ΔNLL profile scans with 68%/95% thresholds, several overlaid
:func:`plot_contours`       68%/95% CL contours of 2D scans, SM and best-fit markers
:func:`plot_pulls`          nuisance pulls and constraints, optionally ranked impacts
:func:`plot_impacts`        ranked impact bar chart
:func:`plot_corner`         posterior corner plot with profile-likelihood intervals
:func:`plot_toy_pulls`      toy pull distributions
:func:`plot_coverage`       toy interval coverage
:func:`plot_neyman`         toy-based (Neyman) p-values beside the asymptotic ones
:func:`plot_result_files`   dispatch result JSON files by kind (``rooeft plot``)
==========================  ==================================================================
"""

from __future__ import annotations

from rooeft.plot._common import PlotError, load_result, save_figure
from rooeft.plot.closure import plot_closure
from rooeft.plot.contours import plot_contours
from rooeft.plot.corner import plot_corner
from rooeft.plot.neyman import plot_neyman
from rooeft.plot.pulls import plot_impacts, plot_pulls
from rooeft.plot.results import plot_result_files
from rooeft.plot.scan1d import plot_scan1d
from rooeft.plot.templates import plot_templates
from rooeft.plot.toys import plot_coverage, plot_toy_pulls
from rooeft.plot.training import plot_loss_curves

__all__ = [
    "PlotError",
    "load_result",
    "plot_closure",
    "plot_contours",
    "plot_corner",
    "plot_coverage",
    "plot_impacts",
    "plot_loss_curves",
    "plot_neyman",
    "plot_pulls",
    "plot_result_files",
    "plot_scan1d",
    "plot_templates",
    "plot_toy_pulls",
    "save_figure",
]
