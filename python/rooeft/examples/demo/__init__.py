"""The main job, end to end on the ZH example (``rooeft demo``).

1. **simulate** a fresh weighted sample with the importance-sampled generator (≥ 5×10⁵ signal
   events after the acceptance, in seconds; another seed than the shipped ``data/zh`` files,
   which stay the pseudo-data), and an independent *validation pool* with a third seed;
2. **train** on it: the positive joint quadratic model of the signal's EFT dependence, calibrated
   signal/background fractions and the b-tag systematic ratios (one ONNX model, with its
   reliability report), and the local score of the signal (SALLY) for templates;
3. **build** three workspaces from generated YAML configs: the main analysis (an unbinned channel
   for pT(Z) < 150 GeV and a binned channel in the learned score for pT(Z) ≥ 150 GeV), the learned
   unbinned analysis alone, and a traditional binned fit of pT(Z); all with the luminosity (lnN)
   and b-tag (shape) systematics and the simulation's MC statistics profiled;
4. **infer**: a fit with pulls, a 2D profile scan of (cHW, cHWtil), observed (pseudo-data at the
   SM) and expected (Asimov) 1D intervals of every coefficient for each analysis, and the same
   with the exact parton-level ratio (the optimal analysis, from the truth of the same events);
5. **validate** every analysis on pseudo-experiments drawn from the independent pool, at the SM and
   at a BSM point: bias, coverage and the true sensitivity next to the Asimov width;
6. **report**: ``summary.md``/``summary.json`` comparing the analyses, and plots.

``--quick`` runs a reduced setting (fewer events, epochs and scan points) used by the tests.
"""

from rooeft.examples.demo.run import run_demo
from rooeft.examples.demo.settings import DemoSettings

__all__ = ["DemoSettings", "run_demo"]
