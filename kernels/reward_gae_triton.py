"""Triton backend of `fused_reward_gae`: one program per row.

A forward sweep runs the step-delimiter automaton over the row's token ids, parks each
position's "a step may end here" flag in the rewards buffer and counts the steps (the PRM
scores are indexed from the front, the GAE walk goes from the back; an end counts only before
the row's last non-blank token). The main sweep then walks the row from the end in blocks,
reads the flags back, gathers the step's (clipped) score and, for Delta, the next step's (the
shaping mode's switches are constexprs: kernels/shaping.py), sums the row's process reward,
adds outcome and KL, and solves the GAE recurrence with a reverse associative scan inside the
block, carrying the advantage between blocks. Every other input is read once; non-finite valid
entries are flagged per row in the same pass.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.shaping import ShapingSpec
from kernels.step_delimiter import StepDelimiter
from kernels.triton_scans import suffix_scan_affine
from kernels.triton_steps import (as_loadable_mask, block_size, delimiter_args, new_output, row_major,
                                  row_masks, step_states)


@triton.jit
def _clip(s, eta, CLIP: tl.constexpr):
    if CLIP:
        s = tl.minimum(s - eta, 0.0)
    return s


@triton.jit
def _finite(x):
    return tl.abs(x) <= 3.4028234663852886e38


@triton.jit
def _reward_gae_kernel(
    tok_ptr, mask_ptr, table_ptr, table_size, run, values_ptr, outcome_ptr, scores_ptr, logp_ptr, ref_ptr,
    rewards_ptr, adv_ptr, ret_ptr, nsteps_ptr, process_ptr, status_ptr,
    T, K_cols, stride_tok, stride_mask, stride_val, stride_scores, stride_logp, stride_ref,
    eta, prm_coef, kl_coef, gamma, gamma_lam,
    HAS_SCORES: tl.constexpr, HAS_KL: tl.constexpr, CLIP: tl.constexpr, DELTA: tl.constexpr,
    SIMPLE: tl.constexpr, BLOCK: tl.constexpr,
):
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
    tl.debug_barrier()

    # Backward: rewards and the GAE recurrence, block by block from the end of the row.
    outcome = tl.load(outcome_ptr + row).to(tl.float32)
    bad = tl.where(gaps > 0, 1, 0) | tl.where(_finite(outcome), 0, 4)
    process = tl.zeros((), dtype=tl.float32)  # sum of prm_coef * shaped_k over the row's steps
    adv_next = tl.zeros((), dtype=tl.float32)  # A at the first position of the block after
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
        if HAS_SCORES:
            k = num_steps - (tl.cumsum(b32, 0, reverse=True) + steps_after)
            scores_row = scores_ptr + row * stride_scores
            s = tl.load(scores_row + k, mask=boundary & (k < K_cols), other=0.0).to(tl.float32)
            bad = bad | tl.where(tl.sum((_finite(s) == 0).to(tl.int32), 0) > 0, 8, 0)
            c = _clip(s, eta, CLIP)
            if DELTA:
                has_next = boundary & (k < num_steps - 1)
                c_next = _clip(tl.load(scores_row + k + 1, mask=has_next, other=0.0).to(tl.float32), eta, CLIP)
                c = c - tl.where(has_next, c_next, 0.0)
            step_reward = tl.where(boundary, prm_coef * c, 0.0)
            reward += step_reward
            process += tl.sum(step_reward, 0)
        steps_after += tl.sum(b32, 0)

        v = tl.load(values_ptr + row * stride_val + offs, mask=valid, other=0.0).to(tl.float32)
        bad = bad | tl.where(tl.sum((_finite(v) == 0).to(tl.int32), 0) > 0, 2, 0)
        v_next = tl.load(values_ptr + row * stride_val + offs + 1, mask=next_valid, other=0.0).to(tl.float32)
        delta = tl.where(valid, reward + gamma * v_next - v, 0.0)
        decay = tl.full((BLOCK,), 1.0, tl.float32) * gamma_lam
        scan_a, scan_b = suffix_scan_affine(decay, delta, BLOCK)
        adv = scan_b + scan_a * adv_next
        adv_next = tl.sum(tl.where(offs == start, adv, 0.0), 0)

        tl.store(rewards_ptr + out_off + offs, tl.where(valid, reward, 0.0), mask=inb)
        tl.store(adv_ptr + out_off + offs, tl.where(valid, adv, 0.0), mask=inb)
        tl.store(ret_ptr + out_off + offs, tl.where(valid, adv + v, 0.0), mask=inb)
    tl.store(process_ptr + row, process)
    tl.store(status_ptr + row, bad)


# bits of the per-row status word the kernel writes
STATUS_BITS = (("mask", 1), ("outcome", 4), ("logprobs", 16), ("ref_logprobs", 32), ("step_scores", 8),
               ("values", 2))  # reported in this order, as the torch backend checks


def reward_gae_triton(token_ids, mask, values, outcome, delimiter: StepDelimiter, step_scores, logprobs,
                      ref_logprobs, spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, lam):
    """Arguments as validated by `fused_reward_gae` (`spec`: the shaping mode's switches).

    Returns rewards, advantages, returns [B, T] float32, num_steps [B] int32, process_return
    [B] float32 (the sum of each row's prm_coef * shaped_k) and a [B] int32 status word per
    row (0 = fine; bits in STATUS_BITS: the mask is not right-padded, or a valid entry of that
    input is NaN / infinite).
    """
    B, T = token_ids.shape
    dev = token_ids.device
    token_ids, mask, values = row_major(token_ids), row_major(as_loadable_mask(mask)), row_major(values)
    outcome = outcome.contiguous()
    table, table_size, run, simple = delimiter_args(delimiter, dev)
    out = new_output((3, B, T), torch.float32, dev)
    nsteps = new_output((B,), torch.int32, dev)
    process = new_output((B,), torch.float32, dev)
    status = new_output((B,), torch.int32, dev)
    has_scores = step_scores is not None and step_scores.shape[1] > 0
    has_kl = logprobs is not None
    scores = row_major(step_scores) if has_scores else values
    logp = row_major(logprobs) if has_kl else values
    ref = row_major(ref_logprobs) if has_kl else values
    if B > 0:
        _reward_gae_kernel[(B,)](
            token_ids, mask, table, table_size, run, values, outcome, scores, logp, ref,
            out[0], out[1], out[2], nsteps, process, status,
            T, scores.shape[1] if has_scores else 0,
            token_ids.stride(0), mask.stride(0), values.stride(0), scores.stride(0), logp.stride(0), ref.stride(0),
            eta, prm_coef, kl_coef, gamma, gamma * lam,
            HAS_SCORES=has_scores, HAS_KL=has_kl, CLIP=spec.clip, DELTA=spec.delta, SIMPLE=simple,
            BLOCK=block_size(T),
        )
    return out[0], out[1], out[2], nsteps, process, status
