"""`fused_reward_advantages`: the token rewards of `fused_reward_gae` (segmentation, PRM shaping,
outcome, KL penalty) and a critic-free advantage estimator (GRPO, RLOO, REINFORCE++) in one op.

Checks, backend dispatch and the result type; backends: rewards/torch_backend.py,
rewards/triton_backend.py (`reward_advantages`); estimators: options.py; formulas and sources:
docs/estimators.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rltrain_kernels.checks import check_finite_scalar
from rltrain_kernels.dispatch import backend_module
from rltrain_kernels.options import DEFAULT_STD_FLOOR, GROUPED, NORMALIZATIONS, EstimatorSpec, estimator_spec
from rltrain_kernels.rewards.checks import check_reward_args, check_step_columns

_OP = "fused_reward_advantages"


@dataclass(frozen=True)
class RewardAdvantages:
    """rewards [B, T] float32 (the token rewards, as `fused_reward_gae`'s); advantages [B, T]
    float32; returns [B, T] float32, the return-to-go G_{b,t} = sum_{t' >= t} gamma^(t'-t) r_{b,t'}
    (returns[:, 0] is each response's full return); each 0 at padding; num_steps [B] int32;
    process_return [B] float32, the sum over each response's steps of prm_coef * shaped_k."""

    rewards: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    num_steps: torch.Tensor
    process_return: torch.Tensor


@torch.no_grad()
def fused_reward_advantages(
    token_ids: torch.Tensor,
    mask: torch.Tensor,
    outcome: torch.Tensor,
    *,
    estimator: str = "grpo",
    group_size: int | None = None,
    separator_ids=None,
    step_scores: torch.Tensor | None = None,
    logprobs: torch.Tensor | None = None,
    ref_logprobs: torch.Tensor | None = None,
    shaping: str = "clip_delta",
    eta: float = 0.0,
    prm_coef: float = 1.0,
    kl_coef: float = 0.0,
    gamma: float = 1.0,
    scale_std: bool = True,
    normalize: str = "returns",
    std_floor: float = DEFAULT_STD_FLOOR,
    backend: str = "auto",
) -> RewardAdvantages:
    """Token rewards and critic-free advantages for right-padded responses.

    token_ids, mask, outcome, separator_ids, step_scores, logprobs, ref_logprobs, shaping, eta,
    prm_coef, kl_coef, gamma: as `fused_reward_gae` (the token rewards are the same). Then, with
    G_{b,t} the return-to-go of token t of row b and G_b = G_{b,0} its full return:

    - estimator="grpo": groups of `group_size` consecutive rows (the samples of one prompt;
      B % group_size == 0). normalize="returns": A_{b,t} = (G_{b,t} - mean_g) / max(std_g,
      std_floor), mean_g / std_g (ddof 1) over the group's G_j; normalize="rewards"
      (DeepSeekMath's process supervision): every step reward prm_coef * shaped_k and every
      outcome of the group is normalised by the mean and std over those rewards, and A_{b,t} is
      the discounted sum of the normalised rewards at or after t, plus the KL part of G_{b,t}.
      scale_std=False subtracts the mean only.
    - estimator="rloo": A_{b,t} = G_{b,t} - mean of the other rows' G_j in the group.
    - estimator="reinforce_pp": A_{b,t} = (G_{b,t} - mean) / max(std, std_floor) over the full
      returns of the whole batch (group_size must be None).
    A group of one value has mean 0 and scale 1 (A = G_{b,t}). Only normalize="returns" keeps
    the bounded returns of Clip / Delta / min-form: docs/estimators.md.

    Returns RewardAdvantages (outputs carry no gradient). Raises ValueError naming the argument for
    bad shapes / dtypes / options, a mask that is not right-padded, and non-finite inputs (as
    `fused_reward_gae`).
    """
    r = check_reward_args(_OP, token_ids, mask, outcome, separator_ids=separator_ids, step_scores=step_scores,
                          logprobs=logprobs, ref_logprobs=ref_logprobs, shaping=shaping, eta=eta, prm_coef=prm_coef,
                          kl_coef=kl_coef, gamma=gamma)
    B = r.token_ids.shape[0]
    spec = estimator_spec(_OP, estimator)
    group_size = _group_size(estimator, spec, group_size, B)
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"{_OP}: `normalize` must be one of {NORMALIZATIONS}, got {normalize!r}")
    if normalize == "rewards" and not spec.per_reward:
        raise ValueError(f"{_OP}: `normalize`='rewards' is GRPO's per-reward normalisation; "
                         f"estimator {estimator!r} normalises returns")
    if not isinstance(scale_std, bool):
        raise ValueError(f"{_OP}: `scale_std` must be a bool, got {scale_std!r}")
    std_floor = check_finite_scalar(_OP, "std_floor", std_floor)
    if std_floor <= 0:
        raise ValueError(f"{_OP}: `std_floor` must be > 0 (a group whose returns are all equal has std 0), "
                         f"got {std_floor}")
    impl = backend_module("rewards", backend, r.token_ids.device, _OP)
    outputs, max_steps = impl.reward_advantages(_OP, r, spec, group_size, spec.scales(scale_std),
                                                normalize == "rewards", std_floor)
    check_step_columns(_OP, r.step_scores, max_steps)
    return RewardAdvantages(*outputs)


def _group_size(estimator: str, spec: EstimatorSpec, group_size: object, B: int) -> int:
    """The checked group size (the batch for a batch-wide estimator; at least 1)."""
    if not spec.grouped:
        if group_size is not None:
            raise ValueError(f"{_OP}: `group_size` is for {GROUPED}; {estimator!r} normalises over the whole batch "
                             f"(pass group_size=None)")
        return max(B, 1)
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"{_OP}: `group_size` must be a positive int (the samples per prompt) for {estimator!r}, "
                         f"got {group_size!r}")
    if B % group_size:
        raise ValueError(f"{_OP}: `group_size` {group_size} does not divide the batch of {B} rows (groups are "
                         f"consecutive rows)")
    return group_size
