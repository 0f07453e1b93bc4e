r"""ONNX-ML export of boosted information trees in the rooeft convention (``docs/trees.md``).

The graph has exactly the interface of an exported network (``docs/onnx_convention.md``): one
float32 input ``x`` ``[batch, n_obs]`` of raw observables, one float32 output ``y``
``[batch, n_out]`` whose columns are ``lin:<p>:<a>`` then ``quad:<p>:<a>:<b>``, and the same
``rooeft.*`` metadata. Inside:

1. ``ai.onnx.ml.TreeEnsembleRegressor`` (domain opset 3): every tree, ``BRANCH_LEQ`` on the raw
   observables (trees need no standardisation), ``SUM`` of the vector leaves plus ``base_values``
   gives the raw factors ``z = (n_a, raw U_ab)`` ``[batch, K]``;
2. ordinary ONNX nodes (opset 17) expand the positive parametrisation: the diagonal of ``U`` becomes
   ``sqrt(raw² + ε²)`` (``Mul``, ``Add``, ``Sqrt``, ``Where``), and the coefficient columns, which are
   a bilinear plus linear function of the factors (``r_a = 2 n_a``, ``r_aa = M_aa``, ``r_ab = 2 M_ab``,
   ``M = n nᵀ + UᵀU``), are ``vec(f fᵀ) · B + f · A`` with constant ``B`` and ``A`` (``Unsqueeze``,
   ``Mul``, ``Reshape``, ``MatMul``, ``Add``).

So the C++ classes (``RooEFTONNXFunction``, ``RooEFTUnbinnedPdf``) and the Python readers load a
tree model with no tree-specific code: ONNX Runtime's CPU provider runs the ``ai.onnx.ml`` operators.
:func:`export_trees` checks onnxruntime against the numpy evaluation of the trees before writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rooeft.nn.export import ExportResult, ExportValidationError, write_export
from rooeft.nn.trees import TreeEnsemble, TreeEstimator
from rooeft.onnx_convention import ModelInterface, read_interface, write_interface
from rooeft.terms import quadratic_pairs

__all__ = ["ML_OPSET", "OPSET", "bilinear_expansion", "export_trees", "tree_model"]

OPSET = 17
ML_OPSET = 3
#: IR version of the written models (onnxruntime >= 1.16 reads it)
IR_VERSION = 9


def bilinear_expansion(n_coefficients: int) -> tuple[np.ndarray, np.ndarray]:
    """Constant ``(B [K², T-1], A [K, T-1])`` with ``columns = vec(f fᵀ) B + f A`` for factors ``f``.

    ``f = (n_a, U_ab for a ≤ b)`` with the diagonal of ``U`` already made positive; the columns are
    ``lin`` then ``quad`` in canonical order.

    >>> b, a = bilinear_expansion(1)  # f = (n, u): r_lin = 2n, r_quad = n² + u²
    >>> a[:, 0].tolist(), b[:, 1].tolist()
    ([2.0, 0.0], [1.0, 0.0, 0.0, 1.0])
    """
    n = n_coefficients
    pairs = quadratic_pairs(n)
    k_out = n + len(pairs)
    u_index = {pair: n + k for k, pair in enumerate(pairs)}  # (row c, column a) of U -> factor index
    bil = np.zeros((k_out * k_out, n + len(pairs)))
    lin = np.zeros((k_out, n + len(pairs)))
    for a in range(n):
        lin[a, a] = 2.0
    for q, (a, b) in enumerate(pairs):
        g = 1.0 if a == b else 2.0
        bil[a * k_out + b, n + q] += g  # n_a n_b
        for c in range(min(a, b) + 1):  # Σ_c U_ca U_cb (U upper triangular: c ≤ a, c ≤ b)
            i, j = u_index[(c, a)], u_index[(c, b)]
            bil[i * k_out + j, n + q] += g
    return bil, lin


def _tree_attributes(ensemble: TreeEnsemble) -> dict[str, Any]:
    """The ``TreeEnsembleRegressor`` attributes of an ensemble."""
    k_out = ensemble.n_outputs
    tree_ids, node_ids, features, values, modes, true_ids, false_ids = [], [], [], [], [], [], []
    t_tree, t_node, t_id, t_weight = [], [], [], []
    for t in range(ensemble.n_trees):
        s, e = int(ensemble.start[t]), int(ensemble.start[t + 1])
        for j in range(e - s):
            leaf = ensemble.feature[s + j] < 0
            tree_ids.append(t)
            node_ids.append(j)
            features.append(0 if leaf else int(ensemble.feature[s + j]))
            values.append(0.0 if leaf else float(ensemble.threshold[s + j]))
            modes.append("LEAF" if leaf else "BRANCH_LEQ")
            true_ids.append(0 if leaf else int(ensemble.left[s + j]))
            false_ids.append(0 if leaf else int(ensemble.right[s + j]))
            if leaf:
                for k in range(k_out):
                    t_tree.append(t)
                    t_node.append(j)
                    t_id.append(k)
                    t_weight.append(float(ensemble.value[s + j, k]))
    if not tree_ids:  # no tree improved on the constant model: one leaf adding nothing
        tree_ids, node_ids, features, values, modes, true_ids, false_ids = [0], [0], [0], [0.0], ["LEAF"], [0], [0]
        t_tree, t_node, t_id, t_weight = [0] * k_out, [0] * k_out, list(range(k_out)), [0.0] * k_out
    return {
        "n_targets": k_out,
        "aggregate_function": "SUM",
        "post_transform": "NONE",
        "base_values": [float(v) for v in ensemble.base],
        "nodes_treeids": tree_ids,
        "nodes_nodeids": node_ids,
        "nodes_featureids": features,
        "nodes_values": values,
        "nodes_modes": modes,
        "nodes_truenodeids": true_ids,
        "nodes_falsenodeids": false_ids,
        "nodes_missing_value_tracks_true": [0] * len(tree_ids),
        "nodes_hitrates": [1.0] * len(tree_ids),
        "target_treeids": t_tree,
        "target_nodeids": t_node,
        "target_ids": t_id,
        "target_weights": t_weight,
    }


def tree_model(estimator: TreeEstimator, interface: ModelInterface) -> Any:
    """The ``onnx.ModelProto`` of a trained tree estimator with ``interface`` as metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = len(estimator.coefficients)
    pairs = quadratic_pairs(n)
    k_out = n + len(pairs)
    n_obs = len(estimator.observables)
    floor = float(estimator.config.positivity_floor)
    bil, lin = bilinear_expansion(n)
    diag = np.zeros(k_out, dtype=bool)
    diag[[n + q for q, (a, b) in enumerate(pairs) if a == b]] = True

    def const(name: str, value: np.ndarray) -> Any:
        return numpy_helper.from_array(np.asarray(value), name=name)

    inits = [
        const("floor_sq", np.array(floor * floor, dtype=np.float32)),
        const("diag_mask", diag),
        const("outer_shape", np.array([-1, k_out * k_out], dtype=np.int64)),
        const("axis_2", np.array([2], dtype=np.int64)),
        const("axis_1", np.array([1], dtype=np.int64)),
        const("bilinear", bil.astype(np.float32)),
        const("linear", lin.astype(np.float32)),
    ]
    nodes = [
        helper.make_node(
            "TreeEnsembleRegressor",
            ["x"],
            ["z"],
            domain="ai.onnx.ml",
            name="trees",
            **_tree_attributes(estimator.ensemble),
        ),
        helper.make_node("Mul", ["z", "z"], ["z_sq"], name="square"),
        helper.make_node("Add", ["z_sq", "floor_sq"], ["z_sq_floor"], name="add_floor"),
        helper.make_node("Sqrt", ["z_sq_floor"], ["z_pos"], name="positive_diagonal"),
        helper.make_node("Where", ["diag_mask", "z_pos", "z"], ["f"], name="factors"),
        helper.make_node("Unsqueeze", ["f", "axis_2"], ["f_col"], name="column"),
        helper.make_node("Unsqueeze", ["f", "axis_1"], ["f_row"], name="row"),
        helper.make_node("Mul", ["f_col", "f_row"], ["outer"], name="outer"),
        helper.make_node("Reshape", ["outer", "outer_shape"], ["outer_flat"], name="flatten"),
        helper.make_node("MatMul", ["outer_flat", "bilinear"], ["quadratic_part"], name="quadratic_part"),
        helper.make_node("MatMul", ["f", "linear"], ["linear_part"], name="linear_part"),
        helper.make_node("Add", ["quadratic_part", "linear_part"], ["y"], name="columns"),
    ]
    graph = helper.make_graph(
        nodes,
        "rooeft_boosted_information_trees",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_obs])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", len(interface.outputs)])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="rooeft",
        ir_version=IR_VERSION,
    )
    write_interface(model, interface)
    onnx.checker.check_model(model)
    return model


