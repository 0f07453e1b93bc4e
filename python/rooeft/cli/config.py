"""``rooeft config``: where the C++ library, headers and CMake config are (for C++ users and
Combine-style tools).

Examples::

    root -l -e "gSystem->Load(\\"$(rooeft config --library)\\")"
    combine -L "$(rooeft config --library)" ws.root
    cmake -DCMAKE_PREFIX_PATH="$(rooeft config --cmake)" ..   # then find_package(RooEFT)
    g++ macro.cxx $(root-config --cflags --libs) $(rooeft config --cflags --ldflags)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["config_values", "register"]


def _cmake_dir(libdir: Path) -> Path:
    """Where RooEFTConfig.cmake is: ``<libdir>/cmake/RooEFT`` when installed, the build directory
    itself when ``ROOEFT_LIBRARY_DIR`` points at a build."""
    installed = libdir / "cmake" / "RooEFT"
    if not (installed / "RooEFTConfig.cmake").is_file() and (libdir / "RooEFTConfig.cmake").is_file():
        return libdir
    return installed


def config_values() -> dict[str, str]:
    """All configuration values as strings (paths exist after ``pip install``)."""
    from rooeft import _roofit

    libdir = _roofit.library_dir()
    ort = _roofit.onnxruntime_library()
    return {
        "libdir": str(libdir),
        "library": str(_roofit.library_path()),
        "incdir": str(_roofit.include_dir()),
        "cmake": str(_cmake_dir(libdir)),
        "cflags": f"-I{_roofit.include_dir()}",
        "ldflags": f"-L{libdir} -lRooEFT -Wl,-rpath,{libdir}",
        "onnxruntime": str(ort) if ort else "",
    }


def _run(args: argparse.Namespace) -> int:
    values = config_values()
    chosen = [k for k in values if getattr(args, k)]
    if not chosen:
        width = max(len(k) for k in values)
        for key, value in values.items():
            print(f"{key:<{width}}  {value}")
        return 0
    print(" ".join(values[k] for k in chosen))
    return 0


def register(sub: Any) -> None:
    """Add the ``config`` sub-command."""
    p = sub.add_parser(
        "config",
        help="library, include and CMake paths for C++ and Combine users",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for key, text in (
        ("libdir", "directory of libRooEFT.so (with its .rootmap and _rdict.pcm)"),
        ("library", "full path of libRooEFT.so, for gSystem->Load or combine -L"),
        ("incdir", "directory of the RooEFT/*.h headers"),
        ("cmake", "directory of RooEFTConfig.cmake (find_package(RooEFT))"),
        ("cflags", "compiler flags"),
        ("ldflags", "linker flags"),
        ("onnxruntime", "the ONNX Runtime library loaded at run time (ROOEFT_ONNXRUNTIME_LIB)"),
    ):
        p.add_argument(f"--{key}", action="store_true", help=text)
    p.set_defaults(func=_run)
