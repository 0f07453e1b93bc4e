"""The portable build: run-time AVX2 dispatch gives the NLL of the baseline code, ONNX Runtime
headers are found in a plain directory without network or apt (a non-Debian route), and a runtime
older than the headers is a clear error naming both versions and the library path."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rooeft import _roofit

REPO = Path(__file__).resolve().parents[1]

TWO_PROC = [
    ("frac:sig", "sigmoid", [0.5, 0.8]),
    ("frac:bkg", "1-sigmoid", [0.5, 0.8]),
    ("lin:sig:c1", "poly", [0.0, 0.6]),
    ("lin:sig:c2", "poly", [0.2, 0.3]),
    ("quad:sig:c1:c1", "poly", [0.0, 0.0, 0.09]),
    ("quad:sig:c1:c2", "poly", [0.0, 0.1, 0.1]),
    ("quad:sig:c2:c2", "poly", [0.05, 0.0, 0.05]),
    ("sysup:sig:jes", "exp", [0.05, 0.1]),
    ("sysdown:sig:jes", "exp", [-0.04, -0.08]),
    ("sysup:bkg:jes", "exp", [0.0, 0.02]),
    ("sysdown:bkg:jes", "exp", [0.0, -0.03]),
]

# value and gradient of the NLL kernel at three points, in a fresh process (the instruction set
# is chosen once per process)
_KERNEL_SCRIPT = """
import json, sys
import numpy as np
import rooeft

ROOT = rooeft.load_library()
ROOT.gInterpreter.Declare("namespace RooEFT { namespace Detail { const char *simdPath(); } }")
x = ROOT.RooRealVar("x", "x", 0, -10, 10)
c1, c2, jes = (ROOT.RooRealVar(n, n, 0, -5, 5) for n in ("c1", "c2", "jes"))
pdf = ROOT.RooEFTUnbinnedPdf("pdf", "pdf", sys.argv[1], ROOT.RooArgList(x), ROOT.RooArgList(c1, c2),
                             ROOT.RooArgList(jes))
pdf.setYield("sig", 800.0)
pdf.setYield("bkg", 1200.0)
names = ROOT.std.vector["std::string"]()
for n in ("c1", "c2", "jes"):
    names.push_back(n)
k = ROOT.RooEFT.NLLKernel(names)
k.setThreads(1)
rng = np.random.default_rng(3)
xs = rng.normal(0.3, 1.5, size=50_003)  # many blocks and a ragged tail
w = rng.uniform(0.5, 1.5, size=xs.size)
k.addUnbinned(pdf, ROOT.std.vector["float"](xs.astype(np.float32)), ROOT.std.vector["double"](w))
out = {"simd": str(ROOT.RooEFT.Detail.simdPath()), "values": []}
g = ROOT.std.vector["double"](3)
for pt in ([0.0, 0.0, 0.0], [0.3, -0.2, 0.5], [-0.4, 0.5, -1.3]):
    v = ROOT.std.vector["double"](pt)
    out["values"].append([k.value(v), k.valueAndGradient(v.data(), g.data()), *list(g)])
print(json.dumps(out))
"""

_VERSION_SCRIPT = f"""
import rooeft

ROOT = rooeft.load_library()
ROOT.gInterpreter.Declare('#include "{REPO}/cpp/include/RooEFT/OnnxSession.h"')
S = ROOT.RooEFT.OnnxSession
print(S.apiVersion())
try:
    print(S.runtimeVersion())
except Exception as err:
    print("ERROR", " ".join(str(err).split()))
