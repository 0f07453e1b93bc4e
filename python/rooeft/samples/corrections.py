"""Per-event scale factors and their variations from correctionlib JSON.

A :class:`CorrectionSpec` names a correction in a correctionlib file and maps each of its inputs
to a branch/expression of the tree or to a constant. Evaluated per event (vectorised), the
``nominal`` factor multiplies the nominal weight, the structure constants and every other
systematic variation; its ``up``/``down`` factors become a weight-based systematic variation
named ``spec.systematic`` (default: the correction name).

>>> import numpy as np
>>> import correctionlib.schemav2 as cs
>>> corr = cs.Correction(name="sf", version=1,
...     inputs=[cs.Variable(name="pt", type="real"), cs.Variable(name="systematic", type="string")],
...     output=cs.Variable(name="factor", type="real"),
...     data=cs.Category(nodetype="category", input="systematic", content=[
...         cs.CategoryItem(key="nominal", value=1.1), cs.CategoryItem(key="up", value=1.2),
...         cs.CategoryItem(key="down", value=1.0)]))
>>> text = cs.CorrectionSet(schema_version=2, corrections=[corr]).model_dump_json(exclude_unset=True)
>>> ev = CorrectionEvaluator(CorrectionSpec(source=text, correction="sf", inputs={"pt": "lep_pt"}))
>>> ev.expressions
{'pt': 'lep_pt'}
>>> f = ev.evaluate({"lep_pt": np.array([10.0, 20.0])}, n_events=2)
>>> f.nominal.tolist(), f.up.tolist(), f.down.tolist()
([1.1, 1.1], [1.2, 1.2], [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.samples.errors import SampleError

__all__ = ["CorrectionEvaluator", "CorrectionFactors", "CorrectionSpec"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class CorrectionSpec:
    """Which correction to evaluate and how its inputs are obtained.

    Parameters
    ----------
    source
        Path of a correctionlib JSON file (``.json`` or ``.json.gz``), or the JSON text itself.
    correction
        Name of the correction in the set.
    inputs
        Correction input name → branch name / expression (:mod:`rooeft.expr`) (``str``) or constant (number).
        For ``string``-typed inputs a ``str`` is a constant (e.g. ``{"era": "2018"}``).
    systematic_input
        Name of the input that selects the variation; ``None`` for a correction without one
        (nominal factor only).
    variations
        Values of ``systematic_input`` for (nominal, up, down).
    systematic
        Name of the resulting systematic variation; default: ``correction``.
    """

    source: str | Path
    correction: str
    inputs: Mapping[str, str | float | int] = field(default_factory=dict)
    systematic_input: str | None = "systematic"
    variations: tuple[str, str, str] = ("nominal", "up", "down")
    systematic: str | None = None

    @property
    def systematic_name(self) -> str:
        """Name of the systematic variation this correction produces."""
        return self.systematic if self.systematic is not None else self.correction


@dataclass(frozen=True)
class CorrectionFactors:
    """Per-event factors of one correction (``up``/``down`` are ``None`` without variations)."""

    nominal: F64
    up: F64 | None
    down: F64 | None


def _load(source: str | Path) -> Any:
    import correctionlib

    text = source if isinstance(source, str) else None
    if text is not None and text.lstrip().startswith("{"):
        return correctionlib.CorrectionSet.from_string(text)
    path = Path(source)
    if not path.is_file():
        raise SampleError(f"correctionlib file not found: {path}", file=path)
    return correctionlib.CorrectionSet.from_file(str(path))


class CorrectionEvaluator:
    """A loaded correction, ready to be evaluated on chunks of events."""

    def __init__(self, spec: CorrectionSpec) -> None:
        self.spec = spec
        self._where = (
            "<json text>" if isinstance(spec.source, str) and spec.source.lstrip().startswith("{") else spec.source
        )
        cset = _load(spec.source)
        names = list(cset.keys())
        if spec.correction not in names:
            raise SampleError(
                f"correction '{spec.correction}' not in correction set (has {sorted(names)})",
                file=self._where,
            )
        self._corr = cset[spec.correction]
        self._types = {v.name: v.type for v in self._corr.inputs}
        names = list(self._types)
        if spec.systematic_input is not None and spec.systematic_input not in self._types:
            raise SampleError(
                f"correction '{spec.correction}' has no input '{spec.systematic_input}' "
                f"(inputs {names}); set systematic_input=None for a correction without variations",
                file=self._where,
            )
        needed = [n for n in names if n != spec.systematic_input]
        missing = [n for n in needed if n not in spec.inputs]
        extra = [n for n in spec.inputs if n not in needed]
        if missing or extra:
            raise SampleError(
                f"inputs of correction '{spec.correction}' mis-configured: missing {missing}, unknown {extra} "
                f"(correction inputs {names})",
                file=self._where,
            )
        self._order = names
        self.expressions: dict[str, str] = {
            n: v for n, v in spec.inputs.items() if isinstance(v, str) and self._types[n] != "string"
        }
        """Correction input → branch/expression to read from the tree."""

    def evaluate(self, columns: Mapping[str, npt.ArrayLike], *, n_events: int) -> CorrectionFactors:
        """Evaluate on ``columns`` (expression → array, covering :attr:`expressions`)."""
        base: list[Any] = []
        for name in self._order:
            if name == self.spec.systematic_input:
                base.append(None)
                continue
            value = self.spec.inputs[name]
            kind = self._types[name]
            if isinstance(value, str) and kind != "string":
                arr = np.asarray(columns[value])
                if arr.shape != (n_events,):
                    raise SampleError(
                        f"input '{name}' of correction '{self.spec.correction}' must be one value per event, "
                        f"got shape {arr.shape}",
                        branch=value,
                    )
                if kind == "int":
                    if not np.all(np.equal(np.mod(arr, 1), 0)):
                        raise SampleError(
                            f"integer input '{name}' of correction '{self.spec.correction}' has non-integer values",
                            branch=value,
                        )
                    base.append(arr.astype(np.int64))
                else:
                    base.append(arr.astype(np.float64))
            else:
                base.append(value)
        values = self.spec.variations if self.spec.systematic_input is not None else ("",)
        out: list[F64] = []
        for variation in values:
            args = [variation if a is None else a for a in base]
            try:
                res = self._corr.evaluate(*args)
            except Exception as exc:  # correctionlib raises IndexError, RuntimeError, ValueError
                raise SampleError(
                    f"evaluating correction '{self.spec.correction}' ({variation or 'no variation'}) failed: {exc}",
                    file=self._where,
                ) from exc
            arr64 = np.broadcast_to(np.asarray(res, dtype=np.float64), (n_events,)).copy()
            if not np.all(np.isfinite(arr64)):
                raise SampleError(
                    f"correction '{self.spec.correction}' ({variation or 'no variation'}) gives NaN or inf",
                    file=self._where,
                )
            out.append(arr64)
        if len(out) == 1:
            return CorrectionFactors(out[0], None, None)
        return CorrectionFactors(out[0], out[1], out[2])
