"""Reading, writing and summing samples (rooeft.samples.reader / sample)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from rooeft.samples import (
    BenchmarkWeights,
    Sample,
    SampleError,
    StructureConstantBranches,
    iter_chunks,
    read_sample,
    read_variations,
    stream_sums,
)
from rooeft.terms import monomials

COEFFS = ("cHW", "cHB")


def write_tree(path: Path, columns: dict[str, Any], tree: str = "Events") -> Path:
    """A TTree written with uproot (mktree: uproot's `file[name] = dict` would write an RNTuple)."""
    with uproot.recreate(path) as f:
        types = {k: ("var * float64" if isinstance(v, ak.Array) else np.asarray(v).dtype) for k, v in columns.items()}
        f.mktree(tree, types)
        f[tree].extend(columns)
    return path


def zh_columns(n: int, seed: int) -> dict[str, np.ndarray]:
    """Columns with the ZH generator's naming."""
    rng = np.random.default_rng(seed)
    sc = rng.normal(size=(n, 6)) * [1.0, 0.3, 0.2, 0.05, 0.02, 0.04]
    sc[:, 0] = rng.uniform(0.1, 1.0, n) * rng.choice([-1.0, 1.0], n, p=[0.1, 0.9])
    cols: dict[str, np.ndarray] = {
        "pt_z": rng.exponential(80.0, n).astype(np.float32),
        "eta_z": rng.normal(size=n),
        "njet": rng.integers(0, 4, n).astype(np.int32),
        "is_ee": rng.random(n) < 0.5,
        "weight": sc[:, 0].copy(),
        "truth_pt_h": rng.exponential(90.0, n),
        "weight_lumiUp": sc[:, 0] * 1.02,
        "weight_lumiDown": sc[:, 0] * 0.98,
        "weight_scaleUp": sc[:, 0] * rng.uniform(0.9, 1.2, n),
        "weight_scaleDown": sc[:, 0] * rng.uniform(0.8, 1.1, n),
    }
    names = ["w_sm", "w_cHW", "w_cHB", "w_cHW_cHW", "w_cHW_cHB", "w_cHB_cHB"]
    for j, b in enumerate(names):
        cols[b] = sc[:, j]
    return cols


@pytest.fixture
def zh_files(tmp_path: Path) -> list[Path]:
    return [write_tree(tmp_path / f"zh_{i}.root", zh_columns(n, seed=i)) for i, n in enumerate([40, 55, 37])]


def _stack(files: list[Path], key: str) -> np.ndarray:
    return np.concatenate([uproot.open(f)["Events"][key].array(library="np") for f in files])


# ------------------------------------------------------------------------------------ reading
def test_defaults_read_zh_naming(zh_files: list[Path]) -> None:
    s = read_sample(zh_files)
    assert s.name == "zh_0" and s.n_events == 132
    assert s.coefficients == COEFFS
    assert list(s.observables) == ["pt_z", "eta_z", "njet", "is_ee"]
    assert list(s.spectators) == ["truth_pt_h"]
    assert set(s.systematics) == {"lumi", "scale"}
    np.testing.assert_array_equal(s.observables["pt_z"], _stack(zh_files, "pt_z"))
    assert s.observables["pt_z"].dtype == np.float32 and s.observables["njet"].dtype == np.int32
    np.testing.assert_array_equal(s.structure_constants[:, 4], _stack(zh_files, "w_cHW_cHB"))  # type: ignore[index]
    np.testing.assert_array_equal(s.systematics["scale"][1], _stack(zh_files, "weight_scaleDown"))
    assert s.sources == tuple(str(f.resolve()) for f in zh_files)


def test_options_cut_expressions_weight(zh_files: list[Path]) -> None:
    s = read_sample(
        zh_files,
        name="zh",
        observables={"pt": "pt_z", "pt2": "pt_z**2", "abseta": "abs(eta_z)"},
        cut="(pt_z > 50) & (njet < 3)",
        weight="2*weight",
        systematics=["lumi"],
        eft=StructureConstantBranches(coefficients=["cHW", "cHB"]),
        scale=0.5,
    )
    pt, nj, w = _stack(zh_files, "pt_z"), _stack(zh_files, "njet"), _stack(zh_files, "weight")
    sel = (pt > 50) & (nj < 3)
    assert s.n_events == int(sel.sum()) > 10
    np.testing.assert_array_equal(s.observables["pt"], pt[sel])
    np.testing.assert_array_equal(s.observables["pt2"], pt[sel] ** 2)
    np.testing.assert_array_equal(s.observables["abseta"], np.abs(_stack(zh_files, "eta_z")[sel]))
    np.testing.assert_array_equal(s.weights, w[sel])  # 2 * 0.5
    np.testing.assert_array_equal(s.systematics["lumi"][0], 0.5 * _stack(zh_files, "weight_lumiUp")[sel])
    np.testing.assert_array_equal(s.structure_constants[:, 0], 0.5 * _stack(zh_files, "w_sm")[sel])  # type: ignore[index]
    assert list(s.systematics) == ["lumi"]
    s1 = read_sample(zh_files, weight=None, eft=None, systematics=None)
    np.testing.assert_array_equal(s1.weights, np.ones(132))
    assert not s1.has_eft and s1.systematics == {} and "w_sm" not in s1.observables


def test_systematics_as_factors(tmp_path: Path) -> None:
    f = write_tree(
        tmp_path / "b.root",
        {
            "x": np.arange(5.0),
            "weight": np.full(5, 2.0),
            "weight_jesUp": np.full(5, 1.1),
            "weight_jesDown": np.full(5, 0.8),
        },
    )
    s = read_sample(f, systematics_are_factors=True)
    np.testing.assert_allclose(s.systematics["jes"][0], 2.2, rtol=1e-15)
    np.testing.assert_allclose(s.systematics["jes"][1], 1.6, rtol=1e-15)
    assert not s.has_eft and list(s.observables) == ["x"]


def test_sample_based_variations(zh_files: list[Path]) -> None:
    out = read_variations({"jes": (zh_files[1], zh_files[2])}, name="zh")
    up, down = out["jes"]
    assert (up.name, up.n_events, down.name, down.n_events) == ("zh_jesUp", 55, "zh_jesDown", 37)


# ------------------------------------------------------------------------------------ sums
def test_chunked_sums_equal_whole_sums(zh_files: list[Path]) -> None:
    whole = read_sample(zh_files, step_size=10**6).sums()
    for step in (1, 7, 50):
        chunked = stream_sums(zh_files, step_size=step)
        assert chunked.n_events == whole.n_events == 132
        assert chunked.sum_weights == whole.sum_weights
        assert chunked.sum_weights2 == whole.sum_weights2
        assert chunked.term_sums is not None and whole.term_sums is not None
        assert chunked.term_sums.tolist() == whole.term_sums.tolist()
        assert dict(chunked.systematic_sums) == dict(whole.systematic_sums)
    # and both are the correctly rounded sums
    assert whole.term_sums.tolist() == [
        math.fsum(_stack(zh_files, b)) for b in ["w_sm", "w_cHW", "w_cHB", "w_cHW_cHW", "w_cHW_cHB", "w_cHB_cHB"]
    ]
    assert whole.systematic_sums["lumi"][0] == math.fsum(_stack(zh_files, "weight_lumiUp"))
    # with a cut, too
    a = stream_sums(zh_files, cut="pt_z > 60", step_size=3)
    b = read_sample(zh_files, cut="pt_z > 60").sums()
    assert a.term_sums.tolist() == b.term_sums.tolist() and a.n_events == b.n_events  # type: ignore[union-attr]
    assert sum(c.n_events for c in iter_chunks(zh_files, step_size=20)) == 132


def test_sigma_and_weights_at(zh_files: list[Path]) -> None:
    s = read_sample(zh_files)
    thetas = np.array([[0.0, 0.0], [1.0, -0.5], [2.0, 3.0]])
    sc = s.structure_constants
    assert sc is not None
    expected = [sum(float(sc[i] @ monomials(t)) for i in range(s.n_events)) for t in thetas]
    np.testing.assert_allclose(s.sigma(thetas), expected, rtol=1e-12)
    assert s.sigma([0.0, 0.0]) == s.term_sums()[0]
    w = s.weights_at(thetas)
    assert w.shape == (3, 132)
    np.testing.assert_allclose(w[1], sc @ monomials(thetas[1]), rtol=1e-14)
    np.testing.assert_allclose(w.sum(axis=1), expected, rtol=1e-12)
    assert stream_sums(zh_files).sigma(thetas[2]) == pytest.approx(expected[2], rel=1e-12)
    with pytest.raises(SampleError, match="has 2 coefficients"):
        s.sigma([1.0])


def test_select(zh_files: list[Path]) -> None:
    s = read_sample(zh_files)
    m = s.observables["njet"] == 1
    sub = s.select(m)
    assert sub.n_events == int(m.sum())
    np.testing.assert_array_equal(sub.weights, s.weights[m])
    np.testing.assert_array_equal(sub.systematics["lumi"][1], s.systematics["lumi"][1][m])
    np.testing.assert_array_equal(sub.spectators["truth_pt_h"], s.spectators["truth_pt_h"][m])
    with pytest.raises(SampleError, match="empty selection"):
        s.select(np.zeros(s.n_events, bool))
    with pytest.raises(SampleError, match="does not match 132 events"):
        s.select(np.ones(5, bool))


# ------------------------------------------------------------------------------------ writing
def test_round_trip_bit_for_bit(zh_files: list[Path], tmp_path: Path) -> None:
    s = read_sample(zh_files)
    out = s.to_root(tmp_path / "out.root")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.root", "zh_0.root", "zh_1.root", "zh_2.root"]
    r = read_sample(out)
    raw = uproot.open(out)["Events"].arrays(library="np")
    assert set(raw) == set(s.branches())
    for k, v in s.branches().items():
        assert raw[k].dtype == v.dtype and raw[k].tobytes() == np.ascontiguousarray(v).tobytes(), k
    assert r.coefficients == s.coefficients
    for k in s.observables:
        assert r.observables[k].dtype == s.observables[k].dtype
        assert r.observables[k].tobytes() == s.observables[k].tobytes()
    assert r.weights.tobytes() == s.weights.tobytes()
    assert r.structure_constants.tobytes() == s.structure_constants.tobytes()  # type: ignore[union-attr]
    for k, (u, d) in s.systematics.items():
        assert r.systematics[k][0].tobytes() == u.tobytes() and r.systematics[k][1].tobytes() == d.tobytes()
    assert r.spectators["truth_pt_h"].tobytes() == s.spectators["truth_pt_h"].tobytes()


def test_to_root_refuses_input_and_is_atomic(zh_files: list[Path], tmp_path: Path) -> None:
    s = read_sample(zh_files)
    before = zh_files[1].read_bytes()
    with pytest.raises(SampleError, match=r"refusing to overwrite the input file .*zh_1.root"):
        s.to_root(zh_files[1])
    assert zh_files[1].read_bytes() == before
    target = tmp_path / "t.root"
    target.write_bytes(b"old")
    s.select(s.observables["njet"] == 0).to_root(target)  # replaces an unrelated file
    assert read_sample(target).n_events == int((s.observables["njet"] == 0).sum())
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    with pytest.raises(SampleError, match="output directory does not exist"):
        s.to_root(tmp_path / "nope" / "x.root")


def test_inputs_not_modified() -> None:
    w = np.array([1.0, -2.0, 3.0])
    x = np.array([1.0, 2.0, 3.0])
    s = Sample(name="s", observables={"x": x}, weights=w)
    assert w.flags.writeable and x.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        s.weights[0] = 5.0
    s.select(np.array([True, False, True]))
    assert w.tolist() == [1.0, -2.0, 3.0]


def test_structured_observables() -> None:
    rec = np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])
    rec["a"] = [1.0, 2.0, 3.0]
    s = Sample(name="s", observables=rec, weights=np.ones(3))
    assert list(s.observables) == ["a", "b"]
    np.testing.assert_array_equal(s.observable_matrix(), [[1, 0], [2, 0], [3, 0]])


