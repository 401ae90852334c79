"""Argument validation shared by the public ops: every failure is a ValueError naming the argument.

Also the right-padded mask of the step ops (`check_tokens_and_mask`, `valid_and_lengths`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from kernels.shaping import ShapingSpec, shaping_spec
from kernels.step_delimiter import MAX_TOKEN_ID, StepDelimiter

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
MASK_DTYPES = (torch.bool,) + INT_DTYPES + FLOAT_DTYPES


def check_tensor(
    op: str,
    name: str,
    x: object,
    *,
    ndim: int | None = None,
    shape: Sequence[int] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{op}: `{name}` must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{op}: `{name}` must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    if shape is not None and tuple(x.shape) != tuple(shape):
        raise ValueError(f"{op}: `{name}` must have shape {tuple(shape)}, got {tuple(x.shape)}")
    if dtypes is not None and x.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise ValueError(f"{op}: `{name}` must have dtype in ({names}), got {x.dtype}")
    if device is not None and x.device != device:
        raise ValueError(f"{op}: `{name}` is on {x.device} but the other inputs are on {device}")
    return x


def check_finite_scalar(op: str, name: str, value: object, *, low: float | None = None,
                        high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{op}: `{name}` must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{op}: `{name}` must be finite, got {value}")
    if low is not None and value < low:
        raise ValueError(f"{op}: `{name}` must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{op}: `{name}` must be <= {high}, got {value}")
    return value


def as_step_delimiter(op: str, separator_ids: object) -> StepDelimiter:
    """Accept a `StepDelimiter`, a 1-D integer tensor or a sequence of ints (a plain id set)."""
    if isinstance(separator_ids, StepDelimiter):
        return separator_ids
    if isinstance(separator_ids, torch.Tensor):
        check_tensor(op, "separator_ids", separator_ids, ndim=1, dtypes=INT_DTYPES)
        ids = [int(i) for i in separator_ids.tolist()]
    else:
        try:
            ids = [int(i) for i in separator_ids]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(
                f"{op}: `separator_ids` must be a StepDelimiter, a 1-D integer tensor or a sequence of ints, "
                f"got {separator_ids!r}"
            ) from None
        if any(isinstance(i, bool) for i in separator_ids):  # type: ignore[union-attr]
            raise ValueError(f"{op}: `separator_ids` must hold ints, not bools")
    if ids and min(ids) < 0:
        raise ValueError(f"{op}: `separator_ids` must be >= 0, got {min(ids)}")
    if ids and max(ids) > MAX_TOKEN_ID:
        raise ValueError(f"{op}: `separator_ids` must be token ids <= {MAX_TOKEN_ID}, got {max(ids)}")
    return StepDelimiter.from_ids(ids)


def check_tokens_and_mask(op: str, token_ids: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate the [B, T] token ids and the mask of the step ops (segmentation, reward/GAE).

    Whether the mask is right-padded is checked by `valid_and_lengths` (torch backends) or
    by the Triton kernels, which report it per row.
    """
    token_ids = check_tensor(op, "token_ids", token_ids, ndim=2, dtypes=INT_DTYPES)
    mask = check_tensor(op, "mask", mask, shape=token_ids.shape, dtypes=MASK_DTYPES,
                        device=token_ids.device)
    return token_ids, mask


def not_right_padded(op: str) -> ValueError:
    return ValueError(f"{op}: `mask` must be right-padded (1 for the first L_b positions, 0 after)")


def valid_and_lengths(op: str, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """mask [B, T] -> (valid [B, T] uint8 0/1, lengths [B] int64); raises unless right-padded.

    Right-padded <=> the valid positions of a row sum to 0 + 1 + ... + (L - 1), the unique
    minimum for L ones: one matrix-vector product instead of a pass of comparisons.
    """
    valid = (mask if mask.dtype == torch.bool else mask != 0).view(torch.uint8)
    B, T = valid.shape
    exact = torch.float32 if T <= 4096 else torch.float64  # position sums stay below 2**24
    valid_f = valid.to(exact)
    length = valid_f.sum(1).double()
    position_sum = (valid_f @ torch.arange(T, dtype=exact, device=mask.device)).double()
    if B and T and bool((position_sum != length * (length - 1) / 2).any()):
        raise not_right_padded(op)
    return valid, length.to(torch.int64)


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


def run_reward_backend(op: str, backend: str, r: RewardArgs, run_triton, run_torch) -> tuple:
    """Dispatch a reward op: `run_triton()` -> (*outputs, status) or `run_torch(valid, lengths)` ->
    outputs (outputs[3] = num_steps); raises the op's errors for bad rows and missing step columns."""
    from kernels.backend import resolve_backend

    if resolve_backend(backend, r.token_ids.device, op) == "triton":
        from kernels.triton_rewards import STATUS_BITS

        *outputs, status = run_triton()
        max_steps = max_steps_after_triton(op, outputs[3], status, STATUS_BITS)
    else:
        from kernels.torch_rewards import NonFiniteInput

        valid, lengths = valid_and_lengths(op, r.mask)
        try:
            outputs = run_torch(valid, lengths)
        except NonFiniteInput as exc:
            raise non_finite(op, exc.name, exc.row) from None
        max_steps = int(outputs[3].max()) if outputs[3].numel() and r.step_scores is not None else 0
    check_step_columns(op, r.step_scores, max_steps)
    return tuple(outputs)
