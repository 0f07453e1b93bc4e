"""Run the ``>>>`` examples of every module of the installed rooeft package."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rooeft


def _modules() -> list[str]:
    names = sorted(m.name for m in pkgutil.walk_packages(rooeft.__path__, prefix="rooeft."))
    return ["rooeft", *(n for n in names if not n.endswith("__main__"))]


@pytest.mark.parametrize("name", _modules())
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


def test_public_api() -> None:
    assert rooeft.__all__ == ["__version__", "load_library"]
    import rooeft.onnx_convention as oc
    import rooeft.terms as terms

    assert terms.__all__ == ["monomials", "n_terms", "quadratic_pairs", "term_labels"]
    assert "ModelInterface" in oc.__all__ and "read_interface" in oc.__all__
