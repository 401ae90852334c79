"""Critic loss, distributed advantage whitening (per token, or by full returns) and explained variance
(masked, [B, T])."""
from __future__ import annotations

import torch

from rltrain.distributed.setup import all_reduce_sum


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                       mask: torch.Tensor, clip: float, normalizer: float) -> tuple[torch.Tensor, torch.Tensor]:
    """0.5 * max((V - R)^2, (clip(V, V_old +- clip) - R)^2) summed over valid tokens / normalizer.
    Returns (loss scalar, clipped-fraction numerator: tokens where the clipped branch won)."""
    m = mask.float()
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    a, b = (values - returns) ** 2, (clipped - returns) ** 2
    loss = 0.5 * (torch.maximum(a, b) * m).sum() / normalizer
    return loss, ((b > a).float() * m).sum().detach()


def whiten_global(adv: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(adv - mean) / std over valid tokens of all ranks (all_reduce); 0 at padding."""
    m = mask.float()
    n, s, ss = all_reduce_sum([float(m.sum()), float((adv * m).sum()), float((adv * adv * m).sum())], adv.device)
    if n == 0:
        return adv * m
    mean = s / n
    var = max(ss / n - mean * mean, 0.0)
    return (adv - mean) / (var + eps) ** 0.5 * m


def whiten_returns_global(returns: torch.Tensor, mask: torch.Tensor, std_floor: float) -> torch.Tensor:
    """REINFORCE++ over all ranks: (G_{b,t} - mean) / max(std, std_floor), mean and sample std
    (ddof 1) over the full returns G_b = returns[b, 0] of every response of every rank (one value
    per response, not per token: a longer response must not weigh more); 0 at padding.
    `rltrain_kernels.fused_reward_advantages(estimator="reinforce_pp")` does the same on one rank."""
    full = returns[:, 0].double() if returns.shape[1] else returns.new_zeros(returns.shape[0], dtype=torch.float64)
    n, s, ss = all_reduce_sum([float(full.numel()), float(full.sum()), float((full * full).sum())], returns.device)
    if n <= 1:
        return returns * mask.float()
    mean = s / n
    std = max((ss - n * mean * mean) / (n - 1), 0.0) ** 0.5
    return (returns - mean) / max(std, std_floor) * mask.float()


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(R - V) / Var(R) over valid tokens of all ranks."""
    m = mask.float()
    d = (returns - values) * m
    n, sr, srr, sd, sdd = all_reduce_sum([float(m.sum()), float((returns * m).sum()), float((returns ** 2 * m).sum()),
                                          float(d.sum()), float((d * d).sum())], values.device)
    if n == 0:
        return 0.0
    var_r = srr / n - (sr / n) ** 2
    var_d = sdd / n - (sd / n) ** 2
    return 1.0 - var_d / var_r if var_r > 1e-12 else 0.0
