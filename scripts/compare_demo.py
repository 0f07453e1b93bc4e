#!/usr/bin/env python3
"""Compare two ``rooeft demo`` outputs: the before/after table of a refactor.

Reads ``summary.json`` of each output folder and prints a Markdown table of every interval
endpoint (observed and expected, 68% and 95%) and every validation number (bias, pull width,
coverage), with the difference after − before. Exits 1 if an endpoint moved by more than
``--tolerance`` times the 68% half-width of the analysis (default 0.02: "unchanged up to fit
tolerance"), or if a validation number moved by more than ``--toy-tolerance`` (default 0.02,
absolute, in σ units for biases and in probability for coverage), so it can gate a refactor.

Usage::

    python scripts/compare_demo.py BEFORE_DIR AFTER_DIR [-o table.md]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

VALIDATION_KEYS = ("bias", "pull_width", "coverage68", "coverage95")


def _load(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    if not path.is_file():
        raise SystemExit(f"compare_demo: {path} not found (not a demo output folder?)")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _endpoints(intervals: Mapping[str, Any]) -> Iterator[tuple[str, str, str, float, float]]:
    """(coefficient, analysis, "kind level end", value, 68% half-width) for every endpoint."""
    for coef, analyses in intervals.items():
        for analysis, res in analyses.items():
            exp68 = res["expected"]["68"]
            half = 0.5 * (exp68[-1][1] - exp68[0][0]) if exp68 else math.nan
            for kind in ("observed", "expected"):
                for level in ("68", "95"):
                    segments = res.get(kind, {}).get(level, [])
                    for i, (lo, hi) in enumerate(segments):
                        tag = f"{kind} {level}%" + (f" #{i + 1}" if len(segments) > 1 else "")
                        yield coef, analysis, f"{tag} lo", lo, half
                        yield coef, analysis, f"{tag} hi", hi, half


def _validation(validation: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str, float]]:
    for analysis, points in validation.items():
        for point, coefs in points.items():
            for coef, summary in coefs.items():
                for key in VALIDATION_KEYS:
                    yield analysis, point, coef, key, float(summary[key])


def compare(
    before: Mapping[str, Any], after: Mapping[str, Any], tolerance: float, toy_tolerance: float
) -> tuple[str, int]:
    """The Markdown report and the number of entries beyond tolerance."""
    lines = [
        "| coefficient | analysis | endpoint | before | after | Δ / σ₆₈ |",
        "|---|---|---|---|---|---|",
    ]
    bad = 0
    after_ends = {(c, a, e): (v, h) for c, a, e, v, h in _endpoints(after["intervals"])}
    for coef, analysis, end, value, half in _endpoints(before["intervals"]):
        new = after_ends.get((coef, analysis, end))
        if new is None:
            lines.append(f"| {coef} | {analysis} | {end} | {value:.5g} | missing | |")
            bad += 1
            continue
        rel = (new[0] - value) / half if half > 0 else math.nan
        flag = " **!**" if not abs(rel) <= tolerance else ""
        bad += bool(flag)
        lines.append(f"| {coef} | {analysis} | {end} | {value:.5g} | {new[0]:.5g} | {rel:+.4f}{flag} |")
    lines += ["", "| analysis | point | coefficient | quantity | before | after | Δ |", "|---|---|---|---|---|---|---|"]
    after_val = {(a, p, c, k): v for a, p, c, k, v in _validation(after.get("validation", {}))}
    for analysis, point, coef, key, value in _validation(before.get("validation", {})):
        new_v = after_val.get((analysis, point, coef, key))
        if new_v is None:
            lines.append(f"| {analysis} | {point} | {coef} | {key} | {value:.4f} | missing | |")
            bad += 1
            continue
        delta = new_v - value
        flag = " **!**" if not abs(delta) <= toy_tolerance else ""
        bad += bool(flag)
        lines.append(f"| {analysis} | {point} | {coef} | {key} | {value:.4f} | {new_v:.4f} | {delta:+.4f}{flag} |")
    t0, t1 = before.get("wall_time_s"), after.get("wall_time_s")
    if t0 and t1:
        lines += ["", f"Wall time: {t0:.0f} s before, {t1:.0f} s after."]
    return "\n".join(lines) + "\n", bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path, help="demo output folder before the change")
    ap.add_argument("after", type=Path, help="demo output folder after the change")
    ap.add_argument("-o", "--output", type=Path, help="Markdown file to write (default: print only)")
    ap.add_argument("--tolerance", type=float, default=0.02, help="endpoint shift, in 68%% half-widths")
    ap.add_argument("--toy-tolerance", type=float, default=0.02, help="absolute shift of a validation number")
    args = ap.parse_args(argv)
    text, bad = compare(_load(args.before), _load(args.after), args.tolerance, args.toy_tolerance)
    print(text)
    if args.output:
        tmp = args.output.with_name(args.output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.output)
    if bad:
        print(f"compare_demo: {bad} entries beyond tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
