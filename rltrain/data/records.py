"""The record every dataset loader returns."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MathProblem:
    """One problem: `question` for the prompt, `answer` the ground-truth final answer string.

    dataset: "gsm8k" | "math" | "math500"; uid: a stable id ("<file>:<line>" or the record's
    own unique_id); solution: the reference solution text when the dataset has one.
    """

    dataset: str
    uid: str
    question: str
    answer: str
    solution: str | None = None
