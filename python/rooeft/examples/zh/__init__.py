"""The shipped analytic ZH example: ``pp -> Zh -> (l+l-)(bb)`` with exact quadratic EFT weights.

Modules: :mod:`~rooeft.examples.zh.pdf` (parton densities), :mod:`~rooeft.examples.zh.model` (the LO amplitude
model and its structure constants), :mod:`~rooeft.examples.zh.kinematics` (four-vectors and
reconstruction), :mod:`~rooeft.examples.zh.background` (Z+bb continuum), :mod:`~rooeft.examples.zh.btag`
(correctionlib scale factor), :mod:`~rooeft.examples.zh.generator` (samples and pseudo-data),
:mod:`~rooeft.examples.zh.io` (atomic ROOT/JSON writing), :mod:`~rooeft.examples.zh.truth` (exact ratios, scores
and densities for closure tests) and :mod:`~rooeft.examples.zh.dataset` (the full shipped set).

>>> from rooeft.examples.zh.model import COEFFICIENTS
>>> COEFFICIENTS
('cHQ3', 'cHW', 'cHWtil')
"""

from __future__ import annotations

__all__: list[str] = []
