"""Generate and write the complete ZH example set (what ``rooeft generate`` runs).

Files written into ``output_dir`` (each atomically, see :mod:`rooeft.examples.zh.io`):

* ``zh_signal.root`` and ``zh_background.root``: TTree ``Events`` with the columns of
  :func:`rooeft.examples.zh.generator.generate_chunks`, written chunk by chunk;
* ``pseudodata_<tag>.root``: one unweighted pseudo-data set per requested ``theta`` (``tag`` is
  ``sm`` or e.g. ``cHQ3_0p02_cHW_0p3``), replica ``k`` for the ``k``-th point;
* ``btag_sf.json``: the correctionlib file of the b-tagging scale factor (already applied in
  ``weight``, its up/down variations are the ``weight_btagUp/Down`` branches);
* ``metadata.json``: configuration (the signal sampling included), seed, normalisation, counts,
  per sample the sums of weights and the effective numbers of events ``n_eff`` of the yield and
  of every ``w_<term>`` column (:class:`WeightStats`), and systematics (the 2 % luminosity lnN
  included).

:func:`generate_sample` writes one weighted sample alone (e.g. a fresh, larger training sample
with another seed).

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> summary = generate_dataset(out, n_signal=3000, n_background=2000, seed=5, thetas=[],
...                            config=GeneratorConfig(chunk_size=1000))
>>> sorted(p.name for p in out.iterdir())
['btag_sf.json', 'metadata.json', 'zh_background.root', 'zh_signal.root']
>>> theta_tag([0.0, 0.3, -0.5])
'cHW_0p3_cHWtil_m0p5'
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rooeft.examples.zh import btag
from rooeft.examples.zh.generator import (
    LUMI_UNCERTAINTY,
    GeneratorConfig,
    Process,
    config_summary,
    generate_chunks,
    pseudo_data,
    structure_constant_names,
    systematic_names,
    truth_names,
)
from rooeft.examples.zh.io import write_json, write_root, write_text
from rooeft.examples.zh.kinematics import RECO_FEATURES
from rooeft.examples.zh.model import COEFFICIENTS

__all__ = ["WeightStats", "generate_dataset", "generate_sample", "parse_theta", "theta_tag"]


def theta_tag(theta: Sequence[float]) -> str:
    """File-name tag of a point: ``sm`` or ``<c>_<value>`` for its non-zero coefficients."""
    parts = []
    for name, value in zip(COEFFICIENTS, theta, strict=True):
        if value != 0.0:
            text = f"{value:g}".replace("-", "m").replace(".", "p").replace("+", "")
            parts.append(f"{name}_{text}")
    return "_".join(parts) if parts else "sm"


def parse_theta(text: str) -> tuple[float, ...]:
    """Parse ``"cHW=0.3,cHWtil=-0.1"`` (unnamed coefficients are 0; ``"sm"`` is the SM).

    >>> parse_theta("cHQ3=0.02, cHWtil=0.3")
    (0.02, 0.0, 0.3)
    """
    values = dict.fromkeys(COEFFICIENTS, 0.0)
    if text.strip().lower() in ("", "sm"):
        return tuple(values.values())
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in values:
            raise ValueError(f"theta: expected 'name=value' with name in {COEFFICIENTS}, got {item.strip()!r}")
        try:
            values[name] = float(value)
        except ValueError:
            raise ValueError(f"theta: {name} value {value.strip()!r} is not a number") from None
        if not np.isfinite(values[name]):
            raise ValueError(f"theta: {name} must be finite")
    return tuple(values.values())


def _progress(total: int | None, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="ev", unit_scale=True, disable=not enabled, file=sys.stderr)


class WeightStats:
    """Running event count, ``sum w`` and ``sum w^2`` of the yield and of every ``w_<term>`` column.

    ``n_eff = (sum w)^2 / sum w^2`` is the Kish effective number of events: the size of an
    unweighted sample with the same relative statistical error of the sum. For a term whose
    weights change sign and cancel (the CP-odd linear terms ``w_cHWtil``, ``w_cHQ3_cHWtil``,
    ``w_cHW_cHWtil`` integrate to ~0 over the full phase space) it is ~0 by construction: the
    sum is zero within its error, not badly estimated.

    >>> stats = WeightStats()
    >>> stats.add({"weight": np.array([1.0, 1.0, 2.0]), "w_sm": np.array([1.0, 1.0, 2.0])})
    >>> stats.summary()["n_eff"]
    {'yield': 2.6666666666666665, 'w_sm': 2.6666666666666665}
    """

    def __init__(self) -> None:
        self.events = 0
        self.sums: dict[str, float] = {}
        self.squares: dict[str, float] = {}

    def add(self, chunk: Mapping[str, npt.NDArray[Any]]) -> None:
        """Add one chunk of columns (``weight`` and any ``w_*``)."""
        self.events += len(chunk["weight"])
        for name, values in chunk.items():
            if name == "weight" or name.startswith("w_"):
                key = "yield" if name == "weight" else name
                w = np.asarray(values, dtype=np.float64)
                self.sums[key] = self.sums.get(key, 0.0) + float(w.sum())
                self.squares[key] = self.squares.get(key, 0.0) + float(np.dot(w, w))

    def summary(self) -> dict[str, Any]:
        """``events``, ``sum_weights`` and ``n_eff`` per column (``yield`` = the ``weight`` column)."""
        n_eff = {k: (self.sums[k] ** 2 / self.squares[k] if self.squares[k] > 0 else 0.0) for k in self.sums}
        return {"events": self.events, "sum_weights": dict(self.sums), "n_eff": n_eff}


def _counting(chunks: Iterable[Mapping[str, npt.NDArray[Any]]], stats: WeightStats) -> Iterator[Any]:
    for chunk in chunks:
        stats.add(chunk)
        yield chunk


def generate_sample(
    path: str | Path,
    process: Process,
    n_events: int,
    *,
    seed: int,
    config: GeneratorConfig | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate one weighted sample of ``process`` into the ROOT file ``path``; returns its summary.

    The file has the columns of :func:`rooeft.examples.zh.generator.generate_chunks` (TTree ``Events``)
    and is written atomically chunk by chunk. ``n_events`` counts *generated* events (the
    acceptance keeps ~45 % of the signal at the default sampling, ~30 % of the background).
    With the default :class:`~rooeft.examples.zh.generator.GeneratorConfig` the signal is importance
    sampled (near-unweighted at the SM, tail enhancement
    :data:`~rooeft.examples.zh.generator.TAIL_ENHANCEMENT`). The summary is the entry of
    ``metadata.json``: ``file``, ``generated``, ``events``, ``expected_events``, ``sum_weights``
    and ``n_eff`` (per column, ``yield`` for ``weight``). Use a seed other than the shipped
    set's (1) for a statistically independent sample.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sig.root"
    >>> info = generate_sample(path, "signal", 4000, seed=11)
    >>> info["events"] > 1000, info["n_eff"]["yield"] / info["events"] > 0.3
    (True, True)
    """
    cfg = config if config is not None else GeneratorConfig()
    if process not in ("signal", "background"):
        raise ValueError(f"process must be 'signal' or 'background', got {process!r}")
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    stats = WeightStats()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _progress(n_events, process, progress) as bar:
        write_root(
            target,
            _counting(generate_chunks(process, n_events, seed=seed, config=cfg, progress=bar), stats),
            overwrite=overwrite,
        )
    summary = stats.summary()
    return {
        "file": target.name,
        "generated": n_events,
        "events": summary["events"],
        "expected_events": summary["sum_weights"]["yield"],
        "sum_weights": summary["sum_weights"],
        "n_eff": summary["n_eff"],
    }


