r"""rooeft's expression language for selections (``cut``), weights and derived observables.

Every string of a configuration that names per-event quantities (``cut``, ``weight``,
``expression``, observable mappings, weight-systematic branches, correctionlib inputs) is parsed
by this module's own tokenizer and recursive-descent parser and computed with numpy. Nothing is
ever handed to Python's ``eval``/``exec`` or to uproot's expression evaluator, so a configuration
cannot run code.

Grammar (lowest precedence first)::

    expr       := or_expr
    or_expr    := and_expr  (("|" | "or")  and_expr)*
    and_expr   := not_expr  (("&" | "and") not_expr)*
    not_expr   := ("~" | "not") not_expr | comparison
    comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)*     a < b < c means (a < b) & (b < c)
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/" | "%") unary)*
    unary      := ("-" | "+") unary | power
    power      := atom ("**" unary)?
    atom       := NUMBER | NAME | FUNCTION "(" expr ("," expr)* ")" | "(" expr ")" | "true" | "false"

``NAME`` is a branch name (letters, digits, underscores; not starting with a digit). Unlike
Python/numpy, ``&`` and ``|`` bind *less* tightly than comparisons, so ``pt > 100 & njet == 0``
means what it says. A number used as a condition is true when non-zero. The functions are
:data:`FUNCTIONS` (numpy's, with ROOT-style aliases such as ``fabs``, ``atan2``, ``pow``).

>>> e = compile_expression("sqrt(px**2 + py**2) > 3 & ~(njet >= 2)", field="cut")
>>> e.branches
('njet', 'px', 'py')
>>> import numpy as np
>>> e.evaluate({"px": np.array([3.0, 4.0, 1.0]), "py": np.array([4.0, 0.0, 1.0]), "njet": np.array([0, 2, 0])},
...            n_events=3).tolist()
[True, False, False]
>>> compile_expression("__import__('os').system('x')", field="cut")
Traceback (most recent call last):
...
rooeft.expr.ExpressionError: cut: unknown function '__import__' at position 1 of "__import__('os').system('x')"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FUNCTIONS", "Expression", "ExpressionError", "compile_expression", "is_branch_name"]

Array = npt.NDArray[Any]

FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    # name: (numpy function, number of arguments)
    "abs": (np.abs, 1),
    "fabs": (np.abs, 1),
    "sqrt": (np.sqrt, 1),
    "exp": (np.exp, 1),
    "expm1": (np.expm1, 1),
    "log": (np.log, 1),
    "log10": (np.log10, 1),
    "log2": (np.log2, 1),
    "log1p": (np.log1p, 1),
    "cos": (np.cos, 1),
    "sin": (np.sin, 1),
    "tan": (np.tan, 1),
    "arccos": (np.arccos, 1),
    "arcsin": (np.arcsin, 1),
    "arctan": (np.arctan, 1),
    "acos": (np.arccos, 1),
    "asin": (np.arcsin, 1),
    "atan": (np.arctan, 1),
    "arctan2": (np.arctan2, 2),
    "atan2": (np.arctan2, 2),
    "cosh": (np.cosh, 1),
    "sinh": (np.sinh, 1),
    "tanh": (np.tanh, 1),
    "arccosh": (np.arccosh, 1),
    "arcsinh": (np.arcsinh, 1),
    "arctanh": (np.arctanh, 1),
    "hypot": (np.hypot, 2),
    "floor": (np.floor, 1),
    "ceil": (np.ceil, 1),
    "round": (np.round, 1),
    "sign": (np.sign, 1),
    "minimum": (np.minimum, 2),
    "maximum": (np.maximum, 2),
    "min": (np.minimum, 2),
    "max": (np.maximum, 2),
    "power": (np.power, 2),
    "pow": (np.power, 2),
    "where": (np.where, 3),
    "clip": (np.clip, 3),
    "isfinite": (np.isfinite, 1),
    "isnan": (np.isnan, 1),
}
"""The functions an expression may call: name → (numpy function, number of arguments)."""

_KEYWORDS = {"and", "or", "not", "true", "false"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/%<>&|~(),])
    """,
    re.VERBOSE,
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_LENGTH = 10_000
_MAX_DEPTH = 100


