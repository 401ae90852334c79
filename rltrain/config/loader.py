"""YAML + dotted command-line overrides -> a typed, validated `Config`.

    cfg = load_config("configs/x.yaml", ["reward.shaping=clip_delta", "ppo.epochs=2"])

Values of overrides are parsed as YAML scalars ("2" -> int, "null" -> None, "[1, 2]" -> list).
Every error is a `ConfigError` naming the dotted key; nothing here loads a model.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path
from typing import Any, Sequence

import yaml

from rltrain.config.schema import MAX_STEP_DELIMITER_BYTES, Config


class ConfigError(ValueError):
    """A bad configuration; the message names the offending dotted key."""


def _convert(value: Any, hint: Any, key: str) -> Any:
    """`value` checked against the type hint `hint` (ints are accepted for floats)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], key)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"config key `{key}`: must be one of {list(choices)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"config key `{key}`: expected a mapping, got {type(value).__name__}")
        return _build(hint, value, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key `{key}`: expected a bool, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key `{key}`: expected an int, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-5" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key `{key}`: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key `{key}`: expected a string, got {value!r}")
        return value
    raise ConfigError(f"config key `{key}`: unsupported type {hint!r}")  # pragma: no cover


def _build(cls: type, data: dict, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if name not in names:
            raise ConfigError(f"unknown config key `{key}` (known: {', '.join(sorted(names))})")
        kwargs[name] = _convert(value, hints[name], key)
    return cls(**kwargs)


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"config key `{dotted}`: `{part}` is not a section")
        node = child
    node[parts[-1]] = value


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
        try:
            value = yaml.safe_load(raw) if raw.strip() not in ("", "None") else (None if raw.strip() else "")
        except yaml.YAMLError:
            value = raw  # not YAML: keep the text (e.g. a path with odd characters)
        _set_dotted(tree, key, value)
    return tree


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """The config from a YAML file (None = built-in defaults) with overrides applied, validated."""
    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        loaded = yaml.safe_load(p.read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {p}: the top level must be a mapping")
        data = loaded or {}
    data = _merge(data, parse_overrides(overrides))
    cfg = _build(Config, data, "")
    validate(cfg)
    return cfg


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"config key `{key}`: {message}")


