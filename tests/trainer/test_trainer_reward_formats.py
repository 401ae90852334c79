"""Two PPO iterations on the built-in task with each reward-model format as the trainer's reward.prm
(and a sequence-classification ORM as reward.orm): the checkpoint folders are written here in the
published layouts (tests/rm_checkpoints.py), with tokenizers that are not the policy's."""
from __future__ import annotations

import pytest
from trainer_runs import metrics, run_main

from rltrain.models.tiny import build_tiny_tokenizer
from tiny_checkpoints import (as_qwen_prm_tokenizer, write_causal_lm, write_qwen_prm,
                                              write_sequence_classifier, write_token_classifier)

pytestmark = pytest.mark.slow  # starts processes or trains models

TWO_ITERATIONS = ["run.iterations=2", "run.eval_problems=4", "run.save_every=0", "run.export_hf=false",
                  "reward.shaping=clip_delta", "reward.eta=0.5"]


def reward_tokenizer():
    return as_qwen_prm_tokenizer(build_tiny_tokenizer(["Start with 3. Add 4, then multiply by 2."], vocab_size=300))


def prm_checkpoint(fmt: str, root) -> list[str]:
    """Overrides selecting a freshly written `fmt` checkpoint as the PRM."""
    tok = reward_tokenizer()
    if fmt == "qwen-prm":
        return [f"reward.prm={write_qwen_prm(root / 'prm', tok)[0]}"]
    if fmt == "token-classification":
        orm, _ = write_sequence_classifier(root / "orm", tok, num_labels=1)
        return [f"reward.prm={write_token_classifier(root / 'prm', tok)[0]}", f"reward.orm={orm}",
                "reward.orm_coef=0.5", "reward.scalar_head=raw"]
    if fmt == "step-tag":
        tok.add_tokens([" ки"])
        return [f"reward.prm={write_causal_lm(root / 'prm', tok)[0]}"]
    prm, _ = write_causal_lm(root / "prm", tok, seed=1)
    ref, _ = write_causal_lm(root / "ref", tok, seed=2)
    return [f"reward.prm={prm}", "reward.prm_format=implicit", f"reward.implicit_reference={ref}",
            "reward.implicit_beta=0.5", "reward.eta=0.0"]


@pytest.mark.parametrize("fmt", ["qwen-prm", "token-classification", "step-tag", "implicit"])
def test_two_ppo_iterations_with_each_prm_format(tmp_path, fmt):
    out = tmp_path / "run"
    run_main(out, *TWO_ITERATIONS, *prm_checkpoint(fmt, tmp_path))
    rows = metrics(out)
    assert [r.iteration for r in rows] == [1, 2]
    for r in rows:  # the learned PRM's shaped step rewards reached the returns
        assert r["prm_return_raw"] != 0.0
        if fmt == "token-classification":
            assert r["orm_score"] != 0.0


def test_two_ranks_with_the_prm_sharded(tmp_path):
    """reward.scoring.shard: the PRM is split over the 2 ranks (FSDP2, gloo) inside the trainer."""
    out = tmp_path / "run"
    run_main(out, *TWO_ITERATIONS, *prm_checkpoint("qwen-prm", tmp_path), "reward.scoring.shard=true",
             "reward.scoring.token_budget=64", nproc=2)
    rows = metrics(out)
    assert [r.iteration for r in rows] == [1, 2] and all(r["prm_return_raw"] != 0.0 for r in rows)


def test_the_reward_config_reaches_the_loader():
    import torch

    from rltrain.config import load_config
    from rltrain.rewards.factory import scorer_options

    cfg = load_config(None, ["reward.prm=/m", "reward.prm_format=implicit", "reward.implicit_reference=/r",
                             "reward.implicit_beta=0.25", "reward.orm=/o", "reward.orm_format=sequence-classification",
                             "reward.scalar_head=raw", "reward.scoring.dtype=bfloat16",
                             "reward.scoring.token_budget=77", "reward.scoring.shard=true",
                             "reward.scoring.pack_sequences=false"]).reward
    cpu = torch.device("cpu")
    assert scorer_options(cfg, "prm", cpu) == dict(
        format="implicit", dtype=torch.bfloat16, token_budget=77, shard=True, pack_sequences=False, scalar_head="raw",
        allow_download=False, implicit_reference="/r", implicit_beta=0.25)
    orm = scorer_options(cfg, "orm", cpu)
    assert orm["format"] == "sequence-classification" and "implicit_reference" not in orm
    assert scorer_options(load_config(None, ["reward.prm=/m"]).reward, "prm", cpu)["dtype"] is None  # auto
