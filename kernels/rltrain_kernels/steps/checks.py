"""Checks of the step ops' shared inputs: token ids, the right-padded mask, the step delimiter."""
from __future__ import annotations

import torch

from rltrain_kernels.checks import INT_DTYPES, MASK_DTYPES, check_tensor
from rltrain_kernels.options import MAX_TOKEN_ID
from rltrain_kernels.steps.delimiter import StepDelimiter


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
