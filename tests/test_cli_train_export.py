"""`rooeft train` and `rooeft export` end to end on small ROOT files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import uproot

from rooeft.cli import main
from rooeft.onnx_convention import read_interface


def _write(path: Path, columns: dict[str, np.ndarray]) -> None:
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in columns.items()})
        f["Events"].extend(columns)


@pytest.fixture
def ntuples(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=n)
    y = rng.uniform(-1, 1, size=n)
    w0 = np.full(n, 0.5)
    sig = {
        "x": x,
        "y": y,
        "weight": w0,
        "w_sm": w0,
        "w_c": w0 * 0.4 * x,
        "w_c_c": w0 * 0.1 * x * x,
        "weight_jesUp": w0 * np.exp(0.05 * x),
        "weight_jesDown": w0 * np.exp(-0.05 * x),
    }
    xb = rng.normal(1.0, 1.0, size=n)
    yb = rng.uniform(-1, 1, size=n)
    bkg = {
        "x": xb,
        "y": yb,
        "weight": np.full(n, 0.7),
        "weight_jesUp": np.full(n, 0.7),
        "weight_jesDown": np.full(n, 0.7),
    }
    _write(tmp_path / "sig.root", sig)
    _write(tmp_path / "bkg.root", bkg)
    return tmp_path / "sig.root", tmp_path / "bkg.root"


@pytest.mark.torch
def test_train_then_export_and_check(
    ntuples: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sig, bkg = ntuples
    out = tmp_path / "models" / "toy.onnx"
    rc = main(
        [
            "train",
            "--process",
            f"sig={sig}",
            "--process",
            f"bkg={bkg}",
            "--epochs",
            "2",
            "--width",
            "16",
            "--hidden-layers",
            "1",
            "--quiet",
            "--score",
            "sig",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    iface = read_interface(out)
    assert iface.observables == ("x", "y")
    assert iface.processes == ("sig", "bkg")
    assert iface.systematics == ("jes",)
    assert "quad:sig:c:c" in iface.outputs and "frac:bkg" in iface.outputs and "sysup:sig:jes" in iface.outputs
    assert iface.nominal_rates["sig"] == pytest.approx(1500.0) and iface.nominal_rates["bkg"] == pytest.approx(2100.0)
    score = read_interface(out.with_name("toy_score.onnx"))
    assert score.outputs == ("score:sig:c",)
    assert (tmp_path / "models" / "toy_training").is_dir()
    capsys.readouterr()
    again = tmp_path / "again.onnx"
    assert main(["export", str(out.with_suffix(".pt")), "-o", str(again)]) == 0
    text = capsys.readouterr().out
    assert "C++ vs Python ONNX Runtime max |difference|" in text
    assert read_interface(again).outputs == iface.outputs
    assert main(["export", "--check", str(out)]) == 0


def test_train_rejects_bad_arguments(ntuples: tuple[Path, Path], tmp_path: Path) -> None:
    sig, _ = ntuples
    assert main(["train", "--process", f"sig{sig}", "-o", str(tmp_path / "m.onnx")]) == 1
    assert main(["train", "--process", f"sig={sig}", "-o", str(tmp_path / "m.txt")]) == 1
