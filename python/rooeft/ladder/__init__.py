"""The sensitivity ladder: where an analysis's sensitivity goes, step by step.

From one analysis configuration, :func:`ladder` derives a chain of analyses and gives, for each
step and each coefficient, the expected (Asimov, SM) 68%/95% interval with the other coefficients
at the SM:

0. optionally a *reference* step computed outside the workspaces (:class:`ReferenceStep`), e.g.
   the exact per-event ratio of the simulation's own structure constants (:func:`exact_ratio_step`);
1. ``signal only``: the EFT processes alone; every nuisance parameter held at its nominal value;
2. ``+ <background>``: each background process (by name, in all channels that have it) in config
   order. Binned channels drop a background that is not yet added; unbinned channels *mask* it
   (``masked: true``: the same ONNX model, zero expected events, its events out of the Asimov data);
3. ``+ <systematic>``: each systematic of the config in config order (entries sharing a name form
   one group): its nuisance parameter is profiled from this step on;
4. ``+ MC stats``: the MC-statistics parameters (``mc_stats`` blocks) are profiled too.

The last step is the original analysis (on Asimov data at the SM). A workspace is built per
process content (``stage<NN>.yaml``/``.root`` in the work directory); the systematics steps reuse
the last one and differ only in which nuisance parameters float: a nuisance not yet added is held
at its nominal value, which is the same likelihood as leaving it out (for a correctionlib
systematic it keeps the nominal scale factor, as it should).

Intervals come from profile-likelihood scans on the Asimov data whose grid is placed around the
best fit at ±3 Hesse σ (``points`` points, extended outwards until the 95% level is crossed or the
scan range ends).

>>> step = LadderStep("signal only", "signal", (), {"c": {"68": ((-1.0, 1.0),), "95": ((-2.0, 2.0),)}})
>>> step.width("c"), step.width("c", "68")
(4.0, 2.0)
"""

from rooeft.ladder.exact import exact_ratio_intervals, exact_ratio_step, exact_ratio_terms
from rooeft.ladder.plan import LadderPlan, PlannedStep, ReferenceStep, ladder_plan
from rooeft.ladder.result import LADDER_NOTE, STEP_KINDS, LadderResult, LadderStep, ladder_table, plot_ladder
from rooeft.ladder.run import asimov_intervals, ladder

__all__ = [
    "LADDER_NOTE",
    "STEP_KINDS",
    "LadderPlan",
    "LadderResult",
    "LadderStep",
    "PlannedStep",
    "ReferenceStep",
    "asimov_intervals",
    "exact_ratio_intervals",
    "exact_ratio_step",
    "exact_ratio_terms",
    "ladder",
    "ladder_plan",
    "ladder_table",
    "plot_ladder",
]
