"""The grader's options (`GraderConfig`) and the trainer config's `grading` section that builds them."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field

from rltrain.config.base import FiniteFloat, StrictModel

TimeoutSeconds = Annotated[FiniteFloat, Field(gt=0, description="hard time limit per math-verify check, in seconds")]
Workers = Annotated[int, Field(ge=1, description="math-verify worker processes (started on first need)")]


class GraderConfig(StrictModel):
    """number_fallback: when no boxed / "the answer is" answer exists, use the last number if it
    stands alone (never a piece of a fraction, interval, list or expression: `number_fallback.py`);
    a batch sends each distinct (gold, answer) pair to math-verify only once."""

    timeout_s: TimeoutSeconds = 3.0
    workers: Workers = 2
    max_response_chars: int = Field(100_000, ge=1, description="longer responses score 0 unread, in characters")
    max_answer_chars: int = Field(1_000, ge=1, description="longer extracted answers score 0, in characters")
    number_fallback: bool = Field(True, description="grade the last standalone number when no answer is marked")
    use_math_verify: bool = Field(True, description="False keeps only the fast paths (no worker processes at all)")
    memory_limit_mb: Optional[int] = Field(4096, ge=1, description="address-space limit per worker, in MiB "
                                                                   "(null: none)")
    cache_size: int = Field(65_536, ge=0, description="math-verify verdicts remembered (timeouts never are)")


class GradingConfig(StrictModel):
    """The trainer's success-reward grader (section `grading`)."""

    timeout_s: TimeoutSeconds = 3.0
    workers: Workers = 1
    use_math_verify: Optional[bool] = Field(
        None, description="null: on for real datasets, off for the built-in arithmetic task (exact integers)")

    def grader_config(self, dataset: str) -> GraderConfig:
        """The grader's options for `data.dataset` = `dataset`."""
        verify = dataset != "arithmetic" if self.use_math_verify is None else self.use_math_verify
        return GraderConfig(timeout_s=self.timeout_s, workers=self.workers, use_math_verify=verify)
