"""Config loading: YAML + dotted overrides, typed fields, errors naming the key (no model loads)."""
from pathlib import Path

import pytest

from rltrain.config import Config, ConfigError, load_config, parse_overrides

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)


def test_overrides_apply_with_types():
    cfg = load_config(REPO / "configs" / "builtin.yaml",
                      ["reward.shaping=delta", "ppo.epochs=3", "ppo.actor_lr=1e-5", "ppo.dual_clip=3",
                       "run.out_dir=/tmp/x", "kl.adaptive=true", "kl.coef=0.1", "data.instruction=None"])
    assert cfg.reward.shaping == "delta" and cfg.ppo.epochs == 3 and cfg.ppo.actor_lr == 1e-5
    assert cfg.ppo.dual_clip == 3.0 and isinstance(cfg.ppo.dual_clip, float)
    assert cfg.run.out_dir == "/tmp/x" and cfg.kl.adaptive and cfg.data.instruction is None


def test_parse_overrides_nested():
    assert parse_overrides(["a.b.c=1", "a.d=x"]) == {"a": {"b": {"c": 1}, "d": "x"}}


@pytest.mark.parametrize("override, key", [
    (["reward.shapng=clip"], "reward.shapng"),
    (["nosuch.key=1"], "nosuch"),
    (["model.tiny.widht=3"], "model.tiny.widht"),
])
def test_unknown_keys_are_named(override, key):
    with pytest.raises(ConfigError, match=f"unknown config key `{key}`"):
        load_config(None, override)


@pytest.mark.parametrize("override, key", [
    (["ppo.epochs=two"], "ppo.epochs"),
    (["ppo.epochs=1.5"], "ppo.epochs"),
    (["ppo.actor_lr=fast"], "ppo.actor_lr"),
    (["run.resume=3"], "run.resume"),
    (["reward.shaping=clipdelta"], "reward.shaping"),
    (["rollout.engine=sglang"], "rollout.engine"),
    (["model.tiny=3"], "model.tiny"),
])
def test_wrong_types_are_named(override, key):
    with pytest.raises(ConfigError, match=f"`{key}`"):
        load_config(None, override)


@pytest.mark.parametrize("override, key", [
    (["model.policy=/some/model"], "data.dataset"),
    (["data.dataset=gsm8k", "model.policy=/m", "warmup.steps=0"], "data.source"),
    (["data.dataset=gsm8k", "data.source=x.jsonl", "model.policy=/m", "reward.prm=rule", "warmup.steps=0"],
     "reward.prm"),
    (["reward.orm_coef=0.5"], "reward.orm_coef"),
    (["kl.adaptive=true", "kl.coef=0"], "kl.adaptive"),
    (["rollout.temperature=0"], "rollout.temperature"),
    (["ppo.mini_batches=1000", "rollout.prompts=2", "rollout.n=2"], "ppo.mini_batches"),
    (["model.tiny.hidden_size=100", "model.tiny.num_attention_heads=3"], "model.tiny.hidden_size"),
    (["ppo.dual_clip=0.5"], "ppo.dual_clip"),
    (["run.iterations=0"], "run.iterations"),
    (["reward.step_delimiter=''"], "reward.step_delimiter"),
    (["reward.step_delimiter=" + "x" * 12], "reward.step_delimiter"),
])
def test_impossible_combinations_are_named(override, key):
    with pytest.raises(ConfigError, match=f"`{key}`"):
        load_config(None, override)


def test_step_delimiter_limit_is_the_kernels_limit():
    from kernels.step_delimiter import MAX_STATES
    from rltrain.config.schema import MAX_STEP_DELIMITER_BYTES

    assert MAX_STEP_DELIMITER_BYTES == MAX_STATES - 1
    assert load_config(None, ["reward.step_delimiter=" + "x" * 11]).reward.step_delimiter == "x" * 11


def test_missing_file_and_bad_override_syntax(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["ppo.epochs"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_main_rejects_bad_config_before_loading_models(tmp_path, capsys):
    from rltrain.main import main

    with pytest.raises(ConfigError, match="ppo.epochs"):
        main([f"run.out_dir={tmp_path / 'run'}", "ppo.epochs=0"])
    assert not (tmp_path / "run").exists()


def test_environment_checks_name_the_key(tmp_path):
    from rltrain.config import check_environment

    with pytest.raises(ConfigError, match="reward.prm"):
        check_environment(load_config(None, ["reward.prm=/m", "reward.scorer_module=no_such_module"]))
    check_environment(load_config(None, ["reward.prm=rule"]))
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="rollout.engine"):
            check_environment(load_config(None, ["rollout.engine=vllm"]))


def test_script_reports_config_errors_in_one_line(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(REPO / "rltrain" / "main.py"), "reward.shaping=clipdelta",
                          f"run.out_dir={tmp_path / 'run'}"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "config key `reward.shaping`" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()
