"""One set of fit options shared by :func:`~rooeft.infer.fit`, the scans, the toys and the limits.

>>> opts = FitOptions(strategy=2, workers=4)
>>> new = opts.merged(tolerance=0.1, strategy=None)  # None: keep the field of ``opts``
>>> new.strategy, new.tolerance, new.workers
(2, 0.1, 4)
>>> FitOptions.resolve(None, engine="kernel").engine
'kernel'
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["ENGINES", "FitOptions"]

#: likelihood engines (see :func:`rooeft.infer.fit`)
ENGINES = ("auto", "kernel", "roofit")


@dataclass(frozen=True)
class FitOptions:
    """How to minimise and where to run: the options every inference function accepts.

    The functions also take each field as a keyword argument; a keyword that is given (not
    ``None``) overrides the field of the ``options`` passed alongside it.
    """

    strategy: int = 1
    """Minuit2 strategy of the first attempt of a fit (the retry ladder escalates to 2)."""
    tolerance: float = 0.01
    """``RooMinimizer.setEps``: Migrad stops at EDM < 0.002 × tolerance."""
    max_calls: int | None = None
    """Likelihood-call limit per minimisation attempt (None: Minuit's default)."""
    hesse: bool = True
    """Run Hesse for errors and correlations (:func:`~rooeft.infer.fit`; scans never need it,
    toys always do)."""
    engine: str = "auto"
    """``"auto"`` (the closed-form kernel where the workspace allows, else RooFit), ``"kernel"``
    or ``"roofit"``."""
    threads: int | None = None
    """Threads inside each likelihood evaluation in this process (None: the model's default)."""
    point_strategy: int = 0
    """Minuit2 strategy of the scan points (warm-started from their neighbours)."""
    workers: int | None = None
    """Local Dask worker processes of scans and toys (1: in this process; None: automatic)."""
    scheduler: str | None = None
    """Address of an existing Dask scheduler (``tcp://host:port``) instead of local workers."""
    progress: bool = False
    """Show a progress bar for scans and toys."""

    def merged(self, **overrides: Any) -> FitOptions:
        """A copy with the ``overrides`` that are not ``None``."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown fit option(s) {unknown}")
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else self

    @classmethod
    def resolve(cls, options: FitOptions | None, **overrides: Any) -> FitOptions:
        """``options`` (default: all defaults) with the keyword arguments that were given."""
        return (options if options is not None else cls()).merged(**overrides)
