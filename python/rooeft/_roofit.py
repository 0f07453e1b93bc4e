"""The one place that loads ROOT and ``libRooEFT`` (everything else calls :func:`load`).

Order matters: the library is loaded *before* any file holding RooEFT objects is opened,
otherwise ROOT builds an emulated class and crashes. ONNX Runtime is found through the
``onnxruntime`` package (its ``capi/libonnxruntime.so.*``) and passed to the C++ side via the
``ROOEFT_ONNXRUNTIME_LIB`` environment variable unless the user set it.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any

__all__ = ["include_dir", "library_dir", "library_path", "load", "onnxruntime_library"]

_ROOT: Any = None


def library_dir() -> Path:
    """Directory of ``libRooEFT.so`` (``$ROOEFT_LIBRARY_DIR`` overrides the installed one)."""
    override = os.environ.get("ROOEFT_LIBRARY_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "lib"


def library_path() -> Path:
    """Full path of ``libRooEFT.so``."""
    return library_dir() / "libRooEFT.so"


def include_dir() -> Path:
    """Directory holding the public headers (``RooEFT/*.h``): the installed ones, or with
    ``$ROOEFT_LIBRARY_DIR`` the snapshot its build took (``<dir>/include``, the headers the library
    was compiled from; the source tree's may have been edited since)."""
    override = os.environ.get("ROOEFT_LIBRARY_DIR")
    if override and (Path(override) / "include" / "RooEFT").is_dir():
        return Path(override) / "include"
    installed = Path(__file__).resolve().parent / "include"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "cpp" / "include"


def onnxruntime_library() -> Path | None:
    """The ONNX Runtime shared library shipped by the ``onnxruntime`` package, if installed."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    capi = Path(next(iter(spec.submodule_search_locations))) / "capi"
    libs = sorted(capi.glob("libonnxruntime.so*"))
    return libs[0] if libs else None


def load() -> Any:
    """Import ROOT, load ``libRooEFT`` once, and return the ``ROOT`` module.

    Raises ``RuntimeError`` naming the library path if it is missing or fails to load.
    """
    global _ROOT
    if _ROOT is not None:
        return _ROOT
    lib = library_path()
    if not lib.is_file():
        raise RuntimeError(
            f"libRooEFT not found at {lib}: install rooeft with `pip install .` (which builds it) "
            "or point ROOEFT_LIBRARY_DIR at a build directory"
        )
    if "ROOEFT_ONNXRUNTIME_LIB" not in os.environ:
        ort = onnxruntime_library()
        if ort is not None:
            os.environ["ROOEFT_ONNXRUNTIME_LIB"] = str(ort)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*alpha stage", category=UserWarning)
        import ROOT

        ROOT.gROOT.SetBatch(True)
        ROOT.gInterpreter.AddIncludePath(str(include_dir()))
        status = ROOT.gSystem.Load(str(lib))
    if status < 0:
        raise RuntimeError(f"ROOT could not load {lib} (gSystem.Load returned {status})")
    # the header-only formulas (RooEFT::Math) for interactive use and the tests
    if not ROOT.gInterpreter.Declare('#include "RooEFT/Math.h"'):
        raise RuntimeError(f"cling could not parse RooEFT/Math.h from {include_dir()}")
    # make cppyy know the classes now, so that objects read from files (w.pdf(...) returns a
    # RooAbsPdf*) are always downcast to them and their own methods are callable
    for cls in ("RooEFTUnbinnedPdf", "RooEFTTemplatePdf", "RooEFTONNXFunction", "RooEFTYield"):
        getattr(ROOT, cls)
    _ROOT = ROOT
    return ROOT
