"""`rollout.engine: builtin | vllm` -> a RolloutEngine (vLLM imported lazily).

The vLLM engine (`rltrain.rollout.vllm_engine.VLLMEngine.from_config`) loads the policy from a
local Hugging Face folder: `model.policy`, or `<run_dir>/init_model` for the built-in model; the
trainer then keeps it in sync through `update_weights`. Its dtype follows the trainer's unless
`rollout.vllm.dtype` says otherwise (`rltrain.rollout.engine_dtype`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

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
    """The configured engine. device_type: the trainer's device type (None: "cuda" when available);
    log: receives one line naming the engine's dtype and why (always for vLLM; for the built-in
    engine only when it differs from the trainer's)."""
    if device_type is None:
        import torch

        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.rollout.engine == "builtin":
        from rltrain.rollout.hf_engine import HFRolloutEngine

        choice = engine_dtype(cfg, device_type)
        if log is not None and choice.mismatch:
            log(describe(choice))
        return HFRolloutEngine.from_tokenizer(rollout_lm, tokenizer, token_budget=cfg.rollout.token_budget)
    try:
        from rltrain.rollout.vllm_engine import VLLMEngine
        engine_cfg, choice = vllm_engine_config(cfg, device_type)
    except ImportError as exc:
        raise RuntimeError(f"rollout.engine=vllm needs rltrain.rollout.vllm_engine and vllm ({exc}); "
                           "use rollout.engine=builtin") from exc
    if log is not None:
        log(describe(choice))
    eos = getattr(tokenizer, "eos_token_id", None)
    return VLLMEngine.from_config(model_dir or cfg.model.policy, engine_cfg,
                                  eos_token_ids=None if eos is None else (eos,))


def describe(choice: EngineDtype) -> str:
    """The log line of a dtype choice."""
    warn = f" (expect a larger sampler_logprob_gap: {choice.mismatch})" if choice.mismatch else ""
    return f"rollout engine dtype {choice.engine}: {choice.reason}{warn}"
