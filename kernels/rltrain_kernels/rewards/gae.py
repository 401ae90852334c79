"""`fused_reward_gae`: step segmentation + PRM shaping + outcome + KL penalty + GAE.

Checks, backend dispatch and the result type; backends: rewards/torch_backend.py,
rewards/triton_backend.py (`reward_gae`); shaping modes: options.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rltrain_kernels.checks import FLOAT_DTYPES, check_finite_scalar, check_tensor
from rltrain_kernels.dispatch import backend_module
from rltrain_kernels.rewards.checks import check_reward_args, check_step_columns

_OP = "fused_reward_gae"


@dataclass(frozen=True)
class RewardGAE:
    """rewards, advantages, returns: [B, T] float32 (0 at padding); num_steps: [B] int32;
    process_return: [B] float32, the process part of each response's return, sum over its
    steps of prm_coef * shaped_k (0 for a response without steps, and for every response when
    no step_scores are given)."""

    rewards: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    num_steps: torch.Tensor
    process_return: torch.Tensor


@torch.no_grad()
def fused_reward_gae(
    token_ids: torch.Tensor,
    mask: torch.Tensor,
    values: torch.Tensor,
    outcome: torch.Tensor,
    *,
    separator_ids=None,
    step_scores: torch.Tensor | None = None,
    logprobs: torch.Tensor | None = None,
    ref_logprobs: torch.Tensor | None = None,
    shaping: str = "clip_delta",
    eta: float = 0.0,
    prm_coef: float = 1.0,
    kl_coef: float = 0.0,
    gamma: float = 1.0,
    lam: float = 1.0,
    backend: str = "auto",
) -> RewardGAE:
    """Token rewards, GAE advantages and returns for right-padded responses.

    token_ids [B, T] int; mask [B, T] (nonzero = valid, right-padded); values [B, T] float
    (critic V_t); outcome [B] float (success reward + ORM term, added at the last valid
    token); separator_ids: a `StepDelimiter` or ids, as in `segment_steps` (None: one step
    per response); step_scores [B, K] float PRM scores, K >= max num_steps (None: no process
    reward; columns >= num_steps[b] are never read); logprobs / ref_logprobs [B, T] float, both
    or neither (KL penalty -kl_coef * (logp - ref) on every valid token); shaping: a mode of
    `rltrain_kernels.SHAPING_MODES` ("none", "clip", "delta", "clip_delta", "min_form",
    "clip_min_form").
    Returns RewardGAE(rewards, advantages, returns [B, T] float32; num_steps [B] int32;
    process_return [B] float32 = sum_k prm_coef * shaped_k, computed in the same pass).
    Outputs carry no gradient (they are PPO targets). Semantics: ../shared/DESIGN.md
    "Kernel semantics".
    Raises ValueError naming the argument for bad shapes / dtypes / options, a mask that is not
    right-padded, and a NaN or infinite value at a valid position of `values`, `logprobs`,
    `ref_logprobs`, in `outcome`, or in a step score that is read (naming the first such row):
    a reward model or critic that emits NaN is a bug to surface, not to hide.
    """
    r = check_reward_args(_OP, token_ids, mask, outcome, separator_ids=separator_ids, step_scores=step_scores,
                          logprobs=logprobs, ref_logprobs=ref_logprobs, shaping=shaping, eta=eta, prm_coef=prm_coef,
                          kl_coef=kl_coef, gamma=gamma)
    B, T = r.token_ids.shape
    dev = r.token_ids.device
    values = check_tensor(_OP, "values", values, shape=(B, T), dtypes=FLOAT_DTYPES, device=dev)
    lam = check_finite_scalar(_OP, "lam", lam, low=0.0, high=1.0)
    impl = backend_module("rewards", backend, dev, _OP)
    outputs, max_steps = impl.reward_gae(_OP, r, values, lam)
    check_step_columns(_OP, r.step_scores, max_steps)
    return RewardGAE(*outputs)
