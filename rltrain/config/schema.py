"""The trainer's configuration: one frozen pydantic model per section of the YAML file.

Sections owned by a component are that component's own model (`data.arithmetic`: the task's
`ArithmeticConfig`, `model.tiny`: `TinyModelConfig`, `warmup`: `WarmupConfig`, `rollout.vllm`:
`VLLMEngineConfig`, `grading`: `GradingConfig`); the rest live here. Field constraints hold
the ranges, model validators the rules across fields. Nothing here imports torch.
"""
from __future__ import annotations

import os
import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, field_validator, model_validator

from rltrain_kernels.options import MAX_STEP_DELIMITER_BYTES, SHAPING_MODES
from rltrain.config.base import FiniteFloat, StrictModel, require
from rltrain.config.engines import ENGINES, ROLLOUT_ENGINES
from rltrain.config.estimators import EstimatorConfig, GAEEstimator
from rltrain.config.grading import GradingConfig
from rltrain.config.reward_formats import ORM_FORMATS, PRM_FORMATS
from rltrain.config.reward_scoring import (DEFAULT_IMPLICIT_BETA, SCALAR_HEADS,
                                          RewardScoringConfig)
from rltrain.config.tiny_model import TinyModelConfig
from rltrain.config.vllm import VLLMEngineConfig
from rltrain.config.arithmetic import ArithmeticConfig
from rltrain.config.warmup import WarmupConfig

MIN_VLLM_HEAD_DIM = 32
_LITERAL_ESCAPE = re.compile(r"\\[nt]")
# A local path or a name (Hub id, "builtin", "none"); a leading ~ is expanded as a shell would.
Source = Annotated[str, AfterValidator(os.path.expanduser)]


class RunConfig(StrictModel):
    """Where the run writes, how long it runs, when it saves and evaluates."""

    out_dir: Source = Field("runs/builtin", min_length=1,
                         description="run directory: metrics.jsonl, checkpoints, config.yaml, hf_actor")
    seed: int = Field(0, ge=0, lt=2**31, description="seed of every RNG (rank r adds r)")
    iterations: int = Field(30, ge=1, description="PPO iterations in total (a resumed run continues to it)")
    save_every: int = Field(0, ge=0, description="checkpoint period, in iterations (0 = at the end / on SIGTERM)")
    keep_last: int = Field(2, ge=1, description="checkpoints kept")
    resume: bool = Field(False, description="continue from the newest checkpoint in out_dir")
    stop_after: int = Field(0, ge=0, description="stop with a checkpoint after this many iterations of this "
                                                 "process, as a scheduler's time limit would (0 = no limit)")
    export_hf: bool = Field(True, description="write the actor in Hugging Face format to out_dir/hf_actor")
    eval_every: int = Field(0, ge=0, description="held-out evaluation period, in iterations (0 = start and end)")
    eval_problems: int = Field(128, ge=1, description="held-out problems per evaluation")
    progress: bool = Field(True, description="tqdm progress bar on rank 0")
    tensorboard: bool = Field(True, description="also log to TensorBoard (when installed)")


