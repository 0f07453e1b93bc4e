"""What the demo runs: the example's constants, :class:`DemoSettings` and the stage printer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DemoSettings"]

COEFFICIENTS = ("cHQ3", "cHW", "cHWtil")
RANGES = {"cHQ3": (-0.15, 0.15), "cHW": (-1.5, 1.5), "cHWtil": (-1.5, 1.5)}  # workspace ranges
# scan windows: about 5σ of the optimal analysis, wide enough for the binned pT(Z) 95% intervals
SCAN_RANGES = {"cHQ3": (-0.04, 0.04), "cHW": (-0.45, 0.45), "cHWtil": (-0.6, 0.6)}
OBSERVABLES = (
    "sqrt_s_hat", "pT", "y", "cos_theta", "phi_hat", "cos_theta_hat", "fLL", "f1TT", "f2TT", "f1LT", "f2LT",
    "f1tildeLT", "f2tildeLT", "fTTprime", "ftildeTTprime", "m_bb",
)  # fmt: skip
PTZ_EDGES = (0.0, 40.0, 80.0, 120.0, 160.0, 200.0, 300.0, 500.0, 2000.0)
SPLIT_PTZ = 150.0  # GeV: unbinned category below, score-binned category above
LUMI_KAPPA = 1.02
# Gaussian prior scale of θ in the quadratic loss: a few times the expected sensitivity, so that the
# linear terms (which drive small-θ intervals) are not swamped by the large quadratic ones of cHQ3
THETA_SCALE = (0.02, 0.2, 0.4)


#: the BSM point of the validation toys (each coefficient about 2σ of the learned analysis)
BSM_POINT = {"cHQ3": 0.01, "cHW": 0.1, "cHWtil": 0.2}
#: the analyses also validated at the BSM point (every analysis is validated at the SM)
BSM_ANALYSES = ("exact", "unbinned")
#: targets on independent toys (issue 9): |bias| and coverage tolerances
TARGET_BIAS = 0.1
TARGET_COVERAGE = {"68": (0.6827, 0.03), "95": (0.95, 0.02)}


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs; :meth:`quick` is the reduced setting for tests and CI.

    ``epochs``: the EFT network's epochs; ``aux_epochs``: the fractions' and the systematic
    ratios' (classifiers that converge fast on 10⁵–10⁶ events; the fractions are calibrated
    afterwards). ``n_signal``/``n_background``: *generated* events of the fresh simulation (about 45 % of the
    signal and 30 % of the background pass the acceptance); ``pool_signal``/``pool_background``:
    the same for the independent validation pool; ``n_toys``: validation toys per analysis,
    coefficient and truth point (0: no validation); ``ladder_points``: scan points per step and
    coefficient of the sensitivity ladders (placed at ±3 Hesse σ, see :func:`rooeft.ladder.ladder`)."""

    data_dir: Path
    output_dir: Path
    epochs: int = 40
    aux_epochs: int = 12
    score_epochs: int = 10
    scan_points: int = 17
    scan2d_points: int = 9
    workers: int = 2
    max_train_events: int | None = None
    seed: int = 1
    progress: bool = True
    n_signal: int = 1_150_000
    n_background: int = 1_000_000
    pool_signal: int = 2_000_000
    pool_background: int = 1_000_000
    n_toys: int = 300
    ladder_points: int = 9

    @classmethod
    def quick(cls, data_dir: Path, output_dir: Path) -> DemoSettings:
        return cls(
            data_dir=data_dir, output_dir=output_dir, epochs=3, aux_epochs=2, score_epochs=2, scan_points=9,
            scan2d_points=5,
            workers=1, max_train_events=15_000, progress=False, n_signal=60_000, n_background=40_000,
            pool_signal=60_000, pool_background=40_000, n_toys=12, ladder_points=5,
        )  # fmt: skip


class Stage:
    """Prints numbered stages with their wall time."""

    def __init__(self, total: int) -> None:
        self.total, self.n, self.t0 = total, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.n += 1
        print(f"[{self.n}/{self.total}] {text}  (t = {time.perf_counter() - self.t0:.0f} s)", flush=True)


def pseudo_data(settings: DemoSettings) -> Path:
    path = settings.data_dir / "pseudodata_sm.root"
    if not path.is_file():
        raise FileNotFoundError(
            f"demo input {path} not found: run from the repository root (data/zh) or pass --data-dir; "
            "`rooeft generate --output-dir DIR` makes a new set"
        )
    return path
