"""correctionlib scale factors as weight factors and systematic variations (rooeft.samples.corrections)."""

from __future__ import annotations

from pathlib import Path

import correctionlib
import correctionlib.schemav2 as cs
import numpy as np
import pytest
import uproot

from rooeft.samples import CorrectionEvaluator, CorrectionSpec, SampleError, read_sample, stream_sums

PT_EDGES = [0.0, 30.0, 60.0, 120.0, 250.0]
ETA_EDGES = [0.0, 1.0, 2.5]
NOMINAL = [0.91, 0.95, 0.97, 0.99, 0.93, 0.96, 1.01, 1.04]


def _binned(shift: float) -> cs.MultiBinning:
    return cs.MultiBinning(
        nodetype="multibinning",
        inputs=["pt", "abseta"],
        edges=[PT_EDGES, ETA_EDGES],
        content=[v + shift for v in NOMINAL],
        flow="clamp",
    )


def correction_json() -> str:
    lep = cs.Correction(
        name="lep_sf",
        version=1,
        inputs=[
            cs.Variable(name="pt", type="real"),
            cs.Variable(name="abseta", type="real"),
            cs.Variable(name="era", type="string"),
            cs.Variable(name="systematic", type="string"),
        ],
        output=cs.Variable(name="sf", type="real"),
        data=cs.Category(
            nodetype="category",
            input="era",
            content=[
                cs.CategoryItem(
                    key="2018",
                    value=cs.Category(
                        nodetype="category",
                        input="systematic",
                        content=[
                            cs.CategoryItem(key="nominal", value=_binned(0.0)),
                            cs.CategoryItem(key="up", value=_binned(0.02)),
                            cs.CategoryItem(key="down", value=_binned(-0.03)),
                        ],
                    ),
                )
            ],
        ),
    )
    trig = cs.Correction(
        name="trig",
        version=1,
        inputs=[cs.Variable(name="njet", type="int")],
        output=cs.Variable(name="sf", type="real"),
        data=cs.Category(
            nodetype="category",
            input="njet",
            content=[cs.CategoryItem(key=0, value=0.98), cs.CategoryItem(key=1, value=1.03)],
            default=1.1,
        ),
    )
    return cs.CorrectionSet(schema_version=2, corrections=[lep, trig]).model_dump_json(exclude_unset=True)


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    n = 300
    sm = rng.uniform(-0.2, 1.0, n)
    cols = {
        "pt_z": rng.exponential(90.0, n).astype(np.float32),
        "eta_z": rng.normal(0.0, 1.5, n),
        "njet": rng.integers(0, 4, n).astype(np.int32),
        "weight": sm,
        "w_sm": sm,
        "w_cHW": rng.normal(0.0, 0.3, n),
        "w_cHW_cHW": rng.normal(0.0, 0.1, n),
        "weight_lumiUp": 1.02 * sm,
        "weight_lumiDown": 0.98 * sm,
    }
    path = tmp_path / "zh.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in cols.items()})
        f["Events"].extend(cols)
    return path


def _specs(json_path: Path, text: str) -> list[CorrectionSpec]:
    return [
        CorrectionSpec(
            source=json_path, correction="lep_sf", inputs={"pt": "pt_z", "abseta": "abs(eta_z)", "era": "2018"}
        ),
        CorrectionSpec(source=text, correction="trig", inputs={"njet": "njet"}, systematic_input=None),
    ]


