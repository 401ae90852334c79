"""Torch reference for `fused_reward_gae`: the readable definition and the CPU fallback."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from kernels.scan_torch import discounted_reverse_cumsum
from kernels.segmentation import segment_steps_torch


def shape_step_scores(scores: torch.Tensor, num_steps: torch.Tensor, shaping: str,
                      eta: float) -> torch.Tensor:
    """PRM step scores [B, K] -> shaped per-step rewards [B, K] (columns >= num_steps unused).

    clip: c_k = min(s_k - eta, 0); delta: shaped_k = c_k - c_{k+1} for k < K_b - 2,
    shaped_{K_b-2} = c_{K_b-2}, shaped_{K_b-1} = 0 (so the row sums to c_0).
    """
    c = torch.clamp(scores - eta, max=0.0) if shaping in ("clip", "clip_delta") else scores
    if shaping in ("none", "clip"):
        return c
    k = torch.arange(c.shape[1], device=c.device)[None, :]
    K = num_steps.to(torch.int64)[:, None]
    c_next = F.pad(c[:, 1:], (0, 1))
    shaped = c - torch.where(k < K - 2, c_next, torch.zeros_like(c_next))
    return torch.where(k == K - 1, torch.zeros_like(shaped), shaped)


def reward_gae_torch(token_ids, valid, values, outcome, separator_ids, step_scores, logprobs,
                     ref_logprobs, shaping, eta, prm_coef, kl_coef, gamma, lam):
    """Same arguments as `fused_reward_gae` after validation; `valid` is the bool mask.

    Returns (rewards, advantages, returns, num_steps) as float32 [B, T] x3 and int32 [B].
    """
    seg = segment_steps_torch(token_ids, valid, separator_ids)
    zeros = torch.zeros(valid.shape, dtype=torch.float32, device=valid.device)
    rewards = zeros.clone()
    if logprobs is not None:
        kl = logprobs.float() - ref_logprobs.float()
        rewards = torch.where(valid, -kl_coef * kl, zeros)
    if step_scores is not None and step_scores.shape[1] > 0:
        shaped = shape_step_scores(step_scores.float(), seg.num_steps, shaping, eta)
        at_step = shaped.gather(1, seg.step_index.clamp(min=0).to(torch.int64))
        rewards = rewards + torch.where(seg.is_boundary, prm_coef * at_step, zeros)
    last = valid & ~F.pad(valid[:, 1:], (0, 1), value=False)
    rewards = rewards + torch.where(last, outcome.float()[:, None].expand_as(zeros), zeros)

    v = torch.where(valid, values.float(), zeros)
    v_next = F.pad(v[:, 1:], (0, 1))
    deltas = torch.where(valid, rewards + gamma * v_next - v, zeros)
    advantages = discounted_reverse_cumsum(deltas, gamma * lam)
    returns = torch.where(valid, advantages + v, zeros)
    return rewards, advantages, returns, seg.num_steps
