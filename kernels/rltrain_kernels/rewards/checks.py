"""Checks of the reward ops' shared arguments, and the errors their backends report."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rltrain_kernels.checks import FLOAT_DTYPES, check_finite_scalar, check_tensor
from rltrain_kernels.options import ShapingSpec, shaping_spec
from rltrain_kernels.steps.checks import as_step_delimiter, check_tokens_and_mask, not_right_padded
from rltrain_kernels.steps.delimiter import StepDelimiter


def non_finite(op: str, name: str, row: int) -> ValueError:
    """The error of the reward ops for a NaN or infinite input entry (first bad row)."""
    where = "" if name == "outcome" else " at a valid position" if name != "step_scores" else " in a read step"
    return ValueError(f"{op}: `{name}` has a NaN or infinite value{where} in row {row}")


def raise_for_status(op: str, status: torch.Tensor, bits) -> None:
    """Raise the error a Triton reward kernel's per-row status words [B] report; bits: (name, bit)
    pairs in reporting order ("mask" = not right-padded)."""
    for name, bit in bits:
        rows = torch.nonzero(status & bit).flatten().tolist()
        if rows and name == "mask":
            raise not_right_padded(op)
        if rows:
            raise non_finite(op, name, rows[0])
    raise AssertionError(f"{op}: unknown status {status.tolist()}")


@dataclass(frozen=True)
class RewardArgs:
    """The checked inputs of the token rewards both reward ops build (`check_reward_args`)."""

    token_ids: torch.Tensor
    mask: torch.Tensor
    outcome: torch.Tensor
    delimiter: StepDelimiter
    step_scores: torch.Tensor | None
    logprobs: torch.Tensor | None
    ref_logprobs: torch.Tensor | None
    spec: ShapingSpec
    eta: float
    prm_coef: float
    kl_coef: float
    gamma: float


def check_reward_args(op: str, token_ids, mask, outcome, *, separator_ids, step_scores, logprobs, ref_logprobs,
                      shaping, eta, prm_coef, kl_coef, gamma) -> RewardArgs:
    """The checks of `fused_reward_gae` / `fused_reward_advantages` on their shared arguments."""
    token_ids, mask = check_tokens_and_mask(op, token_ids, mask)
    B, T = token_ids.shape
    dev = token_ids.device
    outcome = check_tensor(op, "outcome", outcome, shape=(B,), dtypes=FLOAT_DTYPES, device=dev)
    if (logprobs is None) != (ref_logprobs is None):
        raise ValueError(f"{op}: pass both `logprobs` and `ref_logprobs` for the KL penalty, or neither")
    if logprobs is not None:
        check_tensor(op, "logprobs", logprobs, shape=(B, T), dtypes=FLOAT_DTYPES, device=dev)
        check_tensor(op, "ref_logprobs", ref_logprobs, shape=(B, T), dtypes=FLOAT_DTYPES, device=dev)
    if step_scores is not None:
        check_tensor(op, "step_scores", step_scores, ndim=2, dtypes=FLOAT_DTYPES, device=dev)
        if step_scores.shape[0] != B:
            raise ValueError(f"{op}: `step_scores` must have {B} rows (one per response), "
                             f"got shape {tuple(step_scores.shape)}")
    spec = shaping_spec(op, shaping)
    delimiter = StepDelimiter.from_ids(()) if separator_ids is None else as_step_delimiter(op, separator_ids)
    return RewardArgs(token_ids, mask, outcome, delimiter, step_scores, logprobs, ref_logprobs, spec,
                      check_finite_scalar(op, "eta", eta), check_finite_scalar(op, "prm_coef", prm_coef),
                      check_finite_scalar(op, "kl_coef", kl_coef),
                      check_finite_scalar(op, "gamma", gamma, low=0.0, high=1.0))


def max_steps_after_triton(op: str, num_steps: torch.Tensor, status: torch.Tensor, bits) -> int:
    """One host sync after a Triton reward kernel: raise what its status words report, else return
    the most steps of a row (0 for an empty batch)."""
    if not num_steps.numel():
        return 0
    max_steps, worst = torch.stack([num_steps.max(), status.max()]).tolist()
    if worst:
        raise_for_status(op, status, bits)
    return max_steps


def check_step_columns(op: str, step_scores: torch.Tensor | None, max_steps: int) -> None:
    """`step_scores` must have a column for every step of every row (checked after the kernel)."""
    if step_scores is not None and max_steps > step_scores.shape[1]:
        raise ValueError(f"{op}: `step_scores` has {step_scores.shape[1]} columns but a response has "
                         f"{max_steps} steps (need K >= max num_steps)")
