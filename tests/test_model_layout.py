"""One model layout on both sides: C++ ``RooEFT::ModelLayout`` (used by RooEFTONNXFunction and
RooEFTUnbinnedPdf) and its Python mirror ``rooeft.onnx_convention.layout_description`` describe
every column kind of the same file identically."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from rooeft.onnx_convention import layout_description, output_columns
from rooeft.testing.onnx_toys import ColumnSpec


def cpp_description(ROOT: Any, path: Path) -> str:
    data = ROOT.std.vector["unsigned char"](list(path.read_bytes()))
    return str(ROOT.RooEFT.describeLayout(data))


def specs(names: Sequence[str]) -> list[ColumnSpec]:
    """Positive closed-form columns (the values do not matter for the layout)."""
    return [(name, "exp", [0.01 * j, 0.1]) for j, name in enumerate(names)]


CASES: dict[str, dict[str, Any]] = {
    "one-process-one-coefficient": {"coefficients": ["c1"], "processes": ["sig"]},
    "two-processes-two-coefficients-systematics": {
        "coefficients": ["cHW", "cHWtil"],
        "processes": ["sig", "bkg"],
        "eft_processes": ["sig"],
        "systematics": ["jes", "lumi_shape"],
        "nominal_rates": {"sig": 12.5, "bkg": 0.1},
    },
    "three-processes-three-coefficients": {
        "coefficients": ["c1", "c2", "c3"],
        "processes": ["zh", "ww", "tt"],
        "eft_processes": ["zh", "ww"],
        "systematics": ["jes"],
        "nominal_rates": {"zh": 3.0, "ww": 1e-3, "tt": 250.0},
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cpp_and_python_layouts_agree(ROOT: Any, columns_model: Callable[..., Path], case: str) -> None:
    cfg = dict(CASES[case])
    eft = cfg.pop("eft_processes", None)
    names = output_columns(
        processes=cfg["processes"],
        coefficients=cfg["coefficients"],
        eft_processes=eft,
        systematics=cfg.get("systematics", ()),
    )
    names += [f"score:{p}:{c}" for p in cfg["processes"][:1] for c in cfg["coefficients"]]
    path = columns_model(specs(names), **cfg)
    py = layout_description(path)
    assert cpp_description(ROOT, path) == py
    kinds = {line.split("kind=")[1].split()[0] for line in py.splitlines() if line.startswith("column ")}
    expected = {"lin", "quad", "score"} | ({"frac"} if len(cfg["processes"]) > 1 else set())
    assert kinds == expected | ({"sysup", "sysdown"} if cfg.get("systematics") else set())


def test_reversed_quadratic_names_and_scrambled_order(ROOT: Any, columns_model: Callable[..., Path]) -> None:
    """Columns in any order, ``quad:<p>:<b>:<a>`` with b after a: same canonical term on both sides."""
    names = [
        "score:sig:c2",
        "sysdown:bkg:jes",
        "quad:sig:c2:c1",
        "frac:bkg",
        "lin:sig:c2",
        "sysup:bkg:jes",
        "quad:sig:c2:c2",
        "frac:sig",
        "lin:sig:c1",
    ]
    path = columns_model(specs(names), coefficients=["c1", "c2"], processes=["sig", "bkg"], systematics=["jes"])
    py = layout_description(path)
    assert cpp_description(ROOT, path) == py
    assert "column 2 quad:sig:c2:c1: kind=quad process=0 coefficients=0,1 term=4" in py
    assert "process 1 bkg: frac=3 terms=1 shape=1" in py
    assert "terms: sm c1 c2 c1*c1 c1*c2 c2*c2" in py


def test_single_process_without_fraction(ROOT: Any, columns_model: Callable[..., Path]) -> None:
    path = columns_model(specs(["lin:sig:c", "quad:sig:c:c"]), coefficients=["c"])
    py = layout_description(path)
    assert cpp_description(ROOT, path) == py
    assert "process 0 sig: frac=-1 terms=3 shape=0" in py


def test_function_and_pdf_read_the_same_layout(ROOT: Any, columns_model: Callable[..., Path]) -> None:
    """The ONNX function finds columns by name and the pdf its processes through the same layout."""
    path = columns_model(specs(["frac:a", "frac:b", "lin:a:c", "quad:a:c:c"]), coefficients=["c"], processes=["a", "b"])
    x = ROOT.RooRealVar("x", "x", 0.0, -5.0, 5.0)
    f = ROOT.RooEFTONNXFunction("f", "f", str(path), ROOT.RooArgList(x), "quad:a:c:c")
    assert f.outputIndex() == 3
    with pytest.raises(Exception, match="no output column named 'lin:b:c'"):
        ROOT.RooEFTONNXFunction("g", "g", str(path), ROOT.RooArgList(x), "lin:b:c")
    c = ROOT.RooRealVar("c", "c", 0.0, -5.0, 5.0)
    pdf = ROOT.RooEFTUnbinnedPdf("pdf", "pdf", str(path), ROOT.RooArgList(x), ROOT.RooArgList(c), ROOT.RooArgList())
    assert [str(p) for p in pdf.processes()] == ["a", "b"]
    assert pdf.nTerms() == 3


def test_both_sides_reject_a_model_without_the_convention(ROOT: Any, tmp_path: Path) -> None:
    from rooeft.onnx_convention import ConventionError
    from rooeft.testing.onnx_toys import build_mlp_model

    path = build_mlp_model(tmp_path / "plain.onnx", n_in=2, n_out=3)
    with pytest.raises(ConventionError, match="not a rooeft model"):
        layout_description(path)
    with pytest.raises(Exception, match="not a rooeft model"):
        cpp_description(ROOT, path)


def test_metadata_json_readers(ROOT: Any) -> None:
    """The metadata lists and the nominal rates are read by nlohmann/json (shipped with ROOT): any
    valid JSON (escapes, unicode, whitespace, exponents), keys in the text's order, and errors that
    name the metadata key, the problem and the text."""
    lst, rates = ROOT.RooEFT.parseJsonStringList, ROOT.RooEFT.parseJsonNumberMap
    assert [str(s) for s in lst('[ "x" ,"m_bb", "a\\"b", "c\\\\d", "\\u00e9t\\u00e9" ]', "k")] == [
        "x", "m_bb", 'a"b', "c\\d", "été",
    ]  # fmt: skip
    assert list(lst("[]", "k")) == [] and list(lst("", "k")) == []
    got = [(str(p.first), float(p.second)) for p in rates('{"zh": 3, "ww": 1e-3, "tt": -2.5E2}', "k")]
    assert got == [("zh", 3.0), ("ww", 1e-3), ("tt", -250.0)]  # the text's order, not sorted
    assert list(rates("{}", "k")) == [] and list(rates("", "k")) == []
    for text, message in [
        ('["a", "b"', r"'rooeft.observables': malformed JSON \(.*parse error"),
        ('["a", 1]', r"'rooeft.observables': expected a list of strings, got an entry of type number"),
        ('{"a": "b"}', r"'rooeft.observables': expected a list of strings, got a JSON object"),
        ('["a"] x', r"'rooeft.observables': malformed JSON"),
    ]:
        with pytest.raises(Exception, match=message):
            lst(text, "rooeft.observables")
    with pytest.raises(Exception, match=r"'rooeft.nominal_rates': the value of 'sig' is a string, expected a number"):
        rates('{"sig": "1.5"}', "rooeft.nominal_rates")
    with pytest.raises(Exception, match=r"expected an object of numbers, got a JSON array in: \[1\]"):
        rates("[1]", "rooeft.nominal_rates")