# ------------------------------------------------------------------------------------ benchmarks
BENCH = np.array(
    [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [2, -1], [-1, 2], [0.5, 0.5], [-2, -1], [1.5, -2]], float
)


def _benchmark_file(path: Path, *, jagged: bool, n: int = 60) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(5)
    sc = rng.normal(size=(n, 6)) * [1.0, 0.3, 0.2, 0.05, 0.02, 0.04]
    w = sc @ monomials(BENCH).T
    cols: dict[str, Any] = {"x": rng.normal(size=n), "weight": sc[:, 0].copy()}
    if jagged:
        cols["LHEReweightingWeight"] = ak.Array(w.tolist())
    else:
        for k in range(len(BENCH)):
            cols[f"rw{k}"] = w[:, k]
    return write_tree(path, cols), sc


@pytest.mark.parametrize("jagged", [True, False])
def test_benchmark_morphing_in_reader(tmp_path: Path, jagged: bool) -> None:
    f, sc = _benchmark_file(tmp_path / "mg.root", jagged=jagged)
    if jagged:
        eft = BenchmarkWeights(
            coefficients=COEFFS, points=BENCH.tolist(), array_branch="LHEReweightingWeight", holdout=[9, 10]
        )
    else:
        eft = BenchmarkWeights(
            coefficients=COEFFS, points=BENCH.tolist(), branches=[f"rw{k}" for k in range(11)], holdout=[10]
        )
    s = read_sample(f, eft=eft, step_size=25)
    assert s.coefficients == COEFFS
    assert list(s.observables) == ["x"]
    assert np.max(np.abs(s.structure_constants - sc)) < 1e-10 * np.max(np.abs(sc))  # type: ignore[operator]
    meta = s.metadata
    assert 1.0 < float(meta["morphing_condition_number"]) < 100.0  # type: ignore[arg-type]
    assert float(meta["morphing_holdout_residual"]) < 1e-12  # type: ignore[arg-type]
    sums = stream_sums(f, eft=eft, step_size=7)
    assert sums.term_sums is not None and np.allclose(sums.term_sums, sc.sum(axis=0), rtol=1e-10, atol=1e-12)


