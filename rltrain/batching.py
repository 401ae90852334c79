"""Grouping rows of different lengths into batches: by a token budget (padded or packed), or into a
fixed count.

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


def plan_packed(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Row indices grouped for packed (padding-free) batches: each batch's total length within the
    budget, longest rows first into the first batch with room (first-fit decreasing); a row that
    alone exceeds the budget gets a batch of its own."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    loads: list[int] = []
    for i in order:
        for b, load in enumerate(loads):
            if load + lengths[i] <= token_budget:
                batches[b].append(i)
                loads[b] += lengths[i]
                break
        else:
            batches.append([i])
            loads.append(lengths[i])
    return batches


def balanced_groups(lengths: Sequence[int], count: int) -> list[list[int]]:
    """Rows split into exactly `count` (<= len(lengths)) non-empty groups of near-equal total length
    (longest first, each to the lightest group): the packed counterpart of `even_groups`."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = [[] for _ in range(count)]
    loads = [0] * count
    for rank, i in enumerate(order):
        g = rank if rank < count else min(range(count), key=lambda k: (loads[k], k))
        groups[g].append(i)
        loads[g] += lengths[i]
    return groups
