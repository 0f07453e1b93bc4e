"""The shipped analytic ZH example: ``pp -> Zh -> (l+l-)(bb)`` with exact quadratic EFT weights.

Modules: :mod:`~rooeft.zh.pdf` (parton densities), :mod:`~rooeft.zh.model` (the LO amplitude
model and its structure constants), :mod:`~rooeft.zh.kinematics` (four-vectors and
reconstruction), :mod:`~rooeft.zh.background` (Z+bb continuum), :mod:`~rooeft.zh.btag`
(correctionlib scale factor), :mod:`~rooeft.zh.generator` (samples and pseudo-data),
:mod:`~rooeft.zh.io` (atomic ROOT/JSON writing), :mod:`~rooeft.zh.truth` (exact ratios, scores
and densities for closure tests) and :mod:`~rooeft.zh.dataset` (the full shipped set).

>>> from rooeft.zh.model import COEFFICIENTS
>>> COEFFICIENTS
('cHQ3', 'cHW', 'cHWtil')
"""

from __future__ import annotations

__all__: list[str] = []
