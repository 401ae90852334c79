"""Warn once when an iteration's batch carries no learning signal.

A batch teaches the policy nothing when every response got the same reward (outcome + shaped
process return, over all ranks): the advantages are then at best the critic's errors. The
extreme case is silent: no PRM, every sample wrong, a zero-initialised value head: rewards,
values and advantages are all exactly 0, so are the losses, the gradients and the update, and
the exported model equals the input. `NoSignalWarning` logs one warning (rank 0, stderr, logger
`rltrain.ppo.signal`) the first time it happens and counts the iterations it happened in, which
the trainer's summary reports. The KL penalty is left out of the reward on purpose: it only pulls
toward the reference, it is no signal about the task.
"""
from __future__ import annotations

import logging

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


def signal_extremes(rewards: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> tuple[float, float, float]:
    """(max |advantage| over valid tokens, max reward, min reward) over all ranks: one all_reduce.
    rewards [B] per response, advantages / mask [B, T]."""
    adv = (advantages.abs() * mask.float()).max() if advantages.numel() else advantages.new_zeros(())
    hi = rewards.max() if rewards.numel() else rewards.new_full((), -float("inf"))
    lo = rewards.min() if rewards.numel() else rewards.new_full((), float("inf"))
    t = torch.stack([adv.double().to(advantages.device), hi.double().to(advantages.device),
                     -lo.double().to(advantages.device)])
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    max_adv, hi_all, neg_lo = t.tolist()
    return max_adv, hi_all, -neg_lo


class NoSignalWarning:
    """`check(...)` after every iteration: counts the iterations without a learning signal and logs
    one warning, the first time (only where `enabled`: rank 0)."""

    def __init__(self, *, enabled: bool = True):
        self.enabled = enabled
        self.count = 0  # iterations of this process without a learning signal
        self.seen = 0  # iterations of this process checked
        self.warned = False

    def check(self, iteration: int, samples: int, success_rate: float, max_abs_advantage: float,
              max_reward: float, min_reward: float) -> str | None:
        """The warning text when this call warned, else None. `iteration`: the run's iteration number."""
        self.seen += 1
        same = max_reward == min_reward
        if not same and max_abs_advantage > 0:
            return None
        self.count += 1
        if self.warned or not self.enabled:
            return None
        self.warned = True
        if same and max_abs_advantage == 0:
            what = (f"all {samples} responses got the same reward {max_reward:g} and every advantage is 0, so the "
                    "losses, the gradients and the update are exactly 0")
        elif same:
            what = (f"all {samples} responses got the same reward {max_reward:g}: the advantages (at most "
                    f"{max_abs_advantage:.3g}) are only the critic's errors")
        else:
            what = "every advantage is 0, so the policy update is exactly 0"
        message = (f"[rltrain] warning: no learning signal at iteration {iteration}: {what} (success_rate "
                   f"{success_rate:.3f}; {self.count} of the {self.seen} iterations this process ran so far). "
                   "Likely: every response fails (or every one succeeds): a task too hard (or too easy) for the "
                   "policy, rollout.max_new_tokens too small for a full answer, final answers the grader cannot "
                   "read; and no reward.prm / reward.orm tells the responses apart. Warned once; the summary "
                   "counts such iterations.")
        logger.warning(message)
        return message
