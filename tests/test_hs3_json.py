"""HS3 JSON export/import (`rooeft export-json` / `import-json`, docs/hs3.md): the workspace read
back from JSON in a fresh process has the same NLL, yields, datasets and ModelConfig; error cases."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from test_workspace_build import config_dict, make_inputs

# Evaluated in a fresh Python process on a workspace file: the NLL of model_s with the ModelConfig's
# constraints and global observables on data_obs at 10 parameter points, every RooEFTYield and
# RooEFTONNXFunction at those points, and fingerprints of the datasets, sets and variables.
EVAL = r"""
import hashlib, json, sys
import numpy as np
import rooeft
ROOT = rooeft.load_library()
ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
f = ROOT.TFile.Open(sys.argv[1])
w = f.Get("w")
mc = w.obj("ModelConfig")
pdf = w.pdf("model_s")
data = w.data("data_obs")
nll = pdf.createNLL(data, ROOT.RooFit.Extended(True), ROOT.RooFit.Constrain(mc.GetNuisanceParameters()),
                    ROOT.RooFit.GlobalObservables(mc.GetGlobalObservables()), ROOT.RooFit.EvalBackend("cpu"))
params = sorted(str(v.GetName()) for s in (mc.GetParametersOfInterest(), mc.GetNuisanceParameters()) for v in s)
rng = np.random.default_rng(2024)
out = {"nll": [], "functions": {}, "data": {}, "vars": {}}
for k in range(10):
    for p in params:
        v = w.var(p)
        lo, hi = v.getMin(), v.getMax()
        if k > 0:
            centre = 1.0 if p.startswith("prop_bin") or p.startswith("mu_") else 0.5 * (lo + hi)
            half = 0.1 if p.startswith("prop_bin") else 0.3 * (hi - lo) / 2
            v.setVal(min(hi, max(lo, centre + half * rng.uniform(-1.0, 1.0))))
    out["nll"].append(nll.getVal())
    for fn in w.allFunctions():
        if fn.ClassName() in ("RooEFTYield", "RooEFTONNXFunction"):
            out["functions"].setdefault(str(fn.GetName()), []).append(fn.getVal())
for d in w.allData():
    arrays = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in d.to_numpy().items()}
    digest = {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in sorted(arrays.items())}
    wv = d.weightVar()
    out["data"][str(d.GetName())] = {"class": d.ClassName(), "n": d.numEntries(), "sum": d.sumEntries(),
                                     "weight": str(wv.GetName()) if wv else None, "columns": digest}
for v in w.allVars():
    if v.ClassName() == "RooRealVar":
        b = v.getBinning()
        finite = np.isfinite(v.getMin()) and np.isfinite(v.getMax())
        edges = [b.array()[i] for i in range(b.numBoundaries())] if finite else None
        out["vars"][str(v.GetName())] = [v.getMin(), v.getMax(), v.isConstant(), b.numBins(), edges, v.getVal()]
out["mc"] = {s: sorted(str(a.GetName()) for a in getattr(mc, "Get" + s)())
             for s in ("ParametersOfInterest", "Observables", "NuisanceParameters", "GlobalObservables")}
out["pdf"] = str(mc.GetPdf().GetName())
out["metadata"] = str(w.obj("rooeft_metadata").GetTitle())
print(json.dumps(out))
"""


def _fresh(*args: str) -> subprocess.CompletedProcess[str]:
    """Run Python in a new process with this test session's environment (library, PYTHONPATH)."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=dict(os.environ), timeout=600)


