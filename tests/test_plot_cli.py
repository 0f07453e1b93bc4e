"""``rooeft plot``: dispatch on the result kind, overlay of scans, clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rooeft.cli import main
from rooeft.plot import PlotError, load_result, plot_result_files
from test_plot_functions import fit_result, scan1d, scan2d


def write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj))
    return path


def toys_result() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    return {
        "kind": "toys",
        "truth": {"cHW": 0.0},
        "n_toys": 50,
        "fits": [{"status": 0, "values": {"cHW": 0.1}, "errors": {"cHW": 0.2}}] * 50,
        "coverage": {"cHW": {"68": 0.7, "95": 0.96, "n": 50}},
        "pulls": {"cHW": rng.normal(size=50).tolist()},
    }


def history() -> dict[str, Any]:
    return {
        "train_loss": [1.0, 0.8, 0.7],
        "val_loss": [1.1, 0.9, 0.85],
        "learning_rate": [1e-3] * 3,
        "best_epoch": 2,
        "best_val_loss": 0.85,
        "stopped_early": False,
        "seconds": 1.0,
        "epochs": 3,
    }


def test_cli_dispatch_all_kinds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [
        write(tmp_path / "scan_obs.json", scan1d("observed", 0.2, 0.5)),
        write(tmp_path / "scan_exp.json", scan1d("expected", 0.0, 0.5, asimov=True)),
        write(tmp_path / "scan_cHB.json", scan1d("observed", 0.0, 1.0, poi="cHB")),
        write(tmp_path / "contour.json", scan2d("expected", 0.5, 1.0)),
        write(tmp_path / "fit.json", fit_result(np.random.default_rng(1))),
        write(tmp_path / "toys.json", toys_result()),
        write(tmp_path / "zh.loss_history.json", history()),
    ]
    out = tmp_path / "plots"
    assert main(["plot", *map(str, files), "--output-dir", str(out), "--lumi", "300"]) == 0
    expected = {
        "scan1d_cHW",
        "scan1d_cHB",
        "contours_cHW_cHWtil",
        "pulls_fit",
        "toys_pulls_toys",
        "toys_coverage_toys",
        "loss_zh",
    }
    assert {p.name for p in out.iterdir()} == {f"{s}.{ext}" for s in expected for ext in ("png", "pdf")}
    printed = capsys.readouterr().out.split()
    assert len(printed) == 14 and all(Path(p).exists() for p in printed)
    assert all(p.stat().st_size > 5000 for p in out.glob("*.png"))


def test_scans_overlaid_with_labels(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", scan1d("", 0.2, 0.5))
    b = write(tmp_path / "b.json", scan1d("", 0.0, 0.6))
    written = plot_result_files([a, b], tmp_path / "out", formats=("png",), labels=["learned", "exact"])
    assert [p.name for p in written] == ["scan1d_cHW.png"]
    with pytest.raises(PlotError, match="2 labels given for 1"):
        plot_result_files([a], tmp_path / "out", labels=["x", "y"])


def test_cli_formats_option(tmp_path: Path) -> None:
    f = write(tmp_path / "fit.json", fit_result(np.random.default_rng(2)))
    assert main(["plot", str(f), "--output-dir", str(tmp_path / "o"), "--formats", "svg"]) == 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["pulls_fit.svg"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"kind": "limits", "points": []}, "unsupported result kind 'limits'"),
        ({"poi": "cHW"}, "no 'kind' key"),
        ({"kind": "scan1d", "poi": "cHW"}, "scan1d result lacks key(s) points"),
        ([1, 2], "expected a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_files_give_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(PlotError, match=r"bad\.json") as info:
        load_result(path)
    assert message in str(info.value)
    assert main(["plot", str(path), "--output-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rooeft plot: error:") and message in err and str(path) in err
    assert not (tmp_path / "out").exists()  # nothing written when an input is bad


def test_missing_file_and_inconsistent_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path / "nope.json"), "--output-dir", str(tmp_path)]) == 1
    assert "nope.json" in capsys.readouterr().err
    broken = fit_result(np.random.default_rng(3))
    broken["parameters"]["nu0"]["prefit_error"] = 0.0
    f = write(tmp_path / "broken_fit.json", broken)
    assert main(["plot", str(f), "--output-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "broken_fit.json" in err and "'nu0'" in err and "prefit_error" in err


def test_never_overwrites_inputs(tmp_path: Path) -> None:
    # an input that happens to sit where an output would go
    f = write(tmp_path / "scan1d_cHW.png", scan1d("x", 0, 1))
    with pytest.raises(PlotError, match="refusing to overwrite"):
        plot_result_files([f], tmp_path, formats=("png",))
    assert json.loads(f.read_text())["kind"] == "scan1d"


def test_posterior_corner_with_profile_intervals(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    names = np.asarray(["cHW", "cHWtil", "lumi"], dtype=str)
    np.savez(tmp_path / "post.npz", names=names, samples=rng.normal(size=(2000, 3)))
    post = write(
        tmp_path / "posterior.json",
        {"kind": "posterior", "pois": ["cHW", "cHWtil"], "samples_file": "post.npz", "intervals": {}},
    )
    scan = write(tmp_path / "scan.json", scan1d("observed", 0.0, 1.0))
    written = plot_result_files([post, scan], tmp_path / "out", formats=("png",))
    assert sorted(p.name for p in written) == ["corner_posterior.png", "scan1d_cHW.png"]
    bad = write(tmp_path / "bad_post.json", {"kind": "posterior", "pois": ["cHB"], "samples_file": "post.npz"})
    with pytest.raises(PlotError, match=r"POIs \['cHB'\] needed"):
        plot_result_files([bad], tmp_path / "out")
    gone = write(tmp_path / "gone.json", {"kind": "posterior", "pois": ["cHW"], "samples_file": "nope.npz"})
    with pytest.raises(PlotError, match=r"nope\.npz not found"):
        plot_result_files([gone], tmp_path / "out")


def test_same_file_names_do_not_clash(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    f1 = write(tmp_path / "a" / "fit.json", fit_result(np.random.default_rng(1)))
    f2 = write(tmp_path / "b" / "fit.json", fit_result(np.random.default_rng(2)))
    written = plot_result_files([f1, f2], tmp_path / "out", formats=("png",))
    assert [p.name for p in written] == ["pulls_fit.png", "pulls_fit_2.png"]
