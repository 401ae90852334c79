"""Torch reference for `fused_reward_gae`: the readable definition and the CPU fallback.

Token rewards (segmentation, shaping, outcome, KL) come from kernels/torch_rewards.py, shared
with the critic-free estimators; this module adds the values and solves the GAE recurrence.
"""
from __future__ import annotations

import torch

from kernels.shaping import ShapingSpec
from kernels.step_delimiter import StepDelimiter
from kernels.torch_rewards import NonFiniteInput, check_token_input, token_rewards, zero_padding_
from kernels.torch_scans import discounted_reverse_cumsum

__all__ = ["NonFiniteInput", "reward_gae_torch"]


def reward_gae_torch(token_ids, valid, lengths, values, outcome, delimiter: StepDelimiter, step_scores,
                     logprobs, ref_logprobs, spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, lam):
    """`valid` [B, T] uint8 and `lengths` [B] from `valid_and_lengths`; the rest as validated
    by `fused_reward_gae` (`spec`: the shaping mode's switches). Returns (rewards, advantages,
    returns) float32 [B, T], num_steps [B] int32 and process_return [B] float32 (the sum of
    each row's prm_coef * shaped_k).
    Raises NonFiniteInput for a NaN / inf (in float32, where the math runs) at a valid position,
    in `outcome`, or in a step score that is read (column < num_steps), checked in the order
    outcome, logprobs, ref_logprobs, step_scores, values (the Triton backend's order too).
    """
    valid_f = valid.to(torch.float32)
    tr = token_rewards(token_ids, valid, lengths, valid_f, outcome, delimiter, step_scores, logprobs,
                       ref_logprobs, spec, eta, prm_coef, kl_coef)
    v = values.to(torch.float32, copy=True)
    if not zero_padding_(v, valid_f):
        check_token_input("values", values, valid_f)
    deltas = torch.sub(tr.rewards, v, out=valid_f)  # the mask is no longer needed: reuse its buffer
    deltas[:, :-1].add_(v[:, 1:], alpha=gamma)  # v is 0 past the end: terminal value 0
    advantages = discounted_reverse_cumsum(deltas, gamma * lam)
    returns = v.add_(advantages)  # v is our own float32 copy
    return tr.rewards, advantages, returns, tr.num_steps, tr.process_return
