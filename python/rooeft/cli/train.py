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
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _split_process(text: str) -> tuple[str, list[str]]:
    name, sep, files = text.partition("=")
    if not sep or not name or not files:
        raise ValueError(f"--process expects NAME=FILE[,FILE...], got {text!r}")
    return name, files.split(",")


def _run(args: argparse.Namespace) -> int:
    import torch

    from rooeft.nn import NetworkConfig, PerTermConfig, QuadraticConfig, ScoreConfig, TrainingConfig
    from rooeft.nn.from_samples import export_score, train_from_samples, train_score_from_sample
    from rooeft.samples import read_sample

    output = Path(args.output)
    if output.suffix != ".onnx":
        raise ValueError(f"--output must end in .onnx, got {output}")
    output.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(args.workdir) if args.workdir else output.parent / f"{output.stem}_training"
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
    for text in args.process:
        name, files = _split_process(text)
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
    bundle = output.with_suffix(".pt")
    tmp = bundle.with_suffix(".pt.tmp")
    torch.save(
        {
            "module": result.model.module,
            "interface": result.model.interface,
            "reference": result.model.reference_inputs,
        },
        tmp,
    )
    tmp.replace(bundle)
    print(f"wrote {output} ({len(result.model.columns)} columns) and {bundle}")
    if args.score:
        if args.score not in samples:
            raise ValueError(f"--score names process {args.score!r}, not among {list(samples)}")
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
    p.set_defaults(func=_run)
