"""Answer grading: extraction, cheap fast paths, math-verify in a time-limited worker pool."""
from rltrain.grading.extract import ExtractedAnswer, extract_answer, last_boxed
from rltrain.grading.grader import GradeResult, Grader, GraderConfig
from rltrain.grading.pool import TaskResult, TimeLimitedPool

__all__ = [
    "ExtractedAnswer",
    "GradeResult",
    "Grader",
    "GraderConfig",
    "TaskResult",
    "TimeLimitedPool",
    "extract_answer",
    "last_boxed",
]
