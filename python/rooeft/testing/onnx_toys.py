"""Hand-written ONNX models in the rooeft convention, with closed-form output columns.

For tests, benchmarks and examples: every column is a simple closed form of the observable(s), so
the exact per-event terms are known without any training.

A column ``kind`` is one of ``poly`` (c0 + c1 x + c2 x²), ``sigmoid`` (σ(c0 + c1 x)),
``1-sigmoid`` (1 − σ(c0 + c1 x)) and ``exp`` (exp(c0 + c1 x)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ColumnSpec", "build_columns_model", "build_mlp_model", "column_values"]

ColumnSpec = tuple[str, str, Sequence[float]]  # (column name, kind, coefficients)


def column_values(kind: str, c: Sequence[float], x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Exact value of one hand-written column (float64).

    >>> column_values("poly", [1.0, 2.0, 0.5], np.array([0.0, 2.0])).tolist()
    [1.0, 7.0]
    >>> float(column_values("sigmoid", [0.0, 1.0], np.array([0.0]))[0])
    0.5
    """
    x = np.asarray(x, dtype=np.float64)
    c0, c1, c2 = ([*list(c), 0.0, 0.0, 0.0])[:3]
    if kind == "poly":
        return np.asarray(c0 + c1 * x + c2 * x * x)
    z = c0 + c1 * x
    if kind == "sigmoid":
        return np.asarray(1.0 / (1.0 + np.exp(-z)))
    if kind == "1-sigmoid":
        return np.asarray(1.0 - 1.0 / (1.0 + np.exp(-z)))
    if kind == "exp":
        return np.asarray(np.exp(z))
    raise ValueError(f"unknown column kind {kind!r}: use poly, sigmoid, 1-sigmoid or exp")


def build_columns_model(
    path: Path,
    columns: Sequence[ColumnSpec],
    *,
    coefficients: Sequence[str] = (),
    processes: Sequence[str] = ("sig",),
    systematics: Sequence[str] = (),
    nominal_rates: dict[str, float] | None = None,
    observable: str = "x",
) -> Path:
    """Write an ONNX model x[N,1] -> terms[N, len(columns)] in the rooeft convention."""
    import onnx
    from onnx import TensorProto, helper

    from rooeft.onnx_convention import ModelInterface, write_interface

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: float) -> str:
        inits.append(helper.make_tensor(name, TensorProto.FLOAT, [1], [float(value)]))
        return name

    outs = []
    for j, (_, kind, coefs) in enumerate(columns):
        c0, c1, c2 = ([*list(coefs), 0.0, 0.0, 0.0])[:3]
        p = f"c{j}"
        nodes.append(helper.make_node("Mul", [observable, const(p + "_c1", c1)], [p + "_l"]))
        nodes.append(helper.make_node("Add", [p + "_l", const(p + "_c0", c0)], [p + "_z"]))
        z = p + "_z"
        if kind == "poly":
            nodes.append(helper.make_node("Mul", [observable, observable], [p + "_x2"]))
            nodes.append(helper.make_node("Mul", [p + "_x2", const(p + "_c2", c2)], [p + "_q"]))
            nodes.append(helper.make_node("Add", [z, p + "_q"], [p + "_out"]))
        elif kind == "sigmoid":
            nodes.append(helper.make_node("Sigmoid", [z], [p + "_out"]))
        elif kind == "1-sigmoid":
            nodes.append(helper.make_node("Sigmoid", [z], [p + "_s"]))
            nodes.append(helper.make_node("Sub", [const(p + "_one", 1.0), p + "_s"], [p + "_out"]))
        elif kind == "exp":
            nodes.append(helper.make_node("Exp", [z], [p + "_out"]))
        else:
            raise ValueError(kind)
        outs.append(p + "_out")
    nodes.append(helper.make_node("Concat", outs, ["terms"], axis=1))
    graph = helper.make_graph(
        nodes,
        "rooeft_test",
        [helper.make_tensor_value_info(observable, TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("terms", TensorProto.FLOAT, ["N", len(columns)])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    write_interface(
        model,
        ModelInterface(
            observables=(observable,),
            outputs=tuple(name for name, _, _ in columns),
            coefficients=tuple(coefficients),
            processes=tuple(processes),
            systematics=tuple(systematics),
            nominal_rates=nominal_rates or {},
        ),
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_mlp_model(path: Path, n_in: int, n_out: int, *, seed: int = 0, hidden: int = 16) -> Path:
    """Write a random-weight MLP (Gemm-Tanh-Gemm) x[N,n_in] -> y[N,n_out], float32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(n_in, hidden)).astype(np.float32)
    b1 = rng.normal(size=hidden).astype(np.float32)
    w2 = (rng.normal(size=(hidden, n_out)) / np.sqrt(hidden)).astype(np.float32)
    b2 = rng.normal(size=n_out).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
        helper.make_node("Tanh", ["h"], ["t"]),
        helper.make_node("Gemm", ["t", "w2", "b2"], ["y"]),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n_out])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
