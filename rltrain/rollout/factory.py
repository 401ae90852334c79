"""`rollout.engine: builtin | vllm` -> a RolloutEngine (vLLM imported lazily).

The vLLM engine (issue 7: `rltrain.rollout.vllm_engine.VLLMEngine.from_config`) loads the
policy from a local Hugging Face folder: `model.policy`, or `<run_dir>/init_model` for the
built-in model; the trainer then keeps it in sync through `update_weights`.
"""
from __future__ import annotations

from pathlib import Path

from rltrain.config.schema import Config


def build_engine(cfg: Config, rollout_lm, tokenizer, model_dir: str | Path | None = None):
    if cfg.rollout.engine == "builtin":
        from rltrain.rollout.hf_engine import HFRolloutEngine

        return HFRolloutEngine.from_tokenizer(rollout_lm, tokenizer, token_budget=cfg.rollout.token_budget)
    try:
        from rltrain.rollout.vllm_config import VLLMEngineConfig
        from rltrain.rollout.vllm_engine import VLLMEngine
    except ImportError as exc:
        raise RuntimeError(f"rollout.engine=vllm needs rltrain.rollout.vllm_engine (issue 7) and vllm ({exc}); "
                           "use rollout.engine=builtin") from exc
    eos = getattr(tokenizer, "eos_token_id", None)
    opts = cfg.rollout.vllm
    engine_cfg = VLLMEngineConfig(gpu_memory_utilization=cfg.rollout.gpu_memory_utilization,
                                  max_model_len=opts.max_model_len, enforce_eager=opts.enforce_eager, dtype=opts.dtype,
                                  tensor_parallel_size=opts.tensor_parallel_size,
                                  enable_sleep_mode=opts.enable_sleep_mode, seed=cfg.run.seed)
    return VLLMEngine.from_config(model_dir or cfg.model.policy, engine_cfg,
                                  eos_token_ids=None if eos is None else (eos,))
