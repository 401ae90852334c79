"""Inference-time selection among N sampled responses: majority vote and reward-model best-of-N.

Best-of-N scores every sample with a learned reward model and keeps the highest:
  orm        the ORM's score of the response
  prm-min    the lowest PRM step score (a chain is as good as its worst step)
  prm-last   the PRM score of the last step
  prm-prod   the product of the PRM step scores
A response without steps (empty) scores 0 under every PRM mode. Ties go to the earlier sample.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import torch

from rltrain_kernels import StepDelimiter
from rltrain.grading.normalize import normalize_answer
from rltrain.rewards.base import ScoringBatch, build_scoring_batch
from rltrain.rollout.types import RolloutOutput

RERANK_MODES = ("orm", "prm-min", "prm-last", "prm-prod")


def aggregate_step_scores(step_scores: torch.Tensor, num_steps: torch.Tensor, how: str) -> torch.Tensor:
    """[B, K] step scores, [B] step counts -> [B] response scores ("min" | "last" | "prod")."""
    if how not in ("min", "last", "prod"):
        raise ValueError(f"aggregate_step_scores: `how` must be 'min', 'last' or 'prod', got {how!r}")
    n = num_steps.long()
    valid = torch.arange(step_scores.shape[1])[None, :] < n[:, None]
    if how == "min":
        out = torch.where(valid, step_scores, torch.ones_like(step_scores)).amin(dim=1)
    elif how == "prod":
        out = torch.where(valid, step_scores, torch.ones_like(step_scores)).prod(dim=1)
    else:
        out = step_scores.gather(1, (n - 1).clamp(min=0)[:, None]).squeeze(1)
    return torch.where(n > 0, out, torch.zeros_like(out)).float()


def majority_vote(extracted: Sequence[str | None]) -> int | None:
    """Index of the first sample whose normalised answer is the most common one (None: no answers)."""
    keys = [normalize_answer(a) if a is not None else None for a in extracted]
    counts = Counter(k for k in keys if k)
    if not counts:
        return None
    best = max(counts.values())
    return next(i for i, k in enumerate(keys) if k and counts[k] == best)


class Reranker:
    """`Reranker(mode, scorer, tokenizer, separator_ids).scores(prompt, outputs) -> [n] floats`.

    scorer: an `OutcomeRewardModel` for "orm", a `ProcessRewardModel` for the prm-* modes;
    tokenizer / separator_ids: the policy's (the same step segmentation as the trainer:
    `rltrain.data.separator_token_ids(tokenizer, delimiter)`).
    """

    def __init__(self, mode: str, scorer, tokenizer, separator_ids: StepDelimiter | Sequence[int]):
        if mode not in RERANK_MODES:
            raise ValueError(f"Reranker: `mode` must be one of {RERANK_MODES}, got {mode!r}")
        self.mode, self.scorer, self.tokenizer = mode, scorer, tokenizer
        self.separator_ids = separator_ids

    def batch(self, prompt: str, outputs: Sequence[RolloutOutput], question: str | None = None) -> ScoringBatch:
        width = max([1] + [len(o.token_ids) for o in outputs])
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(outputs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(outputs), width), dtype=torch.bool)
        for i, o in enumerate(outputs):
            ids[i, :len(o.token_ids)] = torch.tensor(o.token_ids, dtype=torch.long)
            mask[i, :len(o.token_ids)] = True
        questions = None if question is None else [question] * len(outputs)
        return build_scoring_batch([prompt] * len(outputs), ids, mask, self.separator_ids, self.tokenizer,
                                   questions=questions)

    def scores(self, prompt: str, outputs: Sequence[RolloutOutput], question: str | None = None) -> list[float]:
        """One score per output; `question`: the bare question, for reward models with their own prompt format."""
        if not outputs:
            return []
        batch = self.batch(prompt, outputs, question)
        if self.mode == "orm":
            return self.scorer.score(batch).tolist()
        steps = self.scorer.score_steps(batch)
        return aggregate_step_scores(steps, batch.segments.num_steps, self.mode.split("-", 1)[1]).tolist()


def best_index(scores: Sequence[float]) -> int | None:
    """Index of the highest score (the earliest on ties); None for no scores."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else None
