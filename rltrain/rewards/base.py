"""What reward models see and return: the contract between the trainer and PRM / ORM scorers.

The trainer segments each response with `rltrain_kernels.segment_steps` (the same segmentation the
reward kernel uses), decodes each step's text without special tokens (a stop token or EOS
is not text a reward model was trained on), and hands a `ScoringBatch` to its scorers:
- a process reward model returns one score per step, [B, K] with K >= max num_steps; the
  tensor goes straight into `rltrain_kernels.fused_reward_gae(step_scores=...)`;
- an outcome reward model returns one score per response, [B].
The built-in task's rule-based step checker and the learned HF models implement the same
protocols, so the trainer cannot tell them apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import torch

from rltrain_kernels import StepDelimiter, StepSegments, segment_steps


@dataclass(frozen=True)
class ScoringBatch:
    """prompts: B prompt texts (the question as the policy saw it, chat template included);
    response_ids [B, T] int64 right-padded; response_mask [B, T] bool;
    segments: `StepSegments` of the responses; step_texts: B lists of num_steps[b] strings,
    the decoded text of each step (delimiter included, special tokens left out), concatenating
    to the response text. A step's reward is placed at its last token (`segments.is_boundary`),
    which may be a stop token. questions: B bare question texts (no template, no instruction), for
    reward models whose own format wraps the question (Math-Shepherd, Qwen2.5-Math-PRM, chat-template
    ORMs); None: they read `prompts`."""

    prompts: Sequence[str]
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    segments: StepSegments
    step_texts: Sequence[Sequence[str]]
    questions: Sequence[str] | None = None

    @property
    def size(self) -> int:
        return len(self.prompts)


@runtime_checkable
class ProcessRewardModel(Protocol):
    def score_steps(self, batch: ScoringBatch) -> torch.Tensor:
        """[B, K] float32 on CPU, K = max(1, max num_steps); column k < num_steps[b] is the
        score of step k of response b, the rest are 0."""


@runtime_checkable
class OutcomeRewardModel(Protocol):
    def score(self, batch: ScoringBatch) -> torch.Tensor:
        """[B] float32 on CPU, one score per response."""


def build_scoring_batch(prompts: Sequence[str], response_ids: torch.Tensor, response_mask: torch.Tensor,
                        separator_ids: StepDelimiter | Sequence[int], tokenizer, *,
                        questions: Sequence[str] | None = None) -> ScoringBatch:
    """Segment the responses and decode each step's text with the policy's tokenizer.

    separator_ids: what `rltrain.data.separator_token_ids(tokenizer, delimiter)` returns (or a
    plain id list, see `rltrain_kernels.segment_steps`). questions: the bare question of each row (optional).
    """
    if len(prompts) != response_ids.shape[0]:
        raise ValueError(f"build_scoring_batch: {len(prompts)} prompts for {response_ids.shape[0]} responses")
    if questions is not None and len(questions) != len(prompts):
        raise ValueError(f"build_scoring_batch: {len(questions)} questions for {len(prompts)} prompts")
    segments = segment_steps(response_ids, response_mask, separator_ids)
    ends = [torch.nonzero(row).squeeze(1).tolist() for row in segments.is_boundary]
    step_texts = []
    for b, row_ends in enumerate(ends):
        starts = [0] + [e + 1 for e in row_ends[:-1]]
        ids = response_ids[b].tolist()
        pieces = [ids[s:e + 1] for s, e in zip(starts, row_ends)]
        step_texts.append(tokenizer.batch_decode(pieces, skip_special_tokens=True) if pieces else [])
    return ScoringBatch(list(prompts), response_ids, response_mask.bool(), segments, step_texts,
                        list(questions) if questions is not None else None)
