"""`rooeft demo --quick` runs end to end on the shipped data (reduced setting, as CI runs it)."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from rooeft.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.torch
def test_demo_quick_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # relative paths, as the README's command uses them
    monkeypatch.chdir(tmp_path)
    data = os.path.relpath(REPO / "data" / "zh", tmp_path)
    assert main(["demo", "--quick", "--data-dir", data, "--output-dir", "demo", "--no-progress"]) == 0
    out = tmp_path / "demo"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fit_status"] == 0
    intervals = summary["intervals"]
    assert set(intervals) == {"cHQ3", "cHW", "cHWtil"}
    for coef, analyses in intervals.items():
        assert set(analyses) == {
            "exact parton-level ratio (optimal)", "learned unbinned", "main (unbinned + score-binned)", "binned pT(Z)",
        }  # fmt: skip
        exact = analyses["exact parton-level ratio (optimal)"]["expected"]["95"]
        # the exact Asimov interval at the SM contains the SM; the binned pT(Z) analysis (no training
        # involved) too, and it is wider than the optimal one
        assert exact and exact[0][0] < 0 < exact[0][1], coef
        ptz = analyses["binned pT(Z)"]["expected"]["95"]
        assert ptz[0][0] < 0 < ptz[-1][1], coef
        assert analyses["binned pT(Z)"]["expected_width_ratio_to_exact"] > 1.0
    for name in ("ws_main.root", "ws_unbinned.root", "ws_ptz.root", "main.yaml"):
        assert (out / "workspaces" / name).is_file()
    for stem in ("templates_ptz", "closure_reco_vs_parton", "scan1d_cHW", "contours_cHW_cHWtil", "pulls"):
        assert (out / "plots" / f"{stem}.png").stat().st_size > 10_000
    assert (out / "results" / "scan2d_cHW_cHWtil_expected.json").is_file()
    text = (out / "summary.md").read_text()
    assert "| cHW | binned pT(Z) |" in text
    # a fresh simulation, its n_eff, the calibrated model's reliability report
    sim = summary["simulation"]["sig"]
    assert sim["events"] > 10_000 and 0.3 * sim["events"] < sim["n_eff"]["yield"] <= sim["events"]
    assert (out / "simulation" / "zh_signal.root").is_file()
    assert json.loads((out / "models" / "zh_unbinned_reliability.json").read_text())["fractions"]
    # validation on toys from an independent pool, every analysis at the SM, exact and main at the BSM point
    validation = summary["validation"]
    assert set(validation) == {"exact", "unbinned", "main", "ptz"}
    for name, points in validation.items():
        assert set(points) == ({"SM", "BSM"} if name in ("exact", "unbinned") else {"SM"}), name
        for coef in ("cHQ3", "cHW", "cHWtil"):
            v = points["SM"][coef]
            assert v["toys"] > 0 and v["std_fit"] > 0 and v["asimov_width"] > 0, (name, coef)
            assert 0.0 <= v["coverage68"] <= v["coverage95"] <= 1.0
    toys = json.loads((out / "results" / "toys_unbinned_BSM_cHW.json").read_text())
    assert toys["source"] == "validation" and toys["truth"]["cHW"] == pytest.approx(0.1)
    assert not (out / "pool").exists()  # the 1-2 GB pool is removed
    # the sensitivity ladders: exact ratio first, then the learned analysis step by step
    for name in ("unbinned", "main"):
        ladder = json.loads((out / "results" / f"ladder_{name}.json").read_text())
        assert ladder["kind"] == "ladder"
        assert [s["name"] for s in ladder["steps"]] == [
            "exact ratio (optimal)", "signal only", "+ bkg", "+ lumi", "+ btag", "+ MC stats",
        ]  # fmt: skip
        for coef in ("cHQ3", "cHW", "cHWtil"):
            widths = [s["width_95"][coef] for s in ladder["steps"]]
            assert all(w > 0 for w in widths), (name, coef, widths)
            # from '+ bkg' on one workspace, more and more parameters profiled: never narrower (the
            # masked signal-only step is only below '+ bkg' for a calibrated model, which --quick is not)
            profiled = widths[2:]
            assert all(b >= a * (1 - 1e-2) for a, b in itertools.pairwise(profiled)), (name, coef, widths)
        assert (out / "plots" / f"ladder_{name}.png").stat().st_size > 10_000
    assert set(summary["ladders"]["learned_vs_optimal_signal_only"]) == {"cHQ3", "cHW", "cHWtil"}
    assert "## Where the sensitivity goes" in text and "| + MC stats |" in text
    assert summary["ladder_time_s"] > 0
    assert "## Validation on independent pseudo-experiments" in text and "| binned pT(Z) | SM | cHW |" in text


def test_demo_missing_inputs_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quick", "--data-dir", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "--data-dir" in err and "nowhere is not a directory" in err
    (tmp_path / "empty").mkdir()
    assert main(["demo", "--quick", "--data-dir", str(tmp_path / "empty"), "--output-dir", str(tmp_path / "o")]) == 1
    assert "pseudodata_sm.root" in capsys.readouterr().err
