"""Micro-batched, no-grad forward of a token-logit model over rows of different lengths.

The model maps (input_ids [b, T], attention_mask [b, T]) to per-token logits [b, T]
(`ValueHeadModel`, `StepTagLM`, ...). A model that packs sequences (`TokenScoreModel.packs_sequences`)
gets each micro-batch as one padding-free sequence with varlen attention (`rltrain.models.packing`)
of at most `token_budget` real tokens; another gets its rows sorted by
length and right-padded, at most `token_budget` padded tokens. A longer row runs alone; only the
logits at each row's read positions are kept.

With `collective=True` (a model sharded with FSDP2 over the ranks, `sharded.py`) every forward is a
collective: each rank runs the same number of micro-batches, the most any rank's packing needs
(the rows split into that many near-equal groups, as the PPO phases do), and a rank with fewer
rows forwards a one-token placeholder row for each group it lacks.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from rltrain.batching import balanced_groups, even_groups, plan_batches, plan_packed
from rltrain.models.packing import pack_lists, use_varlen_attention
from rltrain.rewards.render import Row


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, device: torch.device | str = "cpu"):
    """(input_ids [b, T] int64, attention_mask [b, T] int64), right-padded to the longest row."""
    longest = max(len(r) for r in rows)
    ids = torch.full((len(rows), longest), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.as_tensor(list(r), dtype=torch.long)
        mask[i, :len(r)] = 1
    return ids.to(device), mask.to(device)


def _plan(lengths: list[int], token_budget: int, packed: bool) -> list[list[int]]:
    return plan_packed(lengths, token_budget) if packed else plan_batches(lengths, 0, token_budget)


def _collective_batches(lengths: list[int], token_budget: int, device: torch.device | str,
                        packed: bool) -> list[list[int]]:
    """`count` groups (the max over ranks of this packing's batch count); empty groups pad the short ranks."""
    from rltrain.distributed.setup import all_reduce_max

    count = all_reduce_max(len(_plan(lengths, token_budget, packed)), torch.device(device))
    split = balanced_groups if packed else even_groups
    groups = split(lengths, min(count, len(lengths))) if lengths else []
    return groups + [[] for _ in range(count - len(groups))]


def _forward_packed(model, rows: list[Sequence[int]], device) -> tuple[torch.Tensor, list[int]]:
    """(logits [N] float32 on the CPU, each row's first position in them)."""
    packed = pack_lists(rows, device)
    logits = model(packed.input_ids, None, **packed.forward_kwargs()).float().cpu()[0]
    return logits, packed.starts.tolist()


@torch.no_grad()
def read_logits(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], rows: Sequence[Row], *,
                pad_id: int, token_budget: int = 16384, device: torch.device | str = "cpu",
                collective: bool = False, pack: bool = True) -> list[torch.Tensor]:
    """For each row, the float32 CPU logits at its positions ([len(row.positions)]).
    pack: score padding-free when the model packs sequences (`TokenScoreModel.packs_sequences`)."""
    if token_budget < 1:
        raise ValueError(f"read_logits: `token_budget` must be >= 1, got {token_budget}")
    packed = pack and bool(getattr(model, "packs_sequences", False)) and use_varlen_attention(model)
    out: list[torch.Tensor] = [torch.zeros(0)] * len(rows)
    todo = [i for i, r in enumerate(rows) if r.positions]
    lengths = [len(rows[i].input_ids) for i in todo]
    batches = (_collective_batches(lengths, token_budget, device, packed) if collective
               else _plan(lengths, token_budget, packed))
    for batch in batches:
        index = [todo[j] for j in batch]
        inputs = [rows[i].input_ids for i in index] or [[pad_id]]
        if packed:
            logits, starts = _forward_packed(model, inputs, device)
            for k, i in enumerate(index):
                out[i] = logits[starts[k] + torch.as_tensor(rows[i].positions, dtype=torch.long)]
            continue
        ids, mask = pad_rows(inputs, pad_id, device)
        logits = model(ids, mask).float().cpu()
        for k, i in enumerate(index):
            out[i] = logits[k, rows[i].positions]
    return out


def to_step_matrix(per_row: Sequence[torch.Tensor], num_steps: Sequence[int]) -> torch.Tensor:
    """[B, K] float32, K = max(1, max num_steps), row b = per_row[b] then zeros."""
    width = max([1] + [int(n) for n in num_steps])
    scores = torch.zeros((len(per_row), width), dtype=torch.float32)
    for b, (values, n) in enumerate(zip(per_row, num_steps)):
        if values.numel() != int(n):
            raise ValueError(f"row {b}: {values.numel()} scores for {int(n)} steps")
        scores[b, :int(n)] = values
    return scores
