"""The reward-design experiment end to end on tiny budgets: all fifteen designs run (one seed,
two iterations, a tiny model), the table is written as Markdown + CSV with the expected
columns, the plots are drawn; a rerun skips finished runs and reuses the initial model, and a
run that fails is reported in the table and the exit status. `--designs` selects designs and
named sets."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rltrain.experiments.reward_design import DESIGN_ORDER, load_experiment, parse_seeds

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "run.eval_problems=8", "run.eval_every=0", "model.tiny.hidden_size=64", "model.tiny.intermediate_size=64",
    "model.tiny.num_hidden_layers=1", "model.tiny.num_attention_heads=2", "model.tiny_vocab_size=300",
    "warmup.steps=3", "rollout.prompts=4", "rollout.n=2", "rollout.max_new_tokens=12", "ppo.mini_batches=2",
    "ppo.micro_tokens=128",
]
MEANS = ["greedy_acc", "sampling_acc", "steps_per_response", "response_length", "repeated_step_fraction",
         "prm_return", "train_seconds"]
LABELS = ("success only", "+ ORM", "+ PRM (raw)", "+ PRM Clip", "+ PRM Delta", "+ PRM Clip-Delta", "+ PRM min-form",
          "GRPO success only", "GRPO + PRM (raw)", "GRPO + PRM Clip-Delta", "GRPO + PRM min-form", "GRPO + PRM Clip",
          "GRPO per-reward norm. + PRM Clip", "GRPO mean-only + PRM Clip", "GRPO mean-only + PRM Clip-Delta")


def _run(out: Path, *extra: str, timeout: int = 300, rewards: str = "rule") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "rltrain.experiments.reward_design", "--seeds", "1", "--iterations", "2",
           "--jobs", "2", "--out", str(out), "--rewards", rewards, *[a for kv in TINY for a in ("--set", kv)], *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "kernels")]), TOKENIZERS_PARALLELISM="false")
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_config_has_the_fifteen_designs_and_the_sets():
    exp = load_experiment(REPO / "configs" / "experiments" / "reward_design.yaml")
    assert [d.name for d in exp.designs] == list(DESIGN_ORDER)
    assert len(exp.seeds) >= 3
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("4,7") == [4, 7]
    names = lambda designs: [d.name for d in designs]  # noqa: E731
    assert names(exp.select("paper")) == list(DESIGN_ORDER[:6])
    assert names(exp.select("grpo")) == list(DESIGN_ORDER[7:11])
    assert names(exp.select("estimators,success")) == ["success"] + list(DESIGN_ORDER[6:11])
    assert names(exp.select("normalisation")) == list(DESIGN_ORDER[11:])
    assert names(exp.select("all")) == list(DESIGN_ORDER)
    default = exp.sets.get("default")
    assert names(exp.select(None)) == (default if default else list(DESIGN_ORDER))
    for design in exp.select("grpo,normalisation"):
        assert design.overrides["ppo.estimator"] == "grpo"
    import pytest

    with pytest.raises(ValueError, match="unknown 'nope'"):
        exp.select("success,nope")


@pytest.mark.slow
def test_all_designs_run_and_the_table_is_written(tmp_path):
    out = tmp_path / "exp"
    proc = _run(out, "--designs", "all")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["design"] for r in rows] == list(DESIGN_ORDER)
    for col in MEANS:
        assert f"{col}_mean" in rows[0] and f"{col}_std" in rows[0]
    assert all(r["seeds_ok"] == "1" for r in rows)
    md = (out / "results.md").read_text()
    for label in LABELS:
        assert f"| {label} |" in md
    for header in ("greedy acc (final)", "sampling acc (final)", "steps / response", "response length",
                   "repeated-step fraction", "PRM return", "training s / iteration"):
        assert header in md
    assert "GRPO + PRM min-form: steps / response within 20% of GRPO success only" in md
    from torch.distributed.checkpoint import FileSystemReader

    grpo_run = out / "runs" / "grpo_prm_min_form" / "seed0"
    saved = FileSystemReader(str(next((grpo_run / "checkpoints").glob("iter-*")))).read_metadata()
    assert not any(key.startswith("critic") for key in saved.state_dict_metadata)
    assert not any("value_loss" in line for line in (grpo_run / "metrics.jsonl").read_text().splitlines())
    assert (out / "accuracy.png").stat().st_size > 0 and (out / "steps.png").stat().st_size > 0
    # again, with a design that fails at start (ORM noise out of range): the finished run is
    # skipped, the initial model reused, the failure reported in the table and the exit status
    exp = yaml.safe_load((REPO / "configs" / "experiments" / "reward_design.yaml").read_text())
    exp.pop("sets")  # they name designs this config does not have (the loader refuses that)
    exp["designs"] = {"success": exp["designs"]["success"],
                      "broken": {"label": "broken ORM", "overrides": {
                          "reward.prm": "none", "reward.orm": "rule:0.7", "reward.scorer_module": "outcome_rule",
                          "reward.orm_coef": 0.5}}}
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(exp))
    again = _run(out, "--config", str(config))
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("skipped (finished earlier)") == 1
    assert "broken seed 0: FAILED" in again.stdout and "building" not in again.stdout
    assert "ConsistencyORM: noise must be in [0, 0.5)" in (out / "runs" / "broken" / "seed0" / "run.log").read_text()
    md = (out / "results.md").read_text()
    assert "| broken ORM | 0 (1 failed) |" in md and "broken seed 0: rc 1" in md
    assert "| success only | 1 |" in md


def test_consistency_orm_sees_only_the_response():
    from rltrain.rewards.outcome_rule import ConsistencyORM, load_orm

    orm = ConsistencyORM(noise=0.0)
    good = ["7 + 5 = 12\n\n", "12 * 3 = 36\n\n", "\\boxed{36}<|im_end|>"]
    assert orm.score_text_steps(good) == 1.0
    assert orm.score_text_steps(["7 + 5 = 13\n\n", "\\boxed{13}"]) == 0.0          # wrong equation
    assert orm.score_text_steps(["7 + 5 = 12\n\n", "2 + 5 = 7\n\n", "\\boxed{7}"]) == 0.0    # chain broken
    assert orm.score_text_steps(["7 + 5 = 12\n\n", "7 + 5 = 12\n\n", "\\boxed{12}"]) == 1.0  # restated: fine
    assert orm.score_text_steps(["7 + 5 = 12\n\n", "\\boxed{11}"]) == 0.0          # answer != last result
    assert orm.score_text_steps(["\\boxed{12}"]) == 0.0
    assert load_orm("rule:0.2").noise == 0.2
    noisy = ConsistencyORM(noise=0.3)
    flips = sum(noisy.score_text_steps([f"{i} + 1 = {i + 1}\n\n", f"\\boxed{{{i + 1}}}"]) == 0.0 for i in range(400))
    assert 60 < flips < 180  # about 30% of consistent responses are misjudged


def test_restated_steps_in_the_warm_up():
    import random

    from rltrain.experiments.run_one import MAX_RESTATEMENTS, with_restated_step
    from rltrain.tasks.arithmetic import ArithmeticConfig, make_problems

    problems = make_problems(300, 0, ArithmeticConfig(min_ops=2, max_ops=3))
    once = [with_restated_step(p, random.Random(i)) for i, p in enumerate(problems)]
    assert all(len(r.steps) == len(p.steps) + 1 for r, p in zip(once, problems))
    assert all(set(r.steps) == set(p.steps) and r.answer == p.answer for r, p in zip(once, problems))
    rng = random.Random(1)
    extra = [len(with_restated_step(p, rng, more_prob=0.5).steps) - len(p.steps) for p in problems]
    assert min(extra) == 1 and max(extra) == MAX_RESTATEMENTS
    assert 1.6 < sum(extra) / len(extra) < 2.1  # 1 + 0.5 + 0.25 + 0.125 = 1.875 expected
    for p in problems[:50]:  # the repeats are consecutive copies of one line
        r = with_restated_step(p, rng, more_prob=0.9)
        k = next(i for i in range(len(r.steps) - 1) if r.steps[i] == r.steps[i + 1])
        n = len(r.steps) - len(p.steps)
        assert r.steps[:k + 1] + r.steps[k + 1 + n:] == p.steps
    exp = load_experiment(REPO / "configs" / "experiments" / "reward_design.yaml")
    assert exp.restated_step_prob > 0 and exp.restated_more_prob > 0


@pytest.mark.parametrize("argv,message", [
    (["--set", "ppo.actor_lr=-1"], "config key `ppo.actor_lr`"),
    (["--set", "noequals"], "noequals"),
    (["--iterations", "0"], "--iterations must be > 0"),
    (["--seeds", "abc"], "--seeds: a count or a comma list"),
    (["--seeds", "0"], "--seeds: names no seed"),
    (["--designs", ","], "names no design"),
    (["--jobs", "0"], "--jobs must be > 0"),
    (["--config", "/no/such.yaml"], "no such file"),
])
def test_bad_flags_are_one_line_and_exit_2_before_anything_runs(argv, message, tmp_path, capsys):
    from rltrain.experiments.reward_design import main

    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
