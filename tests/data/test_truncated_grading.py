"""One success rule everywhere: a response that hit the token limit scores 0 ("truncated") in the
trainer's reward, in every eval accuracy (greedy_acc, sample_acc, pass@k, maj@N) and in the
reward-model auto-labels; the last-number fallback is per dataset, alike in trainer and eval."""
from __future__ import annotations

import pytest
from scripted_engine import ScriptedEngine

from rltrain.config import load_config
from rltrain.data import MathProblem
from rltrain.eval.runner import EvalConfig, evaluate_dataset
from rltrain.grading import Grader, GraderConfig
from rltrain.grading.responses import grade_responses, number_fallback_for
from rltrain.models.tiny import build_tiny_tokenizer
from rltrain.reward_training.auto_label import Completion, Solution, auto_label_steps, outcome_examples, sample_solutions
from rltrain.rollout import SamplingParams

STOP, CUT = "stop", "length"

PROBLEMS = [MathProblem("gsm8k", "a", "Tom has 5 apples.", "18"), MathProblem("gsm8k", "b", "Add 1 and 2.", "3")]
SCRIPT = {  # every truncated response holds the right answer: only the rule makes it wrong
    "Tom has": [("\\boxed{18}", CUT)] + [("\\boxed{18}", CUT)] * 3 + [("\\boxed{18}", STOP)],
    "Add 1": [("\\boxed{3}", STOP)] + [("\\boxed{3}", CUT)] * 4,
}


@pytest.fixture(scope="module")
def grader():
    with Grader(GraderConfig(use_math_verify=False)) as g:
        yield g


def test_eval_counts_truncated_responses_as_wrong_in_every_accuracy(grader):
    tok = build_tiny_tokenizer()
    cfg = EvalConfig(n_samples=4, pass_k=(1, 4), chunk=1)
    result = evaluate_dataset("gsm8k", PROBLEMS, ScriptedEngine(tok, SCRIPT), tok, grader, cfg)
    s = result.summary
    assert s["greedy_acc"] == 0.5  # Tom's greedy answer was cut off
    assert s["sample_acc"] == pytest.approx((1 / 4 + 0) / 2)
    assert s["pass@1"] == pytest.approx(1 / 8) and s["pass@4"] == 0.5
    assert s["maj@4"] == 0.5  # "Add 1": four truncated "3"s cast no vote
    assert s["truncated"] == pytest.approx(8 / 10)
    cut = [r for r in result.samples if r["finish_reason"] == CUT]
    assert len(cut) == 8 and all((r["score"], r["reason"], r["extracted"]) == (0.0, "truncated", None) for r in cut)
    kept = [r for r in result.samples if r["finish_reason"] == STOP]
    assert [(r["score"], r["reason"]) for r in kept] == [(1.0, "exact")] * 2


def _trainer_success(dataset: str, problems, outputs, tokenizer, grader) -> list[float]:
    """PPOTrainer._grade on `outputs`, without building models."""
    from rltrain.ppo.trainer import PPOTrainer

    trainer = PPOTrainer.__new__(PPOTrainer)
    trainer.cfg = load_config(None, [f"data.dataset={dataset}", "data.source=unused.jsonl", "model.policy=unused"])
    trainer.tokenizer, trainer.grader = tokenizer, grader
    success, _ = trainer._grade(problems, outputs)
    return success.tolist()


@pytest.mark.parametrize("dataset", ["gsm8k", "math"])
def test_the_trainer_scores_responses_as_eval_does(grader, dataset):
    tok = build_tiny_tokenizer()
    problems = [MathProblem(dataset, p.uid, p.question, p.answer) for p in PROBLEMS]
    script = {"Tom has": SCRIPT["Tom has"][:3] + [("so the total is 18", STOP), ("\\boxed{18}", STOP)],
              "Add 1": SCRIPT["Add 1"]}
    engine = ScriptedEngine(tok, script)
    cfg = EvalConfig(n_samples=4, pass_k=(1,), greedy=False, chunk=2)
    result = evaluate_dataset(dataset, problems, engine, tok, grader, cfg)
    from rltrain.data.prompts import format_prompt

    ids = [tok(format_prompt(tok, p.question, cfg.prompt), add_special_tokens=False)["input_ids"] for p in problems]
    outputs = engine.generate(ids, SamplingParams(n=4, temperature=1.0))
    trainer = _trainer_success(dataset, problems, outputs, tok, grader)
    assert trainer == [r["score"] for r in result.samples]
    plain = 1.0 if dataset == "gsm8k" else 0.0  # "so the total is 18": the last-number fallback, GSM8K only
    assert trainer == [0.0, 0.0, plain, 1.0] + [0.0] * 4


def test_grade_responses_does_not_read_truncated_responses():
    class Recording:
        def __init__(self):
            self.seen = []

        def grade(self, responses, golds, *, number_fallback):
            self.seen.append((list(responses), number_fallback))
            return [type("G", (), {"score": 1.0})() for _ in responses]

    g = Recording()
    out = grade_responses(g, ["a", "b", "c"], ["1", "2", "3"], [CUT, STOP, CUT], number_fallback=False)
    assert g.seen == [(["b"], False)]
    assert [(r.score, r.reason) for r in (out[0], out[2])] == [(0.0, "truncated")] * 2 and out[1].score == 1.0
    with pytest.raises(ValueError, match="unknown finish reasons"):
        grade_responses(g, ["a"], ["1"], ["abort"], number_fallback=False)
    with pytest.raises(ValueError, match="same length"):
        grade_responses(g, ["a"], ["1"], [], number_fallback=False)
    assert [number_fallback_for(d) for d in ("arithmetic", "gsm8k", "math", "math500")] == [True, True, False, False]


def test_auto_labels_count_truncated_completions_and_solutions_as_wrong(grader):
    class Completer:
        def complete(self, requests, m):  # the first completion was cut off, the rest are plain texts
            return [[Completion("".join(prefix) + "\\boxed{6}", CUT)] + ["".join(prefix) + "\\boxed{6}"] * (m - 1)
                    for _, prefix in requests]

    steps = ["1 + 2 = 3\n\n", "3 + 3 = 6\n\n", "\\boxed{6}"]
    solutions = [Solution("q", "6", steps), Solution("q", "6", steps, finish_reason=CUT)]
    soft = auto_label_steps(solutions, Completer(), grader, m=2, soft=True)
    assert [e.labels for e in soft] == [[0.5, 0.5, 1.0], [0.5, 0.5, 0.0]]
    one = auto_label_steps(solutions, Completer(), grader, m=1)
    assert [e.labels for e in one] == [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    text = "".join(steps)
    assert [e.label for e in outcome_examples([(s, text) for s in solutions], grader)] == [1.0, 0.0]


def test_sampled_solutions_keep_their_finish_reason(grader):
    tok = build_tiny_tokenizer()
    engine = ScriptedEngine(tok, {"Add 1": [("", STOP), ("\\boxed{3}", CUT), ("\\boxed{3}", STOP)]})
    samples = sample_solutions(["Add 1 and 2."], ["3"], engine, tok, SamplingParams(n=2, temperature=1.0))
    assert [s.finish_reason for s, _ in samples] == [CUT, STOP]
    assert [e.label for e in outcome_examples(samples, grader)] == [0.0, 1.0]
