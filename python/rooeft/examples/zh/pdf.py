"""Parton densities for the analytic ZH model (spec ``zh_model.md`` §7).

The shipped densities are the smooth fit of §7.2: for each flavour

.. math:: \\ln\\big(x f(x)\\big) = \\sum_{n=0}^{14} a_n T_n(t) + a_{15}\\ln(1-x),\\qquad
          t = \\frac{2(\\ln x - \\ln 10^{-4})}{-\\ln 10^{-4}} - 1,

with :math:`T_n` the Chebyshev polynomials of the first kind, so :math:`f(x) = e^{(\\dots)}/x` is
smooth and positive on ``0 < x < 1`` and exactly 0 at ``x = 1``. The coefficients are the
constant :data:`CHEBYSHEV_COEFFICIENTS` below (from ``pdf_fit_chebyshev.json`` of the spec); the
fit is accurate to better than 0.4 % against the reference tables for ``u, d, s, c, b`` and the
gluon inside its window, to 2-9 % for the steeply falling ``ubar``/``dbar`` at large x.
``sbar = s``, ``cbar = c``, ``bbar = b``.

Every density set is a callable ``pdfs(flavour, x) -> f(x)`` (the :class:`PartonDensities`
protocol): :data:`CHEBYSHEV` (the default everywhere), :data:`UNIT` (all densities 1, for the
PDF-free checks of spec §9.2(a)) and :class:`TablePDF` (linear interpolation of the reference
tables; the tables are *not* shipped with rooeft, tests read them from the shared spec folder).

>>> round(float(CHEBYSHEV("u", 0.1)), 4)
6.5035
>>> CHEBYSHEV("sbar", [0.01, 0.1]).tolist() == CHEBYSHEV("s", [0.01, 0.1]).tolist()
True
>>> float(CHEBYSHEV("d", 1.0))
0.0
>>> UNIT("u", [0.2, 0.5]).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from numpy.polynomial import chebyshev

__all__ = [
    "CHEBYSHEV",
    "CHEBYSHEV_COEFFICIENTS",
    "FLAVOURS",
    "UNIT",
    "ChebyshevPDF",
    "PartonDensities",
    "TablePDF",
    "UnitPDF",
    "canonical_flavour",
]

F64 = npt.NDArray[np.float64]

#: Flavour names accepted by every density set (``g`` is an alias of ``gluon``).
FLAVOURS: tuple[str, ...] = ("u", "ubar", "d", "dbar", "s", "sbar", "c", "cbar", "b", "bbar", "gluon")

_ALIASES = {"g": "gluon", "sbar": "s", "cbar": "c", "bbar": "b"}
_LOG_X0 = np.log(1e-4)

#: Fit coefficients of spec §7.2: flavour -> (x_fit, (a_0, ..., a_15)).
CHEBYSHEV_COEFFICIENTS: Mapping[str, tuple[float, tuple[float, ...]]] = {
    "u": (
        0.9,
        (
            0.15592382012596703,
            0.0324365547275971,
            0.5137406152268895,
            -0.022770772446626238,
            -0.13237284289733647,
            -0.07776132492957752,
            -0.03102283032558953,
            -0.011283031492159059,
            -0.0034253380075834755,
            -0.00016002082460222708,
            0.00010009207103223172,
            -0.0007152864744929565,
            -0.0017020744030969114,
            -0.001570291897476395,
            -0.0010347889821690206,
            3.4019486053206083,
        ),
    ),
    "ubar": (
        0.7,
        (
            -1.9241582091024294,
            -3.387975530918825,
            -1.4703845223066336,
            -0.924349449136981,
            -0.5207939167253094,
            -0.2626323786371472,
            -0.10146308064507004,
            0.009550010346086074,
            0.0914347292814152,
            0.13763491698887648,
            0.1472834819143268,
            0.12244762958542194,
            0.08250965579453964,
            0.04123391554641087,
            0.01502787355885734,
            3.081995335162989,
        ),
    ),
    "d": (
        0.9,
        (
            -0.014472416609206793,
            -0.1813614730961366,
            0.5123328625058952,
            0.058230900604920775,
            -0.0850849940098915,
            -0.0758059926017748,
            -0.044791562624574205,
            -0.025942810070596144,
            -0.017135153627615377,
            -0.012773110637065923,
            -0.00806054710401699,
            -0.0033040542919133362,
            0.0004524148058180806,
            0.0015047402109372651,
            0.0013240178747513645,
            4.539939058924381,
        ),
    ),
    "dbar": (
        0.7,
        (
            23.834194367540935,
            43.94106915511159,
            35.90356359885574,
            25.54983261942479,
            17.157123839927934,
            11.299073022785633,
            7.402021857836702,
            4.787256819847192,
            3.0007529561772452,
            1.7831370386514482,
            0.983854930522218,
            0.49099949474218096,
            0.21432678690343288,
            0.07536691735726198,
            0.018098835079820574,
            74.87326643163442,
        ),
    ),
    "s": (
        0.7,
        (
            -2.346758993611574,
            -3.7549062826607456,
            -1.6396241388790123,
            -0.98509158442268,
            -0.5676903627299005,
            -0.3086237375649987,
            -0.1502422985782117,
            -0.059818699655740645,
            -0.017457055258160933,
            -0.003406445867667751,
            -0.0004756870160141091,
            6.805664867765016e-05,
            0.00040620438345084775,
            0.00040932755723174785,
            0.00023096870456230933,
            3.1265937126759358,
        ),
    ),
    "c": (
        0.7,
        (
            -2.3133601755814284,
            -3.2744243263444957,
            -0.9683901251599143,
            -0.3166507290049357,
            -0.10163884127470646,
            -0.07967431254919648,
            -0.08462725679230282,
            -0.06805510050944967,
            -0.043012352287044094,
            -0.02432916706038943,
            -0.013776055314994554,
            -0.0077535024341030545,
            -0.004051423344360219,
            -0.0017142676670072604,
            -0.000556960966396236,
            4.201362260353695,
        ),
    ),
    "b": (
        0.7,
        (
            -2.3194101358078085,
            -1.6921140334993003,
            0.4986529427889701,
            0.6898950171330844,
            0.5252556899504189,
            0.30930212556054887,
            0.15979371878739143,
            0.08272781674799452,
            0.046043807262475964,
            0.025662723709920992,
            0.012895755085528732,
            0.005510804948894263,
            0.0019692539372989995,
            0.0005677702929345121,
            0.0001211556529473641,
            7.482090081655902,
        ),
    ),
    "gluon": (
        0.9,
        (
            1.5252921987480175,
            -2.416377356482295,
            -0.37192012042801625,
            0.0025325953277391747,
            0.09236662077699215,
            0.06418727350846508,
            0.020472605007367764,
            0.000992744493265696,
            -0.0005357529270246242,
            0.0011432428333134834,
            0.0006163973523010333,
            -0.0005877329719717769,
            -0.0011375943161953984,
            -0.000813568447013531,
            -0.0004265975982047179,
            4.048211306258947,
        ),
    ),
}


def canonical_flavour(flavour: str) -> str:
    """Name of the density a flavour uses (``sbar -> s``, ``g -> gluon``, ...).

    >>> canonical_flavour("cbar"), canonical_flavour("u")
    ('c', 'u')
    """
    if flavour not in FLAVOURS and flavour != "g":
        raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
    return _ALIASES.get(flavour, flavour)


def _check_x(x: npt.ArrayLike) -> F64:
    xa = np.asarray(x, dtype=np.float64)
    if xa.size and not (np.all(xa > 0.0) and np.all(xa <= 1.0)):
        raise ValueError("x must lie in (0, 1]")
    return xa


class PartonDensities(Protocol):
    """A set of parton densities: ``pdfs(flavour, x)`` returns the number density ``f(x)``."""

    def __call__(self, flavour: str, x: npt.ArrayLike) -> F64: ...


class ChebyshevPDF:
    """The smooth fitted densities of spec §7.2 (see the module docstring).

    >>> pdf = ChebyshevPDF()
    >>> bool(pdf("u", 0.3) > pdf("ubar", 0.3) > 0)
    True
    """

    def __call__(self, flavour: str, x: npt.ArrayLike) -> F64:
        xa = _check_x(x)
        coef = np.asarray(CHEBYSHEV_COEFFICIENTS[canonical_flavour(flavour)][1])
        t = 2.0 * (np.log(xa) - _LOG_X0) / (-_LOG_X0) - 1.0
        with np.errstate(divide="ignore"):  # ln(1 - x) = -inf at x = 1 gives f = 0
            log_xf = chebyshev.chebval(t, coef[:-1]) + coef[-1] * np.log1p(-xa)
        return np.asarray(np.exp(log_xf) / xa, dtype=np.float64)


class UnitPDF:
    """All densities equal to 1 (unit luminosities, spec §9.2(a) and §9.3)."""

    def __call__(self, flavour: str, x: npt.ArrayLike) -> F64:
        canonical_flavour(flavour)
        return np.ones_like(_check_x(x))


class TablePDF:
    """Linear interpolation of tabulated densities, clipped at 0 (reference checks only).

    Parameters
    ----------
    tables
        Flavour -> ``(x_nodes, f_nodes)``, ``x_nodes`` increasing.
    interpolation
        ``"nodes"``: plain linear interpolation on the nodes; ``"centres"``: the source's
        histogram interpolation, i.e. value ``f_i`` at the bin centre ``(x_i + x_{i+1})/2``.

    >>> tab = TablePDF({"u": (np.array([0.1, 0.2, 0.3]), np.array([3.0, 2.0, -1.0]))})
    >>> tab("u", [0.15, 0.3]).tolist()
    [2.5, 0.0]
    """

    def __init__(
        self,
        tables: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
        interpolation: Literal["nodes", "centres"] = "nodes",
    ) -> None:
        if interpolation not in ("nodes", "centres"):
            raise ValueError(f"interpolation must be 'nodes' or 'centres', got {interpolation!r}")
        self._tables: dict[str, tuple[F64, F64]] = {}
        for name, (xs, fs) in tables.items():
            x = np.asarray(xs, dtype=np.float64)
            f = np.asarray(fs, dtype=np.float64)
            if x.ndim != 1 or x.shape != f.shape or x.size < 2 or np.any(np.diff(x) <= 0):
                raise ValueError(f"tables[{name!r}] must be two equal-length 1D arrays with increasing x")
            if interpolation == "centres":
                x = 0.5 * (x[:-1] + x[1:])
                f = f[:-1]
            self._tables[name] = (x, f)

    @classmethod
    def from_directory(cls, directory: str | Path, interpolation: Literal["nodes", "centres"] = "nodes") -> TablePDF:
        """Read the ``pdf_<flavour>.txt`` tables (lines ``x,f``) of spec §7.1 from a directory."""
        path = Path(directory)
        tables = {}
        for name in FLAVOURS:
            file = path / f"pdf_{name}.txt"
            if not file.is_file():
                raise FileNotFoundError(f"PDF table {file} not found")
            data = np.loadtxt(file, delimiter=",")
            tables[name] = (data[:, 0], data[:, 1])
        return cls(tables, interpolation)

    def __call__(self, flavour: str, x: npt.ArrayLike) -> F64:
        canonical_flavour(flavour)
        name = "gluon" if flavour == "g" else flavour
        if name not in self._tables:
            raise ValueError(f"flavour {flavour!r} has no table")
        xs, fs = self._tables[name]
        xa = _check_x(x)
        return np.asarray(np.clip(np.interp(xa, xs, fs), 0.0, None), dtype=np.float64)


#: The default densities (spec §7.2 fit).
CHEBYSHEV = ChebyshevPDF()
#: Unit densities.
UNIT = UnitPDF()
