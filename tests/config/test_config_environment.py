"""check_environment: model / data sources that do not exist here fail before any model loads, naming
the key; Hub ids need their section's opt-in."""
from __future__ import annotations

import pytest

from rltrain.config import ConfigError, load_config
from rltrain.preflight import check_environment

REAL = ["data.dataset=gsm8k", "warmup.steps=0"]


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    for split in ("train", "test"):
        (folder / f"{split}.jsonl").write_text('{"question": "1+1?", "answer": "#### 2"}\n')
    return folder


@pytest.fixture
def policy(tmp_path):
    folder = tmp_path / "policy"
    folder.mkdir()
    return folder


def check(*overrides: str) -> None:
    check_environment(load_config(None, list(overrides)))


def test_existing_local_sources_pass(data, policy):
    check(*REAL, f"model.policy={policy}", f"model.critic_init={policy}", f"data.source={data}")
    check(*REAL, f"model.policy={policy}", f"data.source={data / 'train.jsonl'}")


@pytest.mark.parametrize("key", ["model.policy", "model.critic_init", "data.source"])
@pytest.mark.parametrize("missing", ["/no_such_folder", "./no_such_folder", "../no_such_folder", "~/no_such_folder"])
def test_missing_local_paths_name_the_key(key, missing, data, policy):
    values = {"model.policy": str(policy), "data.source": str(data), key: missing}
    with pytest.raises(ConfigError, match=rf"config key `{key}` = '.*no_such.*': no such file or directory"):
        check(*REAL, *(f"{k}={v}" for k, v in values.items()))


@pytest.mark.parametrize("key", ["reward.prm", "reward.orm"])
def test_missing_reward_model_paths_name_the_key(key, tmp_path):
    missing = tmp_path / "prm"
    with pytest.raises(ConfigError, match=rf"config key `{key}` = '{missing}': no such file or directory"):
        check(f"{key}={missing}")
    missing.mkdir()
    with pytest.raises(ConfigError, match=rf"config key `{key}`: .*not an? [PO]RM layout rltrain knows"):
        check(f"{key}={missing}")  # an empty folder is no reward model
    (missing / "value_head.safetensors").touch()
    check(f"{key}={missing}")


def test_a_path_whose_first_component_exists_is_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(ConfigError, match="`reward.prm` = 'models/prm': no such file or directory"):
        check("reward.prm=models/prm")


def test_hub_ids_need_the_sections_opt_in(data):
    with pytest.raises(ConfigError, match=r"`model.policy` = 'Qwen/Qwen2.5-Math-1.5B': not a local path; .*"
                                          r"set model.allow_download=true"):
        check(*REAL, "model.policy=Qwen/Qwen2.5-Math-1.5B", f"data.source={data}")
    check(*REAL, "model.policy=Qwen/Qwen2.5-Math-1.5B", f"data.source={data}", "model.allow_download=true")
    with pytest.raises(ConfigError, match=r"`reward.prm` = 'org/prm': .*set reward.allow_download=true"):
        check("reward.prm=org/prm", "model.allow_download=true")
    check("reward.prm=org/prm", "reward.allow_download=true")


def test_a_data_folder_needs_both_splits(data, policy):
    (data / "test.jsonl").unlink()
    with pytest.raises(ConfigError, match=r"config key `data.eval_split` = 'test': .*test.jsonl does not exist"):
        check(*REAL, f"model.policy={policy}", f"data.source={data}")


def test_custom_scorer_modules_keep_their_own_names():
    check("reward.orm=rule", "reward.orm_coef=0.5", "reward.scorer_module=outcome_rule")
    with pytest.raises(ConfigError, match="`reward.prm` = '/no/such/prm': no such file"):
        check("reward.prm=/no/such/prm", "reward.scorer_module=outcome_rule")


def test_tilde_is_expanded_when_the_config_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "prm").mkdir()
    (tmp_path / "prm" / "value_head.safetensors").touch()
    cfg = load_config(None, ["reward.prm=~/prm"])
    assert cfg.reward.prm == str(tmp_path / "prm")
    check_environment(cfg)


def test_world_size_must_divide_the_prompts():
    check_environment(load_config(None, ["rollout.prompts=4"]), world_size=2)
    with pytest.raises(ConfigError, match="config key `rollout.prompts`: 4 is not divisible by the world size 3"):
        check_environment(load_config(None, ["rollout.prompts=4"]), world_size=3)



def test_every_rank_needs_rows_for_each_mini_batch():
    cfg = load_config(None, ["rollout.prompts=2", "rollout.n=1", "ppo.mini_batches=2"])
    check_environment(cfg, world_size=1)
    with pytest.raises(ConfigError, match=r"config key `ppo.mini_batches`: 2 exceeds the 1 samples each of the 2 ranks"):
        check_environment(cfg, world_size=2)


def test_math500_folder_without_the_default_train_split_names_the_key(policy, tmp_path):
    folder = tmp_path / "math500"
    folder.mkdir()
    (folder / "test.jsonl").write_text('{"problem": "1+1?", "answer": "2"}\n')
    with pytest.raises(ConfigError, match=rf"config key `data.split` = 'train': {folder}/train.jsonl does not exist "
                                          r"\(data.source is a folder; it holds test.jsonl\)"):
        check("data.dataset=math500", "warmup.steps=0", f"model.policy={policy}", f"data.source={folder}")
    check("data.dataset=math500", "warmup.steps=0", f"model.policy={policy}", f"data.source={folder}",
          "data.split=test")


def test_empty_data_files_are_refused_naming_the_key(data, policy):
    (data / "test.jsonl").write_text("\n  \n")
    with pytest.raises(ConfigError, match=r"config key `data.eval_split` = 'test': .*test.jsonl is empty: "
                                          "no problems to evaluate on"):
        check(*REAL, f"model.policy={policy}", f"data.source={data}")
    (data / "train.jsonl").write_text("")
    with pytest.raises(ConfigError, match=r"config key `data.source` = '.*train.jsonl': the file is empty"):
        check(*REAL, f"model.policy={policy}", f"data.source={data / 'train.jsonl'}")


def test_out_dir_that_cannot_be_written_names_the_key(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match=rf"config key `run.out_dir` = '{afile}/run': cannot make it: {afile} is "
                                          "a file, not a folder"):
        check(f"run.out_dir={afile}/run")
    with pytest.raises(ConfigError, match=rf"config key `run.out_dir` = '{afile}': exists and is not a folder"):
        check(f"run.out_dir={afile}")
    monkeypatch.setattr("os.access", lambda path, mode: False)  # root may write anywhere: stand in for chmod
    with pytest.raises(ConfigError, match=rf"config key `run.out_dir` = '{tmp_path}/run': cannot make it: "
                                          rf"{tmp_path} is not writable"):
        check(f"run.out_dir={tmp_path}/run")


def test_attention_implementations_are_checked_before_any_model_loads():
    with pytest.raises(ConfigError, match="model.attn_implementation"):
        load_config(None, ["model.attn_implementation=foo"])
    assert load_config(None, ["model.attn_implementation=kernels-community/flash-attn"]).model.attn_implementation
    import importlib.util

    if importlib.util.find_spec("flash_attn") is None:
        with pytest.raises(ConfigError, match="`model.attn_implementation`: flash_attention_2 needs the flash-attn"):
            check_environment(load_config(None, ["model.attn_implementation=flash_attention_2"]))