def test_benchmark_errors_name_file_tree_branch(tmp_path: Path) -> None:
    f, _ = _benchmark_file(tmp_path / "mg.root", jagged=True)
    dup = BENCH.copy()
    dup[8] = dup[3]
    with pytest.raises(
        SampleError,
        match=r"duplicated benchmark points at indices \[3, 8\] "
        r"\[file '.*mg.root', tree 'Events', branch 'LHEReweightingWeight'\]",
    ):
        read_sample(
            f, eft=BenchmarkWeights(coefficients=COEFFS, points=dup.tolist(), array_branch="LHEReweightingWeight")
        )
    with pytest.raises(
        SampleError,
        match=r"benchmark points but events with \[11\] weights "
        r"\[file '.*mg.root', tree 'Events', branch 'LHEReweightingWeight'\]",
    ):
        read_sample(
            f,
            eft=BenchmarkWeights(coefficients=COEFFS, points=BENCH[:10].tolist(), array_branch="LHEReweightingWeight"),
        )
    with pytest.raises(SampleError, match="point 0 has 2 coordinates for 3 coefficients"):
        BenchmarkWeights(coefficients=[*COEFFS, "cW"], points=BENCH.tolist(), array_branch="LHEReweightingWeight")
    with pytest.raises(SampleError, match="3 weight branches for 11 points"):
        BenchmarkWeights(coefficients=COEFFS, points=BENCH.tolist(), branches=["a", "b", "c"])
    wrong = BENCH.copy()
    wrong[10] = [1.0, 2.0]  # mislabelled benchmark: held out, it betrays itself
    with pytest.raises(
        SampleError,
        match=r"held-out benchmarks \[10\].*\[file '.*mg.root', tree 'Events', branch 'LHEReweightingWeight'\]",
    ):
        read_sample(
            f,
            eft=BenchmarkWeights(
                coefficients=COEFFS, points=wrong.tolist(), array_branch="LHEReweightingWeight", holdout=[10]
            ),
        )


