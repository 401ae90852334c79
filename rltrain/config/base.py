"""Building blocks shared by every component's config model (pydantic v2, no torch).

Each component (task, tiny model, warm-up, vLLM engine, grader) owns one `StrictModel`
subclass in a torch-free module; `rltrain.config.schema.Config` nests them. Models are
frozen, reject unknown keys and are strict: a bool is not an int, a number is not a string.
Floats are `FiniteFloat`: NaN and infinities are rejected wherever a float is read.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict


def _as_float(value: Any) -> Any:
    """Numbers and numeric strings as float (YAML 1.1 reads `1e-5`, without a dot, as a string)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


FiniteFloat = Annotated[float, BeforeValidator(_as_float), AllowInfNan(False)]


class StrictModel(BaseModel):
    """Frozen, unknown keys rejected, no lax coercions (True is not 1, "2" is not 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FieldError(ValueError):
    """A cross-field rule broken: `field` is the offending field of the model that raised it
    (the config error then names its dotted key), `message` says what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"`{field}`: {message}")
        self.field = field
        self.message = message


def require(condition: bool, field: str, message: str) -> None:
    """Raise `FieldError(field, message)` unless `condition` holds (for model validators)."""
    if not condition:
        raise FieldError(field, message)