def export_trees(
    estimator: TreeEstimator,
    path: str | Path,
    *,
    process: str = "signal",
    nominal_rates: Mapping[str, float] | None = None,
    provenance: Mapping[str, Any] | None = None,
    reference_inputs: np.ndarray | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> ExportResult:
    """Write ``path`` (ONNX-ML model), ``<stem>.json`` (metadata) and ``<stem>.ref.npz`` (reference).

    A single-process model: the columns ``lin:<process>:<a>``, ``quad:<process>:<a>:<b>``. The
    model is checked with onnxruntime against the numpy evaluation of the trees on the reference
    inputs (held-out events by default) and :class:`~rooeft.nn.ExportValidationError` is raised if
    they differ by more than ``atol · max(1, max|numpy|) + rtol · |numpy|``. Files are written
    atomically (:func:`rooeft.safeio.atomic_write`).
    """

    from rooeft.onnx import session

    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"the model file must end in .onnx, got {path}")
    ref_in = estimator.reference_inputs if reference_inputs is None else reference_inputs
    ref = np.ascontiguousarray(np.asarray(ref_in, dtype=np.float32))
    if ref.ndim != 2 or ref.shape[0] == 0 or ref.shape[1] != len(estimator.observables):
        raise ValueError(
            f"reference_inputs must be a non-empty (events, {len(estimator.observables)}) array, got {ref.shape}"
        )
    prov: dict[str, Any] = {"components": {f"eft[{process!r}]": estimator.provenance}}
    prov.update(provenance or {})
    interface = ModelInterface(
        observables=estimator.observables,
        outputs=tuple(estimator.column_names(process)),
        coefficients=estimator.coefficients,
        processes=(process,),
        nominal_rates=dict(nominal_rates or {}),
        provenance=prov,
    )
    interface.validate()
    model = tree_model(estimator, interface)
    raw = model.SerializeToString()
    read_interface(raw)
    expected = estimator.predict(ref)
    sess = session(raw)
    got = np.asarray(sess.run(None, {"x": ref})[0], dtype=np.float64)
    diff = np.abs(got - expected)
    tol = atol * max(1.0, float(np.abs(expected).max())) + rtol * np.abs(expected)
    if got.shape != expected.shape or not np.all(diff <= tol):
        worst = np.unravel_index(int(np.argmax(diff - tol)), diff.shape)
        raise ExportValidationError(
            f"onnxruntime disagrees with the numpy trees: max |diff| {diff.max():.3g} in column "
            f"{interface.outputs[worst[1]]!r} (event {worst[0]}: onnx {got[worst]:.7g}, numpy {expected[worst]:.7g})"
        )
    return write_export(path, model, interface, ref, expected, diff)
