"""The critic-free estimators in the trainer: no critic built, trained or saved; the advantages are
the kernel's, grouped by prompt; metrics without the critic's; checkpoints that say which."""
from __future__ import annotations

import math

import pytest
import torch

from rltrain.config import load_config, with_overrides
from trainer_runs import TINY, metrics, run_main

pytestmark = pytest.mark.slow  # starts processes or trains models

CRITIC_METRICS = ("value_loss", "value_clip_fraction", "critic_grad_norm", "explained_variance")


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    from rltrain.distributed.setup import init_distributed, shutdown_distributed
    from rltrain.ppo.trainer import PPOTrainer

    out = tmp_path_factory.mktemp("estimators")
    cfg = load_config(None, [*TINY, f"run.out_dir={out}", "reward.prm=rule", "reward.eta=0.5", "rollout.n=4",
                             "ppo.estimator=grpo"])
    t = PPOTrainer(cfg, init_distributed(), out)
    yield t
    t.close()
    shutdown_distributed()


def test_no_critic_is_built(trainer):
    assert trainer.critic is None and trainer.critic_opt is None and trainer.critic_sched is None
    params = sum(p.numel() for p in trainer.actor.parameters())
    assert params > 0


@pytest.mark.parametrize("estimator", ["grpo", "{type: grpo, scale_std: false}", "{type: grpo, normalize: rewards}",
                                       "rloo", "reinforce_pp"])
def test_each_estimator_runs_an_iteration(trainer, estimator):
    trainer.cfg = with_overrides(trainer.cfg, [f"ppo.estimator={estimator}", "reward.shaping=min_form"])
    m = trainer.step()
    assert not set(CRITIC_METRICS) & set(m)
    for key in ("success_rate", "prm_return_raw", "prm_return_shaped", "policy_loss", "entropy", "actor_grad_norm"):
        assert math.isfinite(m[key]), key
    assert 0.0 <= m["prm_return_shaped"] <= m["prm_return_raw"] + 1e-6  # min-form: the lowest score, not a sum


def test_outcome_grpo_advantages_are_grouped_by_prompt(trainer):
    """No PRM, no KL: each response's advantage is one number on all its tokens, (R - mean) / std
    over the rollout.n samples of its prompt (consecutive rows)."""
    trainer.cfg = with_overrides(trainer.cfg, ["ppo.estimator={type: grpo}", "reward.prm=none"])
    prm, trainer.prm = trainer.prm, None
    try:
        rollout = trainer._rollout()
        scores = trainer._score(rollout)
        est = trainer._estimate(rollout, scores)
    finally:
        trainer.prm = prm
    n, mask = trainer.cfg.rollout.n, est.batch.response_mask
    reward = scores.outcome.view(-1, n)
    std = reward.std(1, keepdim=True).clamp(min=trainer.cfg.ppo.estimator.std_floor)
    want = torch.where(reward.std(1, keepdim=True) > 0, (reward - reward.mean(1, keepdim=True)) / std, 0.0)
    torch.testing.assert_close(est.batch.advantages, want.flatten()[:, None] * mask, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(est.batch.returns, scores.outcome[:, None] * mask)
    assert float(est.batch.values.abs().sum()) == 0.0


def test_reinforce_pp_whitening_over_ranks_matches_the_kernel():
    """The trainer's all-rank version (rltrain.ppo.losses.whiten_returns_global) equals the kernel's on one rank."""
    import rltrain_kernels
    from rltrain.ppo.losses import whiten_returns_global

    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 5, (6, 7), generator=gen)
    mask = torch.arange(7)[None, :] < torch.tensor([7, 3, 0, 5, 1, 7])[:, None]
    out = rltrain_kernels.fused_reward_advantages(tokens, mask, torch.randn(6, generator=gen), estimator="reinforce_pp",
                                          separator_ids=[1], step_scores=torch.rand(6, 8, generator=gen),
                                          shaping="delta", logprobs=-torch.rand(6, 7, generator=gen),
                                          ref_logprobs=-torch.rand(6, 7, generator=gen), kl_coef=0.1, backend="torch")
    torch.testing.assert_close(whiten_returns_global(out.returns, mask, 0.1), out.advantages, rtol=1e-5, atol=1e-6)


def test_checkpoint_holds_no_critic_and_resume_checks_the_estimator(tmp_path):
    from torch.distributed.checkpoint import FileSystemReader

    out = tmp_path / "run"
    run_main(out, "ppo.estimator=rloo", "run.iterations=2", "run.stop_after=1")
    ckpt = out / "checkpoints" / "iter-000001"
    keys = list(FileSystemReader(str(ckpt)).read_metadata().state_dict_metadata)
    assert any(k.startswith("actor.") for k in keys) and not any(k.startswith("critic") for k in keys), keys
    assert torch.load(ckpt / "rank0.pt", weights_only=False)["estimator"] == "rloo"
    with pytest.raises(AssertionError, match="written with ppo.estimator=rloo"):
        run_main(out, "run.iterations=2", "run.resume=true")  # gae would need a critic
    run_main(out, "ppo.estimator=rloo", "run.iterations=2", "run.resume=true")
    rows = metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2]
    assert not set(CRITIC_METRICS) & set(rows[-1].values)
