"""Reward models sharded with FSDP2 over the trainer's ranks, as the reference policy is.

`reward.scoring.shard=true`: each of the model's `shard_units()` is `fully_shard`ed (every decoder
layer its own unit, then the unit's root: `rltrain.models.sharding.shard_module`), in the dtype it
was loaded in (no mixed-precision policy: the parameters are already bf16 on GPU). Each rank then
holds 1 / world of the weights; every forward all-gathers one layer at a time, so all ranks must
run the same number of forwards: the scorers read with `read_logits(..., collective=True)`.
Without a process group (or with one rank) the model is returned as it is.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from rltrain.models.sharding import shard_module
from rltrain.rewards.token_model import TokenScoreModel


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def shard_reward_model(model: TokenScoreModel, device: torch.device | str) -> tuple[TokenScoreModel, bool]:
    """(the model, whether it is sharded): FSDP2 over every rank when a process group of > 1 ranks exists."""
    if not is_distributed():
        return model, False
    for p in model.parameters():
        p.requires_grad_(False)
    for unit in model.shard_units():
        shard_module(unit, device=torch.device(device), mixed_precision=False, cpu_offload=False)
    return model, True
