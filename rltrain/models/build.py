"""Build the trainer's models from the config and an initial policy: actor, critic, reference,
rollout copy.

The initial policy is `pretrained_policy` (a local path or, with model.allow_download, a Hub id:
downloaded at run time only, never in tests or at import) or the built-in task's
(`rltrain.tasks.builtin.builtin_policy`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rltrain.config.engines import ROLLOUT_ENGINES
from rltrain.config.schema import Config
from rltrain.models.heads import CriticModule, PolicyModule
from rltrain.models.sharding import shard_module


@dataclass
class InitialPolicy:
    """The causal LM training starts from, its tokenizer, and the supervised warm-up losses that
    made it (empty when none ran here)."""

    lm: nn.Module
    tokenizer: object
    warmup_losses: list[float]


@dataclass
class TrainerModels:
    """actor / critic / reference: FSDP2-sharded modules (critic None for the critic-free
    estimators, ppo.estimator.type != gae); rollout_lm: an unsharded copy of the actor's causal LM for
    the built-in engine (None with vLLM); tokenizer."""

    actor: PolicyModule
    critic: CriticModule | None
    reference: PolicyModule
    rollout_lm: nn.Module | None
    tokenizer: object
    warmup_losses: list[float]


def _from_pretrained(cls_name: str, path: str, dtype: torch.dtype, attn: str, allow_download: bool):
    import transformers

    cls = getattr(transformers, cls_name)
    local = Path(path).exists() or not allow_download
    return cls.from_pretrained(path, dtype=dtype, local_files_only=local, attn_implementation=attn)


def _critic(cfg: Config, lm: nn.Module, dtype: torch.dtype, device: torch.device) -> CriticModule:
    """A value head on a copy of the policy's backbone (model.critic_init=actor) or on another model's."""
    m = cfg.model
    if m.critic_init == "actor":
        backbone = copy.deepcopy(lm.model)
    else:
        backbone = _from_pretrained("AutoModel", m.critic_init, dtype, m.attn_implementation,
                                    m.allow_download).to(device)
    return CriticModule(backbone, backbone.config.hidden_size, packed=m.pack_sequences).to(device=device, dtype=dtype)


def model_dtype(cfg: Config, device: torch.device) -> torch.dtype:
    """bfloat16 on a GPU when model.dtype says so, float32 otherwise."""
    return torch.bfloat16 if (device.type == "cuda" and cfg.model.dtype == "bfloat16") else torch.float32


def pretrained_policy(cfg: Config, device: torch.device) -> InitialPolicy:
    """model.policy's causal LM and tokenizer (a local folder, or a Hub id with model.allow_download)."""
    from transformers import AutoTokenizer

    m = cfg.model
    lm = _from_pretrained("AutoModelForCausalLM", m.policy, model_dtype(cfg, device), m.attn_implementation,
                          m.allow_download)
    tok = AutoTokenizer.from_pretrained(m.policy, local_files_only=Path(m.policy).exists() or not m.allow_download)
    return InitialPolicy(lm, tok, [])


def build_models(cfg: Config, policy: InitialPolicy, device: torch.device) -> TrainerModels:
    m = cfg.model
    dtype = model_dtype(cfg, device)
    lm, tok, losses = policy.lm, policy.tokenizer, policy.warmup_losses
    if lm.config._attn_implementation != m.attn_implementation:  # the built-in model is built with sdpa
        lm.set_attn_implementation(m.attn_implementation)
    lm = lm.to(device=device, dtype=dtype)
    rollout_lm = copy.deepcopy(lm).eval() if ROLLOUT_ENGINES[cfg.rollout.engine].rollout_copy else None
    ref_lm = copy.deepcopy(lm).eval()
    for p in ref_lm.parameters():
        p.requires_grad_(False)
    critic = _critic(cfg, lm, dtype, device) if cfg.ppo.estimator.critic else None
    if m.gradient_checkpointing:
        for module in (lm,) + ((critic.backbone,) if critic is not None else ()):
            enable = getattr(module, "activation_checkpointing_enable", None) or module.gradient_checkpointing_enable
            enable()
    lm.train()
    shard = dict(device=device, mixed_precision=m.mixed_precision, cpu_offload=m.cpu_offload)
    actor = shard_module(PolicyModule(lm, packed=m.pack_sequences), **shard)
    if critic is not None:
        critic.train()
        critic = shard_module(critic, **shard)
    reference = shard_module(PolicyModule(ref_lm, packed=m.pack_sequences), **shard)
    return TrainerModels(actor, critic, reference, rollout_lm, tok, losses)
