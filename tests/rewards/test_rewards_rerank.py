"""Best-of-N reranking: step-score aggregation, majority vote, the runner's metrics and the eval CLI."""
import json

import pytest
import torch
from shared_data import data_file
from scripted_engine import ScriptedEngine

from rltrain.data import MathProblem
from rltrain.eval.cli import main
from rltrain.eval.rerank import Reranker, aggregate_step_scores, best_index, majority_vote
from rltrain.eval.runner import EvalConfig, evaluate_dataset
from rltrain.grading import Grader, GraderConfig
from rltrain.models.tiny import TinyModelConfig, build_tiny, build_tiny_tokenizer, save_tiny
from rltrain.rewards import ValueHeadModel


def test_aggregate_step_scores():
    s = torch.tensor([[0.9, 0.2, 0.8], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0], [0.6, 0.7, 0.0]])
    n = torch.tensor([3, 1, 0, 2])
    torch.testing.assert_close(aggregate_step_scores(s, n, "min"), torch.tensor([0.2, 0.5, 0.0, 0.6]))
    torch.testing.assert_close(aggregate_step_scores(s, n, "last"), torch.tensor([0.8, 0.5, 0.0, 0.7]))
    torch.testing.assert_close(aggregate_step_scores(s, n, "prod"), torch.tensor([0.144, 0.5, 0.0, 0.42]))
    with pytest.raises(ValueError, match="how"):
        aggregate_step_scores(s, n, "max")


def test_majority_vote_and_best_index():
    assert majority_vote(["18", "\\boxed{17}", "18.0", None, "17"]) in (0, 1)
    assert majority_vote(["3", "4", "4"]) == 1
    assert majority_vote([None, None]) is None
    assert best_index([0.1, 0.9, 0.9]) == 1 and best_index([]) is None


class LengthORM:
    """Scores a response by its length: the longest sample wins."""

    def score(self, batch):
        return batch.response_mask.sum(1).float()


class StepCountPRM:
    """Every step scores 0.5 except those containing '9', which score 0.1."""

    def score_steps(self, batch):
        k = max(1, int(batch.segments.num_steps.max()))
        out = torch.zeros(batch.size, k)
        for b, steps in enumerate(batch.step_texts):
            for i, s in enumerate(steps):
                out[b, i] = 0.1 if "9" in s else 0.5
        return out


def test_runner_reports_majority_and_best_of_n():
    tok = build_tiny_tokenizer()
    problems = [MathProblem("gsm8k", "a", "Tom has 5 apples.", "18"), MathProblem("gsm8k", "b", "Add 1 and 2.", "3")]
    script = {"Tom has": ["x", "9 \\boxed{17}", "so the long answer is \\boxed{18}", "\\boxed{17}"],
              "Add 1": ["x", "9\n\n\\boxed{4}", "\\boxed{3}", "\\boxed{4}"]}
    cfg = EvalConfig(n_samples=3, pass_k=(1,), chunk=1)
    seps = [i for i in range(len(tok)) if tok.decode([i]).endswith("\n\n")]
    with Grader(GraderConfig(use_math_verify=False)) as grader:
        orm = evaluate_dataset("gsm8k", problems, ScriptedEngine(tok, script), tok, grader, cfg,
                               reranker=Reranker("orm", LengthORM(), tok, seps))
        prm = evaluate_dataset("gsm8k", problems, ScriptedEngine(tok, script), tok, grader, cfg,
                               reranker=Reranker("prm-min", StepCountPRM(), tok, seps))
    assert orm.summary["maj@3"] == 0.0  # 17 and 4 win the votes
    assert orm.summary["best_of_3_orm"] == 0.5  # the longest: right for Tom, "9\n\n\\boxed{4}" for Add
    assert prm.summary["best_of_3_prm-min"] == 1.0  # 0.5 each, the '9' step loses; ties -> earliest
    sampled = [r for r in orm.samples if r["mode"] == "sample"]
    assert all("rm_score" in r for r in sampled)
    assert all("rm_score" not in r for r in orm.samples if r["mode"] == "greedy")


def test_eval_cli_rerank_with_a_value_head_prm(tmp_path, capsys):
    model, tok = build_tiny(config=TinyModelConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=1))
    policy = save_tiny(model, tok, tmp_path / "policy")
    ValueHeadModel.from_backbone(policy).save_pretrained(tmp_path / "prm", tokenizer=tok)
    gsm8k = data_file("gsm8k/test.jsonl")
    for mode in ("prm-prod", "orm"):
        out = tmp_path / mode
        assert main(["--model", str(policy), "--data", f"gsm8k={gsm8k}", "--limit", "2", "--n-samples", "2",
                     "--max-new-tokens", "8", "--no-greedy", "--rerank", mode, "--rm", str(tmp_path / "prm"),
                     "--out", str(out), "--no-progress"]) == 0
        summary = json.loads((out / "summary.json").read_text())["results"]["gsm8k"]
        assert {"maj@2", f"best_of_2_{mode}"} <= set(summary)
    assert "best_of_2_orm" in capsys.readouterr().out
    assert main(["--model", str(policy), "--data", f"gsm8k={gsm8k}", "--rerank", "orm"]) == 2
    assert "--rerank needs --rm" in capsys.readouterr().err
