"""Trainer configuration: typed dataclasses (`schema`), YAML + dotted overrides (`loader`)."""
from rltrain.config.loader import ConfigError, config_to_dict, load_config, parse_overrides, validate
from rltrain.config.schema import Config

__all__ = ["Config", "ConfigError", "config_to_dict", "load_config", "parse_overrides", "validate"]
