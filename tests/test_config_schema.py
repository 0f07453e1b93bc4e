"""Configuration schema: every refusal names the key path and the problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rooeft.config import ConfigError, LnNSystematic, load_config, parse_config, shape_systematics


def base() -> dict[str, Any]:
    procs = [{"name": "sig", "files": "sig.root", "eft": True}, {"name": "bkg", "files": ["bkg.root"]}]
    return {
        "version": 1,
        "coefficients": [{"name": "c1", "range": [-2, 2]}],
        "channels": [
            {
                "name": "ptz",
                "kind": "binned",
                "observable": {"name": "ptz", "expression": "pt_z"},
                "edges": [0, 50, 100],
                "processes": procs,
                "data": {"asimov": {"c1": 0.5}},
                "mc_stats": {"threshold": 0.01},
            },
        ],
        "systematics": [
            {"name": "lumi", "type": "lnN", "kappa": 1.025},
            {"name": "jes", "type": "weight", "processes": ["sig"]},
        ],
    }


def problems(data: dict[str, Any], **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, check_files=False, **kw)
    return info.value.problems


def test_valid_config_and_defaults(tmp_path: Path) -> None:
    cfg = parse_config(base(), base_dir=tmp_path, check_files=False)
    ch = cfg.channels[0]
    assert ch.processes[0].files == [str(tmp_path.resolve() / "sig.root")]
    assert ch.processes[1].eft is False and ch.processes[1].weight == "weight" and ch.processes[1].tree == "Events"
    assert isinstance(cfg.systematics[0], LnNSystematic) and cfg.systematics[0].kappas() == (1.025, 1 / 1.025)
    assert cfg.systematics[1].branches() == ("weight_jesUp", "weight_jesDown")  # type: ignore[union-attr]
    assert [s.name for s in cfg.systematics_for("ptz", "bkg")] == ["lumi"]
    assert shape_systematics(cfg, "ptz") == ["jes"]


def test_yaml_file_paths_relative_to_the_file(tmp_path: Path) -> None:
    sub = tmp_path / "cfg"
    sub.mkdir()
    for f in ("sig.root", "bkg.root"):
        (sub / f).write_bytes(b"")
    (sub / "a.yaml").write_text(yaml.safe_dump(base()))
    cfg = load_config(sub / "a.yaml")
    assert cfg.channels[0].processes[1].files == [str(sub.resolve() / "bkg.root")]
    with pytest.raises(FileNotFoundError, match="configuration file not found"):
        load_config(sub / "missing.yaml")
    (sub / "broken.yaml").write_text("version: 1\nchannels: [\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(sub / "broken.yaml")


def test_missing_files_are_reported_with_their_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(base(), base_dir=tmp_path)
    assert (
        f"channels[0].processes[0].files[0]: file not found: {tmp_path.resolve() / 'sig.root'}" in info.value.problems
    )


def _edit(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        keys = path.split(".")
        node: Any = d
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value

    return apply


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_edit("channels.0.processes.0.efft", True), "channels[0].processes[0].efft: unknown key"),
        (_edit("channels.0.mc_stat", {}), "channels[0].mc_stat: unknown key"),
        (_edit("systematics.0.kapa", 1.1), "systematics[0].kapa: unknown key"),
        (_edit("channels.0.processes.0.eft", "maybe"), "channels[0].processes[0].eft: Input should be a valid boolean"),
        (_edit("channels.0.edges", [0, 100, 50]), "channels[0].edges: bin edges must increase strictly"),
        (_edit("coefficients.0.range", [1, -1]), "coefficients[0]: range must be [low, high] with low < high"),
        (_edit("coefficients.0.sm", 5.0), "coefficients[0]: sm value 5.0 outside range [-2.0, 2.0]"),
        (_edit("channels.0.name", "p t"), "channels[0].name: String should match pattern"),
        (_edit("channels.0.kind", "histogram"), "channels[0]: Input tag 'histogram' found using 'kind' does not match"),
        (_edit("systematics.0.kappa", -1.0), "systematics[0]: kappa must be a positive finite number, got -1.0"),
        (_edit("systematics.1.type", "shape"), "systematics[1]: Input tag 'shape' found using 'type'"),
        (_edit("channels.0.data", {"files": "d.root", "asimov": {}}), "channels[0].data: give exactly one of 'files'"),
        (_edit("channels.0.mc_stats", {"threshold": -1}), "channels[0].mc_stats.threshold: Input should be greater"),
        (_edit("luminosity_scale", 0), "luminosity_scale: must be a positive finite number, got 0"),
        (_edit("channels.0.observable", {"name": "s", "model": "m.onnx"}), "channels[0].observable: a network obs"),
    ],
)
def test_schema_errors_name_the_key(change: Callable[[dict[str, Any]], None], message: str) -> None:
    data = copy.deepcopy(base())
    change(data)
    found = problems(data)
    assert any(p.startswith(message) for p in found), found


def test_version_is_required_and_checked() -> None:
    data = base()
    del data["version"]
    assert problems(data) == ["version: required key missing (this rooeft reads 'version: 1')"]
    data["version"] = 2
    assert problems(data) == ["version: unsupported configuration version 2 (expected 1)"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _edit("systematics.1.processes", ["ttbar"]),
            "systematics[1].processes[0]: unknown process 'ttbar' in channels ['ptz'] (processes: bkg, sig)",
        ),
        (
            _edit("systematics.0.channels", ["ptz", "mll"]),
            "systematics[0].channels[1]: unknown channel 'mll' (channels: ptz)",
        ),
        (
            _edit("channels.0.data", {"asimov": {"cHW": 1.0}}),
            "channels[0].data.asimov.cHW: unknown coefficient 'cHW' (coefficients: c1)",
        ),
        (
            _edit("channels.0.data", {"asimov": {"c1": 3.0}}),
            "channels[0].data.asimov.c1: value 3.0 outside the coefficient range [-2.0, 2.0]",
        ),
        (_edit("systematics.1.name", "lumi"), "systematics[1].name: systematic 'lumi' defined twice"),
        (_edit("systematics.1.name", "c1"), "systematics[1].name: 'c1' is already a coefficient or observable name"),
        (_edit("channels.0.observable.name", "c1"), "channels[0].observable.name: observable name 'c1' is already"),
        (
            _edit("channels.0.processes.1.name", "sig"),
            "channels[0].processes[1].name: duplicate process name 'sig'",
        ),
        (
            _edit("systematics.1", {"name": "mu", "type": "learned", "channels": ["ptz"]}),
            "systematics[1].channels: learned systematics act on unbinned channels only, got binned ['ptz']",
        ),
    ],
)
def test_dangling_references(change: Callable[[dict[str, Any]], None], message: str) -> None:
    data = copy.deepcopy(base())
    change(data)
    found = problems(data)
    assert any(p.startswith(message) for p in found), found


def test_repeated_lnn_must_not_overlap() -> None:
    data = base()
    data["systematics"].append({"name": "lumi", "type": "lnN", "kappa": 1.1, "processes": ["bkg"]})
    assert problems(data) == [
        "systematics[2]: lnN 'lumi' acts on process 'bkg' of channel 'ptz' twice (also systematics[0])"
    ]
    data["systematics"][0]["processes"] = ["sig"]
    parse_config(data, check_files=False)  # per-process κ of one nuisance


def test_all_problems_are_reported_together() -> None:
    data = base()
    data["colour"] = "red"
    data["channels"][0]["processes"][0]["eft"] = "x"
    found = problems(data)
    assert "colour: unknown key" in found
    assert any(p.startswith("channels[0].processes[0].eft:") for p in found)


# --------------------------------------------------------------------------- unbinned channels + ONNX metadata
UNB = [
    ("frac:sig", "sigmoid", [0.0, 1.0]),
    ("frac:bkg", "1-sigmoid", [0.0, 1.0]),
    ("lin:sig:c1", "poly", [0.0, 0.5]),
    ("quad:sig:c1:c1", "poly", [0.0, 0.0, 0.1]),
    ("sysup:sig:jes", "exp", [0.0, 0.1]),
    ("sysdown:sig:jes", "exp", [0.0, -0.1]),
]


def unbinned(tmp_path: Path, model: Path) -> dict[str, Any]:
    data = base()
    for f in ("sig.root", "bkg.root"):
        (tmp_path / f).write_bytes(b"")
    data["channels"] = [
        {
            "name": "unb",
            "kind": "unbinned",
            "model": model.name,
            "processes": data["channels"][0]["processes"],
            "data": {"asimov": {}},
        }
    ]
    return data


def check(data: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, base_dir=tmp_path)
    return info.value.problems


def test_unbinned_channel_matches_its_model(tmp_path: Path, columns_model: Any) -> None:
    model = columns_model(UNB, coefficients=["c1"], processes=["sig", "bkg"], systematics=["jes"])
    data = unbinned(tmp_path, model)
    cfg = parse_config(data, base_dir=tmp_path)
    assert cfg.channels[0].model == str(model)
    # an unbinned channel without a model
    del data["channels"][0]["model"]
    assert check(data, tmp_path) == [
        "channels[0].model: an unbinned channel needs 'model' (an ONNX file in the rooeft convention)"
    ]


def test_model_metadata_mismatches(tmp_path: Path, columns_model: Any) -> None:
    model = columns_model(UNB, coefficients=["c1"], processes=["sig", "bkg"], systematics=["jes"])
    data = unbinned(tmp_path, model)
    data["coefficients"].append({"name": "c2", "range": [-1, 1]})
    data["systematics"][1]["processes"] = ["bkg"]
    data["systematics"].append({"name": "pu", "type": "weight", "channels": ["unb"]})
    data["channels"][0]["observables"] = {"mll": "m_ll"}
    data["channels"][0]["processes"][1]["eft"] = True
    found = check(data, tmp_path)
    name = model.name
    assert found == [
        f"channels[0].observables: ['mll'] do not match the observables of the model {name}: ['x']",
        f"channels[0].model: the model {name} has coefficients ['c1'] but the config has ['c1', 'c2'] "
        "(names and order must agree)",
        "channels[0].processes: EFT processes (eft: true) ['bkg', 'sig'] do not match the processes with "
        f"lin:/quad: columns in the model {name}: ['sig']",
        f"channels[0].model: the model {name} has shape systematics (sysup/sysdown columns) ['jes'] but the "
        "config applies ['jes', 'pu'] to channel 'unb' (weight, correction and learned systematics)",
    ]


def test_model_processes_and_bad_files(tmp_path: Path, columns_model: Any) -> None:
    model = columns_model(UNB, coefficients=["c1"], processes=["sig", "bkg"], systematics=["jes"])
    data = unbinned(tmp_path, model)
    data["channels"][0]["processes"][1]["name"] = "zz"
    data["systematics"][1]["processes"] = None
    found = check(data, tmp_path)
    assert f"channels[0].processes: ['sig', 'zz'] do not match the processes of the model {model.name}: " in found[0]
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    data["channels"][0]["model"] = "junk.onnx"
    found = check(data, tmp_path)
    assert found[0].startswith("channels[0].model: not a model in the rooeft ONNX convention:")
    data["channels"][0]["model"] = "nothere.onnx"
    assert check(data, tmp_path)[0] == f"channels[0].model: file not found: {tmp_path.resolve() / 'nothere.onnx'}"


def test_network_observable_column_checked(tmp_path: Path, columns_model: Any) -> None:
    model = columns_model([("score:sig:c1", "sigmoid", [0.0, 1.0])], coefficients=["c1"])
    data = base()
    for f in ("sig.root", "bkg.root"):
        (tmp_path / f).write_bytes(b"")
    data["channels"][0]["observable"] = {
        "name": "s",
        "model": model.name,
        "column": "score:sig:c2",
        "inputs": {"y": "y"},
    }
    found = check(data, tmp_path)
    assert found == [
        f"channels[0].observable.column: 'score:sig:c2' is not an output column of {model} (columns: score:sig:c1)",
        "channels[0].observable.inputs: ['y'] are not observables of the model (its observables: ['x'])",
    ]
