"""Torch reference of the reward ops: the readable definition and the CPU fallback.

`reward_gae` (`fused_reward_gae`) and `reward_advantages` (`fused_reward_advantages`) share
`token_rewards`: step segmentation, PRM shaping, the outcome at the last token, the KL penalty.
GAE then adds the values and solves its recurrence; the critic-free estimators take the
return-to-go G_{b,t} (a discounted reverse cumsum), reduce per group (one group = `group_size`
consecutive rows: count, mean and squared deviations of the values the estimator normalises, in
float64 on [B]-sized tensors) and finish in one elementwise pass.

Written for speed on CPU: masks stay uint8 (bool->float and torch.where are slow paths on CPU),
padded inputs are zeroed by multiplying with the float mask, and the PRM reward is added only at
the (few) boundary positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rltrain_kernels.options import EstimatorSpec, ShapingSpec
from rltrain_kernels.rewards.checks import RewardArgs, non_finite
from rltrain_kernels.scans.torch_backend import discounted_reverse_cumsum
from rltrain_kernels.steps.checks import valid_and_lengths
from rltrain_kernels.steps.delimiter import StepDelimiter
from rltrain_kernels.steps.torch_backend import step_boundaries


class NonFiniteInput(ValueError):
    """A valid input entry is NaN or infinite; `name` is the argument, `row` the first bad row."""

    def __init__(self, name: str, row: int):
        super().__init__(name, row)
        self.name, self.row = name, row


def shape_step_scores(scores: torch.Tensor, num_steps: torch.Tensor, spec: ShapingSpec,
                      eta: float) -> torch.Tensor:
    """PRM step scores [B, K] -> shaped per-step rewards [B, K] (columns >= num_steps unused).

    The switches of `spec` (options.py): clip: c_k = min(s_k - eta, 0), else c_k = s_k;
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


