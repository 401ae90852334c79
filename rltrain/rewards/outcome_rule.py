"""A rule-based stand-in for a learned outcome reward model (ORM) on the built-in task.

Selected with `reward.orm=rule reward.scorer_module=outcome_rule` (loaded through
`rltrain.rewards.factory` like a learned scorer). Like a learned ORM it sees only the
response, never the reference answer: it estimates correctness from the response's internal
consistency. A response scores `consistent` (1.0) when
- it holds at least one equation and every equation "x op y = z" is arithmetically right,
- each equation starts from the previous equation's result (a chained derivation; a line
  that restates the previous line word for word is allowed: it is redundant, not wrong), and
- its last step is \\boxed{v} with v equal to the last equation's result;
otherwise `inconsistent` (0.0). It cannot see whether the chain follows the question (right
start value, right operations), so it over-estimates like a learned ORM does; and with
probability `noise` (a deterministic hash of the response text) the verdict is flipped, to
model a learned ORM's residual errors without making runs irreproducible.
"""
from __future__ import annotations

import hashlib
import re

import torch

from rltrain.rewards.base import ScoringBatch
from rltrain.tasks.arithmetic import EQUATION, check_equation

_SPECIAL = re.compile(r"<\|[^|>]*\|>")
_BOXED_ONLY = re.compile(r"^\\boxed\{\s*(-?\d+)\s*\}$")


class ConsistencyORM:
    """`score(batch) -> [B]` (implements `rltrain.rewards.base.OutcomeRewardModel`)."""

    def __init__(self, consistent: float = 1.0, inconsistent: float = 0.0, noise: float = 0.1):
        if not 0.0 <= noise < 0.5:
            raise ValueError(f"ConsistencyORM: noise must be in [0, 0.5), got {noise}")
        self.consistent, self.inconsistent, self.noise = float(consistent), float(inconsistent), float(noise)

    @staticmethod
    def is_consistent(steps: list[str]) -> bool:
        texts = [t for t in (_SPECIAL.sub("", s).strip() for s in steps) if t]
        if len(texts) < 2:
            return False
        last, previous = None, None
        for text in texts[:-1]:
            if check_equation(text) is not True:
                return False
            m = EQUATION.match(text)
            if last is not None and int(m.group(1)) != last and text != previous:
                return False
            last, previous = int(m.group(4)), text
        boxed = _BOXED_ONLY.match(texts[-1])
        return boxed is not None and int(boxed.group(1)) == last

    def _flip(self, text: str) -> bool:
        if self.noise <= 0:
            return False
        h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        return h / 2.0 ** 64 < self.noise

    def score_text_steps(self, steps: list[str]) -> float:
        ok = self.is_consistent(steps) != self._flip("".join(steps))
        return self.consistent if ok else self.inconsistent

    def score(self, batch: ScoringBatch) -> torch.Tensor:
        return torch.tensor([self.score_text_steps(list(s)) for s in batch.step_texts], dtype=torch.float32)


def load_orm(path: str, policy_tokenizer=None, device=None) -> ConsistencyORM:
    """`reward.orm=rule` (or `rule:NOISE`, e.g. `rule:0.2`) -> the consistency ORM."""
    name, _, noise = path.partition(":")
    if name != "rule":
        raise ValueError(f"rltrain.rewards.outcome_rule serves reward.orm=rule[:noise], got {path!r}")
    return ConsistencyORM(noise=float(noise) if noise else 0.1)
