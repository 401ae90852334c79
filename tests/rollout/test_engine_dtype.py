"""The rollout engine's dtype follows the trainer's compute dtype unless set explicitly: config ->
VLLMEngineConfig -> `vllm.LLM` keyword arguments (no vLLM needed), and the log line naming the choice."""
from __future__ import annotations

import pytest

from rltrain.config import ConfigError, load_config
from rltrain.rollout.engine_dtype import engine_dtype, trainer_compute_dtype
from rltrain.rollout.factory import build_engine, describe, vllm_engine_config

VLLM = ["rollout.engine=vllm"]


@pytest.mark.parametrize("device, overrides, expected", [
    ("cpu", [], "float32"),
    ("cpu", ["model.dtype=bfloat16"], "float32"),  # parameters stay float32 on CPU
    ("cuda", [], "bfloat16"),  # FSDP2 mixed precision (the default) computes in bf16
    ("cuda", ["model.mixed_precision=false"], "float32"),
    ("cuda", ["model.mixed_precision=false", "model.dtype=bfloat16"], "bfloat16"),
])
def test_vllm_dtype_follows_the_trainer_by_default(device, overrides, expected):
    cfg = load_config(None, [*VLLM, *overrides])
    assert cfg.rollout.vllm.dtype == "trainer"
    engine_cfg, choice = vllm_engine_config(cfg, device)
    assert engine_cfg.llm_kwargs()["dtype"] == expected
    assert trainer_compute_dtype(cfg.model, device)[0] == expected
    assert choice.engine == choice.trainer == expected and choice.mismatch == ""
    assert f"rollout engine dtype {expected}: rollout.vllm.dtype=trainer" in describe(choice)


@pytest.mark.parametrize("explicit", ["bfloat16", "float16", "auto"])
def test_an_explicit_dtype_wins_and_the_log_says_it_differs(explicit):
    engine_cfg, choice = vllm_engine_config(load_config(None, [*VLLM, f"rollout.vllm.dtype={explicit}"]), "cpu")
    assert engine_cfg.llm_kwargs()["dtype"] == explicit
    line = describe(choice)
    assert f"rollout.vllm.dtype={explicit} set explicitly" in line
    assert "expect a larger sampler_logprob_gap" in line and "trainer float32" in line


def test_an_explicit_dtype_equal_to_the_trainers_is_no_mismatch():
    _, choice = vllm_engine_config(load_config(None, [*VLLM, "rollout.vllm.dtype=bfloat16"]), "cuda")
    assert choice.mismatch == "" and "sampler_logprob_gap" not in describe(choice)


def test_the_builtin_engine_reports_its_parameter_dtype():
    assert engine_dtype(load_config(None, []), "cpu").mismatch == ""
    on_gpu = engine_dtype(load_config(None, []), "cuda")  # float32 parameters, bf16 trainer forwards
    assert (on_gpu.engine, on_gpu.trainer) == ("float32", "bfloat16")
    assert on_gpu.mismatch == "engine dtype float32 vs trainer bfloat16"


def test_a_bad_dtype_names_the_key():
    with pytest.raises(ConfigError, match="config key `rollout.vllm.dtype`: must be one of .*'fp8'"):
        load_config(None, [*VLLM, "rollout.vllm.dtype=fp8"])


def test_build_engine_logs_the_choice_and_passes_it_to_vllm(monkeypatch, tmp_path):
    import rltrain.rollout.vllm_engine as vllm_engine

    built = {}

    def fake_from_config(model_dir, config, *, eos_token_ids=None):
        built.update(model_dir=model_dir, dtype=config.dtype, eos=eos_token_ids)
        return "engine"

    monkeypatch.setattr(vllm_engine.VLLMEngine, "from_config", staticmethod(fake_from_config))
    lines: list[str] = []
    tokenizer = type("Tok", (), {"eos_token_id": 7})()
    engine = build_engine(load_config(None, VLLM), None, tokenizer, tmp_path, device_type="cuda", log=lines.append)
    assert engine == "engine" and built == {"model_dir": tmp_path, "dtype": "bfloat16", "eos": (7,)}
    assert lines == ["rollout engine dtype bfloat16: rollout.vllm.dtype=trainer: the trainer computes in bfloat16 "
                     "(model.mixed_precision: FSDP2 computes in bfloat16 on cuda)"]
