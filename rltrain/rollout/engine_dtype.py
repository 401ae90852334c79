"""The rollout engine's compute dtype, chosen so that it samples from the policy the trainer scores.

The trainer computes the log-probs PPO uses (DESIGN.md step 5) in
  - float32 on CPU (parameters are float32 there whatever `model.dtype` says);
  - bfloat16 on CUDA with `model.mixed_precision` (FSDP2's MixedPrecisionPolicy casts the
    parameters to bf16 for every forward) or with `model.dtype=bfloat16`;
  - float32 on CUDA otherwise.

`rollout.vllm.dtype=trainer` (the default) runs vLLM in that dtype: both sides then round the same
weights to the same precision and run matmuls of the same precision, which leaves the smallest
gap between the engine's log-probs and the trainer's. (SmolLM2-135M-Instruct on GSM8K, CPU: vLLM
in bf16 against the float32 trainer, 0.03 per token; vLLM in float32, 9.7e-6.) An explicit
value wins. The built-in engine runs an unsharded copy of the actor in its parameter dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

from rltrain.config.engines import ROLLOUT_ENGINES
from rltrain.config.schema import Config, ModelConfig
from rltrain.config.vllm import FOLLOW_TRAINER


@dataclass(frozen=True)
class EngineDtype:
    """engine: the engine's dtype ("auto": vLLM's choice from the checkpoint); trainer: the dtype
    the trainer computes log-probs in; reason: one line saying why `engine` was chosen."""

    engine: str
    trainer: str
    reason: str

    @property
    def mismatch(self) -> str:
        """"" when engine and trainer compute alike, else a short description of the difference."""
        if self.engine == self.trainer:
            return ""
        if self.engine == "auto":
            return (f"engine dtype auto (vLLM's choice: the checkpoint's dtype, a float32 checkpoint served in "
                    f"16 bits) vs trainer {self.trainer}")
        return f"engine dtype {self.engine} vs trainer {self.trainer}"


def trainer_compute_dtype(model: ModelConfig, device_type: str) -> tuple[str, str]:
    """(dtype name, why) of the trainer's forward passes on a `device_type` ("cpu" / "cuda") device."""
    if device_type != "cuda":
        return "float32", f"parameters are float32 on {device_type}"
    if model.mixed_precision:
        return "bfloat16", "model.mixed_precision: FSDP2 computes in bfloat16 on cuda"
    if model.dtype == "bfloat16":
        return "bfloat16", "model.dtype=bfloat16 on cuda"
    return "float32", "model.dtype=float32 without mixed precision on cuda"


def engine_dtype(cfg: Config, device_type: str) -> EngineDtype:
    """The dtype the configured rollout engine computes in, and why."""
    trainer, why = trainer_compute_dtype(cfg.model, device_type)
    spec = ROLLOUT_ENGINES[cfg.rollout.engine]
    if spec.dtype_key is None:  # it runs the actor's parameters as they are
        params = "bfloat16" if device_type == "cuda" and cfg.model.dtype == "bfloat16" else "float32"
        return EngineDtype(params, trainer, f"the {cfg.rollout.engine} engine runs the actor's {params} parameters; "
                                            f"the trainer computes in {trainer} ({why})")
    key = spec.dtype_key
    requested = _config_value(cfg, key)
    if requested == FOLLOW_TRAINER:
        return EngineDtype(trainer, trainer, f"{key}=trainer: the trainer computes in {trainer} ({why})")
    same = "the trainer computes in it too" if requested == trainer else f"the trainer computes in {trainer} ({why})"
    return EngineDtype(requested, trainer, f"{key}={requested} set explicitly; {same}")


def _config_value(cfg: Config, dotted: str) -> str:
    value = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value
