"""scripts/compare_demo.py: the before/after gate of a refactor flags moved endpoints and toys."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_demo.py"


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("compare_demo", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _summary() -> dict[str, Any]:
    res = {
        "expected": {"68": [[-1.0, 1.0]], "95": [[-2.0, 2.0]]},
        "observed": {"68": [[-0.5, 1.5]], "95": [[-1.5, 2.5]]},
    }
    toys = {"bias": 0.05, "pull_width": 1.01, "coverage68": 0.68, "coverage95": 0.95}
    return {"intervals": {"c": {"a": res}}, "validation": {"a": {"SM": {"c": toys}}}, "wall_time_s": 10.0}


def _write(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(data))
    return folder


def test_identical_outputs_pass_and_shifts_beyond_tolerance_fail(tmp_path: Path) -> None:
    mod = _module()
    before = _summary()
    text, bad = mod.compare(before, copy.deepcopy(before), 0.02, 0.02)
    assert bad == 0 and "+0.0000" in text
    after = copy.deepcopy(before)
    after["intervals"]["c"]["a"]["observed"]["68"][0][1] += 0.01  # 0.01 of the half-width 1: within 0.02
    assert mod.compare(before, after, 0.02, 0.02)[1] == 0
    after["intervals"]["c"]["a"]["expected"]["95"][0][0] -= 0.05  # 0.05 half-widths: flagged
    after["validation"]["a"]["SM"]["c"]["coverage68"] = 0.71
    text, bad = mod.compare(before, after, 0.02, 0.02)
    assert bad == 2 and "-0.0500 **!**" in text and "+0.0300 **!**" in text
    del after["intervals"]["c"]["a"]["observed"]
    assert mod.compare(before, after, 0.02, 0.02)[1] == 2 + 4  # four observed endpoints missing
    assert mod.main([str(_write(tmp_path / "b", before)), str(_write(tmp_path / "a", after))]) == 1
    assert mod.main([str(tmp_path / "b"), str(tmp_path / "b"), "-o", str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text().startswith("| coefficient |")
    with pytest.raises(SystemExit, match=r"summary\.json not found"):
        mod.main([str(tmp_path), str(tmp_path / "b")])
