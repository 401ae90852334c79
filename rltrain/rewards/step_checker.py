"""A rule-based PRM for the built-in arithmetic task (stands in for a well-trained PRM).

Each step gets `correct` (0.9) if it is a right equation "x op y = z", `wrong` (0.1) if it is
a wrong equation or not an equation at all; a step holding \\boxed{v} scores `correct` when v
equals the result of the last equation before it. It has no notion of whether a step is
*needed*: repeating a correct equation scores high again, so raw PRM reward can be hacked by
padding a response with correct but useless steps (what Clip / Delta guard against).
"""
from __future__ import annotations

import re

import torch

from rltrain.rewards.base import ScoringBatch
from rltrain.tasks.arithmetic import _EQUATION, check_equation

_SPECIAL = re.compile(r"<\|[^|>]*\|>")
_BOXED = re.compile(r"\\boxed\{\s*(-?\d+)\s*\}")


class ArithmeticStepChecker:
    """`score_steps(batch) -> [B, K]` (implements `rltrain.rewards.base.ProcessRewardModel`)."""

    def __init__(self, correct: float = 0.9, wrong: float = 0.1):
        self.correct, self.wrong = float(correct), float(wrong)

    def score_text_steps(self, steps: list[str]) -> list[float]:
        scores, last = [], None
        for raw in steps:
            text = _SPECIAL.sub("", raw).strip()
            boxed = _BOXED.search(text)
            verdict = check_equation(text)
            if verdict is not None:
                last = int(_EQUATION.match(text).group(4))
                scores.append(self.correct if verdict else self.wrong)
            elif boxed is not None:
                scores.append(self.correct if last is not None and int(boxed.group(1)) == last else self.wrong)
            else:
                scores.append(self.wrong)
        return scores

    def score_steps(self, batch: ScoringBatch) -> torch.Tensor:
        k = max([1] + [len(s) for s in batch.step_texts])
        out = torch.zeros(batch.size, k, dtype=torch.float32)
        for b, steps in enumerate(batch.step_texts):
            row = self.score_text_steps(list(steps))
            if row:
                out[b, :len(row)] = torch.tensor(row)
        return out
