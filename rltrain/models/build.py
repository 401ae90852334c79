"""Build the trainer's models from the config: actor, critic, reference, rollout copy.

The built-in policy is the tiny model + tokenizer of `rltrain.tasks.builtin`, warmed up
with supervised steps at first start and saved to `<run_dir>/init_model` (so a resumed run
and the reference model see the same initial weights). A real policy is a local path or,
with model.allow_download, a Hub id (downloaded at run time only, never in tests or at import).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rltrain.config.schema import Config
from rltrain.models.heads import CriticModule, PolicyModule
from rltrain.models.sharding import shard_module


@dataclass
class TrainerModels:
    """actor / critic / reference: FSDP2-sharded modules (critic None for the critic-free
    estimators, ppo.estimator != gae); rollout_lm: an unsharded copy of the actor's causal LM for
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


def _builtin_policy(cfg: Config, run_dir: Path, is_main: bool):
    """(lm, tokenizer, warm-up losses): from <run_dir>/init_model if present, else built + warmed up."""
    from rltrain.models.tiny import load_tiny, save_tiny
    from rltrain.tasks.builtin import build_task_model, build_task_tokenizer, supervised_warmup

    init_dir = run_dir / "init_model"
    exists = (init_dir / "config.json").is_file()
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # every rank decides before rank 0 may write init_model
    if exists:
        lm, tok = load_tiny(init_dir)
        return lm, tok, []
    task = cfg.data.arithmetic
    tok = build_task_tokenizer(task, cfg.model.tiny_vocab_size)
    lm = build_task_model(tok, cfg.model.tiny, cfg.run.seed)
    losses = supervised_warmup(lm, tok, task, cfg.warmup, seed=cfg.run.seed + 7) if cfg.warmup.steps else []
    if is_main:
        tmp = run_dir / "init_model.tmp"
        save_tiny(lm, tok, tmp)
        tmp.rename(init_dir)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # init_model exists for every rank (a vLLM engine loads it)
    return lm, tok, losses


def _critic(cfg: Config, lm: nn.Module, dtype: torch.dtype, device: torch.device) -> CriticModule:
    """A value head on a copy of the policy's backbone (model.critic_init=actor) or on another model's."""
    m = cfg.model
    if m.critic_init == "actor":
        backbone = copy.deepcopy(lm.model)
    else:
        backbone = _from_pretrained("AutoModel", m.critic_init, dtype, m.attn_implementation,
                                    m.allow_download).to(device)
    return CriticModule(backbone, backbone.config.hidden_size, packed=m.pack_sequences).to(device=device, dtype=dtype)


def build_models(cfg: Config, run_dir: Path, device: torch.device, is_main: bool) -> TrainerModels:
    m = cfg.model
    dtype = torch.bfloat16 if (device.type == "cuda" and m.dtype == "bfloat16") else torch.float32
    if m.policy == "builtin":
        lm, tok, losses = _builtin_policy(cfg, run_dir, is_main)
    else:
        from transformers import AutoTokenizer

        lm = _from_pretrained("AutoModelForCausalLM", m.policy, dtype, m.attn_implementation, m.allow_download)
        tok = AutoTokenizer.from_pretrained(m.policy, local_files_only=Path(m.policy).exists() or not m.allow_download)
        losses = []
    if lm.config._attn_implementation != m.attn_implementation:  # the built-in model is built with sdpa
        lm.set_attn_implementation(m.attn_implementation)
    lm = lm.to(device=device, dtype=dtype)
    rollout_lm = copy.deepcopy(lm).eval() if cfg.rollout.engine == "builtin" else None
    ref_lm = copy.deepcopy(lm).eval()
    for p in ref_lm.parameters():
        p.requires_grad_(False)
    critic = _critic(cfg, lm, dtype, device) if cfg.ppo.estimator == "gae" else None
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
