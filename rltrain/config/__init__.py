"""Trainer configuration: pydantic models (`schema`), YAML + dotted overrides (`loader`), checks of
the machine (`environment`), the generated reference (`reference`). Imports no torch."""
from rltrain.config.environment import check_environment
from rltrain.config.errors import ConfigError
from rltrain.config.loader import config_to_dict, load_config, parse_overrides, with_overrides
from rltrain.config.schema import Config

__all__ = ["Config", "ConfigError", "check_environment", "config_to_dict", "load_config", "parse_overrides",
           "with_overrides"]
