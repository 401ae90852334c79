"""A config field's type and constraints in words: for the reference (`reference.py`) and for
config errors (`errors.py`), so that both say the same thing."""
from __future__ import annotations

import json
import typing
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

_BOUNDS = ((at.Gt, "gt", ">"), (at.Ge, "ge", ">="), (at.Lt, "lt", "<"), (at.Le, "le", "<="))


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without Optional, whether null is allowed)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Union and type(None) in args:
        return _unwrap(next(a for a in args if a is not type(None)))[0], True
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrap(args[0])
    return annotation, False


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The model class of a section-typed annotation, else None."""
    base, _ = _unwrap(annotation)
    return base if isinstance(base, type) and issubclass(base, BaseModel) else None


def variants(info: FieldInfo) -> dict[str, type[BaseModel]] | None:
    """The variants of a section keyed by a tag field (a discriminated union), by tag; else None."""
    if not isinstance(info.discriminator, str):
        return None
    return {m.model_fields[info.discriminator].default: m for m in typing.get_args(info.annotation)}


def limits(info: FieldInfo) -> list[str]:
    """Every constraint of `info` as text: ">= 0", "< 1", "non-empty", ..."""
    out = []
    for meta in info.metadata:
        for cls, attr, sign in _BOUNDS:
            if isinstance(meta, cls):
                out.append(f"{sign} {getattr(meta, attr)}")
        if isinstance(meta, at.MinLen) and meta.min_length == 1:
            out.append("non-empty")
        if getattr(meta, "pattern", None):
            out.append(f"matching {meta.pattern}")
    return out


def type_name(info: FieldInfo) -> str:
    """"int", "float", "bool", "str", "one of a, b", "mapping"; " or null" when null is allowed."""
    base, nullable = _unwrap(info.annotation)
    if variants(info):
        name = "mapping"
    elif typing.get_origin(base) is Literal:
        name = "one of " + ", ".join(map(str, typing.get_args(base)))
    elif typing.get_origin(base) is dict or section_model(base):
        name = "mapping"
    else:
        name = getattr(base, "__name__", str(base))
    return name + (" or null" if nullable else "")


def is_float(info: FieldInfo) -> bool:
    """The field holds floats (ints given for it are shown as floats)."""
    return _unwrap(info.annotation)[0] is float


def requirement(info: FieldInfo) -> str:
    """What a value of this field must be, for an error message ("a finite number >= 0")."""
    base, nullable = _unwrap(info.annotation)
    tagged = variants(info)
    if tagged:
        words = f"one of {list(tagged)} or a mapping with `{info.discriminator}` one of them"
    elif typing.get_origin(base) is Literal:
        words = f"one of {list(typing.get_args(base))}"
    elif section_model(base) or typing.get_origin(base) is dict:
        words = "a mapping of keys"
    else:
        words = {bool: "true or false", int: "an int", float: "a finite number", str: "a string"}.get(base, str(base))
        found = limits(info)
        bounds = [x for x in found if x != "non-empty"]
        words = ("a non-empty string" if "non-empty" in found else words) + \
            ("" if not bounds else " " + " and ".join(bounds))
    if nullable:
        words += " (or null for the default)" if info.default is None else " (or null)"
    return words


def show(value: Any) -> str:
    """A default value as YAML would spell it (null, true, quoted when not plain)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and (not value or not value.isprintable() or value != value.strip()):
        return json.dumps(value)
    return str(value)
