"""Read, write and validate the rooeft ONNX convention (``docs/onnx_convention.md``).

A model carries its interface in ``metadata_props``: observable names (input column order),
coefficient, process and systematic names, and the output column names. This module is the one
place that knows the key names and the column grammar.

>>> cols = output_columns(processes=["sig", "bkg"], coefficients=["cHW"],
...                       eft_processes=["sig"], systematics=["jes"])
>>> cols[:4]
['frac:sig', 'frac:bkg', 'lin:sig:cHW', 'quad:sig:cHW:cHW']
>>> cols[4:]
['sysup:sig:jes', 'sysdown:sig:jes', 'sysup:bkg:jes', 'sysdown:bkg:jes']
>>> parse_column("quad:sig:cHW:cHW")
Column(kind='quad', process='sig', names=('cHW', 'cHW'))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from rooeft.terms import n_terms, quadratic_pairs, term_labels

__all__ = [
    "CONVENTION_VERSION",
    "Column",
    "ConventionError",
    "ModelInterface",
    "layout_description",
    "output_columns",
    "parse_column",
    "read_interface",
    "write_interface",
]

CONVENTION_VERSION = "1"
_PREFIX = "rooeft."
_KINDS = {"frac": 1, "lin": 2, "quad": 3, "sysup": 2, "sysdown": 2, "score": 2}


class ConventionError(ValueError):
    """A model or column name does not follow the rooeft ONNX convention."""


class Column(NamedTuple):
    """One parsed output column: its kind, process, and coefficient or nuisance names."""

    kind: str
    process: str
    names: tuple[str, ...]


def parse_column(name: str) -> Column:
    """Parse an output column name such as ``lin:sig:cHW``; raise ConventionError if malformed."""
    parts = name.split(":")
    kind = parts[0]
    if kind not in _KINDS or len(parts) != _KINDS[kind] + 1 or any(not p for p in parts):
        raise ConventionError(
            f"output column {name!r} is not one of frac:<p>, lin:<p>:<a>, quad:<p>:<a>:<b>, "
            "sysup:<p>:<k>, sysdown:<p>:<k>, score:<p>:<a>"
        )
    return Column(kind, parts[1], tuple(parts[2:]))


def output_columns(
    *,
    processes: Sequence[str],
    coefficients: Sequence[str],
    eft_processes: Sequence[str] | None = None,
    systematics: Sequence[str] = (),
    with_fractions: bool | None = None,
) -> list[str]:
    """Canonical list of output columns for a model with these processes and parameters.

    ``eft_processes`` defaults to all processes; ``with_fractions`` defaults to
    ``len(processes) > 1``. Systematics are given for every process.
    """
    procs = list(processes)
    eft = procs if eft_processes is None else list(eft_processes)
    unknown = [p for p in eft if p not in procs]
    if unknown:
        raise ConventionError(f"EFT processes {unknown} are not among the processes {procs}")
    frac = len(procs) > 1 if with_fractions is None else with_fractions
    cols = [f"frac:{p}" for p in procs] if frac else []
    coefs = list(coefficients)
    for p in procs:
        if p in eft:
            cols += [f"lin:{p}:{c}" for c in coefs]
            cols += [f"quad:{p}:{coefs[a]}:{coefs[b]}" for a, b in quadratic_pairs(len(coefs))]
    for p in procs:
        for k in systematics:
            cols += [f"sysup:{p}:{k}", f"sysdown:{p}:{k}"]
    return cols


@dataclass(frozen=True)
class ModelInterface:
    """The interface of a model in the rooeft convention (what its metadata says)."""

    observables: tuple[str, ...]
    outputs: tuple[str, ...]
    coefficients: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()
    systematics: tuple[str, ...] = ()
    nominal_rates: Mapping[str, float] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Check names and column grammar; raise ConventionError naming the first problem."""
        if not self.observables:
            raise ConventionError("model has no observables")
        if len(set(self.observables)) != len(self.observables):
            raise ConventionError(f"duplicate observable names in {list(self.observables)}")
        if len(set(self.outputs)) != len(self.outputs):
            raise ConventionError("duplicate output column names")
        for name in self.outputs:
            col = parse_column(name)
            if self.processes and col.process not in self.processes:
                raise ConventionError(f"column {name!r}: process {col.process!r} not in {list(self.processes)}")
            if col.kind in ("lin", "quad", "score"):
                bad = [c for c in col.names if c not in self.coefficients]
                if bad:
                    raise ConventionError(f"column {name!r}: coefficient(s) {bad} not in {list(self.coefficients)}")
            if col.kind in ("sysup", "sysdown") and col.names[0] not in self.systematics:
                raise ConventionError(f"column {name!r}: nuisance {col.names[0]!r} not in {list(self.systematics)}")

    def metadata(self) -> dict[str, str]:
        """The ``metadata_props`` key/value strings of this interface."""
        return {
            _PREFIX + "convention": CONVENTION_VERSION,
            _PREFIX + "observables": json.dumps(list(self.observables)),
            _PREFIX + "outputs": json.dumps(list(self.outputs)),
            _PREFIX + "coefficients": json.dumps(list(self.coefficients)),
            _PREFIX + "processes": json.dumps(list(self.processes)),
            _PREFIX + "systematics": json.dumps(list(self.systematics)),
            _PREFIX + "nominal_rates": json.dumps(dict(self.nominal_rates)),
            _PREFIX + "provenance": json.dumps(dict(self.provenance), default=str),
        }

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], *, source: str = "model") -> ModelInterface:
        """Build from ``metadata_props``; raise ConventionError naming ``source`` if incomplete."""
        version = props.get(_PREFIX + "convention")
        if version is None:
            raise ConventionError(f"{source}: no 'rooeft.convention' metadata: not a rooeft model")
        if version != CONVENTION_VERSION:
            raise ConventionError(f"{source}: convention version {version!r}, expected {CONVENTION_VERSION!r}")

        def get(key: str, default: Any) -> Any:
            raw = props.get(_PREFIX + key)
            if raw is None:
                return default
            try:
                return json.loads(raw)
            except json.JSONDecodeError as err:
                raise ConventionError(f"{source}: metadata 'rooeft.{key}' is not JSON: {err}") from None

        iface = cls(
            observables=tuple(get("observables", [])),
            outputs=tuple(get("outputs", [])),
            coefficients=tuple(get("coefficients", [])),
            processes=tuple(get("processes", [])),
            systematics=tuple(get("systematics", [])),
            nominal_rates={str(k): float(v) for k, v in get("nominal_rates", {}).items()},
            provenance=get("provenance", {}),
        )
        iface.validate()
        return iface


