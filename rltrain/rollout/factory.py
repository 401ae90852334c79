"""`rollout.engine: builtin | vllm` -> a RolloutEngine (vLLM imported lazily)."""
from __future__ import annotations

from rltrain.config.schema import Config


def build_engine(cfg: Config, rollout_lm, tokenizer):
    if cfg.rollout.engine == "builtin":
        from rltrain.rollout.hf_engine import HFRolloutEngine

        return HFRolloutEngine.from_tokenizer(rollout_lm, tokenizer, token_budget=cfg.rollout.token_budget)
    try:
        from rltrain.rollout import vllm_engine
    except ImportError as exc:
        raise RuntimeError(f"rollout.engine=vllm needs rltrain.rollout.vllm_engine and vllm ({exc}); "
                           "use rollout.engine=builtin") from exc
    return vllm_engine.build(cfg, tokenizer)
