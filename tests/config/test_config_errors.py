"""Config loading: YAML + dotted overrides, typed fields, errors naming the key (no model loads)."""
from pathlib import Path

import pytest

from rltrain.config import Config, ConfigError, load_config, parse_overrides, with_overrides

REPO = Path(__file__).resolve().parents[2]
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
    from rltrain_kernels.steps.delimiter import MAX_STATES
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
    from rltrain.preflight import check_environment

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


def test_importing_the_config_does_not_import_torch():
    import subprocess
    import sys

    code = "import rltrain.config, sys; assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("override, words", [
    ("reward.eta=nan", "config key `reward.eta`: must be a finite number, got 'nan'"),
    ("ppo.entropy_coef=nan", "config key `ppo.entropy_coef`: must be a finite number, got 'nan'"),
    ("ppo.actor_lr=inf", "config key `ppo.actor_lr`: must be a finite number > 0, got 'inf'"),
    ("rollout.token_budget=0", "config key `rollout.token_budget`: must be an int >= 1, got 0"),
    ("data.max_prompt_tokens=-5", "config key `data.max_prompt_tokens`: must be an int >= 1, got -5"),
    ("ppo.estimator.vf_coef=-1", "config key `ppo.estimator.vf_coef`: must be a finite number >= 0, got -1.0"),
    ("data.arithmetic.max_factor=1", "config key `data.arithmetic.max_factor`: must be an int >= 2, got 1"),
    ("model.tiny.max_position_embeddings=8", "config key `model.tiny.max_position_embeddings`: 8 is shorter"),
    ("ppo.epochs=true", "config key `ppo.epochs`: must be an int >= 1, got True"),
    ("grading.workers=0", "config key `grading.workers`: must be an int >= 1, got 0"),
])
def test_values_that_cannot_work_name_key_and_value(override, words):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert str(info.value).startswith(words) and "\n" not in str(info.value)


def test_every_float_key_rejects_nan_and_inf():
    from rltrain.config.reference import rows

    floats = [r for r in rows() if r.type.startswith("float")]
    assert {"reward.eta", "rollout.vllm.gpu_memory_utilization", "ppo.estimator.std_floor"} <= {r.key for r in floats}
    for r in floats:
        for bad in ("nan", ".inf", "-inf"):
            with pytest.raises(ConfigError, match=f"config key `{r.key}`: must be a finite number"):
                load_config(None, [r.requires, f"{r.key}={bad}"] if r.requires else [f"{r.key}={bad}"])


def test_max_position_embeddings_must_hold_prompt_plus_response():
    longest = ["data.max_prompt_tokens=100", "rollout.max_new_tokens=28"]
    assert load_config(None, [*longest, "model.tiny.max_position_embeddings=128"]).model.tiny.max_position_embeddings == 128
    with pytest.raises(ConfigError, match=r"max_position_embeddings`: 127 is shorter .* = 128 tokens"):
        load_config(None, [*longest, "model.tiny.max_position_embeddings=127"])


def test_arithmetic_max_factor_1_is_rejected_where_the_task_is_built():
    import random

    from pydantic import ValidationError

    from rltrain.tasks.arithmetic import ArithmeticConfig, make_problem

    with pytest.raises(ValidationError, match="max_factor"):
        ArithmeticConfig(max_factor=1)
    assert make_problem(random.Random(0), ArithmeticConfig(max_factor=2)).answer is not None


