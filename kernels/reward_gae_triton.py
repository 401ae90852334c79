"""Triton backend of `fused_reward_gae`: the shared reward pass (kernels/triton_rewards.py) with
the critic's values, one program per row.

A forward sweep runs the step-delimiter automaton over the row's token ids and counts the steps;
the main sweep walks the row from the end in blocks, builds the token rewards (shaped step
rewards, outcome, KL) and solves the GAE recurrence with a reverse associative scan inside the
block, carrying the advantage between blocks. Every other input is read once; non-finite valid
entries are flagged per row in the same pass.
"""
from __future__ import annotations

import torch

from kernels.shaping import ShapingSpec
from kernels.step_delimiter import StepDelimiter
from kernels.triton_rewards import STATUS_BITS, reward_pass_kernel
from kernels.triton_steps import (as_loadable_mask, block_size, delimiter_args, new_output, row_major,
                                  score_block_size)

__all__ = ["STATUS_BITS", "reward_gae_triton"]


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
    K = scores.shape[1] if has_scores else 0
    mins = new_output((B, K), torch.float32, dev) if has_scores and spec.min_form else values
    logp = row_major(logprobs) if has_kl else values
    ref = row_major(ref_logprobs) if has_kl else values
    if B > 0:
        reward_pass_kernel[(B,)](
            token_ids, mask, table, table_size, run, values, outcome, scores, logp, ref,
            mins, out[0], out[1], out[2], values, nsteps, process, values, status,
            B, T, K,
            token_ids.stride(0), mask.stride(0), values.stride(0), scores.stride(0), logp.stride(0), ref.stride(0),
            eta, prm_coef, kl_coef, gamma, gamma * lam,
            HAS_SCORES=has_scores, HAS_KL=has_kl, CLIP=spec.clip, DELTA=spec.delta, MIN_FORM=spec.min_form,
            HAS_VALUES=True, ROW_STATS=False, PER_REWARD=False, SIMPLE=simple,
            BLOCK=block_size(T), KBLOCK=score_block_size(K),
        )
    return out[0], out[1], out[2], nsteps, process, status
