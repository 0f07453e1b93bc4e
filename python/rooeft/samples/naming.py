"""Default branch names shared by the reader and :meth:`Sample.to_root`.

The defaults match the ZH generator: nominal weight ``weight``, structure constants ``w_sm``,
``w_<c>``, ``w_<c>_<d>`` (canonical term order of :mod:`rooeft.terms`), systematic weights
``weight_<syst>Up`` / ``weight_<syst>Down``, truth-level spectators ``truth_*``.

>>> structure_constant_branches(["cHW", "cHB"])
['w_sm', 'w_cHW', 'w_cHB', 'w_cHW_cHW', 'w_cHW_cHB', 'w_cHB_cHB']
>>> systematic_branches("lumi")
('weight_lumiUp', 'weight_lumiDown')
"""

from __future__ import annotations

from collections.abc import Sequence

from rooeft.terms import quadratic_pairs

__all__ = [
    "DEFAULT_DOWN",
    "DEFAULT_LINEAR",
    "DEFAULT_QUADRATIC",
    "DEFAULT_SM",
    "DEFAULT_SPECTATOR_PREFIX",
    "DEFAULT_TREE",
    "DEFAULT_UP",
    "DEFAULT_WEIGHT",
    "structure_constant_branches",
    "systematic_branches",
]

DEFAULT_TREE = "Events"
DEFAULT_WEIGHT = "weight"
DEFAULT_SM = "w_sm"
DEFAULT_LINEAR = "w_{0}"
DEFAULT_QUADRATIC = "w_{0}_{1}"
DEFAULT_UP = "weight_{0}Up"
DEFAULT_DOWN = "weight_{0}Down"
DEFAULT_SPECTATOR_PREFIX = "truth_"


def structure_constant_branches(
    coefficients: Sequence[str],
    *,
    sm: str = DEFAULT_SM,
    linear: str = DEFAULT_LINEAR,
    quadratic: str = DEFAULT_QUADRATIC,
) -> list[str]:
    """Branch names of the structure constants in canonical order (``str.format`` templates)."""
    names = list(coefficients)
    out = [sm, *(linear.format(c) for c in names)]
    out += [quadratic.format(names[a], names[b]) for a, b in quadratic_pairs(len(names))]
    return out


def systematic_branches(systematic: str, *, up: str = DEFAULT_UP, down: str = DEFAULT_DOWN) -> tuple[str, str]:
    """Up and down weight branch names of a systematic."""
    return up.format(systematic), down.format(systematic)
