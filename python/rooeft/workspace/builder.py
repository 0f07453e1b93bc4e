"""Build the RooWorkspace of ``docs/workspace_convention.md`` from a validated configuration.

Two phases: (1) read every sample and data set (:mod:`rooeft.samples`), evaluate network
observables once per event, fill binned templates (:mod:`rooeft.templates`) —
:mod:`rooeft.workspace.reading`; (2) create the RooFit objects (coefficients, channel pdfs,
nuisances with ``<nu>_Pdf``/``<nu>_In`` — :mod:`rooeft.workspace.pdfs`; ``model_s``,
``data_obs``, ``sim_<ch>``, ``ModelConfig``, ``rooeft_metadata`` —
:mod:`rooeft.workspace.assemble`) and write the file atomically. The names and the expected-events
formula shared with inference are in :mod:`rooeft.workspace.expected`.

This module holds the entry point, :func:`build_workspace`, and re-exports the names other
modules import from it.
"""

from __future__ import annotations

import os
from pathlib import Path

from rooeft.config import Config, CorrectionSystematic, UnbinnedChannel, load_config
from rooeft.onnx import OnnxModels
from rooeft.workspace.assemble import WORKSPACE_CONVENTION, BuildResult, ChannelSummary, assemble, templates_path
from rooeft.workspace.expected import ASIMOV_DATA as ASIMOV_DATA
from rooeft.workspace.expected import DATA_OBS as DATA_OBS
from rooeft.workspace.pdfs import GLOBAL_MARGIN_SIGMAS as GLOBAL_MARGIN_SIGMAS
from rooeft.workspace.pdfs import NORM_SAMPLE_MAX as NORM_SAMPLE_MAX
from rooeft.workspace.pdfs import NUISANCE_RANGE as NUISANCE_RANGE
from rooeft.workspace.pdfs import effective_size as effective_size
from rooeft.workspace.reading import MAX_OBSERVABLES as MAX_OBSERVABLES
from rooeft.workspace.reading import MAX_OUTPUTS as MAX_OUTPUTS
from rooeft.workspace.reading import BuildError, read_channel

__all__ = ["WORKSPACE_CONVENTION", "BuildError", "BuildResult", "ChannelSummary", "build_workspace", "templates_path"]


def input_files(config: Config) -> list[Path]:
    """Every file a configuration reads: samples, data, ONNX models and correctionlib files."""
    files: list[str] = []
    for ch in config.channels:
        files += [f for p in ch.processes for f in p.files]
        files += list(ch.data.files or [])
        if isinstance(ch, UnbinnedChannel):
            files.append(ch.model)
        elif ch.observable.model is not None:
            files.append(ch.observable.model)
    files += [s.file for s in config.systematics if isinstance(s, CorrectionSystematic)]
    return [Path(f) for f in dict.fromkeys(files)]


def build_workspace(
    config: Config | str | os.PathLike[str],
    *,
    output: str | os.PathLike[str],
    write_template_file: bool = True,
    progress: bool = False,
    allow_negative_process_bins: bool = False,
) -> BuildResult:
    """Build the workspace of a configuration and write it (atomically) to ``output``.

    Parameters
    ----------
    config
        A validated :class:`~rooeft.config.Config` or the path of a YAML configuration.
    output
        The ROOT file to write (workspace ``w``); never one of the inputs.
    write_template_file
        Also write the binned templates to ``<output stem>_templates.root`` (see
        :func:`rooeft.templates.write_templates`).
    progress
        Show a progress bar (tqdm) while reading samples.
    allow_negative_process_bins
        Accept negative expected events of single processes in bins whose total stays positive
        (negative-weight NLO samples); see :func:`rooeft.workspace.checks.check_bins`.
    """
    from tqdm import tqdm

    import rooeft

    cfg = config if isinstance(config, Config) else load_config(config)
    out = Path(output).resolve()
    _refuse_overwriting_inputs(cfg, out, write_template_file)
    n_steps = sum(len(ch.processes) + (ch.data.files is not None) for ch in cfg.channels) + 1
    bar = tqdm(total=n_steps, desc="rooeft build", unit="step", disable=not progress, leave=False)

    def tick(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    try:
        models = OnnxModels()  # every model's metadata read and session made once per build
        channels = [read_channel(cfg, ch, tick, allow_negative_process_bins, models) for ch in cfg.channels]
        ROOT = rooeft.load_library()
        msg = ROOT.RooMsgService.instance()
        level = msg.globalKillBelow()
        msg.setGlobalKillBelow(max(int(level), int(ROOT.RooFit.WARNING)))
        try:
            result = assemble(ROOT, cfg, channels, out, write_template_file)
        finally:
            msg.setGlobalKillBelow(level)
        tick("written")
    finally:
        bar.close()
    return result


def _refuse_overwriting_inputs(cfg: Config, out: Path, write_template_file: bool) -> None:
    from rooeft.safeio import same_file

    writes = [out] + ([templates_path(out)] if write_template_file else [])
    for target in writes:
        for f in input_files(cfg):
            if same_file(target, f):
                raise BuildError(f"refusing to write {target}: it is the input {f}")
