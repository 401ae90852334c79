"""Micro-batched, no-grad forward of a token-logit model over rows of different lengths.

The model maps (input_ids [b, T], attention_mask [b, T]) to per-token logits [b, T]
(`ValueHeadModel`, `StepTagLM`). Rows are sorted by length and packed, right-padded, into
micro-batches of at most `token_budget` padded tokens (a longer row runs alone); only the
logits at each row's read positions are kept.

With `collective=True` (a model sharded with FSDP2 over the ranks, `sharded.py`) every forward is a
collective: each rank runs the same number of micro-batches, the most any rank's packing needs
(the rows split into that many near-equal groups, as the PPO phases do), and a rank with fewer
rows forwards a one-token placeholder row for each group it lacks.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from rltrain.batching import even_groups, plan_batches
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


def _collective_batches(lengths: list[int], token_budget: int, device: torch.device | str) -> list[list[int]]:
    """`count` groups (the max over ranks of this packing's batch count); empty groups pad the short ranks."""
    from rltrain.distributed.setup import all_reduce_max

    count = all_reduce_max(len(plan_batches(lengths, 0, token_budget)), torch.device(device))
    groups = even_groups(lengths, min(count, len(lengths))) if lengths else []
    return groups + [[] for _ in range(count - len(groups))]


@torch.no_grad()
def read_logits(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], rows: Sequence[Row], *,
                pad_id: int, token_budget: int = 16384, device: torch.device | str = "cpu",
                collective: bool = False) -> list[torch.Tensor]:
    """For each row, the float32 CPU logits at its positions ([len(row.positions)])."""
    if token_budget < 1:
        raise ValueError(f"read_logits: `token_budget` must be >= 1, got {token_budget}")
    out: list[torch.Tensor] = [torch.zeros(0)] * len(rows)
    todo = [i for i, r in enumerate(rows) if r.positions]
    lengths = [len(rows[i].input_ids) for i in todo]
    batches = _collective_batches(lengths, token_budget, device) if collective else plan_batches(lengths, 0, token_budget)
    for batch in batches:
        index = [todo[j] for j in batch]
        ids, mask = pad_rows([rows[i].input_ids for i in index] or [[pad_id]], pad_id, device)
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
