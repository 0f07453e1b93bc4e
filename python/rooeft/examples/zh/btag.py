"""A pT- and |eta|-dependent b-tagging scale factor with up/down variations, as correctionlib JSON.

The generator applies a per-jet b-tagging efficiency ``eps_b = 0.70`` times a data/simulation
scale factor ``SF(pt, |eta|)`` to both b-jets (as an event weight, no jets are dropped). The
scale factor is binned in ``|eta|`` (:data:`ABSETA_EDGES`) and ``pt`` (:data:`PT_EDGES`, values
outside the range are clamped to the first/last bin):

* nominal: ``SF = 0.97 - 0.03 ln(pt_c / 25 GeV) / ln(40)`` in the barrel (``|eta| < 1.5``), 0.02
  lower in the endcap, with ``pt_c`` the bin centre;
* uncertainty: ``delta = 0.015 + 0.045 ln(pt_c / 25 GeV) / ln(40)`` (1.5 % to 6 %), times 1.3 in
  the endcap; ``up = SF + delta``, ``down = SF - delta``.

The correction is named :data:`CORRECTION_NAME` (``btag_sf``) with inputs ``systematic``
(``"nominal"``, ``"up"``, ``"down"``), ``abseta`` and ``pt``. The variations of both jets are
taken as fully correlated: the event weight ``weight_btagUp`` is the nominal weight times
``SF_up(b1) SF_up(b2) / (SF(b1) SF(b2))``. The nominal ``weight`` already contains
``eps_b^2 SF(b1) SF(b2)``: do **not** apply the JSON again on top of it.

>>> sf = evaluate(np.array([30.0, 800.0]), np.array([0.5, 2.0]), "nominal")
>>> sf.round(4).tolist()
[0.9662, 0.9218]
>>> bool(np.all(evaluate(np.array([30.0]), np.array([0.5]), "up") > 0.9662))
True
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

__all__ = [
    "ABSETA_EDGES",
    "CORRECTION_NAME",
    "PT_EDGES",
    "VARIATIONS",
    "correction_json",
    "evaluate",
    "table",
]

F64 = npt.NDArray[np.float64]

CORRECTION_NAME = "btag_sf"
SYSTEMATIC = "btag"
PT_EDGES: tuple[float, ...] = (25.0, 30.0, 50.0, 70.0, 100.0, 140.0, 200.0, 300.0, 600.0, 1000.0)
ABSETA_EDGES: tuple[float, ...] = (0.0, 1.5, 2.5)
VARIATIONS: tuple[str, ...] = ("nominal", "up", "down")


def table(variation: str) -> F64:
    """Scale factors of one variation, shape ``(len(ABSETA_EDGES)-1, len(PT_EDGES)-1)``.

    >>> table("nominal").shape
    (2, 9)
    """
    if variation not in VARIATIONS:
        raise ValueError(f"variation must be one of {VARIATIONS}, got {variation!r}")
    edges = np.asarray(PT_EDGES)
    centre = 0.5 * (edges[:-1] + edges[1:])
    ramp = np.log(centre / 25.0) / np.log(40.0)
    nominal = np.stack([0.97 - 0.03 * ramp, 0.95 - 0.03 * ramp])
    delta = np.stack([0.015 + 0.045 * ramp, 1.3 * (0.015 + 0.045 * ramp)])
    sign = {"nominal": 0.0, "up": 1.0, "down": -1.0}[variation]
    return np.asarray(np.round(nominal + sign * delta, 6), dtype=np.float64)


@functools.cache
def correction_json() -> str:
    """The correctionlib (schema v2) JSON text of the correction set holding :data:`CORRECTION_NAME`."""
    import correctionlib.schemav2 as cs

    def binning(variation: str) -> cs.Binning:
        values = table(variation)
        return cs.Binning(
            nodetype="binning",
            input="abseta",
            edges=list(ABSETA_EDGES),
            flow="clamp",
            content=[
                cs.Binning(
                    nodetype="binning", input="pt", edges=list(PT_EDGES), content=list(map(float, row)), flow="clamp"
                )
                for row in values
            ],
        )

    correction = cs.Correction(
        name=CORRECTION_NAME,
        description="b-tagging data/simulation scale factor per b-jet (rooeft ZH toy detector)",
        version=1,
        inputs=[
            cs.Variable(name="systematic", type="string", description="nominal, up or down"),
            cs.Variable(name="abseta", type="real", description="|eta| of the b-jet"),
            cs.Variable(name="pt", type="real", description="pT of the b-jet in GeV"),
        ],
        output=cs.Variable(name="sf", type="real", description="scale factor"),
        data=cs.Category(
            nodetype="category",
            input="systematic",
            content=[cs.CategoryItem(key=v, value=binning(v)) for v in VARIATIONS],
        ),
    )
    cset = cs.CorrectionSet(schema_version=2, description="rooeft ZH example corrections", corrections=[correction])
    return cset.model_dump_json(exclude_unset=True, indent=1)


@functools.cache
def _evaluator() -> object:
    import correctionlib

    return correctionlib.CorrectionSet.from_string(correction_json())[CORRECTION_NAME]


def evaluate(pt: npt.ArrayLike, abseta: npt.ArrayLike, variation: str = "nominal") -> F64:
    """Scale factor per jet, evaluated with correctionlib from :func:`correction_json`."""
    if variation not in VARIATIONS:
        raise ValueError(f"variation must be one of {VARIATIONS}, got {variation!r}")
    p = np.asarray(pt, dtype=np.float64)
    a = np.asarray(abseta, dtype=np.float64)
    ev = _evaluator()
    return np.asarray(ev.evaluate(variation, a, p), dtype=np.float64)  # type: ignore[attr-defined]
