"""`VLLMEngineConfig`: the options of the vLLM rollout engine; the trainer's config embeds it as
`rollout.vllm`.

Plain data, no vLLM or torch import: the trainer can build and validate it on a machine without vLLM.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from rltrain.config.base import FiniteFloat, StrictModel

FOLLOW_TRAINER = "trainer"
VLLM_DTYPES = ("auto", "float32", "float16", "bfloat16")


class VLLMEngineConfig(StrictModel):
    """Options passed to `vllm.LLM` (one in-process engine per trainer rank), plus the trainer's
    weight-sync bucket size. dtype "trainer" is resolved to the trainer's compute dtype by
    `rltrain.rollout.factory.vllm_engine_config`; an engine built directly needs an explicit dtype."""

    gpu_memory_utilization: FiniteFloat = Field(
        0.5, gt=0, le=1, description="fraction of GPU memory vLLM may take (weights + KV cache)")
    max_model_len: Optional[int] = Field(
        None, ge=2, description="longest prompt + response, in tokens (null: the model's own limit)")
    enforce_eager: bool = Field(True, description="no CUDA graphs / torch.compile (needed on CPU)")
    dtype: Literal["trainer", "auto", "float32", "float16", "bfloat16"] = Field(
        FOLLOW_TRAINER, description="engine dtype: trainer = the dtype the trainer computes log-probs in "
                                    "(rltrain.rollout.engine_dtype); auto = vLLM's choice from the checkpoint")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per engine (1 = one engine per trainer rank)")
    seed: int = Field(0, description="vLLM's engine seed (sampling seeds are per request, from run.seed)")
    enable_prefix_caching: bool = Field(True, description="reuse KV blocks of shared prompt prefixes")
    enable_sleep_mode: bool = Field(False, description="free the engine's GPU memory during training (GPU only)")
    sleep_level: Literal[1, 2] = Field(1, description="1 = offload weights to CPU and drop the KV cache, 2 = drop both")
    cpu_kvcache_space_gib: int = Field(
        1, ge=1, description="KV cache size on CPU, in GiB (sets VLLM_CPU_KVCACHE_SPACE when unset)")
    in_process: bool = Field(
        True, description="run the engine core in this process (sets VLLM_ENABLE_V1_MULTIPROCESSING=0 when unset)")
    allow_truncated_logprobs: bool = Field(
        False, description="accept log-probs of the top_p-truncated distribution (top_p < 1) instead of raising")
    distributed_executor_backend: Optional[str] = Field(
        None, description="passed through to vllm.LLM (e.g. external_launcher under torchrun with TP)")
    extra: dict[str, Any] = Field(default_factory=dict, description="further vllm.LLM keyword arguments, verbatim")
    bucket_mb: int = Field(
        512, ge=1, description="trainer -> engine weight-sync bucket, in MiB (whole decoder layers per reload)")

    def llm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `vllm.LLM(model, **kwargs)` (log-prob mode fixed, see vllm_engine.py)."""
        if self.dtype == FOLLOW_TRAINER:
            raise ValueError("VLLMEngineConfig: `dtype` 'trainer' is resolved by "
                             "rltrain.rollout.factory.vllm_engine_config; pass an explicit dtype "
                             f"{VLLM_DTYPES} to build an engine directly")
        kwargs: dict[str, Any] = dict(
            gpu_memory_utilization=self.gpu_memory_utilization,
            enforce_eager=self.enforce_eager,
            dtype=self.dtype,
            tensor_parallel_size=self.tensor_parallel_size,
            seed=self.seed,
            enable_prefix_caching=self.enable_prefix_caching,
            enable_sleep_mode=self.enable_sleep_mode,
            logprobs_mode="processed_logprobs",
        )
        if self.max_model_len is not None:
            kwargs["max_model_len"] = self.max_model_len
        if self.distributed_executor_backend is not None:
            kwargs["distributed_executor_backend"] = self.distributed_executor_backend
        kwargs.update(self.extra)
        return kwargs
