"""The per-time-step GAE loop that verl / OpenRLHF / TRL run, for comparison.

Token rewards are built vectorised (KL penalty on every token, outcome at the last
token), then GAE walks the time axis in Python: one set of small launches per position.
"""
from __future__ import annotations

import torch


def loop_reward_gae(mask: torch.Tensor, values: torch.Tensor, outcome: torch.Tensor, logprobs: torch.Tensor,
                    ref_logprobs: torch.Tensor, kl_coef: float, gamma: float, lam: float):
    """mask [B, T] bool right-padded, values/logprobs/ref_logprobs [B, T], outcome [B]."""
    maskf = mask.float()
    rewards = -kl_coef * (logprobs - ref_logprobs) * maskf
    last = (mask.sum(dim=1) - 1).clamp(min=0)
    rewards[torch.arange(mask.shape[0], device=mask.device), last] += outcome * (mask.sum(dim=1) > 0)
    values = values * maskf
    T = mask.shape[1]
    lastgaelam = torch.zeros_like(outcome)
    reversed_adv = []
    for t in reversed(range(T)):
        next_values = values[:, t + 1] if t < T - 1 else 0.0
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        lastgaelam = delta + gamma * lam * lastgaelam
        reversed_adv.append(lastgaelam)
    advantages = torch.stack(reversed_adv[::-1], dim=1) * maskf
    returns = advantages + values
    return rewards, advantages, returns


def verl_masked_loop_gae(mask: torch.Tensor, values: torch.Tensor, outcome: torch.Tensor, logprobs: torch.Tensor,
                         ref_logprobs: torch.Tensor, kl_coef: float, gamma: float, lam: float):
    """The masked variant of the loop (skips padded / observation tokens by carrying the
    previous value and advantage through them), as verl's GAE does today."""
    maskf = mask.float()
    rewards = -kl_coef * (logprobs - ref_logprobs) * maskf
    last = (mask.sum(dim=1) - 1).clamp(min=0)
    rewards[torch.arange(mask.shape[0], device=mask.device), last] += outcome * (mask.sum(dim=1) > 0)
    next_values = torch.zeros_like(outcome)
    lastgaelam = torch.zeros_like(outcome)
    reversed_adv = []
    for t in reversed(range(mask.shape[1])):
        m = maskf[:, t]
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        candidate = delta + gamma * lam * lastgaelam
        next_values = values[:, t] * m + (1 - m) * next_values
        lastgaelam = candidate * m + (1 - m) * lastgaelam
        reversed_adv.append(lastgaelam)
    advantages = torch.stack(reversed_adv[::-1], dim=1)
    return rewards, advantages, advantages + values
