"""`ConfigError` and the one line it carries: the first pydantic error, as the dotted key, what
the value must be, and the value given."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from rltrain.config.describe import is_float, requirement, section_model
from rltrain.config.base import FieldError

MOVED_KEYS = {"rollout.gpu_memory_utilization": "rollout.vllm.gpu_memory_utilization"}


class ConfigError(ValueError):
    """A bad configuration; the message (one line) names the offending dotted key."""


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The section model at `loc` (`root` for ()), None if `loc` names no section."""
    model: type[BaseModel] | None = root
    for part in loc:
        info = model.model_fields.get(part) if model is not None else None
        model = section_model(info.annotation) if info is not None else None
    return model


def _field_at(root: type[BaseModel], loc: tuple) -> FieldInfo | None:
    parent = _model_at(root, loc[:-1]) if loc else None
    return parent.model_fields.get(loc[-1]) if parent is not None else None


def error_line(exc: ValidationError, root: type[BaseModel]) -> str:
    """The first error of `exc` (raised validating `root`) as one line."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if isinstance(p, str))
    key = ".".join(loc)
    cause: Any = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        return f"config key `{'.'.join([*loc, cause.field])}`: {cause.message}"
    if isinstance(cause, ValueError):
        return f"config key `{key}`: {cause}"
    if err["type"] == "extra_forbidden":
        if key in MOVED_KEYS:
            return f"unknown config key `{key}`: it is now `{MOVED_KEYS[key]}`"
        section = _model_at(root, loc[:-1])
        known = ", ".join(section.model_fields) if section is not None else ""
        return f"unknown config key `{key}` (known: {known})"
    info = _field_at(root, loc)
    if info is None:
        return f"config key `{key}`: {err['msg'].lower()}, got {err['input']!r}"
    value = err["input"]
    if is_float(info) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return f"config key `{key}`: must be {requirement(info)}, got {value!r}"


def from_validation_error(exc: ValidationError, root: type[BaseModel]) -> ConfigError:
    return ConfigError(error_line(exc, root))
