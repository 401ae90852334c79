"""`rollout.engine` -> a RolloutEngine: the engine's `rltrain.config.engines.ROLLOUT_ENGINES` row names
its builder, imported only when the engine is chosen (vLLM is never imported otherwise).

The vLLM engine (`rltrain.rollout.vllm_engine.engine_from_config`) loads the policy from a local
Hugging Face folder: `model.policy`, or `<run_dir>/init_model` for the built-in model; the trainer
then keeps it in sync through `update_weights`. An engine's dtype follows the trainer's unless its
config says otherwise (`rltrain.rollout.engine_dtype`).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from rltrain.config.engines import ROLLOUT_ENGINES
from rltrain.config.schema import Config
from rltrain.rollout.engine_dtype import EngineDtype, engine_dtype
from rltrain.rollout.types import RolloutEngine


def vllm_engine_config(cfg: Config, device_type: str):
    """(VLLMEngineConfig, EngineDtype) for rollout.engine=vllm on a `device_type` trainer (no vLLM import):
    `rollout.vllm` with its dtype resolved."""
    choice = engine_dtype(cfg, device_type)
    return cfg.rollout.vllm.model_copy(update={"dtype": choice.engine}), choice


def build_engine(cfg: Config, rollout_lm, tokenizer, model_dir: str | Path | None = None, *,
                 device_type: str | None = None, log: Callable[[str], None] | None = None) -> RolloutEngine:
    """The configured engine. rollout_lm: the actor's unsharded copy (engines with `rollout_copy`,
    else None); model_dir: the policy's folder (engines that load it); device_type: the trainer's
    device type (None: "cuda" when available); log: receives one line naming the engine's dtype and
    why (always for an engine whose config chooses its dtype; else only when it differs from the
    trainer's). RuntimeError naming the engine when its module cannot be imported."""
    if device_type is None:
        import torch

        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    name = cfg.rollout.engine
    spec = ROLLOUT_ENGINES[name]
    module_name, _, function = spec.builder.partition(":")
    try:
        builder = getattr(importlib.import_module(module_name), function)
    except ImportError as exc:
        needs = " and ".join([module_name, *spec.requires])
        raise RuntimeError(f"rollout.engine={name} needs {needs} ({exc}); use rollout.engine=builtin") from exc
    choice = engine_dtype(cfg, device_type)
    if log is not None and (spec.dtype_key is not None or choice.mismatch):
        log(describe(choice))
    return builder(cfg, rollout_lm, tokenizer, model_dir, device_type)


def describe(choice: EngineDtype) -> str:
    """The log line of a dtype choice."""
    warn = f" (expect a larger sampler_logprob_gap: {choice.mismatch})" if choice.mismatch else ""
    return f"rollout engine dtype {choice.engine}: {choice.reason}{warn}"
