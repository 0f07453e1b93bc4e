"""The bad-input matrix (issue 10): every command, given a hostile-but-realistic bad input, exits
non-zero with one clear line, shows no traceback, names the problem, runs no code from the input
and leaves every input file byte-identical.

The commands run in-process through :func:`rooeft.cli.main`; the fixtures (ROOT samples, ONNX
models, a correctionlib file, a workspace, result files) are made once per module.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rooeft.cli import main
from rooeft.testing.onnx_toys import build_columns_model
from test_workspace_build import UNB_COLUMNS, make_inputs, write_tree

from test_infer_workspaces import binned_workspace

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "python" / "rooeft"


# ------------------------------------------------------------------------------------------ fixtures
def _binned_config(d: Path, **proc_overrides: Any) -> dict[str, Any]:
    """A binned-only configuration over the fixture samples (fast to build)."""
    sig = {"name": "sig", "files": [str(d / "sig.root")], "eft": True, **proc_overrides}
    return {
        "version": 1,
        "coefficients": [{"name": "c1", "range": [-2, 2]}, {"name": "c2", "range": [-2, 2]}],
        "channels": [
            {
                "name": "cnt",
                "kind": "binned",
                "observable": {"name": "ptz", "expression": "pt"},
                "edges": [0.0, 50.0, 100.0, 200.0, 400.0],
                "processes": [sig, {"name": "bkg", "files": str(d / "bkg.root")}],
                "data": {"asimov": {"c1": 0.1}},
            }
        ],
    }


def _unbinned_config(d: Path, model: Path, sig: Path | None = None) -> dict[str, Any]:
    return {
        "version": 1,
        "coefficients": [{"name": "c1", "range": [-2, 2]}, {"name": "c2", "range": [-2, 2]}],
        "channels": [
            {
                "name": "unb",
                "kind": "unbinned",
                "model": str(model),
                "processes": [
                    {"name": "sig", "files": str(sig or d / "sig.root"), "eft": True},
                    {"name": "bkg", "files": str(d / "bkg.root")},
                ],
                "data": {"files": str(d / "data.root")},
            }
        ],
        "systematics": [{"name": "jes", "type": "weight"}, {"name": "scale", "type": "learned", "kappa": 1.02}],
    }


def _model(d: Path, name: str, replace: dict[str, tuple[str, list[float]]]) -> Path:
    cols = [(n, *replace.get(n, (k, c))) for n, k, c in UNB_COLUMNS]
    return build_columns_model(
        d / name, cols, coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes", "scale"]
    )


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every input file of the matrix, made once."""
    import rooeft

    d = tmp_path_factory.mktemp("bad_inputs")
    raw = make_inputs(d)
    out: dict[str, Path] = {"dir": d}
    (d / "binned.yaml").write_text(yaml.safe_dump(_binned_config(d)))
    (d / "unbinned.yaml").write_text(yaml.safe_dump(_unbinned_config(d, d / "unb.onnx")))
    # models with bad outputs
    _model(d, "frac_bad.onnx", {"frac:sig": ("poly", [1.3, 0.0])})
    _model(d, "inf_out.onnx", {"sysup:sig:jes": ("exp", [0.0, 200.0])})
    _model(d, "neg_sys.onnx", {"sysdown:bkg:jes": ("poly", [-0.5, 0.0])})
    # samples with inconsistent physics
    sig = raw["sig"]
    write_tree(d / "sig_wsm.root", {**sig, "w_sm": 2.0 * sig["weight"]})
    lin = {k: np.zeros_like(sig["weight"]) for k in ("w_c2", "w_c1_c1", "w_c1_c2", "w_c2_c2")}
    write_tree(d / "sig_lin.root", {**sig, **lin, "w_c1": 0.9 * sig["weight"]})
    bkg = raw["bkg"]
    write_tree(d / "bkg_neg.root", {**bkg, "weight": np.where(bkg["pt"] > 100, -3.0, bkg["weight"])})
    import uproot

    with uproot.recreate(d / "sig_int.root") as f:
        cols = {k: np.asarray(v) for k, v in sig.items()}
        cols["x"] = np.round(cols["x"]).astype(np.int32)
        f.mktree("Events", {k: v.dtype for k, v in cols.items()})
        f["Events"].extend(cols)
    data = (d / "sig.root").read_bytes()
    (d / "truncated.root").write_bytes(data[: len(data) // 4])
    shutil.copy(d / "bkg.root", d / "out_templates.root")
    (d / "notes.onnx").write_text("my notes, not a model\n")
    (d / "notes.root").write_text("my notes, not a ROOT file\n")
    (d / "garbage.pt").write_bytes(os.urandom(256))
    # a workspace and result files for the inference commands
    ROOT = rooeft.load_library()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    terms = np.array([[1.0, 0.4, 0.2, 0.3, 0.0, 0.2], [1.0, 1.0, -0.5, 0.9, 0.2, 0.6]])
    binned_workspace(
        ROOT,
        d / "ws.root",
        edges=[0.0, 1.0, 2.0],
        pois={"cHW": (-2.0, 2.0), "cHWtil": (-2.0, 2.0)},
        processes={"sig": (np.array([20.0, 10.0]), terms), "bkg": (np.array([30.0, 5.0]), None)},
        data=[55.0, 17.0],
        norm={"lumi": {"sig": (1.02, 0.98), "bkg": (1.02, 0.98)}},
    )
    # every point of a scan over cHW in [-2, -1.6] has a negative expectation in bin 0
    lin_only = np.array([[1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    binned_workspace(
        ROOT,
        d / "ws_neg.root",
        edges=[0.0, 1.0, 2.0],
        pois={"cHW": (-2.0, 2.0), "cHWtil": (-2.0, 2.0)},
        processes={"sig": (np.array([100.0, 10.0]), lin_only), "bkg": (np.array([5.0, 5.0]), None)},
        data=[105.0, 15.0],
    )
    (d / "ws.root").with_name("truncated_ws.root").write_bytes((d / "ws.root").read_bytes()[:2000])
    assert main(["fit", str(d / "ws.root"), "-o", str(d / "fit.json")]) == 0
    (d / "nokind.json").write_text(json.dumps({"values": [1, 2]}))
    (d / "results").mkdir()
    return out | {k: d / k for k in ()}


def _hashes(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()
    }


@dataclass(frozen=True)
class Case:
    """One bad input: the argv (``{d}`` = fixture folder, ``{t}`` = a fresh folder), the exit code and
    words the one-line message must contain."""

    id: str
    argv: list[str]
    code: int
    words: tuple[str, ...]
    setup: Callable[[Path, Path], None] | None = None


def _yaml(name: str, make: Callable[[Path], dict[str, Any]]) -> Callable[[Path, Path], None]:
    def setup(d: Path, t: Path) -> None:
        (t / name).write_text(yaml.safe_dump(make(d)))

    return setup


def _binned_with(**kw: Any) -> Callable[[Path], dict[str, Any]]:
    return lambda d: _binned_config(d, **kw)


def _edit(
    make: Callable[[Path], dict[str, Any]], fn: Callable[[dict[str, Any]], None]
) -> Callable[[Path], dict[str, Any]]:
    def inner(d: Path) -> dict[str, Any]:
        c = make(d)
        fn(c)
        return c

    return inner


def _set_edges(c: dict[str, Any]) -> None:
    c["channels"][0]["edges"] = [1000.0, 2000.0, 3000.0]


def _set_bkg_neg(c: dict[str, Any]) -> None:
    c["channels"][0]["processes"][1]["files"] = c["channels"][0]["processes"][1]["files"].replace(
        "bkg.root", "bkg_neg.root"
    )


def _set_wide(c: dict[str, Any]) -> None:
    c["coefficients"][0]["range"] = [-3, 3]


def _set_unknown_key(c: dict[str, Any]) -> None:
    c["channels"][0]["bins"] = 3


def _touch(name: str, text: str = "x") -> Callable[[Path, Path], None]:
    def setup(d: Path, t: Path) -> None:
        (t / name).write_text(text)

    return setup


def _evil_pt(d: Path, t: Path) -> None:
    import torch

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {t / 'PWNED'}",))

    torch.save({"format": "rooeft-torch-bundle/1", "module": Evil()}, t / "evil.pt")


def _nonempty_dir(d: Path, t: Path) -> None:
    (t / "out").mkdir()
    (t / "out" / "keep.txt").write_text("mine")


def _plot_once(d: Path, t: Path) -> None:
    assert main(["plot", str(d / "fit.json"), "--output-dir", str(t / "plots"), "--formats", "png"]) == 0


def _existing_generate(d: Path, t: Path) -> None:
    (t / "gen").mkdir()
    (t / "gen" / "btag_sf.json").write_text("{}")


EVIL = "__import__('os').system('touch {t}/PWNED')"

CASES = [
    # ---------------------------------------------------------------------------------- generate
    Case("generate-negative-events", ["generate", "--output-dir", "{t}/g", "--n-signal", "-5"], 1, ("n-signal",)),
    Case("generate-negative-seed", ["generate", "--output-dir", "{t}/g", "--seed", "-1"], 1, ("--seed",)),
    Case(
        "generate-unknown-coefficient", ["generate", "--output-dir", "{t}/g", "--theta", "cXX=1"], 1, ("theta", "cXX")
    ),
    Case(
        "generate-theta-not-number", ["generate", "--output-dir", "{t}/g", "--theta", "cHW=abc"], 1, ("not a number",)
    ),
    Case("generate-output-is-file", ["generate", "--output-dir", "{d}/binned.yaml"], 1, ("not a directory",)),
    Case("generate-chunk-zero", ["generate", "--output-dir", "{t}/g", "--chunk-size", "0"], 1, ("chunk-size",)),
    Case(
        "generate-existing-outputs",
        ["generate", "--output-dir", "{t}/gen", "--n-signal", "0", "--n-background", "0", "--theta", "none"],
        1,
        ("exist", "--force"),
        _existing_generate,
    ),
    # ---------------------------------------------------------------------------------- train
    Case("train-process-syntax", ["train", "--process", "sig{d}/sig.root", "-o", "{t}/m.onnx"], 1, ("NAME=FILE",)),
    Case("train-output-suffix", ["train", "--process", "sig={d}/sig.root", "-o", "{t}/m.txt"], 1, (".onnx",)),
    Case(
        "train-missing-input", ["train", "--process", "sig={t}/nope.root", "-o", "{t}/m.onnx"], 1, ("does not exist",)
    ),
    Case(
        "train-epochs-zero",
        ["train", "--process", "sig={d}/sig.root", "--epochs", "0", "-o", "{t}/m.onnx"],
        1,
        ("--epochs",),
    ),
    Case(
        "train-duplicate-process",
        ["train", "--process", "a={d}/sig.root", "--process", "a={d}/bkg.root", "-o", "{t}/m.onnx"],
        1,
        ("distinct",),
    ),
    Case(
        "train-score-unknown",
        ["train", "--process", "s={d}/sig.root", "--score", "x", "-o", "{t}/m.onnx"],
        1,
        ("--score",),
    ),
    Case("train-output-is-input", ["train", "--process", "s={d}/unb.onnx", "-o", "{d}/unb.onnx"], 1, ("is the input",)),
    Case(
        "train-output-exists", ["train", "--process", "s={d}/sig.root", "-o", "{d}/unb.onnx"], 1, ("exists", "--force")
    ),
    Case(
        "train-replace-non-model",
        ["train", "--process", "s={d}/sig.root", "-o", "{d}/notes.onnx", "--force"],
        1,
        ("not a rooeft ONNX model",),
    ),
    Case(
        "train-not-root",
        ["train", "--process", "s={d}/binned.yaml", "-o", "{t}/m.onnx", "--epochs", "1"],
        1,
        ("ROOT file",),
    ),
    # ---------------------------------------------------------------------------------- export
    Case("export-code-in-pt", ["export", "{t}/evil.pt", "-o", "{t}/m.onnx"], 1, ("loaded safely",), _evil_pt),
    Case("export-garbage-pt", ["export", "{d}/garbage.pt", "-o", "{t}/m.onnx"], 1, ("not a rooeft torch bundle",)),
    Case("export-check-not-onnx", ["export", "--check", "{d}/binned.yaml"], 1, ("cannot read ONNX",)),
    Case("export-check-missing", ["export", "--check", "{t}/none.onnx"], 1, ("does not exist",)),
    Case("export-onnx-source", ["export", "{d}/unb.onnx"], 1, ("is an ONNX model",)),
    Case("export-output-suffix", ["export", "{d}/garbage.pt", "-o", "{d}/garbage.pt"], 1, ("must end in .onnx",)),
    Case("export-bad-tolerance", ["export", "--check", "{d}/unb.onnx", "--tolerance", "-1"], 1, ("--tolerance",)),
    Case(
        "export-replace-non-model",
        ["export", "{d}/garbage.pt", "-o", "{d}/notes.onnx", "--force"],
        1,
        ("not a rooeft ONNX model",),
    ),
    Case("export-check-nan", ["export", "--check", "{d}/inf_out.onnx"], 1, ("NaN/inf", "sysup:sig:jes")),
    # ---------------------------------------------------------------------------------- build
    Case(
        "build-code-in-cut",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("cut", "unknown function '__import__'"),
        _yaml("c.yaml", _binned_with(cut=EVIL)),
    ),
    Case(
        "build-attribute-in-weight",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("weight", "'.'"),
        _yaml("c.yaml", _binned_with(weight="weight.__class__")),
    ),
    Case(
        "build-lambda-in-cut",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("cut", "':'"),
        _yaml("c.yaml", _binned_with(cut="(lambda: 1)()")),
    ),
    Case(
        "build-missing-branch-in-cut",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("missing branch", "nope"),
        _yaml("c.yaml", _binned_with(cut="nope > 1")),
    ),
    Case("build-output-is-config", ["build", "{d}/binned.yaml", "-o", "{d}/binned.yaml"], 1, ("is the input",)),
    Case("build-output-is-model", ["build", "{d}/unbinned.yaml", "-o", "{d}/unb.onnx"], 1, ("is the input",)),
    Case("build-output-is-sample", ["build", "{d}/binned.yaml", "-o", "{d}/sig.root", "--force"], 1, ("is the input",)),
    Case(
        "build-templates-side-file-is-input",
        ["build", "{t}/c.yaml", "-o", "{d}/out.root"],
        1,
        ("is the input", "out_templates.root"),
        _yaml(
            "c.yaml",
            _edit(
                _binned_with(),
                lambda c: c["channels"][0]["processes"][1].update(
                    files=str(c["channels"][0]["processes"][1]["files"]).replace("bkg.root", "out_templates.root")
                ),
            ),
        ),
    ),
    Case("build-output-exists", ["build", "{d}/binned.yaml", "-o", "{d}/ws.root"], 1, ("exists", "--force")),
    Case(
        "build-replace-non-root",
        ["build", "{d}/binned.yaml", "-o", "{d}/notes.root", "--force"],
        1,
        ("not a ROOT file",),
    ),
    Case("build-missing-config", ["build", "{t}/none.yaml", "-o", "{t}/ws.root"], 1, ("not found",)),
    Case(
        "build-yaml-syntax",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("cannot parse",),
        _touch("c.yaml", "a: [1, 2\n"),
    ),
    Case(
        "build-unknown-key",
        ["build", "{t}/c.yaml", "--check"],
        1,
        ("bins", "unknown key"),
        _yaml("c.yaml", _edit(_binned_with(), _set_unknown_key)),
    ),
    Case(
        "build-fraction-above-one",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("fraction outside [0, 1]", "events", "event"),
        _yaml("c.yaml", lambda d: _unbinned_config(d, d / "frac_bad.onnx")),
    ),
    Case(
        "build-nonfinite-network",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("non-finite network output", "sysup:sig:jes"),
        _yaml("c.yaml", lambda d: _unbinned_config(d, d / "inf_out.onnx")),
    ),
    Case(
        "build-negative-systematic-ratio",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("systematic ratio not positive",),
        _yaml("c.yaml", lambda d: _unbinned_config(d, d / "neg_sys.onnx")),
    ),
    Case(
        "build-int-observable",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("observable 'x'", "int32"),
        _yaml("c.yaml", lambda d: _unbinned_config(d, d / "unb.onnx", d / "sig_int.root")),
    ),
    Case(
        "build-w-sm-mismatch",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("w_sm", "w_sm_mismatch"),
        _yaml(
            "c.yaml",
            _edit(
                _binned_with(),
                lambda c: c["channels"][0]["processes"][0].update(
                    files=[str(c["channels"][0]["processes"][0]["files"][0]).replace("sig.root", "sig_wsm.root")]
                ),
            ),
        ),
    ),
    Case(
        "build-negative-yield-in-box",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("expected yield", "c1=-3"),
        _yaml(
            "c.yaml",
            _edit(
                _edit(_binned_with(), _set_wide),
                lambda c: c["channels"][0]["processes"][0].update(
                    files=[str(c["channels"][0]["processes"][0]["files"][0]).replace("sig.root", "sig_lin.root")]
                ),
            ),
        ),
    ),
    Case(
        "build-empty-bins",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("no expected events", "merge"),
        _yaml("c.yaml", _edit(_binned_with(), _set_edges)),
    ),
    Case(
        "build-negative-bins",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("negative", "merge"),
        _yaml("c.yaml", _edit(_binned_with(), _set_bkg_neg)),
    ),
    Case(
        "build-truncated-sample",
        ["build", "{t}/c.yaml", "-o", "{t}/ws.root"],
        1,
        ("truncated.root",),
        _yaml(
            "c.yaml",
            _edit(
                _binned_with(),
                lambda c: c["channels"][0]["processes"][1].update(
                    files=str(c["channels"][0]["processes"][1]["files"]).replace("bkg.root", "truncated.root")
                ),
            ),
        ),
    ),
    # ---------------------------------------------------------------------------------- fit
    Case("fit-missing-workspace", ["fit", "{t}/none.root"], 1, ("does not exist",)),
    Case("fit-workspace-is-dir", ["fit", "{d}/results"], 1, ("is a directory",)),
    Case("fit-workspace-not-root", ["fit", "{d}/binned.yaml"], 1, ("binned.yaml",)),
    Case("fit-truncated-workspace", ["fit", "{d}/truncated_ws.root"], 1, ("truncated_ws.root",)),
    Case("fit-output-is-workspace", ["fit", "{d}/ws.root", "-o", "{d}/ws.root", "--force"], 1, ("is the input",)),
    Case("fit-tree-is-workspace", ["fit", "{d}/ws.root", "--tree", "{d}/ws.root", "--force"], 1, ("is the input",)),
    Case("fit-output-equals-tree", ["fit", "{d}/ws.root", "-o", "{t}/a", "--tree", "{t}/a"], 1, ("same file",)),
    Case("fit-asimov-not-number", ["fit", "{d}/ws.root", "--asimov", "cHW=abc"], 1, ("not a number",)),
    Case("fit-asimov-nan", ["fit", "{d}/ws.root", "--asimov", "cHW=nan"], 1, ("finite",)),
    Case(
        "fit-output-parent-is-file", ["fit", "{d}/ws.root", "-o", "{d}/binned.yaml/fit.json"], 1, ("not a directory",)
    ),
    Case(
        "fit-replace-non-result",
        ["fit", "{d}/ws.root", "-o", "{d}/binned.yaml", "--force"],
        1,
        ("not a rooeft result JSON",),
    ),
    Case("fit-output-exists", ["fit", "{d}/ws.root", "-o", "{d}/fit.json"], 1, ("exists", "--force")),
    # ---------------------------------------------------------------------------------- scan
    Case("scan-unknown-poi", ["scan", "{d}/ws.root", "--poi", "cXX", "--workers", "1", "--no-progress"], 1, ("cXX",)),
    Case(
        "scan-range-beyond",
        ["scan", "{d}/ws.root", "--poi", "cHW", "--range=-5:1", "--workers", "1", "--no-progress"],
        1,
        ("exceeds its range",),
    ),
    Case("scan-range-reversed", ["scan", "{d}/ws.root", "--poi", "cHW", "--range", "1:-1"], 1, ("LO < HI",)),
    Case("scan-one-point", ["scan", "{d}/ws.root", "--poi", "cHW", "--points", "1"], 1, ("at least 2",)),
    Case("scan-same-pois", ["scan", "{d}/ws.root", "--poi", "cHW", "--poi2", "cHW"], 1, ("differ",)),
    Case(
        "scan-output-is-workspace", ["scan", "{d}/ws.root", "--poi", "cHW", "-o", "{d}/ws.root"], 1, ("is the input",)
    ),
    # ---------------------------------------------------------------------------------- limits
    Case("limits-range-unknown-poi", ["limits", "{d}/ws.root", "--range", "cHWx=-1:1"], 1, ("unknown POI", "cHWx")),
    Case("limits-pois-unknown", ["limits", "{d}/ws.root", "--pois", "nope"], 1, ("unknown POI", "nope")),
    Case("limits-range-syntax", ["limits", "{d}/ws.root", "--range", "cHW"], 1, ("POI=LO:HI",)),
    Case("limits-output-is-workspace", ["limits", "{d}/ws.root", "-o", "{d}/ws.root"], 1, ("is the input",)),
    # ---------------------------------------------------------------------------------- toys
    Case("toys-zero", ["toys", "{d}/ws.root", "-n", "0"], 1, ("at least 1",)),
    Case("toys-truth-not-number", ["toys", "{d}/ws.root", "--truth", "cHW=x"], 1, ("not a number",)),
    Case("toys-negative-seed", ["toys", "{d}/ws.root", "--seed", "-1"], 1, ("--seed",)),
    Case("toys-tree-is-workspace", ["toys", "{d}/ws.root", "--tree", "{d}/ws.root"], 1, ("is the input",)),
    # ---------------------------------------------------------------------------------- posterior
    Case(
        "posterior-missing-workspace", ["posterior", "{t}/none.root", "--output-dir", "{t}/p"], 1, ("does not exist",)
    ),
    Case(
        "posterior-bad-prior",
        ["posterior", "{d}/ws.root", "--prior", "cHW=flat", "--output-dir", "{t}/p"],
        1,
        ("flat",),
    ),
    Case("posterior-output-is-file", ["posterior", "{d}/ws.root", "--output-dir", "{d}/fit.json"], 1, ("is a file",)),
    Case(
        "posterior-live-points",
        ["posterior", "{d}/ws.root", "--live-points", "0", "--output-dir", "{t}/p"],
        1,
        ("--live-points",),
    ),
    Case(
        "posterior-missing-scan",
        ["posterior", "{d}/ws.root", "--scan", "{t}/s.json", "--output-dir", "{t}/p"],
        1,
        ("does not exist",),
    ),
    # ---------------------------------------------------------------------------------- plot
    Case("plot-missing-result", ["plot", "{t}/none.json", "--output-dir", "{t}/plots"], 1, ("does not exist",)),
    Case("plot-not-json", ["plot", "{d}/binned.yaml", "--output-dir", "{t}/plots"], 1, ("binned.yaml",)),
    Case("plot-no-kind", ["plot", "{d}/nokind.json", "--output-dir", "{t}/plots"], 1, ("nokind.json",)),
    Case("plot-output-is-input", ["plot", "{d}/fit.json", "--output-dir", "{d}/fit.json"], 1, ("is the input",)),
    Case(
        "plot-existing-figure",
        ["plot", "{d}/fit.json", "--output-dir", "{t}/plots", "--formats", "png"],
        1,
        ("exists", "--force"),
        _plot_once,
    ),
    # ---------------------------------------------------------------------------------- demo
    Case("demo-missing-data", ["demo", "--data-dir", "{t}/none", "--output-dir", "{t}/o"], 1, ("not a directory",)),
    Case("demo-output-is-data", ["demo", "--data-dir", "{d}", "--output-dir", "{d}"], 1, ("lacks",)),
    Case(
        "demo-data-without-samples",
        ["demo", "--data-dir", "{d}/results", "--output-dir", "{t}/o"],
        1,
        ("lacks", "pseudodata_sm.root"),
    ),
    Case(
        "demo-output-not-empty",
        ["demo", "--data-dir", str(REPO / "data" / "zh"), "--output-dir", "{t}/out"],
        1,
        ("not empty", "--force"),
        _nonempty_dir,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, fx: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = fx["dir"]
    if case.setup is not None:
        case.setup(d, tmp_path)
    capsys.readouterr()
    before = _hashes(d)
    before_t = _hashes(tmp_path)
    argv = [a.replace("{d}", str(d)).replace("{t}", str(tmp_path)) for a in case.argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == case.code, (code, out[-2000:], err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out
    text = err if case.code == 1 else out + err
    assert f"rooeft {argv[0]}: error:" in err, err
    for word in case.words:
        assert word in text, (word, err)
    if case.code == 1:  # one clear line (config errors list their problems indented below it)
        first = [line for line in err.splitlines() if line.startswith(f"rooeft {argv[0]}: error:")]
        assert len(first) == 1, err
    assert _hashes(d) == before, "an input file changed"
    for name, digest in before_t.items():
        assert _hashes(tmp_path).get(name) == digest, f"{name} changed"
    assert not (tmp_path / "PWNED").exists(), "code from an input was executed"
    leftovers = [p.name for p in tmp_path.rglob(".*.tmp")] + [p.name for p in d.rglob(".*.tmp")]
    assert not leftovers, leftovers


def test_matrix_is_large_enough() -> None:
    commands = {c.argv[0] for c in CASES}
    assert len(CASES) >= 60
    assert commands >= {
        "generate",
        "train",
        "export",
        "build",
        "fit",
        "scan",
        "limits",
        "toys",
        "posterior",
        "plot",
        "demo",
    }


def test_roofit_spew_goes_to_the_log(fx: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A scan through a region of negative expectations: RooFit's per-evaluation errors land in the log,
    the terminal gets the result and one summary line."""
    d = fx["dir"]
    argv = [
        "scan",
        str(d / "ws_neg.root"),
        "--poi",
        "cHW",
        "--range=-2:-1.6",
        "--points",
        "3",
        "--workers",
        "1",
        "--no-progress",
        "--fix-others",
        "-o",
        str(tmp_path / "scan.json"),
    ]
    main(argv)
    out, err = capfd.readouterr()
    assert len((out + err).splitlines()) < 15, out + err
    log = tmp_path / "scan.log"
    assert log.is_file() and log.read_text().startswith("# rooeft scan")
    assert "Traceback" not in err


def _scan_with(statuses: list[int]) -> Any:
    from rooeft.infer.scan import Scan1D, ScanPoint

    points = tuple(
        ScanPoint(values={"cHW": 0.1 * i}, nll=1.0, delta_nll=0.5 if s == 0 else float("nan"), status=s)
        for i, s in enumerate(statuses)
    )
    return Scan1D(
        poi="cHW",
        profiled=True,
        asimov=False,
        label="",
        bestfit={"cHW": 0.0},
        points=points,
        intervals={"68": (), "95": ()},
    )


def test_failed_scan_points_are_named() -> None:
    from rooeft.cli.scan import _failures

    assert _failures(_scan_with([0, 0, 0]), ["cHW"]) == []
    failed = _failures(_scan_with([0, 4, 0, 3]), ["cHW"])
    assert failed == ["cHW=0.1 (status 4)", "cHW=0.3 (status 3)"]


def test_failed_toys_exit_3_and_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from rooeft.cli.toys import _report
    from rooeft.infer.toys import ToyFit, ToysResult

    fits = tuple(
        ToyFit(index=i, status=s, cov_quality=3, values={"cHW": 0.1}, errors={"cHW": 0.2}, q={"cHW": 0.5})
        for i, s in enumerate([0, 1, 0])
    )
    res = ToysResult(truth={"cHW": 0.0}, n_toys=3, fits=fits, coverage={}, pulls={})
    args = argparse.Namespace(output=None, tree=None)
    assert _report(res, args, tmp_path / "toys.log") == 3
    err = capsys.readouterr().err
    assert "1 of 3 toy fits failed" in err and "#1 (status 1)" in err


# ------------------------------------------------------------------------------- no code from inputs
FORBIDDEN = re.compile(
    r"(?<![\w.])eval\(|(?<![\w.])exec\(|weights_only\s*=\s*False|shell\s*=\s*True|"
    r"\bimport\s+(c?pickle|dill|marshal|shelve)\b|\bfrom\s+(c?pickle|dill|marshal|shelve)\s+import\b|"
    r"pickle\.loads?\(|allow_pickle\s*=\s*True|yaml\.load\(|yaml\.unsafe_load"
)


def test_no_code_execution_primitives_in_the_package() -> None:
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "pt.__class__",
        "getattr(pt, 'x')",
        "[x for x in pt]",
        "pt; import os",
        "lambda: 1",
        "pt if pt else 0",
        "open('/etc/passwd')",
        "'a' + 'b'",
        "pt @ pt",
        "(" * 200 + "pt" + ")" * 200,
    ],
)
def test_expression_grammar_refuses(text: str) -> None:
    from rooeft.expr import ExpressionError, compile_expression

    with pytest.raises(ExpressionError, match=r"^cut: "):
        compile_expression(text, field="cut")


def test_expression_grammar_computes_with_numpy() -> None:
    from rooeft.expr import compile_expression

    cols = {"pt": np.array([50.0, 150.0, 250.0]), "njet": np.array([0, 1, 3], dtype=np.int32)}
    e = compile_expression("pt > 100 & njet < 2 or not njet", field="cut")
    assert e.selects(cols, n_events=3).tolist() == [True, True, False]
    w = compile_expression("sqrt(pt) * where(njet == 0, 2, 1) + -1**2", field="weight")
    np.testing.assert_allclose(w.evaluate(cols, n_events=3), np.sqrt(cols["pt"]) * [2, 1, 1] - 1)
    assert compile_expression("1.5", field="weight").evaluate({}, n_events=2).tolist() == [1.5, 1.5]
    assert compile_expression("0 < pt < 200", field="cut").selects(cols, n_events=3).tolist() == [True, True, False]


def test_sample_cut_with_code_is_refused_not_run(fx: dict[str, Path], tmp_path: Path) -> None:
    from rooeft.samples import SampleError, read_sample

    with pytest.raises(SampleError, match="unknown function '__import__'"):
        read_sample(fx["dir"] / "sig.root", cut=EVIL.replace("{t}", str(tmp_path)))
    assert not (tmp_path / "PWNED").exists()


# ------------------------------------------------------------------------------- writes and interrupts
def test_outputs_respect_the_umask_and_leave_no_temporary_file(fx: dict[str, Path], tmp_path: Path) -> None:
    from rooeft.safeio import atomic_write

    old = os.umask(0o002)
    try:
        assert main(["fit", str(fx["dir"] / "ws.root"), "-o", str(tmp_path / "fit.json")]) == 0
        assert (tmp_path / "fit.json").stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "x.json") as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), atomic_write(tmp_path / "y.json") as tmp:
        tmp.write_text("partial")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.json", "fit.log"]


def test_force_replaces_own_kind_and_says_so(
    fx: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fit.json"
    ws = str(fx["dir"] / "ws.root")
    assert main(["fit", ws, "-o", str(out)]) == 0
    assert main(["fit", ws, "-o", str(out), "--force"]) == 0
    assert f"replacing existing {out}" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "fit", str(tmp_path / "none.root")]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "none.root"), "--debug"]) == 1


def test_interrupted_generate_does_not_block_a_rerun(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    cmd = [
        sys.executable,
        "-m",
        "rooeft.cli",
        "generate",
        "--output-dir",
        str(out),
        "--n-signal",
        "3000000",
        "--n-background",
        "10",
        "--theta",
        "none",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "btag_sf.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not [p.name for p in out.iterdir()], "an interrupted generate left files behind"


def test_scan_with_failing_points_exits_3_end_to_end(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """End to end through a real likelihood: a linear-only ratio R = 1 + c·x turns negative for
    part of the scan range (a hand-built workspace, so the build-time checks cannot refuse it).
    Those points fail, the scan writes its result, exits 3 and names the failed points."""
    import rooeft

    from test_infer_workspaces import _finish, _ws_common

    ROOT = rooeft.load_library()
    model = build_columns_model(
        tmp_path / "lin.onnx", [("lin:sig:c", "poly", [0.0, 1.0])], coefficients=["c"], nominal_rates={"sig": 400.0}
    )
    keep = _ws_common(ROOT, {"c": (-3.0, 3.0)}, [])
    x = ROOT.RooRealVar("x", "x", 0.0, -8.0, 8.0)
    pdf = ROOT.RooEFTUnbinnedPdf(
        "pdf_unb", "", str(model), ROOT.RooArgList(x), ROOT.RooArgList(keep["pois"]["c"]), ROOT.RooArgList()
    )
    keep["cat"].defineType("unb", 0)
    xs = np.random.default_rng(3).normal(size=400)
    meta = {"version": 1, "coefficients": ["c"], "channels": [{"name": "unb", "kind": "unbinned"}]}
    ws = _finish(ROOT, tmp_path / "ws.root", keep, [("unb", pdf, x)], {"unb": ({"x": xs}, np.ones(xs.size))}, {}, meta)
    before = hashlib.sha256(ws.read_bytes()).hexdigest()
    out = tmp_path / "scan.json"
    rc = main(["scan", str(ws), "--poi", "c", "--points", "5", "--range=-0.2:2", "--workers", "1", "-o", str(out)])
    err = capfd.readouterr().err
    assert rc == 3, err
    assert "scan points failed" in err and "c=2 (status" in err and "Traceback" not in err
    points = json.loads(out.read_text())["points"]
    ok = [p["status"] == 0 for p in points]
    assert ok[0] and not ok[3] and not ok[4]  # R < 0 for x < -1/c: many events at c = 1.45 and 2
    assert hashlib.sha256(ws.read_bytes()).hexdigest() == before