# ------------------------------------------------------------------------------------ bad input
def _bad(tmp_path: Path, **overrides: Any) -> Path:
    cols = zh_columns(20, seed=9)
    cols.update(overrides)
    return write_tree(tmp_path / "bad.root", cols)


def test_nan_weights_refused(tmp_path: Path) -> None:
    w = zh_columns(20, seed=9)["weight"]
    w[13] = np.nan
    f = _bad(tmp_path, weight=w)
    with pytest.raises(
        SampleError,
        match=r"nominal weight is NaN or inf \(1 events in entries 10-20\) "
        r"\[file '.*bad.root', tree 'Events', branch 'weight'\]",
    ):
        read_sample(f, step_size=10)
    read_sample(f, cut="weight == weight")  # selected away: fine


def test_inf_structure_constant_and_systematic_refused(tmp_path: Path) -> None:
    c = zh_columns(20, seed=9)["w_cHW_cHB"]
    c[2] = np.inf
    with pytest.raises(SampleError, match=r"structure constant is NaN or inf .*branch 'w_cHW_cHB'\]"):
        stream_sums(_bad(tmp_path, w_cHW_cHB=c))
    u = zh_columns(20, seed=9)["weight_lumiUp"]
    u[0] = -np.inf
    with pytest.raises(SampleError, match=r"systematic 'lumi' weight is NaN or inf .*branch 'weight_lumiUp'\]"):
        read_sample(_bad(tmp_path, weight_lumiUp=u))