def test_duplicate_yaml_keys_name_file_line_and_key(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("run:\n  iterations: 2\nppo:\n  epochs: 1\n  actor_lr: 1e-5\n  epochs: 2\n")
    with pytest.raises(ConfigError, match=rf"config file {path}:6: duplicate key `ppo.epochs`"):
        load_config(path)
    path.write_text("reward: {eta: 0.5}\nreward: {eta: 0.1}\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: duplicate key `reward`"):
        load_config(path)


def test_yaml_syntax_errors_name_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("run:\n  iterations: 2\n  out_dir: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"config file {path}:\d+: "):
        load_config(path)


@pytest.mark.parametrize("raw, expected", [
    ("\\n\\n", "\n\n"),            # unquoted on a shell command line: backslash-n text
    ('"\\n\\n"', "\n\n"),          # YAML double quotes: already newlines
    ("\\t", "\t"),
    ("ки", "ки"),
])
def test_step_delimiter_overrides_read_escapes(raw, expected):
    assert load_config(None, [f"reward.step_delimiter={raw}"]).reward.step_delimiter == expected


def test_step_delimiter_in_yaml(tmp_path):
    path = tmp_path / "delim.yaml"
    path.write_text('reward:\n  step_delimiter: "\\n\\n"\n')
    assert load_config(path).reward.step_delimiter == "\n\n"
    path.write_text("reward:\n  step_delimiter: \\n\\n\n")  # unquoted: four characters of text
    with pytest.raises(ConfigError, match=r"config key `reward.step_delimiter`: holds a backslash escape as text"):
        load_config(path)


def test_moved_key_says_where_it_went():
    with pytest.raises(ConfigError, match=r"`rollout.gpu_memory_utilization`: it is now "
                                          r"`rollout.vllm.gpu_memory_utilization`"):
        load_config(None, ["rollout.gpu_memory_utilization=0.4"])
    assert load_config(None, ["rollout.vllm.gpu_memory_utilization=0.4"]).rollout.vllm.gpu_memory_utilization == 0.4


def test_config_is_frozen_and_with_overrides_revalidates():
    from pydantic import ValidationError

    from rltrain.config import with_overrides

    cfg = load_config(None, [])
    with pytest.raises(ValidationError):
        cfg.reward.shaping = "clip"
    changed = with_overrides(cfg, ["reward.shaping=clip"])
    assert (cfg.reward.shaping, changed.reward.shaping) == ("clip_delta", "clip")
    with pytest.raises(ConfigError, match="reward.shaping"):
        with_overrides(cfg, ["reward.shaping=clipx"])


def test_grading_section_builds_the_grader_config():
    from rltrain.grading import GraderConfig

    auto = load_config(None, []).grading
    assert auto.grader_config("arithmetic") == GraderConfig(workers=1, use_math_verify=False)
    assert auto.grader_config("gsm8k").use_math_verify is True
    explicit = load_config(None, ["grading.use_math_verify=true", "grading.timeout_s=5", "grading.workers=3"]).grading
    assert explicit.grader_config("arithmetic") == GraderConfig(timeout_s=5.0, workers=3, use_math_verify=True)
    with pytest.raises(ConfigError, match="config key `grading.timeout_s`: must be a finite number > 0"):
        load_config(None, ["grading.timeout_s=0"])


def test_main_reports_a_missing_prm_path_before_loading_models(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "no_prm"
    out = subprocess.run([sys.executable, str(REPO / "rltrain" / "main.py"), f"reward.prm={missing}",
                          f"run.out_dir={tmp_path / 'run'}"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"rltrain: config key `reward.prm` = '{missing}': no such file or directory"]
    assert not (tmp_path / "run").exists()


def _torchrun(*args: str, launcher: list[str]) -> "subprocess.CompletedProcess":
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "kernels")]))
    cmd = [sys.executable, *launcher, "--nproc_per_node=2", "--master_port=0", str(REPO / "rltrain" / "main.py"),
           *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_torchrun_prints_the_config_error_once_and_as_root_cause(tmp_path):
    out = _torchrun("reward.eta=nan", f"run.out_dir={tmp_path / 'run'}", launcher=["-m", "torch.distributed.run"])
    line = "rltrain: config key `reward.eta`: must be a finite number, got 'nan'"
    lines = out.stderr.splitlines()
    assert out.returncode == 1  # torchrun's own status after a failed worker
    assert lines.count(line) == 1, out.stderr  # local rank 0 only
    assert f"  traceback : {line}" in lines, out.stderr  # the worker's error file feeds torchrun's summary
    assert "exitcode  : 2" in out.stderr and "[rank0]: Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_launcher_checks_the_config_before_starting_workers(tmp_path):
    out = _torchrun("reward.eta=nan", f"run.out_dir={tmp_path / 'run'}", launcher=["-m", "rltrain.launch"])
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["rltrain: config key `reward.eta`: must be a finite number, got 'nan'"]
    out = _torchrun("rollout.prompts=3", launcher=["-m", "rltrain.launch"])
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["rltrain: config key `rollout.prompts`: 3 is not divisible by the world size 2"]


def test_report_writes_an_error_file_torchrun_reads(tmp_path, capsys):
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    from rltrain.config.report import report_config_error

    error_file = tmp_path / "error.json"
    env = {"LOCAL_RANK": "1", "TORCHELASTIC_ERROR_FILE": str(error_file)}
    assert report_config_error("config key `x`: bad", env) == 2
    assert capsys.readouterr().err == ""  # only local rank 0 prints
    failure = ProcessFailure(local_rank=1, pid=1, exitcode=2, error_file=str(error_file))
    summary = ChildFailedError("rltrain/main.py", {1: failure}).format_msg()
    assert "traceback : rltrain: config key `x`: bad" in summary
    assert report_config_error("config key `x`: bad", {"LOCAL_RANK": "0"}) == 2
    assert capsys.readouterr().err == "rltrain: config key `x`: bad\n"


def test_shaping_choices_come_from_the_kernels_registry():
    import typing

    from rltrain_kernels.options import SHAPING_MODES
    from rltrain.config.schema import RewardConfig

    assert typing.get_args(RewardConfig.model_fields["shaping"].annotation) == tuple(SHAPING_MODES)
    for mode in SHAPING_MODES:
        assert load_config(None, [f"reward.shaping={mode}"]).reward.shaping == mode


@pytest.mark.parametrize("override, words", [
    (["ppo.estimator=grpo", "rollout.n=1"], "config key `ppo.estimator`: grpo compares the rollout.n samples"),
    (["ppo.estimator=rloo", "rollout.n=1"], "config key `ppo.estimator`: rloo compares the rollout.n samples"),
    (["ppo.estimator=rloo", "ppo.estimator.scale_std=false"],
     "unknown config key `ppo.estimator.scale_std` (known for ppo.estimator.type=rloo: type)"),
    (["ppo.estimator=reinforce_pp", "ppo.estimator.normalize=rewards"],
     "unknown config key `ppo.estimator.normalize` (known for ppo.estimator.type=reinforce_pp: type, std_floor)"),
    (["ppo.estimator.scale_std=false"], "unknown config key `ppo.estimator.scale_std` (known for "
     "ppo.estimator.type=gae: type, lam, whiten_advantages, critic_lr, vf_coef, value_clip)"),  # gae: the default
    (["ppo.estimator=grpo", "ppo.estimator.normalize=tokens"],
     "config key `ppo.estimator.normalize`: must be one of ['returns', 'rewards'], got 'tokens'"),
    (["ppo.estimator=ppo"],
     "config key `ppo.estimator.type`: must be one of ['gae', 'grpo', 'rloo', 'reinforce_pp'], got 'ppo'"),
    (["ppo.estimator.type=ppo", "ppo.estimator.lam=0.5"], "config key `ppo.estimator.type`: must be one of"),
    (["ppo.estimator=3"], "config key `ppo.estimator`: must be one of ['gae', 'grpo', 'rloo', 'reinforce_pp'] or a "
     "mapping with `type` one of them, got 3"),
    (["ppo.estimator=grpo", "ppo.estimator.std_floor=0"],
     "config key `ppo.estimator.std_floor`: must be a finite number > 0, got 0.0"),
    (["ppo.estimator.lam=1.5"], "config key `ppo.estimator.lam`: must be a finite number >= 0 and <= 1, got 1.5"),
    # keys of earlier releases: the same checks as before
    (["ppo.estimator=rloo", "ppo.grpo_scale_std=false"],
     "config key `ppo.grpo_scale_std`: applies to ppo.estimator=grpo, not rloo"),
    (["ppo.grpo_normalize=rewards"], "config key `ppo.grpo_normalize`: applies to ppo.estimator=grpo, not gae"),
    (["ppo.lam=0.9", "ppo.estimator.lam=0.8"], "config key `ppo.lam`: given twice, also as `ppo.estimator.lam`"),
])
def test_estimator_options_are_checked_in_one_line(override, words):
    with pytest.raises(ConfigError) as err:
        load_config(None, override)
    assert str(err.value).startswith(words), str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("overrides", [
    ["ppo.estimator=grpo", "ppo.estimator.scale_std=false", "ppo.estimator.normalize=rewards"],
    ["ppo.estimator.scale_std=false", "ppo.estimator.normalize=rewards", "ppo.estimator=grpo"],  # any order
    ["ppo.estimator.type=grpo", "ppo.estimator.scale_std=false", "ppo.estimator.normalize=rewards"],
    ["ppo.estimator={type: grpo, scale_std: false, normalize: rewards}"],
])
def test_an_estimator_is_a_name_or_a_section(overrides):
    est = load_config(None, overrides).ppo.estimator
    assert (est.type, est.scale_std, est.normalize, est.std_floor) == ("grpo", False, "rewards", 0.1)
    assert est.kernel_options() == {"scale_std": False, "normalize": "rewards", "std_floor": 0.1}


def test_a_new_estimator_type_drops_the_options_of_the_one_it_replaces(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ppo:\n  estimator: {type: gae, lam: 0.5, critic_lr: 0.01}\n")
    assert load_config(path).ppo.estimator.lam == 0.5
    assert load_config(path, ["ppo.estimator=rloo"]).ppo.estimator.type == "rloo"  # lam is gae's, not rloo's
    assert load_config(path, ["ppo.estimator.type=gae", "ppo.estimator.vf_coef=0.5"]).ppo.estimator.lam == 0.5
    cfg = load_config(path)
    assert with_overrides(cfg, ["ppo.estimator=reinforce_pp"]).ppo.estimator.std_floor == 0.1
    assert load_config(None, ["ppo.estimator=grpo"]).ppo.estimator == \
        with_overrides(load_config(None), ["ppo.estimator=grpo"]).ppo.estimator


@pytest.mark.parametrize("old, new, value", [
    (["ppo.lam=0.9"], "lam", 0.9), (["ppo.critic_lr=0.01"], "critic_lr", 0.01),
    (["ppo.estimator=grpo", "ppo.grpo_scale_std=false"], "scale_std", False),
    (["ppo.estimator=grpo", "ppo.grpo_normalize=rewards"], "normalize", "rewards"),
    (["ppo.estimator=reinforce_pp", "ppo.std_floor=0.3"], "std_floor", 0.3),
])
def test_keys_of_earlier_releases_are_read_with_a_notice(old, new, value, capsys):
    assert getattr(load_config(None, old).ppo.estimator, new) == value
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"rltrain: config key `{old[-1].split('=')[0]}` is deprecated: it is now `ppo.estimator.{new}`"]


@pytest.mark.parametrize("file, overrides, want", [
    ("ppo:\n  estimator: {type: gae, lam: 0.95}\n", ["ppo.lam=0.9"], 0.9),  # today's file, an old override
    ("ppo:\n  lam: 0.5\n", ["ppo.estimator.lam=0.8"], 0.8),  # an old file, today's override
    ("ppo:\n  lam: 0.5\n", ["ppo.lam=0.7"], 0.7),
    ("ppo:\n  lam: 0.5\n", [], 0.5),
])
def test_a_later_source_overrides_an_earlier_one_whichever_layout_each_uses(tmp_path, file, overrides, want):
    path = tmp_path / "c.yaml"
    path.write_text(file)
    assert load_config(path, overrides).ppo.estimator.lam == want


def test_an_old_and_a_new_key_in_one_source_are_one_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ppo:\n  lam: 0.5\n  estimator: {lam: 0.6}\n")
    with pytest.raises(ConfigError, match="`ppo.lam`: given twice, also as `ppo.estimator.lam`"):
        load_config(path)
    path.write_text("ppo:\n  lam: 0.5\n")
    with pytest.raises(ConfigError, match="config key `ppo.estimator`: must be one of"):
        load_config(path, ["ppo.estimator=5"])  # a later source replaces the lifted section: still one line
    path.write_text("ppo:\n  estimator: grpo\n  lam: 0.5\n  grpo_scale_std: false\n")
    est = load_config(path).ppo.estimator  # lam had no effect with grpo; the grpo option moves
    assert (est.type, est.scale_std) == ("grpo", False)
    assert load_config(path, ["ppo.estimator=rloo"]).ppo.estimator.type == "rloo"  # grpo's options go with it


def test_an_earlier_key_the_estimator_does_not_take_is_dropped_with_a_notice(capsys):
    assert load_config(None, ["ppo.estimator=rloo", "ppo.lam=0.5", "ppo.std_floor=0.2"]).ppo.estimator.type == "rloo"
    assert capsys.readouterr().err.strip().splitlines() == [
        "rltrain: config key `ppo.lam` is deprecated and has no effect with ppo.estimator=rloo; remove it",
        "rltrain: config key `ppo.std_floor` is deprecated and has no effect with ppo.estimator=rloo; remove it"]


def test_estimator_choices_come_from_the_kernels_registry():
    import typing

    from rltrain_kernels.options import ESTIMATOR_SPECS, ESTIMATORS, NORMALIZATIONS
    from rltrain.config.describe import variants
    from rltrain.config.estimators import ESTIMATOR_CONFIGS, GRPOEstimator
    from rltrain.config.schema import PPOConfig

    tagged = variants(PPOConfig.model_fields["estimator"])
    assert tuple(tagged) == ("gae",) + ESTIMATORS and tagged == ESTIMATOR_CONFIGS
    for name, spec in ESTIMATOR_SPECS.items():  # a critic-free variant carries exactly its spec's options
        assert tuple(f for f in tagged[name].model_fields if f != "type") == spec.options, name
        assert not tagged[name].critic
    assert tagged["gae"].critic
    assert typing.get_args(GRPOEstimator.model_fields["normalize"].annotation) == NORMALIZATIONS
    assert load_config(None, ["ppo.estimator=reinforce_pp", "rollout.n=1"]).ppo.estimator.type == "reinforce_pp"


def test_a_critic_free_run_does_not_check_the_critic_source(tmp_path):
    from rltrain.preflight import check_environment

    missing = str(tmp_path / "no_such_critic")
    check_environment(load_config(None, ["ppo.estimator=grpo", f"model.critic_init={missing}"]))
    with pytest.raises(ConfigError, match="model.critic_init"):
        check_environment(load_config(None, [f"model.critic_init={missing}"]))
