"""Torch reference for `fused_reward_advantages`: the readable definition and the CPU fallback.

Token rewards come from kernels/torch_rewards.py (the same segmentation, shaping, outcome and KL
as `fused_reward_gae`); then the return-to-go G_{b,t} (a discounted reverse cumsum), the grouped
reduction (one group = `group_size` consecutive rows: count, mean and squared deviations of the
values the estimator normalises, in float64 on [B]-sized tensors), and one elementwise pass.
"""
from __future__ import annotations

import torch

from kernels.shaping import ShapingSpec
from kernels.step_delimiter import StepDelimiter
from kernels.torch_rewards import NonFiniteInput, token_rewards
from kernels.torch_scans import discounted_reverse_cumsum

__all__ = ["NonFiniteInput", "group_baseline_and_scale", "reward_advantages_torch"]


def group_baseline_and_scale(count: torch.Tensor, total: torch.Tensor, m2: torch.Tensor, scale_std: bool,
                             std_floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per group (float64 [G] each): the number of values, their sum and their summed squared
    deviation from the group mean -> (mean, 1 / max(std, std_floor)) with the sample std (ddof 1);
    a group of at most one value gets (0, 1), verl's convention for a prompt sampled once."""
    several = count > 1
    mean = torch.where(several, total / count.clamp(min=1), torch.zeros_like(total))
    std = torch.sqrt(m2 / (count - 1).clamp(min=1))
    scale = 1.0 / std.clamp(min=std_floor) if scale_std else torch.ones_like(std)
    return mean, torch.where(several, scale, torch.ones_like(scale))


def reward_advantages_torch(token_ids, valid, lengths, outcome, delimiter: StepDelimiter, step_scores, logprobs,
                            ref_logprobs, spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, estimator: str,
                            group_size: int, scale_std: bool, per_reward: bool, std_floor: float):
    """`valid` [B, T] uint8 and `lengths` [B] from `valid_and_lengths`; the rest as validated by
    `fused_reward_advantages` (group_size = B for reinforce_pp). Returns rewards, advantages,
    returns (the return-to-go) [B, T] float32, num_steps [B] int32, process_return [B] float32.
    Raises NonFiniteInput as `kernels.torch_rewards.token_rewards` does."""
    B, T = valid.shape
    valid_f = valid.to(torch.float32)
    tr = token_rewards(token_ids, valid, lengths, valid_f, outcome, delimiter, step_scores, logprobs,
                       ref_logprobs, spec, eta, prm_coef, kl_coef)
    returns = discounted_reverse_cumsum(tr.rewards, gamma)  # 0 at padding: the rewards are
    groups = B // group_size if B else 0
    if per_reward:  # DeepSeekMath's process supervision: each step reward and outcome is one value
        values = [outcome.float()[tr.last_rows]] + ([tr.step_rewards] if tr.step_rewards is not None else [])
        owners = [tr.last_rows] + ([tr.rows] if tr.step_rewards is not None else [])
        count = torch.zeros(B, dtype=torch.float64, device=valid.device)
        total = torch.zeros_like(count)
        for v, rows in zip(values, owners):
            count.index_add_(0, rows, torch.ones_like(v, dtype=torch.float64))
            total.index_add_(0, rows, v.double())
        count_g, total_g = count.view(groups, group_size).sum(1), total.view(groups, group_size).sum(1)
        mean_g = total_g / count_g.clamp(min=1)
        m2 = torch.zeros_like(count)
        for v, rows in zip(values, owners):
            m2.index_add_(0, rows, (v.double() - mean_g[rows // group_size]) ** 2)
        mean_g, scale_g = group_baseline_and_scale(count_g, total_g, m2.view(groups, group_size).sum(1),
                                                   scale_std, std_floor)
        sparse = torch.zeros_like(tr.rewards)
        counts = torch.zeros_like(tr.rewards)
        for v, flat in zip(values, [tr.last_flat] + ([tr.boundaries] if tr.step_rewards is not None else [])):
            sparse.view(-1).index_add_(0, flat, v)
            counts.view(-1).index_add_(0, flat, torch.ones_like(v))
        mean_b = mean_g.repeat_interleave(group_size).float()[:, None]
        scale_b = scale_g.repeat_interleave(group_size).float()[:, None]
        normalised = tr.rewards - sparse + (sparse - counts * mean_b) * scale_b  # the KL part stays as it is
        advantages = discounted_reverse_cumsum(normalised.mul_(valid_f), gamma)
        return tr.rewards, advantages, returns, tr.num_steps, tr.process_return

    full = returns[:, 0].double() if T else torch.zeros(B, dtype=torch.float64, device=valid.device)
    per_group = full.view(groups, group_size)
    total_g = per_group.sum(1)
    if estimator == "rloo":  # the mean of the OTHER samples' full returns; no baseline for a group of one
        others = (total_g.repeat_interleave(group_size) - full) / max(group_size - 1, 1)
        baseline = others if group_size > 1 else torch.zeros_like(full)
        scale = torch.ones_like(full)
    else:  # grpo, reinforce_pp: the group's full returns, normalised
        count_g = torch.full_like(total_g, float(group_size))
        m2_g = ((per_group - per_group.mean(1, keepdim=True)) ** 2).sum(1)
        mean_g, scale_g = group_baseline_and_scale(count_g, total_g, m2_g, scale_std, std_floor)
        baseline, scale = mean_g.repeat_interleave(group_size), scale_g.repeat_interleave(group_size)
    advantages = (returns - baseline.float()[:, None]).mul_(scale.float()[:, None]).mul_(valid_f)
    return tr.rewards, advantages, returns, tr.num_steps, tr.process_return
