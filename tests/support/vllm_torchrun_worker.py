"""torchrun worker for tests/vllm_rollouts/test_vllm_torchrun.py: one in-process vLLM engine per rank of a
2-rank gloo job, fed from an FSDP2-sharded model.

Every rank builds its engine (together: vLLM creates its groups on the trainer's default
process group), perturbs its model the same way, shards it, syncs in buckets and generates
greedily; rank 0 writes whether both ranks match the unsharded model's own greedy outputs, then
`shutdown()` (which, through vLLM, also destroys the default process group).
"""
import json
import os
import sys

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.distributed.device_mesh import init_device_mesh  # noqa: E402
from torch.distributed.fsdp import fully_shard  # noqa: E402

from rltrain.data import encode_prompts  # noqa: E402
from rltrain.models.tiny import build_tiny, save_tiny  # noqa: E402
from rltrain.rollout import HFRolloutEngine, SamplingParams, VLLMEngine, VLLMEngineConfig, sync_weights  # noqa: E402


def main(model_dir: str, out_path: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    model, tok = build_tiny(seed=0)
    if rank == 0:
        save_tiny(model, tok, model_dir)
    dist.barrier()
    engine = VLLMEngine.from_config(model_dir, VLLMEngineConfig(dtype="float32", max_model_len=256))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.2)
    prompts = encode_prompts(tok, ["1+1?", "Add 4 and 5."])
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=8)
    expected = [o.token_ids for per in HFRolloutEngine.from_tokenizer(model, tok).generate(prompts, greedy) for o in per]
    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    stats = sync_weights(engine, model, bucket_bytes=50_000)
    got = [o.token_ids for per in engine.generate(prompts, greedy) for o in per]
    flags = [None] * dist.get_world_size()
    dist.all_gather_object(flags, got == expected)
    if rank == 0:
        with open(out_path, "w") as f:
            json.dump({"ranks_match": flags, "buckets": stats.buckets, "degenerate": len({tuple(e) for e in expected}) < 2}, f)
    dist.barrier()
    engine.shutdown()
    assert not dist.is_initialized()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
