"""Critic-free advantages the way verl / OpenRLHF / TRL compute them, for comparison.

Token rewards are built vectorised (KL penalty on every token, outcome at the last token), the
return-to-go walks the time axis in Python (one set of small launches per position), and the
group statistics are gathered row by row into a dict keyed by the prompt, as verl's
`compute_grpo_outcome_advantage` / `compute_rloo_outcome_advantage` do.
"""
from __future__ import annotations

from collections import defaultdict

import torch


def loop_group_advantages(mask: torch.Tensor, outcome: torch.Tensor, logprobs: torch.Tensor,
                          ref_logprobs: torch.Tensor, kl_coef: float, gamma: float, group_size: int,
                          estimator: str = "grpo", eps: float = 1e-6):
    """mask [B, T] bool right-padded, outcome [B], logprobs / ref_logprobs [B, T]; rows grouped by
    `group_size` consecutive samples. Returns (advantages, returns) [B, T]."""
    maskf = mask.float()
    rewards = -kl_coef * (logprobs - ref_logprobs) * maskf
    lengths = mask.sum(dim=1)
    last = (lengths - 1).clamp(min=0)
    rewards[torch.arange(mask.shape[0], device=mask.device), last] += outcome * (lengths > 0)
    T = mask.shape[1]
    running = torch.zeros_like(outcome)
    reversed_returns = []
    for t in reversed(range(T)):
        running = rewards[:, t] + gamma * running
        reversed_returns.append(running)
    returns = torch.stack(reversed_returns[::-1], dim=1) * maskf
    index = [b // group_size for b in range(mask.shape[0])]
    by_prompt = defaultdict(list)
    for b, i in enumerate(index):
        by_prompt[i].append(returns[b, 0])
    baseline, scale = {}, {}
    for i, values in by_prompt.items():
        stacked = torch.stack(values)
        baseline[i] = stacked.mean() if len(values) > 1 else torch.tensor(0.0, device=mask.device)
        scale[i] = 1.0 / (stacked.std() + eps) if len(values) > 1 and estimator == "grpo" else 1.0
        if estimator == "rloo":
            baseline[i] = (stacked.sum(), len(values))
    advantages = torch.zeros_like(returns)
    for b, i in enumerate(index):
        if estimator == "rloo":
            total, n = baseline[i]
            base = (total - returns[b, 0]) / (n - 1) if n > 1 else 0.0
            advantages[b] = (returns[b] - base) * maskf[b]
        else:
            advantages[b] = (returns[b] - baseline[i]) * scale[i] * maskf[b]
    return advantages, returns
