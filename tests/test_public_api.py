"""The public API, pinned: every name below must stay exported (an accidental removal fails here).

New names may be added freely; a deliberate removal updates this list. Every exported name must
also exist, and the command-line helpers stay out of the library.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "rooeft": ["__version__", "load_library"],
    "rooeft.infer": [
        "LEVELS_1D",
        "LEVELS_2D",
        "RESULT_KINDS",
        "DataSpec",
        "FitAttempt",
        "FitOptions",
        "FitResult",
        "InferenceError",
        "LimitsResult",
        "Model",
        "NeymanPoint",
        "NeymanResult",
        "NeymanScan",
        "ParameterResult",
        "ResultFileError",
        "Scan1D",
        "Scan2D",
        "ScanPoint",
        "ToyFit",
        "ToySpec",
        "ToysResult",
        "asimov_dataset",
        "fit",
        "get_model",
        "intervals_1d",
        "limits",
        "neyman_intervals",
        "read_document",
        "read_json",
        "result_class",
        "scan1d",
        "scan2d",
        "toys",
        "write_json",
        "write_limit_tree",
    ],
    "rooeft.workspace": [
        "BuildError",
        "BuildResult",
        "ChannelSummary",
        "WORKSPACE_CONVENTION",
        "build_workspace",
        "templates_path",
    ],
    "rooeft.nn": [
        "ACTIVATIONS",
        "CalibrationConfig",
        "ComposedModel",
        "ExportResult",
        "ExportValidationError",
        "FractionConfig",
        "FractionEstimator",
        "NetworkConfig",
        "PerTermConfig",
        "PerTermEstimator",
        "QuadraticConfig",
        "QuadraticEstimator",
        "ScoreConfig",
        "ScoreEstimator",
        "SystematicConfig",
        "SystematicEstimator",
        "TrainResult",
        "TrainedEstimator",
        "TrainingConfig",
        "TrainingHistory",
        "TreeConfig",
        "TreeEstimator",
        "TreeHistory",
        "TreeTrainResult",
        "compose",
        "evaluate_onnx",
        "export_onnx",
        "export_trees",
        "theta_gram",
        "train_boosted_trees",
        "train_from_arrays",
        "train_joint_quadratic",
        "train_local_score",
        "train_per_term",
        "train_process_fractions",
        "train_systematic_ratios",
        "train_trees_from_arrays",
    ],
    "rooeft.config": [
        "BinnedChannel",
        "BinnedObservable",
        "CONFIG_VERSION",
        "Channel",
        "Coefficient",
        "Config",
        "ConfigError",
        "CorrectionSystematic",
        "Data",
        "LearnedSystematic",
        "LnNSystematic",
        "MCStats",
        "Process",
        "RateSystematic",
        "Systematic",
        "UnbinnedChannel",
        "WeightSystematic",
        "config_hash",
        "load_config",
        "parse_config",
        "shape_systematics",
        "validate_references",
    ],
    "rooeft.plot": [
        "PlotError",
        "load_result",
        "plot_closure",
        "plot_contours",
        "plot_corner",
        "plot_coverage",
        "plot_impacts",
        "plot_loss_curves",
        "plot_neyman",
        "plot_pulls",
        "plot_result_files",
        "plot_scan1d",
        "plot_templates",
        "plot_toy_pulls",
        "save_figure",
    ],
    "rooeft.samples": [
        "BenchmarkWeights",
        "CorrectionEvaluator",
        "CorrectionFactors",
        "CorrectionSpec",
        "DEFAULT_MAX_CONDITION",
        "Morphing",
        "MorphingResult",
        "Sample",
        "SampleConfig",
        "SampleError",
        "SampleSums",
        "StructureConstantBranches",
        "iter_chunks",
        "morphing_residual",
        "read_sample",
        "read_variations",
        "solve_morphing",
        "stream_sums",
        "structure_constant_branches",
        "systematic_branches",
    ],
    "rooeft.bayes": [
        "Estimates",
        "PosteriorResult",
        "Prior",
        "PriorError",
        "ResultError",
        "comparison_table",
        "corner_plot",
        "load_scan",
        "parse_prior",
        "parse_priors",
        "read_posterior",
        "sample_posterior",
        "write_posterior",
    ],
    "rooeft.export": [
        "ExportCheck",
        "check",
        "check_cpp_matches_python",
        "evaluate_cpp_and_python",
        "reference_inputs",
    ],
    "rooeft.safeio": ["OutputError", "atomic_write", "check_outputs", "is_json_kind", "is_root_file"],
    "rooeft.terms": ["monomials", "n_terms", "quadratic_pairs", "term_labels"],
    "rooeft.onnx_convention": ["ModelInterface", "read_interface"],
    "rooeft.examples.demo": ["DemoSettings", "run_demo"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_stay_exported(module: str) -> None:
    mod = importlib.import_module(module)
    exported = list(getattr(mod, "__all__", []))
    missing = [n for n in PUBLIC[module] if n not in exported]
    assert not missing, f"{module}.__all__ lost {missing}"
    assert len(set(exported)) == len(exported), f"{module}.__all__ lists a name twice"
    absent = [n for n in exported if not hasattr(mod, n)]
    assert not absent, f"{module}.__all__ names {absent}, which {module} does not define"


def test_top_level_is_exactly_pinned() -> None:
    import rooeft

    assert rooeft.__all__ == PUBLIC["rooeft"]


def test_cli_helpers_live_in_the_cli() -> None:
    from rooeft.cli import _infer

    assert _infer.parse_values("cHW=0.5") == {"cHW": 0.5}
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rooeft.infer._cli")
    import rooeft.cli.export as cli_export

    assert not hasattr(cli_export, "check_cpp_matches_python")  # the library's: rooeft.export


def test_library_never_imports_the_examples_or_the_fixtures() -> None:
    """``rooeft.examples`` and ``rooeft.testing`` are clients of the library, never the reverse:
    only the command line (``rooeft demo``/``generate``) and the examples themselves use them."""
    import ast
    from pathlib import Path

    import rooeft

    root = Path(rooeft.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).parts
        if rel[0] in ("examples", "testing", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(root)}: {n}" for n in names
                          if n.startswith(("rooeft.examples", "rooeft.testing"))]  # fmt: skip
    assert not offenders, offenders
    assert (root / "examples" / "zh" / "generator.py").is_file()
    assert not (root / "zh").exists() and not (root / "demo.py").exists()