def validate(cfg: Config) -> None:
    """Ranges and cross-section combinations; raises ConfigError naming the key."""
    r, m, d, ro, rw, kl, ppo = cfg.run, cfg.model, cfg.data, cfg.rollout, cfg.reward, cfg.kl, cfg.ppo
    _require(r.iterations >= 1, "run.iterations", f"must be >= 1, got {r.iterations}")
    _require(r.save_every >= 0, "run.save_every", "must be >= 0")
    _require(r.keep_last >= 1, "run.keep_last", "must be >= 1")
    _require(r.stop_after >= 0, "run.stop_after", "must be >= 0")
    _require(r.eval_problems >= 1, "run.eval_problems", "must be >= 1")
    _require(bool(r.out_dir), "run.out_dir", "must not be empty")
    t = m.tiny
    for name in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads"):
        _require(getattr(t, name) >= 1, f"model.tiny.{name}", "must be >= 1")
    _require(t.hidden_size % t.num_attention_heads == 0, "model.tiny.hidden_size",
             "must be divisible by model.tiny.num_attention_heads")
    _require(t.num_attention_heads % t.num_key_value_heads == 0, "model.tiny.num_key_value_heads",
             "must divide model.tiny.num_attention_heads")
    _require(t.hidden_size // t.num_attention_heads >= 32, "model.tiny.num_attention_heads",
             "head_dim = hidden_size / num_attention_heads must be >= 32 (vLLM-loadable)")
    _require(m.tiny_vocab_size >= 259, "model.tiny_vocab_size", "must be >= 259 (256 bytes + 3 special tokens)")
    builtin = m.policy == "builtin"
    _require(builtin == (d.dataset == "arithmetic"), "data.dataset",
             "the built-in model (model.policy=builtin) goes with data.dataset=arithmetic and a real "
             f"model with a real dataset; got policy={m.policy!r}, dataset={d.dataset!r}")
    _require(builtin or d.source is not None, "data.source", f"needed for data.dataset={d.dataset!r}")
    _require(builtin or cfg.warmup.steps == 0, "warmup.steps", "the supervised warm-up is for the built-in task only")
    a = d.arithmetic
    _require(1 <= a.min_ops <= a.max_ops, "data.arithmetic.min_ops", "need 1 <= min_ops <= max_ops")
    _require(a.max_operand >= 1 and a.max_factor >= 2, "data.arithmetic.max_factor",
             "need max_operand >= 1 and max_factor >= 2")
    _require(d.limit >= 0, "data.limit", "must be >= 0")
    _require(cfg.warmup.steps >= 0, "warmup.steps", "must be >= 0")
    _require(ro.prompts >= 1, "rollout.prompts", "must be >= 1")
    _require(ro.n >= 1, "rollout.n", "must be >= 1")
    _require(ro.temperature > 0, "rollout.temperature", "PPO needs sampling (temperature > 0)")
    _require(0 < ro.top_p <= 1, "rollout.top_p", "must be in (0, 1]")
    _require(ro.max_new_tokens >= 1, "rollout.max_new_tokens", "must be >= 1")
    gap = ro.sampler_logprob_gap_warn
    _require(gap is None or (math.isfinite(gap) and gap >= 0), "rollout.sampler_logprob_gap_warn",
             f"must be a finite number >= 0 (or null for the default), got {gap!r}")
    _require(rw.prm != "rule" or d.dataset == "arithmetic", "reward.prm",
             "the rule-based step checker only understands the built-in arithmetic task")
    _require(rw.orm != "none" or rw.orm_coef == 0.0, "reward.orm_coef",
             "is non-zero but reward.orm is 'none'")
    _require(rw.prm_coef >= 0, "reward.prm_coef", "must be >= 0")
    _require(0 < len(rw.step_delimiter.encode("utf-8")) <= MAX_STEP_DELIMITER_BYTES, "reward.step_delimiter",
             f"must be 1 to {MAX_STEP_DELIMITER_BYTES} UTF-8 bytes (the step kernels' automaton), "
             f"got {rw.step_delimiter!r}")
    _require(kl.coef >= 0 and kl.loss_coef >= 0, "kl.coef", "KL coefficients must be >= 0")
    _require(not kl.adaptive or (kl.target > 0 and kl.horizon > 0), "kl.target",
             "the adaptive controller needs kl.target > 0 and kl.horizon > 0")
    _require(not kl.adaptive or kl.coef > 0, "kl.adaptive", "needs a starting kl.coef > 0")
    _require(ppo.epochs >= 1, "ppo.epochs", "must be >= 1")
    _require(ppo.mini_batches >= 1, "ppo.mini_batches", "must be >= 1")
    _require(ppo.mini_batches <= ro.prompts * ro.n, "ppo.mini_batches",
             "cannot exceed the samples per iteration (rollout.prompts * rollout.n)")
    _require(ppo.micro_tokens >= 1, "ppo.micro_tokens", "must be >= 1")
    _require(0 <= ppo.clip_low < 1 and ppo.clip_high >= 0, "ppo.clip_low", "need 0 <= clip_low < 1, clip_high >= 0")
    _require(ppo.dual_clip is None or ppo.dual_clip > 1, "ppo.dual_clip", "must be > 1 or null")
    _require(ppo.value_clip >= 0, "ppo.value_clip", "must be >= 0")
    _require(0 <= ppo.gamma <= 1 and 0 <= ppo.lam <= 1, "ppo.gamma", "gamma and lam must be in [0, 1]")
    _require(ppo.actor_lr > 0 and ppo.critic_lr > 0, "ppo.actor_lr", "learning rates must be > 0")
    _require(ppo.max_grad_norm > 0, "ppo.max_grad_norm", "must be > 0")
    _require(ppo.warmup_steps >= 0, "ppo.warmup_steps", "must be >= 0")


def check_environment(cfg: Config) -> None:
    """Modules the config needs are importable (checked without importing them, before any model loads)."""
    import importlib.util

    def has(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    rw = cfg.reward
    if (rw.prm not in ("none", "rule") or rw.orm != "none") and not has(f"rltrain.rewards.{rw.scorer_module}"):
        key = "reward.prm" if rw.prm not in ("none", "rule") else "reward.orm"
        raise ConfigError(f"config key `{key}`: a learned scorer needs rltrain.rewards.{rw.scorer_module} "
                          "(reward.scorer_module), which is not installed")
    if cfg.rollout.engine == "vllm" and not (has("vllm") and has("rltrain.rollout.vllm_engine")):
        raise ConfigError("config key `rollout.engine`: vllm needs the `vllm` package and "
                          "rltrain.rollout.vllm_engine; use rollout.engine=builtin")