class ModelConfig(StrictModel):
    """The policy, the critic's initialisation and how the trainer holds them."""

    policy: Source = Field("builtin", min_length=1,
                        description="builtin (tiny model + tokenizer built at start), a local folder or a Hub id")
    critic_init: Source = Field("actor", min_length=1,
                             description="actor, or a local folder / Hub id whose backbone initialises the critic")
    allow_download: bool = Field(False, description="fetch Hub ids in model.policy / model.critic_init")
    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig, description="sizes of the built-in model")
    tiny_vocab_size: int = Field(512, ge=259, description="built-in BPE vocabulary, in tokens (256 bytes + 3 special)")
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="parameter dtype on GPU (CPU: float32)")
    mixed_precision: bool = Field(True, description="FSDP2 bf16 compute on GPU")
    gradient_checkpointing: bool = Field(False, description="recompute activations in the backward pass")
    cpu_offload: bool = Field(False, description="FSDP2 CPUOffloadPolicy")
    attn_implementation: str = Field("sdpa", min_length=1,
                                     description="sdpa, eager, flash_attention_2, flash_attention_3, flex_attention "
                                                 "or a Hub kernel id (org/name)")
    pack_sequences: bool = Field(True, description="padding-free forwards of actor, critic and reference: each "
                                 "micro-batch's rows packed into one sequence with varlen attention (flash-attention's, "
                                 "else per-row SDPA); ppo.micro_tokens then counts real tokens")

    @field_validator("attn_implementation")
    @classmethod
    def _known_attention(cls, value: str) -> str:
        known = ("sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")
        if value not in known and "/" not in value:
            raise ValueError(f"must be one of {known} or a Hub kernel id (org/name), got {value!r}")
        return value

    @model_validator(mode="after")
    def _vllm_loadable(self) -> "ModelConfig":
        require(self.tiny.head_dim >= MIN_VLLM_HEAD_DIM, "tiny.num_attention_heads",
                f"head_dim = hidden_size / num_attention_heads must be >= {MIN_VLLM_HEAD_DIM} (vLLM-loadable), "
                f"got {self.tiny.hidden_size} / {self.tiny.num_attention_heads}")
        return self


class DataConfig(StrictModel):
    """Training and held-out problems, and how prompts are made from them."""

    dataset: Literal["arithmetic", "gsm8k", "math", "math500"] = Field(
        "arithmetic", description="arithmetic = the built-in generator; else read from data.source")
    source: Optional[Source] = Field(None, min_length=1,
                                  description="JSONL file, folder of <split>.jsonl, or hub:<repo>[@config]")
    split: str = Field("train", min_length=1, description="training split")
    limit: int = Field(0, ge=0, description="training problems used (0 = all)")
    eval_split: str = Field("test", min_length=1, description="held-out split")
    arithmetic: ArithmeticConfig = Field(default_factory=ArithmeticConfig, description="the built-in task")
    instruction: Optional[str] = Field(None, description="step-by-step instruction in the prompt (null = default)")
    max_prompt_tokens: int = Field(512, ge=1, description="longest prompt, in tokens; longer ones keep their end")


class RolloutConfig(StrictModel):
    """Sampling responses: which engine, how many, how long."""

    engine: Literal[ENGINES] = Field(  # type: ignore[valid-type]
        "builtin", description="; ".join(f"{name}: {spec.description}" for name, spec in ROLLOUT_ENGINES.items()))
    prompts: int = Field(32, ge=1, description="prompts per iteration over all ranks (divisible by the world size)")
    n: int = Field(4, ge=1, description="responses per prompt")
    temperature: FiniteFloat = Field(1.0, gt=0, description="sampling temperature (PPO needs sampling)")
    top_p: FiniteFloat = Field(1.0, gt=0, le=1, description="nucleus sampling mass")
    max_new_tokens: int = Field(64, ge=1, description="longest response, in tokens")
    token_budget: int = Field(16384, ge=1, description="padded tokens (prompt + response) per built-in "
                                                       "generate batch")
    sampler_logprob_gap_warn: Optional[FiniteFloat] = Field(
        None, ge=0, description="warn once above this mean |log-prob| gap per token (null: 0.01 in float32, "
                                "0.05 in bfloat16)")
    vllm: VLLMEngineConfig = Field(default_factory=VLLMEngineConfig, description="the vLLM engine")