def test_factors_match_direct_evaluation(sample_file: Path, tmp_path: Path) -> None:
    text = correction_json()
    json_path = tmp_path / "sf.json"
    json_path.write_text(text)
    plain = read_sample(sample_file)
    s = read_sample(sample_file, corrections=_specs(json_path, text), step_size=64)

    cset = correctionlib.CorrectionSet.from_string(text)
    pt, eta, nj = plain.observables["pt_z"], plain.observables["eta_z"], plain.observables["njet"]
    nom, up, down, trig = (np.empty(plain.n_events) for _ in range(4))
    for i in range(plain.n_events):  # one event at a time, by hand
        args = (float(pt[i]), abs(float(eta[i])), "2018")
        nom[i] = cset["lep_sf"].evaluate(*args, "nominal")
        up[i] = cset["lep_sf"].evaluate(*args, "up")
        down[i] = cset["lep_sf"].evaluate(*args, "down")
        trig[i] = cset["trig"].evaluate(int(nj[i]))
    assert len(np.unique(nom)) >= 6 and set(np.unique(trig)) == {0.98, 1.03, 1.1}  # the test exercises the bins

    w0 = plain.weights
    np.testing.assert_allclose(s.weights, w0 * (nom * trig), rtol=1e-15, atol=0)
    np.testing.assert_allclose(
        s.structure_constants, plain.structure_constants * (nom * trig)[:, None], rtol=1e-15, atol=0
    )  # type: ignore[operator]
    assert set(s.systematics) == {"lumi", "lep_sf"}  # trig has no variation
    np.testing.assert_allclose(s.systematics["lep_sf"][0], w0 * up * trig, rtol=1e-15, atol=0)
    np.testing.assert_allclose(s.systematics["lep_sf"][1], w0 * down * trig, rtol=1e-15, atol=0)
    np.testing.assert_allclose(s.systematics["lumi"][0], plain.systematics["lumi"][0] * nom * trig, rtol=1e-15, atol=0)
    # streamed sums see the same factors
    sums = stream_sums(sample_file, corrections=_specs(json_path, text), step_size=50)
    assert sums.systematic_sums["lep_sf"] == s.sums().systematic_sums["lep_sf"]
    assert sums.sum_weights == s.sums().sum_weights


def test_systematic_names_and_values_configurable(sample_file: Path) -> None:
    text = correction_json()
    spec = CorrectionSpec(
        source=text,
        correction="lep_sf",
        inputs={"pt": 45.0, "abseta": "abs(eta_z)", "era": "2018"},
        variations=("nominal", "down", "up"),  # swapped on purpose
        systematic="CMS_eff_l",
    )
    s = read_sample(sample_file, corrections=[spec], systematics=None)
    cset = correctionlib.CorrectionSet.from_string(text)["lep_sf"]
    i = 7
    a = abs(float(s.observables["eta_z"][i]))
    w0 = read_sample(sample_file).weights[i]
    assert s.weights[i] == w0 * cset.evaluate(45.0, a, "2018", "nominal")
    assert s.systematics["CMS_eff_l"][0][i] == w0 * cset.evaluate(45.0, a, "2018", "down")
    assert list(s.systematics) == ["CMS_eff_l"]


def test_misconfiguration_refused(sample_file: Path, tmp_path: Path) -> None:
    text = correction_json()
    with pytest.raises(SampleError, match=r"missing \['abseta'\], unknown \['eta'\]"):
        CorrectionEvaluator(
            CorrectionSpec(source=text, correction="lep_sf", inputs={"pt": "pt_z", "eta": "eta_z", "era": "2018"})
        )
    with pytest.raises(SampleError, match=r"correction 'muon_sf' not in correction set \(has \['lep_sf', 'trig'\]\)"):
        CorrectionEvaluator(CorrectionSpec(source=text, correction="muon_sf"))
    with pytest.raises(SampleError, match="has no input 'systematic'"):
        CorrectionEvaluator(CorrectionSpec(source=text, correction="trig", inputs={"njet": "njet"}))
    with pytest.raises(SampleError, match=r"correctionlib file not found.*\[file '.*nope.json'\]"):
        CorrectionEvaluator(CorrectionSpec(source=tmp_path / "nope.json", correction="trig"))
    bad = CorrectionSpec(
        source=text,
        correction="lep_sf",
        inputs={"pt": "pt_z", "abseta": "abs(eta_z)", "era": "2018"},
        variations=("nominal", "up", "dn"),
    )
    with pytest.raises(
        SampleError, match=r"evaluating correction 'lep_sf' \(dn\) failed.*\[file '<json text>', tree 'Events'\]"
    ):
        read_sample(sample_file, corrections=[bad])
    miss = CorrectionSpec(source=text, correction="trig", inputs={"njet": "nj"}, systematic_input=None)
    with pytest.raises(SampleError, match=r"missing branch \[file '.*zh.root', tree 'Events', branch 'nj'\]"):
        read_sample(sample_file, corrections=[miss])
    twice = CorrectionSpec(
        source=text,
        correction="lep_sf",
        inputs={"pt": "pt_z", "abseta": "abs(eta_z)", "era": "2018"},
        systematic="lumi",
    )
    with pytest.raises(SampleError, match="systematic 'lumi' is defined twice"):
        read_sample(sample_file, corrections=[twice])
