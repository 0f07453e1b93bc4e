"""rooeft: EFT Wilson-coefficient measurements with machine learning inside ROOT/RooFit.

Importing :mod:`rooeft` is light: it loads neither ROOT nor torch. Modules that need RooFit get
it through :func:`rooeft.load_library`, which loads ``libRooEFT`` (and with it ROOT) once.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_library"]


def load_library() -> Any:
    """Load ``libRooEFT`` into ROOT and return the ``ROOT`` module (idempotent).

    >>> ROOT = load_library()
    >>> bool(ROOT.TClass.GetClass("RooEFTUnbinnedPdf"))
    True
    """
    from rooeft._roofit import load

    return load()
