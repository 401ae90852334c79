"""ScoringBatch of given response texts, tokenized by the policy's tokenizer as a sampler returns them."""
from __future__ import annotations

from typing import Sequence

import torch

from rltrain.data import separator_token_ids
from rltrain.rewards import ScoringBatch, build_scoring_batch


def policy_batch(tok, responses: Sequence[str], prompts: Sequence[str], *, questions: Sequence[str] | None = None,
                 stop: bool = False) -> ScoringBatch:
    """Right-padded response ids [B, max(1, longest)]; stop=True ends each with the stop (EOS) token."""
    rows = [tok(r, add_special_tokens=False)["input_ids"] + ([tok.eos_token_id] if stop else []) for r in responses]
    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), tok.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, :len(r)] = True
    return build_scoring_batch(prompts, ids, mask, separator_token_ids(tok), tok, questions=questions)
