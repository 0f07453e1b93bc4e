"""68%/95% CL intervals of every POI from 1D profile-likelihood scans, observed and expected.

The expected intervals come from the Asimov dataset at the SM (or at the ``expected_at`` POI
values); each POI is scanned with the other POIs profiled (or fixed at SM/Asimov values with
``profile_others=False``: one-at-a-time limits). The result (``kind: limits`` JSON) holds the
scans in the order POI by POI, observed before expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rooeft.infer.model import InferenceError, Model, get_model
from rooeft.infer.options import FitOptions
from rooeft.infer.scan import Scan1D, scan1d

__all__ = ["LimitsResult", "limits"]

#: the labels of the scans in a :class:`LimitsResult`
OBSERVED, EXPECTED = "observed", "expected"


def _union(ivs: Sequence[tuple[float, float]]) -> str:
    return " ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in ivs) or "—"


@dataclass(frozen=True)
class LimitsResult:
    """The 1D scans behind :func:`limits` (each labelled ``observed`` or ``expected``)."""

    scans: tuple[Scan1D, ...]

    @property
    def pois(self) -> list[str]:
        """The POIs in the order they were scanned."""
        return list(dict.fromkeys(s.poi for s in self.scans))

    @property
    def labels(self) -> list[str]:
        """``observed``/``expected`` as present, in order."""
        return list(dict.fromkeys(s.label for s in self.scans))

    def scan(self, poi: str, label: str = EXPECTED) -> Scan1D:
        """The scan of ``poi`` with ``label``."""
        for s in self.scans:
            if s.poi == poi and s.label == label:
                return s
        raise KeyError(f"no {label} scan of {poi!r}; scans: {[(s.poi, s.label) for s in self.scans]}")

    def problems(self) -> list[str]:
        """What went wrong: failed best fits, failed scan points and missing intervals."""
        out: list[str] = []
        for s in self.scans:
            poi, label = s.poi, s.label
            failed = [p for p in s.points if p.status != 0]
            if s.fit_status != 0:
                out.append(f"{poi} ({label}): the best fit failed (status {s.fit_status})")
            if failed:
                vals = ", ".join(f"{p.values[poi]:.4g}" for p in failed[:5]) + (" ..." if len(failed) > 5 else "")
                out.append(f"{poi} ({label}): {len(failed)} of {len(s.points)} scan points failed ({vals})")
            for cl in ("68", "95"):
                if not s.intervals.get(cl):
                    out.append(f"{poi} ({label}): no {cl}% CL interval found in the scan range")
        return out

    def table(self) -> str:
        """One row per POI: best fit, 68% and 95% CL intervals per label."""
        labels = self.labels
        header = ["POI"]
        for label in labels:
            header += [f"{label} best", f"{label} 68% CL", f"{label} 95% CL"]
        rows = []
        for poi in self.pois:
            row = [poi]
            for label in labels:
                s = self.scan(poi, label)
                row += [f"{s.bestfit[poi]:.4g}", _union(s.intervals.get("68", ())), _union(s.intervals.get("95", ()))]
            rows.append(row)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows])

    def to_dict(self) -> dict[str, Any]:
        """The ``limits`` JSON document: ``{"kind": "limits", "scans": [scan1d, ...]}``."""
        return {"kind": "limits", "scans": [s.to_dict() for s in self.scans]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Path | None = None) -> LimitsResult:
        """Inverse of :meth:`to_dict` (``source``: the file it came from, unused)."""
        if d.get("kind") != "limits":
            raise ValueError(f"not a limits result: kind={d.get('kind')!r}")
        return cls(tuple(Scan1D.from_dict(s) for s in d["scans"]))


def limits(
    workspace: str | Path | Model,
    *,
    pois: Sequence[str] | None = None,
    points: int = 41,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    profile_others: bool = True,
    data: str = "data_obs",
    expected_at: Mapping[str, float] | None = None,
    observed: bool = True,
    options: FitOptions | None = None,
    **fit_options: Any,
) -> LimitsResult:
    """1D profile-likelihood scans of every POI (or of ``pois``), observed (``data``, unless
    ``observed=False``) and expected (Asimov at ``expected_at``, others nominal), on ``points``
    values of each POI's range (or of ``ranges[poi]``).

    ``options`` (:class:`~rooeft.infer.options.FitOptions`) and the keyword arguments of its
    fields (``workers=``, ``engine=``, …) are those of :func:`~rooeft.infer.scan.scan1d`.
    Failed fits are kept in the scans (see :meth:`LimitsResult.problems`), never raised.
    """
    if points < 2:
        raise InferenceError(f"a scan needs at least 2 points, got {points}")
    opts = FitOptions.resolve(options, **fit_options)
    model = get_model(workspace, engine=opts.engine, threads=opts.threads)
    ranges = dict(ranges or {})
    expected_at = dict(expected_at or {})
    requested = list(pois or [])
    for what, names in (("pois", requested), ("ranges", list(ranges)), ("expected_at", list(expected_at))):
        unknown = [n for n in names if n not in model.pois]
        if unknown:
            raise InferenceError(f"{what}: unknown POI(s) {unknown}; the POIs of {model.path} are {list(model.pois)}")
    kinds: list[tuple[str, Mapping[str, float] | None]] = [(EXPECTED, expected_at)]
    if observed:
        kinds.insert(0, (OBSERVED, None))
    scans = [
        scan1d(
            model,
            poi,
            points=points,
            range=ranges.get(poi),
            profile_others=profile_others,
            data=data,
            asimov=asimov,
            label=label,
            options=opts,
        )
        for poi in requested or list(model.pois)
        for label, asimov in kinds
    ]
    return LimitsResult(tuple(scans))
