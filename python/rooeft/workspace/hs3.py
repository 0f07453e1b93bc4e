"""HS3 JSON export and import of rooeft workspaces (docs/hs3.md).

The model (every pdf and function, the RooEFT classes included, with their ONNX models
base64-encoded inside) is written by ROOT's ``RooJSONFactoryWSTool`` through the importers and
exporters that libRooEFT registers when it is loaded. What the stock tool does not carry exactly
is kept in the JSON under ``misc.rooeft`` and restored on import:

* every dataset (``data_obs``, ``sim_<ch>``, weighted or not, RooDataSet or RooDataHist) with all
  its columns and weights, bit for bit;
* the variables' titles, units, ranges (infinite ones too), binnings, values, errors, constness;
* the ModelConfigs (name and every set) and TNamed objects (``rooeft_metadata``).

The standard HS3 sections (``distributions``, ``functions``, ``data``, ``likelihoods``,
``analyses``, ``parameter_points``, ``domains``) stay in the file for other HS3 readers; a plain
``RooJSONFactoryWSTool::importJSON`` with libRooEFT loaded also reads it (without ``sim_<ch>``).

>>> from rooeft.workspace.hs3 import FORMAT, decode_array, encode_array
>>> import numpy as np
>>> a = np.arange(2000, dtype=np.float64) / 3
>>> spec = encode_array(a)
>>> spec["encoding"], spec["dtype"], spec["size"]
('base64', 'float64-le', 2000)
>>> bool(np.array_equal(decode_array(spec, np.float64, "doc"), a)), encode_array(np.array([0.5, 2.0]))
(True, [0.5, 2.0])
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FORMAT", "FORMAT_VERSION", "HS3Error", "decode_array", "encode_array", "export_json", "import_json"]

FORMAT = "rooeft-hs3"
FORMAT_VERSION = 1
INLINE_MAX = 1024  # longer arrays are written as base64 of little-endian bytes

PathLike = str | os.PathLike[str]
_DTYPES = {"float64-le": "<f8", "float32-le": "<f4", "int32-le": "<i4"}


class HS3Error(ValueError):
    """A workspace that cannot be exported, or a JSON file that cannot be imported (names the file)."""


# ------------------------------------------------------------------------------------ arrays
def encode_array(values: npt.ArrayLike, dtype: str = "float64-le") -> Any:
    """A plain JSON list (short arrays) or ``{"encoding": "base64", "dtype", "size", "data"}``."""
    a = np.ascontiguousarray(values, dtype=_DTYPES[dtype]).ravel()
    if a.size <= INLINE_MAX:
        return [int(v) for v in a] if dtype == "int32-le" else [float(v) for v in a]
    return {
        "encoding": "base64",
        "dtype": dtype,
        "size": int(a.size),
        "data": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def decode_array(spec: Any, dtype: Any, where: str) -> npt.NDArray[Any]:
    """The array written by :func:`encode_array`; ``where`` names it in errors."""
    if isinstance(spec, list):
        try:
            return np.asarray(spec, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise HS3Error(f"{where}: not a list of numbers ({err})") from None
    if not isinstance(spec, dict) or spec.get("encoding") != "base64":
        raise HS3Error(f"{where}: expected a list of numbers or a base64 object")
    kind = spec.get("dtype")
    if kind not in _DTYPES:
        raise HS3Error(f"{where}: unknown dtype {kind!r} (known: {', '.join(_DTYPES)})")
    try:
        raw = base64.b64decode(str(spec.get("data", "")), validate=True)
    except (binascii.Error, ValueError) as err:
        raise HS3Error(f"{where}: corrupted base64 ({err})") from None
    a = np.frombuffer(raw, dtype=_DTYPES[kind]) if len(raw) % np.dtype(_DTYPES[kind]).itemsize == 0 else None
    if a is None or a.size != spec.get("size"):
        raise HS3Error(f"{where}: base64 data of {len(raw)} bytes does not hold size={spec.get('size')} {kind} values")
    return a.astype(dtype)


def _number(x: float) -> float | str:
    """A JSON-safe float: infinities as the strings "inf"/"-inf"."""
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _from_number(x: Any) -> float:
    return float(x)  # float("inf"), float("-inf") parse the strings


# ------------------------------------------------------------------------------------ files
def _root_with_library() -> Any:
    import rooeft

    return rooeft.load_library()


def _require_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise HS3Error(f"{what} {p} does not exist")
    if not p.is_file():
        raise HS3Error(f"{what} {p} is not a regular file")
    return p


def _open_workspace(ROOT: Any, path: Path, name: str | None) -> tuple[Any, Any]:
    """(TFile, RooWorkspace) of a workspace file, checked with uproot before ROOT opens it."""
    from rooeft.safeio import is_root_file

    if not is_root_file(path):
        raise HS3Error(f"workspace file {path} is not a ROOT file")
    import uproot

    try:
        with uproot.open(path) as f:
            classes = f.classnames(recursive=False)
    except Exception as err:  # uproot raises many types for truncated or corrupt files
        raise HS3Error(f"workspace file {path} cannot be read (truncated or corrupt?): {type(err).__name__}") from None
    spaces = sorted(k.split(";")[0] for k, c in classes.items() if c == "RooWorkspace")
    if not spaces:
        raise HS3Error(f"{path} holds no RooWorkspace")
    if name is None:
        if len(set(spaces)) > 1:
            raise HS3Error(f"{path} holds several workspaces ({', '.join(spaces)}); name one")
        name = spaces[0]
    elif name not in spaces:
        raise HS3Error(f"{path} holds no workspace '{name}' (it has: {', '.join(spaces)})")
    f = ROOT.TFile.Open(str(path))
    if not f or f.IsZombie():
        raise HS3Error(f"ROOT cannot open {path}")
    ws = f.Get(name)
    if not ws:
        raise HS3Error(f"{path}: cannot read workspace '{name}'")
    return f, ws


def _check_not_input(output: Path, inp: Path) -> None:
    from rooeft.safeio import same_file

    if same_file(output, inp):
        raise HS3Error(f"refusing to write {output}: it is the input {inp}")


# ------------------------------------------------------------------------------------ export
def _variables(ws: Any) -> list[dict[str, Any]]:
    out = []
    for v in ws.allVars():
        if v.ClassName() != "RooRealVar":
            continue
        b = v.getBinning()
        if b.isUniform():
            binning: dict[str, Any] = {"nbins": int(b.numBins())}
        else:
            binning = {"edges": [float(b.array()[i]) for i in range(b.numBoundaries())]}
        out.append(
            {
                "name": v.GetName(),
                "title": v.GetTitle(),
                "unit": v.getUnit(),
                "min": _number(v.getMin()),
                "max": _number(v.getMax()),
                "value": _number(v.getVal()),
                "error": _number(v.getError()),
                "constant": bool(v.isConstant()),
                "binning": binning,
            }
        )
    return out


def _dataset(ROOT: Any, d: Any) -> dict[str, Any]:
    variables = []
    for v in d.get():
        if v.InheritsFrom("RooAbsCategory"):
            states = {str(label): int(index) for label, index in v}
            variables.append({"name": v.GetName(), "kind": "category", "states": states})
        else:
            variables.append({"name": v.GetName(), "kind": "real"})
    spec: dict[str, Any] = {"name": d.GetName(), "title": d.GetTitle(), "class": d.ClassName(), "variables": variables}
    if d.ClassName() == "RooDataSet":
        arrays = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in d.to_numpy().items()}
        wvar = d.weightVar()
        wname = wvar.GetName() if wvar else None
        spec["entries"] = int(d.numEntries())
        spec["weight_variable"] = wname
        spec["columns"] = {
            v["name"]: encode_array(arrays[v["name"]], "int32-le" if v["kind"] == "category" else "float64-le")
            for v in variables
        }
        if wname is not None:
            spec["weights"] = encode_array(arrays[wname])
    elif d.ClassName() == "RooDataHist":
        n = int(d.numEntries())
        spec["bins"] = n
        spec["weights"] = encode_array([d.weight(i) for i in range(n)])
        spec["sumw2"] = encode_array([d.weightSquared(i) for i in range(n)])
    else:
        raise HS3Error(f"dataset '{d.GetName()}' of class {d.ClassName()} is not supported")
    return spec


def _model_config(mc: Any) -> dict[str, Any]:
    def names(s: Any) -> list[str] | None:
        return None if not s else [a.GetName() for a in s]

    pdf = mc.GetPdf()
    return {
        "name": mc.GetName(),
        "title": mc.GetTitle(),
        "pdf": pdf.GetName() if pdf else None,
        "parameters_of_interest": names(mc.GetParametersOfInterest()),
        "observables": names(mc.GetObservables()),
        "nuisance_parameters": names(mc.GetNuisanceParameters()),
        "global_observables": names(mc.GetGlobalObservables()),
        "conditional_observables": names(mc.GetConditionalObservables()),
        "constraint_parameters": names(mc.GetConstraintParameters()),
    }


def _check_exported(ws: Any, tree: dict[str, Any], ws_path: Path) -> None:
    """Every pdf and function of the workspace made it into the JSON with a type."""
    for section in ("distributions", "functions"):
        for entry in tree.get(section, []):
            if "type" not in entry:
                arg = ws.arg(entry.get("name", ""))
                cls = arg.ClassName() if arg else "?"
                raise HS3Error(
                    f"{ws_path}: object '{entry.get('name')}' of class {cls} cannot be exported to HS3 JSON "
                    "(ROOT has no exporter for this class)"
                )


def _finite_axes(entry: dict[str, Any]) -> bool:
    for axis in entry.get("axes", []):
        if "edges" in axis:
            continue
        if not all(isinstance(axis.get(k), (int, float)) for k in ("min", "max")):
            return False
    return True


def export_json(
    ws_path: PathLike, json_path: PathLike, *, workspace: str | None = None, indent: int | None = 1
) -> Path:
    """Write the workspace of ``ws_path`` as HS3 JSON to ``json_path`` (atomically); returns the path.

    Parameters
    ----------
    ws_path
        The ROOT file holding the workspace (never overwritten).
    json_path
        The JSON file to write.
    workspace
        Name of the workspace in the file (default: the only one).
    indent
        JSON indentation (``None``: one line).
    """
    from rooeft.safeio import atomic_write

    src = _require_file(ws_path, "workspace file")
    out = Path(json_path)
    _check_not_input(out, src)
    ROOT = _root_with_library()
    f, ws = _open_workspace(ROOT, src, workspace)
    try:
        tool = ROOT.RooJSONFactoryWSTool(ws)
        try:
            text = str(tool.exportJSONtoString())
        except Exception as err:  # cppyy re-raises the C++ exceptions of the tool and our exporters
            raise HS3Error(f"{src}: HS3 export failed: {_cpp_message(err)}") from None
        tree = json.loads(text)
        _check_exported(ws, tree, src)
        # HS3 readers reject axes without finite bounds (the sim_<ch> weight columns): those datasets
        # live in misc.rooeft only
        tree["data"] = [d for d in tree.get("data", []) if _finite_axes(d)]
        if not tree["data"]:
            del tree["data"]
        generic = []
        model_configs = []
        for obj in ws.allGenericObjects():
            if obj.InheritsFrom("RooStats::ModelConfig"):
                model_configs.append(_model_config(obj))
            elif obj.ClassName() == "TNamed":
                generic.append({"class": "TNamed", "name": obj.GetName(), "title": obj.GetTitle()})
            else:
                raise HS3Error(f"{src}: generic object '{obj.GetName()}' of class {obj.ClassName()} cannot be exported")
        tree.setdefault("misc", {})["rooeft"] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "workspace": {"name": ws.GetName(), "title": ws.GetTitle()},
            "variables": _variables(ws),
            "datasets": [_dataset(ROOT, d) for d in ws.allData()],
            "model_configs": model_configs,
            "generic_objects": generic,
        }
    finally:
        f.Close()
    with atomic_write(out, suffix=".json") as tmp:
        tmp.write_text(json.dumps(tree, indent=indent, allow_nan=False) + "\n")
    return out


def _cpp_message(err: BaseException) -> str:
    """The C++ exception text of a cppyy error (without the C++ signature cppyy puts in front)."""
    text = str(err).strip()
    if "=>" in text:
        text = text.split("=>", 1)[1].strip()
    for prefix in ("runtime_error: ", "invalid_argument: ", "logic_error: "):
        text = text.removeprefix(prefix)
    return text or type(err).__name__


# ------------------------------------------------------------------------------------ import
def _load_tree(src: Path) -> dict[str, Any]:
    try:
        tree = json.loads(src.read_text())
    except UnicodeDecodeError:
        raise HS3Error(f"{src} is not a text (JSON) file") from None
    except json.JSONDecodeError as err:
        raise HS3Error(f"{src} is not valid JSON: {err}") from None
    if not isinstance(tree, dict):
        raise HS3Error(f"{src} is not an HS3 JSON file (top level is not an object)")
    if not any(k in tree for k in ("distributions", "functions", "metadata")):
        raise HS3Error(f"{src} is not an HS3 JSON file (no distributions, functions or metadata)")
    return tree


def _restore_variables(ROOT: Any, ws: Any, specs: list[dict[str, Any]], where: str) -> None:
    for s in specs:
        v = ws.var(s["name"])
        if not v:
            continue  # a variable that no imported object uses
        try:
            v.SetTitle(s["title"])
            v.setUnit(s["unit"])
            v.setRange(_from_number(s["min"]), _from_number(s["max"]))
            b = s["binning"]
            if "edges" in b:
                edges = np.asarray(b["edges"], dtype=np.float64)
                binning = ROOT.RooBinning(len(edges) - 1, edges)
                v.setBinning(binning)
            else:
                v.setBins(int(b["nbins"]))
            v.setVal(_from_number(s["value"]))
            v.setError(_from_number(s["error"]))
            v.setConstant(bool(s["constant"]))
        except (KeyError, TypeError, ValueError) as err:
            raise HS3Error(f"{where}: variable '{s.get('name')}': {err}") from None


def _add_dataset_variables(ROOT: Any, ws: Any, spec: dict[str, Any]) -> None:
    """Create the variables of a dataset that the imported model does not contain."""
    for v in spec["variables"]:
        if ws.arg(v["name"]):
            continue
        if v["kind"] == "category":
            arg = ROOT.RooCategory(v["name"], v["name"])
            for label, index in v["states"].items():
                arg.defineType(label, int(index))
        else:  # range, value and constness follow from misc.rooeft.variables
            arg = ROOT.RooRealVar(v["name"], v["name"], 0.0, -ROOT.RooNumber.infinity(), ROOT.RooNumber.infinity())
        ws.Import(arg, Silence=True)


def _restore_dataset(ROOT: Any, ws: Any, spec: dict[str, Any], where: str) -> None:
    name = spec["name"]
    at = f"{where}: dataset '{name}'"
    keep: list[Any] = []
    variables = []
    for v in spec["variables"]:
        arg = ws.arg(v["name"])
        if not arg:
            raise HS3Error(f"{at}: variable '{v['name']}' is missing")
        variables.append(arg)
    if spec["class"] == "RooDataSet":
        n = int(spec["entries"])
        arrays: dict[str, npt.NDArray[Any]] = {}
        for v in spec["variables"]:
            dtype = np.int32 if v["kind"] == "category" else np.float64
            arrays[v["name"]] = decode_array(spec["columns"][v["name"]], dtype, f"{at}, column '{v['name']}'")
        wname = spec.get("weight_variable")
        if wname is not None:
            arrays[wname] = decode_array(spec["weights"], np.float64, f"{at}, weights")
            wvar = ROOT.RooRealVar(wname, wname, 1.0)
            keep.append(wvar)
            variables = [*variables, wvar]
        for key, a in arrays.items():
            if a.size != n:
                raise HS3Error(f"{at}: column '{key}' has {a.size} entries, expected {n}")
        data = ROOT.RooDataSet.from_numpy(arrays, ROOT.RooArgSet(*variables), name=name, weight_name=wname)
        if data.numEntries() != n:
            raise HS3Error(f"{at}: {n - data.numEntries()} entries lie outside the variables' ranges")
    elif spec["class"] == "RooDataHist":
        data = ROOT.RooDataHist(name, spec["title"], ROOT.RooArgSet(*variables))
        w = decode_array(spec["weights"], np.float64, f"{at}, weights")
        w2 = decode_array(spec["sumw2"], np.float64, f"{at}, sumw2")
        if w.size != data.numEntries() or w2.size != w.size:
            raise HS3Error(f"{at}: {w.size} bin weights for {data.numEntries()} bins")
        for i in range(w.size):
            data.set(i, float(w[i]), float(math.sqrt(w2[i])))
    else:
        raise HS3Error(f"{at}: unsupported class {spec['class']!r}")
    data.SetName(name)
    data.SetTitle(spec["title"])
    if ws.Import(data, Silence=True):
        raise HS3Error(f"{at}: cannot be imported into the workspace")


def _restore_model_config(ROOT: Any, ws: Any, spec: dict[str, Any], where: str) -> None:
    at = f"{where}: ModelConfig '{spec['name']}'"
    mc = ROOT.RooStats.ModelConfig(spec["name"], spec["title"])
    mc.SetWS(ws)
    if spec["pdf"] is not None:
        if not ws.pdf(spec["pdf"]):
            raise HS3Error(f"{at}: pdf '{spec['pdf']}' is missing")
        mc.SetPdf(spec["pdf"])
    setters = {
        "parameters_of_interest": mc.SetParametersOfInterest,
        "observables": mc.SetObservables,
        "nuisance_parameters": mc.SetNuisanceParameters,
        "global_observables": mc.SetGlobalObservables,
        "conditional_observables": mc.SetConditionalObservables,
        "constraint_parameters": mc.SetConstraintParameters,
    }
    for key, setter in setters.items():
        names = spec.get(key)
        if names is None:
            continue
        missing = [n for n in names if not ws.arg(n)]
        if missing:
            raise HS3Error(f"{at}: {key} {', '.join(missing)} not in the workspace")
        setter(ws.argSet(",".join(names)) if names else ROOT.RooArgSet())
    if ws.Import(mc):
        raise HS3Error(f"{at}: cannot be imported into the workspace")


def import_json(json_path: PathLike, ws_path: PathLike) -> Path:
    """Rebuild the workspace of an HS3 JSON file (written by :func:`export_json`, or any HS3 file
    that ROOT's tool reads) and write it to the ROOT file ``ws_path`` (atomically)."""
    from rooeft.safeio import atomic_write

    src = _require_file(json_path, "JSON file")
    out = Path(ws_path)
    _check_not_input(out, src)
    tree = _load_tree(src)
    ours = tree.get("misc", {}).get("rooeft") if isinstance(tree.get("misc"), dict) else None
    if ours is not None:
        if not isinstance(ours, dict) or ours.get("format") != FORMAT:
            raise HS3Error(f"{src}: misc.rooeft is not a {FORMAT} section")
        if int(ours.get("version", 0)) > FORMAT_VERSION:
            raise HS3Error(
                f"{src}: written by a newer rooeft (format version {ours.get('version')} > {FORMAT_VERSION})"
            )
    ROOT = _root_with_library()
    info = ours["workspace"] if ours else {"name": "w", "title": "w"}
    ws = ROOT.RooWorkspace(info["name"], info["title"])
    for_tool = copy.deepcopy(tree)
    if ours is not None:  # datasets and ModelConfigs come from misc.rooeft, exactly
        for key in ("data", "likelihoods", "analyses"):
            for_tool.pop(key, None)
        internal = for_tool.get("misc", {}).get("ROOT_internal", {})
        for key in ("ModelConfigs", "combined_datasets"):
            internal.pop(key, None)
        for_tool["misc"].pop("rooeft", None)
    tool = ROOT.RooJSONFactoryWSTool(ws)
    try:
        ok = tool.importJSONfromString(json.dumps(for_tool))
    except Exception as err:  # cppyy re-raises the tool's and our importers' C++ exceptions
        raise HS3Error(f"{src}: HS3 import failed: {_cpp_message(err)}") from None
    if not ok:
        raise HS3Error(f"{src}: HS3 import failed (see the messages above)")
    if ours is not None:
        where = str(src)
        try:
            for spec in ours["datasets"]:  # dataset columns no model uses (sim_<ch> weight columns)
                _add_dataset_variables(ROOT, ws, spec)
            _restore_variables(ROOT, ws, ours["variables"], where)
            for spec in ours["datasets"]:
                _restore_dataset(ROOT, ws, spec, where)
            for spec in ours["model_configs"]:
                _restore_model_config(ROOT, ws, spec, where)
            for spec in ours["generic_objects"]:
                if spec.get("class") != "TNamed":
                    raise HS3Error(f"{where}: generic object of unsupported class {spec.get('class')!r}")
                ws.Import(ROOT.TNamed(spec["name"], spec["title"]))
        except KeyError as err:
            raise HS3Error(f"{where}: misc.rooeft lacks the key {err}") from None
    with atomic_write(out, suffix=".root") as tmp:
        ws.writeToFile(str(tmp), True)
        if tmp.stat().st_size == 0:
            raise HS3Error(f"writing the workspace to {out} failed")
    return out
