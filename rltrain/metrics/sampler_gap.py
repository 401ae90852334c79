"""Warn once when the rollout engine's log-probs drift from the trainer's (`sampler_logprob_gap`).

`sampler_logprob_gap` is the mean over response tokens of |trainer old log-prob - engine
log-prob|. PPO assumes the samples come from the policy it scores; a large gap means they came
from another one. Measured: ~1e-7 (built-in engine, tiny model, CPU); 9.7e-6 (vLLM in float32
against the float32 trainer, SmolLM2-135M-Instruct on GSM8K, CPU); 0.03 with vLLM in bfloat16
against that float32 trainer. With both sides in bfloat16 the kernels' rounding leaves a floor of
its own, reported elsewhere at a few 1e-2 nats (not measured here). Hence the default threshold:
0.01 when the trainer computes in float32, 0.05 when it computes in bfloat16
(`rollout.sampler_logprob_gap_warn` overrides it).
"""
from __future__ import annotations

import logging

from rltrain.config.engines import ROLLOUT_ENGINES
from rltrain.rollout.engine_dtype import EngineDtype

logger = logging.getLogger(__name__)

DEFAULT_WARN = {"float32": 0.01, "bfloat16": 0.05}
CONFIG_KEY = "rollout.sampler_logprob_gap_warn"


def default_threshold(trainer_dtype: str) -> float:
    """The default warning threshold for a trainer computing in `trainer_dtype`."""
    return DEFAULT_WARN.get(trainer_dtype, DEFAULT_WARN["bfloat16"])


def likely_causes(dtype: EngineDtype, top_p: float, engine: str = "vllm") -> list[str]:
    """The likely causes of a large gap for rollout.engine=`engine`, those this configuration points at first."""
    causes = []
    if dtype.mismatch:
        fix = ROLLOUT_ENGINES[engine].dtype_fix
        causes.append(f"{dtype.mismatch} ({fix})")
    if top_p < 1:
        causes.append(f"rollout.top_p={top_p} < 1: an engine that reports log-probs of the truncated distribution")
    causes.append("a stale weight sync (the engine missed an update, or kept KV blocks of the old weights "
                  "without a prefix-cache reset)")
    causes.append("temperature / top_p applied differently: the trainer scores log_softmax(logits / temperature) "
                  "before top-p (vLLM needs logprobs_mode=processed_logprobs)")
    if not dtype.mismatch:
        causes.append(f"not the dtype: engine and trainer both compute in {dtype.trainer}")
    return causes


class SamplerGapWarning:
    """`check(gap, iteration)` logs one warning the first time `gap` exceeds `threshold`, never again."""

    def __init__(self, threshold: float, causes: list[str], *, enabled: bool = True):
        self.threshold, self.causes, self.enabled = float(threshold), list(causes), enabled
        self.warned = False

    def check(self, gap: float, iteration: int) -> str | None:
        """The warning text when this call warned, else None (a NaN gap warns too)."""
        if self.warned or not self.enabled or gap <= self.threshold:
            return None
        self.warned = True
        message = (f"[rltrain] warning: sampler_logprob_gap {gap:.3g} > {CONFIG_KEY} {self.threshold:g} at "
                   f"iteration {iteration}: the rollout engine samples from another policy than the one PPO "
                   f"scores. Likely causes: " + "; ".join(self.causes) + ". (Warned once.)")
        logger.warning(message)
        return message
