"""Bucketed full-weight gathering from a 2-rank FSDP2 model (gloo, CPU; no vLLM needed)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rltrain.models.tiny import build_tiny
from rltrain.rollout import HFRolloutEngine
from rltrain.rollout.weight_sync import layer_key, module_weights, plan_buckets, sync_weights

WORKER = Path(__file__).resolve().parents[1] / "support" / "fsdp_gather_worker.py"


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_fsdp2_two_ranks_gather_exactly_the_full_state_dict_one_bucket_at_a_time(tmp_path):
    out = tmp_path / "result.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(WORKER.parents[2]), str(WORKER.parents[2] / "kernels")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["same"] and r["synced"] and r["sharded"] > 0
    assert "lm_head.weight" in r["names"] and not any("_checkpoint_wrapped_module" in n for n in r["names"])
    assert r["buckets"] > 2 and r["stats_buckets"] == r["buckets"] and r["layers_split"] == []
    # never more than one bucket of full tensors alive, and far less than the whole model
    assert r["peak_live_bytes"] <= r["max_bucket_bytes"] < r["total_bytes"]


def test_plain_module_plan_and_sync():
    model, tok = build_tiny(seed=0)
    entries = module_weights(model)
    tied = [e for e in entries if len(e.names) > 1]
    assert [e.names for e in tied] == [("model.embed_tokens.weight", "lm_head.weight")]
    buckets = plan_buckets(entries, 30_000)
    assert [e for b in buckets for e in b] == entries
    for b in buckets:  # whole layers per bucket; a layer above the limit is alone
        assert sum(e.nbytes for e in b) <= 30_000 or len({e.layer for e in b}) == 1
    target, _ = build_tiny(seed=1)
    stats = sync_weights(HFRolloutEngine.from_tokenizer(target, tok), model, bucket_bytes=30_000)
    assert stats.buckets == len(buckets) and stats.bytes == sum(e.nbytes for e in entries)
    for k, v in model.state_dict().items():
        assert torch.equal(target.state_dict()[k], v)
    half = module_weights(model, dtype=torch.bfloat16)
    assert sum(e.nbytes for e in half) * 2 == stats.bytes


def test_layer_key_and_bad_bucket_size():
    assert layer_key("model.layers.12.mlp.experts.3.up_proj.weight") == "model.layers.12"
    assert layer_key("model.norm.weight") == "model.norm.weight"
    with pytest.raises(ValueError, match="bucket_bytes"):
        plan_buckets([], 0)
