"""Token rewards in torch, shared by the torch references of the reward ops (reward_gae,
reward_advantages): step segmentation, PRM shaping, the outcome at the last token, the KL penalty.

Written for speed on CPU: masks stay uint8 (bool->float and torch.where are slow paths on CPU),
padded inputs are zeroed by multiplying with the float mask, and the PRM reward is added only at
the (few) boundary positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kernels.shaping import ShapingSpec
from kernels.step_delimiter import StepDelimiter
from kernels.torch_steps import step_boundaries


class NonFiniteInput(ValueError):
    """A valid input entry is NaN or infinite; `name` is the argument, `row` the first bad row."""

    def __init__(self, name: str, row: int):
        super().__init__(name, row)
        self.name, self.row = name, row


def shape_step_scores(scores: torch.Tensor, num_steps: torch.Tensor, spec: ShapingSpec,
                      eta: float) -> torch.Tensor:
    """PRM step scores [B, K] -> shaped per-step rewards [B, K] (columns >= num_steps unused).

    The switches of `spec` (kernels/shaping.py): clip: c_k = min(s_k - eta, 0), else c_k = s_k;
    min_form: c_k -> m_k = min_{j >= k, j < K_b} c_j; delta: shaped_k = c_k - c_{k+1} for
    k < K_b - 1 and shaped_{K_b-1} = c_{K_b-1} (the row sums to c_0, and the return-to-go from
    any step k is c_k (+ outcome), so one more step is worth no more than answering now), else
    shaped_k = c_k.
    """
    c = torch.clamp(scores - eta, max=0.0) if spec.clip else scores
    if not spec.delta:
        return c
    k = torch.arange(c.shape[1], device=c.device)[None, :]
    K = num_steps.to(torch.int64)[:, None]
    if spec.min_form:  # suffix minimum over the row's own steps (later columns may hold anything)
        inside = torch.where(k < K, c, torch.full_like(c, float("inf")))
        c = torch.flip(torch.cummin(torch.flip(inside, [1]), dim=1).values, [1])
    c_next = F.pad(c[:, 1:], (0, 1))
    return c - torch.where(k < K - 1, c_next, torch.zeros_like(c_next))


def zero_padding_(x: torch.Tensor, valid_f: torch.Tensor) -> bool:
    """In place: x *= mask, keeping padded positions 0 even where they held inf or NaN.
    Returns whether every valid entry is finite."""
    x.mul_(valid_f)
    if bool(torch.isfinite(x.sum())):  # one cheap reduction; the slow path is rare
        return True
    x.masked_fill_(valid_f == 0, 0.0)
    return bool(torch.isfinite(x).all())


def first_row(bad: torch.Tensor) -> int:
    """Index of the first row of [B, ...] `bad` with a True entry."""
    return int(torch.nonzero(bad.reshape(bad.shape[0], -1).any(dim=1))[0])


def check_token_input(name: str, x: torch.Tensor, valid_f: torch.Tensor) -> None:
    bad = ~torch.isfinite(x.float()) & (valid_f != 0)
    if bool(bad.any()):
        raise NonFiniteInput(name, first_row(bad))


@dataclass
class TokenRewards:
    """rewards [B, T] float32 (0 at padding); num_steps [B] int32; process_return [B] float32;
    boundaries: flat (row-major) positions of the step ends, in step order per row; rows: their
    rows; step_rewards: prm_coef * shaped_k at each of those ends (None without step scores);
    last_rows / last_flat: the rows with tokens and the flat position of their last token."""

    rewards: torch.Tensor
    num_steps: torch.Tensor
    process_return: torch.Tensor
    boundaries: torch.Tensor
    rows: torch.Tensor
    step_rewards: torch.Tensor | None
    last_rows: torch.Tensor
    last_flat: torch.Tensor


def token_rewards(token_ids, valid, lengths, valid_f, outcome, delimiter: StepDelimiter, step_scores, logprobs,
                  ref_logprobs, spec: ShapingSpec, eta, prm_coef, kl_coef) -> TokenRewards:
    """r_t = -kl_coef * (logp_t - ref_t) + prm_coef * shaped_k at the end of step k + outcome at the
    last valid token (../shared/DESIGN.md "Token rewards"). `valid` [B, T] uint8 and `lengths` [B]
    from `valid_and_lengths`, `valid_f` = valid as float32.
    Raises NonFiniteInput for a NaN / inf (in float32, where the math runs) at a valid position,
    in `outcome`, or in a step score that is read (column < num_steps), checked in the order
    outcome, logprobs, ref_logprobs, step_scores (the Triton backend's order too; callers check
    their own inputs after these).
    """
    B, T = valid.shape
    outcome = outcome.float()
    if not bool(torch.isfinite(outcome).all()):
        raise NonFiniteInput("outcome", first_row(~torch.isfinite(outcome)))
    if logprobs is not None:
        kl = torch.sub(logprobs.float(), ref_logprobs.float())
        if not zero_padding_(kl, valid_f):
            check_token_input("logprobs", logprobs, valid_f)
            check_token_input("ref_logprobs", ref_logprobs, valid_f)
        rewards = kl.mul_(-kl_coef)
    else:
        rewards = torch.zeros((B, T), dtype=torch.float32, device=valid.device)

    boundary = step_boundaries(token_ids, valid, lengths, delimiter)
    flat = boundary.view(-1).nonzero().squeeze(1)  # row-major: each row's boundaries in step order
    rows = torch.div(flat, T, rounding_mode="floor")
    num_steps = torch.bincount(rows, minlength=B).to(torch.int32)
    process_return = torch.zeros(B, dtype=torch.float32, device=valid.device)
    at_step = None
    if step_scores is not None and step_scores.shape[1] > 0:
        step_scores = step_scores.float()
        read = torch.arange(step_scores.shape[1], device=flat.device)[None, :] < num_steps[:, None]
        unread_or_finite = torch.isfinite(step_scores) | ~read
        if not bool(unread_or_finite.all()):
            raise NonFiniteInput("step_scores", first_row(~unread_or_finite))
        first_of_row = torch.cumsum(num_steps, 0) - num_steps
        k = torch.arange(flat.numel(), device=flat.device) - first_of_row[rows]
        shaped = shape_step_scores(step_scores, num_steps, spec, eta)
        at_step = shaped[rows, k.clamp(max=shaped.shape[1] - 1)].mul_(prm_coef)
        rewards.view(-1).index_add_(0, flat, at_step)
        process_return.index_add_(0, rows, at_step)
    has_tokens = torch.nonzero(lengths > 0).squeeze(1)
    last_flat = has_tokens * T + lengths[has_tokens] - 1
    rewards.view(-1).index_add_(0, last_flat, outcome[has_tokens])
    return TokenRewards(rewards, num_steps, process_return, flat, rows, at_step, has_tokens, last_flat)
