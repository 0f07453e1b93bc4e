"""rooeft.plot: every plot function on synthetic inputs writes non-trivial PNG/PDF files with the
expected artists (threshold lines, contour levels, legend texts, axis labels with units)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import hist
import matplotlib.image
import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from rooeft.plot import (
    PlotError,
    plot_closure,
    plot_contours,
    plot_corner,
    plot_coverage,
    plot_impacts,
    plot_loss_curves,
    plot_pulls,
    plot_scan1d,
    plot_templates,
    plot_toy_pulls,
    save_figure,
)
from rooeft.plot.templates import poisson_interval

EDGES = np.linspace(200.0, 1000.0, 9)


# ----------------------------------------------------------------------------- helpers


def check_outputs(fig: Figure, stem: Path, *, min_px: tuple[int, int] = (400, 300)) -> None:
    """PNG and PDF exist, are non-trivial, the PNG has a sensible size and is not blank."""
    written = save_figure(fig, stem)
    assert written == [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")]
    png, pdf = written
    assert png.stat().st_size > 5_000 and pdf.stat().st_size > 3_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
    image = matplotlib.image.imread(png)
    assert image.shape[0] >= min_px[1] and image.shape[1] >= min_px[0]
    assert float(np.std(image[..., :3])) > 0.01  # not a blank canvas
    assert not [p for p in stem.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def legend_texts(fig: Figure) -> list[str]:
    out = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()]
    for legend in fig.legends:
        out += [t.get_text() for t in legend.get_texts()]
    return out


def all_texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def horizontal_lines(ax: Any) -> list[float]:
    """y of the lines that are horizontal in data coordinates (axhline)."""
    out = []
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if y.size == 2 and y[0] == y[1] and list(line.get_xdata()) == [0, 1]:
            out.append(float(y[0]))
    return out


def H(values: np.ndarray) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(EDGES, name="mzh", label="m(Zh)"))
    h[...] = values
    return h


def scan1d(label: str, centre: float, sigma: float, *, asimov: bool = False, poi: str = "cHW") -> dict[str, Any]:
    xs = np.linspace(-2, 2, 41)
    return {
        "kind": "scan1d",
        "poi": poi,
        "profiled": True,
        "asimov": asimov,
        "label": label,
        "bestfit": {poi: centre, "nll": 10.0},
        "points": [{poi: float(x), "deltaNLL": float(0.5 * ((x - centre) / sigma) ** 2), "status": 0} for x in xs],
        "intervals": {"68": [[centre - sigma, centre + sigma]], "95": [[centre - 1.96 * sigma, centre + 1.96 * sigma]]},
    }


def scan2d(label: str, sx: float, sy: float, rho: float = 0.0) -> dict[str, Any]:
    pts = []
    for a in np.linspace(-2, 2, 21):
        for b in np.linspace(-3, 3, 21):
            q = (a * a / sx**2 + b * b / sy**2 - 2 * rho * a * b / (sx * sy)) / (1 - rho * rho)
            pts.append({"cHW": float(a), "cHWtil": float(b), "deltaNLL": 0.5 * float(q), "status": 0})
    return {
        "kind": "scan2d",
        "pois": ["cHW", "cHWtil"],
        "profiled": False,
        "asimov": True,
        "label": label,
        "bestfit": {"cHW": 0.0, "cHWtil": 0.0, "nll": 1.0},
        "points": pts,
    }


def fit_result(rng: np.random.Generator, n: int = 6) -> dict[str, Any]:
    params: dict[str, Any] = {
        "cHW": {
            "value": 0.1,
            "error": 0.2,
            "error_lo": -0.2,
            "error_hi": 0.2,
            "prefit": 0.0,
            "prefit_error": 0.0,
            "constrained": False,
            "poi": True,
        },
        "mu_bkg": {
            "value": 1.1,
            "error": 0.1,
            "error_lo": -0.1,
            "error_hi": 0.1,
            "prefit": 1.0,
            "prefit_error": 0.0,
            "constrained": False,
            "poi": False,
        },
    }
    for i in range(n):
        params[f"nu{i}"] = {
            "value": 0.25 * (i - 2),
            "error": 0.5 + 0.05 * i,
            "error_lo": 0.0,
            "error_hi": 0.0,
            "prefit": 0.0,
            "prefit_error": 1.0,
            "constrained": True,
            "poi": False,
        }
    params["lumi"] = {
        "value": 0.02,
        "error": 0.01,
        "error_lo": -0.008,
        "error_hi": 0.012,
        "prefit": 0.0,
        "prefit_error": 0.02,
        "constrained": True,
        "poi": False,
    }
    return {
        "kind": "fit",
        "status": 0,
        "cov_quality": 3,
        "min_nll": 1.0,
        "asimov": False,
        "parameters": params,
        "correlation": {"names": list(params), "matrix": np.eye(len(params)).tolist()},
    }


# ----------------------------------------------------------------------------- save_figure


def test_save_figure_atomic_formats_and_mode(tmp_path: Path) -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [0, 1])
    written = save_figure(fig, tmp_path / "sub" / "dir" / "line", formats=("png", "pdf", "svg"))
    assert [p.suffix for p in written] == [".png", ".pdf", ".svg"]
    mask = os.umask(0o022)
    os.umask(mask)
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(p.name for p in (tmp_path / "sub" / "dir").iterdir()) == ["line.pdf", "line.png", "line.svg"]
    # a stem containing dots keeps them
    assert save_figure(fig, tmp_path / "scan.cHW", formats=("png",)) == [tmp_path / "scan.cHW.png"]
    with pytest.raises(PlotError, match="no output format"):
        save_figure(fig, tmp_path / "x", formats=())


def test_poisson_interval_garwood() -> None:
    lo, hi = poisson_interval(np.array([0.0, 1.0, 10.0]))
    from scipy.stats import poisson

    # hi: P(n' <= n | hi) = alpha/2 ; lo: P(n' >= n | lo) = alpha/2
    alpha = 1 - 0.682689492
    assert lo[0] == 0.0
    np.testing.assert_allclose(poisson.cdf([0, 1, 10], hi), alpha / 2, rtol=1e-6)
    np.testing.assert_allclose(poisson.sf([0, 9], lo[1:]), alpha / 2, rtol=1e-6)


# ----------------------------------------------------------------------------- 1. templates


def test_templates(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    centre = 0.5 * (EDGES[1:] + EDGES[:-1])
    zz = 200 * np.exp(-(centre - 200) / 150)
    zh = 40 * np.exp(-(centre - 200) / 250)
    fig = plot_templates(
        templates={"ZZ": H(zz), "Zh": H(zh)},
        data=H(rng.poisson(zz + zh).astype(float)),
        variations={"cHW = 0.5": H(zz + zh * (1 + 0.002 * (centre - 200))), "cHW = -0.5": zz + zh * 0.9},
        unit="GeV",
        lumi=300,
    )
    main, ratio = fig.axes
    assert ratio.get_xlabel() == "m(Zh) [GeV]"
    assert main.get_ylabel() == "Events / bin" and ratio.get_ylabel() == "Ratio / SM"
    assert set(legend_texts(fig)) == {"ZZ", "Zh", "cHW = 0.5", "cHW = -0.5", "Data"}
    texts = all_texts(fig)
    assert "rooeft" in texts and "Simulation" in texts
    assert any("300" in t and "fb" in t and "13 TeV" in t for t in texts)
    assert 1.0 in horizontal_lines(ratio)
    check_outputs(fig, tmp_path / "templates")
    # log scale and no ratio panel
    fig = plot_templates(templates={"ZZ": H(zz)}, logy=True, ratio=False, xlabel="m_{ZH}", unit="TeV")
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log" and fig.axes[0].get_xlabel() == "m_{ZH} [TeV]"


def test_templates_errors() -> None:
    with pytest.raises(PlotError, match="no templates"):
        plot_templates(templates={})
    with pytest.raises(PlotError, match="bin edges"):
        plot_templates(templates={"a": np.ones(8)})
    with pytest.raises(PlotError, match=r"data: 3 bins, expected 8"):
        plot_templates(templates={"a": H(np.ones(8))}, data=np.ones(3))
    other = hist.Hist(hist.axis.Regular(8, 0, 1, name="x"))
    with pytest.raises(PlotError, match="binning differs"):
        plot_templates(templates={"a": H(np.ones(8)), "b": other})


# ----------------------------------------------------------------------------- 2. closure


def test_closure(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    true = rng.uniform(0.5, 2.0, size=(3000, 3))
    true[:10, 2] = 0.0  # left out of the relative error
    learned = true * (1 + 0.01 * rng.normal(size=true.shape))
    fig = plot_closure(learned=learned, true=true, labels=["sm", "cHW", "cHW^2"])
    main_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(main_axes) == 6
    assert [ax.get_title() for ax in main_axes[:3]] == ["sm", "cHW", "cHW^2"]
    assert legend_texts(fig).count("learned = true") == 3
    text = " ".join(all_texts(fig))
    assert "q16" in text and "q84" in text and "10 with true = 0 left out" in text
    # the relative-error quantiles match a 1% Gaussian smearing
    q84 = [float(t.split("q84:")[1].split()[0]) for t in all_texts(fig) if "q84:" in t]
    assert len(q84) == 3 and all(0.008 < q < 0.012 for q in q84)
    check_outputs(fig, tmp_path / "closure")
    fig = plot_closure(learned=learned[:, 0], true=true[:, 0], quantity="c")  # 1D input
    assert fig.axes[0].get_xlabel() == r"$c_{\mathrm{true}}$"


def test_closure_errors() -> None:
    with pytest.raises(PlotError, match="differs"):
        plot_closure(learned=np.ones((5, 2)), true=np.ones((5, 3)))
    with pytest.raises(PlotError, match="2 labels for 3 terms"):
        plot_closure(learned=np.ones((5, 3)), true=np.ones((5, 3)), labels=["a", "b"])


# ----------------------------------------------------------------------------- 3. loss curves


def test_loss_curves(tmp_path: Path) -> None:
    epochs = np.arange(1, 21)
    history = {
        "train_loss": list(1 / epochs + 0.1),
        "val_loss": list(1.1 / epochs + 0.12),
        "learning_rate": [1e-3] * 10 + [1e-4] * 10,
        "best_epoch": 17,
        "best_val_loss": 0.18,
        "stopped_early": False,
        "seconds": 3.0,
        "epochs": 20,
    }
    fig = plot_loss_curves(history=history)
    ax, lax = fig.axes
    assert ax.get_yscale() == "log" and lax.get_yscale() == "log"
    assert ax.get_ylabel() == "loss" and lax.get_xlabel() == "epoch" and lax.get_ylabel() == "learning rate"
    assert legend_texts(fig) == ["training", "validation", "best epoch 18"]
    check_outputs(fig, tmp_path / "loss")
    # negative losses (e.g. likelihood-ratio losses): linear axis; several runs overlaid
    negative = {**history, "train_loss": [-v for v in history["train_loss"]], "val_loss": [-1.0] * 20}
    fig = plot_loss_curves(history={"run A": history, "run B": negative})
    assert fig.axes[0].get_yscale() == "linear"
    assert "run B: validation" in legend_texts(fig)
    with pytest.raises(PlotError, match="train_loss"):
        plot_loss_curves(history={"kind": "fit"})


# ----------------------------------------------------------------------------- 4. 1D scans


def test_scan1d(tmp_path: Path) -> None:
    fig = plot_scan1d(
        scans=[scan1d("observed", 0.2, 0.5), scan1d("expected", 0.0, 0.6, asimov=True)],
        shade_intervals=True,
        lumi=300,
        poi_label="cHW (Λ = 1 TeV)",
    )
    (ax,) = fig.axes
    assert sorted(horizontal_lines(ax)) == [1.0, 3.84]
    assert {" 68%", " 95%"} <= set(all_texts(fig))
    assert legend_texts(fig) == ["observed", "expected"]
    assert ax.get_xlabel() == "cHW (Λ = 1 TeV)" and "ln L" in ax.get_ylabel()
    observed = ax.get_lines()[0]
    assert observed.get_linestyle() == "-" and ax.get_lines()[1].get_linestyle() == "--"
    # 2ΔNLL drawn, not ΔNLL: the curve crosses 1 at centre ± σ
    x, y = (np.asarray(v, dtype=float) for v in observed.get_data())
    assert np.interp(0.7, x, y) == pytest.approx(1.0, abs=0.02)
    assert len(ax.patches) == 2  # two shaded 68% intervals
    check_outputs(fig, tmp_path / "scan1d")


def test_scan1d_errors_and_failed_points() -> None:
    with pytest.raises(PlotError, match="different parameters"):
        plot_scan1d(scans=[scan1d("a", 0, 1), scan1d("b", 0, 1, poi="cHB")])
    bad = scan1d("x", 0, 1)
    bad["points"][3]["status"] = 4
    bad["points"][3]["deltaNLL"] = 50.0  # a failed fit is marked but not part of the curve
    bad["points"][5]["deltaNLL"] = float("nan")
    fig = plot_scan1d(scans=bad)
    assert "x (failed fits)" in legend_texts(fig)
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 39
    broken = scan1d("y", 0, 1)
    del broken["points"][0]["deltaNLL"]
    with pytest.raises(PlotError, match="deltaNLL"):
        plot_scan1d(scans=broken)


# ----------------------------------------------------------------------------- 5. 2D contours


def test_contours(tmp_path: Path) -> None:
    fig = plot_contours(scans=[scan2d("exact", 0.5, 1.0), scan2d("learned", 0.6, 1.1, rho=0.3)])
    (ax,) = fig.axes
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(sets) == 2
    for cs in sets:
        np.testing.assert_allclose(cs.levels, [2.30, 5.99])
    # the 68% contour of an uncorrelated Gaussian is the ellipse with half-axes sqrt(2.30)·σ
    path = sets[0].get_paths()[0]
    verts = path.vertices[path.codes != 79] if path.codes is not None else path.vertices
    inner = verts[np.hypot(verts[:, 0] / 0.5, verts[:, 1] / 1.0) < 1.1 * math.sqrt(2.30)]
    assert np.abs(inner[:, 0]).max() == pytest.approx(0.5 * math.sqrt(2.30), rel=0.02)
    assert np.abs(inner[:, 1]).max() == pytest.approx(1.0 * math.sqrt(2.30), rel=0.02)
    assert legend_texts(fig) == ["exact", "learned", "68% CL", "95% CL", "best fit", "SM"]
    assert ax.get_xlabel() == "cHW" and ax.get_ylabel() == "cHWtil"
    check_outputs(fig, tmp_path / "contours")


def test_contours_errors() -> None:
    other = scan2d("x", 1, 1)
    other["pois"] = ["cHW", "cHB"]
    with pytest.raises(PlotError, match="different parameter pairs"):
        plot_contours(scans=[scan2d("a", 1, 1), other])
    failed = scan2d("f", 1, 1)
    for p in failed["points"][3:]:
        p["status"] = 1
    with pytest.raises(PlotError, match="fewer than 4 converged"):
        plot_contours(scans=failed)
    with pytest.raises(PlotError, match="cubic"):
        plot_contours(scans=scan2d("a", 1, 1), interpolation="nearest")


# ----------------------------------------------------------------------------- 6. pulls and impacts


def test_pulls(tmp_path: Path) -> None:
    fit = fit_result(np.random.default_rng(3))
    fig = plot_pulls(fit=fit)
    (ax,) = fig.axes
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["lumi", "nu5", "nu4", "nu3", "nu2", "nu1", "nu0"]  # file order, first on top; no POI
    x = np.asarray(ax.containers[0].lines[0].get_xdata(), dtype=float)
    np.testing.assert_allclose(x, [1.0, 0.75, 0.5, 0.25, 0.0, -0.25, -0.5])
    assert [(round(p.get_x(), 6), round(p.get_width(), 6)) for p in ax.patches[:2]] == [(-2.0, 4.0), (-1.0, 2.0)]
    assert ax.get_xlabel() == r"$(\hat\theta - \theta_0)/\sigma$"
    check_outputs(fig, tmp_path / "pulls")

    impacts = {f"nu{i}": (0.01 * i, -0.012 * i) for i in range(6)} | {"lumi": (0.1, -0.09)}
    fig = plot_pulls(fit=fit, impacts=impacts, poi="cHW")
    ax, iax = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "lumi"  # largest impact on top
    assert iax.get_xlabel() == "impact on cHW"
    assert {"+1σ impact", "−1σ impact"} <= {
        t.replace("$", "").replace(r"\sigma", "σ").replace("-", "−") for t in legend_texts(fig)
    }
    check_outputs(fig, tmp_path / "pulls_impacts")
    fig = plot_impacts(impacts=impacts, poi="cHW", max_parameters=3)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["nu4", "nu5", "lumi"]


def test_pulls_errors() -> None:
    fit = fit_result(np.random.default_rng(4), n=0)
    del fit["parameters"]["lumi"]
    with pytest.raises(PlotError, match="no constrained nuisance"):
        plot_pulls(fit=fit)
    with pytest.raises(PlotError, match="'nope'"):
        plot_pulls(fit=fit_result(np.random.default_rng(4)), include=["nope"])
    with pytest.raises(PlotError, match="pair"):
        plot_impacts(impacts={"a": (1.0,)})


# ----------------------------------------------------------------------------- 7. corner


def test_corner(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    samples = rng.multivariate_normal([0.1, -0.2, 0.0], np.diag([0.04, 0.09, 0.01]), size=8000)
    fig = plot_corner(
        samples=samples,
        names=["cHW", "cHWtil", "cHB"],
        intervals={"cHW": {"68": [[-0.1, 0.3]], "95": [[-0.3, 0.5]]}},
        truths={"cHW": 0.0},
    )
    assert len(fig.axes) == 9
    assert sum(not ax.axison for ax in fig.axes) == 3  # upper triangle hidden
    diag0 = fig.axes[0]
    spans = sorted(
        (round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6)) for p in diag0.patches if p.get_alpha() == 0.35
    )
    assert spans == [(-0.3, 0.5), (-0.1, 0.3)]
    assert diag0.get_title().startswith("cHW = $0.1")
    assert any(isinstance(c, ContourSet) for c in fig.axes[3].collections)
    assert fig.axes[6].get_xlabel() == "cHW" and fig.axes[3].get_ylabel() == "cHWtil"
    assert "68% CL profile likelihood" in legend_texts(fig)
    check_outputs(fig, tmp_path / "corner")
    fig = plot_corner(samples=samples[:, 0], names=["cHW"], weights=np.ones(8000))
    assert len(fig.axes) == 1
    with pytest.raises(PlotError, match="2 names for 3"):
        plot_corner(samples=samples, names=["a", "b"])
    with pytest.raises(PlotError, match="unknown parameter"):
        plot_corner(samples=samples, names=["a", "b", "c"], truths={"d": 0.0})


# ----------------------------------------------------------------------------- toys


def test_toys(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    toys = {
        "kind": "toys",
        "truth": {"cHW": 0.0, "cHWtil": 0.5},
        "n_toys": 300,
        "fits": [],
        "coverage": {"cHW": {"68": 0.69, "95": 0.95, "n": 300}, "cHWtil": {"68": 0.64, "95": 0.93, "n": 300}},
        "pulls": {"cHW": rng.normal(size=300).tolist(), "cHWtil": [*rng.normal(0.2, 1.1, 299).tolist(), None]},
    }
    fig = plot_toy_pulls(toys=toys)
    titles = [ax.get_title().split("\n") for ax in fig.axes[:2]]
    assert [t[0] for t in titles] == ["cHW (true 0)", "cHWtil (true 0.5)"]
    assert titles[0][1].startswith("mean ") and "width" in titles[0][1]
    assert "299 toys" in legend_texts(fig)
    check_outputs(fig, tmp_path / "toy_pulls")
    fig = plot_coverage(toys=toys)
    (ax,) = fig.axes
    assert sorted(horizontal_lines(ax)) == [0.6827, 0.95]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cHW", "cHWtil"]
    check_outputs(fig, tmp_path / "coverage")
    with pytest.raises(PlotError, match="coverage"):
        plot_coverage(toys={"kind": "toys", "fits": []})
