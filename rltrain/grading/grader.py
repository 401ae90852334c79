"""The success-reward grader: score 1 when a response's final answer equals the gold answer.

Per item: bound the input, extract the final answer (`extract.py`), normalise both sides
(`normalize.py`, then the single-variable rule of `variables.py`), then try the cheap paths in
this process (exact match of the normalised strings; exact comparison of plain numbers and of
tuples / intervals / sets of them, with the rounded-decimal rule of `numbers.py`; all
linear-time string work on bounded strings), and send only what they cannot decide to
math-verify in a `TimeLimitedPool` with a hard per-item time limit (`verify_worker.py`).
Nothing is ever evaluated as code. Every item gets a score (0.0 or 1.0) and a reason:

  correct:   "exact", "numeric", "math_verify"
  incorrect: "no_answer", "too_long", "answer_too_long", "nul_byte", "invalid_input",
             "numeric_mismatch", "not_equivalent", "timeout", "crashed", "error: <Type>"
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rltrain.config.grading import GraderConfig
from rltrain.grading.extract import extract_answer
from rltrain.grading.normalize import normalize_answer
from rltrain.grading.numbers import plain_numbers_equal
from rltrain.grading.pool import TimeLimitedPool
from rltrain.grading.variables import drop_assignment_variable

_VERIFY_FN = "rltrain.grading.verify_worker:math_verify_equal"
_WARM_UP_FN = "rltrain.grading.verify_worker:warm_up"
_PRELOAD = ("math_verify", "latex2sympy2_extended", "sympy")


@dataclass(frozen=True)
class GradeResult:
    """score 1.0 (correct) or 0.0; reason (see the module docstring); extracted answer or None."""

    score: float
    reason: str
    extracted: str | None = None


def _fast_grade(response: object, gold: object, cfg: GraderConfig,
                number_fallback: bool) -> GradeResult | tuple[str, str, str]:
    """A final GradeResult, or (normalized gold, normalized answer, extracted) for math-verify."""
    if not isinstance(response, str) or not isinstance(gold, str):
        return GradeResult(0.0, "invalid_input")
    if "\x00" in response:
        return GradeResult(0.0, "nul_byte")
    if len(response) > cfg.max_response_chars:
        return GradeResult(0.0, "too_long")
    found = extract_answer(response, number_fallback=number_fallback)
    if found is None:
        return GradeResult(0.0, "no_answer")
    answer = found.text
    if len(answer) > cfg.max_answer_chars:
        return GradeResult(0.0, "answer_too_long", answer[:cfg.max_answer_chars])
    norm_gold, norm_answer = drop_assignment_variable(normalize_answer(gold), normalize_answer(answer))
    if norm_answer and norm_answer == norm_gold:
        return GradeResult(1.0, "exact", answer)
    numeric = plain_numbers_equal(norm_gold, norm_answer)
    if numeric is not None:
        return GradeResult(1.0, "numeric", answer) if numeric else GradeResult(0.0, "numeric_mismatch", answer)
    if not norm_answer or not cfg.use_math_verify or len(gold) > cfg.max_answer_chars:
        return GradeResult(0.0, "not_equivalent", answer)
    return norm_gold, norm_answer, answer


class Grader:
    """`Grader().grade(responses, golds)` -> list[GradeResult]; close() (or `with`) ends the pool.

    The worker pool starts on first need, so a grader whose items all take the fast paths
    never starts a process.
    """

    def __init__(self, config: GraderConfig = GraderConfig()):
        self.config = config
        self._pool: TimeLimitedPool | None = None
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}

    @property
    def pool(self) -> TimeLimitedPool:
        if self._pool is None:
            self._pool = TimeLimitedPool(
                _VERIFY_FN, workers=self.config.workers, timeout_s=self.config.timeout_s,
                warm_up=_WARM_UP_FN, memory_limit_mb=self.config.memory_limit_mb, preload=_PRELOAD)
        return self._pool

    def grade(self, responses: Sequence[str], golds: Sequence[str], *,
              number_fallback: bool | None = None) -> list[GradeResult]:
        """Grade responses[i] against golds[i]; one GradeResult per item, in order.

        number_fallback: override the config's last-number fallback for this call.
        """
        fallback = self.config.number_fallback if number_fallback is None else number_fallback
        if len(responses) != len(golds):
            raise ValueError(f"Grader.grade: `responses` ({len(responses)}) and `golds` ({len(golds)}) "
                             "must have the same length")
        results: list[GradeResult | None] = []
        slow: dict[tuple[str, str], list[tuple[int, str]]] = {}  # pair -> [(item, extracted)]
        for i, (response, gold) in enumerate(zip(responses, golds)):
            fast = _fast_grade(response, gold, self.config, fallback)
            results.append(fast if isinstance(fast, GradeResult) else None)
            if not isinstance(fast, GradeResult):
                slow.setdefault((fast[0], fast[1]), []).append((i, fast[2]))
        for pair, (score, reason) in self._verify(list(slow)).items():
            for i, answer in slow[pair]:
                results[i] = GradeResult(score, reason, answer)
        return results  # type: ignore[return-value]

    def _verify(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, str]]:
        """(score, reason) for each distinct (gold, answer) pair: from the cache or the pool."""
        verdicts = {p: self._cache[p] for p in pairs if p in self._cache}
        todo = [p for p in pairs if p not in verdicts]
        for pair, outcome in zip(todo, self.pool.map(todo) if todo else []):
            if outcome.error is not None:
                verdicts[pair] = (0.0, outcome.error)
                continue
            verdicts[pair] = (1.0, "math_verify") if outcome.value else (0.0, "not_equivalent")
            if self.config.cache_size > 0:
                if len(self._cache) >= self.config.cache_size:
                    self._cache.pop(next(iter(self._cache)))  # oldest first
                self._cache[pair] = verdicts[pair]
        return verdicts

    def grade_one(self, response: str, gold: str) -> GradeResult:
        return self.grade([response], [gold])[0]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
