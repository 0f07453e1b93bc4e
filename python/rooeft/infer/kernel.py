"""The closed-form likelihood engine: the workspace's NLL and its exact gradient from the C++
``RooEFT::NLLKernel``, minimised by Minuit2 with that gradient.

The kernel evaluates the same likelihood RooFit builds from the workspace (``createNLL`` with
``Extended`` and the global observables), up to a parameter-independent constant, but in one
fused pass over the cached network outputs: double-precision block sums combined with Kahan
summation in a fixed order (independent of the thread count), both CPU cores inside one
evaluation, and the gradient in the same pass. Minuit2 receives ``NLL − NLL(start)`` (offsetting),
so it works with O(1) numbers even at 10⁶ events where the NLL itself is ~10⁷.

The workspace is unchanged by this: plain RooFit and Combine fit it as before (the
``engine="roofit"`` path of :mod:`rooeft.infer.model` does exactly that).

Supported: channels whose pdfs are ``RooEFTUnbinnedPdf`` or ``RooEFTTemplatePdf`` with
parameters (not functions) as coefficients, nuisances and rate modifiers, and Gaussian
constraints ``<nu>_Pdf``. Anything else raises :class:`KernelUnsupported` and ``engine="auto"``
falls back to RooFit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from rooeft.infer.model import Model

__all__ = ["KernelNLL", "KernelUnsupported", "MinuitRun", "run_minuit"]

F64 = npt.NDArray[np.float64]


class KernelUnsupported(ValueError):
    """The workspace contains something the closed-form kernel does not implement."""


class KernelNLL:
    """NLL and gradient of a workspace on one dataset (per-channel observable columns and weights).

    Parameters
    ----------
    model
        The opened workspace.
    per_channel
        Per channel name: (observable columns by name, event weights) — unbinned channels list
        events, binned channels one entry per bin (any x inside the bin) with the count as weight.
    globals_
        Values of the global observables (constraint centres).
    threads
        Threads inside one evaluation (default: the kernel's default, all cores or
        ``$ROOEFT_NUM_THREADS``).
    """

    def __init__(
        self,
        model: Model,
        per_channel: Mapping[str, tuple[Mapping[str, Any], Any]],
        globals_: Mapping[str, float],
        *,
        threads: int | None = None,
    ) -> None:
        ROOT = model.ROOT
        self.model = model
        self.names: list[str] = [*model.pois, *model.nuisances]
        try:
            self.kernel = ROOT.RooEFT.NLLKernel(_str_vector(ROOT, self.names))
        except Exception as err:  # pragma: no cover - only with a broken library build
            raise KernelUnsupported(f"cannot create the NLL kernel: {err}") from err
        if threads is not None:
            self.kernel.setThreads(max(1, int(threads)))
        # RooFit's NLL of the same workspace carries two parameter-independent terms the closed
        # form does not need; adding them makes both engines report the same absolute NLL:
        # ln(number of channels) per event (RooSimultaneous normalises over the category) and
        # ln(bin width) per binned entry (the template pdf's density is n_b / width_b).
        constant = 0.0
        n_total = 0.0
        for ch in model.channels:
            obs, weights = per_channel.get(ch, ({}, np.zeros(0)))
            pdf = model.channel_pdfs[ch]
            w = np.ascontiguousarray(weights, dtype=np.float64)
            try:
                if model.channel_kind[ch] == "unbinned":
                    names = [str(n) for n in pdf.observableNames()]
                    missing = [n for n in names if n not in obs]
                    if missing and w.size:
                        raise KernelUnsupported(f"channel '{ch}': data lack observable(s) {missing}")
                    x = (
                        np.stack([np.asarray(obs[n], dtype=np.float32) for n in names], axis=1)
                        if w.size
                        else np.zeros((0, len(names)), dtype=np.float32)
                    )
                    self.kernel.addUnbinned(
                        pdf,
                        ROOT.std.vector["float"](np.ascontiguousarray(x).ravel()),
                        ROOT.std.vector["double"](w),
                    )
                else:
                    edges = np.asarray(list(pdf.edges()), dtype=np.float64)
                    counts = np.zeros(edges.size - 1)
                    if w.size:
                        xname = str(pdf.observableName())
                        if xname not in obs:
                            raise KernelUnsupported(f"channel '{ch}': data lack the binned observable '{xname}'")
                        xs = np.asarray(obs[xname], dtype=np.float64)
                        idx = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, edges.size - 2)
                        np.add.at(counts, idx, w)
                        constant += float(np.sum(counts * np.log(np.diff(edges))))
                    self.kernel.addBinned(pdf, ROOT.std.vector["double"](counts))
            except KernelUnsupported:
                raise
            except Exception as err:  # C++ std::invalid_argument from the kernel (a cppyy exception type)
                raise KernelUnsupported(str(err).split("invalid_argument: ")[-1]) from err
            n_total += float(w.sum())
        if len(model.channels) > 1:
            constant += n_total * math.log(len(model.channels))
        self.kernel.setConstant(constant)
        for nu, (glob, sigma) in model.constraints.items():
            if not math.isfinite(sigma):
                raise KernelUnsupported(f"constraint of '{nu}' is not a RooGaussian")
            lo, hi = model.ranges.get(glob, (-math.inf, math.inf))
            self.kernel.addGaussianConstraint(
                nu, float(globals_.get(glob, model.nominal.get(glob, 0.0))), sigma, lo, hi
            )

    def vector(self, values: Mapping[str, float]) -> F64:
        """The parameter vector of ``values`` (missing names: the model's current values)."""
        return np.array(
            [float(values[n]) if n in values else float(self.model.var(n).getVal()) for n in self.names],
            dtype=np.float64,
        )

    def hessian(self, values: Mapping[str, float], steps: Mapping[str, float]) -> F64:
        """Hessian (over :attr:`names`) at ``values`` from central differences of the exact gradient
        with per-parameter ``steps`` (missing names: 0, their rows and columns stay 0)."""
        V = self.model.ROOT.std.vector["double"]
        h = self.kernel.hessian(V(self.vector(values)), V([float(steps.get(n, 0.0)) for n in self.names]))
        return np.asarray(h, dtype=np.float64).reshape(len(self.names), len(self.names))

    def value(self, values: Mapping[str, float]) -> float:
        """NLL at ``values`` (others at their current values)."""
        x = self.vector(values)
        return float(self.kernel.value(self.model.ROOT.std.vector["double"](x)))

    def gradient(self, values: Mapping[str, float]) -> F64:
        """∂NLL/∂parameter at ``values``, in the order of :attr:`names`."""
        x = self.vector(values)
        return np.asarray(self.kernel.gradient(self.model.ROOT.std.vector["double"](x)), dtype=np.float64)

    @property
    def calls(self) -> int:
        """Kernel evaluations so far (value-only plus value-and-gradient)."""
        return int(self.kernel.valueCalls()) + int(self.kernel.gradientCalls())


def _str_vector(ROOT: Any, names: Sequence[str]) -> Any:
    v = ROOT.std.vector["std::string"]()
    for n in names:
        v.push_back(n)
    return v


@dataclass
class MinuitRun:
    """One Minuit2 minimisation of a :class:`KernelNLL`."""

    status: int
    nll: float
    edm: float
    values: dict[str, float]
    calls: int
    minimizer: Any
    fcn: Any
    offset: float
    hessian_steps: Any = None

    def hesse(self) -> int:
        """Run Hesse with a Hessian computed at the minimum (not a seed Hessian from elsewhere);
        returns the covariance quality (3 = accurate)."""
        self.fcn.attachHessian(self.minimizer, self.hessian_steps)
        self.minimizer.Hesse()
        return int(self.minimizer.CovMatrixStatus())

    def errors(self, names: Sequence[str]) -> dict[str, float]:
        err = self.minimizer.Errors()
        return {n: float(err[i]) for i, n in enumerate(names)}

    def covariance(self, n: int) -> F64:
        return np.array([[self.minimizer.CovMatrix(i, j) for j in range(n)] for i in range(n)], dtype=np.float64)

    def minos(self, index: int) -> tuple[float, float, bool]:
        import ctypes

        lo, hi = ctypes.c_double(0.0), ctypes.c_double(0.0)
        ok = bool(self.minimizer.GetMinosError(index, lo, hi))
        return float(lo.value), float(hi.value), ok


def run_minuit(
    knll: KernelNLL,
    floating: Sequence[str],
    start: Mapping[str, float],
    steps: Mapping[str, float],
    *,
    strategy: int,
    tolerance: float,
    max_calls: int | None,
    simplex_first: bool = False,
    seed_hessian: F64 | None = None,
) -> MinuitRun:
    """Minimise with Minuit2 (Migrad, optionally after Simplex) and the kernel's exact gradient.

    Parameters not in ``floating`` are fixed at their ``start`` value; floating ones are limited
    to their ranges in the workspace. The error definition is 0.5 (an NLL) and the tolerance has
    RooMinimizer's meaning (``setEps``: Migrad stops at EDM < 0.002 × tolerance). Minuit2 also
    gets the kernel's Hessian (central differences of the exact gradient with steps of 10⁻³ of
    the initial steps) for Hesse and strategy 2. ``seed_hessian`` (n × n over ``knll.names``, e.g.
    computed at a neighbouring scan point) replaces that Hessian for Migrad's seed, which needs
    only a starting curvature: it saves 2n gradient passes per minimisation. ``calls`` counts
    every kernel evaluation, Hessian passes included.
    """
    ROOT = knll.model.ROOT
    model = knll.model
    names = knll.names
    x0 = knll.vector(start)
    fl = set(floating)
    fcn = ROOT.RooEFT.NLLFunction(knll.kernel)
    offset = float(knll.kernel.value(ROOT.std.vector["double"](x0)))
    if not math.isfinite(offset):
        offset = 0.0
    fcn.setOffset(offset)
    calls_before = knll.calls
    x = x0
    status = -1
    minimizer: Any = None
    for algo in ("Simplex", "Migrad") if simplex_first else ("Migrad",):
        minimizer = ROOT.Math.Factory.CreateMinimizer("Minuit2", algo)
        ROOT.SetOwnership(minimizer, True)  # the factory's result is not owned: ~45 kB of Minuit state per fit
        minimizer.SetFunction(fcn)
        minimizer.SetErrorDef(0.5)
        minimizer.SetStrategy(int(strategy))
        minimizer.SetTolerance(float(tolerance))
        minimizer.SetPrintLevel(-1)
        if max_calls is not None:
            minimizer.SetMaxFunctionCalls(int(max_calls))
            minimizer.SetMaxIterations(int(max_calls))
        # Hesse (and strategy 2) from differences of the exact gradient, not of NLL values
        hess_steps = ROOT.std.vector["double"]([1e-3 * float(steps[n]) if n in fl else 0.0 for n in names])
        if seed_hessian is not None and algo == "Migrad":
            fcn.attachFixedHessian(minimizer, ROOT.std.vector["double"](np.ascontiguousarray(seed_hessian).ravel()))
        else:
            fcn.attachHessian(minimizer, hess_steps)
        for i, n in enumerate(names):
            if n in fl:
                v = model.var(n)
                lo, hi = float(v.getMin()), float(v.getMax())
                minimizer.SetLimitedVariable(i, n, float(np.clip(x[i], lo, hi)), float(steps[n]), lo, hi)
            else:
                minimizer.SetFixedVariable(i, n, float(x[i]))
        minimizer.Minimize()
        status = int(minimizer.Status())
        xs = minimizer.X()
        x = np.array([xs[i] for i in range(len(names))], dtype=np.float64)
    values = {n: float(x[i]) for i, n in enumerate(names)}
    fmin = float(minimizer.MinValue())
    nll = fmin + offset if math.isfinite(fmin) else float("nan")
    return MinuitRun(
        status=status,
        nll=nll,
        edm=float(minimizer.Edm()),
        values=values,
        calls=knll.calls - calls_before,
        minimizer=minimizer,
        fcn=fcn,
        offset=offset,
        hessian_steps=hess_steps,
    )
