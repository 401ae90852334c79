"""Grouping rows of different lengths into batches: by a padded-token budget, or into a fixed count.

Used by the rollout engine (generation batches), the reward models (scoring micro-batches) and
the PPO phases (FSDP2 micro-batches).
"""
from __future__ import annotations

from typing import Sequence

import torch


def plan_batches(lengths: Sequence[int], max_new_tokens: int, token_budget: int) -> list[list[int]]:
    """Row indices grouped into batches, shortest prompts first, each within the token budget.

    A batch of r rows with longest prompt P costs r * (P + max_new_tokens) tokens; a row that
    alone exceeds the budget still gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = max([lengths[j] for j in current] + [lengths[i]])
        if current and (len(current) + 1) * (longest + max_new_tokens) > token_budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def even_groups(lengths: Sequence[int], count: int) -> list[list[int]]:
    """Rows sorted by length, split into exactly `count` (<= len(lengths)) groups of near-equal size.

    The trainer takes `count` = the max over ranks of the token-budget packing (`plan_batches`),
    so every rank runs the same number of FSDP2 passes.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [chunk.tolist() for chunk in torch.tensor_split(torch.tensor(order, dtype=torch.long), count)]
