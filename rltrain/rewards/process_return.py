"""The process (PRM) part of each response's return, as the reward kernel shaped it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

import kernels

if TYPE_CHECKING:
    from kernels import RewardGAE, StepDelimiter


def process_return(gae: RewardGAE, response_ids: torch.Tensor, response_mask: torch.Tensor,
                   step_scores: torch.Tensor | None, *, separator_ids: StepDelimiter | Sequence[int],
                   shaping: str, eta: float, prm_coef: float) -> torch.Tensor:
    """[B] float32: the sum over steps of prm_coef * shaped step reward of each row; 0 without step scores.

    gae: the `kernels.fused_reward_gae` output of this batch; its `process_return` [B] when it
    has one. Otherwise the kernel runs again on response_ids [B, T] / response_mask [B, T] with
    step_scores [B, K] and the same shaping, without outcome, KL penalty or values, and the
    row sums of its rewards are returned.
    """
    given = getattr(gae, "process_return", None)
    if given is not None:
        return given
    no_outcome = torch.zeros(response_ids.shape[0], dtype=torch.float32, device=response_ids.device)
    if step_scores is None:
        return no_outcome
    no_values = torch.zeros(response_ids.shape, dtype=torch.float32, device=response_ids.device)
    out = kernels.fused_reward_gae(response_ids, response_mask, no_values, no_outcome,
                                   separator_ids=separator_ids, step_scores=step_scores, shaping=shaping, eta=eta,
                                   prm_coef=prm_coef)
    return out.rewards.sum(1)
