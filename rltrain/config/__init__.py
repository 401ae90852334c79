"""Trainer configuration: typed dataclasses (`schema`), YAML + dotted overrides (`loader`)."""
from rltrain.config.loader import (ConfigError, check_environment, config_to_dict, load_config, parse_overrides,
                                   validate)
from rltrain.config.schema import Config

__all__ = ["Config", "ConfigError", "check_environment", "config_to_dict", "load_config", "parse_overrides", "validate"]
