"""`VLLMEngineConfig`: the options of the vLLM rollout engine (the trainer's config embeds it).

Plain data, no vLLM import: the trainer can build and validate it on a machine without vLLM.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VLLM_DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class VLLMEngineConfig:
    """Options passed to `vllm.LLM` (one in-process engine per trainer rank).

    gpu_memory_utilization: fraction of GPU memory vLLM may take (weights + KV cache), in (0, 1];
    max_model_len: longest prompt + response in tokens (None: the model's own limit);
    enforce_eager: no CUDA graphs / torch.compile (needed on CPU; slower but simpler on GPU);
    dtype: "auto" (the checkpoint's dtype), "float32", "float16" or "bfloat16";
    tensor_parallel_size: GPUs per engine (1 = data-parallel rollouts, one engine per rank);
    seed: vLLM's engine seed (per-request seeds come from `SamplingParams.seed`);
    enable_prefix_caching: reuse KV blocks of shared prompt prefixes (weight sync resets it);
    enable_sleep_mode: allow `sleep()` / `wake_up()` to free GPU memory during training (GPU only);
    sleep_level: 1 = offload weights to CPU and drop the KV cache, 2 = drop both;
    cpu_kvcache_space_gib: KV cache size on CPU (sets VLLM_CPU_KVCACHE_SPACE when unset);
    in_process: run the engine core in this process (sets VLLM_ENABLE_V1_MULTIPROCESSING=0 when
        unset), so weight sync passes tensors without serialising them;
    allow_truncated_logprobs: with top_p < 1 vLLM can only report log-probs of the truncated,
        renormalised distribution, not the untruncated ones of `rollout/types.py`; False
        (default) makes such a `generate` call raise instead of returning them;
    distributed_executor_backend: passed through (e.g. "external_launcher" under torchrun with TP);
    extra: further keyword arguments for `vllm.LLM`, verbatim.
    """

    gpu_memory_utilization: float = 0.5
    max_model_len: int | None = None
    enforce_eager: bool = True
    dtype: str = "auto"
    tensor_parallel_size: int = 1
    seed: int = 0
    enable_prefix_caching: bool = True
    enable_sleep_mode: bool = False
    sleep_level: int = 1
    cpu_kvcache_space_gib: int = 1
    in_process: bool = True
    allow_truncated_logprobs: bool = False
    distributed_executor_backend: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.gpu_memory_utilization, (int, float)) and 0 < self.gpu_memory_utilization <= 1):
            raise ValueError("VLLMEngineConfig: `gpu_memory_utilization` must be in (0, 1], "
                             f"got {self.gpu_memory_utilization!r}")
        if self.max_model_len is not None and (not isinstance(self.max_model_len, int) or self.max_model_len < 2):
            raise ValueError(f"VLLMEngineConfig: `max_model_len` must be None or an int >= 2, got {self.max_model_len!r}")
        if self.dtype not in VLLM_DTYPES:
            raise ValueError(f"VLLMEngineConfig: `dtype` must be one of {VLLM_DTYPES}, got {self.dtype!r}")
        if not isinstance(self.tensor_parallel_size, int) or self.tensor_parallel_size < 1:
            raise ValueError("VLLMEngineConfig: `tensor_parallel_size` must be an int >= 1, "
                             f"got {self.tensor_parallel_size!r}")
        if self.sleep_level not in (1, 2):
            raise ValueError(f"VLLMEngineConfig: `sleep_level` must be 1 or 2, got {self.sleep_level!r}")
        if not isinstance(self.cpu_kvcache_space_gib, int) or self.cpu_kvcache_space_gib < 1:
            raise ValueError("VLLMEngineConfig: `cpu_kvcache_space_gib` must be an int >= 1, "
                             f"got {self.cpu_kvcache_space_gib!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"VLLMEngineConfig: `seed` must be an int, got {self.seed!r}")

    def llm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `vllm.LLM(model, **kwargs)` (log-prob mode fixed, see vllm_engine.py)."""
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