class RewardConfig(StrictModel):
    """Success reward, reward models and the shaping of the PRM's step scores."""

    success: FiniteFloat = Field(1.0, description="reward of a correct final answer (truncated responses get 0)")
    prm: Source = Field("none", min_length=1,
                        description="none, rule (the built-in step checker), or a PRM folder / Hub id")
    orm: Source = Field("none", min_length=1, description="none, or an ORM folder / Hub id")
    prm_format: Literal[("auto",) + PRM_FORMATS] = Field(  # type: ignore[valid-type]
        "auto", description="layout of the reward.prm folder (auto: detected from its files; implicit is never "
                            "detected); docs/reward_models.md")
    orm_format: Literal[("auto",) + ORM_FORMATS] = Field(  # type: ignore[valid-type]
        "auto", description="layout of the reward.orm folder (auto: detected from its files)")
    implicit_reference: Optional[Source] = Field(None, min_length=1,
                                                 description="reference LM folder / Hub id of an implicit PRM "
                                                             "(reward.prm_format=implicit)")
    implicit_beta: FiniteFloat = Field(DEFAULT_IMPLICIT_BETA, gt=0,
                                       description="implicit PRM: step score = beta * sum of log-ratios over the step")
    scalar_head: Literal[SCALAR_HEADS] = Field(  # type: ignore[valid-type]
        "sigmoid", description="score of a 1-label classification head: sigmoid (in (0, 1)) or raw (the logit, "
                               "e.g. a Bradley-Terry ORM)")
    scoring: RewardScoringConfig = Field(default_factory=RewardScoringConfig,
                                         description="how learned reward models run")
    allow_download: bool = Field(False, description="fetch Hub ids in reward.prm / reward.orm")
    scorer_module: str = Field("scorers", pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$",
                               description="module in rltrain.rewards with load_prm / load_orm")
    shaping: Literal[SHAPING_MODES] = Field(  # type: ignore[valid-type]
        "clip_delta", description="PRM shaping (DESIGN.md): clip = min(s - eta, 0); delta = differences; "
                                  "min_form = the return from a step is the lowest score at or after it")
    eta: FiniteFloat = Field(0.0, description="Clip threshold, in PRM score units")
    prm_coef: FiniteFloat = Field(1.0, ge=0, description="weight of the shaped step rewards")
    orm_coef: FiniteFloat = Field(0.0, description="outcome = success + orm_coef * ORM score")
    step_delimiter: str = Field("\n\n", description="text that ends a step, however the tokens split it (a longer "
                                                    "run of a repeated character is one delimiter); 1 to "
                                                    f"{MAX_STEP_DELIMITER_BYTES} UTF-8 bytes; overrides read "
                                                    "\\n, \\t, \\\\ escapes")

    @field_validator("step_delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        size = len(value.encode("utf-8"))
        if not 0 < size <= MAX_STEP_DELIMITER_BYTES:
            raise ValueError(f"must be 1 to {MAX_STEP_DELIMITER_BYTES} UTF-8 bytes (the step kernels' automaton), "
                             f"got {value!r}")
        if _LITERAL_ESCAPE.search(value):
            raise ValueError(f"holds a backslash escape as text, got {value!r}; in YAML write it double-quoted "
                             '("\\n\\n") to mean newlines')
        return value

    @model_validator(mode="after")
    def _orm_weight(self) -> "RewardConfig":
        require(self.orm != "none" or self.orm_coef == 0.0, "orm_coef",
                f"is {self.orm_coef} but reward.orm is 'none'")
        return self

    @model_validator(mode="after")
    def _formats(self) -> "RewardConfig":
        require(self.prm_format == "auto" or self.prm not in ("none", "rule"), "prm_format",
                f"is {self.prm_format!r} but reward.prm is {self.prm!r} (no learned PRM)")
        require(self.orm_format == "auto" or self.orm != "none", "orm_format",
                f"is {self.orm_format!r} but reward.orm is 'none'")
        implicit = self.prm_format == "implicit"
        require(not implicit or self.implicit_reference is not None, "implicit_reference",
                "an implicit PRM (reward.prm_format=implicit) needs its reference LM folder")
        require(implicit or self.implicit_reference is None, "implicit_reference",
                f"is set but reward.prm_format is {self.prm_format!r}; it is read only with prm_format=implicit")
        return self


class KLConfig(StrictModel):
    """KL regularisation toward the reference policy."""

    coef: FiniteFloat = Field(0.0, ge=0, description="KL penalty per token in the reward")
    adaptive: bool = Field(False, description="Ziegler et al.'s controller moves coef toward target")
    target: FiniteFloat = Field(0.1, description="KL the adaptive controller aims at, in nats per token")
    horizon: int = Field(10000, description="adaptive controller horizon, in samples")
    loss_coef: FiniteFloat = Field(0.0, ge=0, description="k3 KL term in the policy loss instead")

    @model_validator(mode="after")
    def _controller(self) -> "KLConfig":
        require(not self.adaptive or (self.target > 0 and self.horizon > 0), "target",
                f"the adaptive controller needs kl.target > 0 and kl.horizon > 0, got {self.target}, {self.horizon}")
        require(not self.adaptive or self.coef > 0, "adaptive", "needs a starting kl.coef > 0")
        return self


class PPOConfig(StrictModel):
    """PPO epochs, batching, clipping, losses, the advantage estimator and the optimizers."""

    estimator: EstimatorConfig = Field(  # type: ignore[valid-type]
        default_factory=GAEEstimator, description="advantages: gae (a critic) or critic-free grpo, rloo, "
        "reinforce_pp (no critic is built, trained or saved; docs/estimators.md); a name, or a mapping with "
        "`type` and that estimator's options")
    epochs: int = Field(1, ge=1, description="passes over each iteration's batch")
    mini_batches: int = Field(1, ge=1, description="optimizer steps per epoch")
    micro_tokens: int = Field(8192, ge=1, description="tokens per micro-batch (real tokens "
                             "with model.pack_sequences, else padded)")
    clip_low: FiniteFloat = Field(0.2, ge=0, lt=1, description="ratio clip below: 1 - clip_low")
    clip_high: FiniteFloat = Field(0.2, ge=0, description="ratio clip above: 1 + clip_high")
    dual_clip: Optional[FiniteFloat] = Field(None, gt=1, description="dual-clip bound c for negative advantages "
                                                                     "(null = off)")
    entropy_coef: FiniteFloat = Field(0.0, description="entropy bonus weight (loss -= coef * entropy)")
    gamma: FiniteFloat = Field(1.0, ge=0, le=1, description="discount per token")
    actor_lr: FiniteFloat = Field(1e-6, gt=0, description="actor AdamW learning rate")
    weight_decay: FiniteFloat = Field(0.0, ge=0, description="AdamW weight decay")
    warmup_steps: int = Field(0, ge=0, description="linear learning-rate warm-up, in optimizer steps")
    max_grad_norm: FiniteFloat = Field(1.0, gt=0, description="gradient clipping, global L2 norm")


class Config(StrictModel):
    """The whole run; `configs/builtin.yaml` spells out the built-in task."""

    run: RunConfig = Field(default_factory=RunConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    warmup: WarmupConfig = Field(default_factory=WarmupConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    kl: KLConfig = Field(default_factory=KLConfig)
    ppo: PPOConfig = Field(default_factory=PPOConfig)
    grading: GradingConfig = Field(default_factory=GradingConfig)

    @model_validator(mode="after")
    def _across_sections(self) -> "Config":
        m, d, ro = self.model, self.data, self.rollout
        builtin = m.policy == "builtin"
        require(builtin == (d.dataset == "arithmetic"), "data.dataset",
                "the built-in model (model.policy=builtin) goes with data.dataset=arithmetic and a real "
                f"model with a real dataset; got policy={m.policy!r}, dataset={d.dataset!r}")
        require(builtin or d.source is not None, "data.source", f"needed for data.dataset={d.dataset!r}")
        require(builtin or self.warmup.steps == 0, "warmup.steps",
                "the supervised warm-up is for the built-in task only")
        require(self.reward.prm != "rule" or d.dataset == "arithmetic", "reward.prm",
                "the rule-based step checker only understands the built-in arithmetic task")
        est = self.ppo.estimator
        require(est.critic or not est.spec.grouped or ro.n >= 2, "ppo.estimator",
                f"{est.type} compares the rollout.n samples of a prompt; needs rollout.n >= 2, got {ro.n}")
        require(self.ppo.mini_batches <= ro.prompts * ro.n, "ppo.mini_batches",
                f"{self.ppo.mini_batches} exceeds the samples per iteration "
                f"(rollout.prompts * rollout.n = {ro.prompts * ro.n})")
        longest = d.max_prompt_tokens + ro.max_new_tokens
        require(not builtin or m.tiny.max_position_embeddings >= longest, "model.tiny.max_position_embeddings",
                f"{m.tiny.max_position_embeddings} is shorter than the longest sequence, data.max_prompt_tokens + "
                f"rollout.max_new_tokens = {longest} tokens; raise it or lower those")
        return self
