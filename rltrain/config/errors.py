"""`ConfigError` and the one line it carries: the first pydantic error, as the dotted key, what
the value must be, and the value given."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from rltrain.config.describe import is_float, requirement, section_model, variants
from rltrain.config.base import FieldError

MOVED_KEYS = {"rollout.gpu_memory_utilization": "rollout.vllm.gpu_memory_utilization"}


class ConfigError(ValueError):
    """A bad configuration; the message (one line) names the offending dotted key."""


def _resolve(root: type[BaseModel], loc: tuple) -> tuple[list[str], type[BaseModel] | None, str | None]:
    """(the dotted key's parts, union tags dropped; the section model that holds the last part; the
    tag of that section when it is a variant of a tagged section)."""
    parts: list[str] = []
    model: type[BaseModel] | None = root
    holder, tag, holder_tag, i = None, None, None, 0
    while i < len(loc):
        part = loc[i]
        parts.append(part)
        holder, holder_tag = model, tag
        info = model.model_fields.get(part) if model is not None else None
        tagged = variants(info) if info is not None else None
        if tagged and i + 1 < len(loc) and loc[i + 1] in tagged:
            model, tag, i = tagged[loc[i + 1]], loc[i + 1], i + 2
            continue
        model, tag, i = (section_model(info.annotation) if info is not None else None), None, i + 1
    return parts, holder, holder_tag


def error_line(exc: ValidationError, root: type[BaseModel]) -> str:
    """The first error of `exc` (raised validating `root`) as one line."""
    err = exc.errors(include_url=False)[0]
    parts, holder, tag = _resolve(root, tuple(p for p in err["loc"] if isinstance(p, str)))
    key = ".".join(parts)
    cause: Any = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        return f"config key `{'.'.join([*parts, cause.field])}`: {cause.message}"
    if isinstance(cause, ValueError):
        return f"config key `{key}`: {cause}"
    if err["type"] == "extra_forbidden":
        if key in MOVED_KEYS:
            return f"unknown config key `{key}`: it is now `{MOVED_KEYS[key]}`"
        known = ", ".join(holder.model_fields) if holder is not None else ""
        which = f" for {'.'.join(parts[:-1])}.type={tag}" if tag is not None else ""
        return f"unknown config key `{key}` (known{which}: {known})"
    info = holder.model_fields.get(parts[-1]) if holder is not None and parts else None
    if err["type"] in ("union_tag_invalid", "union_tag_not_found") and info is not None and variants(info):
        got = (err.get("ctx") or {}).get("tag")
        return f"config key `{key}.{info.discriminator}`: must be one of {list(variants(info))}, got {got!r}"
    if info is None:
        return f"config key `{key}`: {err['msg'].lower()}, got {err['input']!r}"
    value = err["input"]
    if is_float(info) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return f"config key `{key}`: must be {requirement(info)}, got {value!r}"


def from_validation_error(exc: ValidationError, root: type[BaseModel]) -> ConfigError:
    return ConfigError(error_line(exc, root))