def generate_dataset(
    output_dir: str | Path,
    *,
    n_signal: int = 100_000,
    n_background: int = 80_000,
    seed: int = 1,
    thetas: Sequence[Sequence[float]] = ((0.0, 0.0, 0.0),),
    config: GeneratorConfig | None = None,
    overwrite: bool = False,
    progress: bool = False,
    command: str | None = None,
) -> dict[str, Any]:
    """Generate the samples, pseudo-data and side files into ``output_dir``; returns the metadata.

    ``n_signal``/``n_background`` are generated events (0 skips the sample); ``thetas`` the
    points of the pseudo-data sets. Existing files are only replaced with ``overwrite=True``.
    """
    cfg = config if config is not None else GeneratorConfig()
    out = Path(output_dir)
    if n_signal < 0 or n_background < 0:
        raise ValueError("n_signal and n_background must be >= 0")
    out.mkdir(parents=True, exist_ok=True)
    points = [tuple(float(v) for v in t) for t in thetas]
    tags = [theta_tag(t) for t in points]
    if len(set(tags)) != len(tags):
        raise ValueError(f"thetas must be distinct, got {points}")
    targets = [out / "btag_sf.json", out / "metadata.json"]
    targets += [out / f"zh_{p}.root" for p, n in (("signal", n_signal), ("background", n_background)) if n]
    targets += [out / f"pseudodata_{tag}.root" for tag in tags]
    if not overwrite:
        existing = [str(p) for p in targets if p.exists()]
        if existing:
            raise FileExistsError(f"output files exist (pass --force to replace them): {', '.join(existing)}")

    meta: dict[str, Any] = {
        "description": "rooeft analytic ZH example: pp -> Zh -> (l+l-)(bb) with exact quadratic EFT weights",
        "command": command,
        "seed": seed,
        "coefficients": list(COEFFICIENTS),
        "config": config_summary(cfg),
        "tree": "Events",
        "observables": list(RECO_FEATURES),
        "structure_constants": structure_constant_names(),
        "truth": truth_names(),
        "systematics": {
            "lumi": {"type": "lnN", "value": 1.0 + LUMI_UNCERTAINTY, "processes": ["signal", "background"]},
            btag.SYSTEMATIC: {
                "type": "weight",
                "branches": list(systematic_names()),
                "correctionlib": "btag_sf.json",
                "correction": btag.CORRECTION_NAME,
                "note": "nominal scale factor already in weight; do not apply again",
            },
        },
        "samples": {},
        "pseudodata": {},
    }
    write_text(out / "btag_sf.json", btag.correction_json(), overwrite=overwrite)
    for process, n in (("signal", n_signal), ("background", n_background)):
        if not n:
            continue
        proc: Process = "signal" if process == "signal" else "background"
        meta["samples"][process] = generate_sample(
            out / f"zh_{process}.root", proc, n, seed=seed, config=cfg, overwrite=overwrite, progress=progress
        )
    for replica, (theta, tag) in enumerate(zip(points, tags, strict=True)):
        with _progress(None, f"pseudo-data {tag}", progress) as bar:
            data = pseudo_data(theta, seed=seed, replica=replica, config=cfg, progress=bar)
        write_root(out / f"pseudodata_{tag}.root", [data.columns], overwrite=overwrite)
        meta["pseudodata"][tag] = {
            "file": f"pseudodata_{tag}.root",
            "theta": dict(zip(COEFFICIENTS, theta, strict=True)),
            "replica": replica,
            "expected": data.expected,
            "observed": data.observed,
            "pool_generated": data.generated,
            "events": data.n_events,
        }
    write_json(out / "metadata.json", json.loads(json.dumps(meta)), overwrite=overwrite)
    return meta
