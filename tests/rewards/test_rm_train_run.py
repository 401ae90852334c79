"""rm_train as a new user runs it: on the built-in task's problems and prompt (or a trainer run's), with
progress per labelled step, valid JSON, and a PRM that the trainer then uses as reward.prm."""
from __future__ import annotations

import json
import re

import pytest
from shared_data import data_file
from trainer_runs import metrics, run_main

from rltrain.models.tiny import TinyModelConfig, build_tiny, save_tiny
from rltrain.reward_training.cli import finite_or_none, held_out_auc, main


def strict_json(text: str) -> dict:
    def no_constant(name):
        raise AssertionError(f"not JSON: {name}")
    return json.loads(text, parse_constant=no_constant)


def test_task_arithmetic_is_the_builtin_task_with_its_prompt():
    from rltrain.config import load_config
    from rltrain.config.loader import DEFAULT_CONFIG
    from rltrain.reward_training.problem_source import builtin_task
    from rltrain.tasks.arithmetic import make_problems
    from rltrain.tasks.builtin import BUILTIN_PROMPT

    cfg = load_config(DEFAULT_CONFIG, [])
    source = builtin_task(16, seed=3)
    assert source.dataset == "arithmetic" and source.prompt == BUILTIN_PROMPT
    assert source.max_new_tokens == cfg.rollout.max_new_tokens and source.temperature == cfg.rollout.temperature
    assert source.problems == [(p.question, str(p.answer)) for p in make_problems(16, 3, cfg.data.arithmetic)]
    assert cfg.data.arithmetic.max_ops == 2  # configs/builtin.yaml's task, not the schema's default
    assert all(len(re.findall(r"\d+", q)) <= 3 for q, _ in source.problems)


def test_an_undefined_auc_is_null_with_a_warning(capsys):
    assert held_out_auc([0.2, 0.9, 0.4], [1.0, 1.0, 1.0]) is None
    assert "all 3 held-out labels are positive" in capsys.readouterr().err
    assert held_out_auc([0.2, 0.9], [0.0, 1.0]) == 1.0
    assert finite_or_none({"a": float("nan"), "b": [1.0, float("inf")], "c": "x"}) == {"a": None, "b": [1.0, None],
                                                                                       "c": "x"}


@pytest.mark.slow
def test_prm_from_a_trainer_run_plugs_into_the_trainer(tmp_path, capsys):
    run = tmp_path / "run"
    run_main(run, "run.iterations=1", "run.eval_problems=4", "reward.prm=none", "reward.shaping=none")
    assert (run / "hf_actor" / "config.json").is_file()
    prm = tmp_path / "prm"
    rc = main(["--kind", "prm", "--run", str(run), "--out", str(prm), "--num-problems", "6", "--n-samples", "2",
               "--m-completions", "1", "--eval-frac", "0.3", "--lr", "1e-3"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "labelling steps" in err and "(arithmetic, at most 12 tokens" in err  # the run's rollout length
    summary = strict_json((prm / "rm_train.json").read_text())
    assert summary["examples"] == 12 and summary["config"]["model"] == str(run / "hf_actor")
    assert summary["held_out_roc_auc"] is None or 0.0 <= summary["held_out_roc_auc"] <= 1.0
    out = tmp_path / "with_prm"
    run_main(out, "run.iterations=2", "run.eval_problems=4", f"reward.prm={prm}", "reward.eta=0.5")
    rows = metrics(out)
    assert [r.iteration for r in rows] == [1, 2] and all(r["prm_return_raw"] != 0.0 for r in rows)


def test_model_is_required_without_a_run(tmp_path, capsys):
    assert main(["--kind", "prm", "--task", "arithmetic", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--model is needed" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["config.yaml"])
def test_run_without_config_is_a_clear_error(tmp_path, capsys, missing):
    assert main(["--kind", "orm", "--run", str(tmp_path), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert f"no {missing}" in capsys.readouterr().err


def test_orm_from_gsm8k_problems(tmp_path):
    data = data_file("gsm8k/train.jsonl")
    model, tok = build_tiny(config=TinyModelConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=1))
    policy = save_tiny(model, tok, tmp_path / "policy")
    out = tmp_path / "orm"
    assert main(["--kind", "orm", "--model", str(policy), "--out", str(out), "--data", f"gsm8k={data}", "--limit", "3",
                 "--n-samples", "2", "--max-new-tokens", "4", "--eval-frac", "0", "--no-progress"]) == 0
    summary = strict_json((out / "rm_train.json").read_text())
    assert summary["examples"] == 6 and summary["positive_fraction"] == 0.0  # 4 tokens never reach an answer
