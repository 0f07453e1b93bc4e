"""Declarative analysis configuration (YAML, schema version 1) for ``rooeft build``.

>>> from rooeft.config import Coefficient
>>> Coefficient(name="cHW", range=(-1, 1)).name
'cHW'
"""

from __future__ import annotations

from rooeft.config.loader import (
    ConfigError,
    config_hash,
    load_config,
    parse_config,
    shape_systematics,
    validate_references,
)
from rooeft.config.schema import (
    CONFIG_VERSION,
    BinnedChannel,
    BinnedObservable,
    Channel,
    Coefficient,
    Config,
    CorrectionSystematic,
    Data,
    LearnedSystematic,
    LnNSystematic,
    MCStats,
    Process,
    RateSystematic,
    Systematic,
    UnbinnedChannel,
    WeightSystematic,
)

__all__ = [
    "CONFIG_VERSION",
    "BinnedChannel",
    "BinnedObservable",
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
]
