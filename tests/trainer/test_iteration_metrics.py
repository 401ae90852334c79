"""The "train" metrics of one iteration, each checked against a hand computation (one rank)."""
from __future__ import annotations

import pytest
import torch

from rltrain_kernels import segment_steps
from rltrain.ppo.experience import PPOBatch
from rltrain.ppo.iteration import Estimates, Scores
from rltrain.ppo.iteration_metrics import iteration_metrics
from rltrain.ppo.phases import TrainStats
from rltrain.rewards.base import ScoringBatch

NAMES = {  # every name of a metrics.jsonl "train" line the trainer writes (main.py adds param_rank_spread)
    "samples", "success_rate", "prm_return_raw", "prm_return_shaped", "orm_score", "kl_per_response", "kl_per_token",
    "kl_coef", "entropy", "response_length", "steps_per_response", "repeated_step_fraction", "truncated_fraction",
    "policy_loss", "value_loss", "clip_fraction", "value_clip_fraction", "actor_grad_norm", "critic_grad_norm",
    "explained_variance", "sampler_logprob_gap", "actor_lr", "time_rollout", "time_scoring", "time_training",
    "time_sync", "time_iteration", "tokens_per_s", "rollout_tokens_per_s",
}


def _inputs(with_prm: bool = True) -> tuple[Scores, Estimates, TrainStats]:
    ids = torch.tensor([[5, 9, 7], [5, 7, 0]])           # 9 ends a step; row 0: 2 steps, row 1: 1 step
    mask = torch.tensor([[True, True, True], [True, True, False]])
    m = mask.float()
    scoring = ScoringBatch(["p", "p"], ids, mask, segment_steps(ids, mask, [9]), [["a\n\n", "a"], ["b"]])
    step_scores = torch.tensor([[0.75, 0.25], [0.5, 7.0]]) if with_prm else None  # 7.0: past row 1's last step
    scores = Scores(success=torch.tensor([1.0, 0.0]), orm=torch.tensor([0.5, 0.25]), outcome=torch.zeros(2),
                    step_scores=step_scores, scoring=scoring)
    old = torch.tensor([[-1.0, -1.0, -1.0], [-2.0, -2.0, 0.0]])
    returns = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
    batch = PPOBatch(
        input_ids=torch.zeros(2, 5, dtype=torch.long), attention_mask=torch.ones(2, 5, dtype=torch.long),
        response_ids=ids, response_mask=mask, gather_index=torch.zeros(2, 3, dtype=torch.long),
        truncated=torch.tensor([False, True]), sampler_logprobs=(old + 0.25) * m, prompt_index=torch.tensor([0, 0]),
        old_logprobs=old, ref_logprobs=torch.tensor([[-1.5, -1.0, -1.0], [-2.0, -3.0, 0.0]]),
        values=returns.clone(), returns=returns, advantages=torch.zeros(2, 3))
    est = Estimates(batch, entropy=torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 9.0]]),
                    process_return=torch.tensor([-0.25, 0.75]))
    stats = TrainStats(policy_loss=1.0, value_loss=3.0, clipped_sum=2.0, value_clipped_sum=1.0, tokens=8.0,
                       actor_grad_norm=4.0, critic_grad_norm=6.0, optimizer_steps=2)
    return scores, est, stats


def _metrics(with_prm: bool = True) -> dict[str, float]:
    scores, est, stats = _inputs(with_prm)
    times = {"rollout": 0.5, "scoring": 0.25, "training": 1.0, "sync": 0.25, "iteration": 2.0}
    return iteration_metrics(scores, est, stats, world=1, kl_coef=0.05, actor_lr=1e-5, times=times)


def test_every_metric_by_hand():
    got = _metrics()
    assert set(got) == NAMES
    want = {
        "samples": 2.0, "success_rate": 0.5, "prm_return_raw": (0.75 + 0.25 + 0.5) / 2,
        "prm_return_shaped": (-0.25 + 0.75) / 2, "orm_score": 0.375,
        "kl_per_response": 1.5 / 2, "kl_per_token": 1.5 / 5, "kl_coef": 0.05, "entropy": 7.0 / 5,
        "response_length": 2.5, "steps_per_response": 1.5, "repeated_step_fraction": 1 / 3,
        "truncated_fraction": 0.5, "policy_loss": 0.5, "value_loss": 1.5, "clip_fraction": 0.25,
        "value_clip_fraction": 0.125, "actor_grad_norm": 2.0, "critic_grad_norm": 3.0, "explained_variance": 1.0,
        "sampler_logprob_gap": 0.25, "actor_lr": 1e-5, "time_rollout": 0.5, "time_scoring": 0.25,
        "time_training": 1.0, "time_sync": 0.25, "time_iteration": 2.0, "tokens_per_s": 2.5,
        "rollout_tokens_per_s": 10.0,
    }
    assert got == pytest.approx(want, rel=1e-6)


def test_without_a_prm_the_process_returns_are_zero():
    got = _metrics(with_prm=False)
    assert got["prm_return_raw"] == 0.0
    assert got["success_rate"] == 0.5


def test_without_a_critic_the_critic_metrics_are_left_out():
    scores, est, stats = _inputs()
    times = {"rollout": 0.5, "scoring": 0.25, "training": 1.0, "sync": 0.25, "iteration": 2.0}
    got = iteration_metrics(scores, est, stats, world=1, kl_coef=0.05, actor_lr=1e-5, times=times, critic=False)
    from rltrain.ppo.iteration_metrics import CRITIC_METRICS

    assert set(got) == NAMES - set(CRITIC_METRICS)
    assert got["policy_loss"] == pytest.approx(0.5) and got["actor_grad_norm"] == pytest.approx(2.0)
