"""Triton backend of `fused_reward_advantages`: two launches, one program per row each.

1. The shared reward pass (kernels/triton_rewards.py) without values: segmentation, shaping,
   outcome and KL, the return-to-go by a reverse scan with decay gamma (written to `returns`), and
   per row the statistics of the values the estimator normalises ([3, B]: count, mean, squared
   deviations; for the per-reward variant also the discounted suffix sums of the row's step
   rewards and outcome and of their count, in two [B, T] buffers).
2. The grouped reduction and the per-token pass: each row's program merges the statistics of
   its group's rows (Chan et al.'s pairwise update: means and squared deviations, no
   sum-of-squares cancellation), derives the baseline and the scale, and writes its advantages.
   Every row of a group repeats the group's (short) reduction, so no launch waits for another
   group; for reinforce_pp the group is the batch, O(B^2) loads of [B]-sized statistics, a few MB
   at B = 1024.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.shaping import ShapingSpec
from kernels.step_delimiter import StepDelimiter
from kernels.triton_rewards import STATUS_BITS, launch_reward_pass
from kernels.triton_steps import as_loadable_mask, block_size, new_output, row_major, score_block_size

__all__ = ["STATUS_BITS", "reward_advantages_triton"]


@triton.jit
def _group_advantage_kernel(
    stats_ptr, ret_ptr, sparse_ptr, mask_ptr, adv_ptr, B, T, group_size, stride_mask, std_floor,
    LEAVE_ONE_OUT: tl.constexpr, PER_REWARD: tl.constexpr, SCALE_STD: tl.constexpr,
    GBLOCK: tl.constexpr, BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    first = (row // group_size) * group_size
    count = tl.zeros((), dtype=tl.float32)
    total = tl.zeros((), dtype=tl.float32)
    for start in range(0, group_size, GBLOCK):
        j = start + tl.arange(0, GBLOCK)
        inside = j < group_size
        n_j = tl.load(stats_ptr + first + j, mask=inside, other=0.0)
        mean_j = tl.load(stats_ptr + B + first + j, mask=inside, other=0.0)
        count += tl.sum(n_j, 0)
        total += tl.sum(n_j * mean_j, 0)
    mean = total / tl.maximum(count, 1.0)
    m2 = tl.zeros((), dtype=tl.float32)
    for start in range(0, group_size, GBLOCK):
        j = start + tl.arange(0, GBLOCK)
        inside = j < group_size
        n_j = tl.load(stats_ptr + first + j, mask=inside, other=0.0)
        gap = tl.load(stats_ptr + B + first + j, mask=inside, other=0.0) - mean
        m2 += tl.sum(tl.load(stats_ptr + 2 * B + first + j, mask=inside, other=0.0) + n_j * gap * gap, 0)
    several = count > 1.5
    scale = tl.full((), 1.0, tl.float32)
    if LEAVE_ONE_OUT:
        own = tl.load(stats_ptr + B + row)
        base = tl.where(several, (total - own) / tl.maximum(count - 1.0, 1.0), 0.0)
    else:
        base = tl.where(several, mean, 0.0)
        if SCALE_STD:
            std = tl.sqrt(m2 / tl.maximum(count - 1.0, 1.0))
            scale = tl.where(several, 1.0 / tl.maximum(std, std_floor), 1.0)

    for start in range(0, T, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        inb = offs < T
        valid = tl.load(mask_ptr + row * stride_mask + offs, mask=inb, other=0) != 0
        g = tl.load(ret_ptr + row * T + offs, mask=inb, other=0.0)
        if PER_REWARD:  # the rewards' suffix sums and their count (parked in adv by the reward pass)
            sparse = tl.load(sparse_ptr + row * T + offs, mask=inb, other=0.0)
            counts = tl.load(adv_ptr + row * T + offs, mask=inb, other=0.0)
            adv = (g - sparse) + (sparse - counts * base) * scale
        else:
            adv = (g - base) * scale
        tl.store(adv_ptr + row * T + offs, tl.where(valid, adv, 0.0), mask=inb)


def group_block(group_size: int) -> int:
    """Rows of a group's statistics read at once by the group reduction."""
    return max(16, min(triton.next_power_of_2(group_size), 1024))


def reward_advantages_triton(token_ids, mask, outcome, delimiter: StepDelimiter, step_scores, logprobs, ref_logprobs,
                             spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, estimator: str, group_size: int,
                             scale_std: bool, per_reward: bool, std_floor: float):
    """Arguments as validated by `fused_reward_advantages` (group_size = B for reinforce_pp).

    Returns rewards, advantages, returns [B, T] float32, num_steps [B] int32, process_return [B]
    float32 and a [B] int32 status word per row (bits in STATUS_BITS, as `fused_reward_gae`'s).
    """
    B, T = token_ids.shape
    stats = new_output((3, B), torch.float32, token_ids.device)
    sparse = new_output((B, T), torch.float32, token_ids.device) if per_reward else None
    out, nsteps, process, status = launch_reward_pass(
        token_ids, mask, outcome, delimiter, step_scores, logprobs, ref_logprobs, spec, eta, prm_coef, kl_coef, gamma,
        gamma, alloc=new_output, block_size=block_size, score_block_size=score_block_size, stats=stats, sparse=sparse)
    if B > 0:
        mask = row_major(as_loadable_mask(mask))
        _group_advantage_kernel[(B,)](
            stats, out[2], sparse if per_reward else stats, mask, out[1], B, T, group_size, mask.stride(0), std_floor,
            LEAVE_ONE_OUT=estimator == "rloo", PER_REWARD=per_reward, SCALE_STD=scale_std,
            GBLOCK=group_block(group_size), BLOCK=block_size(T),
        )
    return out[0], out[1], out[2], nsteps, process, status
