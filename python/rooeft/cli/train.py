"""``rooeft train``: train the unbinned model (EFT terms, process fractions, systematic ratios) on
ROOT ntuples and export it as one validated ONNX file in the rooeft convention.

Example (the shipped ZH sample)::

    rooeft train --process sig=data/zh/zh_signal.root --process bkg=data/zh/zh_background.root \\
        --observables pT,cos_theta,phi_hat --theta-scale 0.02,0.2,0.4 --score sig -o models/zh.onnx

Writes ``zh.onnx`` (+ ``zh.json`` metadata, ``zh.ref.npz`` reference set), ``zh.pt`` (the torch
bundle that ``rooeft export`` re-exports), ``zh_reliability.json``/``.png`` (predicted vs true
fractions and ratios on held-out events, before and after calibration; docs/calibration.md),
loss curves in ``--workdir`` and, with ``--score``, ``zh_score.onnx`` (SALLY score columns
``score:<p>:<a>`` for binned templates).

Training uses every event except a held-out test split (``--test-fraction``, for the
reliability report); each network holds out a validation split for early stopping
(``--patience``), on which the calibration of the classifier outputs is fitted
(``--no-calibration`` turns it off). ``--epochs`` is an upper limit; ``--quick`` trains a few
epochs only (tests, smoke runs).

``--estimator bit`` boosts trees instead of training networks (boosted information trees,
docs/trees.md): one EFT process only, exported as ONNX-ML with the same interface (``zh.onnx``,
``zh.json``, ``zh.ref.npz``, ``zh_reliability.json``/``.png``; no torch bundle, no checkpoints)::

    rooeft train --process sig=data/zh/zh_signal.root --estimator bit \
        --theta-scale 0.02,0.2,0.4 -o models/zh_bit.onnx

``--trees`` is the upper limit on the boosting iterations (early stopping after ``--patience``
iterations without improvement, default 25), ``--depth``, ``--tree-learning-rate``, ``--bins``,
``--subsample``, ``--min-leaf-events`` and ``--time-budget`` shape the trees.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _split_process(text: str) -> tuple[str, list[str]]:
    name, sep, files = text.partition("=")
    if not sep or not name or not files:
        raise ValueError(f"--process expects NAME=FILE[,FILE...], got {text!r}")
    parts = [f for f in files.split(",") if f]
    if not parts:
        raise ValueError(f"--process {name}: no file given")
    return name, parts


QUICK_EPOCHS = 3
DEFAULT_EPOCHS = 200
QUICK_TREES = 20
DEFAULT_TREES = 1000


def _theta_scale(text: str | None) -> float | tuple[float, ...]:
    if not text:
        return 1.0
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--theta-scale expects comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"--theta-scale values must be positive, got {text!r}")
    return values[0] if len(values) == 1 else values


def _check_tree_numbers(args: argparse.Namespace) -> None:
    if args.trees is None:
        args.trees = QUICK_TREES if args.quick else DEFAULT_TREES
    if args.patience is None:
        args.patience = 5 if args.quick else 25
    for name in ("trees", "patience", "min_leaf_events"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not 1 <= args.depth <= 12:
        raise ValueError(f"--depth must be in [1, 12], got {args.depth}")
    if not 2 <= args.bins <= 255:
        raise ValueError(f"--bins must be in [2, 255], got {args.bins}")
    for name in ("tree_learning_rate", "subsample"):
        value = getattr(args, name)
        if not (math.isfinite(value) and 0 < value <= 1):
            raise ValueError(f"--{name.replace('_', '-')} must be in (0, 1], got {value}")
    if args.time_budget is not None and not (math.isfinite(args.time_budget) and args.time_budget > 0):
        raise ValueError(f"--time-budget must be a positive number of seconds, got {args.time_budget}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if not (0.0 < args.test_fraction <= 0.5):
        raise ValueError(f"--test-fraction must be in (0, 0.5], got {args.test_fraction}")
    _theta_scale(args.theta_scale)


def _check_numbers(args: argparse.Namespace) -> None:
    if args.epochs is None:
        args.epochs = QUICK_EPOCHS if args.quick else DEFAULT_EPOCHS
    if args.patience is None:
        args.patience = 2 if args.quick else 10
    for name in ("epochs", "patience", "batch_size", "hidden_layers", "width", "replicas"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        raise ValueError(f"--learning-rate must be a positive number, got {args.learning_rate}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if not (0.0 < args.test_fraction <= 0.5):
        raise ValueError(f"--test-fraction must be in (0, 0.5], got {args.test_fraction}")
    _theta_scale(args.theta_scale)


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._infer import require_input
    from rooeft.cli._io import prepare_outputs
    from rooeft.cli.export import model_outputs
    from rooeft.safeio import OutputError, check_directory, same_file

    output = Path(args.output)
    if output.suffix != ".onnx":
        raise ValueError(f"--output must end in .onnx, got {output}")
    if args.estimator == "bit":
        return _run_trees(args, output)
    _check_numbers(args)
    processes = [_split_process(text) for text in args.process]
    names = [n for n, _ in processes]
    if len(set(names)) != len(names):
        raise ValueError(f"--process names must be distinct, got {names}")
    if args.score and args.score not in names:
        raise ValueError(f"--score names process {args.score!r}, not among {names}")
    inputs = [require_input(f, f"--process {n}: file") for n, files in processes for f in files]
    workdir = Path(args.workdir) if args.workdir else output.parent / f"{output.stem}_training"
    for f in inputs:
        if same_file(workdir, f) or f.resolve().is_relative_to(workdir.resolve()):
            raise OutputError(f"--workdir {workdir} holds the input {f}; checkpoints and loss curves would mix with it")
    if workdir.exists() and not args.resume and not args.force:
        raise OutputError(f"{workdir} exists (checkpoints of an earlier run); pass --resume to continue or --force")
    from rooeft.cli.export import _is_json
    from rooeft.nn.reliability import reliability_paths

    rel_json, rel_png = reliability_paths(output)
    targets = [
        *model_outputs(output),
        (output.with_suffix(".pt"), "rooeft torch bundle", _is_bundle),
        (rel_json, "JSON", _is_json),
        (rel_png, "PNG image", _is_png),
    ]
    if args.score:
        targets += model_outputs(output.with_name(f"{output.stem}_score.onnx"))
    for path, kind, accept in targets:
        prepare_outputs("train", [path], inputs=inputs, force=args.force, kind=kind, accept=accept)
    check_directory(workdir)
    try:
        return _train(args, output, workdir, processes)
    except KeyboardInterrupt:
        print(
            f"rooeft train: interrupted; no model was written. Checkpoints and loss curves so far are in {workdir}; "
            "rerun with --resume to continue from them",
            file=sys.stderr,
        )
        return 130


def _run_trees(args: argparse.Namespace, output: Path) -> int:
    """``--estimator bit``: boosted information trees of one EFT process, exported as ONNX-ML."""
    from rooeft.cli._infer import require_input
    from rooeft.cli._io import prepare_outputs
    from rooeft.cli.export import _is_json, model_outputs
    from rooeft.nn.reliability import reliability_paths

    _check_tree_numbers(args)
    processes = [_split_process(text) for text in args.process]
    if len(processes) != 1:
        raise ValueError(
            f"--estimator bit learns the EFT columns of one process, got {len(processes)} --process options; "
            "train the fractions of several processes with the networks (--estimator quadratic)"
        )
    for flag, given in (("--systematics", args.systematics), ("--score", args.score), ("--resume", args.resume)):
        if given:
            raise ValueError(f"{flag} is not available with --estimator bit")
    name, files = processes[0]
    inputs = [require_input(f, f"--process {name}: file") for f in files]
    rel_json, rel_png = reliability_paths(output)
    targets = [*model_outputs(output), (rel_json, "JSON", _is_json), (rel_png, "PNG image", _is_png)]
    for path, kind, accept in targets:
        prepare_outputs("train", [path], inputs=inputs, force=args.force, kind=kind, accept=accept)
    return _train_trees(args, output, name, files)


def _train_trees(args: argparse.Namespace, output: Path, name: str, files: list[str]) -> int:
    import numpy as np

    from rooeft.nn import CalibrationConfig, TreeConfig, train_trees_from_arrays
    from rooeft.nn.reliability import format_report
    from rooeft.samples import read_sample

    observables = args.observables.split(",") if args.observables else None
    sample = read_sample(files, name=name, observables=observables)
    if sample.structure_constants is None:
        raise ValueError(f"--process {name}: the sample has no EFT structure constants (w_* branches) to learn")
    obs = tuple(observables) if observables is not None else tuple(sample.observables)
    x = np.column_stack([sample.observables[o] for o in obs])
    config = TreeConfig(
        theta_scale=_theta_scale(args.theta_scale),
        n_trees=args.trees,
        max_depth=args.depth,
        learning_rate=args.tree_learning_rate,
        n_bins=args.bins,
        subsample=args.subsample,
        min_leaf_events=args.min_leaf_events,
        patience=args.patience,
        max_seconds=args.time_budget,
        seed=args.seed,
        progress=not args.quiet,
    )
    result = train_trees_from_arrays(
        x,
        sample.structure_constants,
        observables=obs,
        coefficients=sample.coefficients,
        process=name,
        config=config,
        output=output,
        calibration=CalibrationConfig(enabled=False, test_fraction=args.test_fraction, seed=args.seed),
    )
    hist = result.estimator.history
    print(
        f"wrote {output} ({len(result.estimator.column_names(name))} columns; {result.estimator.ensemble.n_trees} "
        f"trees of {hist.iterations} grown in {hist.seconds:.1f} s)"
    )
    if not (hist.stopped_early or hist.stopped_by_time):
        print(
            f"rooeft train: warning: the trees reached --trees {args.trees} without early stopping "
            "(the validation loss was still improving); consider more trees",
            file=sys.stderr,
        )
    if result.reliability is not None:
        print(format_report(result.reliability))
        print("wrote " + ", ".join(str(p) for p in result.reliability_paths))
    return 0


def _is_bundle(path: Path) -> bool:
    """A zip archive as written by ``torch.save``."""
    try:
        with path.open("rb") as f:
            return f.read(2) == b"PK"
    except OSError:
        return False


def _is_png(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def _train(args: argparse.Namespace, output: Path, workdir: Path, processes: list[tuple[str, list[str]]]) -> int:
    from rooeft.nn import CalibrationConfig, NetworkConfig, PerTermConfig, QuadraticConfig, ScoreConfig, TrainingConfig
    from rooeft.nn.bundle import save_bundle
    from rooeft.nn.from_samples import export_score, train_from_samples, train_score_from_sample
    from rooeft.samples import read_sample

    network = NetworkConfig(hidden_layers=args.hidden_layers, width=args.width, activation=args.activation)

    def training(name: str) -> TrainingConfig:
        return TrainingConfig(
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            patience=args.patience,
            seed=args.seed,
            progress=not args.quiet,
            checkpoint_dir=workdir / "checkpoints" / name,
            resume=args.resume,
            output_dir=workdir,
        )

    observables = args.observables.split(",") if args.observables else None
    systematics = args.systematics.split(",") if args.systematics else None
    samples = {}
    for name, files in processes:
        samples[name] = read_sample(files, name=name, observables=observables)
    eft_config: QuadraticConfig | PerTermConfig
    if args.estimator == "quadratic":
        eft_config = QuadraticConfig(
            network=network, training=training("eft"), theta_scale=_theta_scale(args.theta_scale)
        )
    else:
        eft_config = PerTermConfig(network=network, training=training("eft"), n_replicas=args.replicas)
    from rooeft.nn import FractionConfig, SystematicConfig

    result = train_from_samples(
        samples,
        output=output,
        observables=observables,
        systematics=systematics,
        estimator=args.estimator,
        eft_config=eft_config,
        fraction_config=FractionConfig(network=network, training=training("fractions")),
        systematic_config=SystematicConfig(network=network, training=training("systematics")),
        calibration=CalibrationConfig(
            enabled=not args.no_calibration,
            test_fraction=args.test_fraction,
            seed=args.seed,
            slices=tuple(o for o in (args.reliability_slices or "").split(",") if o),
        ),
    )
    bundle = save_bundle(
        output.with_suffix(".pt"), result.model.module, result.model.interface, result.model.reference_inputs
    )
    print(f"wrote {output} ({len(result.model.columns)} columns) and {bundle}")
    _report_training(result, args.epochs)
    if args.score:
        score = train_score_from_sample(
            samples[args.score],
            observables=observables,
            config=ScoreConfig(network=network, training=training("score")),
        )
        path = output.with_name(f"{output.stem}_score.onnx")
        export_score(score, path, process=args.score)
        print(f"wrote {path}")
    return 0


def _report_training(result: Any, max_epochs: int) -> None:
    """Print the reliability summary and warn about networks that did not converge."""
    from rooeft.nn.reliability import format_report

    components = {"fractions": result.fractions, "systematics": result.systematics}
    components.update({f"eft[{p}]": e for p, e in result.eft.items()})
    for what, est in components.items():
        if est is not None and not est.history.stopped_early:
            print(
                f"rooeft train: warning: {what} reached --epochs {max_epochs} without early stopping "
                "(the validation loss was still improving); consider more epochs",
                file=sys.stderr,
            )
    if result.reliability is not None:
        print(format_report(result.reliability))
        print("wrote " + ", ".join(str(p) for p in result.reliability_paths))


def register(sub: Any) -> None:
    """Add the ``train`` sub-command."""
    from rooeft.cli._io import add_force_option

    p = sub.add_parser(
        "train",
        help="train the per-event networks and export ONNX",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--process",
        action="append",
        required=True,
        metavar="NAME=FILE[,FILE]",
        help="a process and its ROOT file(s); repeat for every process (EFT samples carry w_* branches)",
    )
    p.add_argument("--observables", help="comma-separated observables (default: those all samples share)")
    p.add_argument("--systematics", help="comma-separated weight variations to learn (default: all found)")
    p.add_argument(
        "--estimator",
        choices=("quadratic", "per_term", "bit"),
        default="quadratic",
        help="joint positive quadratic network, per-term classifiers, or boosted information trees "
        "(bit: one EFT process, ONNX-ML; docs/trees.md)",
    )
    p.add_argument("--replicas", type=int, default=1, help="bootstrap replicas (per_term)")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"upper limit on the epochs; early stopping usually ends sooner (default {DEFAULT_EPOCHS}, "
        f"--quick: {QUICK_EPOCHS})",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early stopping: epochs (trees: iterations) without a validation improvement "
        "(default 10, --quick: 2; bit: 25, --quick: 5)",
    )
    p.add_argument("--quick", action="store_true", help=f"a few epochs only ({QUICK_EPOCHS}): tests and smoke runs")
    p.add_argument(
        "--no-calibration",
        action="store_true",
        help="do not calibrate the classifier outputs (the reliability report is still written)",
    )
    p.add_argument(
        "--reliability-slices",
        metavar="OBS[,OBS]",
        help="also compare predicted and true fractions in bins of these observables (e.g. pT)",
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.15,
        help="fraction of the events held out for the reliability report (default 0.15)",
    )
    p.add_argument(
        "--theta-scale",
        metavar="S[,S...]",
        help="typical size of each coefficient (one value or one per coefficient): the prior width of "
        "the quadratic loss and the θ points of the ratio reliability (default 1)",
    )
    trees = p.add_argument_group("boosted information trees (--estimator bit)")
    trees.add_argument(
        "--trees",
        type=int,
        default=None,
        help=f"upper limit on the boosting iterations (default {DEFAULT_TREES}, --quick: {QUICK_TREES})",
    )
    trees.add_argument("--depth", type=int, default=5, help="depth of every tree (default 5)")
    trees.add_argument("--tree-learning-rate", type=float, default=0.2, help="shrinkage of every tree (default 0.2)")
    trees.add_argument("--bins", type=int, default=64, help="histogram bins per observable (default 64)")
    trees.add_argument("--subsample", type=float, default=0.5, help="fraction of events per tree (default 0.5)")
    trees.add_argument("--min-leaf-events", type=int, default=50, help="fewest events in a leaf (default 50)")
    trees.add_argument("--time-budget", type=float, default=None, metavar="SECONDS", help="stop boosting after this")
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--hidden-layers", type=int, default=3)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--activation", default="silu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--score", metavar="PROCESS", help="also train and export the local score of PROCESS")
    p.add_argument("--workdir", help="loss curves and checkpoints (default: <output>_training/)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --workdir")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("-o", "--output", required=True, help="the ONNX file to write")
    add_force_option(p)
    p.set_defaults(func=_run)