class ExpressionError(ValueError):
    """An expression outside the grammar; the message names the field and the offending token."""


def is_branch_name(text: str) -> bool:
    """Whether ``text`` is a plain branch name (no operators).

    >>> is_branch_name("pt_Z"), is_branch_name("pt_Z*2"), is_branch_name("and")
    (True, False, False)
    """
    return bool(_IDENT.match(text)) and text not in _KEYWORDS and text not in FUNCTIONS


@dataclass(frozen=True)
class _Tok:
    kind: str  # "number", "name", "op", "end", "bad" (a character outside the grammar)
    text: str
    pos: int  # 0-based offset in the expression


def _tokenize(text: str, field: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # reported when the parser reaches it, so earlier problems are named first
            out.append(_Tok("bad", text[pos], pos))
            return out
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


# AST nodes: tuples whose first element is the node kind
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str, field: str) -> None:
        self.text = text
        self.field = field
        self.prefix = f"{field}: " if field else ""
        self.toks = _tokenize(text, field)
        self.i = 0
        self.depth = 0

    # -- helpers
    def peek(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.kind == "bad":
            raise ExpressionError(
                f"{self.prefix}unexpected character {tok.text!r} at position {tok.pos + 1} of {self.text!r}"
            )
        return tok

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def error(self, tok: _Tok, what: str) -> ExpressionError:
        shown = f"'{tok.text}'" if tok.text else "end of expression"
        return ExpressionError(f"{self.prefix}{what} {shown} at position {tok.pos + 1} of {self.text!r}")

    def accept(self, *texts: str) -> _Tok | None:
        tok = self.peek()
        if tok.kind in ("op", "name") and tok.text in texts:
            self.i += 1
            return tok
        return None

    def expect(self, text: str) -> None:
        tok = self.peek()
        if tok.kind == "op" and tok.text == text:
            self.i += 1
            return
        raise self.error(tok, f"expected '{text}', found")

    # -- grammar
    def parse(self) -> Node:
        if not self.text.strip():
            raise ExpressionError(f"{self.prefix}empty expression")
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(tok, "unexpected")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.accept("|", "or"):
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.accept("&", "and"):
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.accept("~", "not"):
            self.enter()
            node = ("not", self.not_expr())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        parts: list[Node] = []
        while (tok := self.accept("<", "<=", ">", ">=", "==", "!=")) is not None:
            right = self.sum()
            parts.append(("cmp", tok.text, left, right))
            left = right
        node = parts[0] if parts else left
        for p in parts[1:]:
            node = ("and", node, p)
        return node

    def sum(self) -> Node:
        node = self.product()
        while (tok := self.accept("+", "-")) is not None:
            node = ("bin", tok.text, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (tok := self.accept("*", "/", "%")) is not None:
            node = ("bin", tok.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if (tok := self.accept("-", "+")) is not None:
            self.enter()
            node = ("neg", self.unary()) if tok.text == "-" else self.unary()
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> Node:
        node = self.atom()
        if self.accept("**"):
            self.enter()
            node = ("bin", "**", node, self.unary())
            self.depth -= 1
        return node

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(self.peek(), f"nesting deeper than {_MAX_DEPTH} levels near")

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return ("num", float(tok.text))
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return ("bool", tok.text == "true")
            if tok.text in _KEYWORDS:
                raise self.error(tok, "unexpected keyword")
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok)
            return ("branch", tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.enter()
            node = self.or_expr()
            self.expect(")")
            self.depth -= 1
            return node
        raise self.error(tok, "unexpected")

    def call(self, name: _Tok) -> Node:
        if name.text not in FUNCTIONS:
            raise self.error(name, "unknown function")
        _, n_args = FUNCTIONS[name.text]
        self.expect("(")
        self.enter()
        args = [self.or_expr()]
        while self.accept(","):
            args.append(self.or_expr())
        self.expect(")")
        self.depth -= 1
        if len(args) != n_args:
            raise ExpressionError(
                f"{self.prefix}function '{name.text}' takes {n_args} argument(s), got {len(args)} "
                f"at position {name.pos + 1} of {self.text!r}"
            )
        return ("call", name.text, *args)


def _branches(node: Node, out: set[str]) -> None:
    if node[0] == "branch":
        out.add(node[1])
    for child in node[1:]:
        if isinstance(child, tuple):
            _branches(child, out)


def _truth(a: Array) -> Array:
    return a if a.dtype == np.bool_ else np.not_equal(a, 0)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "%": np.fmod,
    "**": np.power,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _as_float(a: Any) -> Any:
    if isinstance(a, bool):
        return float(a)
    if isinstance(a, float):  # a Python number keeps the array's precision (NEP 50)
        return a
    arr = np.asarray(a)
    return arr.astype(np.float64) if arr.dtype.kind in "biu" else arr


def _eval(node: Node, columns: Mapping[str, Array]) -> Any:
    kind = node[0]
    if kind in ("num", "bool"):
        return node[1]
    if kind == "branch":
        return columns[node[1]]
    if kind == "neg":
        return np.negative(_as_float(_eval(node[1], columns)))
    if kind == "not":
        return np.logical_not(_truth(np.asarray(_eval(node[1], columns))))
    if kind in ("and", "or"):
        a = _truth(np.asarray(_eval(node[1], columns)))
        b = _truth(np.asarray(_eval(node[2], columns)))
        return np.logical_and(a, b) if kind == "and" else np.logical_or(a, b)
    if kind == "cmp":
        return _COMPARE[node[1]](_eval(node[2], columns), _eval(node[3], columns))
    if kind == "bin":
        return _BINARY[node[1]](_as_float(_eval(node[2], columns)), _as_float(_eval(node[3], columns)))
    if kind == "call":
        func, _ = FUNCTIONS[node[1]]
        args = [_eval(a, columns) for a in node[2:]]
        if node[1] == "where":
            args[0] = _truth(np.asarray(args[0]))
        return func(*args)
    raise AssertionError(f"unknown node {kind}")  # pragma: no cover


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the branches it reads and a numpy evaluator."""

    text: str
    field: str
    tree: Node
    branches: tuple[str, ...]

    @property
    def is_branch(self) -> bool:
        """Whether the expression is one plain branch name."""
        return bool(self.tree[0] == "branch")

    def evaluate(self, columns: Mapping[str, npt.ArrayLike], *, n_events: int) -> Array:
        """Compute the expression per event from ``columns`` (branch name → 1D array).

        Constants are broadcast to ``n_events``; floating-point warnings (log of zero, division
        by zero) are silenced, the result then holds inf or NaN for the caller to refuse.
        """
        cols = {b: np.asarray(columns[b]) for b in self.branches}
        with np.errstate(all="ignore"):
            out = np.asarray(_eval(self.tree, cols))
        if out.ndim == 0:
            out = np.full(n_events, out[()])
        return out

    def selects(self, columns: Mapping[str, npt.ArrayLike], *, n_events: int) -> npt.NDArray[np.bool_]:
        """The expression as a selection mask (a number is true when non-zero)."""
        return _truth(self.evaluate(columns, n_events=n_events))


def compile_expression(text: str, *, field: str = "expression") -> Expression:
    """Parse ``text`` with the grammar of this module; ``field`` names it in error messages.

    >>> compile_expression("w * (1 + 0.1*x)", field="weight").branches
    ('w', 'x')
    >>> compile_expression("pt >", field="channels[0].data.cut")
    Traceback (most recent call last):
    ...
    rooeft.expr.ExpressionError: channels[0].data.cut: unexpected end of expression at position 5 of 'pt >'
    """
    if not isinstance(text, str):
        raise ExpressionError(f"{field}: expected an expression string, got {type(text).__name__}")
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"{field}: expression longer than {_MAX_LENGTH} characters")
    tree = _Parser(text, field).parse()
    names: set[str] = set()
    _branches(tree, names)
    return Expression(text=text, field=field, tree=tree, branches=tuple(sorted(names)))
