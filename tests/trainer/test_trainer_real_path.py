"""The real-model path on CPU: a policy and a critic loaded from a local HF folder, GSM8K data,
gradient checkpointing, the GSM8K recipe's config file with overrides (built-in engine, no PRM)."""
from __future__ import annotations

from pathlib import Path

import pytest

from trainer_runs import REPO, metrics, run_main

pytestmark = pytest.mark.slow  # starts processes or trains models

GSM8K = REPO.parent / "shared" / "data" / "gsm8k"


@pytest.mark.skipif(not (GSM8K / "train.jsonl").is_file(), reason=f"GSM8K data not found at {GSM8K}")
def test_local_policy_on_gsm8k(tmp_path):
    from rltrain.models.tiny import TinyModelConfig, build_tiny, save_tiny

    model, tok = build_tiny(config=TinyModelConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=1))
    policy = save_tiny(model, tok, tmp_path / "policy")
    out = tmp_path / "run"
    run_main(out, "--config", str(REPO / "configs" / "gsm8k_qwen2.5_math_1.5b_prm.yaml"),
             f"model.policy={policy}", f"model.critic_init={policy}", "model.dtype=float32",
             "reward.prm=none", "rollout.engine=builtin", f"data.source={GSM8K}", "data.limit=16",
             "run.iterations=2", "run.save_every=0", "run.eval_problems=4", "warmup.steps=0",
             "data.max_prompt_tokens=96")
    rows = metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2]
    assert rows[0]["prm_return_raw"] == 0.0
    assert Path(out / "hf_actor" / "model.safetensors").is_file()