def write_interface(model: Any, interface: ModelInterface) -> None:
    """Set the rooeft metadata on an ``onnx.ModelProto`` in place (replacing older rooeft keys)."""
    interface.validate()
    keep = [p for p in model.metadata_props if not p.key.startswith(_PREFIX)]
    del model.metadata_props[:]
    for p in keep:
        model.metadata_props.add(key=p.key, value=p.value)
    for key, value in interface.metadata().items():
        model.metadata_props.add(key=key, value=value)


def read_interface(model: Any) -> ModelInterface:
    """Read and validate the interface of an ONNX model (a path, raw bytes or a ModelProto).

    Also checks the graph: one float32 input of width ``len(observables)`` and one float32
    output of width ``len(outputs)``, both with a free batch axis.
    """
    import onnx

    source = "model"
    if isinstance(model, (str, Path)):
        source = str(model)
        try:
            model = onnx.load(str(model))
        except Exception as err:  # onnx raises several types for unreadable files
            raise ConventionError(f"{source}: cannot read ONNX model: {err}") from None
    elif isinstance(model, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(model))
    props = {p.key: p.value for p in model.metadata_props}
    iface = ModelInterface.from_metadata(props, source=source)
    graph = model.graph
    init_names = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in init_names]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ConventionError(
            f"{source}: expected exactly one input and one output, got {len(inputs)} and {len(graph.output)}"
        )
    for what, value_info, width in (
        ("input", inputs[0], len(iface.observables)),
        ("output", graph.output[0], len(iface.outputs)),
    ):
        ttype = value_info.type.tensor_type
        if ttype.elem_type != onnx.TensorProto.FLOAT:
            raise ConventionError(f"{source}: {what} {value_info.name!r} is not float32")
        dims = ttype.shape.dim
        if len(dims) != 2:
            raise ConventionError(f"{source}: {what} {value_info.name!r} has rank {len(dims)}, expected 2")
        if dims[1].HasField("dim_value") and dims[1].dim_value != width:
            raise ConventionError(
                f"{source}: {what} {value_info.name!r} has {dims[1].dim_value} columns, metadata names {width}"
            )
    return iface


