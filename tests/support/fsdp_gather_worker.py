"""torchrun worker for tests/vllm_rollouts/test_vllm_weight_sync_fsdp.py: bucketed gathering from an FSDP2 model.

Each rank shards the same tiny model (FSDP2 over gloo, CPU, decoder layers wrapped with
activation checkpointing), gathers it bucket by bucket and checks, against an unsharded copy:
exactly the full state dict (tied lm_head included), at most one bucket of gathered tensors
alive at a time, and a `sync_weights` into a built-in engine holding another model.
Rank 0 writes its findings as JSON to argv[1].
"""
import json
import sys
import weakref

import torch
import torch.distributed as dist
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from rltrain.models.tiny import build_tiny
from rltrain.rollout import HFRolloutEngine
from rltrain.rollout import weight_sync

BUCKET_BYTES = 40_000


def main(out_path: str) -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    reference, tok = build_tiny(seed=0)
    model, _ = build_tiny(seed=0)
    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    for i, layer in enumerate(model.model.layers):
        model.model.layers[i] = checkpoint_wrapper(layer)
        fully_shard(model.model.layers[i], mesh=mesh)
    fully_shard(model, mesh=mesh)

    live: dict[int, int] = {}
    peak = [0]
    real_full_tensor = weight_sync.full_tensor

    def tracking_full_tensor(tensor):
        full = real_full_tensor(tensor)
        key = id(full)
        live[key] = full.numel() * full.element_size()
        weakref.finalize(full, live.pop, key, None)
        peak[0] = max(peak[0], sum(live.values()))
        return full

    weight_sync.full_tensor = tracking_full_tensor
    entries = weight_sync.module_weights(model)
    buckets = weight_sync.plan_buckets(entries, BUCKET_BYTES)
    gathered: dict[str, torch.Tensor] = {}
    for pairs in weight_sync.gather_buckets(buckets):
        for name, tensor in pairs:
            gathered[name] = tensor.clone()
        del pairs, name, tensor
    expected = reference.state_dict()
    same = sorted(gathered) == sorted(expected) and all(torch.equal(gathered[k], expected[k]) for k in expected)
    sharded = sum(isinstance(e.tensor, torch.distributed.tensor.DTensor) for e in entries)

    target, _ = build_tiny(seed=1)
    stats = weight_sync.sync_weights(HFRolloutEngine.from_tokenizer(target, tok), model, bucket_bytes=BUCKET_BYTES)
    synced = all(torch.equal(target.state_dict()[k], expected[k]) for k in expected)
    if dist.get_rank() == 0:
        with open(out_path, "w") as f:
            json.dump({
                "same": same, "synced": synced, "names": sorted(gathered), "sharded": sharded,
                "buckets": len(buckets), "max_bucket_bytes": max(sum(e.nbytes for e in b) for b in buckets),
                "total_bytes": sum(e.nbytes for e in entries), "peak_live_bytes": peak[0],
                "stats_buckets": stats.buckets, "layers_split": [
                    key for key in {e.layer for e in entries}
                    if len({i for i, b in enumerate(buckets) for e in b if e.layer == key}) > 1],
            }, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
