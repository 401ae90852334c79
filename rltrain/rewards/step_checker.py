"""A rule-based PRM for the built-in arithmetic task (stands in for a well-trained PRM).

It labels steps the way Math-Shepherd-style PRM data does: a step is good (`correct`, 0.9)
when the solution is still on track after it, else bad (`wrong`, 0.1). The question is read
from the prompt, giving the values a correct solution passes through (start, after each
operation, answer):
- an equation "x op y = z" is good if it is right and both x and z are values of that chain;
- a step holding \\boxed{v} is good if v is the answer;
- anything else is bad.
It has no notion of whether a step is *needed*: restating a correct equation keeps the
solution on track and scores high again, so raw PRM reward can be hacked by padding a
response with correct but useless steps (what Clip / Delta guard against).

A prompt without an arithmetic question (or `question_aware=False`) falls back to judging
steps on their own: any right equation is good, and a boxed value is good if it equals the
last equation's result. That blind checker is hackable in a second way, which the
reward-design experiment ran into: under Clip the policy learned to write one right but
irrelevant equation and box its result (two "good" steps, no penalty) on every problem.
"""
from __future__ import annotations

import re
from typing import Sequence

import torch

from rltrain.rewards.base import ScoringBatch
from rltrain.tasks.arithmetic import EQUATION, check_equation, reference_chain

_SPECIAL = re.compile(r"<\|[^|>]*\|>")
_BOXED = re.compile(r"\\boxed\{\s*(-?\d+)\s*\}")


class ArithmeticStepChecker:
    """`score_steps(batch) -> [B, K]` (implements `rltrain.rewards.base.ProcessRewardModel`)."""

    def __init__(self, correct: float = 0.9, wrong: float = 0.1, question_aware: bool = True):
        self.correct, self.wrong = float(correct), float(wrong)
        self.question_aware = bool(question_aware)

    def score_text_steps(self, steps: Sequence[str], chain: Sequence[int] | None = None) -> list[float]:
        """One score per step; `chain` from `reference_chain` (None: judge steps on their own)."""
        on_track = None if chain is None else set(chain)
        scores, last = [], None
        for raw in steps:
            text = _SPECIAL.sub("", raw).strip()
            boxed = _BOXED.search(text)
            verdict = check_equation(text)
            if verdict is not None:
                m = EQUATION.match(text)
                x, last = int(m.group(1)), int(m.group(4))
                good = verdict and (on_track is None or (x in on_track and last in on_track))
            elif boxed is not None:
                target = last if chain is None else chain[-1]
                good = target is not None and int(boxed.group(1)) == target
            else:
                good = False
            scores.append(self.correct if good else self.wrong)
        return scores

    def score_steps(self, batch: ScoringBatch) -> torch.Tensor:
        k = max([1] + [len(s) for s in batch.step_texts])
        out = torch.zeros(batch.size, k, dtype=torch.float32)
        for b, steps in enumerate(batch.step_texts):
            chain = reference_chain(batch.prompts[b]) if self.question_aware else None
            row = self.score_text_steps(list(steps), chain)
            if row:
                out[b, :len(row)] = torch.tensor(row)
        return out