"""

# an "ONNX Runtime" whose OrtGetApiBase provides no API table at all: a runtime older than any header
_FAKE_OLD_RUNTIME = r"""
#include <stddef.h>
#include <stdint.h>
typedef struct OrtApi OrtApi;
typedef struct {
   const OrtApi *(*GetApi)(uint32_t version);
   const char *(*GetVersionString)(void);
} OrtApiBase;
static const OrtApi *get_api(uint32_t version) { (void)version; return NULL; }
static const char *get_version(void) { return "1.2.3"; }
static const OrtApiBase base = {get_api, get_version};
const OrtApiBase *OrtGetApiBase(void) { return &base; }
"""


def _needs_library() -> None:
    if not _roofit.library_path().is_file():
        pytest.skip(f"libRooEFT not built ({_roofit.library_path()})")


def _python(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def _cmake() -> str:
    here = Path(sys.executable).parent / "cmake"
    found = str(here) if here.is_file() else shutil.which("cmake")
    if not found:
        pytest.skip("cmake not found")
    return found


def _ort_headers() -> Path:
    """A folder holding onnxruntime_c_api.h: the one an existing build used, else a usual place."""
    candidates: list[Path] = []
    if os.environ.get("ONNXRUNTIME_INCLUDE_DIR"):
        candidates.append(Path(os.environ["ONNXRUNTIME_INCLUDE_DIR"]))
    for cache in sorted(REPO.glob("build/*/CMakeCache.txt")):
        for m in re.finditer(r"^ROOEFT_ORT_INCLUDE_DIR(?:_USED)?:\w+=(.+)$", cache.read_text(), re.MULTILINE):
            candidates.append(Path(m.group(1).strip()))
    candidates += [REPO / ".deps/onnxruntime/usr/include/onnxruntime", Path("/usr/include/onnxruntime")]
    if os.environ.get("CONDA_PREFIX"):
        candidates.append(Path(os.environ["CONDA_PREFIX"]) / "include/onnxruntime")
    for c in candidates:
        if (c / "onnxruntime_c_api.h").is_file():
            return c
    pytest.skip("no ONNX Runtime headers on this machine to copy")


def _plain_headers(tmp_path: Path) -> Path:
    """The ONNX Runtime headers copied into a plain folder (no package layout around it)."""
    dest = tmp_path / "ort headers"  # (a space: paths must be quoted right through)
    shutil.copytree(_ort_headers(), dest)
    return dest


def _configure(tmp_path: Path, *defines: str) -> subprocess.CompletedProcess[str]:
    """Configure the project into tmp_path/build: no header download, no conda, no environment hints."""
    env = {k: v for k, v in os.environ.items() if k not in ("ONNXRUNTIME_ROOT", "ONNXRUNTIME_INCLUDE_DIR")}
    env.pop("CONDA_PREFIX", None)
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parents[1])
    cmd = [_cmake(), "-S", str(REPO), "-B", str(tmp_path / "build")]
    ninja = Path(sys.executable).parent / "ninja"
    if ninja.is_file() or shutil.which("ninja"):
        cmd += ["-G", "Ninja"]
        if ninja.is_file():
            cmd.append(f"-DCMAKE_MAKE_PROGRAM={ninja}")
    cmd += [
        f"-DPython_EXECUTABLE={sys.executable}",
        "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
        "-DROOEFT_FETCH_ORT_HEADERS=OFF",
        *defines,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)


def _cache(build: Path) -> dict[str, str]:
    entries = re.findall(r"^([A-Za-z_0-9]+):\w+=(.*)$", (build / "CMakeCache.txt").read_text(), re.MULTILINE)
    return dict(entries)


def test_dispatch_paths_agree(columns_model: Callable[..., Path]) -> None:
    """The AVX2+FMA copy of the kernel (chosen at run time) and the baseline copy give the same NLL
    and gradient to 1e-12 relative."""
    _needs_library()
    path = columns_model(TWO_PROC, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])
    auto = json.loads(_python(_KERNEL_SCRIPT, str(path)).splitlines()[-1])
    base = json.loads(_python(_KERNEL_SCRIPT, str(path), env={"ROOEFT_SIMD": "baseline"}).splitlines()[-1])
    assert auto["simd"] in ("avx2+fma", "baseline", "native")
    assert base["simd"] in ("baseline", "native")
    for a, b in zip(auto["values"], base["values"], strict=True):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-9)


def test_old_runtime_is_a_clear_error(tmp_path: Path) -> None:
    """A runtime without the headers' C API version: the message names both versions and the path."""
    _needs_library()
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    src = tmp_path / "fake.c"
    src.write_text(_FAKE_OLD_RUNTIME)
    lib = tmp_path / "libonnxruntime.so.1.2.3"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, timeout=120)
    out = _python(_VERSION_SCRIPT, env={"ROOEFT_ONNXRUNTIME_LIB": str(lib)}).splitlines()
    api = int(out[0])
    assert api >= 16
    message = out[-1]
    assert message.startswith("ERROR")
    assert str(lib) in message and "version 1.2.3" in message
    assert f"C API version {api}" in message and f">= 1.{api}" in message and "ROOEFT_ONNXRUNTIME_LIB" in message