def gae_terms(token_ids, valid, lengths, values, outcome, delimiter: StepDelimiter, step_scores,
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


def group_baseline_and_scale(count: torch.Tensor, total: torch.Tensor, m2: torch.Tensor, scale_std: bool,
                             std_floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per group (float64 [G] each): the number of values, their sum and their summed squared
    deviation from the group mean -> (mean, 1 / max(std, std_floor)) with the sample std (ddof 1);
    a group of at most one value gets (0, 1), verl's convention for a prompt sampled once."""
    several = count > 1
    mean = torch.where(several, total / count.clamp(min=1), torch.zeros_like(total))
    std = torch.sqrt(m2 / (count - 1).clamp(min=1))
    scale = 1.0 / std.clamp(min=std_floor) if scale_std else torch.ones_like(std)
    return mean, torch.where(several, scale, torch.ones_like(scale))


def advantage_terms(token_ids, valid, lengths, outcome, delimiter: StepDelimiter, step_scores, logprobs,
                    ref_logprobs, spec: ShapingSpec, eta, prm_coef, kl_coef, gamma, estimator: EstimatorSpec,
                    group_size: int, scale_std: bool, per_reward: bool, std_floor: float):
    """`valid` [B, T] uint8 and `lengths` [B] from `valid_and_lengths`; the rest as validated by
    `fused_reward_advantages` (group_size = B for reinforce_pp). Returns rewards, advantages,
    returns (the return-to-go) [B, T] float32, num_steps [B] int32, process_return [B] float32.
    Raises NonFiniteInput as `token_rewards` does."""
    B, T = valid.shape
    valid_f = valid.to(torch.float32)
    tr = token_rewards(token_ids, valid, lengths, valid_f, outcome, delimiter, step_scores, logprobs,
                       ref_logprobs, spec, eta, prm_coef, kl_coef)
    returns = discounted_reverse_cumsum(tr.rewards, gamma)  # 0 at padding: the rewards are
    groups = B // group_size if B else 0
    if per_reward:  # DeepSeekMath's process supervision: each step reward and outcome is one value
        values = [outcome.float()[tr.last_rows]] + ([tr.step_rewards] if tr.step_rewards is not None else [])
        owners = [tr.last_rows] + ([tr.rows] if tr.step_rewards is not None else [])
        count = torch.zeros(B, dtype=torch.float64, device=valid.device)
        total = torch.zeros_like(count)
        for v, rows in zip(values, owners):
            count.index_add_(0, rows, torch.ones_like(v, dtype=torch.float64))
            total.index_add_(0, rows, v.double())
        count_g, total_g = count.view(groups, group_size).sum(1), total.view(groups, group_size).sum(1)
        mean_g = total_g / count_g.clamp(min=1)
        m2 = torch.zeros_like(count)
        for v, rows in zip(values, owners):
            m2.index_add_(0, rows, (v.double() - mean_g[rows // group_size]) ** 2)
        mean_g, scale_g = group_baseline_and_scale(count_g, total_g, m2.view(groups, group_size).sum(1),
                                                   scale_std, std_floor)
        sparse = torch.zeros_like(tr.rewards)
        counts = torch.zeros_like(tr.rewards)
        for v, flat in zip(values, [tr.last_flat] + ([tr.boundaries] if tr.step_rewards is not None else [])):
            sparse.view(-1).index_add_(0, flat, v)
            counts.view(-1).index_add_(0, flat, torch.ones_like(v))
        mean_b = mean_g.repeat_interleave(group_size).float()[:, None]
        scale_b = scale_g.repeat_interleave(group_size).float()[:, None]
        normalised = tr.rewards - sparse + (sparse - counts * mean_b) * scale_b  # the KL part stays as it is
        advantages = discounted_reverse_cumsum(normalised.mul_(valid_f), gamma)
        return tr.rewards, advantages, returns, tr.num_steps, tr.process_return

    full = returns[:, 0].double() if T else torch.zeros(B, dtype=torch.float64, device=valid.device)
    per_group = full.view(groups, group_size)
    total_g = per_group.sum(1)
    if estimator.leave_one_out:  # the mean of the OTHER samples' full returns; no baseline for a group of one
        others = (total_g.repeat_interleave(group_size) - full) / max(group_size - 1, 1)
        baseline = others if group_size > 1 else torch.zeros_like(full)
        scale = torch.ones_like(full)
    else:  # the group's (or batch's) full returns, normalised
        count_g = torch.full_like(total_g, float(group_size))
        m2_g = ((per_group - per_group.mean(1, keepdim=True)) ** 2).sum(1)
        mean_g, scale_g = group_baseline_and_scale(count_g, total_g, m2_g, scale_std, std_floor)
        baseline, scale = mean_g.repeat_interleave(group_size), scale_g.repeat_interleave(group_size)
    advantages = (returns - baseline.float()[:, None]).mul_(scale.float()[:, None]).mul_(valid_f)
    return tr.rewards, advantages, returns, tr.num_steps, tr.process_return


def _run(op: str, r: RewardArgs, terms, *args) -> tuple[tuple, int]:
    valid, lengths = valid_and_lengths(op, r.mask)
    try:
        outputs = terms(r.token_ids, valid, lengths, *args)
    except NonFiniteInput as exc:
        raise non_finite(op, exc.name, exc.row) from None
    num_steps = outputs[3]
    return outputs, int(num_steps.max()) if num_steps.numel() and r.step_scores is not None else 0


def reward_gae(op: str, r: RewardArgs, values: torch.Tensor, lam: float) -> tuple[tuple, int]:
    """`fused_reward_gae` on checked arguments. Returns ((rewards, advantages, returns [B, T]
    float32, num_steps [B] int32, process_return [B] float32), the most steps of a row (0 without
    step scores)); ValueError (naming `op`) for a mask that is not right-padded or a non-finite
    valid input."""
    return _run(op, r, gae_terms, values, r.outcome, r.delimiter, r.step_scores, r.logprobs, r.ref_logprobs, r.spec,
                r.eta, r.prm_coef, r.kl_coef, r.gamma, lam)


def reward_advantages(op: str, r: RewardArgs, estimator: EstimatorSpec, group_size: int, scale_std: bool,
                      per_reward: bool, std_floor: float) -> tuple[tuple, int]:
    """`fused_reward_advantages` on checked arguments (group_size = B for reinforce_pp); returns
    and raises as `reward_gae`, with the return-to-go as `returns`."""
    return _run(op, r, advantage_terms, r.outcome, r.delimiter, r.step_scores, r.logprobs, r.ref_logprobs, r.spec,
                r.eta, r.prm_coef, r.kl_coef, r.gamma, estimator, group_size, scale_std, per_reward, std_floor)
