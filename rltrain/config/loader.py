"""YAML + dotted command-line overrides -> a validated, frozen `Config`.

    cfg = load_config("configs/x.yaml", ["reward.shaping=clip_delta", "ppo.epochs=2"])

Values of overrides are parsed as YAML scalars ("2" -> int, "null" -> None, "[1, 2]" -> list).
`reward.step_delimiter` overrides also read the escapes \\n, \\t and \\\\ (an unquoted `\\n\\n`
on a shell command line arrives as backslash-n text). A key given twice in one YAML mapping is
an error. Every error is a one-line `ConfigError` naming the dotted key; nothing here loads a model.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import ValidationError

from rltrain.config.errors import ConfigError, from_validation_error
from rltrain.config.legacy import lift, settle
from rltrain.config.schema import Config

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "builtin.yaml"  # the built-in task
ESCAPED_KEYS = ("reward.step_delimiter",)
TAG = "type"
TAGGED_SECTIONS = {("ppo", "estimator"): "gae"}  # a section keyed by `type` -> its default type
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}
_ESCAPE = re.compile(r"\\([nt\\])")


def _check_duplicates(node: yaml.Node, where: str, prefix: str = "") -> None:
    """Raise ConfigError at the second occurrence of a key in any mapping under `node`."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, where, prefix)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: set[str] = set()
    for key_node, value_node in node.value:
        name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
        if name is not None and name != "<<":
            if name in seen:
                raise ConfigError(f"config file {where}:{key_node.start_mark.line + 1}: duplicate key "
                                  f"`{prefix}{name}`")
            seen.add(name)
        _check_duplicates(value_node, where, f"{prefix}{name}." if name is not None else prefix)


def read_yaml(path: Path) -> dict:
    """The top-level mapping of a YAML file ({} when empty); syntax errors and duplicate keys name file:line."""
    loader = yaml.SafeLoader(path.read_text())
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        _check_duplicates(node, str(path))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        raise ConfigError(f"config file {path}{line}: {exc.problem}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping")
    return data


def _tagged(path: tuple[str, ...], value: Any) -> Any:
    """A tagged section given by name alone (`ppo.estimator: grpo`) as the mapping {"type": name}."""
    return {TAG: value} if path in TAGGED_SECTIONS and isinstance(value, str) else value


def _tag_names(tree: dict, path: tuple[str, ...] = ()) -> dict:
    return {k: _tag_names(v, (*path, k)) if isinstance(v, dict) else _tagged((*path, k), v) for k, v in tree.items()}


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        child = node[part] = _tagged(tuple(parts[:i + 1]), node.setdefault(part, {}))
        if not isinstance(child, dict):
            raise ConfigError(f"config key `{dotted}`: `{part}` is not a section")
        node = child
    value = _tagged(tuple(parts), value)
    old = node.get(parts[-1])
    if isinstance(value, dict) and isinstance(old, dict) and tuple(parts) in TAGGED_SECTIONS:
        value = {**old, **value}  # `ppo.estimator.std_floor=... ppo.estimator=grpo`: both apply
    node[parts[-1]] = value


def _scalar(key: str, raw: str) -> Any:
    text = raw.strip()
    if not text:
        return ""
    if text == "None":
        return None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw  # not YAML: keep the text (e.g. a path with odd characters)
    if key in ESCAPED_KEYS and isinstance(value, str) and not text.startswith('"'):
        value = _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], value)
    return value


def parse_overrides(overrides: Sequence[str]) -> dict:
    """["a.b=1", ...] -> nested dict {"a": {"b": 1}}."""
    tree: dict = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not p for p in key.split(".")):
            raise ConfigError(f"override {item!r}: empty key")
        _set_dotted(tree, key, _scalar(key, raw))
    return tree


def _merge(base: dict, extra: dict, path: tuple[str, ...] = ()) -> dict:
    """`extra` over `base`, section by section; a tagged section whose `type` changes starts afresh
    (the options of the estimator it replaces do not apply to the new one)."""
    out = dict(base)
    for k, v in extra.items():
        here, old = (*path, k), out.get(k)
        retyped = here in TAGGED_SECTIONS and isinstance(old, dict) and isinstance(v, dict) and \
            TAG in v and v[TAG] != old.get(TAG, TAGGED_SECTIONS[here])
        out[k] = _merge(old, v, here) if isinstance(v, dict) and isinstance(old, dict) and not retyped else v
    return out


def _with_defaults(data: dict) -> dict:
    """Each tagged section given without `type` gets its default type."""
    for path, default in TAGGED_SECTIONS.items():
        node = data
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(path[-1]), dict) and TAG not in node[path[-1]]:
            node[path[-1]] = {TAG: default, **node[path[-1]]}
    return data


def _validated(base: dict, overrides: dict) -> Config:
    """`overrides` merged over `base` (each with its old keys lifted on its own), validated."""
    base, moved = lift(base)
    overrides, moved_too = lift(overrides)
    data, notices = settle(_merge(base, overrides), {**moved, **moved_too})
    data = _with_defaults(data)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, Config) from None
    if notices and os.environ.get("LOCAL_RANK", "0") == "0":
        print("\n".join(f"rltrain: {line}" for line in notices), file=sys.stderr, flush=True)
    return cfg


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """The config from a YAML file (None = built-in defaults) with overrides applied, validated."""
    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        data = read_yaml(p)
    return _validated(_tag_names(data), parse_overrides(overrides))


def with_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """A copy of the frozen `cfg` with dotted overrides applied, validated again."""
    return _validated(config_to_dict(cfg), parse_overrides(overrides))


def config_to_dict(cfg: Config) -> dict:
    """The config as plain nested dicts (what `load_config` reads back)."""
    return cfg.model_dump()
