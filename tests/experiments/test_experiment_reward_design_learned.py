"""`reward_design --rewards learned` end to end on tiny budgets (one seed, three designs, two
iterations, a few auto-labelled samples): rm_train trains the seed's PRM and ORM from its initial
policy, the probe scores restated steps, the designs run with those checkpoints (success only shares
the rule runs' folder), the learned table and the reward models' table are written, and a rerun
reuses the reward models and skips the finished runs. Plus the pieces: the overrides swap, the
`learned:` settings' checks, the probe's solutions."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import yaml
from test_experiment_reward_design import REPO, _run

from rltrain.experiments.learned_rewards import LearnedRMSettings, probe_solutions
from rltrain.experiments.reward_design import learned_overrides, load_experiment

TINY_RMS = {"num_problems": 6, "prm_samples": 1, "m_completions": 1, "orm_samples": 2, "epochs": 1, "lr": 1e-3,
            "batch_size": 8, "eval_frac": 0.3, "probe_problems": 4}


def test_learned_overrides_swap_the_rule_models_for_the_seed_checkpoints(tmp_path):
    exp = load_experiment(REPO / "configs" / "experiments" / "reward_design.yaml")
    by_name = {d.name: d.overrides for d in exp.designs}
    rm = tmp_path / "rm"
    assert learned_overrides(by_name["success"], rm) == by_name["success"]
    assert learned_overrides(by_name["prm_clip"], rm) == {"reward.prm": str(rm / "prm"), "reward.shaping": "clip"}
    orm = learned_overrides(by_name["orm"], rm)
    assert orm["reward.orm"] == str(rm / "orm") and orm["reward.scorer_module"] == "scorers"
    assert orm["reward.prm"] == "none" and orm["reward.orm_coef"] == 0.5
    assert learned_overrides(by_name["grpo_prm_raw"], rm)["ppo.estimator"] == "grpo"
    assert exp.learned == LearnedRMSettings.from_dict(yaml.safe_load(
        (REPO / "configs" / "experiments" / "reward_design.yaml").read_text())["learned"])


def test_learned_settings_refuse_unknown_keys_and_bad_values():
    assert LearnedRMSettings.from_dict(None) == LearnedRMSettings()
    with pytest.raises(ValueError, match=r"unknown keys \['m'\]"):
        LearnedRMSettings.from_dict({"m": 2})
    with pytest.raises(ValueError, match="counts >= 1"):
        LearnedRMSettings.from_dict({"prm_samples": 0})
    with pytest.raises(ValueError, match="eval_frac"):
        LearnedRMSettings.from_dict({"eval_frac": 1.0})


def test_probe_solutions_mark_new_restated_and_wrong_steps():
    from rltrain.tasks.arithmetic import ArithmeticConfig, check_equation, make_problems

    problems = make_problems(40, 3, ArithmeticConfig(min_ops=1, max_ops=3))
    items = probe_solutions(problems, random.Random(0))
    assert len(items) == 4 * len(problems)
    for i, p in enumerate(problems):
        ref, once, thrice, wrong = items[4 * i:4 * i + 4]
        assert "".join(ref[1]) == p.solution and ref[2] == ["new"] * len(p.steps) + ["answer"]
        assert all(s.endswith("\n\n") for s in once[1][:-1]) and not once[1][-1].endswith("\n")
        k = once[2].index("restated")
        assert once[1][k] == once[1][k - 1] and len(once[1]) == len(ref[1]) + 1
        k3 = thrice[2].index("restated_3")
        assert thrice[1][k3 - 3:k3 + 1] == [thrice[1][k3]] * 4 and thrice[2].count("restated_more") == 2
        bad = wrong[2].index("wrong")
        assert check_equation(wrong[1][bad]) is False and wrong[2][bad:] == ["wrong"] * (len(wrong[2]) - bad)
        assert all(check_equation(s) for s, kind in zip(wrong[1], wrong[2]) if kind == "new")


@pytest.mark.slow
def test_learned_reward_models_are_trained_probed_and_used(tmp_path):
    exp = yaml.safe_load((REPO / "configs" / "experiments" / "reward_design.yaml").read_text())
    exp["learned"] = TINY_RMS
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(exp, sort_keys=False))
    out = tmp_path / "exp"
    proc = _run(out, "--config", str(config), "--designs", "success,orm,prm_raw", rewards="learned")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rm = out / "reward_models" / "seed0"
    summary = json.loads((rm / "reward_models.json").read_text())
    assert summary["prm"]["examples"] == 6 and summary["orm"]["examples"] == 12  # 6 problems x 1 / x 2 samples
    assert "held_out_roc_auc" in summary["prm"] and "held_out_roc_auc" in summary["orm"]
    probe = summary["probe"]
    assert probe["problems"] == 4 and probe["prm"]["restated"]["count"] == 4 and probe["orm"]["wrong"]["count"] == 4
    assert all(0 < v["mean"] < 1 for v in list(probe["prm"].values()) + list(probe["orm"].values()))
    for kind in ("prm", "orm"):
        assert (rm / kind / "value_head.safetensors").is_file()
    # the learned designs load the seed's checkpoints; success only (no reward model) is the rule runs' folder
    cfg = yaml.safe_load((out / "runs_learned" / "prm_raw" / "seed0" / "config.yaml").read_text())
    assert cfg["reward"]["prm"] == str(rm / "prm") and cfg["reward"]["shaping"] == "none"
    cfg = yaml.safe_load((out / "runs_learned" / "orm" / "seed0" / "config.yaml").read_text())
    assert cfg["reward"]["orm"] == str(rm / "orm") and cfg["reward"]["scorer_module"] == "scorers"
    assert (out / "runs" / "success" / "seed0" / "summary.json").is_file()
    assert not (out / "runs_learned" / "success").exists()
    md = (out / "results_learned.md").read_text()
    assert "## The learned reward models" in md and "PRM: restated correct step" in md
    for label in ("success only", "+ ORM", "+ PRM (raw)"):
        assert f"| {label} | 1 |" in md
    assert "+ PRM (raw): steps / response well above success only" in md
    rows = list(csv.DictReader(open(out / "reward_models.csv")))
    restated = probe["prm"]["restated"]["mean"]
    assert len(rows) == 1 and float(rows[0]["prm_restated"]) == pytest.approx(restated, rel=1e-5)
    assert (out / "accuracy_learned.png").stat().st_size > 0 and not (out / "results.md").exists()
    # a rerun trains nothing again and runs nothing again
    again = _run(out, "--config", str(config), "--designs", "success,orm,prm_raw", rewards="learned")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "reward models seed 0: reusing" in again.stdout and again.stdout.count("skipped (finished earlier)") == 3
    assert json.loads((out / "experiment_learned.json").read_text())["rewards"] == "learned"
    assert Path(out / "reward_models" / "seed0" / "experiment_rms.json").is_file()
    # new `learned:` settings retrain the reward models and rerun the designs that use them, only those
    exp["learned"] = {**TINY_RMS, "epochs": 2}
    config.write_text(yaml.safe_dump(exp, sort_keys=False))
    changed = _run(out, "--config", str(config), "--designs", "success,orm,prm_raw", rewards="learned")
    assert changed.returncode == 0, changed.stdout[-3000:] + changed.stderr[-3000:]
    assert "reward models seed 0: reusing" not in changed.stdout
    assert changed.stdout.count("skipped (finished earlier)") == 1  # success only
