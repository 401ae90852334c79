"""Triton backend of `fused_reward_gae`: the shared reward pass (kernels/triton_rewards.py) with
the critic's values, one program per row.

A forward sweep runs the step-delimiter automaton over the row's token ids and counts the steps;
the main sweep walks the row from the end in blocks, builds the token rewards (shaped step
rewards, outcome, KL) and solves the GAE recurrence with a reverse associative scan inside the
block, carrying the advantage between blocks. Every other input is read once; non-finite valid
entries are flagged per row in the same pass.
"""
from __future__ import annotations

from kernels.shaping import ShapingSpec
from kernels.step_delimiter import StepDelimiter
from kernels.triton_rewards import STATUS_BITS, launch_reward_pass
from kernels.triton_steps import block_size, new_output, score_block_size

__all__ = ["STATUS_BITS", "reward_gae_triton"]


def reward_gae_triton(token_ids, mask, values, outcome, delimiter: StepDelimiter, step_scores, logprobs,
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
