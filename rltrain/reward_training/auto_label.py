"""Automatic labels: ORM labels from graded samples, PRM step labels the Math-Shepherd way.

Math-Shepherd (Wang et al., 2024): a step is good if the solution can still reach the right
answer from it. For every step prefix s_0..s_k (k < K-1) a completer samples m full solutions
continuing the prefix; the grader scores them; hard label = 1 if any completion is correct,
soft label = the fraction correct. The last step's label is the grade of the solution itself.
`RolloutCompleter` completes with a rollout engine; tests may plug in any `Completer`.

Labels follow the trainer's success rule (`rltrain.grading.responses`): a completion or sampled
solution that hit the token limit counts as wrong, as the trainer's reward would score it, so the
reward models learn to predict the reward they stand in for.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

from rltrain.grading.responses import STOPPED_FINISH, grade_responses
from rltrain.rewards.render import split_steps
from rltrain.reward_training.training import OutcomeExample, StepExample
from rltrain.rollout.types import RolloutEngine, SamplingParams


@dataclass(frozen=True)
class Solution:
    """prompt text (as the policy saw it), gold answer, steps of one solution (they concatenate);
    finish_reason: "length" when the sampled solution hit the token limit (then it counts as wrong)."""

    prompt: str
    gold: str
    steps: list[str]
    source: str = ""
    finish_reason: str = STOPPED_FINISH


@dataclass(frozen=True)
class Completion:
    """One completed response text and why its generation ended ("stop" | "length")."""

    text: str
    finish_reason: str = STOPPED_FINISH


class Completer(Protocol):
    def complete(self, requests: Sequence[tuple[str, Sequence[str]]], m: int) -> list[list[Completion | str]]:
        """For each (prompt, prefix steps): m full responses (the prefix + a continuation), each a
        `Completion` or a plain text (a text is a response that finished: "stop")."""


def _completion(item: Completion | str) -> Completion:
    return item if isinstance(item, Completion) else Completion(item)


class RolloutCompleter:
    """Completes prefixes with a rollout engine: prompt + prefix text -> m sampled continuations."""

    def __init__(self, engine: RolloutEngine, tokenizer, params: SamplingParams = SamplingParams(max_new_tokens=256)):
        self.engine, self.tokenizer, self.params = engine, tokenizer, params

    def complete(self, requests: Sequence[tuple[str, Sequence[str]]], m: int) -> list[list[Completion]]:
        if not requests:
            return []
        prefixes = ["".join(steps) for _, steps in requests]
        ids = [self.tokenizer(p + s, add_special_tokens=False)["input_ids"] for (p, _), s in zip(requests, prefixes)]
        outs = self.engine.generate(ids, replace(self.params, n=m))
        return [[Completion(pre + self.tokenizer.decode(o.token_ids, skip_special_tokens=True), o.finish_reason)
                 for o in per] for pre, per in zip(prefixes, outs)]


def count_step_prefixes(solutions: Sequence[Solution]) -> int:
    """How many step prefixes `auto_label_steps` completes (every step but each solution's last)."""
    return sum(max(0, len(s.steps) - 1) for s in solutions)


def auto_label_steps(solutions: Sequence[Solution], completer: Completer, grader, *, m: int = 4,
                     soft: bool = False, number_fallback: bool = True, chunk: int = 64,
                     progress: Callable[[int], None] | None = None) -> list[StepExample]:
    """One StepExample per solution with Math-Shepherd labels (hard, or soft with `soft=True`);
    truncated completions and truncated solutions count as wrong. `progress(n)` after each chunk of
    n step prefixes is labelled (`count_step_prefixes` of them in all)."""
    if m < 1:
        raise ValueError(f"auto_label_steps: `m` must be >= 1, got {m}")
    requests = [(i, k) for i, s in enumerate(solutions) for k in range(len(s.steps) - 1)]
    fractions: dict[tuple[int, int], float] = {}
    for start in range(0, len(requests), chunk):
        part = requests[start:start + chunk]
        done = completer.complete([(solutions[i].prompt, solutions[i].steps[:k + 1]) for i, k in part], m)
        flat = [_completion(c) for per in done for c in per]
        golds = [solutions[i].gold for (i, _), per in zip(part, done) for _ in per]
        grades = iter(grade_responses(grader, [c.text for c in flat], golds, [c.finish_reason for c in flat],
                                      number_fallback=number_fallback))
        for key, per in zip(part, done):
            fractions[key] = sum(next(grades).score > 0 for _ in per) / max(1, len(per))
        if progress is not None:
            progress(len(part))
    finals = grade_responses(grader, ["".join(s.steps) for s in solutions], [s.gold for s in solutions],
                             [s.finish_reason for s in solutions], number_fallback=number_fallback)
    examples = []
    for i, (s, final) in enumerate(zip(solutions, finals)):
        fr = [fractions[(i, k)] for k in range(len(s.steps) - 1)] + ([float(final.score > 0)] if s.steps else [])
        labels = fr if soft else [float(f > 0) for f in fr]
        examples.append(StepExample(s.prompt, list(s.steps), labels, s.source))
    return examples


def sample_solutions(prompts: Sequence[str], golds: Sequence[str], engine: RolloutEngine, tokenizer,
                     params: SamplingParams, *, delimiter: str = "\n\n") -> list[tuple[Solution, str]]:
    """params.n samples per prompt: (Solution with the response split into steps, response text)."""
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    out = []
    for i, per in enumerate(engine.generate(ids, params)):
        for j, o in enumerate(per):
            text = tokenizer.decode(o.token_ids, skip_special_tokens=True)
            steps = split_steps(text, delimiter)
            out.append((Solution(prompts[i], golds[i], steps, f"{i}:{j}", o.finish_reason), text))
    return out


def outcome_examples(samples: Sequence[tuple[Solution, str]], grader, *,
                     number_fallback: bool = True) -> list[OutcomeExample]:
    """ORM examples: each sampled response labelled by the grader (0 when it was truncated)."""
    grades = grade_responses(grader, [t for _, t in samples], [s.gold for s, _ in samples],
                             [s.finish_reason for s, _ in samples], number_fallback=number_fallback)
    return [OutcomeExample(s.prompt, t, float(g.score > 0), s.source) for (s, t), g in zip(samples, grades)]
