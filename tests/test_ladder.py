"""``rooeft ladder``: the chain of analyses derived from one configuration, its Asimov intervals,
the JSON result and the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from test_workspace_build import config_dict, make_inputs

POINTS = 11


def small_config() -> dict[str, Any]:
    """The synthetic analysis restricted to the binned pT channel (no ONNX model), with MC stats."""
    cfg = config_dict()
    cfg["channels"] = [c for c in cfg["channels"] if c["name"] == "cnt"]
    cfg["channels"][0]["mc_stats"] = {"threshold": 0.0}
    cfg["systematics"] = [s for s in cfg["systematics"] if s["name"] != "scale"]  # learned: unbinned only
    return cfg


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ladder")
    make_inputs(d)
    (d / "analysis.yaml").write_text(yaml.safe_dump(small_config(), sort_keys=False))
    return d


@pytest.fixture(scope="module")
def result(inputs: Path) -> Any:
    from rooeft.ladder import ladder

    return ladder(inputs / "analysis.yaml", points=POINTS, workdir=inputs / "steps")


def test_steps_in_chain_order(result: Any, inputs: Path) -> None:
    assert [s.name for s in result.steps] == [
        "signal only", "+ bkg", "+ lumi", "+ xs_bkg", "+ jes", "+ trig", "+ mu_bkg", "+ MC stats",
    ]  # fmt: skip
    assert [s.kind for s in result.steps] == ["signal", "background"] + ["systematic"] * 5 + ["mc_stats"]
    assert result.coefficients == ("c1", "c2")
    assert "learned signal-only" in result.note
    first = yaml.safe_load((inputs / "steps" / "step00.yaml").read_text())
    ch = first["channels"][0]
    assert [p["name"] for p in ch["processes"]] == ["sig"]
    assert first["systematics"] == [] and "mc_stats" not in ch and ch["data"] == {"asimov": {}}


def test_last_step_is_the_original_analysis(result: Any, inputs: Path) -> None:
    from rooeft.infer import scan1d
    from rooeft.workspace import build_workspace

    ws = inputs / "original.root"
    build_workspace(inputs / "analysis.yaml", output=ws, write_template_file=False)
    for c in result.coefficients:
        s = scan1d(ws, c, points=POINTS, range=(-2.0, 2.0), profile_others=False, asimov=True)
        for level in ("68", "95"):
            direct = sum(hi - lo for lo, hi in s.intervals[level])
            assert result.steps[-1].width(c, level) == pytest.approx(direct, rel=1e-6)


def test_widths_never_shrink_along_the_chain(result: Any) -> None:
    # Asimov intervals: a background, a constrained nuisance or a free rate can only widen them
    for c, widths in result.widths("95").items():
        w = np.asarray(widths)
        assert np.all(np.isfinite(w)) and np.all(w > 0)
        assert np.all(np.diff(w) >= -1e-4 * w[:-1]), (c, widths)
        assert w[-1] > 1.2 * w[0]
    rel = result.relative_widths()
    assert all(r[0] == 1.0 for r in rel.values())


def test_json_round_trip(result: Any, tmp_path: Path) -> None:
    from rooeft.infer import read_json, write_json
    from rooeft.ladder import LadderResult

    path = write_json(tmp_path / "ladder.json", result)
    doc = json.loads(path.read_text())
    assert doc["kind"] == "ladder" and doc["steps"][0]["name"] == "signal only"
    assert doc["steps"][0]["relative_width_95"] == {"c1": 1.0, "c2": 1.0}
    back = read_json(path)
    assert isinstance(back, LadderResult) and back == result


def test_configs_without_signal_or_with_unbinned_channels_are_refused(inputs: Path) -> None:
    from rooeft.config import parse_config
    from rooeft.ladder import ladder, ladder_configs

    cfg = small_config()
    for p in cfg["channels"][0]["processes"]:
        p["eft"] = False
    with pytest.raises(ValueError, match="no EFT process"):
        ladder_configs(parse_config(cfg, base_dir=inputs))
    with pytest.raises(ValueError, match="unbinned"):
        ladder_configs(parse_config(config_dict(), base_dir=inputs))
    with pytest.raises(ValueError, match="unknown coefficient 'nope'"):
        ladder(inputs / "analysis.yaml", ranges={"nope": (0.0, 1.0)})


def test_command(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rooeft import cli

    out = tmp_path / "ladder.json"
    cfg = str(inputs / "analysis.yaml")
    args = ["ladder", cfg, "-o", str(out), "--points", "5", "--range", "c1=-1.5,1.5", "--plots", str(tmp_path / "p")]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "signal only" in text and "+ MC stats" in text and "c1 95% width" in text
    doc = json.loads(out.read_text())
    assert doc["ranges"]["c1"] == [-1.5, 1.5] and doc["points"] == 5
    assert (tmp_path / "p" / "ladder.png").is_file() and (tmp_path / "p" / "ladder.pdf").is_file()
    assert cli.main(args) == 1  # the outputs exist: no overwrite without --force
    assert "exists" in capsys.readouterr().err
    assert cli.main(["ladder", cfg, "-o", cfg, "--force"]) == 1  # never the input
    assert "input" in capsys.readouterr().err
    assert cli.main(["ladder", cfg, "--range", "nope=0,1", "--points", "5"]) == 1
    assert "unknown coefficient 'nope'" in capsys.readouterr().err
    assert cli.main(["ladder", cfg, "--range", "c1"]) == 1
    assert cli.main(["ladder", str(tmp_path / "missing.yaml")]) == 1
    with pytest.raises(SystemExit) as err:
        cli.main(["ladder"])
    assert err.value.code == 2