def _evaluate(path: Path) -> dict[str, Any]:
    proc = _fresh("-c", EVAL, str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic workspace of test_workspace_build (an unbinned channel with shape systematics
    and a normalisation sample, binned channels with shape/norm systematics, Barlow–Beeston γ's and
    a rate modifier, per-process RooEFTYield objects), plus total yields and a RooEFTONNXFunction."""
    from rooeft.config import load_config
    from rooeft.workspace import build_workspace

    d = tmp_path_factory.mktemp("hs3")
    make_inputs(d)
    (d / "analysis.yaml").write_text(yaml.safe_dump(config_dict(), sort_keys=False))
    build_workspace(load_config(d / "analysis.yaml"), output=d / "built.root", write_template_file=False)
    import rooeft

    ROOT = rooeft.load_library()
    f = ROOT.TFile.Open(str(d / "built.root"))
    w = f.Get("w")
    extra = [
        ROOT.RooEFTYield("n_exp_unb_total", "total", w.pdf("pdf_unb"), ""),
        ROOT.RooEFTYield("n_exp_cnt_total", "total", w.pdf("pdf_cnt"), ""),
        ROOT.RooEFTONNXFunction("frac_sig_unb", "frac", str(d / "unb.onnx"), ROOT.RooArgList(w.var("x")), 0),
    ]
    for obj in extra:
        assert not w.Import(obj, Silence=True)
    w.writeToFile(str(d / "ws.root"), True)
    f.Close()
    return d / "ws.root"


@pytest.fixture(scope="module")
def exported(workspace: Path) -> Path:
    from rooeft.workspace.hs3 import export_json

    return export_json(workspace, workspace.with_name("ws.json"))


def test_json_layout(workspace: Path, exported: Path) -> None:
    tree = json.loads(exported.read_text())
    types = {e["name"]: e["type"] for section in ("distributions", "functions") for e in tree[section]}
    assert types["pdf_unb"] == "rooeft_unbinned_pdf"
    assert types["pdf_bin"] == types["pdf_cnt"] == "rooeft_template_pdf"
    assert types["frac_sig_unb"] == "rooeft_onnx_function"
    assert types["n_exp_unb_total"] == types["n_exp_final_bincnt_proc_bkg"] == "rooeft_yield"
    entries = {e["name"]: e for section in ("distributions", "functions") for e in tree[section]}
    unb = entries["pdf_unb"]
    model = base64.b64decode(unb["model"]["data"])
    assert model == (workspace.parent / "unb.onnx").read_bytes()
    assert unb["processes"] == ["sig", "bkg"] and unb["shape_nuisances"] == ["jes", "scale"]
    assert unb["normalisation_sample"]["weights"]["dtype"] == "float64-le"  # 3500 events: base64
    assert {"pdf": "pdf_cnt", "process": "bkg"}.items() <= entries["n_exp_final_bincnt_proc_bkg"].items()
    assert {"pdf": "pdf_unb", "process": ""}.items() <= entries["n_exp_unb_total"].items()
    assert entries["pdf_bin"]["bin_parameters"][0] == "prop_binbin_bin0"
    ours = tree["misc"]["rooeft"]
    assert ours["format"] == "rooeft-hs3"
    assert {d["name"] for d in ours["datasets"]} >= {"data_obs", "sim_unb"}
    assert [m["name"] for m in ours["model_configs"]] == ["ModelConfig"]


def test_round_trip_in_fresh_process(workspace: Path, exported: Path) -> None:
    """The acceptance test: same NLL to 1e-9 relative at 10 points, in a fresh process."""
    back = workspace.with_name("ws_back.root")
    proc = _fresh("-m", "rooeft.cli", "import-json", str(exported), "-o", str(back))
    assert proc.returncode == 0, proc.stderr[-3000:]
    before, after = _evaluate(workspace), _evaluate(back)
    assert len(before["nll"]) == 10 and len(set(before["nll"])) == 10
    for a, b in zip(before["nll"], after["nll"], strict=True):
        assert b == pytest.approx(a, rel=1e-9, abs=0)
    assert set(after["functions"]) == set(before["functions"])
    assert any(k.startswith("n_exp_final_binbin_proc_") for k in before["functions"])
    for name, values in before["functions"].items():
        assert after["functions"][name] == pytest.approx(values, rel=1e-12, abs=0), name
    assert after["data"] == before["data"]  # every column bit for bit, weights, weight variable
    assert {"data_obs", "sim_unb"} <= set(after["data"])
    # ranges (infinite ones too), binnings, constness, values; ROOT's tool reads the named
    # RooConstVars (the constraint widths) back as constant RooRealVars
    assert {k: after["vars"][k] for k in before["vars"]} == before["vars"]
    assert all(k.endswith("_Sigma") and after["vars"][k][2] for k in set(after["vars"]) - set(before["vars"]))
    assert after["mc"] == before["mc"] and after["pdf"] == before["pdf"] == "model_s"
    assert after["metadata"] == before["metadata"]


def test_cli_export_force_and_inputs(workspace: Path, exported: Path, tmp_path: Path) -> None:
    from rooeft.cli import main

    out = tmp_path / "again.json"
    assert main(["export-json", str(workspace), "-o", str(out), "--compact"]) == 0
    assert json.loads(out.read_text())["misc"]["rooeft"]["version"] == 1
    assert main(["export-json", str(workspace), "-o", str(out)]) == 1  # exists, no --force
    assert main(["export-json", str(workspace), "-o", str(out), "--force"]) == 0
    assert main(["export-json", str(workspace), "-o", str(workspace), "--force"]) == 1  # the input
    not_json = tmp_path / "notes.json"
    not_json.write_text("my notes")
    assert main(["export-json", str(workspace), "-o", str(not_json), "--force"]) == 1  # not HS3: kept
    assert not_json.read_text() == "my notes"
    assert main(["import-json", str(exported), "-o", str(exported), "--force"]) == 1
    assert json.loads(exported.read_text())["metadata"]["hs3_version"]


def test_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rooeft.cli import main
    from rooeft.workspace.hs3 import HS3Error, export_json, import_json

    with pytest.raises(HS3Error, match=r"workspace file .*nope\.root does not exist"):
        export_json(tmp_path / "nope.root", tmp_path / "out.json")
    with pytest.raises(HS3Error, match=r"JSON file .*nope\.json does not exist"):
        import_json(tmp_path / "nope.json", tmp_path / "out.root")
    assert main(["import-json", str(tmp_path / "nope.json"), "-o", str(tmp_path / "out.root")]) == 1
    assert "nope.json does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(HS3Error, match=r"bad\.json is not valid JSON"):
        import_json(bad, tmp_path / "out.root")
    notroot = tmp_path / "ws.root"
    notroot.write_text("hello")
    with pytest.raises(HS3Error, match="is not a ROOT file"):
        export_json(notroot, tmp_path / "out.json")
    assert not (tmp_path / "out.root").exists() and not (tmp_path / "out.json").exists()


def _tampered(exported: Path, tmp_path: Path, change: Any) -> Path:
    tree = json.loads(exported.read_text())
    change(tree)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(tree))
    return path


def _entry(tree: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for s in ("distributions", "functions") for e in tree[s] if e["name"] == name)


def test_unknown_class_on_import(exported: Path, tmp_path: Path) -> None:
    from rooeft.workspace.hs3 import HS3Error, import_json

    path = _tampered(exported, tmp_path, lambda t: _entry(t, "pdf_unb").update(type="rooeft_no_such_pdf"))
    with pytest.raises(HS3Error, match=r"tampered\.json: HS3 import failed: .*rooeft_no_such_pdf"):
        import_json(path, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()


def test_unknown_class_on_export(tmp_path: Path, ROOT: Any) -> None:
    from rooeft.workspace.hs3 import HS3Error, export_json

    x = ROOT.RooRealVar("x", "x", 0.0, 10.0)
    pars = [ROOT.RooRealVar(f"p{i}", "p", 1.0, 0.1, 5.0) for i in range(3)]
    pdf = ROOT.RooNovosibirsk("novo", "novo", x, *pars)  # a RooFit class without HS3 exporter
    w = ROOT.RooWorkspace("w")
    w.Import(pdf, Silence=True)
    w.writeToFile(str(tmp_path / "novo.root"), True)
    with pytest.raises(HS3Error, match=r"novo\.root: object 'novo' of class RooNovosibirsk cannot be exported"):
        export_json(tmp_path / "novo.root", tmp_path / "novo.json")
    assert not (tmp_path / "novo.json").exists()


def test_corrupted_base64(exported: Path, tmp_path: Path) -> None:
    from rooeft.workspace.hs3 import HS3Error, import_json

    def break_model(t: dict[str, Any]) -> None:
        m = _entry(t, "pdf_unb")["model"]
        m["data"] = m["data"][:100] + "!" + m["data"][101:]

    path = _tampered(exported, tmp_path, break_model)
    with pytest.raises(HS3Error, match=r"RooEFTUnbinnedPdf 'pdf_unb': ONNX model: corrupted base64"):
        import_json(path, tmp_path / "out.root")

    def truncate_sample(t: dict[str, Any]) -> None:
        w = _entry(t, "pdf_unb")["normalisation_sample"]["weights"]
        w["data"] = w["data"][:-8]

    path = _tampered(exported, tmp_path, truncate_sample)
    with pytest.raises(HS3Error, match=r"normalisation_sample\.weights' decodes to .* bytes, expected 3500 values"):
        import_json(path, tmp_path / "out.root")

    def break_dataset(t: dict[str, Any]) -> None:
        sim = next(d for d in t["misc"]["rooeft"]["datasets"] if d["name"] == "sim_unb")
        sim["columns"]["x"]["data"] = "#" + sim["columns"]["x"]["data"][1:]

    path = _tampered(exported, tmp_path, break_dataset)
    with pytest.raises(HS3Error, match=r"dataset 'sim_unb', column 'x': corrupted base64"):
        import_json(path, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()


def test_learned_normalisation_of_earlier_versions_is_refused(exported: Path, tmp_path: Path) -> None:
    """A file of an earlier version whose unbinned pdf was normalised by the removed closed form
    (``learned_normalisation`` without a ``normalisation_sample``) stops the import with a clear
    error instead of being read with another likelihood."""
    from rooeft.workspace.hs3 import HS3Error, import_json

    def old_normalisation(t: dict[str, Any]) -> None:
        pdf = _entry(t, "pdf_unb")
        del pdf["normalisation_sample"]
        pdf["learned_normalisation"] = {"term_means": [1.0] * 12, "shape_kappa_up": [], "shape_kappa_down": []}

    path = _tampered(exported, tmp_path, old_normalisation)
    with pytest.raises(HS3Error, match=r"'learned_normalisation' .* is no longer supported"):
        import_json(path, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()