def test_missing_things_refused(zh_files: list[Path], tmp_path: Path) -> None:
    with pytest.raises(SampleError, match=r"missing branch \[file '.*zh_0.root', tree 'Events', branch 'ptz'\]"):
        read_sample(zh_files, observables=["ptz"])
    with pytest.raises(
        SampleError,
        match=r"missing branch \(used in cut 'pt_z > nope'\) \[file '.*zh_0.root', tree 'Events', branch 'nope'\]",
    ):
        read_sample(zh_files, cut="pt_z > nope")
    with pytest.raises(SampleError, match=r"missing branch .*branch 'etaz'\]"):
        read_sample(zh_files, observables={"a": "sqrt(etaz**2)"})
    with pytest.raises(SampleError, match=r"missing branch \[file '.*zh_0.root', tree 'Events', branch 'w_cW'\]"):
        read_sample(zh_files, eft=StructureConstantBranches(coefficients=["cHW", "cW"]))
    with pytest.raises(
        SampleError, match=r"missing branch \[file '.*zh_0.root', tree 'Events', branch 'weight_pdfUp'\]"
    ):
        read_sample(zh_files, systematics=["pdf"])
    with pytest.raises(SampleError, match=r"no tree 'Tree' in file .*\[file '.*zh_0.root', tree 'Tree'\]"):
        read_sample(zh_files, tree="Tree")
    with pytest.raises(SampleError, match=r"input file not found \[file '.*missing.root', tree 'Events'\]"):
        read_sample([zh_files[0], tmp_path / "missing.root"])
    # a later file lacking a branch of the first one
    cols = zh_columns(10, seed=1)
    del cols["eta_z"]
    other = write_tree(tmp_path / "other.root", cols)
    with pytest.raises(SampleError, match=r"missing branch \[file '.*other.root', tree 'Events', branch 'eta_z'\]"):
        read_sample([zh_files[0], other])
    with uproot.recreate(tmp_path / "rnt.root") as f:
        f["Events"] = {"x": np.arange(3.0)}
    with pytest.raises(SampleError, match="not a TTree"):
        read_sample(tmp_path / "rnt.root")


def test_jagged_observable_and_empty_selection_refused(zh_files: list[Path], tmp_path: Path) -> None:
    f = write_tree(tmp_path / "j.root", {"x": np.arange(3.0), "jets": ak.Array([[1.0], [], [2.0, 3.0]])})
    with pytest.raises(SampleError, match=r"not one value per event .*branch 'jets'\]"):
        read_sample(f, observables=["jets"], weight=None)
    assert list(read_sample(f, weight=None).observables) == ["x"]  # jagged branch and its counter skipped
    with pytest.raises(
        SampleError,
        match=r"empty selection: the cut 'pt_z < 0' selects no event "
        r"\[file '.*zh_0.root, .*zh_2.root', tree 'Events'\]",
    ):
        read_sample(zh_files, cut="pt_z < 0")
    with pytest.raises(SampleError, match="empty selection"):
        stream_sums(zh_files, cut="pt_z < 0")


def test_sample_construction_refusals() -> None:
    with pytest.raises(SampleError, match=r"observable 'x' of sample 's' has shape \(2,\), expected \(3,\)"):
        Sample(name="s", observables={"x": np.ones(2)}, weights=np.ones(3))
    with pytest.raises(SampleError, match=r"structure constants of sample 's' have shape \(3, 2\), expected \(3, 3\)"):
        Sample(name="s", observables={}, weights=np.ones(3), coefficients=("c",), structure_constants=np.ones((3, 2)))
    with pytest.raises(SampleError, match=r"structure constants of sample 's' contain NaN or inf \(first at event 1\)"):
        Sample(
            name="s",
            observables={},
            weights=np.ones(3),
            coefficients=("c",),
            structure_constants=np.array([[1, 0, 0], [np.nan, 0, 0], [1, 0, 0]]),
        )
    with pytest.raises(SampleError, match=r"weights of sample 's' contain NaN or inf \(first at event 2\)"):
        Sample(name="s", observables={}, weights=np.array([1.0, -1.0, np.inf]))
    with pytest.raises(SampleError, match=r"systematic 'jesDown' of sample 's' has shape \(4,\)"):
        Sample(name="s", observables={}, weights=np.ones(3), systematics={"jes": (np.ones(3), np.ones(4))})
    with pytest.raises(SampleError, match="has no events"):
        Sample(name="s", observables={}, weights=np.ones(0))
    s = Sample(name="s", observables={"weight": np.ones(2)}, weights=np.ones(2))
    with pytest.raises(SampleError, match="branch 'weight'"):
        s.branches()
