"""Statistics of the sampled responses' reasoning steps."""
from __future__ import annotations

import re
from typing import Sequence

_SPECIAL = re.compile(r"<\|[^|>]*\|>")


def _norm(step: str) -> str:
    return " ".join(_SPECIAL.sub("", step).split())


def repeated_steps(step_texts: Sequence[Sequence[str]]) -> tuple[int, int]:
    """(repeated, total): a step is repeated when its text (whitespace-normalised, special
    tokens removed) already appeared earlier in the same response; empty steps are ignored."""
    repeated = total = 0
    for steps in step_texts:
        seen: set[str] = set()
        for step in steps:
            key = _norm(step)
            if not key:
                continue
            total += 1
            repeated += key in seen
            seen.add(key)
    return repeated, total