def layout_description(model: Any) -> str:
    """Canonical text description of a model's layout, equal to C++ ``RooEFT::describeLayout``.

    The Python mirror of ``RooEFT::ModelLayout`` (``cpp/include/RooEFT/ModelLayout.h``): names,
    the canonical term order, nominal rates, per process the ``frac:`` column and the floats the
    unbinned pdf caches (``terms``: all terms if the process has ``lin:``/``quad:`` columns, else
    one; ``shape``: the systematics if it has ``sysup:`` columns, else none), and per output column
    its kind and indices (``term`` is the index in :func:`rooeft.terms.term_labels`).
    ``model`` is anything :func:`read_interface` accepts.
    """
    iface = read_interface(model)
    coefs, procs, systs = list(iface.coefficients), list(iface.processes), list(iface.systematics)
    n_c = len(coefs)
    term_of = {pair: 1 + n_c + i for i, pair in enumerate(quadratic_pairs(n_c))}

    def index(names: list[str], name: str) -> int:
        return names.index(name) if name in names else -1

    def joined(key: str, names: Sequence[str]) -> str:
        return key + ":" + "".join(" " + n for n in names)

    lines = [f"convention: {CONVENTION_VERSION}"]
    lines += [joined("observables", iface.observables), joined("coefficients", coefs)]
    lines += [joined("processes", procs), joined("systematics", systs), joined("terms", term_labels(coefs))]
    lines.append("nominal_rates:" + "".join(f" {p}={format(r, '.17g')}" for p, r in iface.nominal_rates.items()))
    columns = [parse_column(name) for name in iface.outputs]
    row_width = 0
    for p, proc in enumerate(procs):
        frac = next((j for j, c in enumerate(columns) if c.kind == "frac" and c.process == proc), -1)
        eft = any(c.kind in ("lin", "quad") and c.process == proc for c in columns)
        shape = any(c.kind == "sysup" and c.process == proc for c in columns)
        terms, n_shape = (n_terms(n_c) if eft else 1), (len(systs) if shape else 0)
        row_width += terms + 2 * n_shape
        lines.append(f"process {p} {proc}: frac={frac} terms={terms} shape={n_shape}")
    lines.append(f"row_width: {row_width}")
    for j, (name, col) in enumerate(zip(iface.outputs, columns, strict=True)):
        line = f"column {j} {name}: kind={col.kind} process={index(procs, col.process)}"
        if col.kind == "lin":
            line += f" coefficient={index(coefs, col.names[0])} term={1 + index(coefs, col.names[0])}"
        elif col.kind == "score":
            line += f" coefficient={index(coefs, col.names[0])}"
        elif col.kind == "quad":
            a, b = sorted(index(coefs, c) for c in col.names)
            line += f" coefficients={a},{b} term={term_of[(a, b)]}"
        elif col.kind in ("sysup", "sysdown"):
            line += f" systematic={index(systs, col.names[0])}"
        lines.append(line)
    return "".join(line + "\n" for line in lines)
