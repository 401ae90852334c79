"""Evaluation: pass@k, the per-dataset runner with a scripted engine, and the CLI end to end."""
import json
import runpy
import sys
from math import comb

import pytest
import torch
from shared_data import data_file

from rltrain.data import MathProblem
from rltrain.eval.cli import format_table, main
from rltrain.eval.metrics import mean_pass_at_k, pass_at_k
from rltrain.eval.runner import DatasetResult, EvalConfig, evaluate_dataset
from rltrain.grading import Grader, GraderConfig
from rltrain.models.tiny import build_tiny, build_tiny_tokenizer, save_tiny
from scripted_engine import ScriptedEngine


@pytest.mark.parametrize("n, c, k", [(10, 3, 1), (10, 3, 5), (5, 0, 2), (5, 5, 5), (20, 1, 10), (4, 2, 3)])
def test_pass_at_k_is_the_unbiased_estimator(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_k_errors_and_mean():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    assert mean_pass_at_k([0, 4], 4, 1) == pytest.approx(0.5)


def test_evaluate_dataset_metrics_and_records():
    tok = build_tiny_tokenizer()
    problems = [MathProblem("gsm8k", "a", "Tom has 5 apples.", "18"), MathProblem("gsm8k", "b", "Add 1 and 2.", "3")]
    script = {
        "Tom has": ["\\boxed{18}", "so 18", "#### 17", "\\boxed{18.0}", "no idea"],  # greedy right, 2/4 sampled
        "Add 1": ["\\boxed{4}", "3", "4", "5", "6"],  # greedy wrong, 1/4 sampled
    }
    cfg = EvalConfig(n_samples=4, pass_k=(1, 2, 4), chunk=1)
    seen = []
    with Grader(GraderConfig(use_math_verify=False)) as grader:
        result = evaluate_dataset("gsm8k", problems, ScriptedEngine(tok, script), tok, grader, cfg, seen.append)
    assert sum(seen) == 2 * cfg.generations_per_problem()
    s = result.summary
    assert s["problems"] == 2 and s["greedy_acc"] == 0.5 and s["sample_acc"] == pytest.approx(3 / 8)
    assert s["pass@1"] == pytest.approx(3 / 8)
    assert s["pass@2"] == pytest.approx((pass_at_k(4, 2, 2) + pass_at_k(4, 1, 2)) / 2)
    assert s["pass@4"] == 1.0
    assert len(result.samples) == 10
    first = result.samples[0]
    assert {"prompt", "response", "extracted", "score", "reason", "gold", "mode", "finish_reason"} <= set(first)
    assert (first["mode"], first["response"], first["extracted"], first["score"]) == ("greedy", "\\boxed{18}", "18", 1.0)


def test_eval_config_validation():
    with pytest.raises(ValueError, match="pass_k"):
        EvalConfig(n_samples=2, pass_k=(4,))
    with pytest.raises(ValueError, match="nothing to do"):
        EvalConfig(n_samples=0, pass_k=(), greedy=False)


def test_format_table():
    table = format_table([DatasetResult("gsm8k", {"problems": 3, "greedy_acc": 1 / 3}, [])])
    assert table.splitlines()[0].split() == ["dataset", "problems", "greedy_acc"]
    assert table.splitlines()[2].split() == ["gsm8k", "3", "0.3333"]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    model, tok = build_tiny(seed=0)
    return save_tiny(model, tok, tmp_path_factory.mktemp("tiny"))


def test_cli_end_to_end_on_tiny_model_and_shared_gsm8k(tiny_model_dir, tmp_path, capsys):
    gsm8k = data_file("gsm8k/test.jsonl")
    out = tmp_path / "eval"
    code = main(["--model", str(tiny_model_dir), "--data", f"gsm8k={gsm8k}", "--limit", "3", "--n-samples", "2",
                 "--max-new-tokens", "12", "--out", str(out), "--no-progress", "--grader-timeout", "1"])
    assert code == 0
    records = [json.loads(line) for line in (out / "samples_gsm8k.jsonl").read_text().splitlines()]
    assert len(records) == 3 * (1 + 2)
    assert {r["mode"] for r in records} == {"greedy", "sample"}
    assert all(r["score"] in (0.0, 1.0) and r["reason"] and r["gold"] for r in records)
    assert records[0]["gold"] == "18" and "Janet" in records[0]["prompt"]
    summary = json.loads((out / "summary.json").read_text())["results"]["gsm8k"]
    assert set(summary) == {"problems", "greedy_acc", "sample_acc", "pass@1", "pass@2", "maj@2", "truncated"}
    assert summary["problems"] == 3
    cut = [r for r in records if r["finish_reason"] == "length"]
    assert cut and all((r["score"], r["reason"]) == (0.0, "truncated") for r in cut)
    assert summary["truncated"] == pytest.approx(len(cut) / len(records))
    printed = capsys.readouterr().out
    assert "gsm8k" in printed and "greedy_acc" in printed and "truncated responses score 0" in printed


def test_cli_module_entry_point_and_bad_data_spec(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["rltrain.eval", "--model", str(tmp_path), "--data", "svamp=x.jsonl"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("rltrain.eval", run_name="__main__")
    assert exit_info.value.code == 2
    assert "unknown dataset name 'svamp'" in capsys.readouterr().err
