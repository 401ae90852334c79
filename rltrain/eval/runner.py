"""Evaluate one model on one dataset: greedy accuracy, sampling accuracy, pass@k, majority vote
and (with a `Reranker`) reward-model best-of-N.

For every problem: one greedy response (temperature 0) and `n_samples` sampled responses
(temperature `temperature`, default 1.0), all graded against the ground truth. Prompts go
to the engine in chunks so that a progress callback can follow along. Over the N samples of a
problem, maj@N grades the most common final answer and best_of_N_<mode> the sample the
reward model scores highest.

Grading follows `rltrain.grading.responses`, the trainer's rule: a response that hit
`max_new_tokens` (finish_reason "length") scores 0 with reason "truncated" and casts no vote in
maj@N, so every accuracy here is computed as the trainer's `success_rate` is. `truncated` in the
summary is the fraction of all responses (greedy and sampled) that hit the limit.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from rltrain.data.prompts import PromptConfig, bound_prompts, format_prompt
from rltrain.data.records import MathProblem
from rltrain.eval.metrics import mean, mean_pass_at_k
from rltrain.eval.rerank import Reranker, best_index, majority_vote
from rltrain.grading.grader import Grader
from rltrain.grading.responses import TRUNCATED, grade_responses, number_fallback_for
from rltrain.rollout.types import RolloutEngine, RolloutOutput, SamplingParams


@dataclass(frozen=True)
class EvalConfig:
    """n_samples: sampled responses per problem (0 = greedy only); pass_k: the k of pass@k
    (k <= n_samples); greedy: also run greedy decoding; chunk: prompts per engine call;
    max_prompt_tokens: longer prompts keep their end (`rltrain.data.prompts.bound_prompts`)."""

    n_samples: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    pass_k: tuple[int, ...] = (1, 4)
    greedy: bool = True
    seed: int = 0
    chunk: int = 8
    max_prompt_tokens: int = 2048
    prompt: PromptConfig = PromptConfig()

    def __post_init__(self) -> None:
        if self.n_samples < 0:
            raise ValueError(f"EvalConfig: `n_samples` must be >= 0, got {self.n_samples}")
        if not self.greedy and self.n_samples == 0:
            raise ValueError("EvalConfig: nothing to do (greedy off and `n_samples` = 0)")
        bad = [k for k in self.pass_k if not 1 <= k <= self.n_samples]
        if bad:
            raise ValueError(f"EvalConfig: every `pass_k` must be in [1, n_samples={self.n_samples}], got {bad}")
        if self.chunk < 1:
            raise ValueError(f"EvalConfig: `chunk` must be >= 1, got {self.chunk}")
        if self.max_prompt_tokens < 1:
            raise ValueError(f"EvalConfig: `max_prompt_tokens` must be >= 1, got {self.max_prompt_tokens}")

    def generations_per_problem(self) -> int:
        return int(self.greedy) + self.n_samples


@dataclass(frozen=True)
class DatasetResult:
    """summary: metric name -> value; samples: one JSON-ready dict per graded response; notes: one
    line per prompt cut to cfg.max_prompt_tokens."""

    name: str
    summary: dict[str, float]
    samples: list[dict]
    notes: list[str] = field(default_factory=list)


def _mode_params(cfg: EvalConfig) -> list[tuple[str, SamplingParams]]:
    modes = []
    if cfg.greedy:
        modes.append(("greedy", SamplingParams(n=1, temperature=0.0, max_new_tokens=cfg.max_new_tokens)))
    if cfg.n_samples:
        modes.append(("sample", SamplingParams(n=cfg.n_samples, temperature=cfg.temperature, top_p=cfg.top_p,
                                               max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)))
    return modes


def evaluate_dataset(name: str, problems: Sequence[MathProblem], engine: RolloutEngine, tokenizer,
                     grader: Grader, cfg: EvalConfig,
                     progress: Callable[[int], None] | None = None,
                     reranker: Reranker | None = None) -> DatasetResult:
    """Generate, grade and summarise; `progress(k)` is called after every k generations."""
    number_fallback = number_fallback_for(name)
    texts = [format_prompt(tokenizer, p.question, cfg.prompt) for p in problems]
    prompts, prompt_ids, cuts = bound_prompts(tokenizer, texts, cfg.max_prompt_tokens)
    limit = f"--max-prompt-tokens {cfg.max_prompt_tokens}"
    notes = [c.describe(problems[c.index].uid, limit) for c in cuts]
    samples: list[dict] = []
    correct: dict[str, list[int]] = {}
    selected: dict[str, list[int]] = {}  # "maj" / "best_of": per problem, 1 if the chosen sample is correct
    for mode, params in _mode_params(cfg):
        counts = correct.setdefault(mode, [])
        for start in range(0, len(problems), cfg.chunk):
            chunk = range(start, min(start + cfg.chunk, len(problems)))
            ids = [prompt_ids[i] for i in chunk]
            chunk_params = params if params.seed is None else _reseed(params, start)
            outs: list[list[RolloutOutput]] = engine.generate(ids, chunk_params)
            texts = [[tokenizer.decode(o.token_ids, skip_special_tokens=True) for o in per] for per in outs]
            flat = [t for per in texts for t in per]
            golds = [problems[i].answer for i, per in zip(chunk, texts) for _ in per]
            reasons = [o.finish_reason for per in outs for o in per]
            grades = iter(grade_responses(grader, flat, golds, reasons, number_fallback=number_fallback))
            for i, per_out, per_text in zip(chunk, outs, texts):
                n_ok, scores = 0, (reranker.scores(prompts[i], per_out, problems[i].question)
                                   if reranker and mode == "sample" else None)
                graded = []
                for j, (out, text) in enumerate(zip(per_out, per_text)):
                    g = next(grades)
                    n_ok += int(g.score > 0)
                    graded.append(g)
                    samples.append({
                        "dataset": name, "uid": problems[i].uid, "mode": mode, "sample_index": j,
                        "prompt": prompts[i], "response": text, "gold": problems[i].answer,
                        "extracted": g.extracted, "score": g.score, "reason": g.reason,
                        "finish_reason": out.finish_reason, "num_tokens": len(out.token_ids),
                    })
                    if scores is not None:
                        samples[-1]["rm_score"] = scores[j]
                counts.append(n_ok)
                if mode == "sample":
                    _select(selected, graded, scores)
            if progress is not None:
                progress(len(chunk) * params.n)
    summary = _summarize(len(problems), correct, cfg)
    if "maj" in selected:
        summary[f"maj@{cfg.n_samples}"] = mean(selected["maj"])
    if "best_of" in selected and reranker is not None:
        summary[f"best_of_{cfg.n_samples}_{reranker.mode}"] = mean(selected["best_of"])
    summary["truncated"] = mean([float(r["reason"] == TRUNCATED) for r in samples])
    return DatasetResult(name, summary, samples, notes)


def _select(selected: dict[str, list[int]], graded: list, scores: list[float] | None) -> None:
    """Record whether the majority-vote sample and the best-scored sample are correct."""
    vote = majority_vote([g.extracted for g in graded])
    selected.setdefault("maj", []).append(int(vote is not None and graded[vote].score > 0))
    if scores is not None:
        best = best_index(scores)
        selected.setdefault("best_of", []).append(int(best is not None and graded[best].score > 0))


def _reseed(params: SamplingParams, offset: int) -> SamplingParams:
    return replace(params, seed=params.seed + offset)


def _summarize(num_problems: int, correct: dict[str, list[int]], cfg: EvalConfig) -> dict[str, float]:
    summary: dict[str, float] = {"problems": num_problems}
    if "greedy" in correct:
        summary["greedy_acc"] = mean(correct["greedy"])
    if "sample" in correct:
        summary["sample_acc"] = mean([c / cfg.n_samples for c in correct["sample"]])
        for k in cfg.pass_k:
            summary[f"pass@{k}"] = mean_pass_at_k(correct["sample"], cfg.n_samples, k)
    return summary