def test_runtime_provides_the_header_api() -> None:
    """The runtime rooeft loads (the onnxruntime package) is new enough for the headers."""
    _needs_library()
    out = _python(_VERSION_SCRIPT).splitlines()
    api, version = int(out[0]), out[-1]
    assert not version.startswith("ERROR"), version
    assert int(version.split(".")[1]) >= api


def test_configure_with_plain_include_dir(tmp_path: Path) -> None:
    """ONNXRUNTIME_INCLUDE_DIR pointing at a plain folder of headers wins over every other place
    (also over the project's Debian copy in .deps), without network; the build is portable."""
    headers = _plain_headers(tmp_path)
    run = _configure(tmp_path, f"-DONNXRUNTIME_INCLUDE_DIR={headers}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    build = tmp_path / "build"
    cache = _cache(build)
    assert cache["ROOEFT_ORT_INCLUDE_DIR_USED"] == str(headers)
    assert cache["ROOEFT_ORT_HEADERS_ORIGIN"] == "ONNXRUNTIME_INCLUDE_DIR"
    assert cache["ROOEFT_NATIVE"] == "OFF"
    assert "ONNX Runtime headers (C API version" in run.stdout and str(headers) in run.stdout
    commands = json.loads((build / "compile_commands.json").read_text())
    session = [c["command"] for c in commands if c["file"].endswith("OnnxSession.cxx")]
    assert session and str(headers) in session[0]
    assert all("-march=native" not in c["command"] for c in commands)


def test_configure_with_root_prefix(tmp_path: Path) -> None:
    """ONNXRUNTIME_ROOT: an install prefix with include/onnxruntime/ (the layout of make install)."""
    headers = _ort_headers()
    prefix = tmp_path / "prefix"
    shutil.copytree(headers, prefix / "include" / "onnxruntime")
    run = _configure(tmp_path, f"-DONNXRUNTIME_ROOT={prefix}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    cache = _cache(tmp_path / "build")
    assert cache["ROOEFT_ORT_INCLUDE_DIR_USED"] == str(prefix / "include" / "onnxruntime")
    assert cache["ROOEFT_ORT_HEADERS_ORIGIN"] == "ONNXRUNTIME_ROOT"


def test_configure_rejects_include_dir_without_header(tmp_path: Path) -> None:
    """A user-given folder without the header is an error naming it, not a silent fallback."""
    empty = tmp_path / "empty"
    empty.mkdir()
    run = _configure(tmp_path, f"-DONNXRUNTIME_INCLUDE_DIR={empty}")
    assert run.returncode != 0
    text = " ".join((run.stdout + run.stderr).split())
    assert f"ONNXRUNTIME_INCLUDE_DIR='{empty}' contains no onnxruntime_c_api.h" in text


@pytest.mark.slow
def test_build_against_plain_include_dir(tmp_path: Path) -> None:
    """The whole library builds against headers in a plain folder (about a minute on 2 busy
    cores) and reports their C API version when loaded."""
    headers = _plain_headers(tmp_path)
    run = _configure(tmp_path, f"-DONNXRUNTIME_INCLUDE_DIR={headers}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    build = tmp_path / "build"
    made = subprocess.run(
        [_cmake(), "--build", str(build), "-j", "2"], capture_output=True, text=True, timeout=1200, check=False
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    define = re.search(r"^#define ORT_API_VERSION (\d+)", (headers / "onnxruntime_c_api.h").read_text(), re.MULTILINE)
    assert define
    out = _python(_VERSION_SCRIPT, env={"ROOEFT_LIBRARY_DIR": str(build)}).splitlines()
    assert int(out[0]) == int(define.group(1))
    assert not out[-1].startswith("ERROR"), out[-1]
