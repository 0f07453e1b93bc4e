"""Priors of the sampled parameters and their transforms from the unit cube.

Nested sampling draws points ``u`` uniformly in the unit hypercube; each parameter's prior is
given by its inverse cumulative distribution (``ppf``) applied to its coordinate. Three kinds:

``uniform``      flat on ``[low, high]`` (default: the parameter's range in the workspace)
``loguniform``   flat in ``ln x`` on ``[low, high]``, ``0 < low < high``
``gaussian``     ``N(mean, sigma)`` truncated to ``[low, high]`` (default: the parameter's range)

Every prior is confined to the parameter's range, so setting a sampled value never leaves the
range of the ``RooRealVar`` (ROOT 6.40 throws there).

>>> p = parse_prior("cHW=uniform:-1:1")
>>> p
('cHW', Prior(kind='uniform', low=-1.0, high=1.0, mean=None, sigma=None))
>>> p[1].transform([0.0, 0.25, 0.5]).tolist()
[-1.0, -0.5, 0.0]
>>> Prior.gaussian(1.0, 2.0).resolved((-9.0, 11.0), name="x").transform([0.5]).round(12).tolist()
[1.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

__all__ = ["KINDS", "Prior", "PriorError", "parse_prior", "parse_priors"]

#: the prior kinds (``log-uniform`` is accepted as a spelling of ``loguniform``)
KINDS = ("uniform", "loguniform", "gaussian")


class PriorError(ValueError):
    """An invalid prior specification (the message names the parameter and the spec)."""


def _finite(value: float | None, what: str) -> None:
    if value is not None and not math.isfinite(value):
        raise PriorError(f"{what} must be finite, got {value}")


@dataclass(frozen=True)
class Prior:
    """Prior of one parameter.

    Parameters
    ----------
    kind
        ``"uniform"``, ``"loguniform"`` or ``"gaussian"``.
    low, high
        Support (``None``: the parameter's range, filled in by :meth:`resolved`). For
        ``gaussian`` they truncate the normal distribution.
    mean, sigma
        Centre and width of a ``gaussian`` prior (unused otherwise).

    >>> Prior.uniform(-2, 2)
    Prior(kind='uniform', low=-2.0, high=2.0, mean=None, sigma=None)
    >>> Prior.log_uniform(1e-3, 1.0).transform([0.0, 0.5, 1.0]).round(6).tolist()
    [0.001, 0.031623, 1.0]
    """

    kind: str
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        kind = "loguniform" if self.kind in ("log-uniform", "log_uniform") else self.kind
        if kind not in KINDS:
            raise PriorError(f"unknown prior kind '{self.kind}'; choose one of {', '.join(KINDS)}")
        object.__setattr__(self, "kind", kind)
        for attr in ("low", "high", "mean", "sigma"):
            v = getattr(self, attr)
            if v is not None:
                object.__setattr__(self, attr, float(v))
                _finite(float(v), f"{kind} prior: {attr}")
        if (self.low is None) != (self.high is None):
            raise PriorError(f"{kind} prior: give both low and high or neither (got {self.low}, {self.high})")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise PriorError(f"{kind} prior: low={self.low:g} must be below high={self.high:g}")
        if kind == "gaussian":
            if self.mean is None or self.sigma is None:
                raise PriorError("gaussian prior needs a mean and a sigma")
            if not self.sigma > 0:
                raise PriorError(f"gaussian prior: sigma={self.sigma:g} must be positive")
        elif self.mean is not None or self.sigma is not None:
            raise PriorError(f"{kind} prior takes no mean/sigma")
        if kind == "loguniform" and self.low is not None and not self.low > 0:
            raise PriorError(f"loguniform prior: low={self.low:g} must be positive")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def uniform(cls, low: float | None = None, high: float | None = None) -> Prior:
        """Flat prior on ``[low, high]`` (default: the parameter's range)."""
        return cls("uniform", low, high)

    @classmethod
    def log_uniform(cls, low: float | None = None, high: float | None = None) -> Prior:
        """Prior flat in ``ln x`` on ``[low, high]`` with ``0 < low``."""
        return cls("loguniform", low, high)

    @classmethod
    def gaussian(cls, mean: float, sigma: float, low: float | None = None, high: float | None = None) -> Prior:
        """Normal prior truncated to ``[low, high]`` (default: the parameter's range)."""
        return cls("gaussian", low, high, mean, sigma)

    # ------------------------------------------------------------------ use
    @property
    def is_resolved(self) -> bool:
        """True when the support is explicit (``low`` and ``high`` set)."""
        return self.low is not None and self.high is not None

    def resolved(self, parameter_range: tuple[float, float], *, name: str) -> Prior:
        """This prior with its support made explicit and checked against ``parameter_range``.

        Raises :class:`PriorError` naming ``name`` if the support leaves the range (widen the
        range in the workspace or narrow the prior) or is empty.

        >>> Prior.uniform().resolved((-3.0, 3.0), name="c").high
        3.0
        """
        rlo, rhi = (float(parameter_range[0]), float(parameter_range[1]))
        if not (math.isfinite(rlo) and math.isfinite(rhi) and rlo < rhi):
            raise PriorError(f"parameter '{name}' has no finite range [{rlo:g}, {rhi:g}] to put a prior on")
        if self.low is None or self.high is None:
            lo, hi = rlo, rhi
        else:
            lo, hi = self.low, self.high
            if lo < rlo or hi > rhi:
                raise PriorError(
                    f"prior of '{name}' on [{lo:g}, {hi:g}] extends beyond the parameter's range "
                    f"[{rlo:g}, {rhi:g}]; narrow the prior or widen the range in the workspace"
                )
        if self.kind == "loguniform" and not lo > 0:
            raise PriorError(f"loguniform prior of '{name}' needs a positive lower bound, got {lo:g}")
        out = replace(self, low=lo, high=hi)
        if out.kind == "gaussian":
            assert out.mean is not None and out.sigma is not None
            a, b = (lo - out.mean) / out.sigma, (hi - out.mean) / out.sigma
            if _mass(a, b) <= 1e-300:
                raise PriorError(f"gaussian prior of '{name}' has no probability inside [{lo:g}, {hi:g}]")
        return out

    def transform(self, u: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map unit-cube coordinates ``u`` in [0, 1] to parameter values (the prior's ppf).

        The prior must be resolved (explicit ``low``/``high``); results are clipped to the support.
        """
        if self.low is None or self.high is None:
            raise PriorError(f"{self.kind} prior has no explicit support: call resolved() first")
        lo, hi = self.low, self.high
        uu = np.asarray(u, dtype=np.float64)
        if self.kind == "uniform":
            x = lo + uu * (hi - lo)
        elif self.kind == "loguniform":
            x = np.exp(math.log(lo) + uu * (math.log(hi) - math.log(lo)))
        else:
            assert self.mean is not None and self.sigma is not None
            a, b = (lo - self.mean) / self.sigma, (hi - self.mean) / self.sigma
            # both bounds in the upper tail: work with the mirrored lower tail for precision
            upper = a > 0
            z = -ndtri(ndtr(-a) - uu * (ndtr(-a) - ndtr(-b))) if upper else ndtri(ndtr(a) + uu * (ndtr(b) - ndtr(a)))
            x = self.mean + self.sigma * z
        return np.asarray(np.clip(x, lo, hi), dtype=np.float64)

    def log_density(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Normalised log prior density at ``x`` (−inf outside the support; resolved priors only).

        >>> float(Prior.uniform(0.0, 4.0).log_density(1.0))
        -1.3862943611198906
        """
        if self.low is None or self.high is None:
            raise PriorError(f"{self.kind} prior has no explicit support: call resolved() first")
        lo, hi = self.low, self.high
        xx = np.asarray(x, dtype=np.float64)
        inside = (xx >= lo) & (xx <= hi)
        if self.kind == "uniform":
            val = np.full_like(xx, -math.log(hi - lo))
        elif self.kind == "loguniform":
            val = -np.log(np.where(inside, xx, 1.0)) - math.log(math.log(hi) - math.log(lo))
        else:
            assert self.mean is not None and self.sigma is not None
            a, b = (lo - self.mean) / self.sigma, (hi - self.mean) / self.sigma
            z = (xx - self.mean) / self.sigma
            val = -0.5 * z * z - 0.5 * math.log(2 * math.pi) - math.log(self.sigma) - math.log(_mass(a, b))
        return np.asarray(np.where(inside, val, -np.inf), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the kind and the parameters that are set."""
        d: dict[str, Any] = {"kind": self.kind}
        for attr in ("low", "high", "mean", "sigma"):
            v = getattr(self, attr)
            if v is not None:
                d[attr] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Prior:
        """Inverse of :meth:`to_dict`."""
        unknown = set(d) - {"kind", "low", "high", "mean", "sigma"}
        if unknown or "kind" not in d:
            raise PriorError(f"prior dict needs 'kind' and only low/high/mean/sigma, got keys {sorted(d)}")
        return cls(str(d["kind"]), d.get("low"), d.get("high"), d.get("mean"), d.get("sigma"))

    def spec(self) -> str:
        """The compact spec string :func:`parse_prior` reads (without the name).

        >>> Prior.gaussian(0, 0.5).spec()
        'gaussian:0:0.5'
        """
        if self.kind == "gaussian":
            s = f"gaussian:{self.mean:.17g}:{self.sigma:.17g}"
            return s + (f":{self.low:.17g}:{self.high:.17g}" if self.is_resolved else "")
        return self.kind + (f":{self.low:.17g}:{self.high:.17g}" if self.is_resolved else "")


def _mass(a: float, b: float) -> float:
    """Standard-normal probability of [a, b], accurate in both tails."""
    if a > 0:
        return float(ndtr(-a) - ndtr(-b))
    return float(ndtr(b) - ndtr(a))


_USAGE = "NAME=uniform[:LOW:HIGH], NAME=loguniform[:LOW:HIGH] or NAME=gaussian:MEAN:SIGMA[:LOW:HIGH]"


def parse_prior(spec: str) -> tuple[str, Prior]:
    """Parse ``NAME=KIND[:ARGS]`` into ``(name, Prior)``.

    ``uniform`` and ``loguniform`` take ``LOW:HIGH`` (default: the parameter's range),
    ``gaussian`` takes ``MEAN:SIGMA`` and optionally truncation bounds ``LOW:HIGH``.

    >>> parse_prior("mu=loguniform:0.1:10")[1].kind
    'loguniform'
    >>> parse_prior("cHW=gaussian:0:2")[1].sigma
    2.0
    >>> parse_prior("cHW=flat")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rooeft.bayes.priors.PriorError: prior 'cHW=flat': unknown prior kind 'flat'; choose one of ...
    """
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise PriorError(f"prior '{spec}': expected {_USAGE}")
    kind, *args = [p.strip() for p in rest.split(":")]
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise PriorError(f"prior '{spec}': arguments {args} are not all numbers; expected {_USAGE}") from None
    try:
        if kind == "gaussian":
            if len(values) not in (2, 4):
                raise PriorError(f"gaussian takes MEAN:SIGMA[:LOW:HIGH], got {len(values)} number(s)")
            lo, hi = (values[2], values[3]) if len(values) == 4 else (None, None)
            return name, Prior.gaussian(values[0], values[1], lo, hi)
        if len(values) not in (0, 2):
            raise PriorError(f"{kind} takes LOW:HIGH or nothing (the parameter's range), got {len(values)} number(s)")
        lo, hi = (values[0], values[1]) if values else (None, None)
        return name, Prior(kind, lo, hi)
    except PriorError as err:
        raise PriorError(f"prior '{spec}': {err}") from None


def parse_priors(specs: Iterable[str] | Mapping[str, Prior | str]) -> dict[str, Prior]:
    """Priors by name from spec strings (``["cHW=uniform:-1:1", ...]``) or a mapping whose values
    are :class:`Prior` objects or spec strings without the name; a name given twice is an error.

    >>> sorted(parse_priors({"a": "gaussian:0:1", "b": Prior.uniform()}))
    ['a', 'b']
    """
    out: dict[str, Prior] = {}
    if isinstance(specs, Mapping):
        items = [(str(k), v if isinstance(v, Prior) else parse_prior(f"{k}={v}")[1]) for k, v in specs.items()]
    else:
        items = [parse_prior(s) for s in specs]
    for name, prior in items:
        if name in out:
            raise PriorError(f"prior for '{name}' given twice")
        out[name] = prior
    return out
