r"""Loading and validating a configuration: YAML → :class:`~rooeft.config.schema.Config`.

:func:`load_config` parses the YAML file, validates it against the schema (paths relative to the
file) and checks every cross reference; all problems are reported together in one
:class:`ConfigError` whose lines start with the key path, e.g.
``channels[0].processes[1].eft: Input should be a valid boolean``.

>>> cfg = parse_config({"version": 1, "coefficients": [{"name": "c", "range": [-1, 1]}],
...     "channels": [{"name": "a", "kind": "binned", "observable": {"name": "x"}, "edges": [0, 1, 2],
...                   "processes": [{"name": "p", "files": "p.root"}], "data": {"asimov": {}}}]},
...     base_dir="/data", check_files=False)
>>> cfg.channels[0].processes[0].files
['/data/p.root']
>>> try:
...     parse_config({"version": 1, "coefficient": []}, check_files=False)
... except ConfigError as err:
...     print("\n".join(err.problems))
coefficients: required key missing
channels: required key missing
coefficient: unknown key
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rooeft.config.schema import (
    BinnedChannel,
    Config,
    CorrectionSystematic,
    LearnedSystematic,
    LnNSystematic,
    RateSystematic,
    UnbinnedChannel,
    WeightSystematic,
)

__all__ = ["ConfigError", "config_hash", "load_config", "parse_config", "shape_systematics", "validate_references"]

_TAGS = {"binned", "unbinned", "lnN", "weight", "learned", "correction", "rate"}


class ConfigError(ValueError):
    """An invalid configuration; ``problems`` lists every problem as ``<key path>: <message>``."""

    def __init__(self, problems: Sequence[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        head = f"invalid configuration {source}" if source else "invalid configuration"
        super().__init__(head + ":\n  " + "\n  ".join(self.problems))


def _path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS:  # discriminated-union tags are not keys of the YAML
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


def _messages(err: ValidationError, raw: Any) -> list[str]:
    out = []
    for e in err.errors(include_url=False):
        loc = e["loc"]
        path = _path(loc)
        kind = e["type"]
        if kind == "extra_forbidden":
            out.append(f"{path}: unknown key")
        elif kind == "missing" and len(loc) >= 3 and loc[0] == "channels" and loc[-1] == "model" and "unbinned" in loc:
            out.append(f"{path}: an unbinned channel needs 'model' (an ONNX file in the rooeft convention)")
        elif kind == "missing":
            out.append(f"{path}: required key missing")
        elif kind == "union_tag_invalid":
            out.append(f"{path}: {e['msg']}")
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            given = e.get("input")
            shown = "" if isinstance(given, (dict, list)) or given is None else f" (got {given!r})"
            if repr(given) in msg:
                shown = ""
            out.append(f"{path}: {msg}{shown}")
    return out


def shape_systematics(config: Config, channel: str) -> list[str]:
    """Names of the per-event shape systematics (weight, correction, learned) of a channel, in
    config order and without duplicates."""
    ch = config.channel(channel)
    names: list[str] = []
    for proc in ch.processes:
        for s in config.systematics_for(channel, proc.name):
            if isinstance(s, (WeightSystematic, CorrectionSystematic, LearnedSystematic)):
                names.append(s.name)
    return [s.name for s in config.systematics if s.name in names]


def validate_references(config: Config, *, check_files: bool = True) -> None:
    """Check every cross reference (and, with ``check_files``, that input files exist and ONNX
    metadata matches); raise :class:`ConfigError` listing all problems."""
    problems: list[str] = []
    coefs = config.coefficient_names
    _unique(coefs, "coefficients", "coefficient", problems)
    channel_names = [c.name for c in config.channels]
    _unique(channel_names, "channels", "channel", problems)
    reserved = set(coefs) | {"CMS_channel"}
    observables: dict[str, str] = {}
    for i, ch in enumerate(config.channels):
        where = f"channels[{i}]"
        _unique([p.name for p in ch.processes], f"{where}.processes", "process", problems)
        _check_data(ch.data, config, f"{where}.data", problems, check_files)
        _check_masked(ch, where, problems)
        for j, p in enumerate(ch.processes):
            if check_files:
                for k, f in enumerate(p.files):
                    if not Path(f).is_file():
                        problems.append(f"{where}.processes[{j}].files[{k}]: file not found: {f}")
        if isinstance(ch, BinnedChannel):
            obs = ch.observable
            _claim_observable(obs.name, ch.name, f"{where}.observable.name", observables, reserved, problems, True)
            if obs.model is not None and check_files:
                iface = _interface(obs.model, f"{where}.observable.model", problems)
                if iface is not None:
                    if obs.column not in iface.outputs:
                        problems.append(
                            f"{where}.observable.column: '{obs.column}' is not an output column of {obs.model} "
                            f"(columns: {', '.join(iface.outputs)})"
                        )
                    bad = [k for k in obs.inputs if k not in iface.observables]
                    if bad:
                        problems.append(
                            f"{where}.observable.inputs: {bad} are not observables of the model "
                            f"(its observables: {list(iface.observables)})"
                        )
        else:
            _check_unbinned(config, i, ch, problems, observables, reserved, check_files)
    _check_systematics(config, problems, reserved | set(observables), check_files)
    if problems:
        raise ConfigError(problems)


def _unique(names: Sequence[str], where: str, what: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            problems.append(f"{where}[{i}].name: duplicate {what} name '{n}'")
        seen.add(n)


def _check_masked(ch: BinnedChannel | UnbinnedChannel, where: str, problems: list[str]) -> None:
    """``masked`` processes: unbinned channels only, and never every process of a channel."""
    masked = [j for j, p in enumerate(ch.processes) if p.masked]
    if not masked:
        return
    if isinstance(ch, BinnedChannel):
        problems.extend(
            f"{where}.processes[{j}].masked: only processes of unbinned channels can be masked "
            "(remove the process from a binned channel instead)"
            for j in masked
        )
    elif len(masked) == len(ch.processes):
        problems.append(f"{where}.processes: every process is masked; the channel would expect no events")


def _claim_observable(
    name: str,
    channel: str,
    where: str,
    owners: dict[str, str],
    reserved: set[str],
    problems: list[str],
    binned: bool,
) -> None:
    if name in reserved:
        problems.append(f"{where}: observable name '{name}' is already a coefficient name or 'CMS_channel'")
    owner = owners.get(name)
    if owner is not None and (binned or owner.startswith("binned:")):
        problems.append(
            f"{where}: observable '{name}' is also used by channel '{owner.split(':', 1)[1]}' "
            "(a binned channel's observable must be its own)"
        )
    owners.setdefault(name, ("binned:" if binned else "unbinned:") + channel)


def _check_data(data: Any, config: Config, where: str, problems: list[str], check_files: bool) -> None:
    if data.asimov is not None:
        ranges = {c.name: c.range for c in config.coefficients}
        for k, v in data.asimov.items():
            if k not in ranges:
                problems.append(f"{where}.asimov.{k}: unknown coefficient '{k}' (coefficients: {', '.join(ranges)})")
            elif not ranges[k][0] <= v <= ranges[k][1]:
                problems.append(f"{where}.asimov.{k}: value {v} outside the coefficient range {list(ranges[k])}")
    elif check_files:
        for k, f in enumerate(data.files or []):
            if not Path(f).is_file():
                problems.append(f"{where}.files[{k}]: file not found: {f}")


def _interface(path: str, where: str, problems: list[str]) -> Any:
    from rooeft.onnx_convention import ConventionError, read_interface

    if not Path(path).is_file():
        problems.append(f"{where}: file not found: {path}")
        return None
    try:
        return read_interface(path)
    except ConventionError as err:
        problems.append(f"{where}: not a model in the rooeft ONNX convention: {err}")
        return None


def _check_unbinned(
    config: Config,
    i: int,
    ch: UnbinnedChannel,
    problems: list[str],
    owners: dict[str, str],
    reserved: set[str],
    check_files: bool,
) -> None:
    where = f"channels[{i}]"
    declared = list(ch.observables) if ch.observables is not None else None
    if not check_files:
        for name in declared or []:
            _claim_observable(name, ch.name, f"{where}.observables", owners, reserved, problems, False)
        return
    iface = _interface(ch.model, f"{where}.model", problems)
    if iface is None:
        return
    model = f"model {Path(ch.model).name}"
    if declared is not None and set(declared) != set(iface.observables):
        problems.append(
            f"{where}.observables: {declared} do not match the observables of the {model}: {list(iface.observables)}"
        )
    for name in iface.observables:
        _claim_observable(name, ch.name, f"{where}.model", owners, reserved, problems, False)
    if list(iface.coefficients) != config.coefficient_names:
        problems.append(
            f"{where}.model: the {model} has coefficients {list(iface.coefficients)} but the config has "
            f"{config.coefficient_names} (names and order must agree)"
        )
    procs = [p.name for p in ch.processes]
    model_procs = list(iface.processes)
    if set(procs) != set(model_procs):
        problems.append(f"{where}.processes: {procs} do not match the processes of the {model}: {model_procs}")
    else:
        eft_model = sorted({c.split(":")[1] for c in iface.outputs if c.startswith(("lin:", "quad:"))})
        eft_cfg = sorted(p.name for p in ch.processes if p.eft)
        if eft_model != eft_cfg:
            problems.append(
                f"{where}.processes: EFT processes (eft: true) {eft_cfg} do not match the processes with "
                f"lin:/quad: columns in the {model}: {eft_model}"
            )
    wanted = shape_systematics(config, ch.name)
    if set(wanted) != set(iface.systematics):
        problems.append(
            f"{where}.model: the {model} has shape systematics (sysup/sysdown columns) {list(iface.systematics)} "
            f"but the config applies {wanted} to channel '{ch.name}' (weight, correction and learned systematics)"
        )


def _check_systematics(config: Config, problems: list[str], reserved: set[str], check_files: bool) -> None:
    channels = {c.name: c for c in config.channels}
    kinds: dict[str, str] = {}
    lnn_targets: dict[tuple[str, str, str], int] = {}
    rate_targets: dict[tuple[str, str], str] = {}
    for i, s in enumerate(config.systematics):
        where = f"systematics[{i}]"
        if s.name in reserved:
            problems.append(f"{where}.name: '{s.name}' is already a coefficient or observable name")
        previous = kinds.get(s.name)
        if previous is not None and not (previous == s.type == "lnN"):
            problems.append(f"{where}.name: systematic '{s.name}' defined twice (only lnN entries may repeat a name)")
        kinds.setdefault(s.name, s.type)
        if s.name.startswith("prop_bin"):
            problems.append(f"{where}.name: names starting with 'prop_bin' are reserved for MC statistics")
        selected = list(channels)
        if s.channels is not None:
            selected = []
            for k, c in enumerate(s.channels):
                if c not in channels:
                    problems.append(f"{where}.channels[{k}]: unknown channel '{c}' (channels: {', '.join(channels)})")
                else:
                    selected.append(c)
        if isinstance(s, LearnedSystematic):
            binned = [c for c in selected if channels[c].kind == "binned" and s.channels is not None]
            if binned:
                problems.append(
                    f"{where}.channels: learned systematics act on unbinned channels only, got binned {binned}"
                )
            selected = [c for c in selected if channels[c].kind == "unbinned"]
        available = {p.name for c in selected for p in channels[c].processes}
        if s.processes is not None:
            for k, p in enumerate(s.processes):
                if p not in available:
                    problems.append(
                        f"{where}.processes[{k}]: unknown process '{p}' in channels {selected} "
                        f"(processes: {', '.join(sorted(available))})"
                    )
        if isinstance(s, CorrectionSystematic) and check_files and not Path(s.file).is_file():
            problems.append(f"{where}.file: file not found: {s.file}")
        for c in selected:
            for proc in channels[c].processes:
                if s.processes is not None and proc.name not in s.processes:
                    continue
                if isinstance(s, LnNSystematic):
                    key = (s.name, c, proc.name)
                    if key in lnn_targets:
                        problems.append(
                            f"{where}: lnN '{s.name}' acts on process '{proc.name}' of channel '{c}' twice "
                            f"(also systematics[{lnn_targets[key]}])"
                        )
                    lnn_targets[key] = i
                if isinstance(s, RateSystematic):
                    other = rate_targets.get((c, proc.name))
                    if other is not None:
                        problems.append(f"{where}: process '{proc.name}' of channel '{c}' already has rate '{other}'")
                    rate_targets[(c, proc.name)] = s.name


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    check_files: bool = True,
    source: str | None = None,
) -> Config:
    """Validate a configuration given as a mapping (as read from YAML).

    Relative paths are resolved against ``base_dir`` (default: the working directory).
    ``check_files=False`` skips file existence and ONNX metadata checks.
    """
    if not isinstance(data, Mapping):
        raise ConfigError([f"<top level>: expected a mapping, got {type(data).__name__}"], source=source)
    version = data.get("version")
    if version is None:
        raise ConfigError(["version: required key missing (this rooeft reads 'version: 1')"], source=source)
    if version != 1:
        raise ConfigError([f"version: unsupported configuration version {version!r} (expected 1)"], source=source)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    try:
        config = Config.model_validate(dict(data), context={"base": str(base.resolve())})
    except ValidationError as err:
        raise ConfigError(_messages(err, data), source=source) from None
    try:
        validate_references(config, check_files=check_files)
    except ConfigError as err:
        raise ConfigError(err.problems, source=source) from None
    return config


def load_config(path: str | os.PathLike[str], *, check_files: bool = True) -> Config:
    """Read and validate a YAML configuration file; paths inside are relative to its directory.

    Raises :class:`ConfigError` (a ``ValueError``) listing every problem with its key path, or
    ``FileNotFoundError`` if the file does not exist.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"configuration file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        raise ConfigError([f"<YAML>: cannot parse: {err}"], source=str(p)) from None
    return parse_config(data if data is not None else {}, base_dir=p.parent, check_files=check_files, source=str(p))


def config_hash(config: Config) -> str:
    """SHA-256 of the validated configuration (canonical JSON, resolved paths)."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()
