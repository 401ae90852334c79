"""Triton backend of the reward ops: `reward_gae` and `reward_advantages`.

The reward pass both share runs one program per row.

A forward sweep runs the step-delimiter automaton over the row's token ids, parks each
position's "a step may end here" flag in the rewards buffer and counts the steps (the PRM
scores are indexed from the front, the walk below goes from the back; an end counts only before
the row's last non-blank token). For min-form shaping a short sweep over the row's step scores
then writes their (clipped) suffix minima m_k to a scratch row. The main sweep walks the row
from the end in blocks, reads the flags back, gathers the step's (clipped, or suffix-minimum)
score and, for Delta, the next step's (the shaping mode's switches are constexprs:
options.py), sums the row's process reward, adds outcome and KL, and solves
y_t = delta_t + decay * y_{t+1} with a reverse associative scan inside the block, carrying y
between blocks:

- `fused_reward_gae` (HAS_VALUES): delta_t = r_t + gamma V_{t+1} - V_t, decay gamma * lambda:
  the GAE advantages, and returns = advantages + values;
- the critic-free estimators (no values): delta_t = r_t, decay gamma: the return-to-go, written
  to the returns buffer, and per row the statistics the group pass needs (ROW_STATS: the full
  return; PER_REWARD: count, mean and squared deviations of the row's step rewards and outcome,
  merged block by block, plus the discounted suffix sums of those rewards and of their count).

Every other input is read once; non-finite valid entries are flagged per row in the same pass.

The critic-free estimators then launch the group pass, one program per row: it merges the
statistics of its group's rows (Chan et al.'s pairwise update: means and squared deviations, no
sum-of-squares cancellation), derives the baseline and the scale, and writes its advantages.
Every row of a group repeats the group's (short) reduction, so no launch waits for another
group; for reinforce_pp the group is the batch, O(B^2) loads of [B]-sized statistics, a few MB
at B = 1024.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from rltrain_kernels.options import EstimatorSpec, ShapingSpec
from rltrain_kernels.rewards.checks import RewardArgs, max_steps_after_triton
from rltrain_kernels.scans.triton_backend import suffix_min, suffix_scan_affine
from rltrain_kernels.steps.delimiter import StepDelimiter
from rltrain_kernels.steps.triton_backend import (as_loadable_mask, block_size, delimiter_args, new_output, row_major,
                                                 row_masks, score_block_size, step_states)

# bits of the per-row status word the kernel writes
STATUS_BITS = (("mask", 1), ("outcome", 4), ("logprobs", 16), ("ref_logprobs", 32), ("step_scores", 8),
               ("values", 2))  # reported in this order, as the torch backend checks


@triton.jit
def _clip(s, eta, CLIP: tl.constexpr):
    if CLIP:
        s = tl.minimum(s - eta, 0.0)
    return s


@triton.jit
def _finite(x):
    return tl.abs(x) <= 3.4028234663852886e38


@triton.jit
def reward_pass_kernel(
    tok_ptr, mask_ptr, table_ptr, table_size, run, values_ptr, outcome_ptr, scores_ptr, logp_ptr, ref_ptr,
    mins_ptr, rewards_ptr, adv_ptr, ret_ptr, sparse_ptr, nsteps_ptr, process_ptr, stats_ptr, status_ptr,
    B, T, K_cols, stride_tok, stride_mask, stride_val, stride_scores, stride_logp, stride_ref,
    eta, prm_coef, kl_coef, gamma, decay,
    HAS_SCORES: tl.constexpr, HAS_KL: tl.constexpr, CLIP: tl.constexpr, DELTA: tl.constexpr,
    MIN_FORM: tl.constexpr, HAS_VALUES: tl.constexpr, ROW_STATS: tl.constexpr, PER_REWARD: tl.constexpr,
    SIMPLE: tl.constexpr, BLOCK: tl.constexpr, KBLOCK: tl.constexpr,
):
    """One row. mins_ptr: [B, K_cols] scratch (MIN_FORM); stats_ptr: [3, B] (count, mean, M2 of the
    row's rewards: ROW_STATS, one value, the full return; PER_REWARD, its step rewards and outcome);
    sparse_ptr: [B, T], the discounted suffix sums of those rewards, and adv_ptr their count (PER_REWARD)."""
    row = tl.program_id(0).to(tl.int64)
    tok_row = tok_ptr + row * stride_tok
    mask_row = mask_ptr + row * stride_mask
    out_off = row * T

    # Forward: the automaton's step ends, parked in the rewards buffer, and the step count.
    # An end counts only before the last non-blank token (known once the row is read).
    gaps = tl.zeros((), dtype=tl.int32)
    length = tl.zeros((), dtype=tl.int32)
    last_nonblank = tl.full((), -1, dtype=tl.int32)
    ends_all = tl.zeros((), dtype=tl.int32)
    ends_kept = tl.zeros((), dtype=tl.int32)
    carry = tl.zeros((), dtype=tl.int32)
    for start in range(0, T, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        valid, next_valid, run_end, nonblank, carry = step_states(
            tok_row, mask_row, table_ptr, table_size, run, offs, start, T, carry, SIMPLE, BLOCK)
        tl.store(rewards_ptr + out_off + offs, run_end.to(tl.float32), mask=offs < T)
        block_last = tl.max(tl.where(nonblank, offs, -1), 0)
        ends_before = ends_all + tl.sum((run_end & (offs < block_last)).to(tl.int32), 0)
        ends_kept = tl.where(block_last >= 0, ends_before, ends_kept)
        last_nonblank = tl.maximum(last_nonblank, block_last)
        ends_all += tl.sum(run_end.to(tl.int32), 0)
        length += tl.sum(valid.to(tl.int32), 0)
        gaps += tl.sum((next_valid & (valid == 0)).to(tl.int32), 0)
    num_steps = ends_kept + (length > 0).to(tl.int32)
    tl.store(nsteps_ptr + row, num_steps)

    outcome = tl.load(outcome_ptr + row).to(tl.float32)
    bad = tl.where(gaps > 0, 1, 0) | tl.where(_finite(outcome), 0, 4)
    scores_row = scores_ptr + row * stride_scores
    mins_row = mins_ptr + row * K_cols
    if HAS_SCORES:
        if MIN_FORM:  # m_k = min over j >= k of the (clipped) scores of the row's steps
            read = tl.minimum(num_steps, K_cols)
            later = tl.full((), float("inf"), tl.float32)
            for i in range(0, tl.cdiv(read, KBLOCK)):
                cols = (tl.cdiv(read, KBLOCK) - 1 - i) * KBLOCK + tl.arange(0, KBLOCK)
                s = tl.load(scores_row + cols, mask=cols < read, other=0.0).to(tl.float32)
                bad = bad | tl.where(tl.sum((_finite(s) == 0).to(tl.int32), 0) > 0, 8, 0)
                m = tl.minimum(suffix_min(tl.where(cols < read, _clip(s, eta, CLIP), float("inf")), KBLOCK), later)
                tl.store(mins_row + cols, m, mask=cols < read)
                later = tl.min(m, 0)
    tl.debug_barrier()

    # Backward: rewards and the reverse scan, block by block from the end of the row.
    process = tl.zeros((), dtype=tl.float32)  # sum of prm_coef * shaped_k over the row's steps
    y_next = tl.zeros((), dtype=tl.float32)  # y at the first position of the block after
    sparse_next = tl.zeros((), dtype=tl.float32)  # PER_REWARD: the suffix sums there
    count_next = tl.zeros((), dtype=tl.float32)
    n_rewards = tl.zeros((), dtype=tl.float32)  # PER_REWARD: running count, mean, M2 of the rewards
    mean_rewards = tl.zeros((), dtype=tl.float32)
    m2_rewards = tl.zeros((), dtype=tl.float32)
    steps_after = tl.zeros((), dtype=tl.int32)  # boundaries at or after that position
    num_blocks = tl.cdiv(T, BLOCK)
    for i in range(0, num_blocks):
        start = (num_blocks - 1 - i) * BLOCK
        offs = start + tl.arange(0, BLOCK)
        inb = offs < T
        valid, next_valid = row_masks(mask_row, offs, T)
        last = valid & (next_valid == 0)
        run_end = tl.load(rewards_ptr + out_off + offs, mask=valid, other=0.0) != 0
        boundary = (run_end & (offs < last_nonblank)) | last
        reward = tl.where(last, outcome, 0.0)
        if HAS_KL:
            logp = tl.load(logp_ptr + row * stride_logp + offs, mask=valid, other=0.0).to(tl.float32)
            ref = tl.load(ref_ptr + row * stride_ref + offs, mask=valid, other=0.0).to(tl.float32)
            bad = bad | tl.where(tl.sum((_finite(logp) == 0).to(tl.int32), 0) > 0, 16, 0)
            bad = bad | tl.where(tl.sum((_finite(ref) == 0).to(tl.int32), 0) > 0, 32, 0)
            reward -= kl_coef * (logp - ref)
        b32 = boundary.to(tl.int32)
        step_reward = tl.zeros((BLOCK,), dtype=tl.float32)
        if HAS_SCORES:
            k = num_steps - (tl.cumsum(b32, 0, reverse=True) + steps_after)
            at = boundary & (k < K_cols)
            has_next = boundary & (k < num_steps - 1)
            if MIN_FORM:
                c = tl.load(mins_row + k, mask=at, other=0.0)
                c_next = tl.load(mins_row + k + 1, mask=has_next, other=0.0)
            else:
                s = tl.load(scores_row + k, mask=at, other=0.0).to(tl.float32)
                bad = bad | tl.where(tl.sum((_finite(s) == 0).to(tl.int32), 0) > 0, 8, 0)
                c = _clip(s, eta, CLIP)
                if DELTA:
                    c_next = _clip(tl.load(scores_row + k + 1, mask=has_next, other=0.0).to(tl.float32), eta, CLIP)
            if DELTA:
                c = c - tl.where(has_next, c_next, 0.0)
            step_reward = tl.where(boundary, prm_coef * c, 0.0)
            reward += step_reward
            process += tl.sum(step_reward, 0)
        steps_after += tl.sum(b32, 0)

        if HAS_VALUES:
            v = tl.load(values_ptr + row * stride_val + offs, mask=valid, other=0.0).to(tl.float32)
            bad = bad | tl.where(tl.sum((_finite(v) == 0).to(tl.int32), 0) > 0, 2, 0)
            v_next = tl.load(values_ptr + row * stride_val + offs + 1, mask=next_valid, other=0.0).to(tl.float32)
            delta = tl.where(valid, reward + gamma * v_next - v, 0.0)
        else:
            v = tl.zeros((BLOCK,), dtype=tl.float32)
            delta = tl.where(valid, reward, 0.0)
        decays = tl.full((BLOCK,), 1.0, tl.float32) * decay
        scan_a, scan_b = suffix_scan_affine(decays, delta, BLOCK)
        y = scan_b + scan_a * y_next
        y_next = tl.sum(tl.where(offs == start, y, 0.0), 0)

        if PER_REWARD:  # the rewards a per-reward normalisation sees: step rewards and the outcome
            if HAS_SCORES:
                counts = b32.to(tl.float32) + last.to(tl.float32)
            else:
                counts = last.to(tl.float32)
            sparse = step_reward + tl.where(last, outcome, 0.0)
            gammas = tl.full((BLOCK,), 1.0, tl.float32) * gamma
            sa, sb = suffix_scan_affine(gammas, sparse, BLOCK)
            sparse_sum = sb + sa * sparse_next
            sparse_next = tl.sum(tl.where(offs == start, sparse_sum, 0.0), 0)
            ca, cb = suffix_scan_affine(gammas, counts, BLOCK)
            count_sum = cb + ca * count_next
            count_next = tl.sum(tl.where(offs == start, count_sum, 0.0), 0)
            tl.store(sparse_ptr + out_off + offs, tl.where(valid, sparse_sum, 0.0), mask=inb)
            tl.store(adv_ptr + out_off + offs, tl.where(valid, count_sum, 0.0), mask=inb)
            block_n = tl.sum(counts, 0)
            block_mean = tl.sum(sparse, 0) / tl.maximum(block_n, 1.0)
            dev_step = tl.where(boundary, step_reward - block_mean, 0.0)
            dev_out = tl.where(last, outcome - block_mean, 0.0)
            if HAS_SCORES:
                block_m2 = tl.sum(dev_step * dev_step, 0) + tl.sum(dev_out * dev_out, 0)
            else:
                block_m2 = tl.sum(dev_out * dev_out, 0)
            merged = n_rewards + block_n
            gap = block_mean - mean_rewards
            mean_rewards += gap * block_n / tl.maximum(merged, 1.0)
            m2_rewards += block_m2 + gap * gap * n_rewards * block_n / tl.maximum(merged, 1.0)
            n_rewards = merged
        elif HAS_VALUES:
            tl.store(adv_ptr + out_off + offs, tl.where(valid, y, 0.0), mask=inb)
        tl.store(rewards_ptr + out_off + offs, tl.where(valid, reward, 0.0), mask=inb)
        tl.store(ret_ptr + out_off + offs, tl.where(valid, y + v, 0.0), mask=inb)
    tl.store(process_ptr + row, process)
    tl.store(status_ptr + row, bad)
    if PER_REWARD:
        tl.store(stats_ptr + row, n_rewards)
        tl.store(stats_ptr + B + row, mean_rewards)
        tl.store(stats_ptr + 2 * B + row, m2_rewards)
    elif ROW_STATS:  # one value per row: its full return (the return-to-go at t = 0)
        tl.store(stats_ptr + row, 1.0)
        tl.store(stats_ptr + B + row, y_next)
        tl.store(stats_ptr + 2 * B + row, 0.0)


def launch_reward_pass(token_ids, mask, outcome, delimiter: StepDelimiter, step_scores, logprobs, ref_logprobs,
                       spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, decay, *, alloc, block_size, score_block_size,
                       values=None, stats=None, sparse=None):
    """Allocate the outputs with `alloc(shape, dtype, device)` and launch `reward_pass_kernel`, one
    program per row; `block_size(T)` / `score_block_size(K)` give the block lengths (the launcher's
    own functions, so tests can replace them there). values: the critic's [B, T] (GAE), or None
    (the return-to-go, and the row statistics into `stats` [3, B]; per reward also the suffix sums
    into `sparse` [B, T] when it is given). Returns (out [3, B, T]: rewards, advantages, returns;
    num_steps [B] int32, process_return [B] float32, status [B] int32)."""
    B, T = token_ids.shape
    dev = token_ids.device
    token_ids, mask = row_major(token_ids), row_major(as_loadable_mask(mask))
    outcome = outcome.contiguous()
    table, table_size, run, simple = delimiter_args(delimiter, dev)
    out = alloc((3, B, T), torch.float32, dev)
    nsteps = alloc((B,), torch.int32, dev)
    process = alloc((B,), torch.float32, dev)
    status = alloc((B,), torch.int32, dev)
    has_scores = step_scores is not None and step_scores.shape[1] > 0
    has_kl = logprobs is not None
    values = row_major(values) if values is not None else None
    dummy = values if values is not None else out[0]  # for pointers a launch does not read
    scores = row_major(step_scores) if has_scores else outcome.view(B, 1)
    K = scores.shape[1] if has_scores else 0
    mins = alloc((B, K), torch.float32, dev) if has_scores and spec.min_form else dummy
    logp = row_major(logprobs) if has_kl else dummy
    ref = row_major(ref_logprobs) if has_kl else dummy
    if B > 0:
        reward_pass_kernel[(B,)](
            token_ids, mask, table, table_size, run, dummy, outcome, scores, logp, ref,
            mins, out[0], out[1], out[2], sparse if sparse is not None else dummy, nsteps, process,
            stats if stats is not None else dummy, status,
            B, T, K,
            token_ids.stride(0), mask.stride(0), dummy.stride(0), scores.stride(0), logp.stride(0), ref.stride(0),
            eta, prm_coef, kl_coef, gamma, decay,
            HAS_SCORES=has_scores, HAS_KL=has_kl, CLIP=spec.clip, DELTA=spec.delta, MIN_FORM=spec.min_form,
            HAS_VALUES=values is not None, ROW_STATS=stats is not None, PER_REWARD=sparse is not None,
            SIMPLE=simple, BLOCK=block_size(T), KBLOCK=score_block_size(K),
        )
    return out, nsteps, process, status


def gae_terms(token_ids, mask, values, outcome, delimiter: StepDelimiter, step_scores, logprobs,
                      ref_logprobs, spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, lam):
    """Arguments as validated by `fused_reward_gae` (`spec`: the shaping mode's switches).

    Returns rewards, advantages, returns [B, T] float32, num_steps [B] int32, process_return
    [B] float32 (the sum of each row's prm_coef * shaped_k) and a [B] int32 status word per
    row (0 = fine; bits in STATUS_BITS: the mask is not right-padded, or a valid entry of that
    input is NaN / infinite).
    """
    out, nsteps, process, status = launch_reward_pass(
        token_ids, mask, outcome, delimiter, step_scores, logprobs, ref_logprobs, spec, eta, prm_coef, kl_coef, gamma,
        gamma * lam, alloc=new_output, block_size=block_size, score_block_size=score_block_size, values=values)
    return out[0], out[1], out[2], nsteps, process, status


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


def advantage_terms(token_ids, mask, outcome, delimiter: StepDelimiter, step_scores, logprobs, ref_logprobs,
                    spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, estimator: EstimatorSpec, group_size: int,
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
            LEAVE_ONE_OUT=estimator.leave_one_out, PER_REWARD=per_reward, SCALE_STD=scale_std,
            GBLOCK=group_block(group_size), BLOCK=block_size(T),
        )
    return out[0], out[1], out[2], nsteps, process, status


def reward_gae(op: str, r: RewardArgs, values: torch.Tensor, lam: float) -> tuple[tuple, int]:
    """`fused_reward_gae` on checked arguments: returns and raises as the torch backend's
    `reward_gae` (one host sync, for the per-row status words and the step count)."""
    *outputs, status = gae_terms(r.token_ids, r.mask, values, r.outcome, r.delimiter, r.step_scores, r.logprobs,
                                 r.ref_logprobs, r.spec, r.eta, r.prm_coef, r.kl_coef, r.gamma, lam)
    return tuple(outputs), max_steps_after_triton(op, outputs[3], status, STATUS_BITS)


def reward_advantages(op: str, r: RewardArgs, estimator: EstimatorSpec, group_size: int, scale_std: bool,
                      per_reward: bool, std_floor: float) -> tuple[tuple, int]:
    """`fused_reward_advantages` on checked arguments: returns and raises as the torch backend's."""
    *outputs, status = advantage_terms(r.token_ids, r.mask, r.outcome, r.delimiter, r.step_scores, r.logprobs,
                                       r.ref_logprobs, r.spec, r.eta, r.prm_coef, r.kl_coef, r.gamma, estimator,
                                       group_size, scale_std, per_reward, std_floor)
    return tuple(outputs), max_steps_after_triton(op, outputs[3], status, STATUS_BITS)
