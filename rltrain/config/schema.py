"""The trainer's configuration: typed dataclasses, one per section of the YAML file.

Every field has a default; `configs/builtin.yaml` spells out the built-in task. Types are
enforced by `rltrain.config.loader` (unknown keys and wrong types name the dotted key);
`validate` checks combinations across sections before any model is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from rltrain.models.tiny import TinyModelConfig

MAX_STEP_DELIMITER_BYTES = 11  # kernels.step_delimiter.MAX_STATES - 1 (tests/test_config_errors.py checks)


@dataclass
class RunConfig:
    """out_dir: run directory (metrics, checkpoints, export); iterations: PPO iterations;
    save_every: checkpoint period in iterations (0 = only at the end / on SIGTERM);
    keep_last: checkpoints kept; resume: continue from the newest checkpoint in out_dir;
    stop_after: stop (saving a checkpoint) after this many iterations of this process,
    as a scheduler's time limit would (0 = no limit); export_hf: write the actor in Hugging Face
    format at the end; eval_every: greedy / sampling success on held-out problems every k
    iterations (0 = only at start and end)."""

    out_dir: str = "runs/builtin"
    seed: int = 0
    iterations: int = 30
    save_every: int = 0
    keep_last: int = 2
    resume: bool = False
    stop_after: int = 0
    export_hf: bool = True
    eval_every: int = 0
    eval_problems: int = 128
    progress: bool = True
    tensorboard: bool = True


@dataclass
class ModelConfig:
    """policy: "builtin" (tiny model + tokenizer built at start) or a local path / Hub id;
    tiny: the built-in model's sizes (rltrain.models.tiny.TinyModelConfig); tiny_vocab_size:
    the built-in tokenizer's BPE vocabulary size;
    critic_init: "actor" or a path to a reward model checkpoint for the critic's backbone;
    dtype: parameter dtype on GPU ("float32" on CPU always); mixed_precision: bf16 compute
    with FSDP2 on GPU; cpu_offload: FSDP2 CPUOffloadPolicy; attn_implementation: "sdpa",
    "flash_attention_2" or "eager"."""

    policy: str = "builtin"
    critic_init: str = "actor"
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)
    tiny_vocab_size: int = 512
    dtype: Literal["float32", "bfloat16"] = "float32"
    mixed_precision: bool = True
    gradient_checkpointing: bool = False
    cpu_offload: bool = False
    attn_implementation: str = "sdpa"


@dataclass
class ArithmeticTask:
    min_ops: int = 2
    max_ops: int = 3
    max_operand: int = 9
    max_factor: int = 3


@dataclass
class DataConfig:
    """dataset: "arithmetic" (built-in generator) or "gsm8k" / "math" / "math500" with
    source: a local JSONL path or Hub id (see rltrain.data.loaders); limit: problems used
    (0 = all); instruction: the step-by-step instruction in the prompt (None = default)."""

    dataset: Literal["arithmetic", "gsm8k", "math", "math500"] = "arithmetic"
    source: Optional[str] = None
    split: str = "train"
    limit: int = 0
    eval_split: str = "test"
    arithmetic: ArithmeticTask = field(default_factory=ArithmeticTask)
    instruction: Optional[str] = None
    max_prompt_tokens: int = 512


@dataclass
class WarmupSFT:
    """Supervised warm-up on reference solutions before RL (built-in task only; 0 = off)."""

    steps: int = 0
    lr: float = 3e-3
    batch_size: int = 32


@dataclass
class RolloutConfig:
    """engine: "builtin" (transformers generate) or "vllm" (rltrain.rollout.vllm_engine);
    prompts: prompts per iteration over all ranks; n: samples per prompt;
    sampler_logprob_gap_warn: warn once when the metric `sampler_logprob_gap` exceeds it (null: 0.01
    when the trainer computes in float32, 0.05 in bfloat16; see rltrain.metrics.sampler_gap)."""

    engine: Literal["builtin", "vllm"] = "builtin"
    prompts: int = 32
    n: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    token_budget: int = 16384
    gpu_memory_utilization: float = 0.5
    sampler_logprob_gap_warn: Optional[float] = None
    vllm: "VLLMOptions" = field(default_factory=lambda: VLLMOptions())


@dataclass
class VLLMOptions:
    """Engine options for rollout.engine=vllm (see rltrain.rollout.vllm_config.VLLMEngineConfig):
    max_model_len (null: the model's limit), enforce_eager, dtype ("trainer": the dtype the trainer
    computes log-probs in, see rltrain.rollout.engine_dtype; or explicitly "auto" = vLLM's choice
    from the checkpoint, "float32", "float16", "bfloat16"), tensor_parallel_size, enable_sleep_mode
    (free GPU memory during training), bucket_mb: weight-sync bucket size (full tensors gathered
    from FSDP2 per reload call)."""

    max_model_len: Optional[int] = None
    enforce_eager: bool = True
    dtype: Literal["trainer", "auto", "float32", "float16", "bfloat16"] = "trainer"
    tensor_parallel_size: int = 1
    enable_sleep_mode: bool = False
    bucket_mb: int = 512


@dataclass
class RewardConfig:
    """success: reward of a correct final answer (truncated responses get 0);
    prm: "none", "rule" (the built-in step checker) or a PRM path / Hub id loaded through
    rltrain.rewards.factory; orm likewise ("none" or a path); shaping, eta, prm_coef: as in
    kernels.fused_reward_gae; orm_coef: outcome = success + orm_coef * ORM score;
    scorer_module: the module in rltrain.rewards with load_prm / load_orm for learned scorers."""

    success: float = 1.0
    prm: str = "none"
    orm: str = "none"
    scorer_module: str = "scorers"
    shaping: Literal["none", "clip", "delta", "clip_delta"] = "clip_delta"
    eta: float = 0.0
    prm_coef: float = 1.0
    orm_coef: float = 0.0
    step_delimiter: str = "\n\n"  # 1 to MAX_STEP_DELIMITER_BYTES UTF-8 bytes


@dataclass
class KLConfig:
    """coef: KL penalty in the token reward; adaptive: Ziegler et al.'s controller toward
    target over horizon samples; loss_coef: k3 KL term in the policy loss instead."""

    coef: float = 0.0
    adaptive: bool = False
    target: float = 0.1
    horizon: int = 10000
    loss_coef: float = 0.0


@dataclass
class PPOConfig:
    """epochs over the batch; micro_tokens: token budget of a micro-batch (padded tokens);
    mini_batches: optimizer steps per epoch; value clip, loss coefs, AdamW and warm-up."""

    epochs: int = 1
    mini_batches: int = 1
    micro_tokens: int = 8192
    clip_low: float = 0.2
    clip_high: float = 0.2
    dual_clip: Optional[float] = None
    value_clip: float = 0.2
    vf_coef: float = 1.0
    entropy_coef: float = 0.0
    gamma: float = 1.0
    lam: float = 0.95
    actor_lr: float = 1e-6
    critic_lr: float = 5e-6
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    whiten_advantages: bool = True


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    warmup: WarmupSFT = field(default_factory=WarmupSFT)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    kl: KLConfig = field(default_factory=KLConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
