"""``rooeft train``: train the unbinned model (EFT terms, process fractions, systematic ratios) on
ROOT ntuples and export it as one validated ONNX file in the rooeft convention.

Example (the shipped ZH sample)::

    rooeft train --process sig=data/zh/signal.root --process bkg=data/zh/background.root \\
        --observables pT_Z,m_bb,cos_theta_reco --epochs 30 --score sig -o models/zh.onnx

Writes ``zh.onnx`` (+ ``zh.json`` metadata, ``zh.ref.npz`` reference set), ``zh.pt`` (the torch
bundle that ``rooeft export`` re-exports), loss curves in ``--workdir`` and, with ``--score``,
``zh_score.onnx`` (SALLY score columns ``score:<p>:<a>`` for binned templates).
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


def _check_numbers(args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "hidden_layers", "width", "replicas"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        raise ValueError(f"--learning-rate must be a positive number, got {args.learning_rate}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")


def _run(args: argparse.Namespace) -> int:
    from rooeft.cli._io import prepare_outputs
    from rooeft.cli.export import model_outputs
    from rooeft.infer._cli import require_input
    from rooeft.safeio import OutputError, check_directory, same_file

    output = Path(args.output)
    if output.suffix != ".onnx":
        raise ValueError(f"--output must end in .onnx, got {output}")
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
    targets = [*model_outputs(output), (output.with_suffix(".pt"), "rooeft torch bundle", _is_bundle)]
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


def _is_bundle(path: Path) -> bool:
    """A zip archive as written by ``torch.save``."""
    try:
        with path.open("rb") as f:
            return f.read(2) == b"PK"
    except OSError:
        return False


def _train(args: argparse.Namespace, output: Path, workdir: Path, processes: list[tuple[str, list[str]]]) -> int:
    from rooeft.nn import NetworkConfig, PerTermConfig, QuadraticConfig, ScoreConfig, TrainingConfig
    from rooeft.nn.bundle import save_bundle
    from rooeft.nn.from_samples import export_score, train_from_samples, train_score_from_sample
    from rooeft.samples import read_sample

    network = NetworkConfig(hidden_layers=args.hidden_layers, width=args.width, activation=args.activation)

    def training(name: str) -> TrainingConfig:
        return TrainingConfig(
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
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
        eft_config = QuadraticConfig(network=network, training=training("eft"))
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
    )
    bundle = save_bundle(
        output.with_suffix(".pt"), result.model.module, result.model.interface, result.model.reference_inputs
    )
    print(f"wrote {output} ({len(result.model.columns)} columns) and {bundle}")
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
    p.add_argument("--estimator", choices=("quadratic", "per_term"), default="quadratic")
    p.add_argument("--replicas", type=int, default=1, help="bootstrap replicas (per_term)")
    p.add_argument("--epochs", type=int, default=50)
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
