"""The success rule for sampled responses, shared by every place that grades them: the trainer's
success reward, `python -m rltrain.eval` and reward-model auto-labelling (`rm_train`).

- A response that hit the token limit (finish_reason "length") scores 0 with reason "truncated"
  and is not read: whatever answer it holds was not given as a final answer.
- Any other response is graded by `Grader`, with the last-number fallback on for datasets whose
  answers are plain numbers (GSM8K, the built-in arithmetic task) and off for MATH / MATH500,
  where the last number of a response is rarely its answer.

So the trainer's `success_rate`, the eval's `greedy_acc` / `sample_acc` / `pass@k` / `maj@N` and
the auto-labels all count the same responses as correct.
"""
from __future__ import annotations

from typing import Sequence

from rltrain.grading.grader import GradeResult

TRUNCATED = "truncated"
STOPPED_FINISH, TRUNCATED_FINISH = "stop", "length"  # rltrain.rollout.types.FINISH_REASONS
NUMBER_FALLBACK_DATASETS = ("arithmetic", "gsm8k")


def number_fallback_for(dataset: str) -> bool:
    """Whether the grader may take a response's last number as its answer, for `dataset`."""
    return dataset in NUMBER_FALLBACK_DATASETS


def truncated_result() -> GradeResult:
    """The grade of a response that hit the token limit."""
    return GradeResult(0.0, TRUNCATED, None)


def grade_responses(grader, responses: Sequence[str], golds: Sequence[str], finish_reasons: Sequence[str], *,
                    number_fallback: bool) -> list[GradeResult]:
    """One GradeResult per response, in order: `truncated_result()` where finish_reasons[i] is
    "length", else `grader.grade` of responses[i] against golds[i]."""
    if not len(responses) == len(golds) == len(finish_reasons):
        raise ValueError(f"grade_responses: `responses` ({len(responses)}), `golds` ({len(golds)}) and "
                         f"`finish_reasons` ({len(finish_reasons)}) must have the same length")
    bad = sorted({r for r in finish_reasons if r not in (STOPPED_FINISH, TRUNCATED_FINISH)})
    if bad:
        raise ValueError(f"grade_responses: unknown finish reasons {bad} (expected 'stop' or 'length')")
    kept = [i for i, r in enumerate(finish_reasons) if r == STOPPED_FINISH]
    graded = grader.grade([responses[i] for i in kept], [golds[i] for i in kept],
                          number_fallback=number_fallback) if kept else []
    results = [truncated_result()] * len(responses)
    for i, g in zip(kept, graded):
        results[i] = g
    return results
