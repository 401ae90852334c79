"""torchrun worker for tests/rewards/test_rewards_sharded.py: reward models sharded with FSDP2 over 2 ranks (gloo, CPU).

argv: OUT_JSON QWEN_PRM_DIR LM_DIR REF_DIR ORM_DIR. Each rank scores its own responses (rank 1 has
fewer rows and fewer steps, so it runs out of micro-batches first) with a 2-token budget, sharded
and unsharded; rank 0 writes whether they agree, whether the weights were split, and the shapes.
"""
import json
import sys

import torch
import torch.distributed as dist

from scoring_batches import policy_batch

from rltrain.rewards import load_orm, load_prm

RESPONSES = {0: ["1 + 2 = 3\n\n3 * 2 = 6\n\n\\boxed{6}", "5 - 1 = 4", "7 + 1 = 8\n\n\\boxed{8}"], 1: [""]}


def batch_for(rank: int, tok):
    questions = [f"Question {i}." for i in range(len(RESPONSES[rank]))]
    return policy_batch(tok, RESPONSES[rank], questions, questions=questions)


def sharded_fraction(model) -> float:
    """Share of parameters held as DTensor shards."""
    from torch.distributed.tensor import DTensor

    params = list(model.parameters())
    return sum(isinstance(p, DTensor) for p in params) / max(1, len(params))


def main(out: str, qwen: str, lm: str, ref: str, orm: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    results = {}
    for name, load in {
        "qwen-prm": lambda shard: load_prm(qwen, shard=shard, token_budget=2),
        "implicit": lambda shard: load_prm(lm, format="implicit", implicit_reference=ref, implicit_beta=0.1,
                                           shard=shard, token_budget=2),
        "sequence-classification": lambda shard: load_orm(orm, shard=shard, token_budget=2, scalar_head="raw"),
    }.items():
        plain, sharded = load(False), load(True)
        batch = batch_for(rank, plain.tokenizer)
        score = (lambda s: s.score(batch)) if name == "sequence-classification" else (lambda s: s.score_steps(batch))
        a, b = score(plain), score(sharded)
        same = torch.tensor([float(a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-5))])
        dist.all_reduce(same, op=dist.ReduceOp.MIN)
        results[name] = {"same": bool(same.item()), "sharded_fraction": sharded_fraction(sharded.model),
                         "collective": sharded.collective, "shape": list(b.shape),
                         "nonzero": bool((b != 0).any())}
    if rank == 0:
        with open(out, "w") as f:
            json.dump(results, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
