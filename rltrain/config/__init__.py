"""Trainer configuration, the base of the import graph: every section model (`schema` and the
section modules beside it), YAML + dotted overrides (`loader`), the generated reference
(`reference`). Imports no torch and no other rltrain package but `rltrain.errors`; checks of a
config against this machine are `rltrain.preflight`."""
from rltrain.config.errors import ConfigError
from rltrain.config.loader import config_to_dict, load_config, parse_overrides, with_overrides
from rltrain.config.schema import Config

__all__ = ["Config", "ConfigError", "config_to_dict", "load_config", "parse_overrides",
           "with_overrides"]
